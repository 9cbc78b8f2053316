//! `chama push`: a period's set(s) to every destination of the spec.
//!
//! An hour (`YYYYMMDDHH`) pushes that hour's sets from `hourly/`; a day
//! (`YYYYMMDD`) pushes the merged daily sets from `out/`.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use anyhow::Context;
use md5::{Digest, Md5};

use crate::cli::PushArgs;
use crate::config::{Config, DestinationConfig};
use crate::exit::{Code, Failure};
use crate::ledger::{Ledger, PushRecord};
use crate::manifest::Manifest;
use crate::period::Period;
use crate::sink::deliver::{deliver, Item, Options, SetItems};
use crate::sink::{parse_rate, Destination, RateLimit};
use crate::spec::{self, Spec};

/// Where the period's sets are: an hour's directory under `hourly/`, or the day's under `out/`.
pub fn set_dir(config: &Config, iface: &str, period: &Period) -> PathBuf {
    let date = period.date_str();
    match period.hour {
        Some(h) => config.hourly_day_dir(iface, &date).join(format!("{h:02}")),
        None => config.out_dir(iface, &date),
    }
}

/// The manifest of the period's sets, or exit 3 when they are not built (or merged) yet.
pub fn read_sets(config: &Config, iface: &str, period: &Period) -> anyhow::Result<(PathBuf, Manifest)> {
    let dir = set_dir(config, iface, period);
    if !dir.join("manifest.json").exists() {
        let what = if period.hour.is_some() {
            "built (run `chama build`)"
        } else {
            "merged (run `chama merge`)"
        };
        return Err(Failure::NotReady(format!(
            "{iface} {period} is not {what}: no {}",
            dir.join("manifest.json").display()
        ))
        .into());
    }
    let m = Manifest::read(&dir)?;
    Ok((dir, m))
}

/// The MD5 (lowercase hex) and size of a local file.
pub fn md5_file(path: &Path) -> anyhow::Result<(String, u64)> {
    let mut f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut h = Md5::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = f
            .read(&mut buf)
            .with_context(|| format!("reading {}", path.display()))?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    Ok((format!("{:x}", h.finalize()), n))
}

/// The files to deliver, checked against the manifest: a local file missing
/// or of another size is an error (the set must be built again), never sent.
fn items(dir: &Path, m: &Manifest) -> anyhow::Result<Vec<SetItems>> {
    let mut sets = Vec::new();
    for s in &m.sets {
        let mut files = Vec::new();
        for f in &s.files {
            let local = dir.join(&f.name);
            let size = std::fs::metadata(&local)
                .with_context(|| format!("{}: listed in the manifest but missing", local.display()))?
                .len();
            anyhow::ensure!(
                size == f.bytes,
                "{} is {size} bytes, the manifest says {}: build the period again",
                local.display(),
                f.bytes
            );
            files.push(Item {
                local,
                name: f.name.clone(),
                size,
                md5: f.md5.clone(),
            });
        }
        let local = dir.join(&s.verf);
        let (md5, size) = md5_file(&local)?;
        sets.push(SetItems {
            files,
            verf: Item {
                local,
                name: s.verf.clone(),
                size,
                md5,
            },
        });
    }
    Ok(sets)
}

/// The destinations to push to: `--dest`, else every one the spec lists.
pub fn destinations(spec: &Spec, only: Option<&str>) -> Vec<String> {
    match only {
        Some(d) => vec![d.to_string()],
        None => spec.delivery.destinations.clone(),
    }
}

/// Pushes a period to every destination of its spec, as `run` and `rerun` do.
pub fn push_period(config: &Config, iface: &str, period: &str) -> anyhow::Result<Code> {
    push(
        config,
        &PushArgs {
            iface: iface.to_string(),
            period: period.to_string(),
            dest: None,
            dry_run: false,
            json: false,
            bwlimit: None,
        },
    )
}

pub fn push(config: &Config, args: &PushArgs) -> anyhow::Result<Code> {
    let spec = spec::load(&config.spec_path(&args.iface), &config.names())?;
    let period: Period = args.period.parse().map_err(Failure::Usage)?;
    let limit = match &args.bwlimit {
        Some(r) => Some(RateLimit::new(parse_rate(r).map_err(Failure::Usage)?)),
        None => None,
    };
    let (dir, manifest) = read_sets(config, &spec.name, &period)?;
    let sets = items(&dir, &manifest)?;
    let names = destinations(&spec, args.dest.as_deref());
    let period_s = period.to_string();

    if args.dry_run {
        return dry_run(config, &spec, &names, &sets, &period_s, args.json);
    }
    let ledger = Ledger::open(&config.ledger_path())?;
    let bars = std::io::stderr().is_terminal().then(indicatif::MultiProgress::new);
    let mut code = Code::Ok;
    let mut reports = Vec::new();
    for name in &names {
        let dest = Destination::from_config(config, name, &spec.delivery.remote_dir)?;
        let rec = PushRecord {
            iface: &spec.name,
            period: &period_s,
            dest: name,
        };
        let id = ledger.push_started(&rec)?;
        let opts = Options {
            limit: limit.as_ref(),
            bars: bars.as_ref(),
        };
        let r = deliver(&dest, &sets, &ledger, &rec, &opts);
        ledger.push_finished(id, r.sent, r.skipped, r.bytes, r.code, r.error.as_deref())?;
        for (host, h) in &r.hosts {
            ledger.push_host(id, host, h.files, h.bytes, h.error.as_deref())?;
        }
        match &r.error {
            Some(e) => {
                code = code.worse(Code::Delivery);
                crate::say_error!("chama: {} {period_s}: {e}", spec.name);
                crate::exit::reported(&format!("{} {period_s}: {e}", spec.name));
            }
            None if !args.json => crate::say!(
                "chama: pushed {} {period_s} to {name}: {} set(s), {} file(s) sent ({} bytes), {} already there, {:.1} s",
                spec.name,
                r.sets,
                r.sent,
                r.bytes,
                r.skipped,
                r.seconds
            ),
            None => {}
        }
        reports.push(r);
    }
    if args.json {
        println!(
            "{}",
            serde_json::json!({"command": "push", "interface": spec.name, "period": period_s, "code": code as u8, "destinations": reports})
        );
    }
    Ok(code)
}

/// What would go where, from the manifest and the ledger; nothing connects.
fn dry_run(
    config: &Config,
    spec: &Spec,
    names: &[String],
    sets: &[SetItems],
    period: &str,
    json: bool,
) -> anyhow::Result<Code> {
    let ledger_path = config.ledger_path();
    let ledger = if ledger_path.exists() {
        Some(Ledger::open(&ledger_path)?)
    } else {
        None
    };
    let mut out = Vec::new();
    for name in names {
        let (kind, hosts, mode) = match config.destinations.get(name) {
            Some(DestinationConfig::Local { root }) => {
                ("local", vec![root.display().to_string()], "failover".to_string())
            }
            Some(DestinationConfig::Sftp(c)) => ("sftp", c.hosts.clone(), format!("{:?}", c.mode).to_lowercase()),
            None => {
                return Err(Failure::Config(format!("destination `{name}` is not defined in the configuration")).into())
            }
        };
        println!(
            "{} {period} -> {name} ({kind}, {mode}: {}) into {}",
            spec.name,
            hosts.join(", "),
            spec.delivery.remote_dir
        );
        let mut files = Vec::new();
        for set in sets {
            for it in set.files.iter().chain(std::iter::once(&set.verf)) {
                let done = match &ledger {
                    Some(l) => l
                        .upload(name, &it.name)?
                        .is_some_and(|u| u.done && u.md5 == it.md5 && u.size == it.size),
                    None => false,
                };
                let what = if done { "delivered already" } else { "would upload" };
                println!("  {what:<17} {:<48} {:>12}", it.name, it.size);
                files.push(serde_json::json!({"name": it.name, "bytes": it.size, "delivered": done}));
            }
        }
        out.push(serde_json::json!({"destination": name, "kind": kind, "mode": mode, "hosts": hosts, "files": files}));
    }
    if json {
        println!(
            "{}",
            serde_json::json!({"command": "push", "dry_run": true, "interface": spec.name, "period": period, "code": 0, "destinations": out})
        );
    }
    Ok(Code::Ok)
}
