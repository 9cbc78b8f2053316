//! `chama verify`: a set checked against its `.verf`, on a destination or on
//! local disk (`ops/verify.rs` checks; this reports and picks the exit code).

use crate::cli::VerifyArgs;
use crate::config::Config;
use crate::exit::{Code, Outcome};

pub fn verify(config: &Config, args: &VerifyArgs) -> anyhow::Result<Outcome> {
    let spec = crate::ops::load_spec(config, &args.at.iface)?;
    let period = args.at.period;
    let checked = crate::ops::verify::verify(config, &spec, &period, args.dest.as_deref(), args.deep)?;
    let place = &checked.place;
    let bad = checked.sets.iter().any(|c| !c.problems.is_empty());
    for c in &checked.sets {
        for p in &c.problems {
            crate::say!("verify {} {period} on {place}: {p}", spec.name);
        }
        if c.problems.is_empty() && !args.json {
            crate::say!(
                "verified {} on {place}: {} file(s), {} bytes{}",
                c.verf,
                c.files,
                c.bytes,
                if args.deep { ", MD5 and lines" } else { "" }
            );
        }
    }
    let code = match (bad, &args.dest) {
        (false, _) => Code::Ok,
        (true, Some(_)) => Code::Delivery,
        (true, None) => Code::Failed,
    };
    if args.json {
        println!(
            "{}",
            serde_json::json!({"command": "verify", "interface": spec.name, "period": period.to_string(), "where": place, "deep": args.deep, "code": code as u8, "sets": checked.sets})
        );
    }
    Ok(code.into())
}
