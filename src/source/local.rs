//! The `local` source: an hour's dump is a directory under `root`.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::exit::Failure;

/// One input file of an hour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFile {
    pub path: PathBuf,
    /// The file name, for messages, rejects and manifests.
    pub name: String,
    pub size: u64,
}

/// Lists the data files of one hour's directory, in name order, after
/// checking that the hour is there and ready.
///
/// Names starting with `_` or `.` are Hive's and Hadoop's bookkeeping
/// (`_SUCCESS`, `.crc`) and are not data.
pub fn list_hour(dir: &Path, ready_marker: Option<&str>) -> anyhow::Result<Vec<InputFile>> {
    if !dir.is_dir() {
        return Err(Failure::NotReady(format!("no input for this hour: {} does not exist", dir.display())).into());
    }
    if let Some(marker) = ready_marker {
        if !dir.join(marker).exists() {
            return Err(Failure::NotReady(format!("hour not ready: no {marker} in {}", dir.display())).into());
        }
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('_') || name.starts_with('.') {
            continue;
        }
        let meta = entry
            .metadata()
            .with_context(|| format!("reading {}", entry.path().display()))?;
        if meta.is_file() {
            files.push(InputFile {
                path: entry.path(),
                name,
                size: meta.len(),
            });
        }
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    if files.is_empty() {
        return Err(Failure::NotReady(format!("hour is empty: no data files in {}", dir.display())).into());
    }
    Ok(files)
}
