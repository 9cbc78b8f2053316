//! chama: build and deliver offline-interface files.
//!
//! Data moves one way: source -> transform -> split -> compress -> manifest -> sink.

pub mod cli;
pub mod cmd;
pub mod compress;
pub mod config;
pub mod exit;
pub mod ledger;
pub mod manifest;
pub mod period;
pub mod pipeline;
pub mod sink;
pub mod source;
pub mod spec;
pub mod split;
pub mod sql;
pub mod transform;

use cli::{Cli, Command, SpecCommand};
use config::Config;
use exit::Code;

/// Runs one command line; the error, if any, is printed by `main`.
pub fn run(cli: Cli) -> anyhow::Result<Code> {
    let config = Config::discover(cli.config.as_deref())?;
    match cli.command {
        Command::Pull(args) => cmd::pull::pull(&config, &args),
        Command::Build(args) => cmd::build::build(&config, &args),
        Command::Merge(args) => cmd::merge::merge(&config, &args),
        Command::Push(args) => cmd::push::push(&config, &args),
        Command::Verify(args) => cmd::verify::verify(&config, &args),
        Command::Spec(SpecCommand::Check(args)) => cmd::spec::check(&config, &args),
        Command::Spec(SpecCommand::Try(args)) => cmd::spec::try_spec(&config, &args),
    }
}
