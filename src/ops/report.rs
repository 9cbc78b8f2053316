//! A day's volumes per interface against the day before and the same day
//! last month, and when its push ran (`chama report`). Alarms: rows under
//! `alarm_ratio` of last month's same day or of the day before (or no rows at
//! all where that day had some), or over its inverse; and a push that ended
//! after the spec's `deadline` the next morning (or has not ended by then).

use chrono::Months;
use serde::Serialize;

use crate::config::Config;
use crate::ledger::Ledger;
use crate::manifest::Manifest;
use crate::period::Day;
use crate::spec;

#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct Volume {
    pub rows: u64,
    pub files: u64,
    pub bytes: u64,
    /// The day is whole: merged, or its 24 hours built.
    pub whole: bool,
}

#[derive(Debug, Serialize)]
pub struct Line {
    pub interface: String,
    pub day: Option<Volume>,
    pub day_before: Option<Volume>,
    pub last_month: Option<Volume>,
    /// Rows against the same day last month.
    pub ratio: Option<f64>,
    /// Rows against the day before.
    pub ratio_day_before: Option<f64>,
    pub push_started: Option<String>,
    pub push_finished: Option<String>,
    pub deadline: Option<String>,
    pub alarms: Vec<String>,
}

/// A day's volume: the merged day, else the hours built.
fn volume(config: &Config, iface: &str, day: Day) -> Option<Volume> {
    let of = |m: &Manifest| Volume {
        rows: m.counts.rows_out,
        files: m.files() as u64,
        bytes: m.bytes(),
        whole: true,
    };
    let work = config.work();
    if let Ok(m) = Manifest::read(&work.out_dir(iface, day)) {
        return Some(of(&m));
    }
    let hours: Vec<Volume> = work.built_hours(iface, day).iter().map(|(_, _, m)| of(m)).collect();
    (!hours.is_empty()).then(|| {
        hours.iter().fold(Volume::default(), |a, v| Volume {
            rows: a.rows + v.rows,
            files: a.files + v.files,
            bytes: a.bytes + v.bytes,
            whole: hours.len() == 24,
        })
    })
}

/// Each interface's line for `day`, with its alarms.
pub fn report(config: &Config, day: Day) -> anyhow::Result<Vec<Line>> {
    let ledger = Ledger::open_existing(&config.work().ledger_path())?;
    let mut lines = Vec::new();
    for path in config.spec_files()? {
        let spec = match spec::load(&path, &config.names()) {
            Ok(s) => s,
            Err(e) => {
                crate::say!("report: skipping {}: {e:#}", path.display());
                continue;
            }
        };
        lines.push(line(config, &spec, day, ledger.as_ref())?);
    }
    Ok(lines)
}

/// `spec`'s line for `day`, with its alarms.
pub fn line(config: &Config, spec: &spec::Spec, day: Day, ledger: Option<&Ledger>) -> anyhow::Result<Line> {
    let (before, last_month) = (
        day.date().pred_opt().expect("a day before"),
        day.date().checked_sub_months(Months::new(1)).expect("a month before"),
    );
    {
        let iface = spec.name.clone();
        let today = volume(config, &iface, day);
        let prev = volume(config, &iface, Day(before));
        let month = volume(config, &iface, Day(last_month));
        let mut alarms = Vec::new();
        // Rows against another day's, that day's rows alongside.
        let against = |other: Option<Volume>| match (today, other) {
            (t, Some(o)) if o.rows > 0 => Some((t.map_or(0, |t| t.rows) as f64 / o.rows as f64, o.rows)),
            _ => None,
        };
        // Under alarm_ratio of the other day, or over its inverse (0.8: under 80%, over 125%).
        let (low, high) = (spec.delivery.alarm_ratio, 1.0 / spec.delivery.alarm_ratio);
        for (of, other) in [(last_month, month), (before, prev)] {
            let Some((r, rows)) = against(other).filter(|(r, _)| *r < low || *r > high) else {
                continue;
            };
            let (side, bound) = if r < low { ("under", low) } else { ("over", high) };
            alarms.push(format!(
                "rows {} are {:.0}% of {rows} on {} (alarm {side} {:.0}%)",
                today.map_or(0, |t| t.rows),
                r * 100.0,
                Day(of),
                bound * 100.0
            ));
        }
        let ratio = against(month).map(|(r, _)| r);
        let ratio_day_before = against(prev).map(|(r, _)| r);
        // The day's successful pushes (the day, or its hours): first start, last end.
        let pushes: Vec<_> = match ledger {
            Some(l) => l
                .pushes(Some(&iface), &day.to_string())?
                .into_iter()
                .filter(|p| p.period.starts_with(&day.to_string()) && p.ran.code == Some(0))
                .collect(),
            None => Vec::new(),
        };
        let started = pushes.iter().map(|p| p.ran.started.clone()).min();
        let finished = pushes.iter().filter_map(|p| p.ran.finished.clone()).max();
        let deadline = spec.delivery.deadline.map(|t| {
            let next = day.date().succ_opt().expect("a next day").and_time(t);
            next.and_local_timezone(chrono::Local)
                .earliest()
                .map_or_else(|| next.to_string(), |d| d.to_rfc3339())
        });
        if let Some(dl) = &deadline {
            let due = chrono::DateTime::parse_from_rfc3339(dl).ok();
            let ended = finished
                .as_deref()
                .and_then(|f| chrono::DateTime::parse_from_rfc3339(f).ok());
            match (due, ended) {
                (Some(due), Some(end)) if end > due => {
                    alarms.push(format!("push ended {end}, after the deadline {due}"))
                }
                (Some(due), None) if chrono::Local::now() > due => {
                    alarms.push(format!("not pushed by the deadline {due}"))
                }
                _ => {}
            }
        }
        Ok(Line {
            interface: iface,
            day: today,
            day_before: prev,
            last_month: month,
            ratio,
            ratio_day_before,
            push_started: started,
            push_finished: finished,
            deadline,
            alarms,
        })
    }
}
