//! `chama run`: the scheduled daily job, for one interface or all of them
//! (`ops/run.rs` runs it).

use crate::cli::RunArgs;
use crate::config::Config;
use crate::exit::{Failure, Outcome};

pub fn run(config: &Config, args: &RunArgs) -> anyhow::Result<Outcome> {
    let period = args.period;
    if period.hour.is_some() {
        return Err(Failure::Usage(format!("run takes a day (YYYYMMDD), not the hour {period}")).into());
    }
    let ifaces: Vec<String> = match (&args.iface, args.all) {
        (Some(i), false) => {
            if let Some(mine) = &args.queue {
                on_another_queue(config, i, mine);
            }
            vec![i.clone()]
        }
        (None, true) => {
            let ifaces: Vec<String> = crate::ops::specs_on_queue(config, args.queue.as_deref())?
                .into_iter()
                .map(|(i, _)| i)
                .collect();
            if ifaces.is_empty() {
                let queue = args.queue.as_deref().unwrap_or_default();
                return Err(Failure::Usage(format!(
                    "no interface in {} is on queue `{queue}`",
                    config.interfaces_dir.display()
                ))
                .into());
            }
            ifaces
        }
        _ => return Err(Failure::Usage("give --iface NAME or --all".into()).into()),
    };
    let day = crate::ops::run::run(config, &ifaces, &period);
    if args.json {
        println!(
            "{}",
            serde_json::json!({"command": "run", "period": period.day(), "code": day.code as u8, "interfaces": day.parts})
        );
    }
    Ok(Outcome::new(day.code, day.error))
}

/// Warns when an interface run by hand belongs to another machine's queue: its hours
/// are in that machine's work directory, and this run would build them again here.
fn on_another_queue(config: &Config, iface: &str, mine: &str) {
    let theirs = std::fs::read_to_string(config.spec_path(iface))
        .ok()
        .and_then(|t| crate::spec::queue_of(&t));
    if let Some(theirs) = theirs.filter(|q| q != mine) {
        crate::say_warn!("{iface} is on queue `{theirs}`, this machine's is `{mine}` (CHAMA_QUEUE): its hours are built on that machine");
    }
}
