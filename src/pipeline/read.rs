//! The reader: input files, in order, cut into rows, through the spec, into
//! blocks for the compressors.

use anyhow::Context;
use crossbeam_channel::Sender;

use super::rejects::{Reject, RejectSink};
use super::write::ToWriter;
use super::HourJob;
use crate::exit::Failure;
use crate::manifest::Counts;
use crate::source::columnar::ColumnarRows;
use crate::source::local::InputFile;
use crate::source::text;
use crate::spec::{Format, Spec, Vars};
use crate::split::{Block, Emitted, FileStart, Splitter};
use crate::sql::Value;
use crate::transform::bytes::LineHits;
use crate::transform::encode::LineEncoder;
use crate::transform::{recycle, Transformer};

/// The reader: every input row of the hour, in order, through the spec.
pub(super) fn read_and_split(
    job: &HourJob<'_>,
    blocks: &Sender<Block>,
    writer: &Sender<ToWriter>,
) -> anyhow::Result<(Counts, Vec<Reject>, Splitter)> {
    let spec = job.spec;
    let transformer = Transformer::new(spec, job.program);
    let mut rows = RowWriter {
        job,
        split_col: spec
            .output
            .split_by
            .as_ref()
            .and_then(|c| transformer.output_names().iter().position(|n| n == c)),
        transformer: &transformer,
        longest_split: spec
            .output
            .file_name
            .longest_split(spec.output.seq_width, crate::verf::NAME)
            .unwrap_or(0),
        encoder: LineEncoder::new(spec.output.encoding, spec.output.unmappable),
        splitter: Splitter::new(spec.output.lines_per_file),
        counts: Counts::default(),
        rejects: RejectSink {
            path: job.rejects_path,
            out: None,
            first: Vec::new(),
        },
        hits: LineHits::default(),
        utf8_line: String::with_capacity(4096),
        starts: Vec::new(),
        emitted: Emitted::default(),
        blocks,
        writer,
    };
    let mut values_store: Vec<Value> = Vec::new();
    for input in job.inputs {
        match spec.input.format {
            Format::Text => read_text(&mut rows, input, &mut values_store)?,
            Format::Parquet | Format::Orc => {
                let mut file = ColumnarRows::open(&input.path, &spec.input, job.columns, job.program.used_columns())?;
                let mut row_no = 0;
                file.for_each(|fields, unwritable| {
                    if row_no % 1024 == 0 {
                        crate::signals::check()?;
                    }
                    row_no += 1;
                    rows.counts.rows_in += 1;
                    if let Some(why) = unwritable {
                        return rows.reject(&input.name, row_no, why, b"");
                    }
                    let mut values = recycle(std::mem::take(&mut values_store));
                    let r = rows.row("", fields, &mut values, input, row_no, b"");
                    values_store = recycle(values);
                    r
                })?;
                job.progress.inc(input.size);
            }
        }
    }
    for b in rows.splitter.finish() {
        blocks.send(b).map_err(|_| stopped())?;
    }
    let RowWriter {
        counts,
        rejects,
        splitter,
        ..
    } = rows;
    Ok((counts, rejects.finish()?, splitter))
}

/// Hive text: lines, checked for UTF-8 and field count, cut into fields.
fn read_text<'t>(
    rows: &mut RowWriter<'_, 't>,
    input: &InputFile,
    values_store: &mut Vec<Value<'t>>,
) -> anyhow::Result<()> {
    let spec = rows.job.spec;
    let columns = rows.job.columns.len();
    let mut lines = match rows.job.stream_from {
        Some((source, dir)) => {
            let raw = source.open(dir, &input.name)?;
            text::open_reader(
                raw,
                &source.describe(&format!("{dir}/{}", input.name)),
                spec.input.compression,
                rows.job.progress,
            )?
        }
        // A local file: the bytes listed at the start of the hour, not one more
        // (what was appended since is checked for once the hour is read).
        None => {
            let file = std::fs::File::open(&input.path).with_context(|| format!("opening {}", input.path.display()))?;
            text::open_reader(
                Box::new(std::io::Read::take(file, input.size)),
                &input.path.display().to_string(),
                spec.input.compression,
                rows.job.progress,
            )?
        }
    };
    let mut line_no = 0u64;
    let mut fields_store: Vec<Option<&str>> = Vec::new();
    let mut cutter = text::FieldCutter::new(&spec.input);
    let (count_nul, count_cr) = (!spec.clean.strip.contains(&'\0'), !spec.clean.strip.contains(&'\r'));
    loop {
        let line = match lines.next_line() {
            Ok(Some(l)) => l,
            Ok(None) => return Ok(()),
            Err(e) => return Err(text::read_error(&e, &input.path.display().to_string(), line_no)),
        };
        if line_no.is_multiple_of(1024) {
            crate::signals::check()?;
        }
        line_no += 1;
        rows.counts.rows_in += 1;
        let line = match line.strip_prefix(b"\xEF\xBB\xBF") {
            Some(rest) if line_no == 1 => {
                rows.counts.bom_stripped += 1;
                rest
            }
            _ => line,
        };
        let text_line = match std::str::from_utf8(line) {
            Ok(s) => s,
            Err(e) => {
                rows.reject(
                    &input.name,
                    line_no,
                    text::utf8_error(line, &e, spec.input.delimiter),
                    line,
                )?;
                continue;
            }
        };
        let mut fields = recycle(std::mem::take(&mut fields_store));
        let (n, text_line) = cutter.cut(text_line, &mut fields);
        if n != columns {
            rows.reject(&input.name, line_no, text::field_count_error(n, columns), line)?;
        } else {
            // NUL and CR passing into a row that goes on (a rejected one is in the
            // rejects already; `[clean] strip` may take them out).
            if (count_nul || count_cr) && memchr::memchr2(0, b'\r', line).is_some() {
                rows.counts.rows_with_nul += u64::from(count_nul && memchr::memchr(0, line).is_some());
                rows.counts.rows_with_cr += u64::from(count_cr && memchr::memchr(b'\r', line).is_some());
            }
            let mut values = recycle(std::mem::take(values_store));
            rows.row(text_line, &fields, &mut values, input, line_no, line)?;
            *values_store = recycle(values);
        }
        fields_store = recycle(fields);
    }
}

/// Everything that happens to a row once it is cut into fields.
struct RowWriter<'j, 't> {
    job: &'j HourJob<'j>,
    transformer: &'t Transformer<'t>,
    split_col: Option<usize>,
    /// The longest split value whose file names fit the `.verf`'s name column.
    longest_split: usize,
    encoder: LineEncoder,
    splitter: Splitter,
    counts: Counts,
    rejects: RejectSink<'j>,
    hits: LineHits,
    utf8_line: String,
    starts: Vec<usize>,
    emitted: Emitted,
    blocks: &'j Sender<Block>,
    writer: &'j Sender<ToWriter>,
}

impl<'t> RowWriter<'_, 't> {
    fn reject(&mut self, file: &str, line: u64, why: String, raw: &[u8]) -> anyhow::Result<()> {
        self.counts.rejected += 1;
        self.rejects.push(file, line, why, raw)
    }

    /// Evaluates, cleans, encodes and files one row. `line` is the text the
    /// fields were cut from ("" when they were not cut from a line).
    fn row<'a>(
        &mut self,
        line: &str,
        fields: &[Option<&'a str>],
        values: &mut Vec<Value<'a>>,
        input: &InputFile,
        row_no: u64,
        raw: &[u8],
    ) -> anyhow::Result<()>
    where
        't: 'a,
    {
        let spec = self.job.spec;
        if !self.transformer.row(line, fields, values, &mut self.hits) {
            self.counts.filtered += 1;
            return Ok(());
        }
        let names = self.transformer.output_names();
        let key = match self.split_col {
            None => None,
            Some(i) => match split_key(&values[i], &names[i]) {
                Ok(k) if k.len() > self.longest_split => {
                    let why = format!(
                        "split_by column {} is `{k}`: a file name with it would be longer than the .verf's {}-character column",
                        names[i],
                        crate::verf::NAME
                    );
                    return self.reject(&input.name, row_no, why, raw);
                }
                Ok(k) => Some(k),
                Err(why) => return self.reject(&input.name, row_no, why, raw),
            },
        };
        // The line in UTF-8, then encoded straight into its set's block.
        self.utf8_line.clear();
        self.starts.clear();
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                self.utf8_line.push_str(&spec.output.delimiter);
            }
            self.starts.push(self.utf8_line.len());
            match v.as_str() {
                Some(s) => self.utf8_line.push_str(&s),
                None => self.utf8_line.push_str(&spec.output.null),
            }
        }
        let set = self.splitter.set_of(key.as_deref());
        let mut replaced = Ok(0);
        let (encoder, utf8_line) = (&mut self.encoder, &self.utf8_line);
        self.splitter.push(
            set,
            |buf| {
                replaced = encoder.encode(utf8_line, buf);
                buf.push(b'\n');
            },
            &mut self.emitted,
        );
        match replaced {
            Ok(0) => {}
            Ok(n) => {
                self.counts.replaced_rows += 1;
                self.counts.replaced_chars += n;
            }
            Err(u) => {
                let col = self.starts.iter().rposition(|s| *s <= u.at).unwrap_or(0);
                return Err(Failure::BadInput(format!(
                    "{}:{row_no}: column {}: character '{}' (U+{:04X}) cannot be encoded in {} (unmappable = \"fail\")",
                    input.path.display(),
                    names[col],
                    u.ch,
                    u.ch as u32,
                    encoding_name(spec),
                ))
                .into());
            }
        }
        self.counts.rows_out += 1;
        if self.counts.rows_out.is_multiple_of(65_536) {
            self.job
                .progress
                .set_message(format!("{} rows out", self.counts.rows_out));
        }
        if let Some((set, seq, file)) = self.emitted.started.take() {
            let name = file_name(self.job, self.splitter.keys()[set].as_deref(), seq)?;
            self.writer
                .send(ToWriter::Start(FileStart { file, name }))
                .map_err(|_| stopped())?;
        }
        for b in self.emitted.blocks.drain(..) {
            self.blocks.send(b).map_err(|_| stopped())?;
        }
        Ok(())
    }
}

/// The reader could not hand on work because a later stage had stopped.
#[derive(Debug, thiserror::Error)]
#[error("the compressors or the writer stopped")]
pub(super) struct Stopped;

fn stopped() -> anyhow::Error {
    Stopped.into()
}

fn encoding_name(spec: &Spec) -> &'static str {
    match spec.output.encoding {
        crate::spec::Encoding::Utf8 => "utf-8",
        crate::spec::Encoding::Gbk => "gbk",
        crate::spec::Encoding::Gb18030 => "gb18030",
    }
}

/// A split value must be usable inside a file name.
fn split_key(v: &Value<'_>, column: &str) -> Result<String, String> {
    let Some(s) = v.as_str() else {
        return Err(format!("split_by column {column} is NULL"));
    };
    if s.is_empty() {
        return Err(format!("split_by column {column} is empty"));
    }
    if !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') || s.len() > 32 {
        return Err(format!(
            "split_by column {column} is `{s}`, which cannot be part of a file name"
        ));
    }
    Ok(s.into_owned())
}

/// Renders a data file's name; a sequence past `seq_width` or a name longer
/// than the `.verf` column stops the build.
fn file_name(job: &HourJob<'_>, split: Option<&str>, seq: u64) -> anyhow::Result<String> {
    let hour = crate::period::hh(job.hour);
    let vars = Vars {
        date: Some(job.date),
        hour: Some(&hour),
        split,
        batch: Some(job.batch),
        seq: Some(seq),
        seq_width: job.spec.output.seq_width,
    };
    let name = job.spec.output.file_name.render(&vars).map_err(Failure::BadInput)?;
    if name.len() > crate::verf::NAME {
        return Err(Failure::Usage(format!(
            "file name {name} is longer than the .verf's {}-character column",
            crate::verf::NAME
        ))
        .into());
    }
    Ok(name)
}
