//! `chama run`: the scheduled daily job. For each interface: build the hours
//! not built yet (two at a time), merge the day (when something changed or it is not merged),
//! push to every destination. Run again after success, it only checks: every
//! hour is built, the day is merged, every file is delivered; exit 0.

use serde::Serialize;

use crate::cli::{BuildArgs, RunArgs};
use crate::config::Config;
use crate::exit::{code_of, Code, Failure};
use crate::period::Period;
use crate::spec::{self, Cadence};

#[derive(Debug, Default, Serialize)]
struct IfaceRun {
    interface: String,
    code: u8,
    /// Hours built by this run.
    built: Vec<String>,
    merged: bool,
    pushed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

pub fn run(config: &Config, args: &RunArgs) -> anyhow::Result<Code> {
    let period: Period = args.period.parse().map_err(Failure::Usage)?;
    if period.hour.is_some() {
        return Err(Failure::Usage(format!("run takes a day (YYYYMMDD), not the hour {period}")).into());
    }
    let date = period.date_str();
    let ifaces: Vec<String> = match (&args.iface, args.all) {
        (Some(i), false) => vec![i.clone()],
        (None, true) => config
            .spec_files()?
            .iter()
            .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .collect(),
        _ => return Err(Failure::Usage("give --iface NAME or --all".into()).into()),
    };
    let mut code = Code::Ok;
    let mut runs = Vec::new();
    for iface in &ifaces {
        let mut r = IfaceRun {
            interface: iface.clone(),
            ..IfaceRun::default()
        };
        let c = match crate::lock::acquire(config, iface, &date, "run")
            .and_then(|_lock| run_one(config, iface, &date, &mut r))
        {
            Ok(c) => c,
            Err(e) => {
                let c = code_of(&e);
                crate::say_error!("chama: {iface} {date}: {e:#}");
                crate::exit::reported(&format!("{iface} {date}: {e:#}"));
                r.error = Some(format!("{e:#}"));
                c
            }
        };
        r.code = c as u8;
        code = code.worse(c);
        runs.push(r);
    }
    if args.json {
        println!(
            "{}",
            serde_json::json!({"command": "run", "period": date, "code": code as u8, "interfaces": runs})
        );
    }
    Ok(code)
}

/// One interface's day, under its lock.
fn run_one(config: &Config, iface: &str, date: &str, r: &mut IfaceRun) -> anyhow::Result<Code> {
    let spec = spec::load(&config.spec_path(iface), &config.names())?;
    let hourly = config.hourly_day_dir(&spec.name, date);
    // The hours not built yet, two at a time, each with half the cores for
    // compression: the machine stays busy and memory stays within the bound
    // (one hour's pipeline peaks well under half of it).
    let missing: Vec<String> = (0..24u8)
        .map(|h| format!("{h:02}"))
        .filter(|hh| !hourly.join(hh).join("manifest.json").exists())
        .collect();
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let lanes = missing.len().clamp(1, 2);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..lanes {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(hh) = missing.get(i) else { return };
                let c = super::build::build(
                    config,
                    &BuildArgs {
                        iface: spec.name.clone(),
                        period: format!("{date}{hh}"),
                        dry_run: false,
                        json: false,
                        jobs: Some((cores / lanes).max(1)),
                        no_stage: false,
                        batch: "00".into(),
                    },
                );
                results.lock().unwrap_or_else(|e| e.into_inner()).push((hh.clone(), c));
            });
        }
    });
    let mut code = Code::Ok;
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results.sort_by(|a, b| a.0.cmp(&b.0));
    for (hh, c) in results {
        let c = c?;
        if c == Code::Ok {
            r.built.push(hh);
        }
        code = code.worse(c);
    }
    if code != Code::Ok {
        crate::say!(
            "chama: {} {date}: not every hour could be built; not merging or pushing (exit {code})",
            spec.name
        );
        return Ok(code);
    }
    let push = |period: String| super::push::push_period(config, &spec.name, &period);
    if spec.delivery.cadence == Cadence::Hourly {
        // Hourly interfaces deliver each hour's sets; there is no daily merge.
        for h in 0..24u8 {
            code = code.worse(push(format!("{date}{h:02}"))?);
        }
        r.pushed = code == Code::Ok;
        return Ok(code);
    }
    let merged = config.out_dir(&spec.name, date).join("manifest.json").exists();
    if !merged || !r.built.is_empty() {
        super::merge::merge_day(config, &spec.name, date)?;
        r.merged = true;
    }
    let c = push(date.to_string())?;
    r.pushed = c == Code::Ok;
    Ok(c)
}
