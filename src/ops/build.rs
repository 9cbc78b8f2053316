//! Building one hour (or every hour of a day) into `hourly/<iface>/<date>/<HH>/`.
//!
//! For each hour: choose the input (a local source read where it is; a
//! remote one pulled into staging first, or streamed with `no_stage`), take a
//! Parquet or ORC hour's columns from its first file when the spec names
//! none, run the pipeline (`pipeline/`) into the hour's set directory
//! (`setdir.rs`: hidden beside the final one), hold the rejects against
//! `max_bad_rows`, write each set's `.verf` (`verf.rs`), then commit the set
//! with its manifest and rejects in one swap: an older set stays in place
//! until its replacement is complete. A file that changed while it was read
//! has its hour built again (`backoff.rs`). A day keeps going past a bad hour; the summary carries the
//! most serious code.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{each_hour, Hours};
use crate::config::{Config, SourceConfig};
use crate::exit::Failure;
use crate::manifest::{Counts, InputEntry, Manifest, SetEntry};
use crate::period::{Batch, Day, Period};
use crate::pipeline::{build_hour, HourJob, HourOutput};
use crate::setdir::SetDir;
use crate::source::columnar;
use crate::source::local::{check_unchanged, list_hour};
use crate::spec::{Format, Spec, Vars};
use crate::sql::Program;
use crate::verf;
use crate::workdir::{hh, hour_period, WorkDir};

/// How to build.
pub struct BuildOptions<'a> {
    /// The batch (retransmission number) of the sets, two digits.
    pub batch: Batch,
    /// Compression threads (default: the number of cores).
    pub jobs: Option<usize>,
    /// Stream a remote source's files instead of staging them (text only).
    pub no_stage: bool,
    /// A dry run: write nothing; the files and `.verf`s it would write are described here.
    pub plan: Option<&'a mut dyn Write>,
    /// No line per hour on stderr (the caller prints a summary).
    pub quiet: bool,
}

impl BuildOptions<'_> {
    /// The regular build of batch 00, as `run` does it.
    pub fn regular() -> BuildOptions<'static> {
        BuildOptions {
            batch: Batch::FIRST,
            jobs: None,
            no_stage: false,
            plan: None,
            quiet: false,
        }
    }
}

/// What one hour built, for the summary.
#[derive(Debug, Default, Serialize)]
pub struct Built {
    #[serde(flatten)]
    pub counts: Counts,
    pub sets: usize,
    pub files: usize,
    pub bytes: u64,
    pub seconds: f64,
}

/// Builds every hour of `period` (one, or the 24 of a day).
pub fn build(
    config: &Config,
    spec: &Spec,
    period: &Period,
    opts: &mut BuildOptions<'_>,
) -> anyhow::Result<Hours<Built>> {
    // A local source is read where it is; any other is pulled into staging first.
    let local_root = match config.sources.get(&spec.input.source) {
        Some(SourceConfig::Local { root }) => Some(root.clone()),
        _ => None,
    };
    let source = crate::source::from_config(config, &spec.input.source)?;
    let pull_opts = crate::source::pull::PullOptions::from_config(&config.pull, None, std::time::Duration::ZERO);
    let program = spec.program.as_ref();
    let workers = opts
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let fixed_time = verf::fixed_time()?;
    let date = period.day();
    let dry_run = opts.plan.is_some();
    Ok(each_hour(&spec.name, period, |hour| {
        let ctx = HourCtx {
            spec,
            work: config.work(),
            local_root: local_root.as_deref(),
            source: source.as_ref(),
            pull_opts: &pull_opts,
            no_stage: opts.no_stage,
            date,
            hour,
            hh: hh(hour),
            dry_run,
            batch: opts.batch,
        };
        // A local file that changed while it was read: the hour again, as a pull would;
        // nothing else (the pull retried what may pass itself).
        let out = pull_opts
            .backoff
            .retry(
                pull_opts.retries,
                crate::exit::changed,
                |_| build_one_hour(&ctx, program, workers, fixed_time.clone(), &mut opts.plan),
                |e, _| crate::say_warn!("{e:#}; building {} {} again", spec.name, hour_period(date, hour)),
            )
            .map_err(|t| t.into_error(None))?;
        let built = Built {
            counts: out.counts,
            sets: out.sets.len(),
            files: out.sets.iter().map(|s| s.files.len()).sum(),
            bytes: out.sets.iter().flat_map(|s| &s.files).map(|f| f.bytes).sum(),
            seconds: out.seconds,
        };
        let c = &built.counts;
        if c.bom_stripped > 0 {
            crate::say_warn!(
                "{} {}: {} file(s) began with a UTF-8 BOM (stripped)",
                spec.name,
                hour_period(date, hour),
                c.bom_stripped
            );
        }
        if c.rows_with_nul + c.rows_with_cr > 0 {
            crate::say_warn!(
                "{} {}: {} row(s) hold a NUL byte, {} a CR (kept: `[clean] strip` can remove them)",
                spec.name,
                hour_period(date, hour),
                c.rows_with_nul,
                c.rows_with_cr
            );
        }
        if !opts.quiet {
            crate::say!(
                "{} {}: {} rows in, {} out, {} filtered, {} rejected; {} set(s), {} file(s), {} bytes in {:.1} s",
                spec.name,
                hour_period(date, hour),
                built.counts.rows_in,
                built.counts.rows_out,
                built.counts.filtered,
                built.counts.rejected,
                built.sets,
                built.files,
                built.bytes,
                built.seconds
            );
        }
        Ok(built)
    }))
}

struct HourCtx<'a> {
    spec: &'a Spec,
    work: WorkDir<'a>,
    /// Where a local source's hours are; `None` for sources that are pulled first.
    local_root: Option<&'a Path>,
    source: &'a dyn crate::source::Source,
    pull_opts: &'a crate::source::pull::PullOptions,
    /// Stream a remote source's files instead of staging them.
    no_stage: bool,
    date: Day,
    hour: u8,
    hh: String,
    dry_run: bool,
    /// The retransmission number of the sets, two digits.
    batch: Batch,
}

impl HourCtx<'_> {
    fn vars(&self) -> Vars<'_> {
        Vars {
            date: Some(self.date),
            hour: Some(&self.hh),
            ..Vars::default()
        }
    }

    /// `hourly/<iface>/<YYYYMMDD>/<HH>/`.
    fn hour_dir(&self) -> PathBuf {
        self.work.hour_dir(&self.spec.name, self.date, self.hour)
    }
}

/// The hour's input: its path under the source, whether it is read straight from the
/// source (`--no-stage`), and its files (pulled into staging first, unless streamed).
struct HourInput {
    rel: String,
    streamed: bool,
    inputs: Vec<crate::source::local::InputFile>,
}

fn hour_input(ctx: &HourCtx<'_>) -> anyhow::Result<HourInput> {
    let spec = ctx.spec;
    let rel = spec.input.path.render(&ctx.vars()).map_err(Failure::Usage)?;
    let ready = spec.input.readiness();
    let streamed = ctx.local_root.is_none() && ctx.no_stage;
    if streamed && spec.input.format != Format::Text {
        return Err(Failure::Usage(
            "--no-stage reads text input only: Parquet and ORC need their files staged (drop --no-stage)".into(),
        )
        .into());
    }
    let hour_dir = match ctx.local_root {
        Some(root) => root.join(&rel),
        None if streamed => PathBuf::new(),
        None => {
            let staging = ctx.work.staging_dir(&spec.name, ctx.date, ctx.hour);
            let r = crate::source::pull::pull_hour(ctx.source, &rel, &ready, &staging, ctx.pull_opts)?;
            crate::say!(
                "pulled {} {}{}: {} copied, {} already staged",
                spec.name,
                ctx.date,
                ctx.hh,
                r.copied,
                r.skipped
            );
            staging
        }
    };
    let inputs = if streamed {
        let entries = crate::source::list_ready(ctx.source, &rel, &ready)?;
        entries
            .into_iter()
            .map(|e| crate::source::local::InputFile {
                path: PathBuf::from(&e.name),
                name: e.name,
                size: e.size,
            })
            .collect()
    } else {
        list_hour(&hour_dir, &ready)?
    };
    Ok(HourInput { rel, streamed, inputs })
}

fn build_one_hour(
    ctx: &HourCtx<'_>,
    program: Option<&Program>,
    workers: usize,
    fixed_time: Option<String>,
    plan: &mut Option<&mut dyn Write>,
) -> anyhow::Result<HourOutput> {
    let spec = ctx.spec;
    let HourInput { rel, streamed, inputs } = hour_input(ctx)?;
    // A Parquet or ORC spec without `columns` takes them from the hour's first file.
    let compiled;
    let (program, columns) = match (program, spec.input.format) {
        (Some(p), _) => (p, spec.input.columns.clone()),
        // An empty hour (allow_empty) has no schema to read, and no row to evaluate.
        (None, Format::Parquet | Format::Orc) if inputs.is_empty() => {
            compiled = Program::compile("SELECT * FROM input", &[])
                .map_err(|_| anyhow::anyhow!("an empty SELECT did not compile"))?;
            (&compiled, Vec::new())
        }
        (None, Format::Parquet | Format::Orc) => {
            let (program, columns) = columnar::program_for_file(spec, &inputs[0].path)?;
            compiled = program;
            (&compiled, columns)
        }
        (None, Format::Text) => anyhow::bail!("a text spec without columns passed validation"),
    };
    let started = chrono::Local::now();
    let progress = progress_bar(
        &format!("{} {}{}", spec.name, ctx.date, ctx.hh),
        inputs.iter().map(|i| i.size).sum(),
    );

    // Built hidden, swapped in with its rejects; dropped on an error: gone, its
    // rejects kept apart (`HH.failed.rej.gz`), the old set as it was.
    let set = match ctx.dry_run {
        true => None,
        false => Some(SetDir::hour(&ctx.work, &spec.name, ctx.date, ctx.hour)?),
    };
    let job = HourJob {
        spec,
        program,
        date: ctx.date,
        hour: ctx.hour,
        batch: ctx.batch,
        inputs: &inputs,
        out_dir: set.as_ref().map(SetDir::path),
        workers,
        fixed_time,
        rejects_path: set.as_ref().and_then(SetDir::rejects_path),
        columns: &columns,
        progress: &progress,
        stream_from: streamed.then_some((ctx.source, rel.as_str())),
    };
    let out = build_hour(&job)?;
    // What was read is what was listed, or the hour is read again.
    if !streamed {
        check_unchanged(&inputs)?;
    }
    let (out, manifest) = finish_hour(ctx, &job, &inputs, out, set.as_ref(), started, plan)?;
    if let Some(set) = set {
        set.commit(&manifest)?;
    }
    Ok(out)
}

/// Checks the rejects against the tolerance, then writes each set's `.verf` into
/// `set` (or, in a dry run, the plan of what it would write); the hour's manifest,
/// which the set's commit writes last.
fn finish_hour(
    ctx: &HourCtx<'_>,
    job: &HourJob<'_>,
    inputs: &[crate::source::local::InputFile],
    out: HourOutput,
    set: Option<&SetDir>,
    started: chrono::DateTime<chrono::Local>,
    plan: &mut Option<&mut dyn Write>,
) -> anyhow::Result<(HourOutput, Manifest)> {
    let spec = ctx.spec;
    debug_assert!(out.counts.balanced());
    if out.counts.rejected > spec.input.max_bad_rows {
        let examples: Vec<String> = out
            .rejects
            .iter()
            .map(|r| format!("{}:{}: {}", r.file, r.line, r.reason))
            .collect();
        let place = match set.and_then(SetDir::failed_rejects) {
            Some(p) => format!("; all of them are in {}", p.display()),
            None => String::new(),
        };
        return Err(Failure::BadInput(format!(
            "{} rows rejected, more than max_bad_rows = {} (first: {}){place}",
            out.counts.rejected,
            spec.input.max_bad_rows,
            examples.join("; ")
        ))
        .into());
    }
    let mut sets = Vec::new();
    for s in &out.sets {
        let vars = Vars {
            date: Some(ctx.date),
            hour: Some(&ctx.hh),
            split: s.split.as_deref(),
            batch: Some(job.batch),
            seq: None,
            seq_width: spec.output.seq_width,
        };
        let verf = spec.output.verf_name.render(&vars).map_err(Failure::Usage)?;
        let text = verf::text(ctx.date, &s.files)?;
        if let Some(so) = plan.as_mut() {
            let dir = ctx.hour_dir();
            for f in &s.files {
                writeln!(
                    so,
                    "would write {} ({} rows, {} bytes, md5 {})",
                    dir.join(&f.name).display(),
                    f.rows,
                    f.bytes,
                    f.md5
                )?;
            }
            writeln!(so, "would write {}:", dir.join(&verf).display())?;
            so.write_all(text.as_bytes())?;
        } else if let Some(set) = set {
            crate::atomic::write(&set.path().join(&verf), text.as_bytes())?;
        }
        sets.push(SetEntry {
            split: s.split.clone(),
            batch: job.batch,
            verf,
            rows: s.rows,
            files: s.files.clone(),
        });
    }
    let manifest = Manifest {
        chama_version: env!("CARGO_PKG_VERSION").to_string(),
        interface: spec.name.clone(),
        period: hour_period(ctx.date, ctx.hour),
        spec_fingerprint: spec.fingerprint.clone(),
        inputs: inputs
            .iter()
            .map(|i| InputEntry {
                name: i.name.clone(),
                size: i.size,
            })
            .collect(),
        counts: out.counts,
        sets,
        started: started.to_rfc3339(),
        seconds: out.seconds,
        missing_hours: Vec::new(),
    };
    Ok((out, manifest))
}

/// A bar of input bytes for one hour, drawn only when stderr is a terminal.
fn progress_bar(prefix: &str, total: u64) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::with_draw_target(Some(total), indicatif::ProgressDrawTarget::stderr());
    let style =
        indicatif::ProgressStyle::with_template("{prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(prefix.to_string());
    bar
}
