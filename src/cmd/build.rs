//! `chama build`: one hour, or every hour of a day, into `hourly/`.
//!
//! Each hour is built into a hidden directory beside its final one and swapped
//! in only when every file, `.verf` and the manifest are complete, so an older
//! set stays in place until its replacement is whole. A day keeps going past
//! a bad hour and exits with the most serious code of its hours.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;

use crate::cli::BuildArgs;
use crate::config::{Config, SourceConfig};
use crate::exit::{Code, Failure};
use crate::manifest::{verf_text, write_atomic, Counts, InputEntry, Manifest, SetEntry};
use crate::period::Period;
use crate::pipeline::{build_hour, HourJob, HourOutput};
use crate::source::columnar;
use crate::source::local::list_hour;
use crate::spec::{self, Format, Spec, Vars};
use crate::sql::Program;

/// What one hour built, for the summary.
#[derive(Debug, Default, Serialize)]
struct Built {
    #[serde(flatten)]
    counts: Counts,
    sets: usize,
    files: usize,
    bytes: u64,
    seconds: f64,
}

#[derive(Debug, Serialize)]
struct Summary<'a> {
    command: &'static str,
    interface: &'a str,
    period: String,
    dry_run: bool,
    code: u8,
    hours: Vec<super::HourOutcome<Built>>,
}

pub fn build(config: &Config, args: &BuildArgs) -> anyhow::Result<Code> {
    let spec = spec::load(&config.spec_path(&args.iface), &config.names())?;
    let period: Period = args.period.parse().map_err(Failure::Usage)?;
    if args.batch.len() != 2 || !args.batch.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Failure::Usage(format!("--batch takes two digits (00, 01, ...), not `{}`", args.batch)).into());
    }
    // A local source is read where it is; any other is pulled into staging first.
    let local_root = match config.sources.get(&spec.input.source) {
        Some(SourceConfig::Local { root }) => Some(root.clone()),
        _ => None,
    };
    let source = crate::source::from_config(config, &spec.input.source)?;
    let pull_opts = super::pull::options(config, None, std::time::Duration::ZERO);
    let program = spec.program.as_ref();
    let workers = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let fixed_time = fixed_time()?;

    let date = period.date_str();
    let (code, hours) = super::each_hour(&spec.name, &period, |hour, hh| {
        let ctx = HourCtx {
            config,
            spec: &spec,
            local_root: local_root.as_deref(),
            source: source.as_ref(),
            pull_opts: &pull_opts,
            no_stage: args.no_stage,
            date: &date,
            hour,
            hh,
            dry_run: args.dry_run,
            batch: &args.batch,
        };
        let out = build_one_hour(&ctx, program, workers, fixed_time.clone())?;
        let built = Built {
            counts: out.counts,
            sets: out.sets.len(),
            files: out.sets.iter().map(|s| s.files.len()).sum(),
            bytes: total_bytes(&out),
            seconds: out.seconds,
        };
        if !args.json {
            crate::say!(
                "chama: {} {date}{hh}: {} rows in, {} out, {} filtered, {} rejected; {} set(s), {} file(s), {} bytes in {:.1} s",
                spec.name, built.counts.rows_in, built.counts.rows_out, built.counts.filtered, built.counts.rejected, built.sets, built.files, built.bytes, built.seconds
            );
        }
        Ok(built)
    });
    if args.json {
        let s = Summary {
            command: "build",
            interface: &spec.name,
            period: period.to_string(),
            dry_run: args.dry_run,
            code: code as u8,
            hours,
        };
        println!("{}", serde_json::to_string(&s)?);
    }
    Ok(code)
}

fn total_bytes(out: &HourOutput) -> u64 {
    out.sets.iter().flat_map(|s| &s.files).map(|f| f.bytes).sum()
}

/// `SOURCE_DATE_EPOCH` fixes the `.verf` file time, for reproducible builds.
pub(crate) fn fixed_time() -> anyhow::Result<Option<String>> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(s) if !s.is_empty() => {
            let secs: i64 = s
                .parse()
                .map_err(|_| Failure::Usage(format!("SOURCE_DATE_EPOCH `{s}` is not a number")))?;
            let t = chrono::DateTime::from_timestamp(secs, 0)
                .ok_or_else(|| Failure::Usage(format!("SOURCE_DATE_EPOCH `{s}` is out of range")))?;
            Ok(Some(t.with_timezone(&chrono::Local).format("%Y%m%d%H%M%S").to_string()))
        }
        _ => Ok(None),
    }
}

struct HourCtx<'a> {
    config: &'a Config,
    spec: &'a Spec,
    /// Where a local source's hours are; `None` for sources that are pulled first.
    local_root: Option<&'a Path>,
    source: &'a dyn crate::source::Source,
    pull_opts: &'a crate::source::pull::PullOptions,
    /// Stream a remote source's files instead of staging them.
    no_stage: bool,
    date: &'a str,
    hour: u8,
    hh: &'a str,
    dry_run: bool,
    /// The retransmission number of the sets, two digits.
    batch: &'a str,
}

impl HourCtx<'_> {
    fn vars(&self) -> Vars<'_> {
        Vars {
            date: self.date,
            hour: Some(self.hh),
            ..Vars::default()
        }
    }

    /// `hourly/<iface>/<YYYYMMDD>/`.
    fn day_dir(&self) -> PathBuf {
        self.config.hourly_day_dir(&self.spec.name, self.date)
    }
}

fn build_one_hour(
    ctx: &HourCtx<'_>,
    program: Option<&Program>,
    workers: usize,
    fixed_time: Option<String>,
) -> anyhow::Result<HourOutput> {
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
            let staging = ctx.config.staging_dir(&spec.name, ctx.date, ctx.hh);
            let r = crate::source::pull::pull_hour(ctx.source, &rel, &ready, &staging, ctx.pull_opts)?;
            crate::say!(
                "chama: pulled {} {}{}: {} copied, {} already staged",
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

    let day_dir = ctx.day_dir();
    let final_dir = day_dir.join(ctx.hh);
    let building = day_dir.join(format!(".{}.building-{}", ctx.hh, std::process::id()));
    let rejects_path = ctx.config.rejects_file(&spec.name, ctx.date, ctx.hh);
    if !ctx.dry_run {
        super::remove_stale(&day_dir, ctx.hh)?;
        std::fs::create_dir_all(&building).with_context(|| format!("creating {}", building.display()))?;
    }
    let job = HourJob {
        spec,
        program,
        date: ctx.date,
        hour: ctx.hour,
        batch: ctx.batch,
        inputs: &inputs,
        out_dir: (!ctx.dry_run).then_some(building.as_path()),
        workers,
        fixed_time,
        rejects_path: (!ctx.dry_run).then_some(rejects_path.as_path()),
        columns: &columns,
        progress: &progress,
        stream_from: streamed.then_some((ctx.source, rel.as_str())),
    };
    let result =
        build_hour(&job).and_then(|out| finish_hour(ctx, &job, &inputs, out, &building, &rejects_path, started));
    match result {
        Ok(out) => {
            if !ctx.dry_run {
                super::swap_in(&building, &final_dir)?;
            }
            Ok(out)
        }
        Err(e) => {
            if !ctx.dry_run {
                let _ = std::fs::remove_dir_all(&building);
            }
            Err(e)
        }
    }
}

/// Checks the rejects against the tolerance, then writes each set's `.verf`
/// and the hour's manifest (or prints them, in a dry run).
fn finish_hour(
    ctx: &HourCtx<'_>,
    job: &HourJob<'_>,
    inputs: &[crate::source::local::InputFile],
    out: HourOutput,
    building: &Path,
    rejects_path: &Path,
    started: chrono::DateTime<chrono::Local>,
) -> anyhow::Result<HourOutput> {
    let spec = ctx.spec;
    debug_assert!(out.counts.balanced());
    if out.counts.rejected > spec.input.max_bad_rows {
        let examples: Vec<String> = out
            .rejects
            .iter()
            .map(|r| format!("{}:{}: {}", r.file, r.line, r.reason))
            .collect();
        let place = if ctx.dry_run {
            String::new()
        } else {
            format!("; all of them are in {}", rejects_path.display())
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
    let stdout = std::io::stdout();
    let mut so = stdout.lock();
    for s in &out.sets {
        let vars = Vars {
            date: ctx.date,
            hour: Some(ctx.hh),
            split: s.split.as_deref(),
            batch: Some(job.batch),
            seq: None,
            seq_width: spec.output.seq_width,
        };
        let verf = spec.output.verf_name.render(&vars).map_err(Failure::Usage)?;
        let text = verf_text(ctx.date, &s.files)?;
        if ctx.dry_run {
            let dir = ctx.day_dir().join(ctx.hh);
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
        } else {
            write_atomic(building, &verf, text.as_bytes())?;
        }
        sets.push(SetEntry {
            split: s.split.clone(),
            batch: job.batch.to_string(),
            verf,
            rows: s.rows,
            files: s.files.clone(),
        });
    }
    let manifest = Manifest {
        chama_version: env!("CARGO_PKG_VERSION").to_string(),
        interface: spec.name.clone(),
        period: format!("{}{}", ctx.date, ctx.hh),
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
    if !ctx.dry_run {
        manifest.write(building)?;
    }
    Ok(out)
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
