//! What a built set says about itself: `manifest.json`, the record of a set
//! directory (inputs, counts, sets and files with their MD5), written last.
//! The `.verf` that consumers read is in `verf.rs`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::period::Batch;

/// The name of a set directory's manifest, written last.
pub const MANIFEST: &str = "manifest.json";

/// The manifest of the set directory `dir`.
pub fn manifest_path(dir: &Path) -> PathBuf {
    dir.join(MANIFEST)
}

/// Is the set directory `dir` complete (its manifest written)?
pub fn is_complete(dir: &Path) -> bool {
    manifest_path(dir).exists()
}

/// Row counts of one pass over the input. They always add up:
/// `rows_in = rows_out + filtered + rejected`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub rows_in: u64,
    pub rows_out: u64,
    pub filtered: u64,
    pub rejected: u64,
    /// Rows in which at least one character became `?` (unmappable = "replace").
    pub replaced_rows: u64,
    pub replaced_chars: u64,
    /// Input files that began with a UTF-8 byte order mark, which was stripped.
    #[serde(default)]
    pub bom_stripped: u64,
    /// Rows whose NUL bytes, or CRs (a CRLF line end, say), passed into the
    /// output: those the spec's `[clean] strip` does not take out.
    #[serde(default)]
    pub rows_with_nul: u64,
    #[serde(default)]
    pub rows_with_cr: u64,
}

impl Counts {
    pub fn add(&mut self, o: &Counts) {
        self.rows_in += o.rows_in;
        self.rows_out += o.rows_out;
        self.filtered += o.filtered;
        self.rejected += o.rejected;
        self.replaced_rows += o.replaced_rows;
        self.replaced_chars += o.replaced_chars;
        self.bom_stripped += o.bom_stripped;
        self.rows_with_nul += o.rows_with_nul;
        self.rows_with_cr += o.rows_with_cr;
    }

    pub fn balanced(&self) -> bool {
        self.rows_in == self.rows_out + self.filtered + self.rejected
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputEntry {
    pub name: String,
    pub size: u64,
}

/// One delivered data file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub name: String,
    pub rows: u64,
    /// Compressed size in bytes.
    pub bytes: u64,
    /// Lowercase hex MD5 of the compressed file.
    pub md5: String,
    /// When it was completed, `YYYYMMDDHHMMSS` local time (the `.verf` file time).
    pub time: String,
}

/// One set: the data files of one split value and batch, and their `.verf`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetEntry {
    /// The `split_by` value, or `None` when the spec does not split.
    pub split: Option<String>,
    pub batch: Batch,
    pub verf: String,
    pub rows: u64,
    pub files: Vec<FileEntry>,
}

/// `manifest.json`: one per directory of sets (an hour, or a day).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub chama_version: String,
    pub interface: String,
    /// `YYYYMMDDHH` for an hour, `YYYYMMDD` for a day.
    pub period: String,
    /// Which spec text built this (FNV-1a 64 of the file).
    pub spec_fingerprint: String,
    pub inputs: Vec<InputEntry>,
    pub counts: Counts,
    pub sets: Vec<SetEntry>,
    /// RFC 3339, local time.
    pub started: String,
    pub seconds: f64,
    /// A merged day: hours it was allowed to go without (`merge --allow-missing`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_hours: Vec<String>,
}

impl Manifest {
    /// How many data files its sets have.
    pub fn files(&self) -> usize {
        self.sets.iter().map(|s| s.files.len()).sum()
    }

    /// The compressed bytes of its sets' data files.
    pub fn bytes(&self) -> u64 {
        self.sets.iter().flat_map(|s| &s.files).map(|f| f.bytes).sum()
    }

    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        let mut json = serde_json::to_vec_pretty(self)?;
        json.push(b'\n');
        crate::atomic::write(&manifest_path(dir), &json)
    }

    pub fn read(dir: &Path) -> anyhow::Result<Manifest> {
        let p = manifest_path(dir);
        let text = std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?;
        serde_json::from_slice(&text).with_context(|| format!("parsing {}", p.display()))
    }
}
