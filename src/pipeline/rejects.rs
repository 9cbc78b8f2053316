//! Rejected input lines: streamed to `rejects/<iface>/<date>/<HH>.rej.gz`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

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
    pub(super) out: Option<flate2::write::GzEncoder<BufWriter<File>>>,
    /// The first few, for messages.
    pub(super) first: Vec<Reject>,
}

impl RejectSink<'_> {
    fn part(&self) -> Option<PathBuf> {
        let p = self.path?;
        Some(p.with_file_name(format!(".{}.part", p.file_name()?.to_string_lossy())))
    }

    pub(super) fn push(&mut self, file: &str, line: u64, reason: String, raw: &[u8]) -> anyhow::Result<()> {
        if self.out.is_none() {
            if let Some(part) = self.part() {
                std::fs::create_dir_all(part.parent().expect("rejects dir"))?;
                let f = File::create(&part).with_context(|| format!("creating {}", part.display()))?;
                self.out = Some(flate2::write::GzEncoder::new(
                    BufWriter::new(f),
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
        let part = self.part();
        match (self.out, part, self.path) {
            (Some(out), Some(part), Some(path)) => {
                let f = out.finish().with_context(|| format!("writing {}", part.display()))?;
                f.into_inner()
                    .map_err(|e| e.into_error())
                    .and_then(|f| f.sync_all())
                    .with_context(|| format!("writing {}", part.display()))?;
                std::fs::rename(&part, path).with_context(|| format!("renaming {}", part.display()))?;
            }
            (None, _, Some(path)) if path.exists() => {
                std::fs::remove_file(path).with_context(|| format!("removing stale {}", path.display()))?;
            }
            _ => {}
        }
        Ok(self.first)
    }
}
