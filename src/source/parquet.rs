//! Parquet input: read only the columns the SQL uses and present each value
//! as Hive text would: strings as they are, integers in decimal, timestamps
//! as `YYYY-MM-DD HH:MM:SS`, dates as `YYYY-MM-DD`, NULL as NULL.
//!
//! Strings are borrowed from the Arrow arrays; every other type is formatted
//! once per batch into one buffer, which is what makes this faster than a
//! generic CSV writer.

use std::fmt::Write as _;
use std::fs::File;
use std::path::Path;

use anyhow::Context;
use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ProjectionMask;

use crate::exit::Failure;

const BATCH_ROWS: usize = 8192;

fn bad(path: &Path, e: impl std::fmt::Display) -> anyhow::Error {
    Failure::BadInput(format!("{}: not a readable Parquet file: {e}", path.display())).into()
}

/// The top-level column names of a Parquet file, lowercased (Hive's names).
pub fn column_names(path: &Path) -> anyhow::Result<Vec<String>> {
    let f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let b = ParquetRecordBatchReaderBuilder::try_new(f).map_err(|e| bad(path, e))?;
    Ok(b.schema().fields().iter().map(|f| f.name().to_lowercase()).collect())
}

/// Rows of one Parquet file, as fields of the spec's input columns.
pub struct ParquetRows {
    reader: ParquetRecordBatchReader,
    /// For each column read: its index among the spec's input columns.
    targets: Vec<usize>,
    width: usize,
    path: std::path::PathBuf,
}

impl ParquetRows {
    /// Opens `path`, reading the `used` ones of `columns` (indices into it).
    pub fn open(path: &Path, columns: &[String], used: &[usize]) -> anyhow::Result<ParquetRows> {
        let f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(f).map_err(|e| bad(path, e))?;
        let names: Vec<String> = builder
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().to_lowercase())
            .collect();
        let mut roots = Vec::new();
        for &u in used {
            let Some(i) = names.iter().position(|n| *n == columns[u]) else {
                return Err(Failure::BadInput(format!("{}: has no column `{}`", path.display(), columns[u])).into());
            };
            let dt = builder.schema().field(i).data_type();
            if !readable(dt) {
                return Err(Failure::BadInput(format!(
                    "{}: column `{}` has type {dt}, which chama cannot read",
                    path.display(),
                    columns[u]
                ))
                .into());
            }
            roots.push((i, u));
        }
        // The projected batch keeps file order; map its columns back to spec columns.
        roots.sort_unstable();
        let mask = ProjectionMask::roots(builder.parquet_schema(), roots.iter().map(|(i, _)| *i));
        let reader = builder
            .with_projection(mask)
            .with_batch_size(BATCH_ROWS)
            .build()
            .map_err(|e| bad(path, e))?;
        Ok(ParquetRows {
            reader,
            targets: roots.into_iter().map(|(_, u)| u).collect(),
            width: columns.len(),
            path: path.to_path_buf(),
        })
    }

    /// Calls `f` with each row's fields (NULL for columns not read), in file order.
    pub fn for_each(&mut self, mut f: impl FnMut(&[Option<&str>]) -> anyhow::Result<()>) -> anyhow::Result<()> {
        let mut fields: Vec<Option<&str>> = Vec::new();
        for batch in &mut self.reader {
            let batch: RecordBatch = batch.map_err(|e| bad(&self.path, e))?;
            let cols: Vec<Column<'_>> = batch.columns().iter().map(Column::new).collect();
            for row in 0..batch.num_rows() {
                let mut fs = crate::transform::recycle(std::mem::take(&mut fields));
                fs.resize(self.width, None);
                for (c, &t) in cols.iter().zip(&self.targets) {
                    fs[t] = c.get(row);
                }
                f(&fs)?;
                fields = crate::transform::recycle(fs);
            }
        }
        Ok(())
    }
}

fn readable(dt: &DataType) -> bool {
    use DataType::*;
    matches!(
        dt,
        Utf8 | LargeUtf8
            | Utf8View
            | Int8
            | Int16
            | Int32
            | Int64
            | UInt8
            | UInt16
            | UInt32
            | UInt64
            | Float32
            | Float64
            | Boolean
            | Date32
            | Date64
            | Timestamp(_, _)
            | Decimal128(_, _)
    )
}

/// One column of a batch, ready to give each row's value as text.
enum Column<'b> {
    Utf8(&'b arrow_array::StringArray),
    LargeUtf8(&'b arrow_array::LargeStringArray),
    View(&'b arrow_array::StringViewArray),
    /// Formatted once: row `i` is `buf[offsets[i]..offsets[i + 1]]`.
    Text {
        array: &'b ArrayRef,
        buf: String,
        offsets: Vec<usize>,
    },
}

impl<'b> Column<'b> {
    fn new(a: &'b ArrayRef) -> Column<'b> {
        match a.data_type() {
            DataType::Utf8 => Column::Utf8(a.as_string::<i32>()),
            DataType::LargeUtf8 => Column::LargeUtf8(a.as_string::<i64>()),
            DataType::Utf8View => Column::View(a.as_string_view()),
            _ => {
                let mut buf = String::with_capacity(a.len() * 12);
                let mut offsets = Vec::with_capacity(a.len() + 1);
                offsets.push(0);
                for i in 0..a.len() {
                    if !a.is_null(i) {
                        format_value(a, i, &mut buf);
                    }
                    offsets.push(buf.len());
                }
                Column::Text { array: a, buf, offsets }
            }
        }
    }

    fn get(&self, i: usize) -> Option<&str> {
        match self {
            Column::Utf8(a) => (!a.is_null(i)).then(|| a.value(i)),
            Column::LargeUtf8(a) => (!a.is_null(i)).then(|| a.value(i)),
            Column::View(a) => (!a.is_null(i)).then(|| a.value(i)),
            Column::Text { array, buf, offsets } => (!array.is_null(i)).then(|| &buf[offsets[i]..offsets[i + 1]]),
        }
    }
}

fn format_value(a: &ArrayRef, i: usize, out: &mut String) {
    macro_rules! int {
        ($t:ty) => {{
            let _ = write!(out, "{}", a.as_primitive::<$t>().value(i));
        }};
    }
    match a.data_type() {
        DataType::Int8 => int!(Int8Type),
        DataType::Int16 => int!(Int16Type),
        DataType::Int32 => int!(Int32Type),
        DataType::Int64 => int!(Int64Type),
        DataType::UInt8 => int!(UInt8Type),
        DataType::UInt16 => int!(UInt16Type),
        DataType::UInt32 => int!(UInt32Type),
        DataType::UInt64 => int!(UInt64Type),
        DataType::Float32 => int!(Float32Type),
        DataType::Float64 => int!(Float64Type),
        DataType::Boolean => out.push_str(if a.as_boolean().value(i) { "true" } else { "false" }),
        DataType::Date32 => {
            let days = a.as_primitive::<Date32Type>().value(i);
            if let Some(d) = chrono::DateTime::from_timestamp(i64::from(days) * 86_400, 0) {
                let _ = write!(out, "{}", d.format("%Y-%m-%d"));
            }
        }
        DataType::Date64 => {
            let ms = a.as_primitive::<Date64Type>().value(i);
            if let Some(d) = chrono::DateTime::from_timestamp_millis(ms) {
                let _ = write!(out, "{}", d.format("%Y-%m-%d"));
            }
        }
        DataType::Timestamp(unit, _) => {
            let v = match unit {
                TimeUnit::Second => a
                    .as_primitive::<TimestampSecondType>()
                    .value(i)
                    .checked_mul(1_000_000_000),
                TimeUnit::Millisecond => a
                    .as_primitive::<TimestampMillisecondType>()
                    .value(i)
                    .checked_mul(1_000_000),
                TimeUnit::Microsecond => a.as_primitive::<TimestampMicrosecondType>().value(i).checked_mul(1_000),
                TimeUnit::Nanosecond => Some(a.as_primitive::<TimestampNanosecondType>().value(i)),
            };
            // Wall-clock time as stored: Hive's timestamps carry no zone.
            if let Some(t) = v.map(chrono::DateTime::from_timestamp_nanos) {
                let _ = write!(out, "{}", t.format("%Y-%m-%d %H:%M:%S"));
            }
        }
        DataType::Decimal128(_, _) => out.push_str(&a.as_primitive::<Decimal128Type>().value_as_string(i)),
        other => unreachable!("checked by readable(): {other}"),
    }
}
