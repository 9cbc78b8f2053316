//! What a built set says about itself: `manifest.json` and the `.verf`
//! verification file that downstream consumers read first.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// Widths of the `.verf` columns, from CONTRACT.md.
const VERF_NAME: usize = 48;
const VERF_NUMBER: usize = 20;

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
}

impl Counts {
    pub fn add(&mut self, o: &Counts) {
        self.rows_in += o.rows_in;
        self.rows_out += o.rows_out;
        self.filtered += o.filtered;
        self.rejected += o.rejected;
        self.replaced_rows += o.replaced_rows;
        self.replaced_chars += o.replaced_chars;
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
    pub batch: String,
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

/// The `.verf` text of a set: one fixed-width CRLF line per data file, in
/// sequence order.
pub fn verf_text(date: &str, files: &[FileEntry]) -> anyhow::Result<String> {
    let mut out = String::new();
    for f in files {
        anyhow::ensure!(
            f.name.len() <= VERF_NAME,
            "file name {} is {} characters, longer than the .verf's {VERF_NAME}-character column",
            f.name,
            f.name.len()
        );
        out.push_str(&format!(
            "{:<VERF_NAME$}{:>VERF_NUMBER$}{:>VERF_NUMBER$}{date}{}{}\r\n",
            f.name, f.bytes, f.rows, f.time, f.md5
        ));
    }
    Ok(out)
}

/// Writes `bytes` to `dir/name` through a temporary name in the same
/// directory, flushed before the rename: no reader ever sees half a file.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = dir.join(format!(".{name}.part"));
    let dest = dir.join(name);
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("writing {}", dest.display()));
    }
    std::fs::rename(&tmp, &dest).with_context(|| format!("renaming {} to {}", tmp.display(), dest.display()))
}

impl Manifest {
    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        let mut json = serde_json::to_vec_pretty(self)?;
        json.push(b'\n');
        write_atomic(dir, "manifest.json", &json)
    }

    pub fn read(dir: &Path) -> anyhow::Result<Manifest> {
        let p = dir.join("manifest.json");
        let text = std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?;
        serde_json::from_slice(&text).with_context(|| format!("parsing {}", p.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verf_lines_are_fixed_width_crlf() {
        let f = FileEntry {
            name: "a_10000_20241212_CM001_250_00_0001.dat.gz".into(),
            rows: 800_000,
            bytes: 41_234_567,
            md5: "0123456789abcdef0123456789abcdef".into(),
            time: "20241213010203".into(),
        };
        let text = verf_text("20241212", std::slice::from_ref(&f)).unwrap();
        assert_eq!(text.len(), 48 + 20 + 20 + 8 + 14 + 32 + 2);
        assert!(text.starts_with("a_10000_20241212_CM001_250_00_0001.dat.gz       "));
        assert!(text.contains("            41234567              800000"));
        assert!(text.ends_with("20241212202412130102030123456789abcdef0123456789abcdef\r\n"));
        let long = FileEntry {
            name: "x".repeat(49),
            ..f
        };
        assert!(verf_text("20241212", &[long])
            .unwrap_err()
            .to_string()
            .contains("longer than"));
    }
}
