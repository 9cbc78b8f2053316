//! `chama merge`: a day's hourly sets become the daily set(s) under `out/`.
//!
//! Files are renumbered in hour order (hour 00's first) and hard-linked under
//! their daily names: no file is read, let alone recompressed, so merging a
//! day takes as long as making a few thousand links. Each hour ends on a
//! partial file, as the team's real deliveries do. The day is built in a
//! hidden directory and swapped in whole, like an hour.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;

use crate::cli::MergeArgs;
use crate::config::Config;
use crate::exit::{Code, Failure};
use crate::manifest::{verf_text, write_atomic, Counts, FileEntry, InputEntry, Manifest, SetEntry};
use crate::period::Period;
use crate::spec::{self, Vars};

/// A set of the day: its split value and batch.
type SetKey = (Option<String>, String);

/// Parses `--allow-missing 03,04`.
fn hours_list(s: &str) -> Result<Vec<String>, String> {
    s.split(',')
        .filter(|h| !h.trim().is_empty())
        .map(|h| {
            let h = h.trim();
            match h.parse::<u8>() {
                Ok(n) if n < 24 && h.len() == 2 => Ok(h.to_string()),
                _ => Err(format!("--allow-missing takes hours as HH,HH,... (00-23), not `{h}`")),
            }
        })
        .collect()
}

/// Merges a whole day as `run` and `rerun` do: every hour required, tails linked as they are.
pub fn merge_day(config: &Config, iface: &str, date: &str) -> anyhow::Result<Code> {
    merge(
        config,
        &MergeArgs {
            iface: iface.to_string(),
            period: date.to_string(),
            allow_missing: None,
            compact: false,
            dry_run: false,
            json: false,
        },
    )
}

pub fn merge(config: &Config, args: &MergeArgs) -> anyhow::Result<Code> {
    let started = Instant::now();
    let spec = spec::load(&config.spec_path(&args.iface), &config.names())?;
    let period: Period = args.period.parse().map_err(Failure::Usage)?;
    if period.hour.is_some() {
        return Err(Failure::Usage(format!("merge takes a day (YYYYMMDD), not the hour {period}")).into());
    }
    let allowed = hours_list(args.allow_missing.as_deref().unwrap_or("")).map_err(Failure::Usage)?;
    let date = period.date_str();
    let hourly = config.hourly_day_dir(&spec.name, &date);

    // Every hour must be there and complete: its manifest is written last and swapped in with it.
    let mut hours = Vec::new();
    let mut missing = Vec::new();
    for h in 0..24u8 {
        let hh = format!("{h:02}");
        let dir = hourly.join(&hh);
        if dir.join("manifest.json").exists() {
            hours.push((hh, Manifest::read(&dir)?));
        } else {
            missing.push(hh);
        }
    }
    let refused: Vec<&String> = missing.iter().filter(|h| !allowed.contains(h)).collect();
    if !refused.is_empty() {
        let list: Vec<&str> = refused.iter().map(|s| s.as_str()).collect();
        return Err(Failure::NotReady(format!(
            "cannot merge {} {date}: hour(s) {} not built or not complete in {} (build them, or --allow-missing {})",
            spec.name,
            list.join(", "),
            hourly.display(),
            list.join(",")
        ))
        .into());
    }
    let fingerprints: std::collections::BTreeSet<&str> =
        hours.iter().map(|(_, m)| m.spec_fingerprint.as_str()).collect();
    if fingerprints.len() > 1 {
        crate::say!(
            "chama: warning: {} {date}: the hours were built by {} versions of the spec",
            spec.name,
            fingerprints.len()
        );
    }

    // The day's sets: each split value and batch, its files in hour order.
    let mut groups: BTreeMap<SetKey, Vec<(&str, &FileEntry)>> = BTreeMap::new();
    let mut counts = Counts::default();
    for (hh, m) in &hours {
        counts.add(&m.counts);
        for s in &m.sets {
            let g = groups.entry((s.split.clone(), s.batch.clone())).or_default();
            g.extend(s.files.iter().map(|f| (hh.as_str(), f)));
        }
    }

    let out = config.out_dir(&spec.name, &date);
    let parent = out.parent().expect("out/<iface>/<date>");
    let building = parent.join(format!(".{date}.building-{}", std::process::id()));
    if !args.dry_run {
        super::remove_stale(parent, &date)?;
        std::fs::create_dir_all(&building).with_context(|| format!("creating {}", building.display()))?;
    }
    let result = (|| -> anyhow::Result<Vec<SetEntry>> {
        let mut sets = Vec::new();
        let stdout = std::io::stdout();
        let mut so = stdout.lock();
        for ((split, batch), files) in &groups {
            let name_of = |seq: u64| {
                let vars = Vars {
                    date: &date,
                    hour: None,
                    split: split.as_deref(),
                    batch: Some(batch),
                    seq: Some(seq),
                    seq_width: spec.output.seq_width,
                };
                spec.output.file_name.render(&vars).map_err(Failure::BadInput)
            };
            let lpf = spec.output.lines_per_file;
            // --compact: full files are linked, the hours' tails re-split after them.
            let (linked, tails): (Vec<_>, Vec<_>) = if args.compact {
                files.iter().partition(|(_, f)| f.rows == lpf)
            } else {
                (files.iter().collect(), Vec::new())
            };
            let mut entries = Vec::new();
            for (hh, f) in &linked {
                let name = name_of(entries.len() as u64 + 1)?;
                let from = hourly.join(hh).join(&f.name);
                if args.dry_run {
                    writeln!(so, "would link {} as {}", from.display(), out.join(&name).display())?;
                } else {
                    link(&from, &building.join(&name))?;
                }
                entries.push(FileEntry { name, ..(*f).clone() });
            }
            if !tails.is_empty() {
                let sources: Vec<std::path::PathBuf> =
                    tails.iter().map(|(hh, f)| hourly.join(hh).join(&f.name)).collect();
                let first = entries.len() as u64 + 1;
                if args.dry_run {
                    let rows: u64 = tails.iter().map(|(_, f)| f.rows).sum();
                    writeln!(
                        so,
                        "would re-split {} hour tail(s), {rows} rows, into files from {}",
                        tails.len(),
                        out.join(name_of(first)?).display()
                    )?;
                } else {
                    entries.extend(compact_tails(
                        &sources,
                        &building,
                        first,
                        lpf,
                        spec.output.gzip_level,
                        &name_of,
                    )?);
                }
            }
            let vars = Vars {
                date: &date,
                hour: None,
                split: split.as_deref(),
                batch: Some(batch),
                seq: None,
                seq_width: spec.output.seq_width,
            };
            let verf = spec.output.verf_name.render(&vars).map_err(Failure::Usage)?;
            let text = verf_text(&date, &entries)?;
            if args.dry_run {
                writeln!(so, "would write {}:", out.join(&verf).display())?;
                so.write_all(text.as_bytes())?;
            } else {
                write_atomic(&building, &verf, text.as_bytes())?;
            }
            sets.push(SetEntry {
                split: split.clone(),
                batch: batch.clone(),
                verf,
                rows: entries.iter().map(|e| e.rows).sum(),
                files: entries,
            });
        }
        Ok(sets)
    })();
    let sets = match result {
        Ok(s) => s,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&building);
            return Err(e);
        }
    };
    let manifest = Manifest {
        chama_version: env!("CARGO_PKG_VERSION").to_string(),
        interface: spec.name.clone(),
        period: date.clone(),
        spec_fingerprint: spec.fingerprint.clone(),
        inputs: hours
            .iter()
            .map(|(hh, m)| InputEntry {
                name: format!("hourly/{hh}"),
                size: m.sets.iter().flat_map(|s| &s.files).map(|f| f.bytes).sum(),
            })
            .collect(),
        counts,
        sets,
        started: chrono::Local::now().to_rfc3339(),
        seconds: started.elapsed().as_secs_f64(),
        missing_hours: missing.clone(),
    };
    let files: usize = manifest.sets.iter().map(|s| s.files.len()).sum();
    let bytes: u64 = manifest.sets.iter().flat_map(|s| &s.files).map(|f| f.bytes).sum();
    if !args.dry_run {
        manifest.write(&building)?;
        super::swap_in(&building, &out)?;
    }
    if args.json {
        println!(
            "{}",
            serde_json::json!({"command": "merge", "interface": spec.name, "period": date, "code": 0,
                "dry_run": args.dry_run, "hours": hours.len(), "missing_hours": missing, "sets": manifest.sets.len(),
                "files": files, "bytes": bytes, "rows": counts.rows_out, "seconds": started.elapsed().as_secs_f64()})
        );
    } else {
        crate::say!(
            "chama: merged {} {date}: {} hour(s){}, {} set(s), {files} file(s), {bytes} bytes, {}, {:.2} s",
            spec.name,
            hours.len(),
            if missing.is_empty() {
                String::new()
            } else {
                format!(" (missing, allowed: {})", missing.join(","))
            },
            manifest.sets.len(),
            if args.compact {
                "hour tails re-split"
            } else {
                "all linked, none recompressed"
            },
            started.elapsed().as_secs_f64()
        );
    }
    Ok(Code::Ok)
}

/// Re-splits the hours' tail files (in order) into files of `lpf` lines,
/// numbered from `first`: the only recompression a merge ever does.
fn compact_tails(
    sources: &[std::path::PathBuf],
    dir: &Path,
    first: u64,
    lpf: u64,
    level: u32,
    name_of: &dyn Fn(u64) -> Result<String, Failure>,
) -> anyhow::Result<Vec<FileEntry>> {
    use std::io::BufRead;
    let time = match super::build::fixed_time()? {
        Some(t) => t,
        None => chrono::Local::now().format("%Y%m%d%H%M%S").to_string(),
    };
    let mut out = Vec::new();
    let mut cur: Option<(String, flate2::write::GzEncoder<std::io::BufWriter<std::fs::File>>, u64)> = None;
    let finish = |name: String, enc: flate2::write::GzEncoder<std::io::BufWriter<std::fs::File>>, rows: u64| {
        let mut w = enc.finish().with_context(|| format!("compressing {name}"))?;
        w.flush()?;
        let tmp = dir.join(format!(".{name}.part"));
        w.get_ref().sync_all()?;
        drop(w);
        std::fs::rename(&tmp, dir.join(&name))?;
        let (md5, bytes) = super::push::md5_file(&dir.join(&name))?;
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
            if cur.is_none() {
                let name = name_of(seq)?;
                seq += 1;
                let tmp = dir.join(format!(".{name}.part"));
                let file = std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
                let enc = flate2::GzBuilder::new().mtime(0).write(
                    std::io::BufWriter::with_capacity(1 << 20, file),
                    flate2::Compression::new(level),
                );
                cur = Some((name, enc, 0));
            }
            let (name, enc, rows) = cur.as_mut().expect("open");
            enc.write_all(&line).with_context(|| format!("writing {name}"))?;
            *rows += 1;
            if *rows == lpf {
                let (name, enc, rows) = cur.take().expect("open");
                out.push(finish(name, enc, rows)?);
            }
        }
    }
    if let Some((name, enc, rows)) = cur.take() {
        out.push(finish(name, enc, rows)?);
    }
    Ok(out)
}

/// A hard link; a copy where the filesystem cannot link.
fn link(from: &Path, to: &Path) -> anyhow::Result<()> {
    match std::fs::hard_link(from, to) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::CrossesDevices || e.raw_os_error() == Some(1) => {
            let tmp = to.with_extension("part");
            std::fs::copy(from, &tmp).with_context(|| format!("copying {}", from.display()))?;
            std::fs::rename(&tmp, to).with_context(|| format!("renaming {}", tmp.display()))
        }
        Err(e) => Err(e).with_context(|| format!("linking {} as {}", from.display(), to.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_hours() {
        assert_eq!(hours_list("03,04").unwrap(), vec!["03", "04"]);
        assert!(hours_list("3").is_err() && hours_list("24").is_err());
        assert!(hours_list("").unwrap().is_empty());
    }
}
