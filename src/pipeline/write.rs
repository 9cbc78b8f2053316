//! The writer: puts each file's compressed blocks in order into one gzip
//! member, hashes it, and renames it into place when complete.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use crossbeam_channel::Receiver;
use md5::{Digest, Md5};

use crate::compress::{Deflated, Member};
use crate::manifest::FileEntry;
use crate::split::FileStart;

/// A finished file, from the writer.
pub(super) struct Done {
    pub(super) file: u32,
    pub(super) entry: FileEntry,
}

/// A compressed block on its way to the writer.
pub(super) struct Compressed {
    pub(super) file: u32,
    pub(super) idx: u32,
    pub(super) last: bool,
    pub(super) rows: u64,
    pub(super) block: Deflated,
}

/// Messages to the writer: names come from the reader, blocks from the compressors.
pub(super) enum ToWriter {
    Start(FileStart),
    Block(Compressed),
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
