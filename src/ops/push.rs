//! Delivering a period's sets (`sets.rs`) to the spec's destinations, one
//! destination after another, each recorded in the ledger: the push, every
//! file as it goes (for resume), and each host's share. The delivery rules
//! themselves (temporary names, `.verf` last, failover, stragglers) are
//! `sink/deliver/`'s. A dry run connects to nothing: it reads the manifest
//! and the ledger and says what would go where.

use std::io::IsTerminal;

use serde::Serialize;

use super::{sets, Parts};
use crate::config::{Config, DestinationConfig};
use crate::exit::{Code, Failure};
use crate::ledger::{Ledger, PushRecord};
use crate::period::Period;
use crate::sink::deliver::{deliver, Delivered, Options};
use crate::sink::{Destination, RateLimit};
use crate::spec::Spec;

/// Where and how to push.
#[derive(Default)]
pub struct PushOptions {
    /// Only this destination (default: every destination the spec lists).
    pub dest: Option<String>,
    /// Cap on the total upload rate.
    pub limit: Option<RateLimit>,
    /// No line per destination on stderr (the caller prints a summary).
    pub quiet: bool,
}

/// The destinations to push to: `only` (exit 2 unless the configuration
/// defines it), else every one the spec lists.
fn destinations(config: &Config, spec: &Spec, only: Option<&str>) -> anyhow::Result<Vec<String>> {
    match only {
        Some(d) if config.destinations.contains_key(d) => Ok(vec![d.to_string()]),
        Some(d) => {
            let known: Vec<String> = config.destinations.keys().cloned().collect();
            Err(Failure::Usage(super::unknown("destination", d, &known, "the configuration")).into())
        }
        None => Ok(spec.delivery.destinations.clone()),
    }
}

/// Pushes the period's sets to every destination (or `opts.dest`).
/// Pushes the period's sets: a report per destination.
pub fn push(config: &Config, spec: &Spec, period: &Period, opts: &PushOptions) -> anyhow::Result<Parts<Delivered>> {
    let (dir, manifest) = sets::read(config, &spec.name, period)?;
    let items = sets::items(&dir, &manifest)?;
    let period_s = period.to_string();
    let ledger = Ledger::open(&config.work().ledger_path())?;
    let bars = std::io::stderr().is_terminal().then(indicatif::MultiProgress::new);
    let mut out = Parts::new();
    for name in destinations(config, spec, opts.dest.as_deref())? {
        let dest = Destination::from_config(config, &name, &spec.delivery.remote_dir)?;
        let rec = PushRecord {
            iface: &spec.name,
            period: &period_s,
            dest: &name,
        };
        let id = ledger.push_started(&rec)?;
        let o = Options {
            limit: opts.limit.as_ref(),
            bars: bars.as_ref(),
        };
        let r = deliver(&dest, &items, &ledger, &rec, &o);
        ledger.push_finished(id, r.sent, r.skipped, r.bytes, r.code, r.error.as_deref())?;
        for (host, h) in &r.hosts {
            ledger.push_host(id, host, h.files, h.bytes, h.error.as_deref())?;
        }
        // Cut by a signal: what was sent is in the ledger, for the next push to resume.
        crate::signals::check()?;
        match &r.error {
            Some(e) => {
                let msg = format!("{} {period_s}: {e}", spec.name);
                crate::log::error(&msg);
                out.note(Code::Delivery, Some(msg));
            }
            None if !opts.quiet => crate::say!(
                "pushed {} {period_s} to {name}: {} set(s), {} file(s) sent ({} bytes), {} already there, {:.1} s",
                spec.name,
                r.sets,
                r.sent,
                r.bytes,
                r.skipped,
                r.seconds
            ),
            None => {}
        }
        out.parts.push(r);
    }
    Ok(out)
}

/// One destination of a dry run.
#[derive(Debug, Serialize)]
pub struct DestPlan {
    pub destination: String,
    pub kind: &'static str,
    pub mode: String,
    pub hosts: Vec<String>,
    #[serde(skip)]
    pub remote_dir: String,
    pub files: Vec<FilePlan>,
}

/// One file of a dry run.
#[derive(Debug, Serialize)]
pub struct FilePlan {
    pub name: String,
    pub bytes: u64,
    /// Delivered already, by the ledger.
    pub delivered: bool,
}

/// What a push would send where, from the manifest and the ledger; nothing connects.
pub fn plan(config: &Config, spec: &Spec, period: &Period, dest: Option<&str>) -> anyhow::Result<Vec<DestPlan>> {
    let (dir, manifest) = sets::read(config, &spec.name, period)?;
    let items = sets::items(&dir, &manifest)?;
    let ledger = Ledger::open_existing(&config.work().ledger_path())?;
    let mut out = Vec::new();
    for name in destinations(config, spec, dest)? {
        let (kind, hosts, mode) = match config.destinations.get(&name) {
            Some(DestinationConfig::Local { root }) => {
                ("local", vec![root.display().to_string()], "failover".to_string())
            }
            Some(DestinationConfig::Sftp(c)) => ("sftp", c.hosts.clone(), format!("{:?}", c.mode).to_lowercase()),
            None => {
                return Err(Failure::Config(format!("destination `{name}` is not defined in the configuration")).into())
            }
        };
        let mut files = Vec::new();
        for it in items
            .iter()
            .flat_map(|s| s.files.iter().chain(std::iter::once(&s.verf)))
        {
            let delivered = match &ledger {
                Some(l) => l
                    .upload(&name, &it.name)?
                    .is_some_and(|u| u.done && u.md5 == it.md5 && u.size == it.size),
                None => false,
            };
            files.push(FilePlan {
                name: it.name.clone(),
                bytes: it.size,
                delivered,
            });
        }
        out.push(DestPlan {
            destination: name,
            kind,
            mode,
            hosts,
            remote_dir: spec.delivery.remote_dir.clone(),
            files,
        });
    }
    Ok(out)
}
