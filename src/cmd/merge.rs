//! `chama merge`: a day's hourly sets become the daily set(s) under `out/`
//! (`ops/merge.rs` merges; this checks the day and prints the summary).

use crate::cli::MergeArgs;
use crate::config::Config;
use crate::exit::{Code, Failure, Outcome};
use crate::ops::merge::{self, MergeOptions};

pub fn merge(config: &Config, args: &MergeArgs) -> anyhow::Result<Outcome> {
    let spec = crate::ops::load_spec(config, &args.at.iface)?;
    let period = args.at.period;
    if period.hour.is_some() {
        return Err(Failure::Usage(format!("merge takes a day (YYYYMMDD), not the hour {period}")).into());
    }
    let mut stdout = std::io::stdout();
    let mut opts = MergeOptions {
        allow_missing: args.allow_missing.clone().unwrap_or_default().0,
        compact: args.compact,
        plan: args.output.dry_run.then_some(&mut stdout as &mut dyn std::io::Write),
        quiet: args.output.json,
    };
    let date = period.day();
    let merged = merge::merge(config, &spec, date, &mut opts)?;
    if args.output.json {
        let mut summary = serde_json::to_value(&merged)?;
        let extra = serde_json::json!({"command": "merge", "interface": spec.name, "period": date, "code": 0,
            "dry_run": args.output.dry_run});
        if let (Some(s), serde_json::Value::Object(e)) = (summary.as_object_mut(), extra) {
            s.extend(e);
        }
        println!("{summary}");
    }
    Ok(Code::Ok.into())
}
