//! Trying a spec on local files (`chama spec try`): the spec's transform and
//! cleaning over text, Parquet or ORC input, the rows out as UTF-8 TSV with
//! a header (PostgreSQL's text format), each rejected row named on stderr,
//! and the counts at the end. Nothing is written to the work directory.

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::Context;

use crate::exit::Failure;
use crate::source::columnar::{self, ColumnarRows};
use crate::source::text;
use crate::spec::{Format, Spec};
use crate::sql::Value;
use crate::transform::bytes::{ByteSet, LineHits};
use crate::transform::{recycle, Transformer};

/// Counts of one pass over input rows; they always add up:
/// `rows_in = rows_out + filtered + rejected`.
#[derive(Debug, Default)]
struct Counts {
    rows_in: u64,
    rows_out: u64,
    filtered: u64,
    rejected: u64,
}

/// Runs `spec` on local `inputs` (read in order), writing UTF-8 TSV with a
/// header to `out`, at most `limit` rows.
pub fn try_spec(spec: &Spec, inputs: &[PathBuf], limit: Option<u64>, out: &mut dyn Write) -> anyhow::Result<()> {
    if spec.input.format != Format::Text {
        return try_columnar(spec, inputs, limit, out);
    }
    let program = spec.program.as_ref().context("spec has no compiled SQL")?;
    let transformer = Transformer::new(spec, program);
    let columns = spec.input.columns.len();
    let mut out = header(&transformer, out)?;

    let mut counts = Counts::default();
    let mut hits = LineHits::default();
    let mut tsv = TsvWriter::new();
    let mut fields_store: Vec<Option<&str>> = Vec::new();
    let mut values_store: Vec<Value> = Vec::new();
    let limit = limit.unwrap_or(u64::MAX);
    let mut cutter = text::FieldCutter::new(&spec.input);
    'files: for input in inputs {
        let mut lines = text::open(input, spec.input.compression, &indicatif::ProgressBar::hidden())?;
        let mut line_no = 0u64;
        while counts.rows_out < limit {
            let Some(line) = lines
                .next_line()
                .map_err(|e| text::read_error(&e, &input.display().to_string(), line_no))?
            else {
                continue 'files;
            };
            line_no += 1;
            counts.rows_in += 1;
            let reject = |counts: &mut Counts, why: String| {
                counts.rejected += 1;
                crate::say!("{}:{line_no}: rejected: {why}", input.display());
            };
            let line = match std::str::from_utf8(line) {
                Ok(s) => s,
                Err(e) => {
                    reject(&mut counts, text::utf8_error(line, &e, spec.input.delimiter));
                    continue;
                }
            };
            let mut fields = recycle(std::mem::take(&mut fields_store));
            let (n, line) = cutter.cut(line, &mut fields);
            if n != columns {
                reject(&mut counts, text::field_count_error(n, columns));
                fields_store = recycle(fields);
                continue;
            }
            let mut values = recycle(std::mem::take(&mut values_store));
            if transformer.row(line, &fields, &mut values, &mut hits) {
                counts.rows_out += 1;
                tsv.write_row(&mut out, line, &values)?;
            } else {
                counts.filtered += 1;
            }
            values_store = recycle(values);
            fields_store = recycle(fields);
        }
        break;
    }
    finish_try(spec, out, &counts)
}

/// `spec try` on Parquet or ORC files: the same rows a build would take.
fn try_columnar(spec: &Spec, inputs: &[PathBuf], limit: Option<u64>, out: &mut dyn Write) -> anyhow::Result<()> {
    let compiled;
    let (program, columns) = match (&spec.program, inputs.first()) {
        (Some(p), _) => (p, spec.input.columns.clone()),
        (None, None) => return Err(Failure::Usage("spec try needs at least one --input".into()).into()),
        (None, Some(first)) => {
            let (program, columns) = columnar::program_for_file(spec, first)?;
            compiled = program;
            (&compiled, columns)
        }
    };
    let transformer = Transformer::new(spec, program);
    let mut out = header(&transformer, out)?;
    let mut counts = Counts::default();
    let mut hits = LineHits::default();
    let mut tsv = TsvWriter::new();
    let mut values_store: Vec<Value> = Vec::new();
    let limit = limit.unwrap_or(u64::MAX);
    for input in inputs {
        if counts.rows_out >= limit {
            break;
        }
        let mut rows = ColumnarRows::open(input, &spec.input, &columns, program.used_columns())?;
        let mut row_no = 0u64;
        let r = rows.for_each(|fields, unwritable| {
            if counts.rows_out >= limit {
                return Err(Enough.into());
            }
            row_no += 1;
            counts.rows_in += 1;
            if let Some(why) = unwritable {
                counts.rejected += 1;
                crate::say!("{}:{row_no}: rejected: {why}", input.display());
                return Ok(());
            }
            let mut values = recycle(std::mem::take(&mut values_store));
            if transformer.row("", fields, &mut values, &mut hits) {
                counts.rows_out += 1;
                tsv.write_row(&mut out, "", &values)?;
            } else {
                counts.filtered += 1;
            }
            values_store = recycle(values);
            Ok(())
        });
        match r {
            Err(e) if e.is::<Enough>() => break,
            other => other?,
        }
    }
    finish_try(spec, out, &counts)
}

/// Stops reading once `--limit` rows are out.
#[derive(Debug, thiserror::Error)]
#[error("enough rows")]
struct Enough;

/// The output, buffered, with the header of the transform's columns written.
fn header<'a>(transformer: &Transformer<'_>, out: &'a mut dyn Write) -> io::Result<io::BufWriter<&'a mut dyn Write>> {
    let mut out = io::BufWriter::with_capacity(1 << 20, out);
    out.write_all(transformer.output_names().join("\t").as_bytes())?;
    out.write_all(b"\n")?;
    Ok(out)
}

fn finish_try(spec: &Spec, mut out: impl Write, counts: &Counts) -> anyhow::Result<()> {
    out.flush()?;
    crate::say!(
        "spec try {}: {} rows in, {} out, {} filtered, {} rejected",
        spec.name,
        counts.rows_in,
        counts.rows_out,
        counts.filtered,
        counts.rejected
    );
    if counts.rejected > spec.input.max_bad_rows {
        return Err(Failure::BadInput(format!(
            "{} rows rejected, more than max_bad_rows = {}",
            counts.rejected, spec.input.max_bad_rows
        ))
        .into());
    }
    Ok(())
}

/// PostgreSQL's text format: NULL is `\N`; tab, newline, CR and backslash are
/// escaped. Values cut from the line skip the scan when the line-wide search
/// found none of those bytes in them.
struct TsvWriter {
    special: ByteSet,
    hits: LineHits,
    row: Vec<u8>,
}

impl TsvWriter {
    fn new() -> TsvWriter {
        TsvWriter {
            special: ByteSet::new(*b"\t\n\r\\"),
            hits: LineHits::default(),
            row: Vec::with_capacity(4096),
        }
    }

    fn write_row(&mut self, out: &mut impl Write, line: &str, values: &[Value<'_>]) -> io::Result<()> {
        self.hits.scan(&self.special, line.as_bytes());
        self.row.clear();
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                self.row.push(b'\t');
            }
            match v {
                Value::Null => self.row.extend_from_slice(b"\\N"),
                Value::Str(s) if self.hits.within(s.as_bytes()) == Some(false) => {
                    self.row.extend_from_slice(s.as_bytes())
                }
                v => {
                    let s = v.as_str().unwrap_or_default();
                    if self.special.any_in(s.as_bytes()) {
                        escape_into(&mut self.row, s.as_bytes());
                    } else {
                        self.row.extend_from_slice(s.as_bytes());
                    }
                }
            }
        }
        self.row.push(b'\n');
        out.write_all(&self.row)
    }
}

fn escape_into(out: &mut Vec<u8>, s: &[u8]) {
    let mut from = 0;
    for (i, b) in s.iter().enumerate() {
        let esc: &[u8] = match b {
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\\' => b"\\\\",
            _ => continue,
        };
        out.extend_from_slice(&s[from..i]);
        out.extend_from_slice(esc);
        from = i + 1;
    }
    out.extend_from_slice(&s[from..]);
}
