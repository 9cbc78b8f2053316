//! Checking a set against its `.verf` (`chama verify`), on a destination or
//! on local disk: every file the `.verf` names is there with its size, and
//! the `.verf` names the manifest's files; with `deep`, every file is read
//! back and its MD5 and line count checked too.

use std::io::Write;

use md5::{Digest, Md5};
use serde::Serialize;

use crate::config::Config;
use crate::exit::Failure;
use crate::period::Period;
use crate::sink::local::LocalHost;
use crate::sink::{Conn, Destination, Host};
use crate::spec::Spec;
use crate::verf;

#[derive(Debug, Serialize)]
pub struct SetCheck {
    pub verf: String,
    pub files: usize,
    pub bytes: u64,
    pub problems: Vec<String>,
}

/// A period's sets, checked where they are.
pub struct Checked {
    /// Where: the destination and host, or the local directory.
    pub place: String,
    pub sets: Vec<SetCheck>,
}

/// Counts lines of what is written to it (the decompressed stream).
struct LineCount(u64);

impl Write for LineCount {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += memchr::memchr_iter(b'\n', buf).count() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Checks the period's sets against their `.verf`s on destination `dest`
/// (else in the work directory); `deep` reads every file back.
pub fn verify(
    config: &Config,
    spec: &Spec,
    period: &Period,
    dest: Option<&str>,
    deep: bool,
) -> anyhow::Result<Checked> {
    let (dir, manifest) = super::sets::read(config, &spec.name, period)?;
    let (place, mut conn): (String, Box<dyn Conn>) = match dest {
        Some(name) => {
            let dest = Destination::from_config(config, name, &spec.delivery.remote_dir)?;
            let (i, c) = dest
                .connect_any()
                .map_err(|e| Failure::Delivery(format!("verifying on `{name}`: {e:#}")))?;
            (format!("{name} ({})", dest.hosts[i].label()), c)
        }
        None => {
            let host = LocalHost::new(&dir);
            (dir.display().to_string(), host.connect()?)
        }
    };
    let listing = conn.list()?;
    let mut checks = Vec::new();
    for set in &manifest.sets {
        let mut check = SetCheck {
            verf: set.verf.clone(),
            files: 0,
            bytes: 0,
            problems: Vec::new(),
        };
        if !listing.contains_key(&set.verf) {
            check.problems.push(format!("{}: no such file", set.verf));
            checks.push(check);
            continue;
        }
        let mut text = Vec::new();
        conn.read(&set.verf, &mut |b| {
            text.extend_from_slice(b);
            Ok(())
        })?;
        let lines = match verf::parse(&text) {
            Ok(l) => l,
            Err(e) => {
                check.problems.push(format!("{}: {e}", set.verf));
                checks.push(check);
                continue;
            }
        };
        let listed: Vec<&str> = set.files.iter().map(|f| f.name.as_str()).collect();
        let named: Vec<&str> = lines.iter().map(|l| l.name.as_str()).collect();
        if listed != named {
            check
                .problems
                .push(format!("{} names other files than the manifest's set", set.verf));
        }
        for l in &lines {
            check.files += 1;
            check.bytes += l.bytes;
            match listing.get(&l.name) {
                None => check.problems.push(format!("{}: missing", l.name)),
                Some(&n) if n != l.bytes => check
                    .problems
                    .push(format!("{}: {n} bytes, the .verf says {}", l.name, l.bytes)),
                Some(_) if deep => {
                    let mut md5 = Md5::new();
                    let mut gz = flate2::write::MultiGzDecoder::new(LineCount(0));
                    let mut gz_err = None;
                    conn.read(&l.name, &mut |b| {
                        md5.update(b);
                        if gz_err.is_none() {
                            gz_err = gz.write_all(b).err();
                        }
                        Ok(())
                    })?;
                    let rows = gz.finish().map(|c| c.0);
                    let got = format!("{:x}", md5.finalize());
                    if got != l.md5 {
                        check
                            .problems
                            .push(format!("{}: MD5 {got}, the .verf says {}", l.name, l.md5));
                    }
                    match (gz_err, rows) {
                        (None, Ok(r)) if r == l.rows => {}
                        (None, Ok(r)) => check
                            .problems
                            .push(format!("{}: {r} lines, the .verf says {}", l.name, l.rows)),
                        (Some(e), _) | (None, Err(e)) => {
                            check.problems.push(format!("{}: not valid gzip: {e}", l.name))
                        }
                    }
                }
                Some(_) => {}
            }
        }
        checks.push(check);
    }
    Ok(Checked { place, sets: checks })
}
