//! Pulling an hour from a source into local staging.
//!
//! Files are copied by `jobs` parallel streams, each under a temporary name,
//! checked against the size the listing gave, stamped with the source's
//! modification time and renamed. A file whose size differs from its listing
//! is still being written: it is retried, never taken. Failed reads are
//! retried with capped, jittered backoff. A file already staged with the same
//! size and time is skipped, so pulling again costs only a listing.

use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, UNIX_EPOCH};

use anyhow::Context;

use super::{list_ready, Entry, Readiness, Source};
use crate::atomic::AtomicFile;
use crate::backoff::Backoff;
use crate::exit::{code_of, Again, Classed, Code};

/// The list of files a pull staged, in the hour's staging directory.
pub const PULLED: &str = ".chama-pulled.json";

#[derive(Debug, Clone)]
pub struct PullOptions {
    /// Parallel streams.
    pub jobs: usize,
    /// Tries per file after the first.
    pub retries: u32,
    /// How long to wait for an hour that is not ready yet.
    pub wait: Duration,
    /// How often to look again while waiting.
    pub poll: Duration,
    /// The wait between tries of a file.
    pub backoff: Backoff,
}

impl PullOptions {
    /// The `[pull]` settings of chama.toml, with `jobs` streams (default: the config's)
    /// and `wait` for an hour that is not ready.
    pub fn from_config(p: &crate::config::PullConfig, jobs: Option<usize>, wait: Duration) -> PullOptions {
        PullOptions {
            jobs: jobs.unwrap_or(p.jobs),
            retries: p.retries,
            wait,
            poll: Duration::from_secs(p.poll_seconds.max(1)),
            backoff: Backoff::from_millis(p.retry_delay_ms, p.max_retry_delay_ms),
        }
    }
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            jobs: 4,
            retries: 5,
            wait: Duration::ZERO,
            poll: Duration::from_secs(10),
            backoff: Backoff::from_millis(500, 30_000),
        }
    }
}

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Pulled {
    pub files: usize,
    pub copied: usize,
    pub skipped: usize,
    pub bytes: u64,
    pub retries: u64,
    pub seconds: f64,
}

/// Pulls the ready hour `dir` of `source` into `staging` (created if needed).
pub fn pull_hour(
    source: &dyn Source,
    dir: &str,
    ready: &Readiness<'_>,
    staging: &Path,
    opts: &PullOptions,
) -> anyhow::Result<Pulled> {
    let started = Instant::now();
    let entries = wait_ready(source, dir, ready, opts)?;
    std::fs::create_dir_all(staging).with_context(|| format!("creating {}", staging.display()))?;
    remove_unlisted(staging, &entries)?;

    let queue = Mutex::new(entries.clone());
    let copied = AtomicU64::new(0);
    let bytes = AtomicU64::new(0);
    let retries = AtomicU64::new(0);
    let errors = Mutex::new(Vec::<anyhow::Error>::new());
    std::thread::scope(|scope| {
        for _ in 0..opts.jobs.max(1) {
            scope.spawn(|| loop {
                let Some(entry) = queue.lock().expect("queue").pop() else {
                    return;
                };
                match pull_file(source, dir, &entry, staging, opts, &retries) {
                    Ok(Some(n)) => {
                        copied.fetch_add(1, Ordering::Relaxed);
                        bytes.fetch_add(n, Ordering::Relaxed);
                    }
                    Ok(None) => {}
                    Err(e) => errors.lock().expect("errors").push(e),
                }
            });
        }
    });
    let mut errors = errors.into_inner().expect("errors");
    if !errors.is_empty() {
        let n = errors.len();
        let first = errors.remove(0);
        return Err(if n == 1 {
            first
        } else {
            first.context(format!("{n} files failed; the first"))
        });
    }
    if let Some(m) = ready.marker {
        // The staged hour is ready only once every file is in.
        std::fs::File::create(staging.join(m)).with_context(|| format!("writing {}", staging.join(m).display()))?;
    }
    // What chama put here, for `clean` (which deletes only what chama made).
    let mut names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    names.extend(ready.marker);
    crate::atomic::write(&staging.join(PULLED), &serde_json::to_vec(&names)?)?;
    let copied = copied.into_inner() as usize;
    Ok(Pulled {
        files: entries.len(),
        copied,
        skipped: entries.len() - copied,
        bytes: bytes.into_inner(),
        retries: retries.into_inner(),
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Lists the hour, looking again every `poll` until it is ready or `wait` has passed.
fn wait_ready(source: &dyn Source, dir: &str, ready: &Readiness<'_>, opts: &PullOptions) -> anyhow::Result<Vec<Entry>> {
    let deadline = Instant::now() + opts.wait;
    loop {
        match list_ready(source, dir, ready) {
            Err(e) if code_of(&e) == Code::NotReady && Instant::now() + opts.poll <= deadline => {
                // A second at a time: a signal stops the wait.
                let until = Instant::now() + opts.poll;
                while Instant::now() < until {
                    crate::signals::check()?;
                    std::thread::sleep((until - Instant::now()).min(Duration::from_secs(1)));
                }
            }
            other => return other,
        }
    }
}

/// Removes staged files the source no longer lists (and leftovers of a pull
/// that died): only plain files under this hour's staging directory, and the
/// subdirectories that this leaves empty.
fn remove_unlisted(staging: &Path, entries: &[Entry]) -> anyhow::Result<()> {
    let listed: std::collections::HashSet<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    remove_unlisted_under(staging, "", &listed)
}

fn remove_unlisted_under(dir: &Path, prefix: &str, listed: &std::collections::HashSet<&str>) -> anyhow::Result<()> {
    for e in std::fs::read_dir(dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .flatten()
    {
        let name = format!("{prefix}{}", e.file_name().to_string_lossy());
        let Ok(kind) = e.file_type() else { continue };
        if kind.is_dir() {
            remove_unlisted_under(&e.path(), &format!("{name}/"), listed)?;
            // Only once empty: anything else in it stays.
            let _ = std::fs::remove_dir(e.path());
        } else if kind.is_file() && !listed.contains(name.as_str()) {
            // The marker goes too: it is written again only when this pull completes.
            std::fs::remove_file(e.path()).with_context(|| format!("removing stale {}", e.path().display()))?;
        }
    }
    Ok(())
}

/// Copies one file; `Ok(None)` when it was already staged unchanged.
fn pull_file(
    source: &dyn Source,
    dir: &str,
    entry: &Entry,
    staging: &Path,
    opts: &PullOptions,
    retries: &AtomicU64,
) -> anyhow::Result<Option<u64>> {
    let dest = staging.join(&entry.name);
    if let Ok(meta) = std::fs::metadata(&dest) {
        let staged_ms = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(-1, |d| d.as_millis() as i64);
        if meta.len() == entry.size && staged_ms == entry.mtime_ms {
            return Ok(None);
        }
    }
    let (parent, base) = match entry.name.rsplit_once('/') {
        Some((sub, base)) => (staging.join(sub), base),
        None => (staging.to_path_buf(), entry.name.as_str()),
    };
    std::fs::create_dir_all(&parent).with_context(|| format!("creating {}", parent.display()))?;
    let dest = parent.join(base);
    let mut entry = entry.clone();
    let what = source.describe(&format!("{dir}/{}", entry.name));
    let copied = opts.backoff.retry(
        opts.retries,
        crate::exit::may_pass,
        |_| {
            // Staging is this machine's disk: what fails there, another try does not cure.
            let staged = |e: anyhow::Error| Classed::new(e, Code::Failed, Again::Never);
            let mut out = AtomicFile::create(&dest).map_err(staged)?;
            let n = copy_once(source, dir, &entry, &mut out)?;
            if n == entry.size {
                let mtime = UNIX_EPOCH + Duration::from_millis(entry.mtime_ms.max(0) as u64);
                out.commit_with(|f| f.set_modified(mtime)).map_err(staged)?;
                return Ok(n);
            }
            drop(out);
            let listed = entry.size;
            // Still being written, or a short read: look again before the next try.
            if let Ok(Some(now)) = source.list(dir) {
                if let Some(e) = now.into_iter().find(|e| e.name == entry.name) {
                    entry = e;
                }
            }
            Err(Classed::changed(format!(
                "read {n} bytes but the listing said {listed}: the file changed size while being read (still being written?)"
            ))
            .into())
        },
        |_, _| {
            retries.fetch_add(1, Ordering::Relaxed);
        },
    );
    copied
        .map(Some)
        .map_err(|t| t.into_error(Some(format!("pulling {what}"))))
}

fn copy_once(source: &dyn Source, dir: &str, entry: &Entry, out: &mut AtomicFile) -> anyhow::Result<u64> {
    let mut reader = source.open(dir, &entry.name)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        crate::signals::check()?;
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(anyhow::Error::new(e).context(format!("reading {}", entry.name))),
        };
        out.write_all(&buf[..n])
            .with_context(|| format!("writing {}", out.part().display()))?;
        total += n as u64;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// A file still being written: each open sees it `grow` bytes longer, up to
    /// `final_len`; the listing lags one step behind, as a NameNode's does.
    struct Growing {
        opens: AtomicUsize,
        grow: usize,
        final_len: usize,
    }

    impl Growing {
        fn len_at(&self, step: usize) -> usize {
            (10 + step * self.grow).min(self.final_len)
        }
    }

    impl Source for Growing {
        fn describe(&self, dir: &str) -> String {
            format!("test:{dir}")
        }
        fn list(&self, _: &str) -> anyhow::Result<Option<Vec<Entry>>> {
            let step = self.opens.load(Ordering::SeqCst).saturating_sub(1);
            let size = self.len_at(step) as u64;
            Ok(Some(vec![
                Entry {
                    name: "part-0".into(),
                    size,
                    mtime_ms: 1_000 + size as i64,
                },
                Entry {
                    name: "_SUCCESS".into(),
                    size: 0,
                    mtime_ms: 0,
                },
            ]))
        }
        fn open(&self, _: &str, _: &str) -> anyhow::Result<Box<dyn Read + Send>> {
            let step = self.opens.fetch_add(1, Ordering::SeqCst);
            Ok(Box::new(io::Cursor::new(vec![b'x'; self.len_at(step + 1)])))
        }
    }

    fn fast() -> PullOptions {
        PullOptions {
            jobs: 1,
            retries: 3,
            backoff: Backoff::from_millis(1, 2),
            ..PullOptions::default()
        }
    }

    /// Pulls hour `h` of a file that grows `grow` bytes a read up to `final_len`, into `dir`.
    fn pull_growing(grow: usize, final_len: usize, dir: &Path) -> anyhow::Result<Pulled> {
        let src = Growing {
            opens: AtomicUsize::new(0),
            grow,
            final_len,
        };
        let ready = Readiness {
            marker: Some("_SUCCESS"),
            allow_empty: false,
        };
        pull_hour(&src, "h", &ready, dir, &fast())
    }

    #[test]
    fn a_file_that_grows_while_read_is_retried_and_taken_once_it_is_stable() {
        let dir = tempfile::tempdir().unwrap();
        let r = pull_growing(5, 15, dir.path()).unwrap();
        assert_eq!(
            (r.copied, r.retries),
            (1, 2),
            "taken only once listing and content agree"
        );
        assert_eq!(
            std::fs::read(dir.path().join("part-0")).unwrap().len(),
            15,
            "the whole file, not the listed prefix"
        );
    }

    #[test]
    fn a_file_that_keeps_growing_fails_naming_it_and_leaves_no_part() {
        let dir = tempfile::tempdir().unwrap();
        let err = format!("{:#}", pull_growing(5, usize::MAX, dir.path()).unwrap_err());
        assert!(err.contains("pulling test:h/part-0 (gave up after 4 tries)"), "{err}");
        assert!(err.contains("changed size while being read"), "{err}");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert!(left.is_empty(), "nothing staged, not even the marker");
    }

    /// A file whose every open fails as `fail` says, `failures` times, then reads.
    struct Failing {
        opens: AtomicUsize,
        failures: usize,
        kind: io::ErrorKind,
    }

    impl Source for Failing {
        fn describe(&self, dir: &str) -> String {
            format!("test:{dir}")
        }
        fn list(&self, _: &str) -> anyhow::Result<Option<Vec<Entry>>> {
            Ok(Some(vec![
                Entry {
                    name: "part-0".into(),
                    size: 3,
                    mtime_ms: 1_000,
                },
                Entry {
                    name: "_SUCCESS".into(),
                    size: 0,
                    mtime_ms: 0,
                },
            ]))
        }
        fn open(&self, _: &str, _: &str) -> anyhow::Result<Box<dyn Read + Send>> {
            if self.opens.fetch_add(1, Ordering::SeqCst) < self.failures {
                return Err(anyhow::Error::new(io::Error::new(self.kind, "told to fail")).context("opening part-0"));
            }
            Ok(Box::new(io::Cursor::new(b"abc".to_vec())))
        }
    }

    fn pull_failing(failures: usize, kind: io::ErrorKind, dir: &Path) -> (anyhow::Result<Pulled>, usize) {
        let src = Failing {
            opens: AtomicUsize::new(0),
            failures,
            kind,
        };
        let ready = Readiness {
            marker: Some("_SUCCESS"),
            allow_empty: false,
        };
        let r = pull_hour(&src, "h", &ready, dir, &fast());
        (r, src.opens.load(Ordering::SeqCst))
    }

    #[test]
    fn a_permission_error_is_not_retried_a_reset_is() {
        let dir = tempfile::tempdir().unwrap();
        let (r, opens) = pull_failing(usize::MAX, io::ErrorKind::PermissionDenied, dir.path());
        let err = format!("{:#}", r.unwrap_err());
        assert_eq!(opens, 1, "{err}");
        assert!(
            err.starts_with("pulling test:h/part-0: opening part-0: told to fail"),
            "{err}"
        );
        assert!(!err.contains("gave up"), "{err}");

        let (r, opens) = pull_failing(2, io::ErrorKind::ConnectionReset, dir.path());
        let r = r.unwrap();
        assert_eq!((opens, r.retries, r.copied), (3, 2, 1));
        assert_eq!(std::fs::read(dir.path().join("part-0")).unwrap(), b"abc");
    }
}
