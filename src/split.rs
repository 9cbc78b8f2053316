//! Cut each set's stream of encoded lines into numbered files of exactly
//! `lines_per_file` lines, and each file into compression blocks.
//!
//! A set is the rows of one `split_by` value. Its files are numbered from 1
//! without gaps; every file but the last holds exactly `lines_per_file` lines.
//! Blocks go to the compressors as soon as they fill, so no file is ever held
//! whole in memory.

use std::collections::HashMap;
use std::sync::Arc;

use crate::compress::BLOCK_SIZE;

/// Where a block stands in its file; it travels with the block through the
/// compressors to the writer.
#[derive(Debug, Clone, Copy)]
pub struct BlockAt {
    /// Global id of the file this block belongs to.
    pub file: u32,
    /// Position of the block in its file, from 0.
    pub idx: u32,
    /// The file's last block; `rows` is then the file's line count.
    pub last: bool,
    pub rows: u64,
}

/// A block of one file, for a compressor.
pub struct Block {
    pub at: BlockAt,
    pub data: Arc<Vec<u8>>,
    /// The block before it in the same file: its tail primes the compressor.
    pub prev: Option<Arc<Vec<u8>>>,
}

/// A file that has been started: what the writer needs to name it.
#[derive(Debug, Clone)]
pub struct FileStart {
    pub file: u32,
    pub name: String,
}

struct SetState {
    seq: u64,
    file: u32,
    lines: u64,
    idx: u32,
    block: Vec<u8>,
    prev: Option<Arc<Vec<u8>>>,
    open: bool,
    rows: u64,
    /// Global ids of its files, in sequence order.
    files: Vec<u32>,
}

/// Routes lines to sets and cuts files and blocks.
pub struct Splitter {
    lines_per_file: u64,
    keys: Vec<Option<String>>,
    index: HashMap<Option<String>, usize>,
    sets: Vec<SetState>,
    next_file: u32,
}

/// What appending a line produced: possibly a new file to name, and blocks
/// ready for the compressors (at most two: a full block and a file's end).
#[derive(Default)]
pub struct Emitted {
    pub started: Option<(usize, u64, u32)>,
    pub blocks: Vec<Block>,
}

impl Splitter {
    pub fn new(lines_per_file: u64) -> Splitter {
        Splitter {
            lines_per_file,
            keys: vec![],
            index: HashMap::new(),
            sets: vec![],
            next_file: 0,
        }
    }

    /// The set index of a split value, creating the set on first sight.
    pub fn set_of(&mut self, key: Option<&str>) -> usize {
        if let Some(i) = self.index.get(&key.map(str::to_string)) {
            return *i;
        }
        let i = self.sets.len();
        self.keys.push(key.map(str::to_string));
        self.index.insert(key.map(str::to_string), i);
        self.sets.push(SetState {
            seq: 0,
            file: 0,
            lines: 0,
            idx: 0,
            block: Vec::new(),
            prev: None,
            open: false,
            rows: 0,
            files: vec![],
        });
        i
    }

    pub fn keys(&self) -> &[Option<String>] {
        &self.keys
    }

    pub fn rows(&self, set: usize) -> u64 {
        self.sets[set].rows
    }

    /// The file ids of a set, in sequence order.
    pub fn files_of(&self, set: usize) -> &[u32] {
        &self.sets[set].files
    }

    /// Appends one encoded line (with its `\n`) to `set`, via `write`, which
    /// fills the block buffer. `out` receives a started file and full blocks.
    pub fn push(&mut self, set: usize, write: impl FnOnce(&mut Vec<u8>), out: &mut Emitted) {
        let s = &mut self.sets[set];
        if !s.open {
            s.open = true;
            s.seq += 1;
            s.file = self.next_file;
            s.files.push(s.file);
            self.next_file += 1;
            s.lines = 0;
            s.idx = 0;
            s.prev = None;
            if s.block.capacity() == 0 {
                s.block.reserve(BLOCK_SIZE + 64 * 1024);
            }
            out.started = Some((set, s.seq, s.file));
        }
        write(&mut s.block);
        s.lines += 1;
        s.rows += 1;
        if s.lines == self.lines_per_file {
            out.blocks.push(take_block(s, true));
            s.open = false;
        } else if s.block.len() >= BLOCK_SIZE {
            out.blocks.push(take_block(s, false));
        }
    }

    /// Ends every open file: the last, partial file of each set.
    pub fn finish(&mut self) -> Vec<Block> {
        let mut out = Vec::new();
        for s in &mut self.sets {
            if s.open {
                out.push(take_block(s, true));
                s.open = false;
            }
        }
        out
    }
}

fn take_block(s: &mut SetState, last: bool) -> Block {
    let cap = if last { 0 } else { BLOCK_SIZE + 64 * 1024 };
    let data = Arc::new(std::mem::replace(&mut s.block, Vec::with_capacity(cap)));
    let block = Block {
        at: BlockAt {
            file: s.file,
            idx: s.idx,
            last,
            rows: s.lines,
        },
        data: data.clone(),
        prev: s.prev.take(),
    };
    s.idx += 1;
    s.prev = if last { None } else { Some(data) };
    block
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_hold_exactly_n_lines_and_are_numbered_per_set() {
        let mut sp = Splitter::new(3);
        let mut files = Vec::new();
        let mut ended = Vec::new();
        for (i, key) in ["a", "b", "a", "a", "a", "b", "a", "a"].iter().enumerate() {
            let set = sp.set_of(Some(key));
            let mut e = Emitted::default();
            sp.push(set, |b| b.extend_from_slice(format!("{i}\n").as_bytes()), &mut e);
            if let Some(s) = e.started {
                files.push(s);
            }
            ended.extend(
                e.blocks
                    .into_iter()
                    .filter(|b| b.at.last)
                    .map(|b| (b.at.file, b.at.rows)),
            );
        }
        ended.extend(sp.finish().into_iter().map(|b| (b.at.file, b.at.rows)));
        assert_eq!(files, [(0, 1, 0), (1, 1, 1), (0, 2, 2)], "set, seq, file id");
        assert_eq!(ended, [(0, 3), (2, 3), (1, 2)], "a: 3 + 3 (+0), b: 2");
        assert_eq!(sp.rows(0), 6);
    }
}
