//! `chama spec check` and `chama spec try`.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::cli::{SpecCheckArgs, SpecTryArgs};
use crate::config::Config;
use crate::exit::{Code, Failure};
use crate::source::columnar::{self, ColumnarRows};
use crate::source::text;
use crate::spec::{self, Format, Spec};
use crate::sql::Value;
use crate::transform::bytes::{ByteSet, LineHits};
use crate::transform::{recycle, Transformer};

/// Checks every named spec (or every spec in the interfaces directory) and
/// reports all problems of all files before deciding the exit code.
pub fn check(config: &Config, args: &SpecCheckArgs) -> anyhow::Result<Code> {
    let files = if args.files.is_empty() {
        config.spec_files()?
    } else {
        args.files.clone()
    };
    if files.is_empty() {
        return Err(Failure::Usage(format!("spec check: no specs in {}", config.interfaces_dir.display())).into());
    }
    let names = config.names();
    let mut bad_files = 0;
    let mut problems = 0;
    let stderr = io::stderr();
    let mut err = stderr.lock();
    for file in &files {
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) => {
                writeln!(err, "{}: cannot read: {e}", file.display())?;
                bad_files += 1;
                problems += 1;
                continue;
            }
        };
        let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        let checked = spec::check(&text, stem, &names);
        for w in &checked.warnings {
            writeln!(err, "{}:{}: warning: {}", file.display(), w.line, w.message)?;
        }
        for p in &checked.problems {
            writeln!(err, "{}:{}: {}", file.display(), p.line, p.message)?;
        }
        match checked.spec {
            Some(s) if checked.problems.is_empty() => {
                let outputs = s.program.as_ref().map_or("resolved at run time".to_string(), |p| {
                    format!("{} out", p.output_names().len())
                });
                println!(
                    "ok: {} ({}: {} columns in, {outputs})",
                    file.display(),
                    s.name,
                    s.input.columns.len()
                );
            }
            _ => {
                bad_files += 1;
                problems += checked.problems.len().max(1);
            }
        }
    }
    if bad_files > 0 {
        return Err(Failure::Usage(format!(
            "spec check: {problems} problem(s) in {bad_files} of {} file(s)",
            files.len()
        ))
        .into());
    }
    Ok(Code::Ok)
}

/// Resolves a spec argument: a path to a file, or an interface name.
fn spec_path(config: &Config, arg: &str) -> PathBuf {
    let p = Path::new(arg);
    if p.exists() || arg.ends_with(".toml") || arg.contains('/') {
        p.to_path_buf()
    } else {
        config.spec_path(arg)
    }
}

/// Counts of one pass over input rows; they always add up:
/// `rows_in = rows_out + filtered + rejected`.
#[derive(Debug, Default)]
struct Counts {
    rows_in: u64,
    rows_out: u64,
    filtered: u64,
    rejected: u64,
}

pub fn try_spec(config: &Config, args: &SpecTryArgs) -> anyhow::Result<Code> {
    let path = spec_path(config, &args.spec);
    let spec = spec::load(&path, &config.names())?;
    if spec.input.format != Format::Text {
        return try_columnar(&spec, args);
    }
    let program = spec.program.as_ref().context("spec has no compiled SQL")?;
    let transformer = Transformer::new(&spec, program);
    let columns = spec.input.columns.len();

    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(1 << 20, stdout.lock());
    out.write_all(transformer.output_names().join("\t").as_bytes())?;
    out.write_all(b"\n")?;

    let mut counts = Counts::default();
    let mut hits = LineHits::default();
    let mut tsv = TsvWriter::new();
    let mut fields_store: Vec<Option<&str>> = Vec::new();
    let mut values_store: Vec<Value> = Vec::new();
    let limit = args.limit.unwrap_or(u64::MAX);
    let mut cutter = text::FieldCutter::new(&spec.input);
    'files: for input in &args.input {
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
    finish_try(&spec, out, &counts)
}

/// `spec try` on Parquet or ORC files: the same rows a build would take.
fn try_columnar(spec: &Spec, args: &SpecTryArgs) -> anyhow::Result<Code> {
    let compiled;
    let (program, columns) = match (&spec.program, args.input.first()) {
        (Some(p), _) => (p, spec.input.columns.clone()),
        (None, None) => return Err(Failure::Usage("spec try needs at least one --input".into()).into()),
        (None, Some(first)) => {
            let (program, columns) = columnar::program_for_file(spec, first)?;
            compiled = program;
            (&compiled, columns)
        }
    };
    let transformer = Transformer::new(spec, program);
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(1 << 20, stdout.lock());
    out.write_all(transformer.output_names().join("\t").as_bytes())?;
    out.write_all(b"\n")?;
    let mut counts = Counts::default();
    let mut hits = LineHits::default();
    let mut tsv = TsvWriter::new();
    let mut values_store: Vec<Value> = Vec::new();
    let limit = args.limit.unwrap_or(u64::MAX);
    for input in &args.input {
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

fn finish_try(spec: &Spec, mut out: impl Write, counts: &Counts) -> anyhow::Result<Code> {
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
    Ok(Code::Ok)
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
