//! The state of every interface's days, at a glance (`chama status`): hours
//! built, merged, pushed where and when (the team's push log), rows, files,
//! bytes, and the last error. Read from the work directory's manifests and
//! the ledger; changes nothing.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::config::Config;
use crate::ledger::{Ledger, PushRow, RunRow};
use crate::manifest::Manifest;
use crate::period::Day;
use crate::workdir::{hh, Tree};

#[derive(Debug, Serialize)]
pub struct DayStatus {
    pub interface: String,
    pub day: Day,
    pub hours_built: Vec<String>,
    pub merged: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing_hours: Vec<String>,
    pub rows: u64,
    pub files: usize,
    pub bytes: u64,
    /// The last push of each destination and period.
    pub pushes: Vec<PushRow>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<RunRow>,
}

/// The state of every interface's days from `since` on (all without it), or only `only`'s.
pub fn status(config: &Config, only: Option<&str>, since: Option<Day>) -> anyhow::Result<Vec<DayStatus>> {
    let work = config.work();
    let from = since.map(|d| d.to_string()).unwrap_or_default();
    let (pushes, runs) = match Ledger::open_existing(&work.ledger_path())? {
        Some(l) => (l.pushes(only, &from)?, l.runs(only, &from)?),
        None => (Vec::new(), Vec::new()),
    };

    let mut ifaces: BTreeSet<String> = BTreeSet::new();
    match only {
        Some(i) => {
            ifaces.insert(i.to_string());
        }
        None => {
            for tree in [Tree::Hourly, Tree::Merged] {
                ifaces.extend(work.ifaces(tree).into_iter().map(|(name, _)| name));
            }
            ifaces.extend(pushes.iter().map(|p| p.iface.clone()));
            ifaces.extend(runs.iter().filter(|r| r.iface != "(all)").map(|r| r.iface.clone()));
        }
    }

    let mut out = Vec::new();
    for iface in &ifaces {
        let mut days: BTreeSet<Day> = BTreeSet::new();
        days.extend(work.days(Tree::Hourly, iface));
        days.extend(work.days(Tree::Merged, iface));
        days.extend(
            pushes
                .iter()
                .filter(|p| &p.iface == iface)
                .filter_map(|p| p.period.get(..8)?.parse::<Day>().ok()),
        );
        days.extend(
            runs.iter()
                .filter(|r| &r.iface == iface)
                .filter_map(|r| r.period.get(..8)?.parse::<Day>().ok()),
        );
        for day in days.into_iter().filter(|d| since.is_none_or(|s| *d >= s)) {
            out.push(day_status(config, iface, day, &pushes, &runs));
        }
    }
    Ok(out)
}

fn day_status(config: &Config, iface: &str, day: Day, pushes: &[PushRow], runs: &[RunRow]) -> DayStatus {
    let work = config.work();
    let mut hours_built = Vec::new();
    let (mut rows, mut files, mut bytes) = (0, 0, 0);
    for (h, _, m) in work.built_hours(iface, day) {
        hours_built.push(hh(h));
        rows += m.counts.rows_out;
        files += m.files();
        bytes += m.bytes();
    }
    let merged = Manifest::read(&work.out_dir(iface, day)).ok();
    let mut missing_hours = Vec::new();
    if let Some(m) = &merged {
        rows = m.counts.rows_out;
        files = m.files();
        bytes = m.bytes();
        missing_hours = m.missing_hours.clone();
    }
    let mut last: BTreeMap<(String, String), PushRow> = BTreeMap::new();
    let ymd = day.to_string();
    for p in pushes.iter().filter(|p| p.iface == iface && p.period.starts_with(&ymd)) {
        last.insert((p.dest.clone(), p.period.clone()), p.clone());
    }
    let last_error = runs
        .iter()
        .rfind(|r| r.iface == iface && r.period.starts_with(&ymd))
        .filter(|r| r.ran.code.is_some_and(|c| c != 0))
        .cloned();
    DayStatus {
        interface: iface.to_string(),
        day,
        hours_built,
        merged: merged.is_some(),
        missing_hours,
        rows,
        files,
        bytes,
        pushes: last.into_values().collect(),
        last_error,
    }
}
