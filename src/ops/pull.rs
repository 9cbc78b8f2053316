//! Pulling a period (`chama pull`): each hour of it copied from the spec's source into
//! staging (`source/pull.rs` copies one hour), for a build to read.

use super::{each_hour, Hours};
use crate::config::Config;
use crate::exit::Failure;
use crate::period::Period;
use crate::spec::{Spec, Vars};
use crate::workdir::{hh, hour_period};

/// Pulls every hour of `period` from the spec's source into staging.
pub fn pull(
    config: &Config,
    spec: &Spec,
    period: &Period,
    opts: &crate::source::pull::PullOptions,
    quiet: bool,
) -> anyhow::Result<Hours<crate::source::pull::Pulled>> {
    let source = crate::source::from_config(config, &spec.input.source)?;
    let date = period.day();
    Ok(each_hour(&spec.name, period, |hour| {
        let vars = Vars {
            date: Some(date),
            hour: Some(&hh(hour)),
            ..Vars::default()
        };
        let dir = spec.input.path.render(&vars).map_err(Failure::Usage)?;
        let staging = config.work().staging_dir(&spec.name, date, hour);
        let r = crate::source::pull::pull_hour(source.as_ref(), &dir, &spec.input.readiness(), &staging, opts)?;
        if !quiet {
            crate::say!(
                "pulled {} {}: {} file(s), {} copied ({} bytes), {} already staged, {} retries, {:.1} s",
                spec.name,
                hour_period(date, hour),
                r.files,
                r.copied,
                r.bytes,
                r.skipped,
                r.retries,
                r.seconds
            );
        }
        Ok(r)
    }))
}
