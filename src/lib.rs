//! chama: build and deliver offline-interface files.
//!
//! Data moves one way: source -> transform -> split -> compress -> manifest -> sink.

pub mod cli;
pub mod cmd;
pub mod compress;
pub mod config;
pub mod exit;
pub mod ledger;
pub mod lock;
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
        Command::Pull(args) => {
            let _lock = lock_for(&config, &args.iface, &args.period, "pull", false)?;
            cmd::pull::pull(&config, &args)
        }
        Command::Build(args) => {
            let _lock = lock_for(&config, &args.iface, &args.period, "build", args.dry_run)?;
            cmd::build::build(&config, &args)
        }
        Command::Run(args) => cmd::run::run(&config, &args),
        Command::Merge(args) => {
            let _lock = lock_for(&config, &args.iface, &args.period, "merge", args.dry_run)?;
            cmd::merge::merge(&config, &args)
        }
        Command::Push(args) => {
            let _lock = lock_for(&config, &args.iface, &args.period, "push", args.dry_run)?;
            cmd::push::push(&config, &args)
        }
        Command::Verify(args) => cmd::verify::verify(&config, &args),
        Command::Spec(SpecCommand::Check(args)) => cmd::spec::check(&config, &args),
        Command::Spec(SpecCommand::Try(args)) => cmd::spec::try_spec(&config, &args),
    }
}

/// The lock of an interface's day for a command that changes files (none for a dry run).
fn lock_for(
    config: &Config,
    iface: &str,
    period: &str,
    command: &str,
    dry_run: bool,
) -> anyhow::Result<Option<lock::Lock>> {
    if dry_run {
        return Ok(None);
    }
    let p: period::Period = period.parse().map_err(exit::Failure::Usage)?;
    lock::acquire(config, iface, &p.date_str(), command).map(Some)
}
