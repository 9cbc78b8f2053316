//! Rerunning periods: rebuild them from the source and deliver them again.
//!
//! Each day is rebuilt into a fresh work directory (`rerun/<iface>/...`);
//! only once every chosen hour has built are they swapped in with their
//! rejects, all or none (`setdir::install`), and the day merged and pushed. A failed rebuild
//! leaves the old sets, and the old delivery, as they were.
//!
//! Same batch: the remote files of the same names are replaced (push sees
//! their MD5 changed, takes the set's `.verf` down first and puts the new one
//! up last); `prune_remote` also removes remote files of the old set that the
//! new one lacks, and only names the old `.verf` listed. A new batch: new
//! names, the old delivery left as is. Every day is recorded in the ledger.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde::Serialize;

use super::build::{self, BuildOptions};
use super::merge::{self, MergeOptions};
use super::push::{self, PushOptions};
use super::sets::{self, current_batch, totals};
use super::Parts;
use crate::config::Config;
use crate::exit::{code_of, Code};
use crate::ledger::{self, Ledger, Operator, Rerun};
use crate::manifest::Manifest;
use crate::period::{Batch, Day, Period, PeriodRange};
use crate::setdir::{install, keep_apart, Install, SetRejects};
use crate::sink::Destination;
use crate::spec::{Cadence, Spec};
use crate::workdir::{hh, hour_period};

/// Which batch to rebuild under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchChoice {
    /// The period's current batch (the same names).
    Current,
    /// The next one after the highest built.
    Next,
    /// This one.
    Given(Batch),
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
) -> anyhow::Result<Parts<DayResult>> {
    let days = plan(range, opts.hours.as_deref());
    let ledger = Ledger::open(&config.work().ledger_path())?;
    let mut out = Parts::new();
    for (date, hours) in &days {
        let date = *date;
        crate::signals::check()?;
        let mut rec = Rerun {
            iface: spec.name.clone(),
            period: date.to_string(),
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
fn plan(range: &PeriodRange, hours: Option<&[u8]>) -> Vec<(Day, Vec<u8>)> {
    range.days(hours)
}

/// A rerun's fresh work directory (`rerun/<iface>/<date>-<pid>/`): dropped, it goes,
/// and `rerun/<iface>/`, `rerun/` once empty.
struct FreshRoot(std::path::PathBuf);

impl Drop for FreshRoot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
        for dir in self.0.ancestors().skip(1).take(2) {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// The sum of the totals of several manifests.
fn sum_totals<'a>(ms: impl IntoIterator<Item = &'a Manifest>) -> (u64, u64) {
    ms.into_iter().map(totals).fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
}

/// What a day had before its rerun: the merged day, and the chosen hours.
struct Before {
    day: Option<Manifest>,
    hours: Vec<Manifest>,
}

impl Before {
    fn read(config: &Config, spec: &Spec, date: Day, hours: &[u8]) -> Before {
        let work = config.work();
        Before {
            day: Manifest::read(&work.out_dir(&spec.name, date)).ok(),
            hours: hours
                .iter()
                .filter_map(|&h| Manifest::read(&work.hour_dir(&spec.name, date, h)).ok())
                .collect(),
        }
    }

    /// Rows and files: the merged day's (daily interfaces), else the chosen hours'.
    fn totals(&self, daily: bool) -> Option<(u64, u64)> {
        match (&self.day, daily) {
            (Some(m), true) => Some(totals(m)),
            _ if !self.hours.is_empty() => Some(sum_totals(&self.hours)),
            _ => None,
        }
    }

    /// The file names the old sets delivered.
    fn names(&self, daily: bool) -> BTreeSet<String> {
        match (&self.day, daily) {
            (Some(m), true) => sets::names(m, false).collect(),
            _ => self.hours.iter().flat_map(|m| sets::names(m, false)).collect(),
        }
    }
}

/// The batch the rebuilt sets carry, and whether it is the one delivered now.
fn choose_batch(config: &Config, spec: &Spec, date: Day, choice: &BatchChoice) -> anyhow::Result<(Batch, bool)> {
    let existing = current_batch(config, &spec.name, date);
    let batch = match choice {
        BatchChoice::Given(b) => *b,
        BatchChoice::Next => existing.unwrap_or(Batch::FIRST).next()?,
        BatchChoice::Current => existing.unwrap_or(Batch::FIRST),
    };
    let same = existing == Some(batch);
    Ok((batch, same))
}

/// One day: its code and the last error it went past.
fn rerun_day(
    config: &Config,
    spec: &Spec,
    opts: &RerunOptions,
    date: Day,
    hours: &[u8],
    rec: &mut Rerun,
) -> anyhow::Result<(Code, Option<String>)> {
    let daily = spec.delivery.cadence == Cadence::Daily;
    let before = Before::read(config, spec, date, hours);
    let totals_before = before.totals(daily);
    (rec.rows_before, rec.files_before) = (totals_before.map(|b| b.0), totals_before.map(|b| b.1));
    let (batch, same_batch) = choose_batch(config, spec, date, &opts.batch)?;
    rec.batch = batch;

    // 1. Rebuild every chosen hour in a fresh place; 2. swap them in, all or none, with
    // their rejects.
    let fresh_root = FreshRoot(config.work().rerun_dir(&spec.name, date));
    let mut fresh = config.clone();
    fresh.work_dir = fresh_root.0.clone();
    match rebuild(&fresh, spec, date, hours, batch) {
        Ok((Code::Ok, _)) => {}
        other => {
            keep_failed_rejects(config, &fresh, spec, date, hours);
            crate::say!(
                "{} {date}: the rebuild did not complete; the old sets and delivery are untouched",
                spec.name
            );
            return other;
        }
    }
    swap_hours(config, &fresh, spec, date, hours)?;
    drop(fresh_root);

    // 3. Merge (daily interfaces) and push.
    let periods = merged_periods(config, spec, date, hours, rec)?;
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
        rec.pruned = prune_old_names(config, spec, &before.names(daily), &periods)?;
    }
    Ok((code, error))
}

/// Builds each of `hours` in the `fresh` work directory, stopping at the first that fails.
fn rebuild(
    fresh: &Config,
    spec: &Spec,
    date: Day,
    hours: &[u8],
    batch: Batch,
) -> anyhow::Result<(Code, Option<String>)> {
    let period = date.period();
    for &h in hours {
        let mut o = BuildOptions {
            batch,
            ..BuildOptions::regular()
        };
        let b = build::build(fresh, spec, &period.with_hour(h), &mut o)?;
        if b.code != Code::Ok {
            return Ok((b.code, b.error));
        }
    }
    Ok((Code::Ok, None))
}

/// A failed rebuild's rejects, kept apart beside the old sets' (which stay).
fn keep_failed_rejects(config: &Config, fresh: &Config, spec: &Spec, date: Day, hours: &[u8]) {
    for &h in hours {
        let to = config.work().failed_rejects_file(&spec.name, date, h);
        if keep_apart(&fresh.work().failed_rejects_file(&spec.name, date, h), &to) {
            crate::say!(
                "{} {}: the failed rebuild's rejects are in {}",
                spec.name,
                hour_period(date, h),
                to.display()
            );
        }
    }
}

/// The rebuilt hours in place of the old ones with their rejects, all or none.
fn swap_hours(config: &Config, fresh: &Config, spec: &Spec, date: Day, hours: &[u8]) -> anyhow::Result<()> {
    let (work, fw) = (config.work(), fresh.work());
    let staged: Vec<(PathBuf, PathBuf, SetRejects)> = hours
        .iter()
        .map(|&h| {
            let rejects = SetRejects {
                built: fw.rejects_file(&spec.name, date, h),
                current: work.rejects_file(&spec.name, date, h),
                failed: work.failed_rejects_file(&spec.name, date, h),
            };
            (
                fw.hour_dir(&spec.name, date, h),
                work.hour_dir(&spec.name, date, h),
                rejects,
            )
        })
        .collect();
    let all: Vec<Install<'_>> = staged
        .iter()
        .map(|(built, final_dir, rejects)| Install {
            built,
            final_dir,
            rejects: Some(rejects),
        })
        .collect();
    install(&all)
}

/// Merges the day (daily interfaces) and records the totals after; the periods to push:
/// the day, or each rebuilt hour.
fn merged_periods(
    config: &Config,
    spec: &Spec,
    date: Day,
    hours: &[u8],
    rec: &mut Rerun,
) -> anyhow::Result<Vec<Period>> {
    let work = config.work();
    let mut periods: Vec<Period> = Vec::new();
    if spec.delivery.cadence == Cadence::Daily {
        merge::merge(config, spec, date, &mut MergeOptions::default())?;
        let t = totals(&Manifest::read(&work.out_dir(&spec.name, date))?);
        (rec.rows_after, rec.files_after) = (Some(t.0), Some(t.1));
        periods.push(date.period());
    } else {
        let mut new_hours = Vec::new();
        for &h in hours {
            new_hours.push(Manifest::read(&work.hour_dir(&spec.name, date, h))?);
            periods.push(hour_period(date, h).parse().map_err(crate::exit::Failure::Usage)?);
        }
        let t = sum_totals(&new_hours);
        (rec.rows_after, rec.files_after) = (Some(t.0), Some(t.1));
    }
    Ok(periods)
}

/// Removes from every destination the `old_names` the new sets of `periods` lack; how many.
fn prune_old_names(
    config: &Config,
    spec: &Spec,
    old_names: &BTreeSet<String>,
    periods: &[Period],
) -> anyhow::Result<u64> {
    let mut new_names = BTreeSet::new();
    for p in periods {
        let (_, m) = sets::read(config, &spec.name, p)?;
        new_names.extend(sets::names(&m, true));
    }
    let gone: Vec<&String> = old_names.difference(&new_names).collect();
    if gone.is_empty() {
        return Ok(0);
    }
    let ledger = Ledger::open(&config.work().ledger_path())?;
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
    Ok(gone.len() as u64)
}
