//! Retention (`chama clean`). Deletes, for days older than `keep_days`, only
//! the files chama made: those its manifests list (hourly and daily sets),
//! those its pulls recorded (staging), and its rejects and lock files by
//! their exact names. Never a directory tree wholesale (a directory goes only
//! once empty), never anything else: a file of another tool, a log, a name
//! that merely looks like ours stays. Every deletion is written out, one per line.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::config::Config;
use crate::manifest::Manifest;
use crate::period::Day;
use crate::source::pull::PULLED;
use crate::workdir::{days_under, hours_under, is_running, manifest_path, owner_pid, Tree, WorkDir};

struct Cleaner<'a> {
    dry_run: bool,
    files: usize,
    bytes: u64,
    abandoned: usize,
    out: &'a mut dyn Write,
}

impl Cleaner<'_> {
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
        writeln!(self.out, "{what} {}", path.display())?;
        Ok(())
    }

    /// Removes what a killed build, merge or rerun left in `dir` (hidden
    /// `.<name>.building-<pid>` and `.<name>.old-<pid>` entries, a rerun's
    /// `<date>-<pid>`): only where that process is gone and `locked` (its
    /// interface and day) is not held. Any day, however recent.
    fn abandoned(&mut self, dir: &Path, locked: impl Fn(&str) -> bool) -> anyhow::Result<()> {
        let Ok(rd) = std::fs::read_dir(dir) else { return Ok(()) };
        let mut found: Vec<(String, PathBuf)> = rd
            .flatten()
            .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
            .collect();
        found.sort();
        for (name, path) in found {
            let Some(pid) = owner_pid(&name) else { continue };
            if is_running(pid) || locked(&name) {
                continue;
            }
            let meta = std::fs::symlink_metadata(&path)?;
            if !self.dry_run {
                let removed = if meta.is_dir() {
                    std::fs::remove_dir_all(&path)
                } else {
                    std::fs::remove_file(&path)
                };
                removed.with_context(|| format!("removing {}", path.display()))?;
            }
            self.abandoned += 1;
            let what = if self.dry_run { "would remove" } else { "removed" };
            writeln!(
                self.out,
                "{what} {} (left by process {pid}, which is gone)",
                path.display()
            )?;
        }
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
        self.remove(&manifest_path(dir))?;
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

/// What a clean removed (or would remove).
#[derive(Debug)]
pub struct Cleaned {
    pub files: usize,
    pub bytes: u64,
    /// Hidden directories and files of killed runs removed (or that would be).
    pub abandoned: usize,
    /// Days before this one were cleaned.
    pub cutoff: Day,
}

/// Removes the files chama made for days more than `keep` days old; each
/// removal (or, with `dry_run`, each file it would remove) is a line on `out`.
pub fn clean(config: &Config, keep: u32, dry_run: bool, out: &mut dyn Write) -> anyhow::Result<Cleaned> {
    let cutoff = Day(chrono::Local::now().date_naive() - chrono::Days::new(u64::from(keep)));
    let mut c = Cleaner {
        dry_run,
        files: 0,
        bytes: 0,
        abandoned: 0,
        out,
    };
    let work = config.work();
    let old = |day: &Day| *day < cutoff;
    for (_, iface) in work.ifaces(Tree::Hourly) {
        for (_, dir) in days_under(&iface).into_iter().filter(|(d, _)| old(d)) {
            for (_, hour) in hours_under(&dir) {
                c.sets_dir(&hour)?;
            }
            c.prune(&dir);
        }
        c.prune(&iface);
    }
    for (_, iface) in work.ifaces(Tree::Merged) {
        for (_, dir) in days_under(&iface).into_iter().filter(|(d, _)| old(d)) {
            c.sets_dir(&dir)?;
        }
        c.prune(&iface);
    }
    for (_, iface) in work.tree_ifaces("staging") {
        for (_, dir) in days_under(&iface).into_iter().filter(|(d, _)| old(d)) {
            for (_, hour) in hours_under(&dir) {
                c.staged_hour(&hour)?;
            }
            c.prune(&dir);
        }
        c.prune(&iface);
    }
    for (name, iface) in work.tree_ifaces("rejects") {
        for (day, dir) in days_under(&iface).into_iter().filter(|(d, _)| old(d)) {
            for h in 0..24 {
                c.remove(&work.rejects_file(&name, day, h))?;
                c.remove(&work.failed_rejects_file(&name, day, h))?;
            }
            c.prune(&dir);
        }
        c.prune(&iface);
    }
    // What killed builds, merges and reruns left, on any day.
    let held =
        |iface: &str, day: Day| std::fs::File::open(work.lock_file(iface, day)).is_ok_and(|f| f.try_lock().is_err());
    // A day in a hidden entry's name (`.<YYYYMMDD>.building-<pid>`, `<YYYYMMDD>-<pid>`).
    let day_at = |entry: &str, at: std::ops::Range<usize>| entry.get(at).and_then(|d| d.parse::<Day>().ok());
    for (name, iface) in work.ifaces(Tree::Hourly) {
        for (day, dir) in days_under(&iface) {
            c.abandoned(&dir, |_| held(&name, day))?;
        }
    }
    for (name, iface) in work.ifaces(Tree::Merged) {
        c.abandoned(&iface, |entry| day_at(entry, 1..9).is_some_and(|day| held(&name, day)))?;
    }
    for (name, iface) in work.tree_ifaces("rejects") {
        for (day, dir) in days_under(&iface) {
            c.abandoned(&dir, |_| held(&name, day))?;
        }
    }
    for (name, iface) in work.tree_ifaces("rerun") {
        c.abandoned(&iface, |entry| day_at(entry, 0..8).is_some_and(|day| held(&name, day)))?;
        c.prune(&iface);
    }
    c.prune(&work.root().join("rerun"));
    // Lock files of old days, unless someone holds one.
    if let Ok(rd) = std::fs::read_dir(work.locks_dir()) {
        let mut locks: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        locks.sort();
        for p in locks {
            let name = p.file_name().unwrap_or_default().to_string_lossy().into_owned();
            if !WorkDir::lock_day(&name).is_some_and(|d| old(&d)) {
                continue;
            }
            let free = std::fs::File::open(&p).is_ok_and(|f| f.try_lock().is_ok());
            if free {
                c.remove(&p)?;
            }
        }
    }
    Ok(Cleaned {
        files: c.files,
        bytes: c.bytes,
        abandoned: c.abandoned,
        cutoff,
    })
}
