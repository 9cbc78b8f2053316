//! Where sets go: destinations of hosts (a local directory, or SFTP servers
//! that share one storage), and the delivery engine that spreads a set's
//! files over them.
//!
//! A [`Host`] makes connections; a [`Conn`] does the few file operations
//! delivery needs. Everything about order, retries, failover, resume and the
//! `.verf`-last rule lives once, in [`deliver`], for every kind.

pub mod deliver;
pub mod local;
pub mod request;
pub mod sftp;

use crate::backoff::Backoff;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::{Config, DeliveryMode, DestinationConfig};
use crate::exit::Failure;

/// One open connection to a host, rooted at the destination's directory.
pub trait Conn: Send {
    /// The plain files of the destination's directory and their sizes.
    fn list(&mut self) -> anyhow::Result<BTreeMap<String, u64>>;
    /// The size of `name`, or `None` when there is no such file.
    fn size(&mut self, name: &str) -> anyhow::Result<Option<u64>>;
    /// The sizes of `names` (`None`: no such file), asked all at once where the
    /// connection can pipeline: what a host that refuses listing is asked instead.
    fn sizes(&mut self, names: &[&str]) -> anyhow::Result<Vec<Option<u64>>> {
        names.iter().map(|n| self.size(n)).collect()
    }
    /// Writes `local` from byte `offset` to its end into `name`, which is
    /// created, or truncated when `offset` is 0; flushed and closed. Returns
    /// the size of `name` once written, as the host sees it, or `None` when
    /// the host refuses to say (then only the bytes it acknowledged count).
    fn upload(&mut self, local: &Path, name: &str, offset: u64, pace: &Pace<'_>) -> anyhow::Result<Option<u64>>;
    /// How many files [`Conn::upload_many`] is worth giving at once (1: one at a time).
    fn batch(&self) -> usize {
        1
    }
    /// [`Conn::upload`] of each file, all under way together where the connection can
    /// pipeline: per file, how it went; the outer error: the connection broke.
    fn upload_many(&mut self, files: &[Upload<'_>]) -> anyhow::Result<Vec<anyhow::Result<Option<u64>>>> {
        Ok(files
            .iter()
            .map(|f| self.upload(f.local, f.name, f.offset, f.pace))
            .collect())
    }
    /// Renames `from` to `to`, replacing `to` if it exists.
    fn rename(&mut self, from: &str, to: &str) -> anyhow::Result<()>;
    /// [`Conn::rename`] of each pair, all under way together where the connection can
    /// pipeline: per pair, how it went; the outer error: the connection broke.
    fn rename_many(&mut self, pairs: &[(String, String)]) -> anyhow::Result<Vec<anyhow::Result<()>>> {
        Ok(pairs.iter().map(|(from, to)| self.rename(from, to)).collect())
    }
    /// Starts [`Conn::rename`] without waiting for it to be confirmed: a
    /// connection that can send the next file's requests meanwhile does so,
    /// and [`Conn::placed`] tells how the rename went. Until then `to` may or
    /// may not be in place. At most one rename is under way at a time.
    fn place(&mut self, from: &str, to: &str) -> anyhow::Result<()> {
        self.rename(from, to)
    }
    /// Waits for the rename [`Conn::place`] started, if any, and returns its result.
    fn placed(&mut self) -> anyhow::Result<()> {
        Ok(())
    }
    fn remove(&mut self, name: &str) -> anyhow::Result<()>;
    /// Streams the bytes of `name` into `sink`.
    fn read(&mut self, name: &str, sink: &mut dyn FnMut(&[u8]) -> anyhow::Result<()>) -> anyhow::Result<()>;
    /// What the connection knows of its server, for `verify --probe`: protocol version,
    /// extensions, free space.
    fn facts(&mut self) -> Facts {
        Vec::new()
    }
    /// Something another thread can call to break this connection at once
    /// (a blocked write then fails), for a copy that lost its race.
    fn aborter(&self) -> Option<Aborter> {
        None
    }
}

/// One file of [`Conn::upload_many`]: `local` from byte `offset` into `name`.
pub struct Upload<'a> {
    pub local: &'a Path,
    pub name: &'a str,
    pub offset: u64,
    pub pace: &'a Pace<'a>,
}

/// Breaks a connection from another thread.
pub type Aborter = Box<dyn Fn() + Send + Sync>;

/// A place connections are made to.
pub trait Host: Send + Sync {
    /// How messages name it: a URL without secrets.
    fn label(&self) -> &str;
    fn connect(&self) -> anyhow::Result<Box<dyn Conn>>;
    /// How many small files a connection to it takes at once, before one is made
    /// ([`Conn::batch`] says once it is).
    fn batch(&self) -> usize {
        1
    }
    /// [`Host::connect`], noting in `facts` what it learns on the way (address, server
    /// software, host key, algorithms, login), so that a probe shows how far it got.
    fn connect_noting(&self, facts: &mut Facts) -> anyhow::Result<Box<dyn Conn>> {
        let _ = facts;
        self.connect()
    }
}

/// What a probe found, by name, in order.
pub type Facts = Vec<(&'static str, String)>;

pub use request::Request;

/// The server refused a kind of request (SFTP `PERMISSION_DENIED` or
/// `OP_UNSUPPORTED` to it), as opposed to failing it.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Refused {
    pub request: Request,
    pub message: String,
}

/// The request the server refused, if that is what `e` is.
pub fn refused(e: &anyhow::Error) -> Option<Request> {
    e.chain().find_map(|c| c.downcast_ref::<Refused>()).map(|r| r.request)
}

/// The files of a connection's directory and their sizes, from a listing; where the
/// host refuses listing, the sizes of `names` asked one by one (`None` also
/// when it refuses that: then nothing can be said of the remote side).
pub fn sizes_of(conn: &mut dyn Conn, names: &[&str]) -> anyhow::Result<Option<BTreeMap<String, u64>>> {
    let e = match conn.list() {
        Ok(all) => return Ok(Some(all)),
        Err(e) if refused(&e) == Some(Request::List) => e,
        Err(e) => return Err(e),
    };
    match conn.sizes(names) {
        Ok(sizes) => Ok(Some(
            names
                .iter()
                .zip(sizes)
                .filter_map(|(n, s)| Some((n.to_string(), s?)))
                .collect(),
        )),
        Err(e2) if refused(&e2) == Some(Request::Stat) => Ok(None),
        Err(e2) => Err(e2.context(format!("{e:#}"))),
    }
}

/// The host's disk is full: no retry there can help, and the next host (of the
/// same storage, or not) is tried at once.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NoSpace(pub String);

/// An error no retry on the same host can cure (a host key that does not
/// match, authentication refused): the host leaves the rotation at once.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HostRefused(pub String);

/// A destination of the configuration, ready to connect.
pub struct Destination {
    pub name: String,
    pub hosts: Vec<Box<dyn Host>>,
    pub mode: DeliveryMode,
    pub connections: usize,
    pub retries: u32,
    /// The wait between tries of a file.
    pub backoff: Backoff,
    /// Requests the destination will not do without (`require`): a host that refuses
    /// one leaves the rotation instead of delivering by a fallback.
    pub require: BTreeSet<Request>,
}

impl Destination {
    /// Destination `name` of the configuration, its files going to `remote_dir`
    /// (the spec's) under the destination's `root`.
    pub fn from_config(config: &Config, name: &str, remote_dir: &str) -> anyhow::Result<Destination> {
        let Some(d) = config.destinations.get(name) else {
            let known: Vec<String> = config.destinations.keys().cloned().collect();
            let hint = crate::suggest::hint(name, &known);
            return Err(Failure::Config(format!(
                "destination `{name}` is not defined in the configuration{hint}; known: {}",
                known.join(", ")
            ))
            .into());
        };
        match d {
            DestinationConfig::Local { root } => Ok(Destination {
                name: name.to_string(),
                hosts: vec![Box::new(local::LocalHost::new(
                    &root.join(remote_dir.trim_start_matches('/')),
                ))],
                mode: DeliveryMode::Failover,
                connections: 2,
                retries: 2,
                backoff: Backoff::from_millis(200, 2000),
                require: BTreeSet::new(),
            }),
            DestinationConfig::Sftp(c) => {
                let hosts = sftp::hosts(name, c, remote_dir)
                    .map_err(|e| Failure::Config(format!("destination `{name}`: {e}")))?;
                Ok(Destination {
                    name: name.to_string(),
                    hosts,
                    mode: c.mode,
                    connections: c.connections.max(1),
                    retries: c.retries,
                    backoff: Backoff::from_millis(c.retry_delay_ms, c.max_retry_delay_ms),
                    require: c.require.iter().copied().collect(),
                })
            }
        }
    }

    /// The first host that accepts a connection, in order.
    pub fn connect_any(&self) -> anyhow::Result<(usize, Box<dyn Conn>)> {
        let mut why = Vec::new();
        for (i, h) in self.hosts.iter().enumerate() {
            match h.connect() {
                Ok(c) => return Ok((i, c)),
                Err(e) => why.push(format!("{}: {e:#}", h.label())),
            }
        }
        anyhow::bail!("no host of destination `{}` answered: {}", self.name, why.join("; "))
    }
}

/// Shared pacing of uploads: the bandwidth limit, per-host byte counters
/// (for progress), and the cancellation of a speculative copy that lost.
pub struct Pace<'a> {
    pub limit: Option<&'a RateLimit>,
    pub counter: &'a AtomicU64,
    pub cancel: Option<&'a AtomicBool>,
    pub progress: Option<&'a indicatif::ProgressBar>,
}

/// The copy was cancelled: another host delivered the file first.
#[derive(Debug, thiserror::Error)]
#[error("cancelled: another host delivered it first")]
pub struct Cancelled;

impl Pace<'_> {
    /// Accounts for `n` bytes sent: waits as the limit requires, and fails
    /// with [`Cancelled`] once the copy is no longer wanted.
    pub fn sent(&self, n: usize) -> anyhow::Result<()> {
        self.counter.fetch_add(n as u64, Ordering::Relaxed);
        if let Some(p) = self.progress {
            p.inc(n as u64);
        }
        if let Some(l) = self.limit {
            l.take(n as u64);
        }
        if self.cancel.is_some_and(|c| c.load(Ordering::Relaxed)) || crate::signals::received().is_some() {
            return Err(Cancelled.into());
        }
        Ok(())
    }
}

/// `--bwlimit`: all uploads of a run together stay under `bytes_per_sec`.
pub struct RateLimit {
    bytes_per_sec: u64,
    state: Mutex<(Instant, u64)>,
}

impl RateLimit {
    pub fn new(bytes_per_sec: u64) -> RateLimit {
        RateLimit {
            bytes_per_sec: bytes_per_sec.max(1),
            state: Mutex::new((Instant::now(), 0)),
        }
    }

    fn take(&self, n: u64) {
        let wait = {
            let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
            s.1 += n;
            let due = Duration::from_secs_f64(s.1 as f64 / self.bytes_per_sec as f64);
            due.saturating_sub(s.0.elapsed())
        };
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
    }
}

/// Parses `20M`, `500K`, `1G` or a plain number of bytes per second.
pub fn parse_rate(s: &str) -> Result<u64, String> {
    let bad = || format!("rate `{s}` must be bytes per second, e.g. 20M, 500K or 1048576");
    let t = s.trim();
    let t = t.strip_suffix(['B', 'b']).unwrap_or(t);
    let (num, mult) = match t.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&t[..t.len() - 1], 1u64 << 10),
        Some('M') => (&t[..t.len() - 1], 1 << 20),
        Some('G') => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    let n: f64 = num.trim().parse().map_err(|_| bad())?;
    if n.is_nan() || n <= 0.0 {
        return Err(bad());
    }
    Ok((n * mult as f64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        assert_eq!(parse_rate("20M"), Ok(20 << 20));
        assert_eq!(parse_rate("500K"), Ok(500 << 10));
        assert_eq!(parse_rate("1000"), Ok(1000));
        assert!(parse_rate("fast").is_err() && parse_rate("0").is_err());
    }

    #[test]
    fn the_limit_holds_the_rate() {
        let l = RateLimit::new(10 << 20);
        let t = Instant::now();
        for _ in 0..10 {
            l.take(1 << 20);
        }
        let took = t.elapsed();
        assert!(
            took >= Duration::from_millis(900) && took < Duration::from_millis(1500),
            "{took:?}"
        );
    }
}
