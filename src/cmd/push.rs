//! `chama push`: a period's set(s) to every destination of the spec. An
//! hour (`YYYYMMDDHH`) pushes that hour's sets from `hourly/`; a day
//! (`YYYYMMDD`) the merged daily sets from `out/` (`ops/push.rs` delivers).

use crate::cli::PushArgs;
use crate::config::Config;
use crate::exit::{Code, Outcome};
use crate::ops::push::{self, PushOptions};
use crate::sink::RateLimit;

pub fn push(config: &Config, args: &PushArgs) -> anyhow::Result<Outcome> {
    let spec = crate::ops::load_spec(config, &args.at.iface)?;
    let period = &args.at.period;
    if args.output.dry_run {
        let plans = push::plan(config, &spec, period, args.dest.as_deref())?;
        for d in &plans {
            println!(
                "{} {period} -> {} ({}, {}: {}) into {}",
                spec.name,
                d.destination,
                d.kind,
                d.mode,
                d.hosts.join(", "),
                d.remote_dir
            );
            for f in &d.files {
                let what = if f.delivered {
                    "delivered already"
                } else {
                    "would upload"
                };
                println!("  {what:<17} {:<48} {:>12}", f.name, f.bytes);
            }
        }
        if args.output.json {
            println!(
                "{}",
                serde_json::json!({"command": "push", "dry_run": true, "interface": spec.name, "period": period.to_string(), "code": 0, "destinations": plans})
            );
        }
        return Ok(Code::Ok.into());
    }
    let opts = PushOptions {
        dest: args.dest.clone(),
        limit: args.bwlimit.map(RateLimit::new),
        quiet: args.output.json,
    };
    let pushed = push::push(config, &spec, period, &opts)?;
    if args.output.json {
        println!(
            "{}",
            serde_json::json!({"command": "push", "interface": spec.name, "period": period.to_string(), "code": pushed.code as u8, "destinations": pushed.parts})
        );
    }
    Ok(Outcome::new(pushed.code, pushed.error))
}
