//! `chama sample`: ad-hoc rows for analysts, UTF-8 on stdout (`ops/sample.rs`
//! says from where and how).

use crate::cli::SampleArgs;
use crate::config::Config;
use crate::exit::{Code, Outcome};
use crate::ops::sample::{sample as write_rows, SampleOptions, Take};

pub fn sample(config: &Config, args: &SampleArgs) -> anyhow::Result<Outcome> {
    let spec = crate::ops::load_spec(config, &args.at.iface)?;
    let opts = SampleOptions {
        condition: args.r#where.clone(),
        columns: args.columns.clone(),
        take: match args.sample {
            Some(rows) => Take::Sample { rows, seed: args.seed },
            None => Take::First(args.limit.unwrap_or(100)),
        },
        from: args.from.into(),
        split: args.split.clone(),
        format: args.format.into(),
    };
    write_rows(config, &spec, &args.at.period, &opts, &mut std::io::stdout().lock())?;
    Ok(Code::Ok.into())
}
