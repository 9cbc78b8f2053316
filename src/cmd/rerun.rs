//! `chama rerun`: rebuild periods from the source and deliver them again,
//! under the same batch or a new one (`ops/rerun.rs` says how).

use crate::cli::RerunArgs;
use crate::config::Config;
use crate::exit::Outcome;
use crate::ops::rerun::{self, BatchChoice, RerunOptions};

pub fn rerun(config: &Config, args: &RerunArgs) -> anyhow::Result<Outcome> {
    let spec = crate::ops::load_spec(config, &args.iface)?;
    let opts = RerunOptions {
        batch: match (&args.batch, args.next_batch) {
            (Some(b), _) => BatchChoice::Given(*b),
            (None, true) => BatchChoice::Next,
            (None, false) => BatchChoice::Current,
        },
        hours: args.hours.clone().map(|h| h.0),
        reason: args.reason.clone(),
        no_push: args.no_push,
        prune_remote: args.prune_remote,
        quiet: args.json,
    };
    let reran = rerun::rerun(config, &spec, &args.period, &opts)?;
    if args.json {
        println!(
            "{}",
            serde_json::json!({"command": "rerun", "interface": spec.name, "period": args.period.to_string(), "code": reran.code as u8, "days": reran.parts})
        );
    }
    Ok(Outcome::new(reran.code, reran.error))
}
