//! `chama status`: what state every interface's days are in, at a glance:
//! hours built, merged, pushed where and when (the team's push log), rows,
//! files, bytes, and the last error. Read from the work directory's manifests
//! and the ledger; changes nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use serde::Serialize;

use crate::cli::StatusArgs;
use crate::config::Config;
use crate::exit::{Code, Failure};
use crate::ledger::{Ledger, PushRow, RunRow};
use crate::manifest::Manifest;

#[derive(Debug, Serialize)]
struct Day {
    interface: String,
    day: String,
    hours_built: Vec<String>,
    merged: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    missing_hours: Vec<String>,
    rows: u64,
    files: usize,
    bytes: u64,
    /// The last push of each destination and period.
    pushes: Vec<PushRow>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_error: Option<RunRow>,
}

/// Directory names that are days (`YYYYMMDD`) under `dir`.
fn days_in(dir: &std::path::Path) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.len() == 8 && n.bytes().all(|b| b.is_ascii_digit()))
        .collect()
}

pub fn status(config: &Config, args: &StatusArgs) -> anyhow::Result<Code> {
    let since = match &args.since {
        Some(d) => {
            let p: crate::period::Period = d.parse().map_err(Failure::Usage)?;
            p.date_str()
        }
        None => (chrono::Local::now().date_naive() - chrono::Days::new(u64::from(config.keep_days)))
            .format("%Y%m%d")
            .to_string(),
    };
    let ledger_path = config.ledger_path();
    let (pushes, runs) = if ledger_path.exists() {
        let l = Ledger::open(&ledger_path)?;
        (
            l.pushes(args.iface.as_deref(), &since)?,
            l.runs(args.iface.as_deref(), &since)?,
        )
    } else {
        (Vec::new(), Vec::new())
    };

    let mut ifaces: BTreeSet<String> = BTreeSet::new();
    match &args.iface {
        Some(i) => {
            ifaces.insert(i.clone());
        }
        None => {
            for sub in ["hourly", "out"] {
                if let Ok(rd) = std::fs::read_dir(config.work_dir.join(sub)) {
                    ifaces.extend(rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()));
                }
            }
            ifaces.extend(pushes.iter().map(|p| p.iface.clone()));
            ifaces.extend(runs.iter().filter(|r| r.iface != "(all)").map(|r| r.iface.clone()));
        }
    }

    let mut out = Vec::new();
    for iface in &ifaces {
        let mut days: BTreeSet<String> = BTreeSet::new();
        days.extend(days_in(&config.work_dir.join("hourly").join(iface)));
        days.extend(days_in(&config.work_dir.join("out").join(iface)));
        days.extend(
            pushes
                .iter()
                .filter(|p| &p.iface == iface)
                .map(|p| p.period[..8].to_string()),
        );
        days.extend(
            runs.iter()
                .filter(|r| &r.iface == iface && r.period.len() >= 8)
                .map(|r| r.period[..8].to_string()),
        );
        for day in days.into_iter().filter(|d| *d >= since) {
            out.push(day_status(config, iface, &day, &pushes, &runs));
        }
    }

    if args.json {
        println!(
            "{}",
            serde_json::json!({"command": "status", "since": since, "code": 0, "days": out})
        );
        return Ok(Code::Ok);
    }
    let stdout = std::io::stdout();
    let mut so = stdout.lock();
    writeln!(
        so,
        "{:<10} {:<8}  {:>5}  {:<6} {:>10} {:>6} {:>12}  PUSHED / LAST ERROR",
        "INTERFACE", "DAY", "HOURS", "MERGED", "ROWS", "FILES", "BYTES"
    )?;
    for d in &out {
        let mut notes: Vec<String> = d
            .pushes
            .iter()
            .map(|p| {
                let state = match p.code {
                    Some(0) => "ok".to_string(),
                    Some(c) => format!("exit {c}"),
                    None => "running or killed".to_string(),
                };
                format!(
                    "{} {} {}..{} {state}",
                    p.dest,
                    p.period,
                    short(&p.started),
                    p.finished.as_deref().map(short).unwrap_or_default()
                )
            })
            .collect();
        if let Some(e) = &d.last_error {
            notes.push(format!(
                "last error: {} {} exit {} at {}: {}",
                e.command,
                e.period,
                e.code.unwrap_or(-1),
                short(&e.started),
                e.error.as_deref().unwrap_or("")
            ));
        }
        writeln!(
            so,
            "{:<10} {:<8}  {:>2}/24  {:<6} {:>10} {:>6} {:>12}  {}",
            d.interface,
            d.day,
            d.hours_built.len(),
            if d.merged { "yes" } else { "no" },
            d.rows,
            d.files,
            d.bytes,
            if notes.is_empty() {
                "-".to_string()
            } else {
                notes.join("; ")
            }
        )?;
    }
    Ok(Code::Ok)
}

/// `2024-12-13T00:01:02.345+08:00` as `12-13 00:01:02`.
fn short(t: &str) -> String {
    t.get(5..19).unwrap_or(t).replacen('T', " ", 1)
}

fn day_status(config: &Config, iface: &str, day: &str, pushes: &[PushRow], runs: &[RunRow]) -> Day {
    let hourly = config.hourly_day_dir(iface, day);
    let mut hours_built = Vec::new();
    let (mut rows, mut files, mut bytes) = (0, 0, 0);
    for h in 0..24 {
        let hh = format!("{h:02}");
        if let Ok(m) = Manifest::read(&hourly.join(&hh)) {
            hours_built.push(hh);
            rows += m.counts.rows_out;
            files += m.sets.iter().map(|s| s.files.len()).sum::<usize>();
            bytes += m.sets.iter().flat_map(|s| &s.files).map(|f| f.bytes).sum::<u64>();
        }
    }
    let merged = Manifest::read(&config.out_dir(iface, day)).ok();
    let mut missing_hours = Vec::new();
    if let Some(m) = &merged {
        rows = m.counts.rows_out;
        files = m.sets.iter().map(|s| s.files.len()).sum();
        bytes = m.sets.iter().flat_map(|s| &s.files).map(|f| f.bytes).sum();
        missing_hours = m.missing_hours.clone();
    }
    let mut last: BTreeMap<(String, String), PushRow> = BTreeMap::new();
    for p in pushes.iter().filter(|p| p.iface == iface && p.period.starts_with(day)) {
        last.insert((p.dest.clone(), p.period.clone()), p.clone());
    }
    let last_error = runs
        .iter()
        .rfind(|r| r.iface == iface && r.period.starts_with(day))
        .filter(|r| r.code.is_some_and(|c| c != 0))
        .cloned();
    Day {
        interface: iface.to_string(),
        day: day.to_string(),
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
