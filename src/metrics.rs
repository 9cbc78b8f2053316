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
use crate::period::Day;
use crate::workdir::{hour_period, Tree};

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
    let mut days: BTreeMap<String, std::collections::BTreeSet<Day>> = BTreeMap::new();
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
        if let Some(d) = period.get(..8).and_then(|d| d.parse::<Day>().ok()) {
            days.entry(iface.clone()).or_default().insert(d);
        }
    }
    for tree in [Tree::Merged, Tree::Hourly] {
        for (name, _) in work.ifaces(tree) {
            let d = work.days(tree, &name);
            days.entry(name).or_default().extend(d);
        }
    }
    let keep = config.keep_days.max(1) as usize;
    // Whether a period (`YYYYMMDD[HH]`) is of one of the interface's newest `keep` days.
    let recent = |iface: &str, period: &str| {
        let d = period.get(..8).and_then(|d| d.parse::<Day>().ok());
        days.get(iface)
            .is_some_and(|s| s.iter().rev().take(keep).any(|x| Some(*x) == d))
    };
    let mut out = Out::default();
    let specs: Vec<crate::spec::Spec> = config
        .spec_files()
        .unwrap_or_default()
        .iter()
        .filter_map(|p| crate::spec::load(p, &config.names()).ok())
        .collect();
    let config_ifaces: Vec<String> = specs.iter().map(|s| s.name.clone()).collect();
    let mut last_success: BTreeMap<String, f64> = BTreeMap::new();
    if let Some(ledger) = &ledger {
        // Runs: the latest per command, interface and period; last run and last success per command and interface.
        let mut latest = BTreeMap::new();
        let mut last = BTreeMap::new();
        let mut last_ok = BTreeMap::new();
        for r in &runs {
            if let Some(t) = succeeded(&r.ran) {
                let ifaces: Vec<&str> = match r.iface.as_str() {
                    "(all)" => config_ifaces.iter().map(String::as_str).collect(),
                    i => vec![i],
                };
                for i in ifaces {
                    let last = last_success.entry(i.to_string()).or_insert(t);
                    *last = last.max(t);
                }
            }
        }
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
    // Sets on disk: merged days and built hours. Their bytes per interface and day (hours
    // and merged day together) tell what a day needs on disk; the newest hour built, when
    // the next one is due.
    let mut day_bytes: BTreeMap<(String, Day), u64> = BTreeMap::new();
    let mut newest_hour: BTreeMap<String, String> = BTreeMap::new();
    let mut hour_rows: BTreeMap<(String, String), u64> = BTreeMap::new();
    for (kind, tree) in [("day", Tree::Merged), ("hour", Tree::Hourly)] {
        for (name, _) in work.ifaces(tree) {
            for d in work.days(tree, &name) {
                if !recent(&name, &d.to_string()) {
                    continue;
                }
                let dirs: Vec<(String, std::path::PathBuf)> = match tree {
                    Tree::Merged => vec![(d.to_string(), work.out_dir(&name, d))],
                    Tree::Hourly => (0..24)
                        .map(|h| (hour_period(d, h), work.hour_dir(&name, d, h)))
                        .collect(),
                };
                for (period, dir) in dirs {
                    let Ok(m) = Manifest::read(&dir) else { continue };
                    let bytes: u64 = m.sets.iter().flat_map(|s| &s.files).map(|f| f.bytes).sum();
                    *day_bytes.entry((name.clone(), d)).or_default() += bytes;
                    // A merged day stands for its 24 hours (their sets may be cleaned).
                    let last_hour = match tree {
                        Tree::Merged => hour_period(d, 23),
                        Tree::Hourly => period.clone(),
                    };
                    let newest = newest_hour.entry(name.clone()).or_default();
                    if *newest < last_hour {
                        *newest = last_hour;
                    }
                    if tree == Tree::Hourly {
                        hour_rows.insert((name.clone(), period.clone()), m.counts.rows_out);
                    }
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
                        bytes as f64,
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
    for spec in &specs {
        let iface = spec.name.as_str();
        if let Some(t) = last_success.get(iface) {
            out.add(
                "chama_interface_last_success_timestamp_seconds",
                "End of the interface's last successful pull, build, merge, push, run or rerun (a `run --all` that succeeded counts for each).",
                &[("interface", iface)],
                *t,
            );
        }
        out.add(
            "chama_alarm_silence_seconds",
            "No successful run for this long is an alarm (the spec's alarm_silence).",
            &[("interface", iface)],
            spec.delivery.alarm_silence.as_secs_f64(),
        );
        if let Some((period, due)) = newest_hour
            .get(iface)
            .and_then(|h| next_hour_due(h, spec.delivery.alarm_hour_late, keep))
        {
            out.add(
                "chama_hour_due_timestamp_seconds",
                "When the hour after the newest one built is late: its end and the spec's alarm_hour_late.",
                &[("interface", iface), ("period", &period)],
                due,
            );
        }
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
            .copied()
            .filter(|d| recent(iface, &d.to_string()));
        for day in recent_days {
            let line = crate::ops::report::line(config, spec, day, ledger.as_ref())?;
            let d = day.to_string();
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
            // A day still being built is not short: only a whole day (merged, or its 24
            // hours built) is held against others. An hourly interface's hours too, each
            // against the same hour the day before.
            let whole = line.day.is_some_and(|v| v.whole);
            for (against, r) in [("last_month", line.ratio), ("day_before", line.ratio_day_before)] {
                if let Some(r) = r.filter(|_| whole) {
                    out.add(
                        "chama_day_rows_ratio",
                        "A whole day's rows against the same day last month (against=\"last_month\") or the day before (\"day_before\").",
                        &[("interface", iface), ("period", d.as_str()), ("against", against)],
                        r,
                    );
                }
            }
        }
        if spec.delivery.cadence == crate::spec::Cadence::Hourly {
            for ((_, period), r) in hour_ratios(&hour_rows, iface) {
                out.add(
                    "chama_hour_rows_ratio",
                    "An hourly interface's hour: its rows against the same hour the day before (against=\"day_before\").",
                    &[("interface", iface), ("period", &period), ("against", "day_before")],
                    r,
                );
            }
        }
    }
    work_disk(&mut out, work.root(), &day_bytes);
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    crate::atomic::write(path, out.text().as_bytes())
}

/// `iface`'s built hours (of `rows`, by interface and `YYYYMMDDHH`) each against the
/// same hour the day before, where that one had rows.
fn hour_ratios(rows: &BTreeMap<(String, String), u64>, iface: &str) -> Vec<((String, String), f64)> {
    let mut out = Vec::new();
    for ((i, period), n) in rows.iter().filter(|((i, _), _)| i == iface) {
        let Ok(start) = chrono::NaiveDateTime::parse_from_str(&format!("{period}00"), "%Y%m%d%H%M") else {
            continue;
        };
        let before = (start - chrono::Duration::days(1)).format("%Y%m%d%H").to_string();
        if let Some(&b) = rows.get(&(i.clone(), before)).filter(|b| **b > 0) {
            out.push(((i.clone(), period.clone()), *n as f64 / b as f64));
        }
    }
    out
}

/// The hour after `newest` (`YYYYMMDDHH`) and when it is late: the end of that hour
/// (local time) and `late`. None when that hour is over `keep` days old: an interface
/// whose hours stopped that long ago is the dead man's switch's, not a late hour's.
fn next_hour_due(newest: &str, late: std::time::Duration, keep: usize) -> Option<(String, f64)> {
    use chrono::{Duration, Local, NaiveDateTime};
    let start = NaiveDateTime::parse_from_str(&format!("{newest}00"), "%Y%m%d%H%M").ok()?;
    let next = start + Duration::hours(1);
    let end = next
        .checked_add_signed(Duration::hours(1))?
        .and_local_timezone(Local)
        .earliest()?;
    if end < Local::now() - Duration::days(keep as i64) {
        return None;
    }
    let due = end.timestamp() as f64 + late.as_secs_f64();
    Some((next.format("%Y%m%d%H").to_string(), due))
}

/// The work directory's filesystem: free and total bytes (statvfs), the free space
/// under which it is an alarm (what a day needs there: each interface's biggest recent
/// day's sets, hours and merged day together; at least 5% of it), and the mount point it is on, so that a rule can join node_exporter's
/// live `node_filesystem_avail_bytes` on it.
fn work_disk(out: &mut Out, root: &Path, day_bytes: &BTreeMap<(String, Day), u64>) {
    let Ok(dir) = std::fs::canonicalize(root) else { return };
    let Some((free, size)) = statvfs(&dir) else { return };
    let shown = dir.display().to_string();
    let l = [("dir", shown.as_str())];
    out.add(
        "chama_work_free_bytes",
        "Bytes free to chama on the work directory's filesystem.",
        &l,
        free as f64,
    );
    out.add(
        "chama_work_size_bytes",
        "Size of the work directory's filesystem.",
        &l,
        size as f64,
    );
    let mut biggest: BTreeMap<&str, u64> = BTreeMap::new();
    for ((iface, _), b) in day_bytes.iter().rev() {
        let e = biggest.entry(iface.as_str()).or_default();
        *e = (*e).max(*b);
    }
    // Free space under what a day needs (or under 5% of the filesystem) is an alarm.
    let needed = biggest.values().sum::<u64>().max(size / 20);
    out.add(
        "chama_work_min_free_bytes",
        "Free space under this is an alarm: each interface's biggest recent day (hours and merged day) together, at least 5% of the filesystem.",
        &l,
        needed as f64,
    );
    if let Some(m) = mountpoint(&dir) {
        out.add(
            "chama_work_filesystem_info",
            "The mount point of the work directory (to join node_exporter's filesystem metrics).",
            &[("dir", shown.as_str()), ("mountpoint", m.as_str())],
            1.0,
        );
    }
}

/// Bytes available to an unprivileged user, and the filesystem's size.
fn statvfs(dir: &Path) -> Option<(u64, u64)> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a NUL-terminated path and `st` a statvfs the call fills.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    let frsize = st.f_frsize as u64;
    Some((st.f_bavail as u64 * frsize, st.f_blocks as u64 * frsize))
}

/// The mount point `dir` (canonical) is on: the longest one of /proc/self/mountinfo
/// that holds it.
fn mountpoint(dir: &Path) -> Option<String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(unescape_octal)
        .filter(|m| dir.starts_with(m))
        .max_by_key(|m| m.len())
}

/// Mount points in mountinfo have space, tab, newline and backslash as `\ooo`.
fn unescape_octal(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let code = b
            .get(i + 1..i + 4)
            .and_then(|o| u8::from_str_radix(std::str::from_utf8(o).ok()?, 8).ok());
        match (b[i], code) {
            (b'\\', Some(c)) => {
                out.push(c);
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_points_unescaped() {
        assert_eq!(unescape_octal("/mnt/my\\040disk"), "/mnt/my disk");
        assert_eq!(unescape_octal("/var/lib"), "/var/lib");
        assert_eq!(mountpoint(Path::new("/proc/self")).as_deref(), Some("/proc"));
    }

    #[test]
    fn the_hour_after_the_newest_is_due_after_it_ends() {
        let late = std::time::Duration::from_secs(5400);
        let now = chrono::Local::now();
        let newest = (now - chrono::Duration::hours(3)).format("%Y%m%d%H").to_string();
        let (period, due) = next_hour_due(&newest, late, 15).unwrap();
        let next = now - chrono::Duration::hours(2);
        assert_eq!(period, next.format("%Y%m%d%H").to_string());
        // The next hour ended an hour ago (give or take the minutes past the hour); due 90 minutes after.
        let ended = due - 5400.0;
        assert!((now.timestamp() as f64 - ended - 3600.0).abs() < 3600.0, "{ended}");
        assert!(next_hour_due("2024121223", late, 15).is_none());
    }
}
