//! The `local` destination kind: a directory (for tests, and for sites where
//! another system collects the files). Also what `verify` uses to check a set
//! on local disk.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::{Conn, Host, Pace};

pub struct LocalHost {
    root: PathBuf,
    label: String,
}

impl LocalHost {
    pub fn new(root: &Path) -> LocalHost {
        LocalHost {
            root: root.to_path_buf(),
            label: root.display().to_string(),
        }
    }
}

impl Host for LocalHost {
    fn label(&self) -> &str {
        &self.label
    }

    fn connect(&self) -> anyhow::Result<Box<dyn Conn>> {
        fs::create_dir_all(&self.root).with_context(|| format!("creating {}", self.root.display()))?;
        Ok(Box::new(LocalConn {
            root: self.root.clone(),
        }))
    }
}

struct LocalConn {
    root: PathBuf,
}

impl Conn for LocalConn {
    fn list(&mut self) -> anyhow::Result<BTreeMap<String, u64>> {
        let mut out = BTreeMap::new();
        for e in fs::read_dir(&self.root).with_context(|| format!("listing {}", self.root.display()))? {
            let e = e?;
            // Another push into the same directory (two interfaces with one remote_dir)
            // may rename or remove an entry between the listing and its stat.
            let meta = match e.metadata() {
                Ok(m) => m,
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
                Err(err) => return Err(err.into()),
            };
            if meta.is_file() {
                out.insert(e.file_name().to_string_lossy().into_owned(), meta.len());
            }
        }
        Ok(out)
    }

    fn size(&mut self, name: &str) -> anyhow::Result<Option<u64>> {
        match fs::metadata(self.root.join(name)) {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("looking at {}", self.root.join(name).display())),
        }
    }

    fn upload(&mut self, local: &Path, name: &str, offset: u64, pace: &Pace<'_>) -> anyhow::Result<Option<u64>> {
        let dest = self.root.join(name);
        let mut input = fs::File::open(local).with_context(|| format!("opening {}", local.display()))?;
        input.seek(SeekFrom::Start(offset))?;
        let mut out = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(offset == 0)
            .open(&dest)
            .with_context(|| format!("creating {}", dest.display()))?;
        out.seek(SeekFrom::Start(offset))?;
        let mut buf = vec![0u8; 4 << 20];
        loop {
            let n = input
                .read(&mut buf)
                .with_context(|| format!("reading {}", local.display()))?;
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n])
                .with_context(|| format!("writing {}", dest.display()))?;
            pace.sent(n)?;
        }
        out.sync_all().with_context(|| format!("syncing {}", dest.display()))?;
        Ok(Some(out.metadata()?.len()))
    }

    fn rename(&mut self, from: &str, to: &str) -> anyhow::Result<()> {
        let (a, b) = (self.root.join(from), self.root.join(to));
        fs::rename(&a, &b).with_context(|| format!("renaming {} to {}", a.display(), b.display()))
    }

    fn remove(&mut self, name: &str) -> anyhow::Result<()> {
        let p = self.root.join(name);
        fs::remove_file(&p).with_context(|| format!("removing {}", p.display()))
    }

    fn read(&mut self, name: &str, sink: &mut dyn FnMut(&[u8]) -> anyhow::Result<()>) -> anyhow::Result<()> {
        let p = self.root.join(name);
        let mut f = fs::File::open(&p).with_context(|| format!("opening {}", p.display()))?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = f.read(&mut buf).with_context(|| format!("reading {}", p.display()))?;
            if n == 0 {
                return Ok(());
            }
            sink(&buf[..n])?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_goes_on_while_another_push_renames_in_the_same_directory() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let other = {
            let (root, stop) = (root.clone(), stop.clone());
            std::thread::spawn(move || {
                for i in 0..200 {
                    fs::write(root.join(format!("f{i}")), b"x").unwrap();
                }
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    for i in 0..200 {
                        let (name, part) = (root.join(format!("f{i}")), root.join(format!("f{i}.part")));
                        fs::rename(&name, &part).unwrap();
                        fs::rename(&part, &name).unwrap();
                    }
                }
            })
        };
        let mut conn = LocalHost::new(&root).connect().unwrap();
        for _ in 0..500 {
            conn.list().expect("a listing that races renames still lists");
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        other.join().unwrap();
    }
}
