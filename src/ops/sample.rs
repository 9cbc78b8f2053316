//! Ad-hoc rows for analysts (`chama sample`), UTF-8.
//!
//! From the raw input (a local source in place, a remote one from staging)
//! through the spec's transform and cleaning, or from the built files (the
//! merged day, else the hours) decoded from the spec's charset, the spec's
//! output NULL marker read as NULL. Then a split
//! value, a condition (the same Hive subset, over the output columns) and a
//! projection; a limit stops reading, or a seeded reservoir keeps a
//! reproducible uniform sample. Rows are written as TSV, CSV or JSON lines.

use std::io::{self, BufRead, Write};
use std::path::PathBuf;

use anyhow::Context;

use crate::config::{Config, SourceConfig};
use crate::exit::Failure;
use crate::manifest::Manifest;
use crate::period::Period;
use crate::source::columnar::ColumnarRows;
use crate::source::local::list_hour;
use crate::source::text;
use crate::spec::{Format, Spec, Vars};
use crate::sql::Program;
use crate::transform::bytes::LineHits;
use crate::transform::Transformer;
use crate::workdir::{hh, is_complete};

/// Where rows come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadFrom {
    /// The period's input through the spec's transform and cleaning.
    Raw,
    /// The built files, decoded back to UTF-8.
    Built,
}

/// How rows are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowFormat {
    /// PostgreSQL text format with a header (NULL is \N).
    Tsv,
    /// RFC 4180 with a header (NULL is empty).
    Csv,
    /// One JSON object per row (NULL is null).
    Jsonl,
}

/// How many rows, and which.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Take {
    /// The first rows read: reading stops there.
    First(u64),
    /// A uniform sample of the whole period, by a reservoir: the same seed, the same rows.
    Sample { rows: u64, seed: u64 },
}

/// Which rows, and how.
#[derive(Debug, Clone)]
pub struct SampleOptions {
    /// A condition over the output columns, in the spec's SQL.
    pub condition: Option<String>,
    /// Output columns (or expressions), comma-separated.
    pub columns: Option<String>,
    pub take: Take,
    pub from: ReadFrom,
    /// Only the rows of this split value.
    pub split: Option<String>,
    pub format: RowFormat,
}

/// Rows as they come: already projected, NULL as `None`.
type Row = Vec<Option<String>>;

/// What the sink keeps of the rows it is given.
enum Keep {
    /// Each row, written at once, up to this many.
    First(u64),
    /// Algorithm R: `n` rows of all seen, each replaced at random on a seeded
    /// xorshift64* (the same seed, the same rows); written at the end.
    Reservoir { n: usize, rng: u64, kept: Vec<Row> },
}

impl Keep {
    fn new(take: Take) -> Keep {
        match take {
            Take::First(n) => Keep::First(n),
            Take::Sample { rows, seed } => Keep::Reservoir {
                n: rows as usize,
                rng: seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1,
                kept: Vec::new(),
            },
        }
    }
}

/// Where rows go.
struct Sink<'a> {
    keep: Keep,
    seen: u64,
    out: Box<dyn RowWriter + 'a>,
}

impl Sink<'_> {
    /// Takes a row; `false` once no more are wanted.
    fn take(&mut self, row: Row) -> io::Result<bool> {
        self.seen += 1;
        match &mut self.keep {
            Keep::First(n) => {
                if self.seen > *n {
                    return Ok(false);
                }
                self.out.write(&row)?;
                Ok(self.seen < *n)
            }
            Keep::Reservoir { n, rng, kept } => {
                if kept.len() < *n {
                    kept.push(row);
                } else {
                    *rng ^= *rng >> 12;
                    *rng ^= *rng << 25;
                    *rng ^= *rng >> 27;
                    let r = rng.wrapping_mul(0x2545_f491_4f6c_dd1d) % self.seen;
                    if (r as usize) < *n {
                        kept[r as usize] = row;
                    }
                }
                Ok(true)
            }
        }
    }

    fn finish(mut self) -> io::Result<()> {
        if let Keep::Reservoir { kept, .. } = &mut self.keep {
            for row in std::mem::take(kept) {
                self.out.write(&row)?;
            }
        }
        self.out.flush()
    }
}

trait RowWriter {
    fn write(&mut self, row: &[Option<String>]) -> io::Result<()>;
    fn flush(&mut self) -> io::Result<()>;
}

struct Writer<W: Write> {
    w: W,
    format: RowFormat,
    names: Vec<String>,
}

impl<W: Write> RowWriter for Writer<W> {
    fn write(&mut self, row: &[Option<String>]) -> io::Result<()> {
        use RowFormat::*;
        match self.format {
            Tsv => {
                let cells: Vec<String> = row
                    .iter()
                    .map(|v| match v {
                        None => "\\N".to_string(),
                        Some(s) => s
                            .replace('\\', "\\\\")
                            .replace('\t', "\\t")
                            .replace('\n', "\\n")
                            .replace('\r', "\\r"),
                    })
                    .collect();
                writeln!(self.w, "{}", cells.join("\t"))
            }
            Csv => {
                let cells: Vec<String> = row
                    .iter()
                    .map(|v| match v {
                        None => String::new(),
                        Some(s) if s.contains([',', '"', '\n', '\r']) || s.is_empty() => {
                            format!("\"{}\"", s.replace('"', "\"\""))
                        }
                        Some(s) => s.clone(),
                    })
                    .collect();
                write!(self.w, "{}\r\n", cells.join(","))
            }
            Jsonl => {
                let obj: serde_json::Map<String, serde_json::Value> = self
                    .names
                    .iter()
                    .zip(row)
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            v.clone().map_or(serde_json::Value::Null, serde_json::Value::String),
                        )
                    })
                    .collect();
                writeln!(self.w, "{}", serde_json::Value::Object(obj))
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}

/// `--split`, `--where` and `--columns` over the spec's output columns.
struct Filter {
    split: Option<(usize, String)>,
    program: Program,
}

impl Filter {
    fn new(spec: &Spec, names: &[String], args: &SampleOptions) -> anyhow::Result<Filter> {
        let split = match &args.split {
            None => None,
            Some(v) => {
                let col = spec.output.split_by.as_ref().ok_or_else(|| {
                    Failure::Usage(format!(
                        "--split: {} is not split (its spec has no split_by)",
                        spec.name
                    ))
                })?;
                let i = names
                    .iter()
                    .position(|n| n == col)
                    .expect("split_by is an output column");
                Some((i, v.clone()))
            }
        };
        let cols = match &args.columns {
            Some(c) => c.split(',').map(str::trim).collect::<Vec<_>>().join(", "),
            None => "*".to_string(),
        };
        let sql = match &args.condition {
            Some(w) => format!("SELECT {cols} FROM input WHERE {w}"),
            None => format!("SELECT {cols} FROM input"),
        };
        let program = Program::compile(&sql, names).map_err(|errs| {
            Failure::Usage(format!(
                "--where/--columns: {}",
                errs.iter()
                    .map(|e| format!("column {}: {}", e.column, e.message))
                    .collect::<Vec<_>>()
                    .join("; ")
            ))
        })?;
        Ok(Filter { split, program })
    }

    fn names(&self) -> Vec<String> {
        self.program.output_names().to_vec()
    }

    /// The projected row, or `None` when the row is filtered out.
    fn apply(&self, row: &[Option<&str>]) -> Option<Row> {
        if let Some((i, v)) = &self.split {
            if row[*i] != Some(v.as_str()) {
                return None;
            }
        }
        let mut out = Vec::new();
        self.program
            .eval(row, &mut out)
            .then(|| out.iter().map(|v| v.as_str().map(|s| s.into_owned())).collect())
    }
}

/// Writes the rows of `period` that `args` asks for to `out`, with a header (TSV and CSV).
pub fn sample(
    config: &Config,
    spec: &Spec,
    period: &Period,
    args: &SampleOptions,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let program = spec.program.as_ref().ok_or_else(|| {
        Failure::Usage(format!(
            "sample: {} names no [input] columns; a Parquet or ORC spec needs them for sample",
            spec.name
        ))
    })?;
    let transformer = Transformer::new(spec, program);
    let names = transformer.output_names().to_vec();
    let filter = Filter::new(spec, &names, args)?;
    let out_names = filter.names();
    let mut w = io::BufWriter::with_capacity(1 << 16, out);
    if args.format != RowFormat::Jsonl {
        let (sep, end) = if args.format == RowFormat::Csv {
            (",", "\r\n")
        } else {
            ("\t", "\n")
        };
        write!(w, "{}{end}", out_names.join(sep))?;
    }
    let mut sink = Sink {
        keep: Keep::new(args.take),
        seen: 0,
        out: Box::new(Writer {
            w,
            format: args.format,
            names: out_names,
        }),
    };
    match args.from {
        ReadFrom::Raw => from_raw(config, spec, period, &transformer, &filter, &mut sink)?,
        ReadFrom::Built => from_built(config, spec, period, &filter, &mut sink)?,
    }
    sink.finish()?;
    Ok(())
}

fn from_raw(
    config: &Config,
    spec: &Spec,
    period: &Period,
    transformer: &Transformer<'_>,
    filter: &Filter,
    sink: &mut Sink<'_>,
) -> anyhow::Result<()> {
    let date = period.day();
    let columns = spec.input.columns.len();
    let mut hits = LineHits::default();
    for hour in period.hours() {
        let hh = hh(hour);
        let dir: PathBuf = match config.sources.get(&spec.input.source) {
            Some(SourceConfig::Local { root }) => root.join(
                spec.input
                    .path
                    .render(&Vars {
                        date: Some(date),
                        hour: Some(&hh),
                        ..Vars::default()
                    })
                    .map_err(Failure::Usage)?,
            ),
            _ => config.work().staging_dir(&spec.name, date, hour),
        };
        let Ok(files) = list_hour(&dir, &spec.input.readiness()) else {
            if period.hour.is_some() {
                return Err(
                    Failure::NotReady(format!("no input for {} {date}{hh} in {}", spec.name, dir.display())).into(),
                );
            }
            continue;
        };
        for f in files {
            if spec.input.format != Format::Text {
                if !columnar_file(spec, &f.path, transformer, filter, sink, &mut hits)? {
                    return Ok(());
                }
                continue;
            }
            let mut cutter = text::FieldCutter::new(&spec.input);
            let mut lines = text::open(&f.path, spec.input.compression, &indicatif::ProgressBar::hidden())?;
            let mut line_no = 0;
            while let Some(line) = lines
                .next_line()
                .map_err(|e| text::read_error(&e, &f.path.display().to_string(), line_no))?
            {
                line_no += 1;
                let Ok(line) = std::str::from_utf8(line) else { continue };
                let mut fields: Vec<Option<&str>> = Vec::with_capacity(columns);
                let (n, line) = cutter.cut(line, &mut fields);
                if n != columns {
                    continue;
                }
                let mut values = Vec::new();
                if !transformer.row(line, &fields, &mut values, &mut hits) {
                    continue;
                }
                let texts: Vec<Option<String>> = values.iter().map(|v| v.as_str().map(|s| s.into_owned())).collect();
                let refs: Vec<Option<&str>> = texts.iter().map(|v| v.as_deref()).collect();
                if let Some(row) = filter.apply(&refs) {
                    if !sink.take(row)? {
                        return Ok(());
                    }
                }
            }
        }
    }
    Ok(())
}

/// The rows of one Parquet or ORC file through the spec; `false` once the sink is full.
fn columnar_file(
    spec: &Spec,
    path: &std::path::Path,
    transformer: &Transformer<'_>,
    filter: &Filter,
    sink: &mut Sink<'_>,
    hits: &mut LineHits,
) -> anyhow::Result<bool> {
    #[derive(Debug, thiserror::Error)]
    #[error("the sample is full")]
    struct Full;
    let program = spec.program.as_ref().context("spec has no compiled SQL")?;
    let mut rows = ColumnarRows::open(path, &spec.input, &spec.input.columns, program.used_columns())?;
    let r = rows.for_each(|fields, unwritable| {
        if unwritable.is_some() {
            return Ok(());
        }
        let mut values = Vec::new();
        if !transformer.row("", fields, &mut values, hits) {
            return Ok(());
        }
        let texts: Vec<Option<String>> = values.iter().map(|v| v.as_str().map(|s| s.into_owned())).collect();
        let refs: Vec<Option<&str>> = texts.iter().map(|v| v.as_deref()).collect();
        if let Some(row) = filter.apply(&refs) {
            if !sink.take(row)? {
                return Err(Full.into());
            }
        }
        Ok(())
    });
    match r {
        Ok(()) => Ok(true),
        Err(e) if e.is::<Full>() => Ok(false),
        Err(e) => Err(e),
    }
}

fn from_built(
    config: &Config,
    spec: &Spec,
    period: &Period,
    filter: &Filter,
    sink: &mut Sink<'_>,
) -> anyhow::Result<()> {
    let date = period.day();
    let work = config.work();
    let day = work.out_dir(&spec.name, date);
    let dirs: Vec<PathBuf> = match period.hour {
        Some(h) => vec![work.hour_dir(&spec.name, date, h)],
        None if is_complete(&day) => vec![day],
        None => (0..24).map(|h| work.hour_dir(&spec.name, date, h)).collect(),
    };
    let encoding = match spec.output.encoding {
        crate::spec::Encoding::Utf8 => encoding_rs::UTF_8,
        crate::spec::Encoding::Gbk => encoding_rs::GBK,
        crate::spec::Encoding::Gb18030 => encoding_rs::GB18030,
    };
    let delim = spec.output.delimiter.as_str();
    // A cell that is the spec's output NULL marker was NULL (with `null = ""`,
    // an empty string was written the same way, and reads back as NULL too).
    let null = spec.output.null.as_str();
    let mut any = false;
    for dir in dirs {
        let Ok(m) = Manifest::read(&dir) else { continue };
        any = true;
        for set in &m.sets {
            if let (Some(want), Some(split)) = (&filter.split, &set.split) {
                if &want.1 != split {
                    continue;
                }
            }
            for f in &set.files {
                let path = dir.join(&f.name);
                let file = std::fs::File::open(&path).with_context(|| format!("opening {}", path.display()))?;
                let mut r = io::BufReader::with_capacity(1 << 20, flate2::read::MultiGzDecoder::new(file));
                let mut raw = Vec::new();
                loop {
                    raw.clear();
                    if r.read_until(b'\n', &mut raw)
                        .with_context(|| format!("reading {}", path.display()))?
                        == 0
                    {
                        break;
                    }
                    if raw.last() == Some(&b'\n') {
                        raw.pop();
                    }
                    let (text, _, _) = encoding.decode(&raw);
                    let cells: Vec<Option<&str>> = text.split(delim).map(|c| (c != null).then_some(c)).collect();
                    if let Some(row) = filter.apply(&cells) {
                        if !sink.take(row)? {
                            return Ok(());
                        }
                    }
                }
            }
        }
    }
    if !any {
        return Err(Failure::NotReady(format!("{} {period} is not built", spec.name)).into());
    }
    Ok(())
}
