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
use super::writer::{bad, orc_footer, orc_writer_zone, Meaning, ParquetWriter};
use super::zone::{Rules, Zone};
use crate::exit::Failure;
use crate::spec::hive_type::HiveType;
use crate::spec::{Format, Input, Spec};
use crate::sql::Program;

const BATCH_ROWS: usize = 8192;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_inside_a_reader_is_its_message() {
        let r: Result<(), String> = guarded(|| panic!("attempt to multiply with overflow"));
        assert_eq!(
            r.unwrap_err(),
            "corrupt data (the reader stopped: attempt to multiply with overflow)"
        );
        assert_eq!(guarded(|| 7), Ok(7));
    }
}
