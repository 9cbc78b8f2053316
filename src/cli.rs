//! The command line, as clap derive structs: one `*Args` per subcommand.
//! Values are typed where they are parsed (periods, batches, hours, names),
//! so a command receives them checked; a bad one exits 2 with clap's message.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::period::{Batch, HourSet, Period, PeriodRange};

/// A name that becomes a file or directory name (an interface, a destination):
/// no path separator, no `..`, not hidden.
pub fn plain_name(s: &str) -> Result<String, String> {
    if s.is_empty() || s.contains(['/', '\\', '\0']) || s.starts_with('.') {
        return Err(format!("`{s}` is not a plain name (no `/`, no leading `.`)"));
    }
    Ok(s.to_string())
}

/// The interface and period a command works on.
#[derive(Debug, Clone, Args)]
pub struct Target {
    /// The interface (a spec in the interfaces directory).
    #[arg(long, value_parser = plain_name)]
    pub iface: String,
    /// YYYYMMDDHH for one hour, YYYYMMDD for all 24 hours of a day.
    #[arg(long)]
    pub period: Period,
}

/// How a command that changes files reports: a dry run, a JSON summary.
#[derive(Debug, Clone, Copy, Default, Args)]
pub struct Output {
    /// Print what it would do; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print one JSON summary as the last line of stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Parser)]
#[command(
    name = "chama",
    version,
    about = "Build and deliver offline-interface files",
    max_term_width = 100
)]
pub struct Cli {
    /// The configuration file (default: $CHAMA_CONFIG, else ./chama.toml, else the built-in default).
    #[arg(long, global = true, env = "CHAMA_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// How messages on stderr look: `text` lines, or one JSON object per line for log collectors.
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub log_format: LogFormat,

    /// Write a Prometheus textfile-collector file here after the command (default: metrics_dir/chama.prom).
    #[arg(long, global = true, value_name = "FILE")]
    pub metrics_file: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Copy an hour's raw input (or every hour of a day) from the source into staging/.
    Pull(PullArgs),
    /// Build an hour's set(s), or every hour of a day, into the work directory's hourly/.
    Build(BuildArgs),
    /// The daily job: build the hours not built yet, merge the day, push it everywhere.
    Run(RunArgs),
    /// Rebuild periods from the source and deliver them again (same batch, or a new one).
    Rerun(RerunArgs),
    /// Merge a day's hourly sets into the daily set(s) under out/, renumbered, nothing recompressed.
    Merge(MergeArgs),
    /// Deliver an hour's set(s), or a merged day, to the spec's destinations.
    Push(PushArgs),
    /// What state every period is in: built, merged, pushed where and when, rows, files, bytes.
    Status(StatusArgs),
    /// Retention: delete the files chama made for days older than keep_days, and nothing else.
    Clean(CleanArgs),
    /// Check a set against its .verf, locally or on a destination.
    Verify(VerifyArgs),
    /// Ad-hoc rows for analysts, UTF-8 on stdout, from the raw input or the built files.
    Sample(SampleArgs),
    /// A day's volumes per interface against the day before and last month; exit 7 on an alarm.
    Report(ReportArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(CompletionsArgs),
    /// Print chama's man page (roff) on stdout.
    Man,
    /// Check interface specs, or try one on a local input.
    #[command(subcommand)]
    Spec(SpecCommand),
}

#[derive(Debug, Subcommand)]
pub enum SpecCommand {
    /// Validate specs and report every problem as `file:line: message` (exit 2 if any).
    Check(SpecCheckArgs),
    /// Run a spec's transform and cleaning on a local input; print UTF-8 TSV with a header.
    Try(SpecTryArgs),
    /// Print the interfaces, one name a line: all, or those of one queue (machine).
    List(SpecListArgs),
}

#[derive(Debug, Args)]
pub struct SpecListArgs {
    /// Only the interfaces whose `[delivery] queue` is this (`default` for specs that name none).
    #[arg(long, env = "CHAMA_QUEUE", value_parser = queue_name)]
    pub queue: Option<String>,
    /// One JSON array of {"name", "queue"} instead of names.
    #[arg(long)]
    pub json: bool,
}

/// A queue name (letters, digits, `_`, `-`, `.`), as `[delivery] queue` takes it.
pub fn queue_name(s: &str) -> Result<String, String> {
    if crate::spec::valid_queue(s) {
        Ok(s.to_string())
    } else {
        Err(format!("`{s}` is not a queue name (letters, digits, `_`, `-`, `.`)"))
    }
}

#[derive(Debug, Args)]
pub struct SpecCheckArgs {
    /// Spec files (default: every file in the interfaces directory).
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SpecTryArgs {
    /// A spec file, or the name of an interface in the interfaces directory.
    pub spec: String,
    /// A local input file in the spec's text format, plain or gzip; repeat for several, read in order.
    #[arg(long, required = true, value_name = "FILE")]
    pub input: Vec<PathBuf>,
    /// Stop after this many output rows.
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    #[command(flatten)]
    pub at: Target,
    #[command(flatten)]
    pub output: Output,
    /// Compression threads (default: the number of cores).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Read a remote source's files as streams instead of pulling them into
    /// staging first (text input only; a read that fails stops the hour).
    #[arg(long)]
    pub no_stage: bool,
    /// The batch (retransmission number) of the sets: 00 for the regular delivery.
    #[arg(long, value_name = "NN", default_value = "00")]
    pub batch: Batch,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    #[command(flatten)]
    pub at: Target,
    /// Wait this long for an hour that is not ready yet (e.g. 30s, 10m, 2h), then exit 3.
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = parse_duration)]
    pub wait: std::time::Duration,
    /// Parallel streams (default: [pull] jobs in chama.toml, else 4).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Print one JSON summary as the last line of stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// `--period`: YYYYMMDDHH for one hour's set(s), YYYYMMDD for the merged day.
    #[command(flatten)]
    pub at: Target,
    /// Only this destination (default: every destination the spec lists).
    #[arg(long, value_name = "NAME", value_parser = plain_name)]
    pub dest: Option<String>,
    /// `--dry-run`: what would go where; connect to nothing, change nothing.
    #[command(flatten)]
    pub output: Output,
    /// Cap on the total upload rate, in bytes per second (e.g. 20M, 500K).
    #[arg(long, value_name = "RATE", value_parser = crate::sink::parse_rate)]
    pub bwlimit: Option<u64>,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The interface (a spec in the interfaces directory); with --probe, whose remote_dir to try.
    #[arg(long, value_parser = plain_name, required_unless_present = "probe")]
    pub iface: Option<String>,
    /// YYYYMMDDHH for one hour's set(s), YYYYMMDD for the merged day.
    #[arg(long, required_unless_present = "probe", conflicts_with = "probe")]
    pub period: Option<Period>,
    /// Check the set on this destination (default: the local set in the work directory).
    #[arg(long, value_name = "NAME", value_parser = plain_name)]
    pub dest: Option<String>,
    /// Also read every file: MD5 and line count against the .verf.
    #[arg(long, conflicts_with = "probe")]
    pub deep: bool,
    /// Instead of a set, try every host of --dest: connection, host key, login, the server's
    /// software and extensions, and which of list, write, stat, rename and remove it allows
    /// in the directory (a small `.chama-probe-*` file is written and removed). Exit 0 only
    /// when every host would take a push.
    #[arg(long, requires = "dest")]
    pub probe: bool,
    /// Print one JSON summary as the last line of stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// `--period`: the day, YYYYMMDD.
    #[command(flatten)]
    pub at: Target,
    /// Merge without these hours (HH,HH,...); the manifest records them.
    #[arg(long, value_name = "HH,...", value_parser = crate::period::hour_list)]
    pub allow_missing: Option<HourSet>,
    /// Re-split the hours' partial last files into full files (the only files recompressed).
    #[arg(long)]
    pub compact: bool,
    /// `--dry-run`: the links and .verf it would write; change nothing.
    #[command(flatten)]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The interface (a spec in the interfaces directory).
    #[arg(long, required_unless_present = "all", conflicts_with = "all", value_parser = plain_name)]
    pub iface: Option<String>,
    /// Every interface in the interfaces directory (of `--queue`, if given).
    #[arg(long)]
    pub all: bool,
    /// This machine's queue: `--all` runs only the interfaces whose `[delivery] queue` is
    /// this; `--iface` warns when the interface is on another queue.
    #[arg(long, env = "CHAMA_QUEUE", value_parser = queue_name)]
    pub queue: Option<String>,
    /// The day, YYYYMMDD.
    #[arg(long)]
    pub period: Period,
    /// Print one JSON summary as the last line of stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Only this interface.
    #[arg(long, value_parser = plain_name)]
    pub iface: Option<String>,
    /// Days from this one on, YYYYMMDD (default: the last keep_days days).
    #[arg(long, value_name = "D")]
    pub since: Option<Period>,
    /// Print one JSON object as the last line of stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CleanArgs {
    /// Keep this many days (default: keep_days in chama.toml, else 15).
    #[arg(long, value_name = "N")]
    pub keep_days: Option<u32>,
    /// Print what would be removed; remove nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct RerunArgs {
    /// The interface (a spec in the interfaces directory).
    #[arg(long, value_parser = plain_name)]
    pub iface: String,
    /// A day or hour, or a range: YYYYMMDD[..YYYYMMDD], YYYYMMDDHH[..YYYYMMDDHH].
    #[arg(long)]
    pub period: PeriodRange,
    /// Only these hours of each day: HH-HH (or HH).
    #[arg(long, value_name = "HH-HH", value_parser = crate::period::hour_range)]
    pub hours: Option<HourSet>,
    /// Build under this batch (two digits) instead of the period's current one.
    #[arg(long, value_name = "NN", conflicts_with = "next_batch")]
    pub batch: Option<Batch>,
    /// Build under the next batch: new names, the old delivery left as it is.
    #[arg(long)]
    pub next_batch: bool,
    /// Why, for the record.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Rebuild and merge, but do not push.
    #[arg(long)]
    pub no_push: bool,
    /// Same batch: also remove remote files of the old set that the new one lacks (only names its .verf listed).
    #[arg(long)]
    pub prune_remote: bool,
    /// Print one JSON summary as the last line of stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The day, YYYYMMDD.
    #[arg(long)]
    pub period: Period,
    /// Print one JSON summary as the last line of stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SampleArgs {
    #[command(flatten)]
    pub at: Target,
    /// A condition over the output columns, in the spec's SQL (e.g. "wt_prov = '250'").
    #[arg(long = "where", value_name = "SQL")]
    pub r#where: Option<String>,
    /// Output columns (or expressions), comma-separated (default: all).
    #[arg(long, value_name = "A,B")]
    pub columns: Option<String>,
    /// Stop after N rows (default 100).
    #[arg(long, value_name = "N", conflicts_with = "sample")]
    pub limit: Option<u64>,
    /// A uniform sample of N rows of the whole period (reservoir; reproducible with --seed).
    #[arg(long, value_name = "N")]
    pub sample: Option<u64>,
    /// The seed of --sample.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// Read the raw input (default) or the built files.
    #[arg(long, value_enum, default_value = "raw")]
    pub from: SampleFrom,
    /// Only the rows of this split value (e.g. one province).
    #[arg(long, value_name = "VALUE")]
    pub split: Option<String>,
    #[arg(long, value_enum, default_value = "tsv")]
    pub format: SampleFormat,
}

/// `sample --from`: where rows come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SampleFrom {
    /// The period's input through the spec's transform and cleaning.
    Raw,
    /// The built files, decoded back to UTF-8.
    Built,
}

impl From<SampleFrom> for crate::ops::sample::ReadFrom {
    fn from(f: SampleFrom) -> Self {
        match f {
            SampleFrom::Raw => Self::Raw,
            SampleFrom::Built => Self::Built,
        }
    }
}

/// `sample --format`: how rows are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SampleFormat {
    /// PostgreSQL text format with a header (NULL is \N).
    Tsv,
    /// RFC 4180 with a header (NULL is empty).
    Csv,
    /// One JSON object per row (NULL is null).
    Jsonl,
}

impl From<SampleFormat> for crate::ops::sample::RowFormat {
    fn from(f: SampleFormat) -> Self {
        match f {
            SampleFormat::Tsv => Self::Tsv,
            SampleFormat::Csv => Self::Csv,
            SampleFormat::Jsonl => Self::Jsonl,
        }
    }
}

pub use crate::duration::parse as parse_duration;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stay_in_their_directory() {
        assert!(plain_name("CM001").is_ok() && plain_name("bi-cw_kfb_wlan").is_ok());
        for bad in ["", "../x", "a/b", ".hidden", ".."] {
            assert!(plain_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
