//! `chama build`: one hour, or every hour of a day, into `hourly/`
//! (`ops/build.rs` builds; this prints the summary).

use serde::Serialize;

use crate::cli::BuildArgs;
use crate::config::Config;
use crate::exit::Outcome;
use crate::ops::build::{self, BuildOptions, Built};
use crate::ops::HourPart;

#[derive(Debug, Serialize)]
struct Summary<'a> {
    command: &'static str,
    interface: &'a str,
    period: String,
    dry_run: bool,
    code: u8,
    hours: Vec<HourPart<Built>>,
}

pub fn build(config: &Config, args: &BuildArgs) -> anyhow::Result<Outcome> {
    let spec = crate::ops::load_spec(config, &args.at.iface)?;
    let mut stdout = std::io::stdout();
    let mut opts = BuildOptions {
        batch: args.batch,
        jobs: args.jobs,
        no_stage: args.no_stage,
        plan: args.output.dry_run.then_some(&mut stdout as &mut dyn std::io::Write),
        quiet: args.output.json,
    };
    let built = build::build(config, &spec, &args.at.period, &mut opts)?;
    if args.output.json {
        let s = Summary {
            command: "build",
            interface: &spec.name,
            period: args.at.period.to_string(),
            dry_run: args.output.dry_run,
            code: built.code as u8,
            hours: built.parts,
        };
        println!("{}", serde_json::to_string(&s)?);
    }
    Ok(Outcome::new(built.code, built.error))
}
