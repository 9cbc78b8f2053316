//! What a file's writer meant by its dates and timestamps, told from the
//! file: a Parquet file's writer from its footer (`created_by`, Spark's and
//! Hive's keys), an ORC file's calendar, Spark's `TIMESTAMP_NTZ` columns and
//! its stripes' writer zone from what `orc-rust` does not expose. The
//! README's time zone table says what each means.

use std::fs::File;
use std::path::Path;

use anyhow::Context;
use arrow_schema::DataType;

use super::arrow_text::Calendar;
use super::zone::{Rules, Zone};
use crate::exit::Failure;
use crate::spec::Format;

/// A Parquet or ORC file that cannot be read: bad input (exit 4), naming it.
pub(super) fn bad(path: &Path, format: Format, e: impl std::fmt::Display) -> anyhow::Error {
    let what = match format {
        Format::Orc => "ORC",
        _ => "Parquet",
    };
    Failure::BadInput(format!("{}: not a readable {what} file: {e}", path.display())).into()
}

/// What a file's writer meant by its dates and timestamps, told from the
/// file (see the README's time zone table).
pub(super) struct Meaning {
    /// The calendar of Parquet INT96 timestamps, and of the other dates and timestamps.
    pub(super) int96_calendar: Calendar,
    pub(super) calendar: Calendar,
    /// The zone the writer recorded for its instants (Hive 3's `writer.time.zone`).
    pub(super) zone: Option<Zone>,
    /// Whose zone rules the writer's reader shows instants by, when not
    /// those its calendar implies (Hive 4's `writer.zone.conversion.legacy`).
    pub(super) rules: Option<Rules>,
    /// ORC: the zone its TIMESTAMP stripes were written in, when not UTC.
    pub(super) orc_written: Option<Zone>,
}

impl Meaning {
    pub(super) fn of(calendar: Calendar) -> Meaning {
        Meaning {
            int96_calendar: calendar,
            calendar,
            zone: None,
            rules: None,
            orc_written: None,
        }
    }
}

/// Who wrote a Parquet file, told from its footer: what its INT96 and other
/// timestamps mean follows from it (the README's time zone table).
#[derive(Debug, PartialEq)]
pub(super) enum ParquetWriter {
    /// Spark's own writer (`org.apache.spark.*` keys): instants by
    /// `java.time` in the proleptic calendar, unless its LEGACY mode (marked,
    /// or a Spark before 3.0 / 3.1 for INT96) wrote the hybrid one.
    Spark { legacy_int96: bool, legacy_datetime: bool },
    /// Hive 3 and later (`writer.time.zone`): instants shown in that zone;
    /// the calendar and rules as `writer.date.proleptic` and
    /// `writer.zone.conversion.legacy` say (proleptic, `java.time` when absent).
    Hive3 {
        zone: String,
        proleptic: bool,
        legacy_zone: bool,
    },
    /// `parquet-mr` without Spark's or Hive 3's keys: Hive 2's SerDe
    /// (`java.util`: the hybrid calendar and its zone rules).
    Hive2,
    /// Impala: INT96 holds the wall clock itself.
    Impala,
    /// Arrow's C++ writer (pyarrow, pandas): INT96 holds an instant only
    /// when the stored Arrow schema gives the column a zone; otherwise the
    /// wall clock.
    Arrow,
    /// Anyone else: instants, `java.time`, proleptic (what Spark assumes).
    Other,
}

impl ParquetWriter {
    pub(super) fn of(meta: &parquet::file::metadata::FileMetaData) -> ParquetWriter {
        let kv = meta.key_value_metadata();
        let get = |key: &str| {
            kv.and_then(|kv| kv.iter().find(|e| e.key == key))
                .map(|e| e.value.clone().unwrap_or_default())
        };
        let created_by = meta.created_by().unwrap_or("").to_lowercase();
        if let Some(version) = get("org.apache.spark.version") {
            // Spark compares versions as strings too (DataSourceUtils).
            return ParquetWriter::Spark {
                legacy_int96: get("org.apache.spark.legacyINT96").is_some() || version.as_str() < "3.1.0",
                legacy_datetime: get("org.apache.spark.legacyDateTime").is_some() || version.as_str() < "3.0.0",
            };
        }
        if get("org.apache.spark.sql.parquet.row.metadata").is_some() {
            // Spark before 2.4 did not say its version; it wrote the hybrid calendar.
            return ParquetWriter::Spark {
                legacy_int96: true,
                legacy_datetime: true,
            };
        }
        if let Some(zone) = get("writer.time.zone") {
            return ParquetWriter::Hive3 {
                zone,
                proleptic: get("writer.date.proleptic").is_none_or(|v| v.eq_ignore_ascii_case("true")),
                legacy_zone: get("writer.zone.conversion.legacy").is_some_and(|v| v.eq_ignore_ascii_case("true")),
            };
        }
        if created_by.starts_with("impala") {
            ParquetWriter::Impala
        } else if created_by.starts_with("parquet-cpp") || created_by.contains("arrow") {
            ParquetWriter::Arrow
        } else if created_by.starts_with("parquet-mr") || created_by.starts_with("parquet-java") {
            ParquetWriter::Hive2
        } else {
            ParquetWriter::Other
        }
    }

    /// The calendars and zone of the writer's instants.
    pub(super) fn meaning(&self, path: &Path) -> anyhow::Result<Meaning> {
        let calendar = |legacy: bool| match legacy {
            true => Calendar::Hybrid,
            false => Calendar::Proleptic,
        };
        Ok(match self {
            ParquetWriter::Spark {
                legacy_int96,
                legacy_datetime,
            } => Meaning {
                int96_calendar: calendar(*legacy_int96),
                ..Meaning::of(calendar(*legacy_datetime))
            },
            ParquetWriter::Hive3 {
                zone,
                proleptic,
                legacy_zone,
            } => {
                let Some(z) = Zone::get(zone) else {
                    return Err(bad(
                        path,
                        Format::Parquet,
                        format!("its writer.time.zone `{zone}` is not an IANA time zone"),
                    ));
                };
                Meaning {
                    zone: Some(z),
                    rules: Some(match legacy_zone {
                        true => Rules::JavaUtil,
                        false => Rules::JavaTime,
                    }),
                    ..Meaning::of(calendar(!proleptic))
                }
            }
            ParquetWriter::Hive2 => Meaning::of(Calendar::Hybrid),
            ParquetWriter::Impala | ParquetWriter::Arrow | ParquetWriter::Other => Meaning::of(Calendar::Proleptic),
        })
    }

    /// Whether an INT96 column whose Arrow type (from the stored Arrow
    /// schema, if any) is `t` holds instants.
    pub(super) fn int96_instant(&self, t: &DataType) -> bool {
        match self {
            ParquetWriter::Impala => false,
            ParquetWriter::Arrow => matches!(t, DataType::Timestamp(_, Some(_))),
            _ => true,
        }
    }
}

/// The zone an ORC file's stripes were written in (their footers'
/// `writerTimezone`), as `java.util` shows it; `None` for UTC or none named.
pub(super) fn orc_writer_zone(
    path: &Path,
    compression: Option<orc_rust::compression::Compression>,
    stripes: &[orc_rust::proto::StripeInformation],
) -> anyhow::Result<Option<Zone>> {
    use prost::Message;
    use std::io::{Read, Seek, SeekFrom};
    let mut f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut zones: Vec<String> = Vec::new();
    for stripe in stripes {
        let at = stripe.offset() + stripe.index_length() + stripe.data_length();
        let mut raw = vec![0u8; usize::try_from(stripe.footer_length()).unwrap_or(0)];
        f.seek(SeekFrom::Start(at))?;
        f.read_exact(&mut raw)
            .with_context(|| format!("reading {}", path.display()))?;
        let mut buf = Vec::new();
        orc_rust::compression::Decompressor::new(bytes::Bytes::from(raw), compression, Vec::new())
            .read_to_end(&mut buf)
            .map_err(|e| bad(path, Format::Orc, format!("a stripe footer: {e}")))?;
        let footer = orc_rust::proto::StripeFooter::decode(buf.as_slice())
            .map_err(|e| bad(path, Format::Orc, format!("a stripe footer: {e}")))?;
        if let Some(z) = footer.writer_timezone {
            if !zones.contains(&z) {
                zones.push(z);
            }
        }
    }
    match zones.as_slice() {
        [] => Ok(None),
        [one] => match Zone::get(one) {
            Some(z) => Ok((!z.is_utc()).then_some(z)),
            None => Err(bad(
                path,
                Format::Orc,
                format!("its stripes were written in the time zone `{one}`, which chama does not know"),
            )),
        },
        many => Err(bad(
            path,
            Format::Orc,
            format!(
                "its stripes were written in different time zones ({}), which chama cannot read",
                many.join(", ")
            ),
        )),
    }
}

/// What an ORC file's footer says that `orc-rust` does not expose: the
/// calendar of its dates and timestamps, and which top-level columns Spark
/// wrote as `TIMESTAMP_NTZ` (a bigint of microseconds with the type attribute
/// `spark.sql.catalyst.type = timestamp_ntz`; Spark shows it as a timestamp).
pub(super) struct OrcFooter {
    pub(super) calendar: Calendar,
    pub(super) ntz_columns: Vec<String>,
    pub(super) stripes: Vec<orc_rust::proto::StripeInformation>,
}

pub(super) fn orc_footer(
    path: &Path,
    compression: Option<orc_rust::compression::Compression>,
) -> anyhow::Result<OrcFooter> {
    use prost::Message;
    use std::io::{Read, Seek, SeekFrom};
    let mut f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let len = f.seek(SeekFrom::End(0))?;
    let tail_len = len.min(256 * 1024);
    f.seek(SeekFrom::Start(len - tail_len))?;
    let mut tail = vec![0u8; tail_len as usize];
    f.read_exact(&mut tail)
        .with_context(|| format!("reading {}", path.display()))?;
    let ps_len = *tail.last().unwrap_or(&0) as usize;
    let footer = (|| {
        let ps_end = tail.len().checked_sub(1)?;
        let ps = orc_rust::proto::PostScript::decode(&tail[ps_end.checked_sub(ps_len)?..ps_end]).ok()?;
        let footer_len = usize::try_from(ps.footer_length?).ok()?;
        let footer_end = ps_end - ps_len;
        let bytes = bytes::Bytes::copy_from_slice(&tail[footer_end.checked_sub(footer_len)?..footer_end]);
        let mut buf = Vec::new();
        orc_rust::compression::Decompressor::new(bytes, compression, Vec::new())
            .read_to_end(&mut buf)
            .ok()?;
        orc_rust::proto::Footer::decode(buf.as_slice()).ok()
    })();
    let Some(footer) = footer else {
        return Err(bad(path, Format::Orc, "cannot read its footer"));
    };
    use orc_rust::proto::CalendarKind;
    let calendar = match (footer.calendar.map(|_| footer.calendar()), footer.writer) {
        (Some(CalendarKind::ProlepticGregorian), _) => Calendar::Proleptic,
        (Some(_), _) => Calendar::Hybrid,
        // No calendar named: Java's ORC (writer 0, or too old to say) used the hybrid one;
        // the others (C++, Presto, Trino, Rust) count days and seconds proleptically.
        (None, None | Some(0)) => Calendar::Hybrid,
        (None, Some(_)) => Calendar::Proleptic,
    };
    let mut ntz_columns = Vec::new();
    if let Some(root) = footer.types.first() {
        for (name, sub) in root.field_names.iter().zip(&root.subtypes) {
            let ntz = footer.types.get(*sub as usize).is_some_and(|t| {
                t.attributes.iter().any(|a| {
                    a.key.as_deref() == Some("spark.sql.catalyst.type") && a.value.as_deref() == Some("timestamp_ntz")
                })
            });
            if ntz {
                ntz_columns.push(name.to_lowercase());
            }
        }
    }
    Ok(OrcFooter {
        calendar,
        ntz_columns,
        stripes: footer.stripes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_schema::TimeUnit;
    use parquet::file::metadata::{FileMetaData, KeyValue};
    use parquet::schema::types::{SchemaDescriptor, Type};
    use std::sync::Arc;

    fn writer(created_by: &str, keys: &[(&str, &str)]) -> ParquetWriter {
        let schema = Arc::new(SchemaDescriptor::new(Arc::new(
            Type::group_type_builder("schema").build().unwrap(),
        )));
        let kv = keys
            .iter()
            .map(|(k, v)| KeyValue::new(k.to_string(), v.to_string()))
            .collect();
        let meta = FileMetaData::new(1, 0, Some(created_by.to_string()), Some(kv), schema, None);
        ParquetWriter::of(&meta)
    }

    #[test]
    fn a_parquet_files_writer_is_told_from_its_footer() {
        let mr = "parquet-mr version 1.17.0 (build fac0c74)";
        assert_eq!(
            writer(mr, &[("org.apache.spark.version", "4.0.1")]),
            ParquetWriter::Spark {
                legacy_int96: false,
                legacy_datetime: false
            }
        );
        assert_eq!(
            writer(mr, &[("org.apache.spark.version", "3.0.3")]),
            ParquetWriter::Spark {
                legacy_int96: true,
                legacy_datetime: false
            }
        );
        assert_eq!(
            writer(
                mr,
                &[
                    ("org.apache.spark.version", "4.0.1"),
                    ("org.apache.spark.legacyDateTime", "")
                ]
            ),
            ParquetWriter::Spark {
                legacy_int96: false,
                legacy_datetime: true
            }
        );
        // Hive 2's SerDe writes no key at all.
        assert_eq!(writer(mr, &[]), ParquetWriter::Hive2);
        assert_eq!(
            writer(
                mr,
                &[
                    ("writer.time.zone", "Asia/Shanghai"),
                    ("writer.date.proleptic", "false")
                ]
            ),
            ParquetWriter::Hive3 {
                zone: "Asia/Shanghai".into(),
                proleptic: false,
                legacy_zone: false
            }
        );
        assert_eq!(writer("impala version 4.1.0-RELEASE", &[]), ParquetWriter::Impala);
        assert_eq!(writer("parquet-cpp-arrow version 26.0.1", &[]), ParquetWriter::Arrow);
        assert_eq!(writer("parquet-rs version 59.3.2", &[]), ParquetWriter::Other);
        // What each means for INT96 and the calendars.
        let ts = |tz: Option<&str>| DataType::Timestamp(TimeUnit::Millisecond, tz.map(Into::into));
        assert!(!ParquetWriter::Impala.int96_instant(&ts(None)));
        assert!(!ParquetWriter::Arrow.int96_instant(&ts(None)));
        assert!(ParquetWriter::Arrow.int96_instant(&ts(Some("Asia/Shanghai"))));
        assert!(ParquetWriter::Hive2.int96_instant(&ts(None)));
        let p = Path::new("f.parquet");
        let hive2 = ParquetWriter::Hive2.meaning(p).unwrap();
        assert_eq!(
            (hive2.int96_calendar, hive2.calendar),
            (Calendar::Hybrid, Calendar::Hybrid)
        );
        let hive3 = writer(mr, &[("writer.time.zone", "America/Los_Angeles")])
            .meaning(p)
            .unwrap();
        assert_eq!(hive3.zone.as_ref().map(Zone::name), Some("America/Los_Angeles"));
        assert_eq!(
            (hive3.calendar, hive3.rules),
            (Calendar::Proleptic, Some(Rules::JavaTime))
        );
        assert!(writer(mr, &[("writer.time.zone", "Mars/Olympus")]).meaning(p).is_err());
    }
}
