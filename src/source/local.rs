//! The `local` source: an hour's dump is a directory under `root`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use anyhow::Context;

use super::{list_ready, Entry, Readiness, Source};

/// One input file of an hour, on local disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFile {
    pub path: PathBuf,
    /// The file name, for messages, rejects and manifests.
    pub name: String,
    pub size: u64,
}

/// A local input file whose size is not the size it was listed with: still
/// being written (or rewritten). Its hour is read again, as a pull would.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {now} bytes now, {listed} when the hour was listed: the file changed while being read (still being written?)")]
pub struct SizeChanged {
    pub path: String,
    pub listed: u64,
    pub now: u64,
}

/// Fails with [`SizeChanged`] when a file is no longer the size it was listed with.
pub fn check_unchanged(inputs: &[InputFile]) -> anyhow::Result<()> {
    for f in inputs {
        let now = std::fs::metadata(&f.path)
            .with_context(|| format!("reading {}", f.path.display()))?
            .len();
        if now != f.size {
            return Err(crate::exit::Classed::changed(SizeChanged {
                path: f.path.display().to_string(),
                listed: f.size,
                now,
            })
            .into());
        }
    }
    Ok(())
}

pub struct LocalSource {
    pub root: PathBuf,
}

impl Source for LocalSource {
    fn describe(&self, dir: &str) -> String {
        if dir.is_empty() {
            self.root.display().to_string()
        } else {
            self.root.join(dir).display().to_string()
        }
    }

    fn list(&self, dir: &str) -> anyhow::Result<Option<Vec<Entry>>> {
        let path = self.root.join(dir);
        if !path.is_dir() {
            return Ok(None);
        }
        let mut out = Vec::new();
        list_into(&path, "", &mut out)?;
        Ok(Some(out))
    }

    fn open(&self, dir: &str, name: &str) -> anyhow::Result<Box<dyn Read + Send>> {
        let p = self.root.join(dir).join(name);
        Ok(Box::new(
            std::fs::File::open(&p).with_context(|| format!("opening {}", p.display()))?,
        ))
    }
}

/// The files of `path` (names prefixed with `prefix`), and of the
/// subdirectories that can hold data (see [`super::descend`]).
fn list_into(path: &Path, prefix: &str, out: &mut Vec<Entry>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(path).with_context(|| format!("listing {}", path.display()))? {
        let entry = entry.with_context(|| format!("listing {}", path.display()))?;
        let meta = entry
            .metadata()
            .with_context(|| format!("reading {}", entry.path().display()))?;
        let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
        if meta.is_dir() {
            if super::descend(&name) {
                list_into(&entry.path(), &format!("{name}/"), out)?;
            }
            continue;
        }
        if !meta.is_file() {
            continue;
        }
        let mtime_ms = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_millis() as i64);
        out.push(Entry {
            name,
            size: meta.len(),
            mtime_ms,
        });
    }
    Ok(())
}

/// The data files of one hour's local directory, in name order, after
/// checking that the hour is there and ready (see [`list_ready`]).
pub fn list_hour(dir: &Path, ready: &Readiness<'_>) -> anyhow::Result<Vec<InputFile>> {
    let source = LocalSource {
        root: dir.to_path_buf(),
    };
    let entries = list_ready(&source, "", ready)?;
    Ok(entries
        .into_iter()
        .map(|e| InputFile {
            path: dir.join(&e.name),
            name: e.name,
            size: e.size,
        })
        .collect())
}
