//! The command layer: [`execute`] (what `main` calls) finds the configuration,
//! takes a changing command's lock, records its run in the ledger, dispatches to
//! the subcommand's module and rewrites the metrics file. One module per
//! subcommand: glue between the command line (`cli.rs`) and the library
//! (`ops/`). Each takes its parsed arguments, calls the library with plain
//! option structs, and prints: a summary line on stderr, a table or `--json`
//! on stdout. No command calls another command's module.

use crate::cli::{Cli, Command, SpecCommand};
use crate::config::Config;
use crate::exit::{Code, Outcome};

pub mod build;
pub mod clean;
pub mod merge;
pub mod pull;
pub mod push;
pub mod report;
pub mod rerun;
pub mod run;
pub mod sample;
pub mod spec;
pub mod status;
pub mod verify;

/// Runs one command line; the error, if any, is printed by `main`.
pub fn execute(cli: Cli) -> anyhow::Result<Code> {
    crate::log::init(match cli.log_format {
        crate::cli::LogFormat::Text => crate::log::Format::Text,
        crate::cli::LogFormat::Json => crate::log::Format::Json,
    });
    // Shell integration needs no configuration.
    match &cli.command {
        Command::Completions(args) => {
            use clap::CommandFactory;
            clap_complete::generate(args.shell, &mut Cli::command(), "chama", &mut std::io::stdout());
            return Ok(Code::Ok);
        }
        Command::Man => {
            use clap::CommandFactory;
            clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?;
            return Ok(Code::Ok);
        }
        _ => {}
    }
    let config = Config::discover(cli.config.as_deref())?;
    let metrics_file = cli.metrics_file.clone().or_else(|| config.metrics_file.clone());
    let result = dispatch(&config, cli);
    if let Some(path) = metrics_file {
        if let Err(e) = crate::metrics::write(&config, &path) {
            crate::say_warn!("writing metrics to {}: {e:#}", path.display());
        }
    }
    result.map(|o| o.code)
}

fn dispatch(config: &Config, cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Pull(args) => changing(config, "pull", &args.at, false, || pull::pull(config, &args)),
        Command::Build(args) => changing(config, "build", &args.at, args.output.dry_run, || {
            build::build(config, &args)
        }),
        Command::Run(args) => {
            if let Some(i) = &args.iface {
                crate::ops::check_iface(config, i)?;
            }
            let iface = args.iface.clone().unwrap_or_else(|| "(all)".into());
            // `run` locks each interface itself, as it comes to it.
            recorded(config, "run", &iface, &args.period.to_string(), false, || {
                run::run(config, &args)
            })
        }
        Command::Rerun(args) => {
            crate::ops::check_iface(config, &args.iface)?;
            // `rerun` locks each day itself, as it comes to it.
            recorded(config, "rerun", &args.iface, &args.period.to_string(), false, || {
                rerun::rerun(config, &args)
            })
        }
        Command::Merge(args) => changing(config, "merge", &args.at, args.output.dry_run, || {
            merge::merge(config, &args)
        }),
        Command::Push(args) => changing(config, "push", &args.at, args.output.dry_run, || {
            push::push(config, &args)
        }),
        Command::Verify(args) => verify::verify(config, &args),
        Command::Status(args) => status::status(config, &args),
        Command::Sample(args) => sample::sample(config, &args),
        Command::Report(args) => report::report(config, &args),
        Command::Clean(args) => clean::clean(config, &args),
        Command::Spec(SpecCommand::Check(args)) => spec::check(config, &args).map(Outcome::from),
        Command::Spec(SpecCommand::Try(args)) => spec::try_spec(config, &args).map(Outcome::from),
        Command::Spec(SpecCommand::List(args)) => spec::list(config, &args).map(Outcome::from),
        Command::Completions(_) | Command::Man => unreachable!("handled above"),
    }
}

/// A command that changes files: under the lock of its interface's day, and recorded in the ledger.
fn changing(
    config: &Config,
    command: &str,
    at: &crate::cli::Target,
    dry_run: bool,
    f: impl FnOnce() -> anyhow::Result<Outcome>,
) -> anyhow::Result<Outcome> {
    crate::ops::check_iface(config, &at.iface)?;
    let _lock = match dry_run {
        true => None,
        false => Some(crate::lock::acquire(config, &at.iface, at.period.day(), command)?),
    };
    recorded(config, command, &at.iface, &at.period.to_string(), dry_run, f)
}

/// Runs `f`, recording its start, end, exit code and error in the ledger (not for a dry run).
fn recorded(
    config: &Config,
    command: &str,
    iface: &str,
    period: &str,
    dry_run: bool,
    f: impl FnOnce() -> anyhow::Result<Outcome>,
) -> anyhow::Result<Outcome> {
    if dry_run {
        return f();
    }
    crate::workdir::warn_if_root_in_theirs(&config.work_dir);
    // From here a signal stops the work at its next check, cleanly (signals.rs).
    if let Err(e) = crate::signals::install() {
        crate::say_warn!("not catching SIGTERM, SIGINT and SIGHUP: {e}");
    }
    // The record is worth having, not worth failing the work for (a full disk, say).
    let started = crate::ledger::Ledger::open(&config.work().ledger_path())
        .and_then(|l| l.run_started(command, iface, period).map(|id| (l, id)));
    let started = match started {
        Ok(s) => Some(s),
        Err(e) => {
            crate::say_warn!("not recording this run in the ledger: {e:#}");
            None
        }
    };
    let result = match (f(), crate::signals::received()) {
        (Ok(mut o), Some(i)) => {
            o.code = i.code();
            o.error = Some(i.to_string());
            Ok(o)
        }
        (Err(e), Some(i)) if crate::exit::code_of(&e) != i.code() => Err(e.context(i)),
        (r, _) => r,
    };
    if let Some(i) = crate::signals::received() {
        crate::say_error!(
            "{command} {iface} {period} {i}: what was complete stays (built hours, merged days, delivered files); \
             what was under way is gone, or for an upload kept to resume; run the same command again to go on"
        );
    }
    if let Some((ledger, id)) = started {
        let (code, error) = match &result {
            Ok(o) => (o.code, o.error.clone().filter(|_| o.code != Code::Ok)),
            Err(e) => (crate::exit::code_of(e), Some(format!("{e:#}"))),
        };
        if let Err(e) = ledger.run_finished(id, code as u8, error.as_deref()) {
            crate::say_warn!("not recording the end of this run in the ledger: {e:#}");
        }
    }
    result
}
