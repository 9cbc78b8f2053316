//! One module per subcommand: glue between the CLI and the pipeline.

pub mod build;
pub mod clean;
pub mod merge;
pub mod pull;
pub mod push;
pub mod report;
pub mod rerun;
pub mod run;
pub mod sample;
pub mod spec;
pub mod status;
pub mod verify;

use std::path::Path;

use anyhow::Context;
use serde::Serialize;

use crate::exit::{code_of, Code};
use crate::period::Period;

/// The outcome of one hour of a command over a period, for its summary.
#[derive(Debug, Serialize)]
pub struct HourOutcome<T> {
    pub hour: String,
    pub code: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(flatten)]
    pub detail: T,
}

/// Runs `f` on every hour of `period` (its `HH`), keeping going past a failed
/// hour: each failure prints as `chama: <iface> <YYYYMMDDHH>: <error>`, and
/// the returned code is the most serious of all hours.
pub fn each_hour<T: Default>(
    iface: &str,
    period: &Period,
    mut f: impl FnMut(u8, &str) -> anyhow::Result<T>,
) -> (Code, Vec<HourOutcome<T>>) {
    let date = period.date_str();
    let mut code = Code::Ok;
    let mut hours = Vec::new();
    for hour in period.hours() {
        let hh = format!("{hour:02}");
        match f(hour, &hh) {
            Ok(detail) => hours.push(HourOutcome {
                hour: hh,
                code: 0,
                error: None,
                detail,
            }),
            Err(e) => {
                let c = code_of(&e);
                code = code.worse(c);
                let msg = format!("{iface} {date}{hh}: {e:#}");
                crate::say_error!("chama: {msg}");
                crate::exit::reported(&msg);
                hours.push(HourOutcome {
                    hour: hh,
                    code: c as u8,
                    error: Some(msg),
                    detail: T::default(),
                });
            }
        }
    }
    (code, hours)
}

/// Puts a complete directory (an hour, a day) in place of the old one: old
/// aside, new in, old gone.
pub fn swap_in(building: &Path, final_dir: &Path) -> anyhow::Result<()> {
    let old = final_dir.with_file_name(format!(
        ".{}.old-{}",
        final_dir.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    let had_old = final_dir.exists();
    if had_old {
        std::fs::rename(final_dir, &old).with_context(|| format!("moving aside {}", final_dir.display()))?;
    }
    std::fs::rename(building, final_dir).with_context(|| format!("moving {} into place", building.display()))?;
    if had_old {
        std::fs::remove_dir_all(&old).with_context(|| format!("removing replaced {}", old.display()))?;
    }
    Ok(())
}

/// Removes what a build or merge of `name` (an hour `HH`, a day `YYYYMMDD`)
/// that died left in `dir`: its hidden `.<name>.building-<pid>` and
/// `.<name>.old-<pid>` directories, and nothing else.
pub fn remove_stale(dir: &Path, name: &str) -> anyhow::Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    let prefixes = [format!(".{name}.building-"), format!(".{name}.old-")];
    for e in entries.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if prefixes.iter().any(|p| n.starts_with(p.as_str())) && e.path().is_dir() {
            std::fs::remove_dir_all(e.path()).with_context(|| format!("removing stale {}", e.path().display()))?;
        }
    }
    Ok(())
}
