//! Hive delimited text: open (plain, or any codec Hadoop writes: see
//! [`codec`](super::codec)), cut into lines, cut lines into fields.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use anyhow::Context;

use super::codec::{self, Codec};
use crate::exit::Failure;
use crate::spec::Compression;

/// Opens an input file as lines of its decompressed text; `progress`
/// advances by the bytes read from the file itself (compressed or not).
pub fn open(path: &Path, compression: Compression, progress: &indicatif::ProgressBar) -> anyhow::Result<InputLines> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    open_reader(Box::new(file), &path.display().to_string(), compression, progress)
}

/// The lines of an input stream, whatever its kind.
pub type InputLines = Lines<Box<dyn Chunks + Send>>;

/// Like [`open`], for a stream from any source (`what` names it in errors).
pub fn open_reader(
    raw: Box<dyn Read + Send>,
    what: &str,
    compression: Compression,
    progress: &indicatif::ProgressBar,
) -> anyhow::Result<InputLines> {
    let mut file = progress.wrap_read(raw);
    let mut magic = [0u8; codec::MAGIC_LEN];
    let n = read_up_to(&mut file, &mut magic).with_context(|| format!("reading {what}"))?;
    let codec =
        codec::detect(&magic[..n], what, compression).map_err(|why| Failure::BadInput(format!("{what}: {why}")))?;
    let head = io::Cursor::new(magic[..n].to_vec());
    let stream: Box<dyn Read + Send> = Box::new(head.chain(file));
    let chunks: Box<dyn Chunks + Send> = match codec {
        Codec::Plain => Box::new(ReadChunks(stream, None)),
        _ => Box::new(Prefetch::spawn(codec::decoder(codec, stream, what))),
    };
    Ok(Lines::new(chunks))
}

/// Bytes of a stream, a chunk at a time, in buffers that are handed back
/// for reuse (no copy, no new allocation per chunk).
pub trait Chunks {
    /// The next chunk; empty at the end. `used` is a buffer done with.
    fn next_chunk(&mut self, used: Vec<u8>) -> io::Result<Vec<u8>>;
}

impl<C: Chunks + ?Sized> Chunks for Box<C> {
    fn next_chunk(&mut self, used: Vec<u8>) -> io::Result<Vec<u8>> {
        (**self).next_chunk(used)
    }
}

/// Chunk size: large enough that per-chunk work is negligible.
const CHUNK: usize = 1 << 20;

/// Fills `buf` (resized to [`CHUNK`]) from `inner` as far as it goes; returns it cut to the bytes read,
/// and the error that stopped it, if any (the bytes before an error still count).
fn fill_chunk(inner: &mut impl Read, mut buf: Vec<u8>) -> (Vec<u8>, Option<io::Error>) {
    // Only bytes past the buffer's old length are zeroed: a reused full chunk costs nothing.
    buf.resize(CHUNK, 0);
    let mut n = 0;
    let mut err = None;
    while n < buf.len() {
        match inner.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                err = Some(e);
                break;
            }
        }
    }
    buf.truncate(n);
    (buf, err)
}

/// Chunks read on the caller's thread.
pub struct ReadChunks<R>(pub R, pub Option<io::Error>);

impl<R: Read> Chunks for ReadChunks<R> {
    fn next_chunk(&mut self, used: Vec<u8>) -> io::Result<Vec<u8>> {
        if let Some(e) = self.1.take() {
            return Err(e);
        }
        let (chunk, err) = fill_chunk(&mut self.0, used);
        match err {
            Some(e) if chunk.is_empty() => Err(e),
            e => {
                self.1 = e;
                Ok(chunk)
            }
        }
    }
}

/// Reads a stream ahead on its own thread (gzip inflation runs beside the
/// transform instead of before it). Memory: a few 1 MiB chunks in flight,
/// their buffers returned for reuse. If the consumer goes away, the thread
/// stops at its next send.
pub struct Prefetch {
    rx: std::sync::mpsc::Receiver<io::Result<Vec<u8>>>,
    recycle: std::sync::mpsc::Sender<Vec<u8>>,
    done: bool,
}

impl Prefetch {
    pub fn spawn<R: Read + Send + 'static>(mut inner: R) -> Prefetch {
        let (tx, rx) = std::sync::mpsc::sync_channel(4);
        let (recycle, reuse) = std::sync::mpsc::channel::<Vec<u8>>();
        std::thread::spawn(move || loop {
            let buf = reuse.try_recv().unwrap_or_default();
            let (chunk, err) = fill_chunk(&mut inner, buf);
            let end = chunk.is_empty();
            if !end && tx.send(Ok(chunk)).is_err() {
                return;
            }
            if let Some(e) = err {
                let _ = tx.send(Err(e));
                return;
            }
            if end {
                let _ = tx.send(Ok(Vec::new()));
                return;
            }
        });
        Prefetch {
            rx,
            recycle,
            done: false,
        }
    }
}

impl Chunks for Prefetch {
    fn next_chunk(&mut self, used: Vec<u8>) -> io::Result<Vec<u8>> {
        if self.done {
            return Ok(Vec::new());
        }
        if used.capacity() > 0 {
            // The thread may have ended; then the buffer is simply dropped.
            let _ = self.recycle.send(used);
        }
        match self.rx.recv() {
            Ok(Ok(c)) => {
                self.done = c.is_empty();
                Ok(c)
            }
            Ok(Err(e)) => {
                self.done = true;
                Err(e)
            }
            Err(_) => Err(io::Error::other("the reading thread stopped")),
        }
    }
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Lines of a stream, without their `\n`. A line is handed out where it lies
/// in its chunk; only a line that spans two chunks is copied (into `carry`).
pub struct Lines<C> {
    src: C,
    chunk: Vec<u8>,
    pos: usize,
    /// The start of a line the last chunk ended inside.
    carry: Vec<u8>,
    /// `carry` was the last line handed out.
    carried: bool,
    eof: bool,
}

impl<C: Chunks> Lines<C> {
    pub fn new(src: C) -> Lines<C> {
        Lines {
            src,
            chunk: Vec::new(),
            pos: 0,
            carry: Vec::new(),
            carried: false,
            eof: false,
        }
    }

    /// The next line; a last line without `\n` is still a line.
    pub fn next_line(&mut self) -> io::Result<Option<&[u8]>> {
        if self.carried {
            self.carry.clear();
            self.carried = false;
        }
        loop {
            let start = self.pos;
            if let Some(i) = memchr::memchr(b'\n', &self.chunk[start..]) {
                self.pos = start + i + 1;
                if self.carry.is_empty() {
                    return Ok(Some(&self.chunk[start..start + i]));
                }
                self.carry.extend_from_slice(&self.chunk[start..start + i]);
                self.carried = true;
                return Ok(Some(&self.carry));
            }
            if self.eof {
                if self.carry.is_empty() {
                    return Ok(None);
                }
                self.carried = true;
                return Ok(Some(&self.carry));
            }
            self.carry.extend_from_slice(&self.chunk[start..]);
            let used = std::mem::take(&mut self.chunk);
            self.chunk = self.src.next_chunk(used)?;
            self.pos = 0;
            self.eof = self.chunk.is_empty();
        }
    }
}

/// Cuts `line` at `delim`, NULL where a field equals the `null` marker.
/// Returns the number of fields found (which may differ from what is expected).
///
/// Fields are short and delimiters dense (51 fields in ~700 bytes), where
/// restarting `memchr` at every field costs more than it saves; this scans
/// 8 bytes at a time with the exact zero-byte test on `word ^ delim`.
pub fn split_fields<'a>(line: &'a str, delim: u8, null: &str, out: &mut Vec<Option<&'a str>>) -> usize {
    const LO7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    out.clear();
    let bytes = line.as_bytes();
    let null = null.as_bytes();
    let mut push = |s: &'a str| {
        out.push(if s.len() == null.len() && s.as_bytes() == null {
            None
        } else {
            Some(s)
        })
    };
    let splat = u64::from_ne_bytes([delim; 8]);
    let mut start = 0;
    let mut i = 0;
    while i + 8 <= bytes.len() {
        let word = u64::from_le_bytes(bytes[i..i + 8].try_into().expect("8 bytes")) ^ splat;
        // 0x80 in every byte of `word` that is zero, i.e. equal to `delim`.
        let mut hits = !(((word & LO7) + LO7) | word | LO7);
        while hits != 0 {
            let j = i + (hits.trailing_zeros() / 8) as usize;
            push(&line[start..j]);
            start = j + 1;
            hits &= hits - 1;
        }
        i += 8;
    }
    for (j, b) in bytes.iter().enumerate().skip(i) {
        if *b == delim {
            push(&line[start..j]);
            start = j + 1;
        }
    }
    push(&line[start..]);
    out.len()
}

/// Cuts lines into fields as the spec's `[input]` says: the delimiter, the
/// NULL marker, and Hive's `ESCAPED BY` when the spec names an `escape`.
pub struct FieldCutter {
    delim: u8,
    null: String,
    escape: Option<u8>,
    /// The unescaped line, fields separated by `delim`.
    buf: String,
    spans: Vec<Option<(usize, usize)>>,
}

impl FieldCutter {
    pub fn new(input: &crate::spec::Input) -> FieldCutter {
        FieldCutter {
            delim: input.delimiter,
            null: input.null.clone(),
            escape: input.escape,
            buf: String::new(),
            spans: Vec::new(),
        }
    }

    /// Cuts `line` into `out`; returns the number of fields and the text they
    /// were cut from (the line itself, or the line unescaped).
    pub fn cut<'a>(&'a mut self, line: &'a str, out: &mut Vec<Option<&'a str>>) -> (usize, &'a str) {
        let Some(esc) = self.escape else {
            return (split_fields(line, self.delim, &self.null, out), line);
        };
        if memchr::memchr(esc, line.as_bytes()).is_none() {
            return (split_fields(line, self.delim, &self.null, out), line);
        }
        unescape_fields(line, self.delim, esc, &self.null, &mut self.buf, &mut self.spans);
        out.clear();
        out.extend(self.spans.iter().map(|s| s.map(|(a, b)| &self.buf[a..b])));
        (out.len(), &self.buf)
    }
}

/// Hive's `LazySimpleSerDe` with an escape character: a delimiter after the
/// escape is data; `\n` and `\r` are a newline and a carriage return, any
/// other escaped byte is itself. NULL is the marker as written (so the text
/// `\N`, written escaped, is not NULL); inside a field the marker stays as
/// it is (a NULL item of an array or a map). Fields go into `buf`, separated by
/// `delim`; `spans` gets each field's range, `None` for NULL.
fn unescape_fields(
    line: &str,
    delim: u8,
    esc: u8,
    null: &str,
    buf: &mut String,
    spans: &mut Vec<Option<(usize, usize)>>,
) {
    let bytes = line.as_bytes();
    let mut out = std::mem::take(buf).into_bytes();
    out.clear();
    spans.clear();
    let mut raw_start = 0;
    let mut start = 0;
    let mut i = 0;
    loop {
        let end_of_field = i == bytes.len() || bytes[i] == delim;
        if end_of_field {
            let raw = &bytes[raw_start..i];
            spans.push((raw != null.as_bytes()).then_some((start, out.len())));
            if i == bytes.len() {
                break;
            }
            out.push(delim);
            i += 1;
            raw_start = i;
            start = out.len();
            continue;
        }
        let b = bytes[i];
        if b == esc && null.as_bytes().first() == Some(&esc) && bytes[i..].starts_with(null.as_bytes()) {
            // A NULL inside a collection (`a\002\N`) stays the marker, as Hive writes it.
            out.extend_from_slice(null.as_bytes());
            i += null.len();
        } else if b == esc && i + 1 < bytes.len() {
            out.push(match bytes[i + 1] {
                b'n' => b'\n',
                b'r' => b'\r',
                other => other,
            });
            i += 2;
        } else {
            out.push(b);
            i += 1;
        }
    }
    // Only ASCII bytes were removed or replaced by ASCII: still UTF-8.
    *buf = String::from_utf8(out).expect("unescaping keeps UTF-8");
}

/// Why a line is not valid UTF-8, naming the field (1-based) and the byte.
pub fn utf8_error(line: &[u8], e: &std::str::Utf8Error, delim: u8) -> String {
    let at = e.valid_up_to();
    let field = memchr::memchr_iter(delim, &line[..at]).count() + 1;
    format!("invalid UTF-8 in field {field} at byte {at}")
}

/// A text input that cannot be read to its end: corrupt compressed data is
/// bad input (exit 4, naming the codec and where); a failed read is not.
pub fn read_error(e: &std::io::Error, path: &str, lines: u64) -> anyhow::Error {
    let whole = match lines {
        0 => "before its first line".to_string(),
        n => format!("after {n} whole line(s)"),
    };
    match codec::codec_error(e) {
        Some(c) => Failure::BadInput(format!("{} ({whole})", c.message)).into(),
        None if e.kind() == std::io::ErrorKind::InvalidData => {
            Failure::BadInput(format!("{path}: {e} ({whole})")).into()
        }
        None => anyhow::anyhow!("reading {path} ({whole}): {e}"),
    }
}

/// Why a line has the wrong shape.
pub fn field_count_error(found: usize, expected: usize) -> String {
    let s = if found == 1 { "" } else { "s" };
    format!("{found} field{s}, expected {expected}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_across_buffer_refills_and_without_final_newline() {
        let long = "x".repeat(3 << 20);
        let text = format!("a\n{long}\nb");
        let mut lines = Lines::new(ReadChunks(text.as_bytes(), None));
        assert_eq!(lines.next_line().unwrap(), Some(&b"a"[..]));
        assert_eq!(lines.next_line().unwrap().map(<[u8]>::len), Some(3 << 20));
        assert_eq!(lines.next_line().unwrap(), Some(&b"b"[..]));
        assert_eq!(lines.next_line().unwrap(), None);
    }

    #[test]
    fn swar_split_agrees_with_str_split() {
        let mut out = Vec::new();
        for line in [
            "",
            "\u{1}",
            "a",
            "abcdefgh\u{1}",
            "\u{1}\u{1}\u{1}\u{1}\u{1}\u{1}\u{1}\u{1}\u{1}x",
            "中文标题\u{1}\u{81}\u{1}ab\u{1}cdefghijklmnop\u{1}q",
        ] {
            split_fields(line, 1, "\\N", &mut out);
            let want: Vec<Option<&str>> = line.split('\u{1}').map(Some).collect();
            assert_eq!(out, want, "{line:?}");
        }
    }

    fn all_chunks(mut c: impl Chunks) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut used = Vec::new();
        loop {
            let chunk = c.next_chunk(used)?;
            if chunk.is_empty() {
                return Ok(out);
            }
            out.extend_from_slice(&chunk);
            used = chunk;
        }
    }

    #[test]
    fn prefetch_passes_bytes_and_errors_through() {
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        assert_eq!(
            all_chunks(Prefetch::spawn(io::Cursor::new(data.clone()))).unwrap(),
            data
        );
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::InvalidData, "corrupt deflate stream"))
            }
        }
        let err = all_chunks(Prefetch::spawn(Broken)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn lines_split_anywhere_across_chunks_are_whole() {
        // Chunks of every small size, so a line (and its \n) falls across
        // chunk boundaries at every offset.
        struct Tiny<'a>(&'a [u8], usize);
        impl Chunks for Tiny<'_> {
            fn next_chunk(&mut self, mut used: Vec<u8>) -> io::Result<Vec<u8>> {
                let n = self.1.min(self.0.len());
                used.clear();
                used.extend_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(used)
            }
        }
        let text = "ab\n\ncdef\nghi\n中文\nj";
        let want: Vec<&str> = text.split('\n').collect();
        for size in 1..=text.len() {
            let mut lines = Lines::new(Tiny(text.as_bytes(), size));
            let mut got = Vec::new();
            while let Some(l) = lines.next_line().unwrap() {
                got.push(String::from_utf8(l.to_vec()).unwrap());
            }
            assert_eq!(got, want, "chunks of {size}");
        }
    }

    #[test]
    fn escaped_fields_read_as_hive_reads_them() {
        let mut cut = FieldCutter {
            delim: 1,
            null: r"\N".into(),
            escape: Some(b'\\'),
            buf: String::new(),
            spans: Vec::new(),
        };
        let mut out = Vec::new();
        // An escaped delimiter, newline, CR and backslash; `\\N` is the text \N; `\N` is NULL.
        let line = "a\\\u{1}b\\nc\\r\\\\d\u{1}\\\\N\u{1}\\N";
        let (n, text) = cut.cut(line, &mut out);
        assert_eq!(n, 3);
        assert_eq!(out, [Some("a\u{1}b\nc\r\\d"), Some(r"\N"), None]);
        assert_eq!(text, "a\u{1}b\nc\r\\d\u{1}\\N\u{1}\\N");
        let mut out = Vec::new();
        let (n, _) = cut.cut("x\u{1}\u{1}中文\u{2}\\N", &mut out);
        assert_eq!((n, out.clone()), (3, vec![Some("x"), Some(""), Some("中文\u{2}\\N")]));
    }

    #[test]
    fn fields_and_nulls() {
        let mut out = Vec::new();
        assert_eq!(split_fields("a\u{1}\\N\u{1}", 1, "\\N", &mut out), 3);
        assert_eq!(out, [Some("a"), None, Some("")]);
    }
}
