//! `chama spec check`, `chama spec try` (`ops/spec_try.rs` runs a spec on files) and
//! `chama spec list`.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::cli::{SpecCheckArgs, SpecListArgs, SpecTryArgs};
use crate::config::Config;
use crate::exit::{Code, Failure};
use crate::spec;

/// Checks every named spec (or every spec in the interfaces directory) and
/// reports all problems of all files before deciding the exit code.
pub fn check(config: &Config, args: &SpecCheckArgs) -> anyhow::Result<Code> {
    let files = if args.files.is_empty() {
        config.spec_files()?
    } else {
        args.files.clone()
    };
    if files.is_empty() {
        return Err(Failure::Usage(format!("spec check: no specs in {}", config.interfaces_dir.display())).into());
    }
    let names = config.names();
    let mut bad_files = 0;
    let mut problems = 0;
    let stderr = io::stderr();
    let mut err = stderr.lock();
    for file in &files {
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) => {
                writeln!(err, "{}: cannot read: {e}", file.display())?;
                bad_files += 1;
                problems += 1;
                continue;
            }
        };
        let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        let checked = spec::check(&text, stem, &names);
        for w in &checked.warnings {
            writeln!(err, "{}:{}: warning: {}", file.display(), w.line, w.message)?;
        }
        for p in &checked.problems {
            writeln!(err, "{}:{}: {}", file.display(), p.line, p.message)?;
        }
        match checked.spec {
            Some(s) if checked.problems.is_empty() => {
                let outputs = s.program.as_ref().map_or("resolved at run time".to_string(), |p| {
                    format!("{} out", p.output_names().len())
                });
                println!(
                    "ok: {} ({}: {} columns in, {outputs})",
                    file.display(),
                    s.name,
                    s.input.columns.len()
                );
            }
            _ => {
                bad_files += 1;
                problems += checked.problems.len().max(1);
            }
        }
    }
    if bad_files > 0 {
        return Err(Failure::Usage(format!(
            "spec check: {problems} problem(s) in {bad_files} of {} file(s)",
            files.len()
        ))
        .into());
    }
    Ok(Code::Ok)
}

/// Resolves a spec argument: a path to a file, or an interface name.
fn spec_path(config: &Config, arg: &str) -> PathBuf {
    let p = Path::new(arg);
    if p.exists() || arg.ends_with(".toml") || arg.contains('/') {
        p.to_path_buf()
    } else {
        config.spec_path(arg)
    }
}

pub fn try_spec(config: &Config, args: &SpecTryArgs) -> anyhow::Result<Code> {
    let spec = spec::load(&spec_path(config, &args.spec), &config.names())?;
    crate::ops::spec_try::try_spec(&spec, &args.input, args.limit, &mut io::stdout().lock())?;
    Ok(Code::Ok)
}

/// Prints the interfaces of one queue (or all), for cron loops and the Airflow DAG.
pub fn list(config: &Config, args: &SpecListArgs) -> anyhow::Result<Code> {
    let mine = crate::ops::specs_on_queue(config, args.queue.as_deref())?;
    if args.json {
        let rows: Vec<_> = mine
            .iter()
            .map(|(name, q)| serde_json::json!({"name": name, "queue": q}))
            .collect();
        println!("{}", serde_json::Value::Array(rows));
    } else {
        let mut out = io::stdout().lock();
        for (name, _) in mine {
            writeln!(out, "{name}")?;
        }
    }
    Ok(Code::Ok)
}
