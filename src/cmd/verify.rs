//! `chama verify`: a set checked against its `.verf`, on a destination or on
//! local disk; or, with `--probe`, a destination's hosts tried request by
//! request (`ops/verify.rs` checks; this reports and picks the exit code).

use crate::cli::VerifyArgs;
use crate::config::Config;
use crate::exit::{Code, Outcome};
use crate::ops::verify::Tried;

pub fn verify(config: &Config, args: &VerifyArgs) -> anyhow::Result<Outcome> {
    if args.probe {
        return probe(config, args);
    }
    let (Some(iface), Some(period)) = (&args.iface, args.period) else {
        unreachable!("clap requires --iface and --period without --probe")
    };
    let spec = crate::ops::load_spec(config, iface)?;
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

/// `verify --probe`: every host of `--dest`, a block each; exit 0 only when every host
/// would take a push.
fn probe(config: &Config, args: &VerifyArgs) -> anyhow::Result<Outcome> {
    let dest = args.dest.as_deref().expect("clap requires --dest with --probe");
    let remote_dir = match &args.iface {
        Some(iface) => crate::ops::load_spec(config, iface)?.delivery.remote_dir,
        None => String::new(),
    };
    let ledger = crate::ledger::Ledger::open(&config.work().ledger_path())?;
    let hosts = crate::ops::verify::probe(config, dest, &remote_dir, Some(&ledger))?;
    let all = hosts.iter().all(|h| h.would_push);
    for h in &hosts {
        println!("probe {} (destination `{dest}`, directory `{remote_dir}`)", h.host);
        for (name, value) in &h.facts {
            println!("  {name:<12} {value}");
        }
        for (name, t) in &h.requests {
            let line = match t {
                Tried::Yes(s) => format!("yes: {s}"),
                Tried::Refused(s) => format!("REFUSED: {s}"),
                Tried::Failed(s) => format!("FAILED: {s}"),
                Tried::Untried(s) => format!("not tried: {s}"),
            };
            println!("  {name:<12} {line}");
        }
        if let Some(e) = &h.error {
            println!("  {:<12} {e}", "error");
        }
        let refused = h
            .requests
            .iter()
            .filter(|(_, t)| matches!(t, Tried::Refused(_)))
            .count();
        let verdict = match (h.would_push, refused) {
            (false, _) => "would FAIL".to_string(),
            (true, 0) => "would work".to_string(),
            (true, n) => format!("would work, with {n} fallback(s)"),
        };
        println!("  {:<12} {verdict}", "push");
    }
    let code = if all { Code::Ok } else { Code::Delivery };
    if args.json {
        println!(
            "{}",
            serde_json::json!({"command": "verify", "probe": true, "destination": dest, "remote_dir": remote_dir, "code": code as u8, "hosts": hosts})
        );
    }
    Ok(code.into())
}
