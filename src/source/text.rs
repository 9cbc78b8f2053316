//! Hive delimited text: open (plain or gzip, detected by magic bytes, several
//! gzip members read as one stream), cut into lines, cut lines into fields.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use anyhow::Context;
use flate2::read::MultiGzDecoder;

use crate::spec::Compression;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Opens an input file as a byte stream of its decompressed text; `progress`
/// advances by the bytes read from the file itself (compressed or not).
pub fn open(
    path: &Path,
    compression: Compression,
    progress: &indicatif::ProgressBar,
) -> anyhow::Result<Box<dyn Read + Send>> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    open_reader(Box::new(file), &path.display().to_string(), compression, progress)
}

/// Like [`open`], for a stream from any source (`what` names it in errors).
pub fn open_reader(
    raw: Box<dyn Read + Send>,
    what: &str,
    compression: Compression,
    progress: &indicatif::ProgressBar,
) -> anyhow::Result<Box<dyn Read + Send>> {
    let mut file = progress.wrap_read(raw);
    let mut magic = [0u8; 2];
    let n = read_up_to(&mut file, &mut magic).with_context(|| format!("reading {what}"))?;
    let head = io::Cursor::new(magic[..n].to_vec());
    let stream = head.chain(file);
    let gzip = match compression {
        Compression::Gzip => true,
        Compression::None => false,
        Compression::Auto => n == 2 && magic == GZIP_MAGIC,
    };
    Ok(if gzip {
        Box::new(Prefetch::spawn(MultiGzDecoder::new(BufReader::with_capacity(
            256 * 1024,
            stream,
        ))))
    } else {
        Box::new(stream)
    })
}

/// Reads a stream ahead on its own thread (gzip inflation runs beside the
/// transform instead of before it). Memory: a few 1 MiB chunks in flight.
/// If the consumer goes away, the thread stops at its next send.
pub struct Prefetch {
    rx: std::sync::mpsc::Receiver<io::Result<Vec<u8>>>,
    chunk: Vec<u8>,
    pos: usize,
    done: bool,
}

impl Prefetch {
    pub fn spawn<R: Read + Send + 'static>(mut inner: R) -> Prefetch {
        let (tx, rx) = std::sync::mpsc::sync_channel(4);
        std::thread::spawn(move || loop {
            let mut buf = vec![0u8; 1 << 20];
            let mut n = 0;
            let result = loop {
                match inner.read(&mut buf[n..]) {
                    Ok(0) => break Ok(()),
                    Ok(k) => {
                        n += k;
                        if n == buf.len() {
                            break Ok(());
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => break Err(e),
                }
            };
            buf.truncate(n);
            let end = n == 0;
            let failed = result.is_err();
            let msg = result.map(|()| buf);
            if tx.send(msg).is_err() || end || failed {
                return;
            }
        });
        Prefetch {
            rx,
            chunk: Vec::new(),
            pos: 0,
            done: false,
        }
    }
}

impl Read for Prefetch {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.chunk.len() {
            if self.done {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Ok(c)) => {
                    self.done = c.is_empty();
                    self.chunk = c;
                    self.pos = 0;
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => return Err(io::Error::other("the reading thread stopped")),
            }
        }
        let n = out.len().min(self.chunk.len() - self.pos);
        out[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
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

/// Lines of a stream, without their `\n`, read through one large buffer.
pub struct Lines<R> {
    inner: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
}

impl<R: Read> Lines<R> {
    pub fn new(inner: R) -> Lines<R> {
        Lines {
            inner,
            buf: vec![0; 1 << 20],
            start: 0,
            end: 0,
            eof: false,
        }
    }

    /// The next line; a last line without `\n` is still a line.
    pub fn next_line(&mut self) -> io::Result<Option<&[u8]>> {
        loop {
            if let Some(i) = memchr::memchr(b'\n', &self.buf[self.start..self.end]) {
                let line = self.start..self.start + i;
                self.start += i + 1;
                return Ok(Some(&self.buf[line]));
            }
            if self.eof {
                if self.start == self.end {
                    return Ok(None);
                }
                let line = self.start..self.end;
                self.start = self.end;
                return Ok(Some(&self.buf[line]));
            }
            // Move the partial line to the front; grow when one line fills the buffer.
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            if self.end == self.buf.len() {
                self.buf.resize(self.buf.len() * 2, 0);
            }
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
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

/// Why a line is not valid UTF-8, naming the field (1-based) and the byte.
pub fn utf8_error(line: &[u8], e: &std::str::Utf8Error, delim: u8) -> String {
    let at = e.valid_up_to();
    let field = memchr::memchr_iter(delim, &line[..at]).count() + 1;
    format!("invalid UTF-8 in field {field} at byte {at}")
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
        let mut lines = Lines::new(text.as_bytes());
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

    #[test]
    fn prefetch_passes_bytes_and_errors_through() {
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let mut out = Vec::new();
        Prefetch::spawn(io::Cursor::new(data.clone()))
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data);
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::InvalidData, "corrupt deflate stream"))
            }
        }
        let err = Prefetch::spawn(Broken).read_to_end(&mut Vec::new()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn fields_and_nulls() {
        let mut out = Vec::new();
        assert_eq!(split_fields("a\u{1}\\N\u{1}", 1, "\\N", &mut out), 3);
        assert_eq!(out, [Some("a"), None, Some("")]);
    }
}
