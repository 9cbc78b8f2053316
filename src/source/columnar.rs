//! Columnar input, Parquet and ORC: read only the columns the SQL uses and
//! present each value as Hive's text format writes it (see
//! [`arrow_text`](super::arrow_text)), NULL as NULL.
//!
//! Parquet: every codec of the format (uncompressed, snappy, gzip, zstd,
//! lz4, lz4_raw, brotli). INT96 timestamps (Hive's, Spark's and Impala's
//! default) are exact for any instant from 0001 to 9999: Arrow can give
//! them as wrapped nanoseconds or as whole seconds but not both, so an INT96
//! column is read twice, and the two together give the exact value.
//!
//! ORC (through `orc-rust`): codecs zlib, snappy, zstd, lz4, lzo; timestamps
//! read as nanoseconds in a 128-bit decimal, so that none overflows. Files
//! whose columns are named `_col0`, `_col1`, ... (written by old Hive) are
//! matched to the spec's columns by position.
//!
//! Strings are borrowed from the Arrow arrays; every other type is formatted
//! once per batch into one buffer, which is what makes this faster than a
//! generic CSV writer.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use arrow_array::RecordBatch;
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ProjectionMask;
use parquet::basic::Type as PhysicalType;

use super::arrow_text::{check_type, Calendar, Clock, Column, Hint};
use super::zone::{Rules, Zone};
use crate::exit::Failure;
use crate::spec::hive_type::HiveType;
use crate::spec::{Format, Input, Spec};
use crate::sql::Program;

const BATCH_ROWS: usize = 8192;

fn bad(path: &Path, format: Format, e: impl std::fmt::Display) -> anyhow::Error {
    let what = match format {
        Format::Orc => "ORC",
        _ => "Parquet",
    };
    Failure::BadInput(format!("{}: not a readable {what} file: {e}", path.display())).into()
}

/// Runs a call into a Parquet or ORC reader; a panic inside it (`orc-rust`
/// unwraps some decoding errors) becomes its message, so that a corrupt file
/// is bad input (exit 4), not a crash. The panic hook stays quiet for these.
fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    use std::cell::{Cell, RefCell};
    thread_local! {
        static GUARDED: Cell<bool> = const { Cell::new(false) };
        static MESSAGE: RefCell<Option<String>> = const { RefCell::new(None) };
    }
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if GUARDED.with(Cell::get) {
                let p = info.payload();
                let msg = p
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| p.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "the reader failed".into());
                MESSAGE.with(|m| *m.borrow_mut() = Some(msg));
            } else {
                previous(info)
            }
        }));
    });
    GUARDED.with(|g| g.set(true));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    GUARDED.with(|g| g.set(false));
    r.map_err(|_| {
        let msg = MESSAGE.with(|m| m.borrow_mut().take()).unwrap_or_default();
        format!("corrupt data (the reader stopped: {msg})")
    })
}

/// The top-level column names of a Parquet or ORC file, lowercased (Hive's names).
pub fn column_names(path: &Path, format: Format) -> anyhow::Result<Vec<String>> {
    guarded(|| column_names_unguarded(path, format)).map_err(|why| bad(path, format, why))?
}

fn column_names_unguarded(path: &Path, format: Format) -> anyhow::Result<Vec<String>> {
    let f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let fields = match format {
        Format::Orc => orc_rust::ArrowReaderBuilder::try_new(f)
            .map_err(|e| bad(path, format, e))?
            .schema()
            .fields()
            .clone(),
        _ => ParquetRecordBatchReaderBuilder::try_new(f)
            .map_err(|e| bad(path, format, e))?
            .schema()
            .fields()
            .clone(),
    };
    Ok(fields.iter().map(|f| f.name().to_lowercase()).collect())
}

/// A Parquet or ORC spec without `columns` takes them from a file of the
/// hour: its column names, and the SQL compiled against them.
pub fn program_for_file(spec: &Spec, path: &Path) -> anyhow::Result<(Program, Vec<String>)> {
    let columns = column_names(path, spec.input.format)?;
    let program = Program::compile(&spec.sql, &columns).map_err(|errs| {
        let why: Vec<String> = errs.iter().map(|e| e.message.clone()).collect();
        Failure::Usage(format!(
            "the SQL does not fit the columns of {}: {}",
            path.display(),
            why.join("; ")
        ))
    })?;
    Ok((program, columns))
}

/// How one column read is to be rendered.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Plain,
    /// Parquet INT96: `k` is its index among the seconds reader's columns;
    /// `instant` unless its writer stored a wall clock.
    Int96 {
        k: usize,
        instant: bool,
    },
    /// ORC timestamp read as a nanosecond decimal (`true`: TIMESTAMP_INSTANT).
    NanosDecimal(bool),
    /// Spark's `TIMESTAMP_NTZ` in ORC: a bigint of microseconds, a wall clock.
    NtzMicros,
}

/// Rows of one Parquet or ORC file, as fields of the spec's input columns.
pub struct ColumnarRows {
    batches: Batches,
    /// For each column read (in the batch's order): its index among the spec's input columns.
    targets: Vec<usize>,
    kinds: Vec<Kind>,
    width: usize,
    columns: Vec<String>,
    path: PathBuf,
    format: Format,
    meaning: Meaning,
    /// `[input] time_zone`, unless the writer recorded its own.
    zone: Option<Zone>,
}

/// A file opened for reading, before it is wrapped as rows.
struct Opened {
    batches: Batches,
    /// `(file index, spec index)` of each column read, in file order.
    roots: Vec<(usize, usize)>,
    kinds: Vec<Kind>,
    meaning: Meaning,
}

/// What a file's writer meant by its dates and timestamps, told from the
/// file (see the README's time zone table).
struct Meaning {
    /// The calendar of Parquet INT96 timestamps, and of the other dates and timestamps.
    int96_calendar: Calendar,
    calendar: Calendar,
    /// The zone the writer recorded for its instants (Hive 3's `writer.time.zone`).
    zone: Option<Zone>,
    /// Whose zone rules the writer's reader shows instants by, when not
    /// those its calendar implies (Hive 4's `writer.zone.conversion.legacy`).
    rules: Option<Rules>,
    /// ORC: the zone its TIMESTAMP stripes were written in, when not UTC.
    orc_written: Option<Zone>,
}

impl Meaning {
    fn of(calendar: Calendar) -> Meaning {
        Meaning {
            int96_calendar: calendar,
            calendar,
            zone: None,
            rules: None,
            orc_written: None,
        }
    }
}

impl ColumnarRows {
    /// How values in `calendar` become wall clocks: a hybrid calendar is
    /// `java.util`'s, and so are its zone rules; the proleptic one `java.time`'s.
    fn clock(&self, calendar: Calendar) -> Clock<'_> {
        let rules = self.meaning.rules.unwrap_or(match calendar {
            Calendar::Hybrid => Rules::JavaUtil,
            Calendar::Proleptic => Rules::JavaTime,
        });
        Clock {
            calendar,
            zone: self.zone.as_ref(),
            rules,
        }
    }
}

enum Batches {
    Parquet {
        main: ParquetRecordBatchReader,
        /// The INT96 columns again, as whole seconds.
        seconds: Option<ParquetRecordBatchReader>,
    },
    Orc(orc_rust::ArrowReader<File>),
}

impl ColumnarRows {
    /// Opens `path`, reading the `used` ones of `columns` (indices into it),
    /// after checking the columns the spec declares `types` for.
    pub fn open(path: &Path, input: &Input, columns: &[String], used: &[usize]) -> anyhow::Result<ColumnarRows> {
        let wanted = Wanted {
            path,
            columns,
            used,
            declared: &input.types,
        };
        let opened = guarded(|| match input.format {
            Format::Orc => open_orc(&wanted),
            _ => open_parquet(&wanted),
        })
        .map_err(|why| bad(path, input.format, why))??;
        let zone = opened.meaning.zone.clone().or_else(|| input.time_zone.clone());
        Ok(ColumnarRows {
            batches: opened.batches,
            targets: opened.roots.into_iter().map(|(_, u)| u).collect(),
            kinds: opened.kinds,
            width: columns.len(),
            columns: columns.to_vec(),
            path: path.to_path_buf(),
            format: input.format,
            meaning: opened.meaning,
            zone,
        })
    }

    /// Calls `f` with each row's fields (NULL for columns not read), in file
    /// order, and the reason when the row cannot be written exactly.
    pub fn for_each(
        &mut self,
        mut f: impl FnMut(&[Option<&str>], Option<String>) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let mut fields: Vec<Option<&str>> = Vec::new();
        loop {
            let (path, format) = (&self.path, self.format);
            let batches = &mut self.batches;
            let next = guarded(|| -> anyhow::Result<Option<(RecordBatch, Option<RecordBatch>)>> {
                Ok(match batches {
                    Batches::Parquet { main, seconds } => {
                        let Some(batch) = main.next() else { return Ok(None) };
                        let batch = batch.map_err(|e| bad(path, format, e))?;
                        let secs = match seconds {
                            Some(r) => match r.next() {
                                Some(b) => Some(b.map_err(|e| bad(path, format, e))?),
                                None => return Err(bad(path, format, "INT96 columns ended early")),
                            },
                            None => None,
                        };
                        Some((batch, secs))
                    }
                    Batches::Orc(r) => match r.next() {
                        Some(batch) => Some((batch.map_err(|e| bad(path, format, e))?, None)),
                        None => None,
                    },
                })
            })
            .map_err(|why| bad(path, format, why))??;
            let Some((batch, seconds)) = next else { break };
            if let Some(s) = &seconds {
                if s.num_rows() != batch.num_rows() {
                    return Err(bad(&self.path, self.format, "INT96 columns out of step"));
                }
            }
            let mut cols: Vec<Column<'_>> = Vec::with_capacity(self.kinds.len());
            for ((a, kind), &t) in batch.columns().iter().zip(&self.kinds).zip(&self.targets) {
                let (calendar, hint) = match kind {
                    Kind::Plain => (self.meaning.calendar, Hint::None),
                    Kind::NtzMicros => (self.meaning.calendar, Hint::NtzMicros),
                    Kind::NanosDecimal(instant) => (
                        self.meaning.calendar,
                        Hint::NanosDecimal {
                            instant: *instant,
                            written: self.meaning.orc_written.as_ref(),
                        },
                    ),
                    Kind::Int96 { k, instant } => (
                        self.meaning.int96_calendar,
                        Hint::Int96 {
                            seconds: seconds.as_ref().expect("INT96 seconds").column(*k),
                            instant: *instant,
                        },
                    ),
                };
                let clock = self.clock(calendar);
                // A reader dependency that panics on a value is bad input in this column.
                let column = guarded(|| Column::new(a, hint, clock))
                    .map_err(|why| bad(&self.path, self.format, format!("column {}: {why}", self.columns[t])))?;
                cols.push(column);
            }
            for row in 0..batch.num_rows() {
                let mut fs = crate::transform::recycle(std::mem::take(&mut fields));
                fs.resize(self.width, None);
                let mut why = None;
                for (c, &t) in cols.iter().zip(&self.targets) {
                    match c.get(row) {
                        Ok(v) => fs[t] = v,
                        Err(e) => {
                            why.get_or_insert_with(|| format!("column {}: {e}", self.columns[t]));
                        }
                    }
                }
                f(&fs, why)?;
                fields = crate::transform::recycle(fs);
            }
        }
        Ok(())
    }
}

/// What the spec reads from one file: its input `columns`, the indices of the
/// `used` ones, and the Hive types `declared` for some of them.
struct Wanted<'a> {
    path: &'a Path,
    columns: &'a [String],
    used: &'a [usize],
    declared: &'a BTreeMap<String, HiveType>,
}

/// Finds each used column among the file's (by lowercased name); refuses
/// a column of a type chama cannot write. Returns `(file index, spec index)`
/// pairs in file order.
fn resolve(wanted: &Wanted<'_>, schema: &Schema) -> anyhow::Result<Vec<(usize, usize)>> {
    let Wanted {
        path,
        columns,
        used,
        declared,
    } = *wanted;
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().to_lowercase()).collect();
    let types: Vec<&DataType> = schema.fields().iter().map(|f| f.data_type()).collect();
    // Old Hive ORC files name their columns _col0, _col1, ...: by position.
    let positional = !names.is_empty() && names.iter().enumerate().all(|(i, n)| *n == format!("_col{i}"));
    for (column, want) in declared {
        let found = match positional {
            true => columns.iter().position(|c| c == column).filter(|i| *i < names.len()),
            false => names.iter().position(|n| n == column),
        };
        let Some(i) = found else {
            return Err(Failure::BadInput(format!(
                "{}: has no column `{column}` (declared `{want}` in [input] types)",
                path.display()
            ))
            .into());
        };
        if !want.matches(types[i]) {
            return Err(Failure::BadInput(format!(
                "{}: column `{column}` is declared `{want}` in [input] types but holds {}",
                path.display(),
                types[i]
            ))
            .into());
        }
    }
    let mut roots = Vec::new();
    for &u in used {
        let found = if positional {
            (u < names.len()).then_some(u)
        } else {
            names.iter().position(|n| *n == columns[u])
        };
        let Some(i) = found else {
            return Err(Failure::BadInput(format!("{}: has no column `{}`", path.display(), columns[u])).into());
        };
        if let Err(why) = check_type(types[i]) {
            return Err(Failure::BadInput(format!(
                "{}: column `{}` has type {}, which chama cannot read: {why}",
                path.display(),
                columns[u],
                types[i]
            ))
            .into());
        }
        roots.push((i, u));
    }
    // The projected batch keeps file order; map its columns back to spec columns.
    roots.sort_unstable();
    Ok(roots)
}

/// Who wrote a Parquet file, told from its footer: what its INT96 and other
/// timestamps mean follows from it (the README's time zone table).
#[derive(Debug, PartialEq)]
enum ParquetWriter {
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
    fn of(meta: &parquet::file::metadata::FileMetaData) -> ParquetWriter {
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
    fn meaning(&self, path: &Path) -> anyhow::Result<Meaning> {
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
    fn int96_instant(&self, t: &DataType) -> bool {
        match self {
            ParquetWriter::Impala => false,
            ParquetWriter::Arrow => matches!(t, DataType::Timestamp(_, Some(_))),
            _ => true,
        }
    }
}

fn open_parquet(wanted: &Wanted<'_>) -> anyhow::Result<Opened> {
    let (path, format) = (wanted.path, Format::Parquet);
    let f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(f).map_err(|e| bad(path, format, e))?;
    let schema = builder.schema().clone();
    let roots = resolve(wanted, &schema)?;
    let writer = ParquetWriter::of(builder.metadata().file_metadata());
    tracing::debug!("{}: written by {writer:?}", path.display());
    let meaning = writer.meaning(path)?;
    let file_roots = builder.parquet_schema().root_schema().get_fields();
    let is_int96 = |i: usize| {
        let t = &file_roots[i];
        t.is_primitive() && t.get_physical_type() == PhysicalType::INT96
    };
    let int96: Vec<usize> = roots.iter().map(|(i, _)| *i).filter(|i| is_int96(*i)).collect();
    let kinds = roots
        .iter()
        .map(|(i, _)| match int96.iter().position(|k| k == i) {
            Some(k) => Kind::Int96 {
                k,
                instant: writer.int96_instant(schema.field(*i).data_type()),
            },
            None => Kind::Plain,
        })
        .collect();
    // INT96 is read twice, as wrapped nanoseconds and as whole seconds,
    // whatever unit a stored Arrow schema gives it.
    let int96_as = |unit: TimeUnit| -> anyhow::Result<ParquetRecordBatchReaderBuilder<File>> {
        let fields: Vec<Field> = schema
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| match int96.contains(&i) {
                true => f.as_ref().clone().with_data_type(DataType::Timestamp(unit, None)),
                false => f.as_ref().clone(),
            })
            .collect();
        let options = ArrowReaderOptions::new()
            .with_schema(Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone())));
        let f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        ParquetRecordBatchReaderBuilder::try_new_with_options(f, options).map_err(|e| bad(path, format, e))
    };
    let read = |b: ParquetRecordBatchReaderBuilder<File>, columns: Vec<usize>| {
        let mask = ProjectionMask::roots(b.parquet_schema(), columns);
        b.with_projection(mask)
            .with_batch_size(BATCH_ROWS)
            .build()
            .map_err(|e| bad(path, format, e))
    };
    let all: Vec<usize> = roots.iter().map(|(i, _)| *i).collect();
    let (main, seconds) = match int96.is_empty() {
        true => (read(builder, all)?, None),
        false => (
            read(int96_as(TimeUnit::Nanosecond)?, all)?,
            Some(read(int96_as(TimeUnit::Second)?, int96.clone())?),
        ),
    };
    Ok(Opened {
        batches: Batches::Parquet { main, seconds },
        roots,
        kinds,
        meaning,
    })
}

fn open_orc(wanted: &Wanted<'_>) -> anyhow::Result<Opened> {
    let (path, format) = (wanted.path, Format::Orc);
    let f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let builder = orc_rust::ArrowReaderBuilder::try_new(f).map_err(|e| bad(path, format, e))?;
    let schema = builder.schema();
    let roots = resolve(wanted, &schema)?;
    let compression = builder.file_metadata().compression();
    let footer = orc_footer(path, compression)?;
    let root_type = builder.file_metadata().root_data_type();
    let column_indices: Vec<usize> = roots
        .iter()
        .map(|(i, _)| root_type.children()[*i].data_type().column_index())
        .collect();
    let mask = orc_rust::projection::ProjectionMask::roots(root_type, column_indices);
    let builder = builder.with_projection(mask);
    // Timestamps as nanoseconds in 128 bits: none overflows, whatever the year.
    let projected = builder.schema();
    let mut kinds = Vec::new();
    let fields: Vec<Field> = projected
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Int64 if footer.ntz_columns.contains(&f.name().to_lowercase()) => {
                kinds.push(Kind::NtzMicros);
                f.as_ref().clone()
            }
            DataType::Timestamp(_, tz) => {
                kinds.push(Kind::NanosDecimal(tz.is_some()));
                f.as_ref().clone().with_data_type(DataType::Decimal128(38, 9))
            }
            _ => {
                kinds.push(Kind::Plain);
                f.as_ref().clone()
            }
        })
        .collect();
    // A TIMESTAMP is a wall clock in the zone its stripe was written in.
    let orc_written = match kinds.contains(&Kind::NanosDecimal(false)) {
        true => orc_writer_zone(path, compression, &footer.stripes)?,
        false => None,
    };
    let reader = builder
        .with_schema(Arc::new(Schema::new(fields)))
        .with_batch_size(BATCH_ROWS)
        .build();
    Ok(Opened {
        batches: Batches::Orc(reader),
        roots,
        kinds,
        meaning: Meaning {
            orc_written,
            ..Meaning::of(footer.calendar)
        },
    })
}

/// The zone an ORC file's stripes were written in (their footers'
/// `writerTimezone`), as `java.util` shows it; `None` for UTC or none named.
fn orc_writer_zone(
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
struct OrcFooter {
    calendar: Calendar,
    ntz_columns: Vec<String>,
    stripes: Vec<orc_rust::proto::StripeInformation>,
}

fn orc_footer(path: &Path, compression: Option<orc_rust::compression::Compression>) -> anyhow::Result<OrcFooter> {
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
    use parquet::file::metadata::{FileMetaData, KeyValue};
    use parquet::schema::types::{SchemaDescriptor, Type};

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
    fn a_panic_inside_a_reader_is_its_message() {
        let r: Result<(), String> = guarded(|| panic!("attempt to multiply with overflow"));
        assert_eq!(
            r.unwrap_err(),
            "corrupt data (the reader stopped: attempt to multiply with overflow)"
        );
        assert_eq!(guarded(|| 7), Ok(7));
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
