//! The writer: puts each file's compressed blocks in order into one gzip
//! member, hashes it, and renames it into place when complete.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::path::Path;

use anyhow::Context;
use crossbeam_channel::Receiver;
use md5::{Digest, Md5};

use crate::atomic::AtomicFile;
use crate::compress::{Deflated, Member};
use crate::manifest::FileEntry;
use crate::split::{BlockAt, FileStart};

/// A finished file, from the writer.
pub(super) struct Done {
    pub(super) file: u32,
    pub(super) entry: FileEntry,
}

/// A compressed block on its way to the writer.
pub(super) struct Compressed {
    pub(super) at: BlockAt,
    pub(super) block: Deflated,
}

/// Messages to the writer: names come from the reader, blocks from the compressors.
pub(super) enum ToWriter {
    Start(FileStart),
    Block(Compressed),
}

/// Bytes to the file (if any) and through MD5.
struct Hashing {
    file: Option<AtomicFile>,
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
    member: Option<Member<Hashing>>,
    next: u32,
    pending: BTreeMap<u32, Compressed>,
}

pub(super) fn write_loop(
    rx: Receiver<ToWriter>,
    dir: Option<&Path>,
    fixed_time: Option<&str>,
) -> anyhow::Result<Vec<Done>> {
    let mut open: HashMap<u32, Open> = HashMap::new();
    let mut early: HashMap<u32, Vec<Compressed>> = HashMap::new();
    let mut done = Vec::new();
    for msg in rx {
        let file = match msg {
            ToWriter::Start(s) => {
                let f = match dir {
                    Some(d) => Some(AtomicFile::create(&d.join(&s.name))?),
                    None => None,
                };
                let member = Member::start(Hashing {
                    file: f,
                    md5: Md5::new(),
                })
                .context("writing")?;
                let mut o = Open {
                    name: s.name,
                    member: Some(member),
                    next: 0,
                    pending: BTreeMap::new(),
                };
                for c in early.remove(&s.file).unwrap_or_default() {
                    o.pending.insert(c.at.idx, c);
                }
                open.insert(s.file, o);
                s.file
            }
            ToWriter::Block(c) => {
                let f = c.at.file;
                match open.get_mut(&f) {
                    Some(o) => {
                        o.pending.insert(c.at.idx, c);
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
            if c.at.last {
                let (hashing, bytes) = o
                    .member
                    .take()
                    .expect("open")
                    .finish()
                    .with_context(|| format!("writing {}", o.name))?;
                if let Some(f) = hashing.file {
                    f.commit()?;
                }
                let md5 = hashing.md5.finalize().iter().map(|b| format!("{b:02x}")).collect();
                let time = crate::verf::file_time(fixed_time);
                done.push(Done {
                    file,
                    entry: FileEntry {
                        name: o.name.clone(),
                        rows: c.at.rows,
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
