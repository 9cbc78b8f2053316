//! `chama run`: the scheduled daily job, for one interface or all of them
//! (`ops/daily.rs` runs it).

use crate::cli::RunArgs;
use crate::config::Config;
use crate::exit::{Failure, Outcome};

pub fn run(config: &Config, args: &RunArgs) -> anyhow::Result<Outcome> {
    let period = args.period;
    if period.hour.is_some() {
        return Err(Failure::Usage(format!("run takes a day (YYYYMMDD), not the hour {period}")).into());
    }
    let ifaces: Vec<String> = match (&args.iface, args.all) {
        (Some(i), false) => vec![i.clone()],
        (None, true) => config.spec_names()?,
        _ => return Err(Failure::Usage("give --iface NAME or --all".into()).into()),
    };
    let day = crate::ops::daily::run(config, &ifaces, &period);
    if args.json {
        println!(
            "{}",
            serde_json::json!({"command": "run", "period": period.date_str(), "code": day.code as u8, "interfaces": day.parts})
        );
    }
    Ok(Outcome::new(day.code, day.error))
}
