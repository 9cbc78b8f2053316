//! Parallel gzip with bounded memory, as pigz does it.
//!
//! A data file is cut into fixed-size blocks of its uncompressed bytes. Each
//! block is deflated on its own (raw deflate, primed with the last 32 KiB of
//! the block before it, ended by a sync flush so that blocks concatenate),
//! and the writer stitches them, in order, into one gzip member: header,
//! blocks, CRC-32 (combined from the blocks' CRCs) and length. Block
//! boundaries depend only on the bytes, so the same input always gives the
//! same file, whatever the number of threads.

use std::io::{self, Write};

use flate2::{Compress, Compression, FlushCompress, Status};

/// Uncompressed bytes per block: large enough that priming with the previous
/// block's 32 KiB costs little (3%), small enough that a few dozen open sets
/// stay well within the memory bound.
pub const BLOCK_SIZE: usize = 1024 * 1024;

/// Deflate's window: what a block may refer back to in the one before it.
const WINDOW: usize = 32 * 1024;

/// A compressed block, ready to be written in its place.
#[derive(Debug)]
pub struct Deflated {
    pub bytes: Vec<u8>,
    /// CRC-32 and length of the uncompressed block, to combine into the member's.
    pub crc: crc32fast::Hasher,
    pub len: u64,
}

/// Deflates one block. `prev` is the block before it in the same file (for
/// the dictionary); `last` ends the deflate stream.
///
/// Every block gets a new deflate state. A reset one is not enough: zlib-rs's
/// reset keeps the old window's bytes, and the match finder reads a little
/// past the end of the input, so a block's last bytes came out differently
/// depending on which block the thread had compressed before (and so on
/// thread timing). A new state per 1 MiB block did not raise the build's
/// CPU time (`scripts/bench.sh build`).
pub fn deflate_block(data: &[u8], prev: Option<&[u8]>, last: bool, level: u32) -> io::Result<Deflated> {
    let mut c = Compress::new(Compression::new(level), false);
    if let Some(prev) = prev {
        let tail = &prev[prev.len().saturating_sub(WINDOW)..];
        if !tail.is_empty() && level > 0 {
            c.set_dictionary(tail).map_err(io::Error::other)?;
        }
    }
    let mut out = Vec::with_capacity(data.len() / 3 + 1024);
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    let start = c.total_in();
    loop {
        let consumed = (c.total_in() - start) as usize;
        if out.capacity() - out.len() < 1024 {
            out.reserve(out.capacity().max(64 * 1024));
        }
        let status = c
            .compress_vec(&data[consumed..], &mut out, flush)
            .map_err(io::Error::other)?;
        let done_input = (c.total_in() - start) as usize == data.len();
        match status {
            Status::StreamEnd => break,
            // A sync flush is complete once all input is in and output had room to spare.
            Status::Ok | Status::BufError if !last && done_input && out.capacity() > out.len() => break,
            Status::Ok | Status::BufError => {}
        }
    }
    let mut crc = crc32fast::Hasher::new();
    crc.update(data);
    Ok(Deflated {
        bytes: out,
        crc,
        len: data.len() as u64,
    })
}

/// The 10-byte gzip header: no name, mtime 0 (for reproducible files), Unix.
pub const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];

/// Assembles one gzip member from deflated blocks written in order.
pub struct Member<W: Write> {
    out: W,
    crc: crc32fast::Hasher,
    len: u64,
    written: u64,
}

impl<W: Write> Member<W> {
    pub fn start(mut out: W) -> io::Result<Member<W>> {
        out.write_all(&GZIP_HEADER)?;
        Ok(Member {
            out,
            crc: crc32fast::Hasher::new(),
            len: 0,
            written: GZIP_HEADER.len() as u64,
        })
    }

    pub fn push(&mut self, block: &Deflated) -> io::Result<()> {
        self.out.write_all(&block.bytes)?;
        self.crc.combine(&block.crc);
        self.len += block.len;
        self.written += block.bytes.len() as u64;
        Ok(())
    }

    /// Writes the trailer; returns the writer and the member's size in bytes.
    pub fn finish(mut self) -> io::Result<(W, u64)> {
        self.out.write_all(&self.crc.finalize().to_le_bytes())?;
        // ISIZE: the length modulo 2^32, as gzip defines it.
        self.out.write_all(&(self.len as u32).to_le_bytes())?;
        Ok((self.out, self.written + 8))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gz_of_blocks(data: &[u8], block: usize, level: u32) -> Vec<u8> {
        let chunks: Vec<&[u8]> = if data.is_empty() {
            vec![&[][..]]
        } else {
            data.chunks(block).collect()
        };
        let mut m = Member::start(Vec::new()).unwrap();
        for (i, c) in chunks.iter().enumerate() {
            let prev = if i > 0 { Some(chunks[i - 1]) } else { None };
            m.push(&deflate_block(c, prev, i + 1 == chunks.len(), level).unwrap())
                .unwrap();
        }
        m.finish().unwrap().0
    }

    fn gunzip(gz: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(gz).read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn blocks_make_one_valid_member() {
        let data: Vec<u8> = (0..200_000u32)
            .flat_map(|i| format!("line {i}|中文|{}\n", i % 97).into_bytes())
            .collect();
        for level in [0, 1, 6, 9] {
            let gz = gz_of_blocks(&data, 100_000, level);
            assert_eq!(gunzip(&gz), data, "level {level}");
        }
        assert_eq!(gunzip(&gz_of_blocks(b"", 10, 6)), b"");
    }

    #[test]
    fn priming_keeps_the_ratio_close_to_one_stream() {
        let data: Vec<u8> = (0..100_000u32)
            .flat_map(|i| format!("2024-12-12 00:00:{:02}|h5.10086.cn|{i}\n", i % 60).into_bytes())
            .collect();
        let blocks = gz_of_blocks(&data, 64 * 1024, 6).len();
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        e.write_all(&data).unwrap();
        let whole = e.finish().unwrap().len();
        assert!(
            (blocks as f64) < whole as f64 * 1.03,
            "blocks {blocks} vs whole {whole}"
        );
    }
}
