//! Rerunning periods: rebuild them from the source and deliver them again.
//!
//! Each day is rebuilt into a fresh work directory (`rerun/<iface>/...`);
//! only once every chosen hour has built are they swapped in, one rename per
//! hour, with their rejects, and the day merged and pushed. A failed rebuild
//! leaves the old sets, and the old delivery, as they were.
//!
//! Same batch: the remote files of the same names are replaced (push sees
//! their MD5 changed, takes the set's `.verf` down first and puts the new one
//! up last); `prune_remote` also removes remote files of the old set that the
//! new one lacks, and only names the old `.verf` listed. A new batch: new
//! names, the old delivery left as is. Every day is recorded in the ledger.

use std::collections::BTreeSet;

use anyhow::Context;
use serde::Serialize;

use super::day::{self, MergeOptions};
use super::hour::{self, BuildOptions};
use super::push::{self, PushOptions};
use super::sets::{self, current_batch, totals};
use super::Done;
use crate::config::Config;
use crate::exit::{code_of, Code};
use crate::ledger::{self, Ledger, Operator, Rerun};
use crate::manifest::Manifest;
use crate::period::{batch_name, Period, PeriodRange};
use crate::sink::Destination;
use crate::spec::{Cadence, Spec};
use crate::workdir::{hh, hour_period, swap_in};

/// Which batch to rebuild under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchChoice {
    /// The period's current batch (the same names).
    Current,
    /// The next one after the highest built.
    Next,
    /// This one.
    Given(String),
}

/// How to rerun.
pub struct RerunOptions {
    pub batch: BatchChoice,
    /// Only these hours of each day.
    pub hours: Option<Vec<u8>>,
    /// Why, for the record.
    pub reason: Option<String>,
    /// Rebuild and merge, but do not push.
    pub no_push: bool,
    /// Same batch: remove remote files of the old set that the new one lacks.
    pub prune_remote: bool,
    /// No line per day on stderr (the caller prints a summary).
    pub quiet: bool,
}

/// One day of a rerun, as recorded.
#[derive(Debug, Serialize)]
pub struct DayResult {
    #[serde(flatten)]
    pub rerun: Rerun,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Reruns the period `range` (`P[..P2]`) of `spec`'s interface.
pub fn rerun(
    config: &Config,
    spec: &Spec,
    range: &PeriodRange,
    opts: &RerunOptions,
) -> anyhow::Result<Done<DayResult>> {
    let days = plan(range, opts.hours.as_deref());
    let ledger = Ledger::open(&config.work().ledger_path())?;
    let mut out = Done::new();
    for (date, hours) in &days {
        crate::signals::check()?;
        let mut rec = Rerun {
            iface: spec.name.clone(),
            period: date.clone(),
            hours: hours.iter().map(|&h| hh(h)).collect::<Vec<_>>().join(","),
            reason: opts.reason.clone(),
            by: Operator::current(),
            started: ledger::now(),
            ..Rerun::default()
        };
        let result = crate::lock::acquire(config, &spec.name, date, "rerun")
            .and_then(|_lock| rerun_day(config, spec, opts, date, hours, &mut rec));
        let (c, error) = match result {
            Ok((c, error)) => {
                out.note(Code::Ok, error);
                (c, None)
            }
            Err(e) => {
                let msg = format!("{} {date}: rerun: {e:#}", spec.name);
                crate::log::error(&msg);
                out.note(Code::Ok, Some(msg));
                (code_of(&e), Some(format!("{e:#}")))
            }
        };
        rec.code = c as u8;
        rec.finished = ledger::now();
        ledger.record_rerun(&rec)?;
        if !opts.quiet {
            crate::say!(
                "rerun {} {date} hours {} batch {}: rows {} -> {}, files {} -> {}{} (exit {c})",
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
        out.note(c, None);
        out.parts.push(DayResult { rerun: rec, error });
    }
    Ok(out)
}

/// The days of `range`, each with the hours to rebuild.
fn plan(range: &PeriodRange, hours: Option<&[u8]>) -> Vec<(String, Vec<u8>)> {
    range.days(hours)
}

/// Removes a rerun's fresh work directory, and `rerun/<iface>/`, `rerun/` once empty.
fn discard(fresh_root: &std::path::Path) {
    let _ = std::fs::remove_dir_all(fresh_root);
    for dir in fresh_root.ancestors().skip(1).take(2) {
        let _ = std::fs::remove_dir(dir);
    }
}

/// The sum of the totals of several manifests.
fn sum_totals<'a>(ms: impl IntoIterator<Item = &'a Manifest>) -> (u64, u64) {
    ms.into_iter().map(totals).fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
}

/// One day: its code and the last error it went past.
fn rerun_day(
    config: &Config,
    spec: &Spec,
    opts: &RerunOptions,
    date: &str,
    hours: &[u8],
    rec: &mut Rerun,
) -> anyhow::Result<(Code, Option<String>)> {
    let daily = spec.delivery.cadence == Cadence::Daily;
    let work = config.work();
    // What was there before: the merged day, else the chosen hours.
    let old_day = Manifest::read(&work.out_dir(&spec.name, date)).ok();
    let old_hours: Vec<Manifest> = hours
        .iter()
        .filter_map(|&h| Manifest::read(&work.hour_dir(&spec.name, date, h)).ok())
        .collect();
    let before = match (&old_day, daily) {
        (Some(m), true) => Some(totals(m)),
        _ if !old_hours.is_empty() => Some(sum_totals(&old_hours)),
        _ => None,
    };
    (rec.rows_before, rec.files_before) = (before.map(|b| b.0), before.map(|b| b.1));
    let existing = current_batch(config, &spec.name, date);
    let batch = match &opts.batch {
        BatchChoice::Given(b) => b.clone(),
        BatchChoice::Next => batch_name(existing.map_or(1, |b| b + 1)),
        BatchChoice::Current => batch_name(existing.unwrap_or(0)),
    };
    anyhow::ensure!(batch.len() == 2, "batch {batch} does not fit in two digits");
    rec.batch = batch.clone();
    let same_batch = existing.map(batch_name) == Some(batch.clone());

    // 1. Rebuild every chosen hour in a fresh place.
    let fresh_root = work.rerun_dir(&spec.name, date);
    let mut fresh = config.clone();
    fresh.work_dir = fresh_root.clone();
    let built = (|| -> anyhow::Result<(Code, Option<String>)> {
        let period: Period = date.parse().map_err(crate::exit::Failure::Usage)?;
        for &h in hours {
            let mut o = BuildOptions {
                batch: batch.clone(),
                ..BuildOptions::regular()
            };
            let b = hour::build(&fresh, spec, &period.with_hour(h), &mut o)?;
            if b.code != Code::Ok {
                return Ok((b.code, b.error));
            }
        }
        Ok((Code::Ok, None))
    })();
    match built {
        Ok((Code::Ok, _)) => {}
        other => {
            // The failed rebuild's rejects, kept apart beside the old set's (which stay).
            for &h in hours {
                let from = fresh.work().failed_rejects_file(&spec.name, date, h);
                let to = work.failed_rejects_file(&spec.name, date, h);
                let moved = from.exists()
                    && to.parent().is_some_and(|d| std::fs::create_dir_all(d).is_ok())
                    && std::fs::rename(&from, &to).is_ok();
                if moved {
                    crate::say!(
                        "{} {}: the failed rebuild's rejects are in {}",
                        spec.name,
                        hour_period(date, h),
                        to.display()
                    );
                }
            }
            discard(&fresh_root);
            crate::say!(
                "{} {date}: the rebuild did not complete; the old sets and delivery are untouched",
                spec.name
            );
            return other;
        }
    }
    // 2. Swap them in, an hour at a time (a rename each), with their rejects.
    let hourly_dir = work.hourly_day_dir(&spec.name, date);
    std::fs::create_dir_all(&hourly_dir).with_context(|| format!("creating {}", hourly_dir.display()))?;
    for &h in hours {
        swap_in(
            &fresh.work().hour_dir(&spec.name, date, h),
            &work.hour_dir(&spec.name, date, h),
        )?;
        let (from, to) = (
            fresh.work().rejects_file(&spec.name, date, h),
            work.rejects_file(&spec.name, date, h),
        );
        if from.exists() {
            std::fs::create_dir_all(to.parent().expect("rejects dir"))?;
            std::fs::rename(&from, &to).with_context(|| format!("moving {} into place", from.display()))?;
        } else {
            let _ = std::fs::remove_file(&to);
        }
        let _ = std::fs::remove_file(work.failed_rejects_file(&spec.name, date, h));
    }
    discard(&fresh_root);

    // 3. Merge (daily interfaces) and push.
    let mut periods: Vec<Period> = Vec::new();
    if daily {
        day::merge(config, spec, date, &mut MergeOptions::default())?;
        let t = totals(&Manifest::read(&work.out_dir(&spec.name, date))?);
        (rec.rows_after, rec.files_after) = (Some(t.0), Some(t.1));
        periods.push(date.parse().map_err(crate::exit::Failure::Usage)?);
    } else {
        let mut new_hours = Vec::new();
        for &h in hours {
            new_hours.push(Manifest::read(&work.hour_dir(&spec.name, date, h))?);
            periods.push(hour_period(date, h).parse().map_err(crate::exit::Failure::Usage)?);
        }
        let t = sum_totals(&new_hours);
        (rec.rows_after, rec.files_after) = (Some(t.0), Some(t.1));
    }
    if opts.no_push {
        return Ok((Code::Ok, None));
    }
    let mut code = Code::Ok;
    let mut error = None;
    for p in &periods {
        let pushed = push::push(config, spec, p, &PushOptions::default())?;
        code = code.worse(pushed.code);
        error = pushed.error.or(error);
    }
    // 4. Same batch, prune_remote: old names the new set lacks go, and only those the old .verf listed.
    if opts.prune_remote && same_batch && code == Code::Ok {
        let old_names: BTreeSet<String> = match (&old_day, daily) {
            (Some(m), true) => sets::names(m, false).collect(),
            _ => old_hours.iter().flat_map(|m| sets::names(m, false)).collect(),
        };
        let mut new_names = BTreeSet::new();
        for p in &periods {
            let (_, m) = sets::read(config, &spec.name, p)?;
            new_names.extend(sets::names(&m, true));
        }
        let gone: Vec<&String> = old_names.difference(&new_names).collect();
        if !gone.is_empty() {
            let ledger = Ledger::open(&work.ledger_path())?;
            for dest_name in &spec.delivery.destinations {
                let dest = Destination::from_config(config, dest_name, &spec.delivery.remote_dir)?;
                let (_, mut conn) = dest
                    .connect_any()
                    .map_err(|e| crate::exit::Failure::Delivery(format!("pruning on `{dest_name}`: {e:#}")))?;
                for name in &gone {
                    conn.remove(name)?;
                    ledger.forget(dest_name, name)?;
                    crate::say!("pruned {name} from {dest_name}");
                }
            }
            rec.pruned = gone.len() as u64;
        }
    }
    Ok((code, error))
}
