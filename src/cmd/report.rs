//! `chama report --period D`: each interface's volumes for the day against
//! the day before and the same day last month, and when its push ran; exit
//! 7 when any alarm fires (`ops/report.rs` says which).

use std::io::Write;

use crate::cli::ReportArgs;
use crate::config::Config;
use crate::exit::{Code, Failure, Outcome};
use crate::ops::report::{report as lines_of, Volume};

pub fn report(config: &Config, args: &ReportArgs) -> anyhow::Result<Outcome> {
    let period = args.period;
    if period.hour.is_some() {
        return Err(Failure::Usage(format!("report takes a day (YYYYMMDD), not the hour {period}")).into());
    }
    let day = period.day();
    let lines = lines_of(config, day)?;
    if config.file.is_none() || lines.iter().all(|l| l.day.is_none()) {
        crate::say!("{}", config.origin());
    }
    let alarm = lines.iter().any(|l| !l.alarms.is_empty());
    let code = if alarm { Code::Alarm } else { Code::Ok };
    if args.json {
        println!(
            "{}",
            serde_json::json!({"command": "report", "period": day, "code": code as u8, "interfaces": lines})
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
        crate::log::alarm(&format!("ALARM {} {}: {}", l.interface, day, l.alarms.join("; ")));
    }
    Ok(code.into())
}
