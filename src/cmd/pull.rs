//! `chama pull`: an hour (or a day) from the spec's source into `staging/` (`ops/pull.rs`).

use crate::cli::PullArgs;
use crate::config::Config;
use crate::exit::Outcome;
use crate::source::pull::PullOptions;

pub fn pull(config: &Config, args: &PullArgs) -> anyhow::Result<Outcome> {
    let spec = crate::ops::load_spec(config, &args.at.iface)?;
    let opts = PullOptions::from_config(&config.pull, args.jobs, args.wait);
    let pulled = crate::ops::pull::pull(config, &spec, &args.at.period, &opts, args.json)?;
    if args.json {
        println!(
            "{}",
            serde_json::json!({"command": "pull", "interface": spec.name, "period": args.at.period.to_string(),
                "code": pulled.code as u8, "hours": pulled.parts})
        );
    }
    Ok(Outcome::new(pulled.code, pulled.error))
}
