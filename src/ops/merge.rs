//! Merging a day: its hourly sets become the daily set(s) under `out/`.
//!
//! Files are renumbered in hour order (hour 00's first) and hard-linked under
//! their daily names: no file is read, let alone recompressed, so merging a
//! day takes as long as making a few thousand links. Each hour ends on a
//! partial file, as the team's real deliveries do; `compact` re-splits those
//! tails into full files (the only recompression a merge does). The day is
//! a set directory like an hour's (`setdir.rs`): built hidden, committed
//! whole; every hour must be complete unless the caller allows it to be missing.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use serde::Serialize;

use super::sets::md5_file;
use crate::atomic::AtomicFile;
use crate::config::Config;
use crate::exit::Failure;
use crate::manifest::{Counts, FileEntry, InputEntry, Manifest, SetEntry};
use crate::period::{Batch, Day};
use crate::setdir::SetDir;
use crate::spec::{Spec, Vars};
use crate::verf;
use crate::workdir::hh;

/// A set of the day: its split value and batch.
type SetKey = (Option<String>, Batch);

/// A complete hour of the day (`HH`) and its manifest.
type HourSets = (String, Manifest);

/// How to merge.
#[derive(Default)]
pub struct MergeOptions<'a> {
    /// Hours the day may go without; the manifest records them.
    pub allow_missing: Vec<u8>,
    /// Re-split the hours' partial last files into full files.
    pub compact: bool,
    /// A dry run: change nothing; the links and `.verf`s it would write are described here.
    pub plan: Option<&'a mut dyn Write>,
    /// No line on stderr (the caller prints a summary).
    pub quiet: bool,
}

/// What a merge made.
#[derive(Debug, Serialize)]
pub struct Merged {
    pub hours: usize,
    pub missing_hours: Vec<String>,
    pub sets: usize,
    pub files: usize,
    pub bytes: u64,
    pub rows: u64,
    pub seconds: f64,
}

/// Merges the day `date` (`YYYYMMDD`) of `spec`'s interface.
pub fn merge(config: &Config, spec: &Spec, date: Day, opts: &mut MergeOptions<'_>) -> anyhow::Result<Merged> {
    let started = Instant::now();
    let work = config.work();
    let (hours, missing) = complete_hours(&work, spec, date, &opts.allow_missing)?;

    // The day's sets: each split value and batch, its files in hour order.
    let mut groups: BTreeMap<SetKey, Vec<(&str, &FileEntry)>> = BTreeMap::new();
    let mut counts = Counts::default();
    for (hh, m) in &hours {
        counts.add(&m.counts);
        for s in &m.sets {
            let g = groups.entry((s.split.clone(), s.batch)).or_default();
            g.extend(s.files.iter().map(|f| (hh.as_str(), f)));
        }
    }

    // Built hidden and swapped in whole; dropped on an error, gone.
    let set = match opts.plan.is_some() {
        true => None,
        false => Some(SetDir::day(&work, &spec.name, date)?),
    };
    let day = DaySets {
        spec,
        date,
        hourly: work.hourly_day_dir(&spec.name, date),
        out: work.out_dir(&spec.name, date),
        compact: opts.compact,
        dir: set.as_ref().map(SetDir::path),
    };
    let mut sets = Vec::new();
    for (key, files) in &groups {
        sets.push(day.merge_set(key, files, &mut opts.plan)?);
    }
    let manifest = Manifest {
        chama_version: env!("CARGO_PKG_VERSION").to_string(),
        interface: spec.name.clone(),
        period: date.to_string(),
        spec_fingerprint: spec.fingerprint.clone(),
        inputs: hours
            .iter()
            .map(|(hh, m)| InputEntry {
                name: format!("hourly/{hh}"),
                size: m.bytes(),
            })
            .collect(),
        counts,
        sets,
        started: chrono::Local::now().to_rfc3339(),
        seconds: started.elapsed().as_secs_f64(),
        missing_hours: missing.clone(),
    };
    if let Some(set) = set {
        set.commit(&manifest)?;
    }
    let merged = Merged {
        hours: hours.len(),
        missing_hours: missing,
        sets: manifest.sets.len(),
        files: manifest.files(),
        bytes: manifest.bytes(),
        rows: counts.rows_out,
        seconds: started.elapsed().as_secs_f64(),
    };
    if !opts.quiet {
        say_merged(spec, date, &merged, opts.compact);
    }
    Ok(merged)
}

/// The day's complete hours with their manifests, and the hours missing (an error
/// unless `allow_missing` names each of them).
fn complete_hours(
    work: &crate::workdir::WorkDir<'_>,
    spec: &Spec,
    date: Day,
    allow_missing: &[u8],
) -> anyhow::Result<(Vec<HourSets>, Vec<String>)> {
    // Every hour must be there and complete: its manifest is written last and swapped in with it.
    let mut hours = Vec::new();
    let mut missing = Vec::new();
    for h in 0..24u8 {
        let dir = work.hour_dir(&spec.name, date, h);
        if crate::workdir::is_complete(&dir) {
            hours.push((hh(h), Manifest::read(&dir)?));
        } else {
            missing.push(hh(h));
        }
    }
    let allowed: Vec<String> = allow_missing.iter().map(|&h| hh(h)).collect();
    let refused: Vec<&String> = missing.iter().filter(|h| !allowed.contains(h)).collect();
    if !refused.is_empty() {
        let list: Vec<&str> = refused.iter().map(|s| s.as_str()).collect();
        return Err(Failure::NotReady(format!(
            "cannot merge {} {date}: hour(s) {} not built or not complete in {} (build them, or --allow-missing {})",
            spec.name,
            list.join(", "),
            work.hourly_day_dir(&spec.name, date).display(),
            list.join(",")
        ))
        .into());
    }
    let fingerprints: std::collections::BTreeSet<&str> =
        hours.iter().map(|(_, m)| m.spec_fingerprint.as_str()).collect();
    if fingerprints.len() > 1 {
        crate::say_warn!(
            "{} {date}: the hours were built by {} versions of the spec",
            spec.name,
            fingerprints.len()
        );
    }
    Ok((hours, missing))
}

/// Where a day's sets come from and go.
struct DaySets<'a> {
    spec: &'a Spec,
    date: Day,
    /// `hourly/<iface>/<date>/`.
    hourly: PathBuf,
    /// `out/<iface>/<date>/`, as the plan names it.
    out: PathBuf,
    compact: bool,
    /// The day's hidden directory; none in a dry run.
    dir: Option<&'a Path>,
}

impl DaySets<'_> {
    /// One set of the day (a split value and batch) from its hours' `files`: linked
    /// under daily names (tails re-split when compacting), its `.verf` last; or, in a
    /// dry run, the plan of it.
    fn merge_set(
        &self,
        (split, batch): &SetKey,
        files: &[(&str, &FileEntry)],
        plan: &mut Option<&mut dyn Write>,
    ) -> anyhow::Result<SetEntry> {
        let spec = self.spec;
        let vars = |seq: Option<u64>| Vars {
            date: Some(self.date),
            hour: None,
            split: split.as_deref(),
            batch: Some(*batch),
            seq,
            seq_width: spec.output.seq_width,
        };
        let name_of = |seq: u64| {
            spec.output
                .file_name
                .render(&vars(Some(seq)))
                .map_err(Failure::BadInput)
        };
        let lpf = spec.output.lines_per_file;
        // --compact: full files are linked, the hours' tails re-split after them.
        let (linked, tails): (Vec<_>, Vec<_>) = match self.compact {
            true => files.iter().partition(|(_, f)| f.rows == lpf),
            false => (files.iter().collect(), Vec::new()),
        };
        let mut entries = Vec::new();
        for (hh, f) in &linked {
            crate::signals::check()?;
            let name = name_of(entries.len() as u64 + 1)?;
            let from = self.hourly.join(hh).join(&f.name);
            if let Some(so) = plan.as_mut() {
                writeln!(
                    so,
                    "would link {} as {}",
                    from.display(),
                    self.out.join(&name).display()
                )?;
            } else if let Some(dir) = self.dir {
                link(&from, &dir.join(&name))?;
            }
            entries.push(FileEntry { name, ..(*f).clone() });
        }
        if !tails.is_empty() {
            let sources: Vec<PathBuf> = tails.iter().map(|(hh, f)| self.hourly.join(hh).join(&f.name)).collect();
            let first = entries.len() as u64 + 1;
            if let Some(so) = plan.as_mut() {
                let rows: u64 = tails.iter().map(|(_, f)| f.rows).sum();
                writeln!(
                    so,
                    "would re-split {} hour tail(s), {rows} rows, into files from {}",
                    tails.len(),
                    self.out.join(name_of(first)?).display()
                )?;
            } else if let Some(dir) = self.dir {
                entries.extend(compact_tails(
                    &sources,
                    dir,
                    first,
                    lpf,
                    spec.output.gzip_level,
                    &name_of,
                )?);
            }
        }
        let verf = spec.output.verf_name.render(&vars(None)).map_err(Failure::Usage)?;
        let text = verf::text(self.date, &entries)?;
        if let Some(so) = plan.as_mut() {
            writeln!(so, "would write {}:", self.out.join(&verf).display())?;
            so.write_all(text.as_bytes())?;
        } else if let Some(dir) = self.dir {
            crate::atomic::write(&dir.join(&verf), text.as_bytes())?;
        }
        Ok(SetEntry {
            split: split.clone(),
            batch: *batch,
            verf,
            rows: entries.iter().map(|e| e.rows).sum(),
            files: entries,
        })
    }
}

/// The line a merge says on stderr.
fn say_merged(spec: &Spec, date: Day, merged: &Merged, compact: bool) {
    crate::say!(
        "merged {} {date}: {} hour(s){}, {} set(s), {} file(s), {} bytes, {}, {:.2} s",
        spec.name,
        merged.hours,
        if merged.missing_hours.is_empty() {
            String::new()
        } else {
            format!(" (missing, allowed: {})", merged.missing_hours.join(","))
        },
        merged.sets,
        merged.files,
        merged.bytes,
        if compact {
            "hour tails re-split"
        } else {
            "all linked, none recompressed"
        },
        merged.seconds
    );
}

/// Re-splits the hours' tail files (in order) into files of `lpf` lines,
/// numbered from `first`: the only recompression a merge ever does.
fn compact_tails(
    sources: &[PathBuf],
    dir: &Path,
    first: u64,
    lpf: u64,
    level: u32,
    name_of: &dyn Fn(u64) -> Result<String, Failure>,
) -> anyhow::Result<Vec<FileEntry>> {
    let time = verf::file_time(verf::fixed_time()?.as_deref());
    let mut out = Vec::new();
    type Open = (String, flate2::write::GzEncoder<AtomicFile>, u64);
    let mut cur: Option<Open> = None;
    let mut lines_read = 0u64;
    let finish = |(name, enc, rows): Open| {
        enc.finish().with_context(|| format!("compressing {name}"))?.commit()?;
        let (md5, bytes) = md5_file(&dir.join(&name))?;
        anyhow::Ok(FileEntry {
            name,
            rows,
            bytes,
            md5,
            time: time.clone(),
        })
    };
    let mut seq = first;
    for src in sources {
        let f = std::fs::File::open(src).with_context(|| format!("opening {}", src.display()))?;
        let mut r = std::io::BufReader::with_capacity(1 << 20, flate2::read::MultiGzDecoder::new(f));
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = r
                .read_until(b'\n', &mut line)
                .with_context(|| format!("reading {}", src.display()))?;
            if n == 0 {
                break;
            }
            lines_read += 1;
            if lines_read.is_multiple_of(4096) {
                crate::signals::check()?;
            }
            if cur.is_none() {
                let name = name_of(seq)?;
                seq += 1;
                let enc = flate2::GzBuilder::new()
                    .mtime(0)
                    .write(AtomicFile::create(&dir.join(&name))?, flate2::Compression::new(level));
                cur = Some((name, enc, 0));
            }
            let (name, enc, rows) = cur.as_mut().expect("open");
            enc.write_all(&line).with_context(|| format!("writing {name}"))?;
            *rows += 1;
            if *rows == lpf {
                out.push(finish(cur.take().expect("open"))?);
            }
        }
    }
    if let Some(open) = cur.take() {
        out.push(finish(open)?);
    }
    Ok(out)
}

/// A hard link; a copy where the filesystem cannot link.
fn link(from: &Path, to: &Path) -> anyhow::Result<()> {
    match std::fs::hard_link(from, to) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::CrossesDevices || e.raw_os_error() == Some(1) => {
            let mut f = AtomicFile::create(to)?;
            let mut r = std::fs::File::open(from).with_context(|| format!("opening {}", from.display()))?;
            std::io::copy(&mut r, &mut f).with_context(|| format!("copying {}", from.display()))?;
            f.commit()
        }
        Err(e) => Err(e).with_context(|| format!("linking {} as {}", from.display(), to.display())),
    }
}
