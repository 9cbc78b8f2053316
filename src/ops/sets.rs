//! A period's sets: read from the manifest of their directory (an hour under
//! `hourly/`, a merged day under `out/`) and checked against the files on
//! disk before anything is sent or verified. Also what a day's sets say
//! about it: the batch it is delivered under, its rows and files.

use std::path::{Path, PathBuf};

use anyhow::Context;
use md5::{Digest, Md5};

use crate::config::Config;
use crate::exit::Failure;
use crate::manifest::Manifest;
use crate::period::{Batch, Day, Period};
use crate::sink::deliver::{Item, SetItems};
use crate::workdir::{is_complete, manifest_path};

/// The directory and manifest of the period's sets, or exit 3 when they are
/// not built (an hour) or merged (a day) yet.
pub fn read(config: &Config, iface: &str, period: &Period) -> anyhow::Result<(PathBuf, Manifest)> {
    let dir = config.work().set_dir(iface, period);
    if !is_complete(&dir) {
        let what = if period.hour.is_some() {
            "built (run `chama build`)"
        } else {
            "merged (run `chama merge`)"
        };
        return Err(Failure::NotReady(format!(
            "{iface} {period} is not {what}: no {}",
            manifest_path(&dir).display()
        ))
        .into());
    }
    let m = Manifest::read(&dir)?;
    Ok((dir, m))
}

/// The MD5 (lowercase hex) and size of a local file.
pub fn md5_file(path: &Path) -> anyhow::Result<(String, u64)> {
    let f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut h = Md5::new();
    let n = std::io::copy(&mut std::io::BufReader::with_capacity(1 << 20, f), &mut h)
        .with_context(|| format!("reading {}", path.display()))?;
    Ok((format!("{:x}", h.finalize()), n))
}

/// The files to deliver, checked against the manifest: a local file missing
/// or of another size is an error (the set must be built again), never sent.
pub fn items(dir: &Path, m: &Manifest) -> anyhow::Result<Vec<SetItems>> {
    let mut sets = Vec::new();
    for s in &m.sets {
        let mut files = Vec::new();
        for f in &s.files {
            let local = dir.join(&f.name);
            let size = std::fs::metadata(&local)
                .with_context(|| format!("{}: listed in the manifest but missing", local.display()))?
                .len();
            anyhow::ensure!(
                size == f.bytes,
                "{} is {size} bytes, the manifest says {}: build the period again",
                local.display(),
                f.bytes
            );
            files.push(Item {
                local,
                name: f.name.clone(),
                size,
                md5: f.md5.clone(),
            });
        }
        let local = dir.join(&s.verf);
        let (md5, size) = md5_file(&local)?;
        sets.push(SetItems {
            files,
            verf: Item {
                local,
                name: s.verf.clone(),
                size,
                md5,
            },
        });
    }
    Ok(sets)
}

/// The highest batch among a day's sets (hourly and merged), if any.
pub fn current_batch(config: &Config, iface: &str, date: Day) -> Option<Batch> {
    let work = config.work();
    let day = Manifest::read(&work.out_dir(iface, date)).ok();
    day.into_iter()
        .chain(work.built_hours(iface, date).into_iter().map(|(_, _, m)| m))
        .flat_map(|m| m.sets.into_iter().map(|s| s.batch))
        .max()
}

/// Rows out and data files of a manifest's sets.
pub fn totals(m: &Manifest) -> (u64, u64) {
    (m.counts.rows_out, m.files() as u64)
}

/// The names of a manifest's data files (and, with `verfs`, its `.verf`s).
pub fn names(m: &Manifest, verfs: bool) -> impl Iterator<Item = String> + '_ {
    m.sets.iter().flat_map(move |s| {
        s.files
            .iter()
            .map(|f| f.name.clone())
            .chain(verfs.then(|| s.verf.clone()))
    })
}

/// Writes the `.verf` and `manifest.json` of a set whose data files (each
/// with its line count) are already in `dir`, as a build does after its
/// files: for sets made by other means (test fixtures, benchmarks).
pub fn seal(
    dir: &Path,
    iface: &str,
    period: &Period,
    verf_name: &str,
    files: &[(String, u64)],
) -> anyhow::Result<Manifest> {
    use crate::manifest::{Counts, FileEntry, SetEntry};
    let time = crate::verf::file_time(crate::verf::fixed_time()?.as_deref());
    let mut entries = Vec::new();
    for (name, rows) in files {
        let (md5, bytes) = md5_file(&dir.join(name))?;
        entries.push(FileEntry {
            name: name.clone(),
            rows: *rows,
            bytes,
            md5,
            time: time.clone(),
        });
    }
    crate::atomic::write(
        &dir.join(verf_name),
        crate::verf::text(period.day(), &entries)?.as_bytes(),
    )?;
    let rows: u64 = entries.iter().map(|e| e.rows).sum();
    let m = Manifest {
        chama_version: env!("CARGO_PKG_VERSION").to_string(),
        interface: iface.to_string(),
        period: period.to_string(),
        spec_fingerprint: String::new(),
        inputs: Vec::new(),
        counts: Counts {
            rows_in: rows,
            rows_out: rows,
            ..Counts::default()
        },
        sets: vec![SetEntry {
            split: None,
            batch: Batch::FIRST,
            verf: verf_name.to_string(),
            rows,
            files: entries,
        }],
        started: chrono::Local::now().to_rfc3339(),
        seconds: 0.0,
        missing_hours: Vec::new(),
    };
    m.write(dir)?;
    Ok(m)
}
