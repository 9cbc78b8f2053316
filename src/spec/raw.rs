//! The spec file as written: serde structs with named defaults, unknown keys
//! refused. Validation into a [`Spec`](super::Spec) happens in `validate.rs`.

use std::collections::BTreeMap;

use serde::Deserialize;

/// Top-level keys other than the sections.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTop {
    /// The interface's name, e.g. `CM001`; must equal the file's stem.
    pub name: String,
    /// Free text for operators.
    #[serde(default)]
    pub description: String,
}

/// The section names a spec may have, in the order they are documented.
pub const SECTIONS: &[&str] = &["input", "transform", "clean", "output", "delivery"];

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Text,
    Parquet,
    Orc,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    Auto,
    Gzip,
    Bzip2,
    Zstd,
    Deflate,
    Snappy,
    Lz4,
    None,
}

/// `[input]`: where an hour's raw dump is and how to read it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInput {
    /// A source named in chama.toml.
    #[serde(default = "default_source")]
    pub source: String,
    /// The hour's directory under the source's root, with `{date}`, `{date_iso}`, `{hour}`.
    pub path: String,
    /// `text` (Hive delimited text), `parquet` or `orc`.
    #[serde(default = "default_format")]
    pub format: Format,
    /// Text only: `auto` tells the codec by magic bytes, else by the file's extension.
    #[serde(default = "default_compression")]
    pub compression: Compression,
    /// Text only: the field delimiter, one byte; Hive's default is `\u0001`.
    #[serde(default = "default_input_delimiter")]
    pub delimiter: String,
    /// Text only: how the input writes NULL.
    #[serde(default = "default_input_null")]
    pub null: String,
    /// Text only: Hive's `ESCAPED BY` character (e.g. `"\\"`), if the table has one.
    #[serde(default)]
    pub escape: Option<String>,
    /// Parquet and ORC only: the time zone instants are shown in (default UTC).
    #[serde(default)]
    pub time_zone: Option<String>,
    /// Parquet and ORC only: Hive types of columns (`{ ts = "timestamp" }`),
    /// checked against each file's schema.
    #[serde(default)]
    pub types: BTreeMap<String, String>,
    /// The input's columns, in order. Required for text; for Parquet, optional
    /// (when given, the SQL is resolved by `spec check`).
    #[serde(default)]
    pub columns: Vec<String>,
    /// An hour counts as ready only once this file exists in its directory.
    #[serde(default)]
    pub ready_marker: Option<String>,
    /// Unreadable rows tolerated per hour before the build fails with exit 4.
    #[serde(default)]
    pub max_bad_rows: u64,
    /// A ready hour with no data file is an empty hour (no sets), not "not ready" (exit 3).
    #[serde(default)]
    pub allow_empty: bool,
}

/// `[transform]`: the Hive SQL that picks and computes the output.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTransform {
    /// One `SELECT ... FROM input [WHERE ...]`.
    pub sql: String,
}

/// `[clean]`: characters removed from output values.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClean {
    /// Characters removed from every output value.
    #[serde(default)]
    pub strip: Vec<String>,
    /// Per output column, characters of `strip` to keep there.
    #[serde(default)]
    pub keep: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    #[serde(rename = "utf-8")]
    Utf8,
    #[serde(rename = "gbk")]
    Gbk,
    #[serde(rename = "gb18030")]
    Gb18030,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Unmappable {
    Fail,
    Replace,
}

/// `[output]`: the files a downstream receives.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOutput {
    /// Joins the fields of a line.
    #[serde(default = "default_output_delimiter")]
    pub delimiter: String,
    /// How NULL is written.
    #[serde(default)]
    pub null: String,
    /// `utf-8`, `gbk` or `gb18030`.
    #[serde(default = "default_encoding")]
    pub encoding: Encoding,
    /// A character the encoding cannot represent: `fail` the build, or `replace` it with `?`.
    #[serde(default = "default_unmappable")]
    pub unmappable: Unmappable,
    /// Lines in every file of a set but the last.
    #[serde(default = "default_lines_per_file")]
    pub lines_per_file: u64,
    /// An output column: one set per value.
    #[serde(default)]
    pub split_by: Option<String>,
    /// Data file name template.
    pub file_name: String,
    /// Verification file name template.
    pub verf_name: String,
    /// Digits of `{seq}`; a sequence that needs more is an error.
    #[serde(default = "default_seq_width")]
    pub seq_width: u32,
    /// gzip level, 0 to 9.
    #[serde(default = "default_gzip_level")]
    pub gzip_level: u32,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Cadence {
    Daily,
    Hourly,
}

/// `[delivery]`: where the sets go.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDelivery {
    /// `daily`: hours are built, merged, then pushed; `hourly`: each hour's set is pushed as built.
    #[serde(default = "default_cadence")]
    pub cadence: Cadence,
    /// Destinations named in chama.toml; every one gets every set.
    #[serde(default)]
    pub destinations: Vec<String>,
    /// Directory on the destination.
    #[serde(default = "default_remote_dir")]
    pub remote_dir: String,
    /// `HH:MM` the day after the period by which the delivery must be done (`report` alarms after it).
    #[serde(default)]
    pub deadline: Option<String>,
    /// `report` alarms when a day's rows fall under this share of the same day last month.
    #[serde(default = "default_alarm_ratio")]
    pub alarm_ratio: f64,
    /// No successful run of the interface for this long (`26h`, `90m`) is an alarm (the
    /// dead man's switch); none: 26h for a daily cadence, 2h for an hourly one.
    #[serde(default)]
    pub alarm_silence: Option<String>,
    /// An hour not built this long after it ended is an alarm.
    #[serde(default = "default_alarm_hour_late")]
    pub alarm_hour_late: String,
    /// The Airflow queue (one per machine) whose worker runs this interface; none is `default`.
    #[serde(default)]
    pub queue: Option<String>,
}

fn default_alarm_ratio() -> f64 {
    0.8
}

fn default_alarm_hour_late() -> String {
    "2h".into()
}

impl Default for RawDelivery {
    fn default() -> Self {
        RawDelivery {
            cadence: default_cadence(),
            destinations: vec![],
            remote_dir: default_remote_dir(),
            deadline: None,
            alarm_ratio: default_alarm_ratio(),
            alarm_silence: None,
            alarm_hour_late: default_alarm_hour_late(),
            queue: None,
        }
    }
}

/// Serde's `default = "..."` functions: the spec's defaults, one line each.
macro_rules! defaults {
    ($($name:ident: $ty:ty = $value:expr;)*) => {
        $(fn $name() -> $ty { $value.into() })*
    };
}

defaults! {
    default_source: String = "default";
    default_format: Format = Format::Text;
    default_compression: Compression = Compression::Auto;
    default_input_delimiter: String = "\u{1}";
    default_input_null: String = "\\N";
    default_output_delimiter: String = "|";
    default_encoding: Encoding = Encoding::Utf8;
    default_unmappable: Unmappable = Unmappable::Fail;
    default_lines_per_file: u64 = 800_000u64;
    default_seq_width: u32 = 4u32;
    default_gzip_level: u32 = 6u32;
    default_cadence: Cadence = Cadence::Daily;
    default_remote_dir: String = "/";
}
