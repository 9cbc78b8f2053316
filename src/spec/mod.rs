//! Interface specs: `interfaces/<NAME>.toml` from raw TOML to a validated
//! [`Spec`]. Validation is pure: it reads the text it is given and the names
//! the configuration defines, and opens nothing else.

mod doc;
pub mod hive_type;
mod output;
pub mod raw;
pub mod template;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::Context;

pub use doc::Problem;
pub use raw::{Cadence, Compression, Encoding, Format, Unmappable};
pub use template::{Placeholder, Template, Vars};

use crate::exit::{Again, Classed, Code};
use crate::sql::Program;
use crate::transform::clean::Strip;
use doc::{fields_of, string_body_line, Doc};
use raw::{RawClean, RawDelivery, RawInput, RawOutput, RawTop, RawTransform, SECTIONS};

/// A validated interface spec.
pub struct Spec {
    pub name: String,
    pub description: String,
    pub input: Input,
    /// `None` only for a Parquet spec without `columns`, resolved when its schema is read.
    pub program: Option<Program>,
    pub sql: String,
    pub clean: Clean,
    pub output: Output,
    pub delivery: Delivery,
    /// FNV-1a 64 of the spec's text, for manifests: which spec built a set.
    pub fingerprint: String,
}

pub struct Input {
    pub source: String,
    pub path: Template,
    pub format: Format,
    pub compression: Compression,
    pub delimiter: u8,
    pub null: String,
    /// Hive's `ESCAPED BY`: the byte before an escaped delimiter, newline (`n`), CR (`r`) or itself.
    pub escape: Option<u8>,
    pub columns: Vec<String>,
    /// Parquet and ORC: the zone instants are shown in; `None` is UTC.
    pub time_zone: Option<crate::source::zone::Zone>,
    /// Parquet and ORC: declared Hive types, checked against every file read.
    pub types: BTreeMap<String, hive_type::HiveType>,
    pub ready_marker: Option<String>,
    pub max_bad_rows: u64,
    pub allow_empty: bool,
}

impl Input {
    /// What makes one of this input's hours ready.
    pub fn readiness(&self) -> crate::source::Readiness<'_> {
        crate::source::Readiness {
            marker: self.ready_marker.as_deref(),
            allow_empty: self.allow_empty,
        }
    }
}

/// The characters to strip, resolved per output column.
#[derive(Debug, Clone, Default)]
pub struct Clean {
    pub strip: Vec<char>,
    pub keep: BTreeMap<String, Vec<char>>,
}

impl Clean {
    /// One `Strip` per output column, in output order.
    pub fn per_column(&self, names: &[String]) -> Vec<Strip> {
        names
            .iter()
            .map(|n| {
                let keep = self.keep.get(n).map(Vec::as_slice).unwrap_or(&[]);
                Strip::new(self.strip.iter().copied().filter(|c| !keep.contains(c)))
            })
            .collect()
    }
}

pub struct Output {
    pub delimiter: String,
    pub null: String,
    pub encoding: Encoding,
    pub unmappable: Unmappable,
    pub lines_per_file: u64,
    pub split_by: Option<String>,
    pub file_name: Template,
    pub verf_name: Template,
    pub seq_width: u32,
    pub gzip_level: u32,
}

pub struct Delivery {
    pub cadence: Cadence,
    pub destinations: Vec<String>,
    pub remote_dir: String,
    /// Delivered by this time the day after the period.
    pub deadline: Option<chrono::NaiveTime>,
    pub alarm_ratio: f64,
    /// No successful run for this long is an alarm (the dead man's switch).
    pub alarm_silence: std::time::Duration,
    /// An hour not built this long after it ended is an alarm.
    pub alarm_hour_late: std::time::Duration,
}

/// The queue of an interface whose spec names none. A spec's queue is read by
/// [`queue_of`] (also from specs that do not check), and checked by `spec check`.
pub const DEFAULT_QUEUE: &str = "default";

/// A queue name as Airflow and Celery take it: letters, digits, `_`, `-`, `.`, not first.
pub fn valid_queue(q: &str) -> bool {
    !q.is_empty()
        && !q.starts_with('.')
        && q.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// The queue a spec file names, read without checking the rest of the spec (so that a
/// machine can pick its interfaces even when another machine's spec is broken).
/// `None` when the file is not TOML at all.
pub fn queue_of(text: &str) -> Option<String> {
    let table: toml::Table = toml::from_str(text).ok()?;
    let queue = table
        .get("delivery")
        .and_then(|d| d.get("queue"))
        .and_then(|q| q.as_str());
    Some(queue.unwrap_or(DEFAULT_QUEUE).to_string())
}

pub use crate::config::Names;

/// The outcome of checking one spec file.
pub struct Checked {
    pub spec: Option<Spec>,
    pub problems: Vec<Problem>,
    pub warnings: Vec<Problem>,
}

/// A spec that failed to load: every problem, each with its line.
#[derive(Debug)]
pub struct SpecError {
    pub file: PathBuf,
    pub problems: Vec<Problem>,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}:{}: {}", self.file.display(), p.line, p.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for SpecError {}

/// Reads and validates a spec file; any problem is a [`SpecError`], a usage error (exit 2).
pub fn load(path: &Path, names: &Names) -> anyhow::Result<Spec> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    let checked = check(&text, stem, names);
    match checked.spec {
        Some(spec) if checked.problems.is_empty() => Ok(spec),
        _ => {
            let e = SpecError {
                file: path.to_path_buf(),
                problems: checked.problems,
            };
            Err(Classed::new(e, Code::Usage, Again::Never).into())
        }
    }
}

/// Validates a spec's text. `stem` is the file name without `.toml`, which
/// `name` must equal.
pub fn check(text: &str, stem: &str, names: &Names) -> Checked {
    let doc = match Doc::parse(text) {
        Ok(d) => d,
        Err(problems) => {
            return Checked {
                spec: None,
                problems,
                warnings: vec![],
            }
        }
    };
    let mut v = Validator {
        doc: &doc,
        problems: vec![],
        warnings: vec![],
    };
    let spec = v.spec(stem, names, text);
    let Validator {
        mut problems,
        mut warnings,
        ..
    } = v;
    problems.sort_by_key(|p| p.line);
    warnings.sort_by_key(|p| p.line);
    Checked {
        spec: if problems.is_empty() { spec } else { None },
        problems,
        warnings,
    }
}

struct Validator<'d, 'i> {
    doc: &'d Doc<'i>,
    problems: Vec<Problem>,
    warnings: Vec<Problem>,
}

impl Validator<'_, '_> {
    fn problem(&mut self, path: &[&str], message: String) {
        let line = self.doc.line_at(path);
        self.problems.push(Problem { line, message });
    }

    /// Deserializes one section, after reporting (and setting aside) its unknown keys.
    fn section<T: serde::de::DeserializeOwned>(&mut self, name: &str, required: bool) -> Option<T> {
        let allowed = fields_of::<T>();
        let Some(value) = self.doc.root().get(name) else {
            if required {
                self.problems.push(Problem {
                    line: 1,
                    message: format!("missing section [{name}]"),
                });
                return None;
            }
            let empty = toml::Spanned::new(0..0, toml::de::DeValue::Table(Default::default()));
            return self.doc.deserialize(empty).map_err(|p| self.problems.push(p)).ok();
        };
        let Some(table) = value.get_ref().as_table() else {
            self.problem(&[name], format!("`{name}` must be a section ([{name}])"));
            return None;
        };
        self.problems.extend(self.doc.unknown_keys(table, allowed, Some(name)));
        let spanned = toml::Spanned::new(value.span(), table.clone());
        let known = self.doc.subset(&spanned, allowed);
        match self.doc.deserialize::<T>(known) {
            Ok(t) => Some(t),
            Err(mut p) => {
                p.message = format!("in [{name}]: {}", p.message);
                self.problems.push(p);
                None
            }
        }
    }

    fn spec(&mut self, stem: &str, names: &Names, text: &str) -> Option<Spec> {
        let doc = self.doc;
        let top_fields = fields_of::<RawTop>();
        let allowed: Vec<&str> = top_fields.iter().chain(SECTIONS).copied().collect();
        self.problems.extend(doc.unknown_keys(doc.root(), &allowed, None));
        let top = match doc.deserialize::<RawTop>(doc.subset(doc.root_spanned(), top_fields)) {
            Ok(t) => Some(t),
            Err(p) => {
                self.problems.push(p);
                None
            }
        };
        let input = self.section::<RawInput>("input", true);
        let transform = self.section::<RawTransform>("transform", true);
        let clean = self.section::<RawClean>("clean", false);
        let output = self.section::<RawOutput>("output", true);
        let delivery = self.section::<RawDelivery>("delivery", false);

        if let Some(top) = &top {
            if !stem.is_empty() && top.name != stem {
                self.problem(
                    &["name"],
                    format!("name `{}` must match the file name `{stem}.toml`", top.name),
                );
            }
        }
        let input = input.and_then(|i| self.input(i, names));
        let (program, out_names) = match (&input, &transform) {
            (Some(i), Some(t)) => self.program(i, t),
            _ => (None, None),
        };
        let clean = clean.and_then(|c| self.clean(c, out_names.as_deref()));
        let output = output.and_then(|o| self.output(o, out_names.as_deref(), delivery.as_ref().map(|d| d.cadence)));
        let delivery = delivery.and_then(|d| self.delivery(d, names));

        let (top, input, program, clean, output, delivery) = (top?, input?, program?, clean?, output?, delivery?);
        Some(Spec {
            name: top.name,
            description: top.description,
            input,
            program,
            sql: transform?.sql,
            clean,
            output,
            delivery,
            fingerprint: format!("{:016x}", fnv1a(text.as_bytes())),
        })
    }

    fn input(&mut self, raw: RawInput, names: &Names) -> Option<Input> {
        let mut ok = true;
        if !names.sources.contains(&raw.source) {
            self.problem(
                &["input", "source"],
                format!(
                    "source `{}` is not defined in chama.toml (defined: {})",
                    raw.source,
                    names.sources.join(", ")
                ),
            );
            ok = false;
        }
        let path = match Template::parse(&raw.path, &[Placeholder::Date, Placeholder::DateIso, Placeholder::Hour]) {
            Ok(t) if t.uses(Placeholder::Hour) => Some(t),
            Ok(_) => {
                self.problem(
                    &["input", "path"],
                    format!(
                        "path `{}` must contain {{hour}}: an hour's dump is read from its own directory",
                        raw.path
                    ),
                );
                None
            }
            Err(e) => {
                self.problem(&["input", "path"], format!("path {e}"));
                None
            }
        };
        let delimiter = match raw.delimiter.as_bytes() {
            [b] if b.is_ascii() => Some(*b),
            _ => {
                self.problem(
                    &["input", "delimiter"],
                    format!("input delimiter {:?} must be one ASCII character", raw.delimiter),
                );
                None
            }
        };
        match raw.format {
            Format::Text if raw.columns.is_empty() => {
                self.problem(
                    &["input"],
                    "a text input needs `columns`, the input's column names in order".into(),
                );
                ok = false;
            }
            Format::Parquet | Format::Orc if raw.compression != Compression::Auto => {
                self.problem(
                    &["input", "compression"],
                    "`compression` applies to text input only; Parquet and ORC carry their own".into(),
                );
                ok = false;
            }
            _ => {}
        }
        let mut seen = std::collections::HashSet::new();
        for c in &raw.columns {
            let valid =
                !c.is_empty() && c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_') && c.to_lowercase() == *c;
            if !valid {
                self.problem(
                    &["input", "columns"],
                    format!("column name `{c}` must be lowercase letters, digits and _"),
                );
                ok = false;
            }
            if !seen.insert(c) {
                self.problem(&["input", "columns"], format!("column `{c}` is listed twice"));
                ok = false;
            }
        }
        if let Some(m) = &raw.ready_marker {
            if m.is_empty() || m.contains('/') {
                self.problem(
                    &["input", "ready_marker"],
                    format!("ready_marker `{m}` must be a plain file name"),
                );
                ok = false;
            }
        }
        let escape = match raw.escape.as_deref().map(str::as_bytes) {
            None => Some(None),
            Some([b]) if b.is_ascii() && Some(*b) != delimiter && raw.format == Format::Text => Some(Some(*b)),
            Some(_) => {
                self.problem(
                    &["input", "escape"],
                    format!(
                        "escape {:?} must be one ASCII character other than the delimiter, for text input",
                        raw.escape.as_deref().unwrap_or("")
                    ),
                );
                None
            }
        };
        let mut types = BTreeMap::new();
        if !raw.types.is_empty() && raw.format == Format::Text {
            self.problem(
                &["input", "types"],
                "`types` applies to Parquet and ORC input, whose files carry types to check".into(),
            );
            ok = false;
        }
        for (column, text) in &raw.types {
            if !raw.columns.is_empty() && !raw.columns.contains(column) {
                self.problem(
                    &["input", "types", column],
                    format!("`types` names column `{column}`, which `columns` does not list"),
                );
                ok = false;
            }
            match hive_type::HiveType::parse(text) {
                Ok(t) => {
                    types.insert(column.clone(), t);
                }
                Err(why) => {
                    self.problem(
                        &["input", "types", column],
                        format!("column `{column}` has type `{text}`, which chama cannot read: {why}"),
                    );
                    ok = false;
                }
            }
        }
        let time_zone = match &raw.time_zone {
            None => Some(None),
            Some(_) if raw.format == Format::Text => {
                self.problem(
                    &["input", "time_zone"],
                    "`time_zone` applies to Parquet and ORC input; text holds timestamps as text".into(),
                );
                None
            }
            Some(name) => match crate::source::zone::Zone::get(name) {
                Some(tz) => Some(Some(tz)),
                None => {
                    self.problem(
                        &["input", "time_zone"],
                        format!("time_zone `{name}` is not an IANA time zone (e.g. \"Asia/Shanghai\", \"UTC\")"),
                    );
                    None
                }
            },
        };
        let (path, delimiter, escape, time_zone) = (path?, delimiter?, escape?, time_zone?);
        ok.then_some(Input {
            source: raw.source,
            path,
            format: raw.format,
            compression: raw.compression,
            delimiter,
            null: raw.null,
            escape,
            columns: raw.columns,
            time_zone,
            types,
            ready_marker: raw.ready_marker,
            max_bad_rows: raw.max_bad_rows,
            allow_empty: raw.allow_empty,
        })
    }

    /// Compiles the SQL, returning it with its output names (known even when
    /// the SQL has errors, where its SELECT list can be read). `Some(None)`:
    /// a Parquet spec whose columns are only known at run time.
    fn program(&mut self, input: &Input, t: &RawTransform) -> (Option<Option<Program>>, Option<Vec<String>>) {
        if input.columns.is_empty() {
            return (Some(None), None);
        }
        let sql_span = self.doc.get(&["transform", "sql"]).map(|v| v.span()).unwrap_or(0..0);
        let first_line = string_body_line(self.doc, sql_span);
        let at = |l: u64| first_line + l as usize - 1;
        match Program::compile_with_names(&t.sql, &input.columns) {
            Ok(p) => {
                for w in p.warnings() {
                    self.warnings.push(Problem {
                        line: at(w.line),
                        message: w.message.clone(),
                    });
                }
                let names = p.output_names().to_vec();
                (Some(Some(p)), Some(names))
            }
            Err((errs, names)) => {
                for e in errs {
                    self.problems.push(Problem {
                        line: at(e.line),
                        message: e.message,
                    });
                }
                (None, names)
            }
        }
    }

    fn one_char(&mut self, path: &[&str], s: &str) -> Option<char> {
        let mut chars = s.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => Some(c),
            _ => {
                self.problem(path, format!("{s:?} must be exactly one character"));
                None
            }
        }
    }

    fn clean(&mut self, raw: RawClean, outputs: Option<&[String]>) -> Option<Clean> {
        let mut ok = true;
        let mut strip = Vec::new();
        for s in &raw.strip {
            match self.one_char(&["clean", "strip"], s) {
                Some(c) => strip.push(c),
                None => ok = false,
            }
        }
        let mut keep = BTreeMap::new();
        for (col, chars) in &raw.keep {
            let path = ["clean", "keep", col.as_str()];
            if let Some(outs) = outputs {
                if !outs.contains(col) {
                    self.problem(&path, format!("keep names `{col}`, which is not an output column"));
                    ok = false;
                }
            }
            let mut cs = Vec::new();
            for s in chars {
                match self.one_char(&path, s) {
                    Some(c) if strip.contains(&c) => cs.push(c),
                    Some(c) => {
                        self.problem(
                            &path,
                            format!("keep {c:?} for `{col}` is not in strip, so there is nothing to keep"),
                        );
                        ok = false;
                    }
                    None => ok = false,
                }
            }
            keep.insert(col.clone(), cs);
        }
        ok.then_some(Clean { strip, keep })
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests;
