//! `chama clean`: retention. Deletes, for days older than `keep_days`, only
//! the files chama made: those its manifests list (hourly and daily sets),
//! those its pulls recorded (staging), and its rejects and lock files by
//! their exact names. Never a directory tree wholesale (a directory goes only
//! once empty), never anything else: a file of another tool, a log, a name
//! that merely looks like ours stays. Every deletion is logged, one per line.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::cli::CleanArgs;
use crate::config::Config;
use crate::exit::Code;
use crate::manifest::Manifest;
use crate::source::pull::PULLED;

struct Cleaner {
    dry_run: bool,
    files: usize,
    bytes: u64,
    out: std::io::Stdout,
}

impl Cleaner {
    fn remove(&mut self, path: &Path) -> anyhow::Result<()> {
        let Ok(meta) = std::fs::symlink_metadata(path) else {
            return Ok(());
        };
        if !meta.is_file() {
            return Ok(());
        }
        if !self.dry_run {
            std::fs::remove_file(path).with_context(|| format!("removing {}", path.display()))?;
        }
        self.files += 1;
        self.bytes += meta.len();
        let what = if self.dry_run { "would remove" } else { "removed" };
        writeln!(self.out.lock(), "{what} {}", path.display())?;
        Ok(())
    }

    /// Removes `dir` if it is empty (never its contents).
    fn prune(&self, dir: &Path) {
        if !self.dry_run {
            let _ = std::fs::remove_dir(dir);
        }
    }

    /// A set directory (an hour, or a merged day): what its manifest lists, then the manifest.
    fn sets_dir(&mut self, dir: &Path) -> anyhow::Result<()> {
        let Ok(m) = Manifest::read(dir) else { return Ok(()) };
        for s in &m.sets {
            for f in &s.files {
                self.remove(&dir.join(&f.name))?;
            }
            self.remove(&dir.join(&s.verf))?;
        }
        self.remove(&dir.join("manifest.json"))?;
        self.prune(dir);
        Ok(())
    }

    /// A staged hour: what the pull recorded, then the record.
    fn staged_hour(&mut self, dir: &Path) -> anyhow::Result<()> {
        let Ok(text) = std::fs::read(dir.join(PULLED)) else {
            return Ok(());
        };
        let names: Vec<String> = serde_json::from_slice(&text).unwrap_or_default();
        // Names are paths under the hour (a pull keeps Hive's subdirectories); never anything above it.
        let safe = |n: &&String| n.split('/').all(|c| !c.is_empty() && c != ".." && c != ".");
        let mut subdirs = std::collections::BTreeSet::new();
        for n in names.iter().filter(safe) {
            self.remove(&dir.join(n))?;
            let mut at = n.as_str();
            while let Some((parent, _)) = at.rsplit_once('/') {
                subdirs.insert(parent.to_string());
                at = parent;
            }
        }
        // Deepest first, each only once empty.
        for sub in subdirs.iter().rev() {
            self.prune(&dir.join(sub));
        }
        self.remove(&dir.join(PULLED))?;
        self.prune(dir);
        Ok(())
    }
}

/// `(name, path)` of the sub-directories of `dir`.
fn subdirs(dir: &Path) -> Vec<(String, PathBuf)> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<(String, PathBuf)> = rd
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect();
    v.sort();
    v
}

fn is_day(s: &str) -> bool {
    s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_hour(s: &str) -> bool {
    s.len() == 2 && s.parse::<u8>().is_ok_and(|h| h < 24)
}

pub fn clean(config: &Config, args: &CleanArgs) -> anyhow::Result<Code> {
    let keep = args.keep_days.unwrap_or(config.keep_days);
    let cutoff = (chrono::Local::now().date_naive() - chrono::Days::new(u64::from(keep)))
        .format("%Y%m%d")
        .to_string();
    let mut c = Cleaner {
        dry_run: args.dry_run,
        files: 0,
        bytes: 0,
        out: std::io::stdout(),
    };
    let work = &config.work_dir;
    let old = |day: &str| is_day(day) && day < cutoff.as_str();
    for (_, iface) in subdirs(&work.join("hourly")) {
        for (_, dir) in subdirs(&iface).into_iter().filter(|(d, _)| old(d)) {
            for (_, hour) in subdirs(&dir).into_iter().filter(|(h, _)| is_hour(h)) {
                c.sets_dir(&hour)?;
            }
            c.prune(&dir);
        }
        c.prune(&iface);
    }
    for (_, iface) in subdirs(&work.join("out")) {
        for (_, dir) in subdirs(&iface).into_iter().filter(|(d, _)| old(d)) {
            c.sets_dir(&dir)?;
        }
        c.prune(&iface);
    }
    for (_, iface) in subdirs(&work.join("staging")) {
        for (_, dir) in subdirs(&iface).into_iter().filter(|(d, _)| old(d)) {
            for (_, hour) in subdirs(&dir).into_iter().filter(|(h, _)| is_hour(h)) {
                c.staged_hour(&hour)?;
            }
            c.prune(&dir);
        }
        c.prune(&iface);
    }
    for (_, iface) in subdirs(&work.join("rejects")) {
        for (_, dir) in subdirs(&iface).into_iter().filter(|(d, _)| old(d)) {
            for h in 0..24 {
                c.remove(&dir.join(format!("{h:02}.rej.gz")))?;
            }
            c.prune(&dir);
        }
        c.prune(&iface);
    }
    // Lock files of old days, unless someone holds one.
    if let Ok(rd) = std::fs::read_dir(work.join("locks")) {
        let mut locks: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        locks.sort();
        for p in locks {
            let name = p.file_name().unwrap_or_default().to_string_lossy().into_owned();
            let Some(stem) = name.strip_suffix(".lock") else {
                continue;
            };
            let Some((_, day)) = stem.rsplit_once('.') else {
                continue;
            };
            if !old(day) {
                continue;
            }
            let free = std::fs::File::open(&p).is_ok_and(|f| f.try_lock().is_ok());
            if free {
                c.remove(&p)?;
            }
        }
    }
    crate::say!(
        "chama: clean: {} {} file(s), {} bytes, of days before {cutoff} (keep_days = {keep})",
        if args.dry_run { "would remove" } else { "removed" },
        c.files,
        c.bytes
    );
    Ok(Code::Ok)
}
