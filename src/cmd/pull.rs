//! `chama pull`: an hour (or a day) from the spec's source into `staging/`.

use std::time::Duration;

use crate::cli::PullArgs;
use crate::config::Config;
use crate::exit::{Code, Failure};
use crate::period::Period;
use crate::source::pull::{pull_hour, PullOptions};
use crate::source::{self};
use crate::spec::{self, Vars};

/// Parses `90s`, `10m`, `2h` or a plain number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("duration `{s}` must be a number with s, m or h (e.g. 30s, 10m, 2h)");
    let (num, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: u64 = num.parse().map_err(|_| bad())?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(bad()),
    };
    Ok(Duration::from_secs(secs))
}

pub fn options(config: &Config, jobs: Option<usize>, wait: Duration) -> PullOptions {
    let p = &config.pull;
    PullOptions {
        jobs: jobs.unwrap_or(p.jobs),
        retries: p.retries,
        wait,
        poll: Duration::from_secs(p.poll_seconds.max(1)),
        delay: Duration::from_millis(p.retry_delay_ms),
        max_delay: Duration::from_millis(p.max_retry_delay_ms),
    }
}

pub fn pull(config: &Config, args: &PullArgs) -> anyhow::Result<Code> {
    let spec = spec::load(&config.spec_path(&args.iface), &config.names())?;
    let period: Period = args.period.parse().map_err(Failure::Usage)?;
    let wait = parse_duration(&args.wait).map_err(Failure::Usage)?;
    let source = source::from_config(config, &spec.input.source)?;
    let opts = options(config, args.jobs, wait);
    let date = period.date_str();
    let (code, hours) =
        super::each_hour(&spec.name, &period, |_, hh| {
            let dir = spec
                .input
                .path
                .render(&Vars {
                    date: &date,
                    hour: Some(hh),
                    ..Vars::default()
                })
                .map_err(Failure::Usage)?;
            let staging = config.staging_dir(&spec.name, &date, hh);
            let r = pull_hour(source.as_ref(), &dir, &spec.input.readiness(), &staging, &opts)?;
            if !args.json {
                crate::say!(
                "chama: pulled {} {date}{hh}: {} file(s), {} copied ({} bytes), {} already staged, {} retries, {:.1} s",
                spec.name, r.files, r.copied, r.bytes, r.skipped, r.retries, r.seconds
            );
            }
            Ok(r)
        });
    if args.json {
        println!(
            "{}",
            serde_json::json!({"command": "pull", "interface": spec.name, "period": period.to_string(), "code": code as u8, "hours": hours})
        );
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("15"), Ok(Duration::from_secs(15)));
        assert!(parse_duration("1d").is_err() && parse_duration("m").is_err());
    }
}
