//! The library layer under the commands: the workflows of the work
//! directory, each taking plain option structs and returning what it did.
//! Commands parse arguments, call one of these and print; no workflow knows
//! about the command line, and none calls a command.
//!
//! Each is named after the command a user types (`chama build` runs [`build`]):
//!
//! - [`pull`]: copy a period's hours from the source into staging.
//! - [`build`]: build one hour (or every hour of a day) into `hourly/`.
//! - [`merge`]: merge a day's hours into `out/`.
//! - [`sets`]: a period's sets, read from their manifest and checked against the files.
//! - [`push`]: deliver a period's sets to the spec's destinations.
//! - [`run`]: the scheduled job: build what is missing, merge, push.
//! - [`rerun`]: rebuild periods in a fresh place, swap them in, deliver again.
//! - [`clean`], [`status`], [`report`], [`sample`]: retention, state, volumes, rows for analysts.
//! - [`verify`]: a set checked against its `.verf`, here or on a destination.
//! - [`spec_try`]: a spec run on local files, for its author (`chama spec try`).
//!
//! Each opens with a paragraph saying what it owns. Paths come from
//! `workdir.rs`, files are written through `atomic.rs`, `.verf`s through `verf.rs`.

pub mod build;
pub mod clean;
pub mod merge;
pub mod pull;
pub mod push;
pub mod report;
pub mod rerun;
pub mod run;
pub mod sample;
pub mod sets;
pub mod spec_try;
pub mod status;
pub mod verify;

use serde::Serialize;

use crate::config::Config;
use crate::exit::{code_of, Code};
use crate::period::Period;
use crate::spec::Spec;
use crate::workdir::hh;

/// The interfaces that queue `queue` runs (every one when `None`), each with the
/// queue its spec names (`default` when none). A spec whose queue cannot be read
/// (unreadable, or not TOML at all) has `None` and is on every queue, so that its
/// error is seen rather than skipped.
pub fn specs_on_queue(config: &Config, queue: Option<&str>) -> anyhow::Result<Vec<(String, Option<String>)>> {
    let mut all: Vec<(String, Option<String>)> = config
        .spec_names()?
        .into_iter()
        .map(|name| {
            let text = std::fs::read_to_string(config.spec_path(&name)).ok();
            let theirs = text.and_then(|t| crate::spec::queue_of(&t));
            (name, theirs)
        })
        .collect();
    if let Some(queue) = queue {
        all.retain(|(_, q)| q.as_deref().is_none_or(|q| q == queue));
    }
    Ok(all)
}

/// The spec of interface `iface`, from the interfaces directory.
pub fn load_spec(config: &Config, iface: &str) -> anyhow::Result<Spec> {
    check_iface(config, iface)?;
    crate::spec::load(&config.spec_path(iface), &config.names())
}

/// Exit 2 unless `iface` is an interface of the interfaces directory, naming
/// the ones there are (and the likeliest, for a typo): before any lock,
/// ledger row or file is made for it, and never retried by a scheduler.
pub fn check_iface(config: &Config, iface: &str) -> anyhow::Result<()> {
    if config.spec_path(iface).is_file() {
        return Ok(());
    }
    let known = config.spec_names().unwrap_or_default();
    Err(crate::exit::Failure::Usage(unknown(
        "interface",
        iface,
        &known,
        &config.interfaces_dir.display().to_string(),
    ))
    .into())
}

/// `no <what> `name` in <place> (did you mean `x`?); known: a, b`.
pub fn unknown(what: &str, name: &str, known: &[String], place: &str) -> String {
    let hint = crate::suggest::hint(name, known);
    let known = if known.is_empty() {
        "none".to_string()
    } else {
        known.join(", ")
    };
    format!("no {what} `{name}` in {place}{hint}; known: {known}")
}

/// The outcome of one hour of a command over a period, for its summary.
#[derive(Debug, Serialize)]
pub struct HourPart<T> {
    pub hour: String,
    pub code: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(flatten)]
    pub detail: T,
}

/// What a workflow of several parts (hours, destinations, interfaces, days)
/// did: the most serious code of its parts, the last error it went past, and
/// each part's outcome.
#[derive(Debug)]
pub struct Parts<T> {
    pub code: Code,
    pub error: Option<String>,
    pub parts: Vec<T>,
}

impl<T> Parts<T> {
    pub fn new() -> Parts<T> {
        Parts {
            code: Code::Ok,
            error: None,
            parts: Vec::new(),
        }
    }

    /// Notes a part's code and the error it went past, if any (logged by whoever made it).
    pub fn note(&mut self, code: Code, error: Option<String>) {
        self.code = self.code.worse(code);
        if error.is_some() {
            self.error = error;
        }
    }
}

impl<T> Default for Parts<T> {
    fn default() -> Self {
        Parts::new()
    }
}

/// What a command over the hours of a period did.
pub type Hours<T> = Parts<HourPart<T>>;

/// Runs `f` on every hour of `period`, keeping going past a failed hour:
/// each failure is logged as `<iface> <YYYYMMDDHH>: <error>`.
pub fn each_hour<T: Default>(iface: &str, period: &Period, mut f: impl FnMut(u8) -> anyhow::Result<T>) -> Hours<T> {
    let date = period.day();
    let mut out = Hours::new();
    for hour in period.hours() {
        match f(hour) {
            Ok(detail) => out.parts.push(HourPart {
                hour: hh(hour),
                code: 0,
                error: None,
                detail,
            }),
            Err(e) => {
                let c = code_of(&e);
                let msg = format!("{iface} {date}{}: {e:#}", hh(hour));
                crate::log::error(&msg);
                out.note(c, Some(msg.clone()));
                out.parts.push(HourPart {
                    hour: hh(hour),
                    code: c as u8,
                    error: Some(msg),
                    detail: T::default(),
                });
                // A signal stops the period here, not just this hour.
                if crate::signals::received().is_some() {
                    break;
                }
            }
        }
    }
    out
}
