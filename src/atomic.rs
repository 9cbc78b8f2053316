//! Every local file chama writes goes through here: written under a hidden
//! temporary name beside its final one (`.<name>.part`), flushed to disk,
//! then renamed. A reader never sees half a file under a final name; a file
//! dropped before [`AtomicFile::commit`] (an error, a panic) leaves nothing.
//! The temporary names of files being uploaded to a destination are named
//! here too ([`remote_part`]).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

/// The temporary name of `dest` while it is written: `.<name>.part` beside it.
pub fn part_path(dest: &Path) -> PathBuf {
    dest.with_file_name(format!(
        ".{}.part",
        dest.file_name().unwrap_or_default().to_string_lossy()
    ))
}

/// A local temporary file name read back: `.<name>.part` stands for `<name>`.
pub fn part_of(file_name: &str) -> Option<&str> {
    file_name.strip_prefix('.')?.strip_suffix(".part")
}

/// The remote temporary name of `name` while a destination receives it:
/// `<name>.part`, or `<name>.h<host>.part` for a straggler's copy on another host.
pub fn remote_part(name: &str, speculative_host: Option<usize>) -> String {
    match speculative_host {
        Some(h) => format!("{name}.h{h}.part"),
        None => format!("{name}.part"),
    }
}

/// A remote temporary name read back: the name it stands for as a regular
/// upload (`<name>.part`), and, when it has a straggler's form
/// (`<name>.h<host>.part`), that name and host too.
pub fn remote_part_of(part: &str) -> Option<(&str, Option<(&str, usize)>)> {
    let base = part.strip_suffix(".part")?;
    let straggler = base.rsplit_once(".h").and_then(|(b, h)| {
        h.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| h.parse().ok().map(|h| (b, h)))?
    });
    Some((base, straggler))
}

/// A file being written under its temporary name.
#[derive(Debug)]
pub struct AtomicFile {
    dest: PathBuf,
    part: PathBuf,
    out: Option<BufWriter<File>>,
}

impl AtomicFile {
    /// Creates (or truncates) `dest`'s temporary file.
    pub fn create(dest: &Path) -> anyhow::Result<AtomicFile> {
        let part = part_path(dest);
        let f = File::create(&part).with_context(|| format!("creating {}", part.display()))?;
        Ok(AtomicFile {
            dest: dest.to_path_buf(),
            part,
            out: Some(BufWriter::with_capacity(1 << 20, f)),
        })
    }

    /// The temporary file's path.
    pub fn part(&self) -> &Path {
        &self.part
    }

    /// Flushes, syncs and renames the file to its final name.
    pub fn commit(self) -> anyhow::Result<()> {
        self.commit_with(|_| Ok(()))
    }

    /// Like [`commit`](Self::commit), calling `f` on the flushed file before it is synced
    /// (to set its modification time, say).
    pub fn commit_with(mut self, f: impl FnOnce(&File) -> std::io::Result<()>) -> anyhow::Result<()> {
        let out = self.out.take().expect("committed once");
        let file = out
            .into_inner()
            .map_err(|e| e.into_error())
            .and_then(|file| f(&file).and_then(|()| file.sync_all()))
            .with_context(|| format!("writing {}", self.part.display()));
        if let Err(e) = file {
            let _ = std::fs::remove_file(&self.part);
            return Err(e);
        }
        std::fs::rename(&self.part, &self.dest).map_err(|e| {
            let _ = std::fs::remove_file(&self.part);
            anyhow::Error::new(e).context(format!("renaming {} to {}", self.part.display(), self.dest.display()))
        })
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.out.as_mut().expect("open until committed").write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.out.as_mut().expect("open until committed").write_all(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.as_mut().expect("open until committed").flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if let Some(out) = self.out.take() {
            // Not committed: the temporary file goes, unflushed.
            let _ = out.into_parts();
            let _ = std::fs::remove_file(&self.part);
        }
    }
}

/// Writes `bytes` to `dest` atomically.
pub fn write(dest: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut f = AtomicFile::create(dest)?;
    f.write_all(bytes)
        .with_context(|| format!("writing {}", f.part().display()))?;
    f.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_or_nothing() {
        let t = tempfile::tempdir().unwrap();
        let dest = t.path().join("a.txt");
        let mut f = AtomicFile::create(&dest).unwrap();
        f.write_all(b"hello").unwrap();
        assert!(!dest.exists() && t.path().join(".a.txt.part").exists());
        assert_eq!(part_of(".a.txt.part"), Some("a.txt"));
        assert_eq!(
            part_of("a.txt.part"),
            None,
            "a remote temporary name is not a local one"
        );
        f.commit().unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"hello");
        let mut g = AtomicFile::create(&dest).unwrap();
        g.write_all(b"half").unwrap();
        drop(g);
        assert_eq!(std::fs::read(&dest).unwrap(), b"hello");
        let names: Vec<_> = std::fs::read_dir(t.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, ["a.txt"]);
        write(&dest, b"again").unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"again");
        assert_eq!(remote_part_of(&remote_part("a.gz", None)), Some(("a.gz", None)));
        assert_eq!(
            remote_part_of(&remote_part("a.gz", Some(2))),
            Some(("a.gz.h2", Some(("a.gz", 2))))
        );
        assert_eq!(remote_part_of("a.gz"), None);
    }

    #[test]
    fn a_final_rename_that_fails_leaves_nothing() {
        let t = tempfile::tempdir().unwrap();
        // A non-empty directory where the file goes: the rename fails, as root too.
        std::fs::create_dir_all(t.path().join("a.txt/x")).unwrap();
        let mut f = AtomicFile::create(&t.path().join("a.txt")).unwrap();
        f.write_all(b"hello").unwrap();
        assert!(f.commit().is_err());
        let names: Vec<_> = std::fs::read_dir(t.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, ["a.txt"]);
    }
}
