//! `chama.toml`: sources, destinations and the work directory.
//!
//! Found at `--config FILE`, else `$CHAMA_CONFIG`, else `./chama.toml`, else
//! `/etc/chama/chama.toml` (an installed server); with none of them, a built-in
//! default that reads `testdata/dumps`, works in `var/` and delivers to a local
//! `outbox/`. Relative paths are relative to
//! the config file's directory (the current directory for the default).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

use crate::exit::Failure;

/// What a spec may refer to outside itself: names defined in chama.toml.
#[derive(Debug, Clone, Default)]
pub struct Names {
    pub sources: Vec<String>,
    pub destinations: Vec<String>,
}

/// An installed server's configuration, found when no other is named or here.
pub const SYSTEM: &str = "/etc/chama/chama.toml";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    /// Where staging, hourly sets, daily sets, rejects and the ledger live.
    #[serde(default = "default_work_dir")]
    work_dir: PathBuf,
    /// Where the interface specs are.
    #[serde(default = "default_interfaces_dir")]
    interfaces_dir: PathBuf,
    /// Days `clean` keeps.
    #[serde(default = "default_keep_days")]
    keep_days: u32,
    /// Where a Prometheus textfile-collector file (`chama.prom`) is written after every command.
    #[serde(default)]
    metrics_dir: Option<PathBuf>,
    #[serde(default)]
    pull: PullConfig,
    #[serde(default)]
    sources: BTreeMap<String, SourceConfig>,
    #[serde(default)]
    destinations: BTreeMap<String, DestinationConfig>,
}

fn default_work_dir() -> PathBuf {
    "var".into()
}
fn default_interfaces_dir() -> PathBuf {
    "interfaces".into()
}
fn default_keep_days() -> u32 {
    15
}

/// `[pull]`: how hours are copied from a source into staging.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PullConfig {
    /// Parallel streams per hour.
    #[serde(default = "default_pull_jobs")]
    pub jobs: usize,
    /// Tries per file after the first.
    #[serde(default = "default_pull_retries")]
    pub retries: u32,
    /// First backoff between tries, in milliseconds; doubles, with jitter.
    #[serde(default = "default_retry_delay_ms")]
    pub retry_delay_ms: u64,
    /// Longest backoff, in milliseconds.
    #[serde(default = "default_max_retry_delay_ms")]
    pub max_retry_delay_ms: u64,
    /// How often to look again for an hour that is not ready, in seconds.
    #[serde(default = "default_poll_seconds")]
    pub poll_seconds: u64,
}

impl Default for PullConfig {
    fn default() -> Self {
        PullConfig {
            jobs: default_pull_jobs(),
            retries: default_pull_retries(),
            retry_delay_ms: default_retry_delay_ms(),
            max_retry_delay_ms: default_max_retry_delay_ms(),
            poll_seconds: default_poll_seconds(),
        }
    }
}

fn default_pull_jobs() -> usize {
    4
}
fn default_pull_retries() -> u32 {
    5
}
fn default_retry_delay_ms() -> u64 {
    500
}
fn default_max_retry_delay_ms() -> u64 {
    30_000
}
fn default_poll_seconds() -> u64 {
    10
}

/// Where raw dumps come from.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum SourceConfig {
    /// A local directory.
    Local { root: PathBuf },
    /// HDFS through the native client.
    Hdfs {
        /// `hdfs://host:port`, or a name service from HADOOP_CONF_DIR.
        namenode: String,
        root: String,
        /// A listing or a read that gets no answer for this long fails (and is retried).
        #[serde(default = "default_hdfs_timeout")]
        timeout_seconds: u64,
        /// The cluster's client configuration (`core-site.xml`, `hdfs-site.xml`);
        /// else `HADOOP_CONF_DIR`, else `$HADOOP_HOME/etc/hadoop`.
        hadoop_conf_dir: Option<PathBuf>,
        /// The Kerberos principal chama works as (`chama@EXAMPLE.COM`).
        principal: Option<String>,
        /// A keytab holding `principal`: chama then gets and renews its own ticket.
        keytab: Option<PathBuf>,
    },
    /// HDFS through the site's own client command.
    HdfsCli {
        #[serde(default = "default_hdfs_command")]
        command: String,
        root: String,
        /// The cluster's client configuration (`core-site.xml`, `hdfs-site.xml`);
        /// else `HADOOP_CONF_DIR`, else `$HADOOP_HOME/etc/hadoop`.
        hadoop_conf_dir: Option<PathBuf>,
        /// The Kerberos principal chama works as (`chama@EXAMPLE.COM`).
        principal: Option<String>,
        /// A keytab holding `principal`: chama then gets and renews its own ticket.
        keytab: Option<PathBuf>,
    },
}

/// The Kerberos keys of a source, as configured.
#[derive(Debug, Clone, Copy, Default)]
pub struct KerberosKeys<'a> {
    pub hadoop_conf_dir: Option<&'a Path>,
    pub principal: Option<&'a str>,
    pub keytab: Option<&'a Path>,
}

impl SourceConfig {
    /// How an HDFS source finds its cluster's configuration and its Kerberos
    /// ticket (`source::kerberos`).
    pub fn kerberos(&self) -> KerberosKeys<'_> {
        match self {
            SourceConfig::Local { .. } => Default::default(),
            SourceConfig::Hdfs {
                hadoop_conf_dir,
                principal,
                keytab,
                ..
            }
            | SourceConfig::HdfsCli {
                hadoop_conf_dir,
                principal,
                keytab,
                ..
            } => KerberosKeys {
                hadoop_conf_dir: hadoop_conf_dir.as_deref(),
                principal: principal.as_deref(),
                keytab: keytab.as_deref(),
            },
        }
    }
}

fn default_hdfs_timeout() -> u64 {
    30
}

fn default_hdfs_command() -> String {
    "hdfs dfs".into()
}

/// Where sets are delivered.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum DestinationConfig {
    /// A local directory.
    Local { root: PathBuf },
    /// SFTP hosts that share one storage (an exchange platform's entry points).
    Sftp(Box<SftpConfig>),
}

/// `kind = "sftp"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SftpConfig {
    /// `sftp://user@host[:port]`, in order of preference.
    pub hosts: Vec<String>,
    #[serde(default)]
    pub mode: DeliveryMode,
    /// Prefixed to each spec's `remote_dir` (for chrooted or shared servers); empty by default.
    #[serde(default)]
    pub root: String,
    #[serde(default)]
    pub identity_file: Option<PathBuf>,
    /// The environment variable that holds the password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// A file readable only by its owner that holds the password.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    #[serde(default = "default_known_hosts")]
    pub known_hosts: PathBuf,
    /// Parallel sessions per host.
    #[serde(default = "default_connections")]
    pub connections: usize,
    /// Tries per file after the first, on one host, before that host leaves the rotation.
    #[serde(default = "default_push_retries")]
    pub retries: u32,
    #[serde(default = "default_retry_delay_ms")]
    pub retry_delay_ms: u64,
    #[serde(default = "default_max_retry_delay_ms")]
    pub max_retry_delay_ms: u64,
    /// TCP connect, in seconds.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_seconds: u64,
    /// The SSH banner, the handshake and any single read or write: a host that
    /// says nothing for this long has failed (a hung host must not hang chama).
    #[serde(default = "default_stall_timeout")]
    pub timeout_seconds: u64,
    /// Ask the server to flush each file to its disk (`fsync@openssh.com`) before it gets its
    /// final name, so that a server crash cannot leave a short file under that name.
    #[serde(default = "default_true")]
    pub fsync: bool,
    /// Requests a push must not work around: a host that refuses one of these (`list`,
    /// `stat`, `rename`, `remove`) leaves the rotation instead of delivering by a fallback.
    #[serde(default)]
    pub require: Vec<crate::sink::request::Request>,
    /// A jump host every host is reached through (`sftp://user@jump:22`), as OpenSSH's
    /// ProxyJump: its key checked against `known_hosts`, logged in to with `identity_file`.
    #[serde(default)]
    pub via: Option<String>,
}

/// How the hosts of a destination share a set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeliveryMode {
    /// The first healthy host takes everything; the next takes over when it fails.
    #[default]
    Failover,
    /// All hosts take files from one queue.
    Spread,
}

fn default_known_hosts() -> PathBuf {
    "~/.ssh/known_hosts".into()
}
fn default_connections() -> usize {
    4
}
fn default_push_retries() -> u32 {
    5
}
fn default_connect_timeout() -> u64 {
    10
}
fn default_stall_timeout() -> u64 {
    30
}
fn default_true() -> bool {
    true
}

/// `~/x` as a path under $HOME.
pub fn expand_home(p: &Path) -> PathBuf {
    match (p.strip_prefix("~"), std::env::var_os("HOME")) {
        (Ok(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => p.to_path_buf(),
    }
}

/// The loaded configuration, paths made absolute or relative to the cwd.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it came from; `None` for the built-in default.
    pub file: Option<PathBuf>,
    pub work_dir: PathBuf,
    pub interfaces_dir: PathBuf,
    pub keep_days: u32,
    /// The Prometheus textfile to rewrite after every command, if any.
    pub metrics_file: Option<PathBuf>,
    pub pull: PullConfig,
    pub sources: BTreeMap<String, SourceConfig>,
    pub destinations: BTreeMap<String, DestinationConfig>,
}

impl Config {
    /// The built-in default, for a fresh clone with no chama.toml.
    pub fn builtin() -> Config {
        let mut sources = BTreeMap::new();
        sources.insert(
            "default".to_string(),
            SourceConfig::Local {
                root: "testdata/dumps".into(),
            },
        );
        let mut destinations = BTreeMap::new();
        destinations.insert("outbox".to_string(), DestinationConfig::Local { root: "outbox".into() });
        Config {
            file: None,
            work_dir: default_work_dir(),
            interfaces_dir: default_interfaces_dir(),
            keep_days: default_keep_days(),
            metrics_file: None,
            pull: PullConfig::default(),
            sources,
            destinations,
        }
    }

    /// Finds and loads the configuration as the contract orders it.
    pub fn discover(explicit: Option<&Path>) -> anyhow::Result<Config> {
        if let Some(p) = explicit {
            return Config::load(p);
        }
        if let Some(p) = std::env::var_os("CHAMA_CONFIG").filter(|p| !p.is_empty()) {
            return Config::load(Path::new(&p));
        }
        for found in [Path::new("chama.toml"), Path::new(SYSTEM)] {
            if found.exists() {
                return Config::load(found);
            }
        }
        Ok(Config::builtin())
    }

    /// Which configuration this is, and where it works: for commands that would
    /// otherwise look at an empty work directory without a word.
    pub fn origin(&self) -> String {
        let work = std::path::absolute(&self.work_dir).unwrap_or_else(|_| self.work_dir.clone());
        match &self.file {
            Some(f) => format!("configuration {}, work directory {}", f.display(), work.display()),
            None => format!(
                "no configuration found (--config, CHAMA_CONFIG, ./chama.toml, {SYSTEM}): the built-in default, work directory {}",
                work.display()
            ),
        }
    }

    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading config {}", path.display()))
            .map_err(|e| Failure::Config(format!("{e:#}")))?;
        let raw: RawConfig = toml::from_str(&text).map_err(|e| {
            let line = e.span().map_or(1, |s| text[..s.start].matches('\n').count() + 1);
            Failure::Config(format!("{}:{}: {}", path.display(), line, e.message().trim()))
        })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let rel = |p: PathBuf| if p.is_absolute() { p } else { base.join(p) };
        let mut sources = raw.sources;
        for s in sources.values_mut() {
            match s {
                SourceConfig::Local { root } => *root = rel(std::mem::take(root)),
                SourceConfig::Hdfs {
                    hadoop_conf_dir,
                    keytab,
                    ..
                }
                | SourceConfig::HdfsCli {
                    hadoop_conf_dir,
                    keytab,
                    ..
                } => {
                    let path = |p: PathBuf| rel(expand_home(&p));
                    *hadoop_conf_dir = hadoop_conf_dir.take().map(path);
                    *keytab = keytab.take().map(path);
                }
            }
        }
        let mut destinations = raw.destinations;
        for d in destinations.values_mut() {
            match d {
                DestinationConfig::Local { root } => *root = rel(std::mem::take(root)),
                DestinationConfig::Sftp(c) => {
                    let path = |p: PathBuf| rel(expand_home(&p));
                    c.identity_file = c.identity_file.take().map(path);
                    c.password_file = c.password_file.take().map(path);
                    c.known_hosts = path(std::mem::take(&mut c.known_hosts));
                }
            }
        }
        Ok(Config {
            file: Some(path.to_path_buf()),
            work_dir: rel(raw.work_dir),
            interfaces_dir: rel(raw.interfaces_dir),
            keep_days: raw.keep_days,
            metrics_file: raw.metrics_dir.map(|d| rel(d).join("chama.prom")),
            pull: raw.pull,
            sources,
            destinations,
        })
    }

    /// The names specs may refer to.
    pub fn names(&self) -> Names {
        Names {
            sources: self.sources.keys().cloned().collect(),
            destinations: self.destinations.keys().cloned().collect(),
        }
    }

    /// The work directory's layout.
    pub fn work(&self) -> crate::workdir::WorkDir<'_> {
        crate::workdir::WorkDir::new(&self.work_dir)
    }

    /// The spec file of interface `name`.
    pub fn spec_path(&self, name: &str) -> PathBuf {
        self.interfaces_dir.join(format!("{name}.toml"))
    }

    /// The names of every interface in `interfaces_dir`, sorted.
    pub fn spec_names(&self) -> anyhow::Result<Vec<String>> {
        Ok(self
            .spec_files()?
            .iter()
            .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .collect())
    }

    /// Every spec file in `interfaces_dir`, sorted by name.
    pub fn spec_files(&self) -> anyhow::Result<Vec<PathBuf>> {
        let dir = &self.interfaces_dir;
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .with_context(|| format!("reading interfaces directory {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        Ok(files)
    }
}
