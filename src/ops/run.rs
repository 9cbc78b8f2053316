//! The scheduled daily job (`chama run`). For each interface, under the lock
//! of its day: build the hours not built yet (two at a time), merge the day
//! when something changed or it is not merged, push to every destination
//! (each hour's sets instead, for an hourly interface). Run again after
//! success, it only checks: every hour built, the day merged, every file
//! delivered.

use serde::Serialize;

use super::build::{self, BuildOptions};
use super::merge::{self, MergeOptions};
use super::push::{self, PushOptions};
use super::Parts;
use crate::config::Config;
use crate::exit::{code_of, Code};
use crate::period::Period;
use crate::spec::Cadence;
use crate::workdir::{hh, is_complete};

/// One interface's day.
#[derive(Debug, Default, Serialize)]
pub struct IfaceRun {
    pub interface: String,
    pub code: u8,
    /// Hours built by this run.
    pub built: Vec<String>,
    pub merged: bool,
    pub pushed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Runs the day `period` (a day, not an hour) for each of `ifaces`.
pub fn run(config: &Config, ifaces: &[String], period: &Period) -> Parts<IfaceRun> {
    let date = period.day();
    let mut out = Parts::new();
    for iface in ifaces {
        if let Some(i) = crate::signals::received() {
            out.note(i.code(), Some(format!("{iface} {date}: not started: {i}")));
            break;
        }
        let mut r = IfaceRun {
            interface: iface.clone(),
            ..IfaceRun::default()
        };
        let c = match crate::lock::acquire(config, iface, date, "run")
            .and_then(|_lock| run_one(config, iface, period, &mut r))
        {
            Ok((c, error)) => {
                out.note(c, error);
                c
            }
            Err(e) => {
                let msg = format!("{iface} {date}: {e:#}");
                crate::log::error(&msg);
                out.note(code_of(&e), Some(msg));
                r.error = Some(format!("{e:#}"));
                code_of(&e)
            }
        };
        r.code = c as u8;
        out.parts.push(r);
    }
    out
}

/// One interface's day, under its lock: its code and the last error it went past.
fn run_one(config: &Config, iface: &str, period: &Period, r: &mut IfaceRun) -> anyhow::Result<(Code, Option<String>)> {
    let spec = super::load_spec(config, iface)?;
    let date = period.day();
    let work = config.work();
    // The hours not built yet, two at a time, each with half the cores for
    // compression: the machine stays busy and memory stays within the bound
    // (one hour's pipeline peaks well under half of it).
    let missing: Vec<u8> = (0..24u8)
        .filter(|&h| !is_complete(&work.hour_dir(&spec.name, date, h)))
        .collect();
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let lanes = missing.len().clamp(1, 2);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..lanes {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(&h) = missing.get(i) else { return };
                if crate::signals::received().is_some() {
                    return;
                }
                let mut opts = BuildOptions {
                    jobs: Some((cores / lanes).max(1)),
                    ..BuildOptions::regular()
                };
                let built = build::build(config, &spec, &period.with_hour(h), &mut opts);
                results.lock().unwrap_or_else(|e| e.into_inner()).push((h, built));
            });
        }
    });
    let mut code = Code::Ok;
    let mut error = None;
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results.sort_by_key(|(h, _)| *h);
    for (h, built) in results {
        let built = built?;
        if built.code == Code::Ok {
            r.built.push(hh(h));
        }
        code = code.worse(built.code);
        error = built.error.or(error);
    }
    if code != Code::Ok {
        crate::say!(
            "{} {date}: not every hour could be built; not merging or pushing (exit {code})",
            spec.name
        );
        return Ok((code, error));
    }
    let push = |p: &Period| push::push(config, &spec, p, &PushOptions::default());
    if spec.delivery.cadence == Cadence::Hourly {
        // Hourly interfaces deliver each hour's sets; there is no daily merge.
        for h in 0..24u8 {
            let p = push(&period.with_hour(h))?;
            code = code.worse(p.code);
            error = p.error.or(error);
        }
        r.pushed = code == Code::Ok;
        return Ok((code, error));
    }
    if !is_complete(&work.out_dir(&spec.name, date)) || !r.built.is_empty() {
        merge::merge(config, &spec, date, &mut MergeOptions::default())?;
        r.merged = true;
    }
    let p = push(period)?;
    r.pushed = p.code == Code::Ok;
    Ok((p.code, p.error.or(error)))
}
