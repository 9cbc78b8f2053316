//! The codecs Hadoop writes text in, and how a file's codec is told: by its
//! magic bytes where the format has them, else by the file's extension, as
//! Hadoop's `CompressionCodecFactory` does.
//!
//! | codec | told by | stream |
//! |---|---|---|
//! | gzip | `1f 8b` | members one after another; trailing zero padding accepted (GNU gzip does) |
//! | bzip2 | `BZh1`..`BZh9` | streams one after another |
//! | zstd | `28 b5 2f fd` | frames one after another |
//! | deflate | `.deflate`, or `78 9c` / `78 da` | zlib streams one after another (Hadoop's `DefaultCodec`) |
//! | snappy | `.snappy` | Hadoop's block framing (`BlockCompressorStream`); `ff 06 00 00 sNaPpY`: the snappy frame format |
//! | lz4 | `.lz4` | Hadoop's block framing; `04 22 4d 18`: the LZ4 frame format |
//!
//! A file that is compressed in a format chama cannot decode (xz, lzo, zip,
//! brotli, ...) is refused naming the codec; it is never read as text.

use std::io::{self, BufRead, BufReader, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::spec::Compression;

/// A text codec chama decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Plain,
    Gzip,
    Bzip2,
    Zstd,
    Deflate,
    /// Hadoop's block framing of raw snappy.
    HadoopSnappy,
    /// The snappy frame format (`sNaPpY`).
    SnappyFrame,
    /// Hadoop's block framing of raw LZ4 blocks.
    HadoopLz4,
    /// The LZ4 frame format.
    Lz4Frame,
}

impl Codec {
    pub fn name(self) -> &'static str {
        match self {
            Codec::Plain => "plain text",
            Codec::Gzip => "gzip",
            Codec::Bzip2 => "bzip2",
            Codec::Zstd => "zstd",
            Codec::Deflate => "deflate (zlib)",
            Codec::HadoopSnappy => "snappy (Hadoop block framing)",
            Codec::SnappyFrame => "snappy (frame format)",
            Codec::HadoopLz4 => "lz4 (Hadoop block framing)",
            Codec::Lz4Frame => "lz4 (frame format)",
        }
    }
}

/// How many bytes [`detect`] looks at.
pub const MAGIC_LEN: usize = 10;

/// Formats recognised by their magic bytes that chama does not decode.
const FOREIGN: &[(&[u8], &str)] = &[
    (&[0xfd, b'7', b'z', b'X', b'Z', 0x00], "xz"),
    (&[0x5d, 0x00, 0x00], "lzma"),
    (&[0x89, b'L', b'Z', b'O', 0x00, 0x0d, 0x0a, 0x1a, 0x0a], "lzo (lzop)"),
    (&[b'P', b'K', 0x03, 0x04], "zip"),
    (&[b'7', b'z', 0xbc, 0xaf, 0x27, 0x1c], "7z"),
    (&[0x1f, 0x9d], "compress (.Z)"),
    (b"SEQ", "a Hadoop SequenceFile"),
    (b"ORC", "ORC (set [input] format = \"orc\")"),
    (b"PAR1", "Parquet (set [input] format = \"parquet\")"),
    (b"Obj\x01", "Avro"),
];

/// Extensions of codecs Hadoop may write that chama does not decode.
const FOREIGN_EXT: &[(&str, &str)] = &[
    (".lzo", "lzo"),
    (".lzo_deflate", "lzo"),
    (".br", "brotli"),
    (".xz", "xz"),
    (".lzma", "lzma"),
    (".zip", "zip"),
];

/// The codec of a file from its first bytes and its name, under the spec's
/// `compression`. An error names a codec chama cannot decode.
pub fn detect(head: &[u8], name: &str, setting: Compression) -> Result<Codec, String> {
    let forced = match setting {
        Compression::Auto => None,
        Compression::None => Some(Codec::Plain),
        Compression::Gzip => Some(Codec::Gzip),
        Compression::Bzip2 => Some(Codec::Bzip2),
        Compression::Zstd => Some(Codec::Zstd),
        Compression::Deflate => Some(Codec::Deflate),
        Compression::Snappy => Some(if head.starts_with(SNAPPY_FRAME) {
            Codec::SnappyFrame
        } else {
            Codec::HadoopSnappy
        }),
        Compression::Lz4 => Some(if head.starts_with(LZ4_FRAME) {
            Codec::Lz4Frame
        } else {
            Codec::HadoopLz4
        }),
    };
    if let Some(c) = forced {
        return Ok(c);
    }
    let lower = name.to_ascii_lowercase();
    if head.starts_with(&[0x1f, 0x8b]) {
        return Ok(Codec::Gzip);
    }
    if head.len() >= 4 && head.starts_with(b"BZh") && (b'1'..=b'9').contains(&head[3]) {
        return Ok(Codec::Bzip2);
    }
    if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        return Ok(Codec::Zstd);
    }
    if head.starts_with(SNAPPY_FRAME) {
        return Ok(Codec::SnappyFrame);
    }
    if head.starts_with(LZ4_FRAME) {
        return Ok(Codec::Lz4Frame);
    }
    if head.starts_with(&[0x78, 0x9c]) || head.starts_with(&[0x78, 0xda]) || lower.ends_with(".deflate") {
        return Ok(Codec::Deflate);
    }
    if lower.ends_with(".snappy") {
        return Ok(Codec::HadoopSnappy);
    }
    if lower.ends_with(".lz4") {
        return Ok(Codec::HadoopLz4);
    }
    for (ext, what) in [(".gz", "gzip"), (".bz2", "bzip2"), (".zst", "zstd")] {
        if lower.ends_with(ext) && !head.is_empty() {
            return Err(format!("named {ext} but does not start like {what} data"));
        }
    }
    for (magic, what) in FOREIGN {
        if head.starts_with(magic) {
            return Err(format!("is {what}, which chama cannot read as text"));
        }
    }
    for (ext, what) in FOREIGN_EXT {
        if lower.ends_with(ext) {
            return Err(format!(
                "is compressed with {what} (by its name), which chama cannot decode"
            ));
        }
    }
    Ok(Codec::Plain)
}

const SNAPPY_FRAME: &[u8] = &[0xff, 0x06, 0x00, 0x00, b's', b'N', b'a', b'P', b'p', b'Y'];
const LZ4_FRAME: &[u8] = &[0x04, 0x22, 0x4d, 0x18];

/// Opens `raw` (whose first bytes `head` were already read from it) as the
/// decompressed bytes of `codec`. `what` names the file in errors.
pub fn decoder(codec: Codec, raw: Box<dyn Read + Send>, what: &str) -> Box<dyn Read + Send> {
    let counted = Counted::new(raw);
    let at = counted.at.clone();
    let buf = BufReader::with_capacity(256 * 1024, counted);
    let inner: Box<dyn Read + Send> = match codec {
        Codec::Plain => return Box::new(buf),
        Codec::Gzip => Box::new(Members::new(
            buf,
            |r| Box::new(flate2::bufread::GzDecoder::new(r)),
            true,
        )),
        Codec::Deflate => Box::new(Members::new(
            buf,
            |r| Box::new(flate2::bufread::ZlibDecoder::new(r)),
            false,
        )),
        Codec::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(buf)),
        Codec::Zstd => match zstd::stream::read::Decoder::with_buffer(buf) {
            Ok(d) => Box::new(d),
            Err(e) => Box::new(Failed(Some(e))),
        },
        Codec::SnappyFrame => Box::new(snap::read::FrameDecoder::new(buf)),
        Codec::Lz4Frame => Box::new(lz4_flex::frame::FrameDecoder::new(buf)),
        Codec::HadoopSnappy => Box::new(HadoopBlocks::new(buf, Block::Snappy)),
        Codec::HadoopLz4 => Box::new(HadoopBlocks::new(buf, Block::Lz4)),
    };
    Box::new(Named {
        inner,
        codec,
        what: what.to_string(),
        at,
    })
}

/// Counts the compressed bytes read, so an error can say where it is.
/// An error of the source itself (a failed read) is marked with `u64::MAX`,
/// so that it is reported as what it is, not as corrupt data.
struct Counted<R> {
    inner: R,
    at: Arc<AtomicU64>,
}

impl<R> Counted<R> {
    fn new(inner: R) -> Counted<R> {
        Counted {
            inner,
            at: Default::default(),
        }
    }
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.at.fetch_add(n as u64, Ordering::Relaxed);
                Ok(n)
            }
            Err(e) => {
                if e.kind() != io::ErrorKind::Interrupted {
                    self.at.store(u64::MAX, Ordering::Relaxed);
                }
                Err(e)
            }
        }
    }
}

/// A decoder whose errors name the codec and how far into the file they were found.
struct Named {
    inner: Box<dyn Read + Send>,
    codec: Codec,
    what: String,
    at: Arc<AtomicU64>,
}

impl Read for Named {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| {
            let at = self.at.load(Ordering::Relaxed);
            if e.kind() == io::ErrorKind::Interrupted || at == u64::MAX {
                return e;
            }
            io::Error::new(
                io::ErrorKind::InvalidData,
                CodecError {
                    message: format!(
                        "{}: {} data unreadable within its first {at} compressed bytes: {e}",
                        self.what,
                        self.codec.name()
                    ),
                },
            )
        })
    }
}

/// A corrupt or truncated compressed stream: the input is bad, not the machine.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct CodecError {
    pub message: String,
}

/// An error found before the first byte.
struct Failed(Option<io::Error>);

impl Read for Failed {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(self.0.take().unwrap_or_else(|| io::Error::other("decoder failed")))
    }
}

type Member<R> = Box<dyn MemberInner<R>>;

/// A decoder that can give its underlying reader back once its member ends.
trait MemberInner<R>: Read + Send {
    fn take(self: Box<Self>) -> R;
}

impl<R: BufRead + Send> MemberInner<R> for flate2::bufread::GzDecoder<R> {
    fn take(self: Box<Self>) -> R {
        self.into_inner()
    }
}

impl<R: BufRead + Send> MemberInner<R> for flate2::bufread::ZlibDecoder<R> {
    fn take(self: Box<Self>) -> R {
        self.into_inner()
    }
}

/// Streams (gzip members, zlib streams) one after another. After the last,
/// only zero bytes may follow (`zeros_ok`: gzip's padding); anything else
/// is an error, never silently dropped.
struct Members<R: BufRead + Send + 'static> {
    current: Option<Member<R>>,
    start: fn(R) -> Member<R>,
    zeros_ok: bool,
    done: bool,
}

impl<R: BufRead + Send + 'static> Members<R> {
    fn new(r: R, start: fn(R) -> Member<R>, zeros_ok: bool) -> Members<R> {
        Members {
            current: Some(start(r)),
            start,
            zeros_ok,
            done: false,
        }
    }
}

impl<R: BufRead + Send + 'static> Read for Members<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.done || buf.is_empty() {
                return Ok(0);
            }
            let member = self.current.as_mut().expect("a member while not done");
            let n = member.read(buf)?;
            if n > 0 {
                return Ok(n);
            }
            // This member ended: another follows, or only padding, or the end.
            let mut r = self.current.take().expect("a member").take();
            let head = r.fill_buf()?;
            if head.is_empty() {
                self.done = true;
                return Ok(0);
            }
            if head[0] == 0 && self.zeros_ok {
                loop {
                    let head = r.fill_buf()?;
                    if head.is_empty() {
                        self.done = true;
                        return Ok(0);
                    }
                    if head.iter().any(|b| *b != 0) {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "bytes other than zero padding after the last member",
                        ));
                    }
                    let k = head.len();
                    r.consume(k);
                }
            }
            self.current = Some((self.start)(r));
        }
    }
}

#[derive(Clone, Copy)]
enum Block {
    Snappy,
    Lz4,
}

/// Hadoop's `BlockCompressorStream` framing: blocks of a 4-byte big-endian
/// uncompressed length, then chunks of a 4-byte big-endian compressed
/// length and that many bytes, until the block's length is decompressed.
struct HadoopBlocks<R> {
    inner: R,
    kind: Block,
    out: Vec<u8>,
    pos: usize,
    chunk: Vec<u8>,
}

impl<R: Read> HadoopBlocks<R> {
    fn new(inner: R, kind: Block) -> HadoopBlocks<R> {
        HadoopBlocks {
            inner,
            kind,
            out: Vec::new(),
            pos: 0,
            chunk: Vec::new(),
        }
    }

    /// Reads a big-endian u32; `None` at a clean end of the stream.
    fn be_u32(&mut self, first: bool) -> io::Result<Option<usize>> {
        let mut b = [0u8; 4];
        let mut n = 0;
        while n < 4 {
            match self.inner.read(&mut b[n..]) {
                Ok(0) if n == 0 && first => return Ok(None),
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the stream ends inside a block",
                    ))
                }
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Some(u32::from_be_bytes(b) as usize))
    }

    /// Decodes the next block into `out`; false at the end of the stream.
    fn next_block(&mut self) -> io::Result<bool> {
        const MAX_BLOCK: usize = 1 << 30;
        let Some(len) = self.be_u32(true)? else {
            return Ok(false);
        };
        if len > MAX_BLOCK {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("a block claims {len} bytes: not Hadoop block framing"),
            ));
        }
        self.out.clear();
        self.pos = 0;
        while self.out.len() < len {
            let clen = self.be_u32(false)?.expect("not first");
            if clen > MAX_BLOCK {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("a chunk claims {clen} bytes: not Hadoop block framing"),
                ));
            }
            self.chunk.resize(clen, 0);
            self.inner.read_exact(&mut self.chunk)?;
            let start = self.out.len();
            let bad = |e: String| io::Error::new(io::ErrorKind::InvalidData, e);
            match self.kind {
                Block::Snappy => {
                    let n = snap::raw::decompress_len(&self.chunk).map_err(|e| bad(e.to_string()))?;
                    if start + n > len {
                        return Err(bad(format!("a chunk decodes past its block's {len} bytes")));
                    }
                    self.out.resize(start + n, 0);
                    snap::raw::Decoder::new()
                        .decompress(&self.chunk, &mut self.out[start..])
                        .map_err(|e| bad(e.to_string()))?;
                }
                Block::Lz4 => {
                    self.out.resize(len, 0);
                    let n = lz4_flex::block::decompress_into(&self.chunk, &mut self.out[start..])
                        .map_err(|e| bad(e.to_string()))?;
                    self.out.truncate(start + n);
                }
            }
            if self.out.len() == start {
                return Err(bad("an empty chunk inside a block".into()));
            }
        }
        Ok(true)
    }
}

impl<R: Read> Read for HadoopBlocks<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.out.len() {
            if !self.next_block()? {
                return Ok(0);
            }
        }
        let n = buf.len().min(self.out.len() - self.pos);
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// For messages: the codec error inside an I/O error, if that is what it is.
pub fn codec_error(e: &io::Error) -> Option<&CodecError> {
    e.get_ref().and_then(|inner| inner.downcast_ref::<CodecError>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn decode(codec: Codec, bytes: Vec<u8>) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        decoder(codec, Box::new(io::Cursor::new(bytes)), "f").read_to_end(&mut out)?;
        Ok(out)
    }

    fn text() -> Vec<u8> {
        (0..50_000)
            .flat_map(|i| format!("{i}\u{1}中文\u{1}x\n").into_bytes())
            .collect()
    }

    /// Hadoop's BlockCompressorStream: one block, chunks of at most `chunk` input bytes.
    fn hadoop_frame(data: &[u8], chunk: usize, kind: Block) -> Vec<u8> {
        let mut out = Vec::new();
        for block in data.chunks(chunk * 3) {
            out.extend_from_slice(&(block.len() as u32).to_be_bytes());
            for c in block.chunks(chunk) {
                let z = match kind {
                    Block::Snappy => snap::raw::Encoder::new().compress_vec(c).unwrap(),
                    Block::Lz4 => lz4_flex::block::compress(c),
                };
                out.extend_from_slice(&(z.len() as u32).to_be_bytes());
                out.extend_from_slice(&z);
            }
        }
        out
    }

    #[test]
    fn every_codec_gives_the_text_back() {
        let t = text();
        let gz = |t: &[u8]| {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
            e.write_all(t).unwrap();
            e.finish().unwrap()
        };
        let mut two_members = gz(&t[..1000]);
        two_members.extend(gz(&t[1000..]));
        assert_eq!(decode(Codec::Gzip, two_members.clone()).unwrap(), t);
        let mut padded = two_members.clone();
        padded.extend([0u8; 3000]);
        assert_eq!(
            decode(Codec::Gzip, padded).unwrap(),
            t,
            "zero padding after the last member"
        );
        let mut garbage = two_members;
        garbage.extend(b"\0\0junk");
        assert!(decode(Codec::Gzip, garbage).is_err(), "garbage after the padding");

        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(6));
        z.write_all(&t).unwrap();
        assert_eq!(decode(Codec::Deflate, z.finish().unwrap()).unwrap(), t);

        let mut b = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::new(9));
        b.write_all(&t).unwrap();
        assert_eq!(decode(Codec::Bzip2, b.finish().unwrap()).unwrap(), t);

        assert_eq!(decode(Codec::Zstd, zstd::encode_all(&t[..], 3).unwrap()).unwrap(), t);

        for chunk in [1000, 64 * 1024, 256 * 1024] {
            let s = hadoop_frame(&t, chunk, Block::Snappy);
            assert_eq!(decode(Codec::HadoopSnappy, s).unwrap(), t, "snappy, chunks of {chunk}");
            let l = hadoop_frame(&t, chunk, Block::Lz4);
            assert_eq!(decode(Codec::HadoopLz4, l).unwrap(), t, "lz4, chunks of {chunk}");
        }
        let mut f = snap::write::FrameEncoder::new(Vec::new());
        f.write_all(&t).unwrap();
        assert_eq!(decode(Codec::SnappyFrame, f.into_inner().unwrap()).unwrap(), t);
        let mut l = lz4_flex::frame::FrameEncoder::new(Vec::new());
        l.write_all(&t).unwrap();
        assert_eq!(decode(Codec::Lz4Frame, l.finish().unwrap()).unwrap(), t);
    }

    #[test]
    fn a_truncated_stream_is_an_error_naming_the_codec() {
        let t = text();
        let z = zstd::encode_all(&t[..], 3).unwrap();
        let err = decode(Codec::Zstd, z[..z.len() / 2].to_vec()).unwrap_err();
        let msg = codec_error(&err).expect("a codec error").message.clone();
        assert!(msg.contains("zstd"), "{msg}");
        let s = hadoop_frame(&t, 1000, Block::Snappy);
        assert!(decode(Codec::HadoopSnappy, s[..s.len() - 10].to_vec()).is_err());
    }

    #[test]
    fn codecs_are_told_by_magic_then_by_name() {
        let auto = Compression::Auto;
        assert_eq!(detect(&[0x1f, 0x8b, 8], "000000_0", auto), Ok(Codec::Gzip));
        assert_eq!(detect(b"BZh91AY&SY", "000000_0", auto), Ok(Codec::Bzip2));
        assert_eq!(detect(&[0x28, 0xb5, 0x2f, 0xfd, 0], "x", auto), Ok(Codec::Zstd));
        assert_eq!(detect(&[0x78, 0x9c], "x", auto), Ok(Codec::Deflate));
        assert_eq!(
            detect(b"x\x01a", "000000_0", auto),
            Ok(Codec::Plain),
            "text whose first field is x"
        );
        assert_eq!(detect(b"x\x01a", "000000_0.deflate", auto), Ok(Codec::Deflate));
        assert_eq!(detect(&[0, 0, 1, 0], "000000_0.snappy", auto), Ok(Codec::HadoopSnappy));
        assert_eq!(detect(&[0, 0, 1, 0], "000000_0.lz4", auto), Ok(Codec::HadoopLz4));
        assert_eq!(detect(LZ4_FRAME, "000000_0.lz4", auto), Ok(Codec::Lz4Frame));
        assert_eq!(detect(b"a\x01b\n", "000000_0", auto), Ok(Codec::Plain));
        assert!(detect(&[0xfd, b'7', b'z', b'X', b'Z', 0], "000000_0", auto)
            .unwrap_err()
            .contains("xz"));
        assert!(detect(b"abc", "000000_0.lzo_deflate", auto)
            .unwrap_err()
            .contains("lzo"));
        assert!(detect(b"abc", "000000_0.gz", auto).unwrap_err().contains("gzip"));
        assert_eq!(detect(b"a\x01b\n", "x.gz", Compression::None), Ok(Codec::Plain));
    }
}
