//! `chama rerun`: rebuild periods from the source and deliver them again.
//!
//! Each day is rebuilt into a fresh work directory (`var/rerun/...`); only
//! once every chosen hour has built are they swapped in, one rename per
//! hour, and the day merged and pushed. A failed rebuild leaves the old
//! sets, and the old delivery, as they were.
//!
//! Same batch: the remote files of the same names are replaced (push sees
//! their MD5 changed, takes the set's `.verf` down first and puts the new one
//! up last); `--prune-remote` also removes remote files of the old set that
//! the new one lacks, and only names the old `.verf` listed. A new batch
//! (`--batch NN`, `--next-batch`): new names, the old delivery left as is.

use std::collections::BTreeSet;

use anyhow::Context;
use serde::Serialize;

use crate::cli::{BuildArgs, RerunArgs};
use crate::config::Config;
use crate::exit::{code_of, Code, Failure};
use crate::ledger::{self, Ledger, Rerun};
use crate::manifest::Manifest;
use crate::period::Period;
use crate::sink::Destination;
use crate::spec::{self, Cadence, Spec};

/// `HH-HH` (or one `HH`) into the hours it covers.
fn hour_range(s: &str) -> Result<Vec<u8>, String> {
    let bad = || format!("--hours takes HH-HH (00-23), not `{s}`");
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let (a, b): (u8, u8) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
    if a > b || b > 23 {
        return Err(bad());
    }
    Ok((a..=b).collect())
}

/// The days of `P[..P2]`, each with the hours to rebuild.
fn plan(period: &str, hours: Option<&str>) -> Result<Vec<(String, Vec<u8>)>, String> {
    let (a, b) = period.split_once("..").unwrap_or((period, period));
    let (p1, p2): (Period, Period) = (a.parse()?, b.parse()?);
    if p1.hour.is_some() != p2.hour.is_some() || p2.date < p1.date || (p1.date == p2.date && p2.hour < p1.hour) {
        return Err(format!(
            "period range `{period}` must go forward, day to day or hour to hour"
        ));
    }
    let only = hours.map(hour_range).transpose()?;
    let mut out = Vec::new();
    let mut d = p1.date;
    while d <= p2.date {
        let first = if d == p1.date { p1.hour.unwrap_or(0) } else { 0 };
        let last = if d == p2.date { p2.hour.unwrap_or(23) } else { 23 };
        let hs: Vec<u8> = (first..=last)
            .filter(|h| only.as_ref().is_none_or(|o| o.contains(h)))
            .collect();
        if !hs.is_empty() {
            out.push((d.format("%Y%m%d").to_string(), hs));
        }
        d = d.succ_opt().ok_or("date overflow")?;
    }
    Ok(out)
}

/// The highest batch among a day's sets (hourly and merged), if any.
fn current_batch(config: &Config, iface: &str, date: &str) -> Option<u32> {
    let mut dirs = vec![config.out_dir(iface, date)];
    dirs.extend((0..24).map(|h| config.hourly_day_dir(iface, date).join(format!("{h:02}"))));
    dirs.iter()
        .filter_map(|d| Manifest::read(d).ok())
        .flat_map(|m| m.sets.into_iter().map(|s| s.batch))
        .filter_map(|b| b.parse::<u32>().ok())
        .max()
}

#[derive(Debug, Serialize)]
struct DayResult {
    #[serde(flatten)]
    rerun: Rerun,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

pub fn rerun(config: &Config, args: &RerunArgs) -> anyhow::Result<Code> {
    let spec = spec::load(&config.spec_path(&args.iface), &config.names())?;
    let days = plan(&args.period, args.hours.as_deref()).map_err(Failure::Usage)?;
    if let Some(b) = &args.batch {
        if b.len() != 2 || !b.bytes().all(|c| c.is_ascii_digit()) {
            return Err(Failure::Usage(format!("--batch takes two digits (00, 01, ...), not `{b}`")).into());
        }
    }
    let ledger = Ledger::open(&config.ledger_path())?;
    let mut code = Code::Ok;
    let mut results = Vec::new();
    for (date, hours) in &days {
        let started = ledger::now();
        let mut rec = Rerun {
            iface: spec.name.clone(),
            period: date.clone(),
            hours: hours.iter().map(|h| format!("{h:02}")).collect::<Vec<_>>().join(","),
            reason: args.reason.clone(),
            who: std::env::var("USER")
                .or_else(|_| std::env::var("LOGNAME"))
                .unwrap_or_else(|_| "unknown".into()),
            host: std::fs::read_to_string("/proc/sys/kernel/hostname")
                .unwrap_or_default()
                .trim()
                .to_string(),
            started,
            ..Rerun::default()
        };
        let result = crate::lock::acquire(config, &spec.name, date, "rerun")
            .and_then(|_lock| rerun_day(config, &spec, args, date, hours, &mut rec));
        let (c, error) = match result {
            Ok(c) => (c, None),
            Err(e) => {
                crate::say_error!("chama: {} {date}: rerun: {e:#}", spec.name);
                crate::exit::reported(&format!("{} {date}: rerun: {e:#}", spec.name));
                (code_of(&e), Some(format!("{e:#}")))
            }
        };
        rec.code = c as u8;
        rec.finished = ledger::now();
        ledger.record_rerun(&rec)?;
        if !args.json {
            crate::say!(
                "chama: rerun {} {date} hours {} batch {}: rows {} -> {}, files {} -> {}{} (exit {c})",
                spec.name,
                rec.hours,
                rec.batch,
                rec.rows_before.map_or("-".into(), |v| v.to_string()),
                rec.rows_after.map_or("-".into(), |v| v.to_string()),
                rec.files_before.map_or("-".into(), |v| v.to_string()),
                rec.files_after.map_or("-".into(), |v| v.to_string()),
                if rec.pruned > 0 {
                    format!(", {} old remote file(s) pruned", rec.pruned)
                } else {
                    String::new()
                }
            );
        }
        code = code.worse(c);
        results.push(DayResult { rerun: rec, error });
    }
    if args.json {
        println!(
            "{}",
            serde_json::json!({"command": "rerun", "interface": spec.name, "period": args.period, "code": code as u8, "days": results})
        );
    }
    Ok(code)
}

/// Removes a rerun's fresh work directory, and `rerun/<iface>/`, `rerun/` once empty.
fn discard(fresh_root: &std::path::Path) {
    let _ = std::fs::remove_dir_all(fresh_root);
    for dir in fresh_root.ancestors().skip(1).take(2) {
        let _ = std::fs::remove_dir(dir);
    }
}

/// Rows and data files of the sets in `dir`'s manifest.
fn totals(m: &Manifest) -> (u64, u64) {
    (m.counts.rows_out, m.sets.iter().map(|s| s.files.len() as u64).sum())
}

fn rerun_day(
    config: &Config,
    spec: &Spec,
    args: &RerunArgs,
    date: &str,
    hours: &[u8],
    rec: &mut Rerun,
) -> anyhow::Result<Code> {
    let daily = spec.delivery.cadence == Cadence::Daily;
    let hourly_dir = config.hourly_day_dir(&spec.name, date);
    // What was there before: the merged day, else the chosen hours.
    let old_day = Manifest::read(&config.out_dir(&spec.name, date)).ok();
    let old_hours: Vec<Manifest> = hours
        .iter()
        .filter_map(|h| Manifest::read(&hourly_dir.join(format!("{h:02}"))).ok())
        .collect();
    let before = match (&old_day, daily) {
        (Some(m), true) => Some(totals(m)),
        _ if !old_hours.is_empty() => Some(old_hours.iter().map(totals).fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))),
        _ => None,
    };
    (rec.rows_before, rec.files_before) = (before.map(|b| b.0), before.map(|b| b.1));
    let existing = current_batch(config, &spec.name, date);
    let batch = match (&args.batch, args.next_batch) {
        (Some(b), _) => b.clone(),
        (None, true) => format!("{:02}", existing.map_or(1, |b| b + 1)),
        (None, false) => format!("{:02}", existing.unwrap_or(0)),
    };
    anyhow::ensure!(batch.len() == 2, "batch {batch} does not fit in two digits");
    rec.batch = batch.clone();
    let same_batch = existing.map(|b| format!("{b:02}")) == Some(batch.clone());

    // 1. Rebuild every chosen hour in a fresh place.
    let fresh_root = config
        .work_dir
        .join("rerun")
        .join(&spec.name)
        .join(format!("{date}-{}", std::process::id()));
    let mut fresh = config.clone();
    fresh.work_dir = fresh_root.clone();
    let built = (|| -> anyhow::Result<Code> {
        for h in hours {
            let c = super::build::build(
                &fresh,
                &BuildArgs {
                    iface: spec.name.clone(),
                    period: format!("{date}{h:02}"),
                    dry_run: false,
                    json: false,
                    jobs: None,
                    no_stage: false,
                    batch: batch.clone(),
                },
            )?;
            if c != Code::Ok {
                return Ok(c);
            }
        }
        Ok(Code::Ok)
    })();
    match built {
        Ok(Code::Ok) => {}
        other => {
            discard(&fresh_root);
            crate::say!(
                "chama: {} {date}: the rebuild did not complete; the old sets and delivery are untouched",
                spec.name
            );
            return other;
        }
    }
    // 2. Swap them in, an hour at a time (a rename each), with their rejects.
    std::fs::create_dir_all(&hourly_dir).with_context(|| format!("creating {}", hourly_dir.display()))?;
    for h in hours {
        let hh = format!("{h:02}");
        super::swap_in(&fresh.hourly_day_dir(&spec.name, date).join(&hh), &hourly_dir.join(&hh))?;
        let (from, to) = (
            fresh.rejects_file(&spec.name, date, &hh),
            config.rejects_file(&spec.name, date, &hh),
        );
        if from.exists() {
            std::fs::create_dir_all(to.parent().expect("rejects dir"))?;
            std::fs::rename(&from, &to).with_context(|| format!("moving {} into place", from.display()))?;
        } else {
            let _ = std::fs::remove_file(&to);
        }
    }
    discard(&fresh_root);

    // 3. Merge (daily interfaces) and push.
    let mut periods = Vec::new();
    if daily {
        let c = super::merge::merge_day(config, &spec.name, date)?;
        if c != Code::Ok {
            return Ok(c);
        }
        let m = Manifest::read(&config.out_dir(&spec.name, date))?;
        let t = totals(&m);
        (rec.rows_after, rec.files_after) = (Some(t.0), Some(t.1));
        periods.push(date.to_string());
    } else {
        let mut t = (0, 0);
        for h in hours {
            let m = Manifest::read(&hourly_dir.join(format!("{h:02}")))?;
            let x = totals(&m);
            t = (t.0 + x.0, t.1 + x.1);
            periods.push(format!("{date}{h:02}"));
        }
        (rec.rows_after, rec.files_after) = (Some(t.0), Some(t.1));
    }
    if args.no_push {
        return Ok(Code::Ok);
    }
    let mut code = Code::Ok;
    for p in &periods {
        code = code.worse(super::push::push_period(config, &spec.name, p)?);
    }
    // 4. Same batch, --prune-remote: old names the new set lacks go, and only those the old .verf listed.
    if args.prune_remote && same_batch && code == Code::Ok {
        let old_names: BTreeSet<String> = match (&old_day, daily) {
            (Some(m), true) => m
                .sets
                .iter()
                .flat_map(|s| s.files.iter().map(|f| f.name.clone()))
                .collect(),
            _ => old_hours
                .iter()
                .flat_map(|m| m.sets.iter().flat_map(|s| s.files.iter().map(|f| f.name.clone())))
                .collect(),
        };
        let mut new_names = BTreeSet::new();
        for p in &periods {
            let dir = super::push::set_dir(config, &spec.name, &p.parse().map_err(Failure::Usage)?);
            let m = Manifest::read(&dir)?;
            new_names.extend(
                m.sets
                    .iter()
                    .flat_map(|s| s.files.iter().map(|f| f.name.clone()).chain([s.verf.clone()])),
            );
        }
        let gone: Vec<&String> = old_names.difference(&new_names).collect();
        if !gone.is_empty() {
            let ledger = Ledger::open(&config.ledger_path())?;
            for dest_name in &spec.delivery.destinations {
                let dest = Destination::from_config(config, dest_name, &spec.delivery.remote_dir)?;
                let (_, mut conn) = dest
                    .connect_any()
                    .map_err(|e| Failure::Delivery(format!("pruning on `{dest_name}`: {e:#}")))?;
                for name in &gone {
                    conn.remove(name)?;
                    ledger.forget(dest_name, name)?;
                    crate::say!("chama: pruned {name} from {dest_name}");
                }
            }
            rec.pruned = gone.len() as u64;
        }
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_and_hours() {
        assert_eq!(
            plan("20231220", None).unwrap(),
            vec![("20231220".into(), (0..24).collect())]
        );
        let p = plan("20231220..20231222", Some("00-01")).unwrap();
        assert_eq!(p.len(), 3);
        assert!(p.iter().all(|(_, h)| h == &vec![0, 1]));
        let p = plan("2023122022..2023122101", None).unwrap();
        assert_eq!(
            p,
            vec![("20231220".into(), vec![22, 23]), ("20231221".into(), vec![0, 1])]
        );
        assert!(plan("20231222..20231220", None).is_err());
        assert!(plan("20231220..2023122201", None).is_err());
        assert!(hour_range("05-03").is_err() && hour_range("24").is_err());
    }
}
