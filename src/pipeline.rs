//! One hour, one pass: read -> transform -> encode -> split -> compress -> write.
//!
//! Threads: this one reads, transforms, encodes and cuts blocks; `workers`
//! compressors deflate blocks; one writer puts each file's blocks in order,
//! hashes them and renames each finished file into place. Channels are
//! bounded, so memory stays bounded whatever the input size. Workers return
//! errors instead of panicking; the first error stops the hour.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{anyhow, Context};
use crossbeam_channel::{bounded, Receiver, Sender};
use md5::{Digest, Md5};

use crate::compress::{Deflated, Deflater, Member};
use crate::exit::Failure;
use crate::manifest::{Counts, FileEntry};
use crate::source::local::InputFile;
use crate::source::parquet::ParquetRows;
use crate::source::text::{self, Lines};
use crate::spec::{Format, Spec, Vars};
use crate::split::{Block, Emitted, FileStart, Splitter};
use crate::sql::{Program, Value};
use crate::transform::bytes::LineHits;
use crate::transform::encode::LineEncoder;
use crate::transform::{recycle, Transformer};

/// What to build and where.
pub struct HourJob<'a> {
    pub spec: &'a Spec,
    pub program: &'a Program,
    /// `YYYYMMDD`.
    pub date: &'a str,
    pub hour: u8,
    pub batch: &'a str,
    pub inputs: &'a [InputFile],
    /// Where the data files go; `None` computes everything and writes nothing (dry run).
    pub out_dir: Option<&'a Path>,
    /// Compressor threads.
    pub workers: usize,
    /// Fixed `.verf` file time (`SOURCE_DATE_EPOCH`), else the time each file completes.
    pub fixed_time: Option<String>,
    /// Where rejected lines go (`rejects/<iface>/<date>/<HH>.rej.gz`); `None` in a dry run.
    pub rejects_path: Option<&'a Path>,
    /// The input's columns: the spec's, or a Parquet schema's when the spec names none.
    pub columns: &'a [String],
    /// Advanced by input bytes read; its message counts rows. Hidden off a terminal.
    pub progress: &'a indicatif::ProgressBar,
    /// Stream the inputs from this source and directory instead of local
    /// paths (`build --no-stage`); text input only.
    pub stream_from: Option<(&'a dyn crate::source::Source, &'a str)>,
}

/// One rejected input line, as kept for messages.
pub struct Reject {
    pub file: String,
    pub line: u64,
    pub reason: String,
}

/// Rejected lines, streamed to a gzip file as `file<TAB>line<TAB>reason<TAB>raw line`,
/// written under a temporary name and renamed when the hour ends.
struct RejectSink<'a> {
    path: Option<&'a Path>,
    out: Option<flate2::write::GzEncoder<BufWriter<File>>>,
    /// The first few, for messages.
    first: Vec<Reject>,
}

impl RejectSink<'_> {
    fn part(&self) -> Option<PathBuf> {
        let p = self.path?;
        Some(p.with_file_name(format!(".{}.part", p.file_name()?.to_string_lossy())))
    }

    fn push(&mut self, file: &str, line: u64, reason: String, raw: &[u8]) -> anyhow::Result<()> {
        if self.out.is_none() {
            if let Some(part) = self.part() {
                std::fs::create_dir_all(part.parent().expect("rejects dir"))?;
                let f = File::create(&part).with_context(|| format!("creating {}", part.display()))?;
                self.out = Some(flate2::write::GzEncoder::new(
                    BufWriter::new(f),
                    flate2::Compression::new(6),
                ));
            }
        }
        if let Some(out) = &mut self.out {
            write!(out, "{file}\t{line}\t{reason}\t")?;
            out.write_all(raw)?;
            out.write_all(b"\n")?;
        }
        if self.first.len() < 5 {
            self.first.push(Reject {
                file: file.to_string(),
                line,
                reason,
            });
        }
        Ok(())
    }

    /// Finishes the rejects file; with no reject, removes an older one of the same hour.
    fn finish(self) -> anyhow::Result<Vec<Reject>> {
        let part = self.part();
        match (self.out, part, self.path) {
            (Some(out), Some(part), Some(path)) => {
                let f = out.finish().with_context(|| format!("writing {}", part.display()))?;
                f.into_inner()
                    .map_err(|e| e.into_error())
                    .and_then(|f| f.sync_all())
                    .with_context(|| format!("writing {}", part.display()))?;
                std::fs::rename(&part, path).with_context(|| format!("renaming {}", part.display()))?;
            }
            (None, _, Some(path)) if path.exists() => {
                std::fs::remove_file(path).with_context(|| format!("removing stale {}", path.display()))?;
            }
            _ => {}
        }
        Ok(self.first)
    }
}

/// A set as built: its split value and its files in sequence order.
pub struct BuiltSet {
    pub split: Option<String>,
    pub rows: u64,
    pub files: Vec<FileEntry>,
}

pub struct HourOutput {
    pub counts: Counts,
    pub sets: Vec<BuiltSet>,
    pub rejects: Vec<Reject>,
    pub seconds: f64,
}

/// A finished file, from the writer.
struct Done {
    file: u32,
    entry: FileEntry,
}

/// A compressed block on its way to the writer.
struct Compressed {
    file: u32,
    idx: u32,
    last: bool,
    rows: u64,
    block: Deflated,
}

/// Messages to the writer: names come from the reader, blocks from the compressors.
enum ToWriter {
    Start(FileStart),
    Block(Compressed),
}

/// Builds one hour into `job.out_dir` (files under their final names there,
/// each written under a temporary name first). Returns what was built; the
/// caller writes `.verf`, manifest and rejects.
pub fn build_hour(job: &HourJob<'_>) -> anyhow::Result<HourOutput> {
    let started = Instant::now();
    let workers = job.workers.max(1);
    let (block_tx, block_rx) = bounded::<Block>(workers * 2);
    let (write_tx, write_rx) = bounded::<ToWriter>(workers * 4);

    let result = std::thread::scope(|scope| -> anyhow::Result<(Counts, Vec<Reject>, Splitter, Vec<Done>)> {
        let mut compressors = Vec::new();
        for _ in 0..workers {
            let rx = block_rx.clone();
            let tx = write_tx.clone();
            let level = job.spec.output.gzip_level;
            compressors.push(scope.spawn(move || compress_loop(rx, tx, level)));
        }
        drop(block_rx);
        let writer_rx = write_rx;
        let writer = scope.spawn(move || write_loop(writer_rx, job.out_dir, job.fixed_time.as_deref()));

        let read = read_and_split(job, &block_tx, &write_tx);
        drop(block_tx);
        drop(write_tx);
        let mut downstream: Option<anyhow::Error> = None;
        for c in compressors {
            let r = c.join().map_err(|_| anyhow!("a compressor thread panicked"))?;
            if let (Err(e), None) = (r, &downstream) {
                downstream = Some(e);
            }
        }
        let written = writer.join().map_err(|_| anyhow!("the writer thread panicked"))?;
        if let (Err(e), None) = (&written, &downstream) {
            downstream = Some(anyhow!("{e:#}"));
        }
        // When the reader stopped because a compressor or the writer did, their
        // error is the cause; otherwise the reader's own error explains the rest.
        match read {
            Err(e) if e.downcast_ref::<Stopped>().is_some() => Err(downstream.unwrap_or(e)),
            Err(e) => Err(e),
            Ok(_) if downstream.is_some() => Err(downstream.expect("checked")),
            Ok((counts, rejects, splitter)) => Ok((counts, rejects, splitter, written?)),
        }
    });
    let (counts, rejects, splitter, done) = match result {
        Ok(r) => r,
        Err(e) => {
            if let Some(dir) = job.out_dir {
                remove_parts(dir);
            }
            return Err(e);
        }
    };

    let mut by_file: HashMap<u32, FileEntry> = done.into_iter().map(|d| (d.file, d.entry)).collect();
    let mut sets = Vec::new();
    for (i, key) in splitter.keys().iter().enumerate() {
        let files = splitter
            .files_of(i)
            .iter()
            .map(|f| by_file.remove(f).expect("every started file is finished"))
            .collect();
        sets.push(BuiltSet {
            split: key.clone(),
            rows: splitter.rows(i),
            files,
        });
    }
    sets.sort_by(|a, b| a.split.cmp(&b.split));
    Ok(HourOutput {
        counts,
        sets,
        rejects,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Removes the `.part` files a failed hour left in its (temporary) directory.
fn remove_parts(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') && name.ends_with(".part") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

fn compress_loop(rx: Receiver<Block>, tx: Sender<ToWriter>, level: u32) -> anyhow::Result<()> {
    let mut deflater = Deflater::new(level);
    for b in rx {
        let block = deflater
            .block(&b.data, b.prev.as_deref().map(Vec::as_slice), b.last)
            .context("compressing")?;
        let msg = ToWriter::Block(Compressed {
            file: b.file,
            idx: b.idx,
            last: b.last,
            rows: b.rows,
            block,
        });
        if tx.send(msg).is_err() {
            break; // the writer failed; its error is reported
        }
    }
    Ok(())
}

/// Bytes to the file (if any) and through MD5.
struct Hashing {
    file: Option<BufWriter<File>>,
    md5: Md5,
}

impl Write for Hashing {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.md5.update(buf);
        if let Some(f) = &mut self.file {
            f.write_all(buf)?;
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        match &mut self.file {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

struct Open {
    name: String,
    part: Option<PathBuf>,
    member: Option<Member<Hashing>>,
    next: u32,
    pending: BTreeMap<u32, Compressed>,
}

fn write_loop(rx: Receiver<ToWriter>, dir: Option<&Path>, fixed_time: Option<&str>) -> anyhow::Result<Vec<Done>> {
    let mut open: HashMap<u32, Open> = HashMap::new();
    let mut early: HashMap<u32, Vec<Compressed>> = HashMap::new();
    let mut done = Vec::new();
    for msg in rx {
        let file = match msg {
            ToWriter::Start(s) => {
                let part = dir.map(|d| d.join(format!(".{}.part", s.name)));
                let f = match &part {
                    Some(p) => Some(BufWriter::with_capacity(
                        1 << 20,
                        File::create(p).with_context(|| format!("creating {}", p.display()))?,
                    )),
                    None => None,
                };
                let member = Member::start(Hashing {
                    file: f,
                    md5: Md5::new(),
                })
                .context("writing")?;
                let mut o = Open {
                    name: s.name,
                    part,
                    member: Some(member),
                    next: 0,
                    pending: BTreeMap::new(),
                };
                for c in early.remove(&s.file).unwrap_or_default() {
                    o.pending.insert(c.idx, c);
                }
                open.insert(s.file, o);
                s.file
            }
            ToWriter::Block(c) => {
                let f = c.file;
                match open.get_mut(&f) {
                    Some(o) => {
                        o.pending.insert(c.idx, c);
                    }
                    None => early.entry(f).or_default().push(c),
                }
                f
            }
        };
        let Some(o) = open.get_mut(&file) else { continue };
        while let Some(c) = o.pending.remove(&o.next) {
            let member = o.member.as_mut().expect("member open until its last block");
            member.push(&c.block).with_context(|| format!("writing {}", o.name))?;
            o.next += 1;
            if c.last {
                let (hashing, bytes) = o
                    .member
                    .take()
                    .expect("open")
                    .finish()
                    .with_context(|| format!("writing {}", o.name))?;
                if let (Some(mut f), Some(part), Some(d)) = (hashing.file, o.part.as_ref(), dir) {
                    f.flush().with_context(|| format!("writing {}", part.display()))?;
                    f.get_ref()
                        .sync_all()
                        .with_context(|| format!("syncing {}", part.display()))?;
                    let dest = d.join(&o.name);
                    std::fs::rename(part, &dest)
                        .with_context(|| format!("renaming {} to {}", part.display(), dest.display()))?;
                }
                let md5 = hashing.md5.finalize().iter().map(|b| format!("{b:02x}")).collect();
                let time = fixed_time
                    .map(str::to_string)
                    .unwrap_or_else(|| chrono::Local::now().format("%Y%m%d%H%M%S").to_string());
                done.push(Done {
                    file,
                    entry: FileEntry {
                        name: o.name.clone(),
                        rows: c.rows,
                        bytes,
                        md5,
                        time,
                    },
                });
                open.remove(&file);
                break;
            }
        }
    }
    Ok(done)
}

/// The reader: every input row of the hour, in order, through the spec.
fn read_and_split(
    job: &HourJob<'_>,
    blocks: &Sender<Block>,
    writer: &Sender<ToWriter>,
) -> anyhow::Result<(Counts, Vec<Reject>, Splitter)> {
    let spec = job.spec;
    let transformer = Transformer::new(spec, job.program);
    let mut rows = RowWriter {
        job,
        split_col: spec.output.split_by.as_ref().map(|c| {
            transformer
                .output_names()
                .iter()
                .position(|n| n == c)
                .expect("validated split_by")
        }),
        transformer: &transformer,
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
            Format::Parquet => {
                let mut file = ParquetRows::open(&input.path, job.columns, job.program.used_columns())?;
                let mut row_no = 0;
                file.for_each(|fields| {
                    row_no += 1;
                    rows.counts.rows_in += 1;
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
    let reader = match rows.job.stream_from {
        Some((source, dir)) => {
            let raw = source.open(dir, &input.name)?;
            text::open_reader(
                raw,
                &source.describe(&format!("{dir}/{}", input.name)),
                spec.input.compression,
                rows.job.progress,
            )?
        }
        None => text::open(&input.path, spec.input.compression, rows.job.progress)?,
    };
    let mut lines = Lines::new(reader);
    let mut line_no = 0u64;
    let mut fields_store: Vec<Option<&str>> = Vec::new();
    loop {
        let line = match lines.next_line() {
            Ok(Some(l)) => l,
            Ok(None) => return Ok(()),
            Err(e) => {
                return Err(Failure::BadInput(format!("{}: after line {line_no}: {e}", input.path.display())).into())
            }
        };
        line_no += 1;
        rows.counts.rows_in += 1;
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
        let n = text::split_fields(text_line, spec.input.delimiter, &spec.input.null, &mut fields);
        if n != columns {
            rows.reject(&input.name, line_no, text::field_count_error(n, columns), line)?;
        } else {
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
        if self.counts.rows_out % 65_536 == 0 {
            self.job
                .progress
                .set_message(format!("{} rows out", self.counts.rows_out));
        }
        if let Some((set, seq, file)) = self.emitted.started.take() {
            let name = file_name(self.job, self.splitter.keys()[set].as_deref(), seq)?;
            self.writer
                .send(ToWriter::Start(FileStart { file, set, seq, name }))
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
struct Stopped;

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
    let hour = format!("{:02}", job.hour);
    let vars = Vars {
        date: job.date,
        hour: Some(&hour),
        split,
        batch: Some(job.batch),
        seq: Some(seq),
        seq_width: job.spec.output.seq_width,
    };
    let name = job.spec.output.file_name.render(&vars).map_err(Failure::BadInput)?;
    if name.len() > 48 {
        return Err(Failure::Usage(format!(
            "file name {name} is longer than the .verf's 48-character column"
        ))
        .into());
    }
    Ok(name)
}
