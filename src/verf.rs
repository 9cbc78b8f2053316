//! The `.verf` verification file, written and read here only (CONTRACT.md):
//! one fixed-width line per data file, in sequence order, CRLF-terminated:
//! name (48, left-aligned), bytes (20, right-aligned), rows (20), the data
//! date (`YYYYMMDD`), the file time (`YYYYMMDDHHMMSS`) and the MD5 (32 hex).

use crate::exit::Failure;
use crate::manifest::FileEntry;
use crate::period::Day;

/// The name column.
pub const NAME: usize = 48;
/// The bytes and rows columns.
pub const NUMBER: usize = 20;
const DATE: usize = 8;
const TIME: usize = 14;
const MD5: usize = 32;
/// A line without its CRLF.
pub const LINE: usize = NAME + 2 * NUMBER + DATE + TIME + MD5;

/// One line of a `.verf`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerfLine {
    pub name: String,
    pub bytes: u64,
    pub rows: u64,
    pub date: String,
    pub time: String,
    pub md5: String,
}

/// The `.verf` text of a set's files (data date `date`).
pub fn text(date: Day, files: &[FileEntry]) -> anyhow::Result<String> {
    let mut out = String::new();
    for f in files {
        anyhow::ensure!(
            f.name.len() <= NAME,
            "file name {} is {} characters, longer than the .verf's {NAME}-character column",
            f.name,
            f.name.len()
        );
        out.push_str(&format!(
            "{:<NAME$}{:>NUMBER$}{:>NUMBER$}{date}{}{}\r\n",
            f.name, f.bytes, f.rows, f.time, f.md5
        ));
    }
    Ok(out)
}

/// Parses a `.verf`.
pub fn parse(text: &[u8]) -> Result<Vec<VerfLine>, String> {
    let text = std::str::from_utf8(text).map_err(|_| "the .verf is not ASCII".to_string())?;
    let mut out = Vec::new();
    for (i, line) in text.split_terminator("\r\n").enumerate() {
        let bad = |what: &str| format!("line {}: {what}: {line:?}", i + 1);
        if line.len() != LINE || !line.is_ascii() {
            return Err(bad(&format!("not a {LINE}-character .verf line")));
        }
        let num = |s: &str| s.trim().parse::<u64>().map_err(|_| bad("bad number"));
        let mut at = 0;
        let mut col = |w: usize| {
            at += w;
            &line[at - w..at]
        };
        out.push(VerfLine {
            name: col(NAME).trim_end().to_string(),
            bytes: num(col(NUMBER))?,
            rows: num(col(NUMBER))?,
            date: col(DATE).to_string(),
            time: col(TIME).to_string(),
            md5: col(MD5).to_string(),
        });
    }
    Ok(out)
}

/// The file time of every line, when `SOURCE_DATE_EPOCH` fixes it (for
/// reproducible builds); else each file's completion time is used.
pub fn fixed_time() -> anyhow::Result<Option<String>> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(s) if !s.is_empty() => {
            let secs: i64 = s
                .parse()
                .map_err(|_| Failure::Usage(format!("SOURCE_DATE_EPOCH `{s}` is not a number")))?;
            let t = chrono::DateTime::from_timestamp(secs, 0)
                .ok_or_else(|| Failure::Usage(format!("SOURCE_DATE_EPOCH `{s}` is out of range")))?;
            Ok(Some(t.with_timezone(&chrono::Local).format("%Y%m%d%H%M%S").to_string()))
        }
        _ => Ok(None),
    }
}

/// A file time: `fixed`, else now.
pub fn file_time(fixed: Option<&str>) -> String {
    fixed
        .map(str::to_string)
        .unwrap_or_else(|| chrono::Local::now().format("%Y%m%d%H%M%S").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bundled test day.
    fn day() -> Day {
        "20241212".parse().unwrap()
    }

    fn entry(name: &str) -> FileEntry {
        FileEntry {
            name: name.into(),
            rows: 800_000,
            bytes: 41_234_567,
            md5: "0123456789abcdef0123456789abcdef".into(),
            time: "20241213010203".into(),
        }
    }

    #[test]
    fn lines_are_fixed_width_crlf() {
        let f = entry("a_10000_20241212_CM001_250_00_0001.dat.gz");
        let text = text(day(), std::slice::from_ref(&f)).unwrap();
        assert_eq!(text.len(), LINE + 2);
        assert!(text.starts_with("a_10000_20241212_CM001_250_00_0001.dat.gz       "));
        assert!(text.contains("            41234567              800000"));
        assert!(text.ends_with("20241212202412130102030123456789abcdef0123456789abcdef\r\n"));
        let long = entry(&"x".repeat(NAME + 1));
        assert!(super::text(day(), &[long])
            .unwrap_err()
            .to_string()
            .contains("longer than"));
    }

    #[test]
    fn round_trip() {
        let files = [entry("a_20241212_CM001_00_0001.dat.gz"), entry(&"y".repeat(NAME))];
        let lines = parse(text(day(), &files).unwrap().as_bytes()).unwrap();
        assert_eq!(lines.len(), 2);
        for (l, f) in lines.iter().zip(&files) {
            assert_eq!(
                l,
                &VerfLine {
                    name: f.name.clone(),
                    bytes: f.bytes,
                    rows: f.rows,
                    date: "20241212".into(),
                    time: f.time.clone(),
                    md5: f.md5.clone(),
                }
            );
        }
        assert!(parse(b"short\r\n").is_err());
    }
}
