//! `chama report --period D`: each interface's volumes for the day against
//! the day before and the same day last month, and when its push ran.
//! Alarms: rows under `alarm_ratio` of last month's same day (or no rows at
//! all where last month had some), and a push that ended after the spec's
//! `deadline` the next morning (or has not ended by then). Exit 7 when any
//! alarm fires.

use std::io::Write;

use chrono::{Months, NaiveDate};
use serde::Serialize;

use crate::cli::ReportArgs;
use crate::config::Config;
use crate::exit::{Code, Failure};
use crate::ledger::Ledger;
use crate::manifest::Manifest;
use crate::period::Period;
use crate::spec;

#[derive(Debug, Default, Clone, Copy, Serialize)]
struct Volume {
    rows: u64,
    files: u64,
    bytes: u64,
}

#[derive(Debug, Serialize)]
struct Line {
    interface: String,
    day: Option<Volume>,
    day_before: Option<Volume>,
    last_month: Option<Volume>,
    /// Rows against the same day last month.
    ratio: Option<f64>,
    push_started: Option<String>,
    push_finished: Option<String>,
    deadline: Option<String>,
    alarms: Vec<String>,
}

/// A day's volume: the merged day, else the hours built.
fn volume(config: &Config, iface: &str, day: &str) -> Option<Volume> {
    let of = |m: &Manifest| Volume {
        rows: m.counts.rows_out,
        files: m.sets.iter().map(|s| s.files.len() as u64).sum(),
        bytes: m.sets.iter().flat_map(|s| &s.files).map(|f| f.bytes).sum(),
    };
    if let Ok(m) = Manifest::read(&config.out_dir(iface, day)) {
        return Some(of(&m));
    }
    let hours: Vec<Volume> = (0..24)
        .filter_map(|h| Manifest::read(&config.hourly_day_dir(iface, day).join(format!("{h:02}"))).ok())
        .map(|m| of(&m))
        .collect();
    (!hours.is_empty()).then(|| {
        hours.iter().fold(Volume::default(), |a, v| Volume {
            rows: a.rows + v.rows,
            files: a.files + v.files,
            bytes: a.bytes + v.bytes,
        })
    })
}

fn ymd(d: NaiveDate) -> String {
    d.format("%Y%m%d").to_string()
}

pub fn report(config: &Config, args: &ReportArgs) -> anyhow::Result<Code> {
    let period: Period = args.period.parse().map_err(Failure::Usage)?;
    if period.hour.is_some() {
        return Err(Failure::Usage(format!("report takes a day (YYYYMMDD), not the hour {period}")).into());
    }
    let day = period.date;
    let (before, last_month) = (
        day.pred_opt().expect("a day before"),
        day.checked_sub_months(Months::new(1)).expect("a month before"),
    );
    let ledger = if config.ledger_path().exists() {
        Some(Ledger::open(&config.ledger_path())?)
    } else {
        None
    };
    let mut lines = Vec::new();
    for path in config.spec_files()? {
        let spec = match spec::load(&path, &config.names()) {
            Ok(s) => s,
            Err(e) => {
                crate::say!("chama: report: skipping {}: {e:#}", path.display());
                continue;
            }
        };
        let iface = spec.name.clone();
        let today = volume(config, &iface, &ymd(day));
        let prev = volume(config, &iface, &ymd(before));
        let month = volume(config, &iface, &ymd(last_month));
        let mut alarms = Vec::new();
        let ratio = match (today, month) {
            (t, Some(m)) if m.rows > 0 => Some(t.map_or(0, |t| t.rows) as f64 / m.rows as f64),
            _ => None,
        };
        if let Some(r) = ratio {
            if r < spec.delivery.alarm_ratio {
                alarms.push(format!(
                    "rows {} are {:.0}% of {} on {} (alarm under {:.0}%)",
                    today.map_or(0, |t| t.rows),
                    r * 100.0,
                    month.map_or(0, |m| m.rows),
                    ymd(last_month),
                    spec.delivery.alarm_ratio * 100.0
                ));
            }
        }
        // The day's successful pushes (the day, or its hours): first start, last end.
        let pushes: Vec<_> = match &ledger {
            Some(l) => l
                .pushes(Some(&iface), &ymd(day))?
                .into_iter()
                .filter(|p| p.period.starts_with(&ymd(day)) && p.code == Some(0))
                .collect(),
            None => Vec::new(),
        };
        let started = pushes.iter().map(|p| p.started.clone()).min();
        let finished = pushes.iter().filter_map(|p| p.finished.clone()).max();
        let deadline = spec.delivery.deadline.map(|t| {
            let next = day.succ_opt().expect("a next day").and_time(t);
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
        lines.push(Line {
            interface: iface,
            day: today,
            day_before: prev,
            last_month: month,
            ratio,
            push_started: started,
            push_finished: finished,
            deadline,
            alarms,
        });
    }
    let alarm = lines.iter().any(|l| !l.alarms.is_empty());
    let code = if alarm { Code::Alarm } else { Code::Ok };
    if args.json {
        println!(
            "{}",
            serde_json::json!({"command": "report", "period": ymd(day), "code": code as u8, "interfaces": lines})
        );
    } else {
        let stdout = std::io::stdout();
        let mut so = stdout.lock();
        let rows = |v: Option<Volume>| v.map_or("-".to_string(), |v| v.rows.to_string());
        writeln!(
            so,
            "{:<10} {:>10} {:>10} {:>10} {:>6} {:>12}  {:<19} {:<19}  ALARMS",
            "INTERFACE", "ROWS", "DAY BEFORE", "LAST MONTH", "FILES", "BYTES", "PUSH STARTED", "PUSH ENDED"
        )?;
        for l in &lines {
            writeln!(
                so,
                "{:<10} {:>10} {:>10} {:>10} {:>6} {:>12}  {:<19} {:<19}  {}",
                l.interface,
                rows(l.day),
                rows(l.day_before),
                rows(l.last_month),
                l.day.map_or(0, |v| v.files),
                l.day.map_or(0, |v| v.bytes),
                l.push_started.as_deref().map_or("-", |t| t.get(..19).unwrap_or(t)),
                l.push_finished.as_deref().map_or("-", |t| t.get(..19).unwrap_or(t)),
                if l.alarms.is_empty() {
                    "-".to_string()
                } else {
                    l.alarms.join("; ")
                }
            )?;
        }
    }
    for l in lines.iter().filter(|l| !l.alarms.is_empty()) {
        crate::say!("chama: ALARM {} {}: {}", l.interface, ymd(day), l.alarms.join("; "));
    }
    Ok(code)
}
