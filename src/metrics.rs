//! The Prometheus textfile-collector file (`metrics_dir/chama.prom`, or
//! `--metrics-file`), rewritten atomically after every command from the
//! ledger and the manifests, so that it always tells the whole recent story:
//! per interface, period and destination, rows, files, bytes, durations,
//! exit codes, failovers and the last success time.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use crate::config::Config;
use crate::ledger::{Ledger, Ran};
use crate::manifest::Manifest;
use crate::workdir::{hour_period, Sets};

/// Samples of one metric family.
struct Family {
    help: &'static str,
    samples: Vec<(String, f64)>,
}

#[derive(Default)]
struct Out {
    families: BTreeMap<&'static str, Family>,
}

impl Out {
    fn add(&mut self, name: &'static str, help: &'static str, labels: &[(&str, &str)], v: f64) {
        let labels: Vec<String> = labels
            .iter()
            .map(|(k, v)| {
                format!(
                    "{k}=\"{}\"",
                    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
                )
            })
            .collect();
        self.families
            .entry(name)
            .or_insert(Family {
                help,
                samples: Vec::new(),
            })
            .samples
            .push((labels.join(","), v));
    }

    fn text(&self) -> String {
        let mut s = String::new();
        for (name, f) in &self.families {
            let _ = writeln!(s, "# HELP {name} {}\n# TYPE {name} gauge", f.help);
            for (labels, v) in &f.samples {
                let _ = writeln!(s, "{name}{{{labels}}} {v}");
            }
        }
        s
    }
}

fn unix(t: &str) -> Option<f64> {
    chrono::DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|d| d.timestamp_millis() as f64 / 1000.0)
}

/// How long a finished command took.
fn seconds(ran: &Ran) -> Option<f64> {
    Some(unix(ran.finished.as_deref()?)? - unix(&ran.started)?)
}

/// When a command that succeeded finished.
fn succeeded(ran: &Ran) -> Option<f64> {
    ran.finished.as_deref().filter(|_| ran.code == Some(0)).and_then(unix)
}

/// Rewrites the metrics file at `path`.
pub fn write(config: &Config, path: &Path) -> anyhow::Result<()> {
    // The latest keep_days days of each interface (not of the calendar: a
    // rerun of an old month still shows), so the series stay few.
    let mut days: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    let work = config.work();
    let ledger = Ledger::open_existing(&work.ledger_path())?;
    let (runs, all_pushes) = match &ledger {
        Some(l) => (l.runs(None, "")?, l.pushes(None, "")?),
        None => (Vec::new(), Vec::new()),
    };
    for (iface, period) in runs
        .iter()
        .map(|r| (&r.iface, &r.period))
        .chain(all_pushes.iter().map(|p| (&p.iface, &p.period)))
    {
        if let Some(d) = period.get(..8) {
            days.entry(iface.clone()).or_default().insert(d.to_string());
        }
    }
    for tree in [Sets::Daily, Sets::Hourly] {
        for (name, _) in work.ifaces(tree) {
            let d = work.days(tree, &name);
            days.entry(name).or_default().extend(d);
        }
    }
    let keep = config.keep_days.max(1) as usize;
    let recent = |iface: &str, period: &str| {
        let d = period.get(..8).unwrap_or("");
        days.get(iface)
            .is_some_and(|s| s.iter().rev().filter(|x| x.len() == 8).take(keep).any(|x| x == d))
    };
    let mut out = Out::default();
    if let Some(ledger) = &ledger {
        // Runs: the latest per command, interface and period; last run and last success per command and interface.
        let mut latest = BTreeMap::new();
        let mut last = BTreeMap::new();
        let mut last_ok = BTreeMap::new();
        for r in runs {
            let key = (r.command.clone(), r.iface.clone());
            if let Some(t) = unix(&r.ran.started) {
                last.insert(key.clone(), t);
            }
            if let Some(t) = succeeded(&r.ran) {
                last_ok.insert(key.clone(), t);
            }
            if recent(&r.iface, &r.period) {
                latest.insert((r.command.clone(), r.iface.clone(), r.period.clone()), r);
            }
        }
        for ((cmd, iface), t) in &last {
            out.add(
                "chama_run_last_timestamp_seconds",
                "Start of the last run of a command.",
                &[("command", cmd), ("interface", iface)],
                *t,
            );
        }
        for ((cmd, iface), t) in &last_ok {
            out.add(
                "chama_run_last_success_timestamp_seconds",
                "End of the last successful run of a command.",
                &[("command", cmd), ("interface", iface)],
                *t,
            );
        }
        for ((cmd, iface, period), r) in &latest {
            let l = [
                ("command", cmd.as_str()),
                ("interface", iface.as_str()),
                ("period", period.as_str()),
            ];
            if let Some(d) = seconds(&r.ran) {
                out.add("chama_run_duration_seconds", "Duration of the latest run.", &l, d);
            }
            if let Some(c) = r.ran.code {
                out.add("chama_run_exit_code", "Exit code of the latest run.", &l, c as f64);
            }
        }
        // Pushes: the latest per interface, period and destination.
        let mut pushes = BTreeMap::new();
        for p in all_pushes.into_iter().filter(|p| recent(&p.iface, &p.period)) {
            pushes.insert((p.iface.clone(), p.period.clone(), p.dest.clone()), p);
        }
        for ((iface, period, dest), p) in &pushes {
            let l = [
                ("interface", iface.as_str()),
                ("period", period.as_str()),
                ("destination", dest.as_str()),
            ];
            out.add(
                "chama_push_files",
                "Files sent by the latest push.",
                &l,
                p.files.unwrap_or(0) as f64,
            );
            out.add(
                "chama_push_skipped_files",
                "Files the latest push found delivered already.",
                &l,
                p.skipped.unwrap_or(0) as f64,
            );
            out.add(
                "chama_push_bytes",
                "Bytes sent by the latest push.",
                &l,
                p.bytes.unwrap_or(0) as f64,
            );
            out.add(
                "chama_push_failovers",
                "Hosts that left the rotation during the latest push.",
                &l,
                ledger.failed_hosts(p.id)? as f64,
            );
            if let Some(c) = p.ran.code {
                out.add(
                    "chama_push_exit_code",
                    "Exit code of the latest push (5: not delivered).",
                    &l,
                    c as f64,
                );
            }
            if let Some(d) = seconds(&p.ran) {
                out.add("chama_push_duration_seconds", "Duration of the latest push.", &l, d);
            }
            if let Some(t) = succeeded(&p.ran) {
                out.add(
                    "chama_push_last_success_timestamp_seconds",
                    "End of the latest successful push.",
                    &l,
                    t,
                );
            }
        }
    }
    // Sets on disk: merged days and built hours.
    for (kind, tree) in [("day", Sets::Daily), ("hour", Sets::Hourly)] {
        for (name, _) in work.ifaces(tree) {
            for d in work.days(tree, &name) {
                if !recent(&name, &d) {
                    continue;
                }
                let dirs: Vec<(String, std::path::PathBuf)> = match tree {
                    Sets::Daily => vec![(d.clone(), work.out_dir(&name, &d))],
                    Sets::Hourly => (0..24)
                        .map(|h| (hour_period(&d, h), work.hour_dir(&name, &d, h)))
                        .collect(),
                };
                for (period, dir) in dirs {
                    let Ok(m) = Manifest::read(&dir) else { continue };
                    let l = [
                        ("interface", name.as_str()),
                        ("period", period.as_str()),
                        ("kind", kind),
                    ];
                    out.add("chama_rows_in", "Rows read.", &l, m.counts.rows_in as f64);
                    out.add(
                        "chama_rows_out",
                        "Rows written to the set's files.",
                        &l,
                        m.counts.rows_out as f64,
                    );
                    out.add(
                        "chama_rows_filtered",
                        "Rows the spec's WHERE dropped.",
                        &l,
                        m.counts.filtered as f64,
                    );
                    out.add(
                        "chama_rows_rejected",
                        "Rows rejected (in rejects/).",
                        &l,
                        m.counts.rejected as f64,
                    );
                    out.add(
                        "chama_files",
                        "Data files of the sets.",
                        &l,
                        m.sets.iter().map(|s| s.files.len()).sum::<usize>() as f64,
                    );
                    out.add(
                        "chama_bytes",
                        "Compressed bytes of the sets' data files.",
                        &l,
                        m.sets.iter().flat_map(|s| &s.files).map(|f| f.bytes).sum::<u64>() as f64,
                    );
                    out.add("chama_build_seconds", "Time the build (or merge) took.", &l, m.seconds);
                }
            }
        }
    }
    // What `chama report` alarms on, per interface and recent day, as series a rule can
    // hold against `time()` (so that it fires when chama never runs again): when the day's
    // push is due and when it ended, and the day's rows against the same day last month
    // beside the spec's alarm ratio.
    for spec_path in config.spec_files().unwrap_or_default() {
        let Ok(spec) = crate::spec::load(&spec_path, &config.names()) else {
            continue;
        };
        let iface = spec.name.as_str();
        out.add(
            "chama_alarm_ratio",
            "A day's rows under this share of the same day last month are an alarm (the spec's alarm_ratio).",
            &[("interface", iface)],
            spec.delivery.alarm_ratio,
        );
        let recent_days = days
            .get(iface)
            .into_iter()
            .flatten()
            .filter(|d| d.len() == 8 && recent(iface, d));
        for d in recent_days {
            let Ok(day) = chrono::NaiveDate::parse_from_str(d, "%Y%m%d") else {
                continue;
            };
            let line = crate::ops::report::line(config, &spec, day, ledger.as_ref())?;
            let l = [("interface", iface), ("period", d.as_str())];
            if let Some(t) = line.deadline.as_deref().and_then(unix) {
                out.add(
                    "chama_delivery_deadline_timestamp_seconds",
                    "When the day's push is due: the spec's deadline, the next day.",
                    &l,
                    t,
                );
            }
            if let Some(t) = line.push_finished.as_deref().and_then(unix) {
                out.add(
                    "chama_day_pushed_timestamp_seconds",
                    "End of the day's last successful push (the day's or an hour's).",
                    &l,
                    t,
                );
            }
            if let Some(r) = line.ratio {
                out.add(
                    "chama_day_rows_ratio",
                    "The day's rows against the same day last month.",
                    &l,
                    r,
                );
            }
        }
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    crate::atomic::write(path, out.text().as_bytes())
}
