//! Rejected input lines: streamed to `rejects/<iface>/<date>/<HH>.rej.gz`.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

use crate::atomic::AtomicFile;

/// One rejected input line, as kept for messages.
pub struct Reject {
    pub file: String,
    pub line: u64,
    pub reason: String,
}

/// Rejected lines, streamed to a gzip file as `file<TAB>line<TAB>reason<TAB>raw line`,
/// written under a temporary name and renamed when the hour ends.
pub(super) struct RejectSink<'a> {
    pub(super) path: Option<&'a Path>,
    pub(super) out: Option<flate2::write::GzEncoder<AtomicFile>>,
    /// The first few, for messages.
    pub(super) first: Vec<Reject>,
}

impl RejectSink<'_> {
    pub(super) fn push(&mut self, file: &str, line: u64, reason: String, raw: &[u8]) -> anyhow::Result<()> {
        if self.out.is_none() {
            if let Some(path) = self.path {
                let dir = path.parent().expect("rejects dir");
                std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
                self.out = Some(flate2::write::GzEncoder::new(
                    AtomicFile::create(path)?,
                    flate2::Compression::new(6),
                ));
            }
        }
        if let Some(out) = &mut self.out {
            write!(out, "{file}\t{line}\t{reason}\t")?;
            out.write_all(raw)?;
            out.write_all(b"\n")?;
        }
        if self.first.len() < 5 {
            self.first.push(Reject {
                file: file.to_string(),
                line,
                reason,
            });
        }
        Ok(())
    }

    /// Finishes the rejects file; with no reject, removes an older one of the same hour.
    pub(super) fn finish(self) -> anyhow::Result<Vec<Reject>> {
        match (self.out, self.path) {
            (Some(out), Some(path)) => {
                let f = out.finish().with_context(|| format!("writing {}", path.display()))?;
                f.commit()?;
            }
            (None, Some(path)) if path.exists() => {
                std::fs::remove_file(path).with_context(|| format!("removing stale {}", path.display()))?;
            }
            _ => {}
        }
        Ok(self.first)
    }
}
