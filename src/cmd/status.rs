//! `chama status`: what state every interface's days are in, as a table or
//! JSON (`ops/status.rs` reads it).

use std::io::Write;

use crate::cli::StatusArgs;
use crate::config::Config;
use crate::exit::{Code, Outcome};
use crate::period::Day;

/// Days shown when none is within `keep_days`.
const NEWEST: usize = 5;

pub fn status(config: &Config, args: &StatusArgs) -> anyhow::Result<Outcome> {
    let since = match &args.since {
        Some(p) => p.day(),
        None => Day(chrono::Local::now().date_naive() - chrono::Days::new(u64::from(config.keep_days))),
    };
    let mut out = crate::ops::status::status(config, args.iface.as_deref(), Some(since))?;
    let mut since = since;
    if out.is_empty() {
        crate::say!("{}", config.origin());
        // Nothing in the window: the newest days there are, rather than an empty table.
        if args.since.is_none() {
            let all = crate::ops::status::status(config, args.iface.as_deref(), None)?;
            let mut days: Vec<Day> = all.iter().map(|d| d.day).collect();
            days.sort_unstable();
            days.dedup();
            if let Some(&oldest) = days.get(days.len().saturating_sub(NEWEST)) {
                crate::say!(
                    "nothing since {since} (keep_days = {}); the newest {} day(s) there are below (`--since YYYYMMDD` for others)",
                    config.keep_days,
                    days.len().min(NEWEST)
                );
                out = all.into_iter().filter(|d| d.day >= oldest).collect();
                since = oldest;
            }
        }
    } else if config.file.is_none() {
        crate::say!("{}", config.origin());
    }
    if args.json {
        println!(
            "{}",
            serde_json::json!({"command": "status", "since": since, "code": 0, "days": out})
        );
        return Ok(Code::Ok.into());
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
                let state = match p.ran.code {
                    Some(0) => "ok".to_string(),
                    Some(c) => format!("exit {c}"),
                    None => "running or killed".to_string(),
                };
                format!(
                    "{} {} {}..{} {state}",
                    p.dest,
                    p.period,
                    short(&p.ran.started),
                    p.ran.finished.as_deref().map(short).unwrap_or_default()
                )
            })
            .collect();
        if let Some(e) = &d.last_error {
            notes.push(format!(
                "last error: {} {} exit {} at {}: {}",
                e.command,
                e.period,
                e.ran.code.unwrap_or(-1),
                short(&e.ran.started),
                e.ran.error.as_deref().unwrap_or("")
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
    Ok(Code::Ok.into())
}

/// `2024-12-13T00:01:02.345+08:00` as `12-13 00:01:02`.
fn short(t: &str) -> String {
    t.get(5..19).unwrap_or(t).replacen('T', " ", 1)
}
