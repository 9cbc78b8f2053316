//! The work directory: every path chama keeps under `work_dir`, and the walks
//! over it. Nothing else spells a name of the layout:
//!
//! ```text
//! staging/<iface>/<YYYYMMDD>/<HH>/     raw input pulled for one hour (and `.pulled.json`)
//! hourly/<iface>/<YYYYMMDD>/<HH>/      one hour's sets: data files, `.verf`s, manifest.json
//! out/<iface>/<YYYYMMDD>/              the merged day's sets, as delivered
//! rejects/<iface>/<YYYYMMDD>/<HH>.rej.gz     (<HH>.failed.rej.gz: of a build that failed)
//! locks/<iface>.<YYYYMMDD>.lock
//! rerun/<iface>/<YYYYMMDD>-<pid>/      a rerun's fresh work directory, gone when it ends
//! ledger.sqlite
//! ```
//!
//! A set directory (an hour, a day) is complete when its `manifest.json` is
//! there: it is written last, and the directory is built hidden beside its
//! final place (`.<name>.building-<pid>`) and swapped in whole.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::manifest::Manifest;
use crate::period::{Day, Period};

pub use crate::manifest::{is_complete, manifest_path, MANIFEST};
pub use crate::period::hh;

/// `YYYYMMDD` followed by the hour: the period of one hour.
pub fn hour_period(date: Day, hour: u8) -> String {
    format!("{date}{}", hh(hour))
}

/// Is `s` an hour directory's name (`00`-`23`)?
pub fn is_hour(s: &str) -> bool {
    s.len() == 2 && s.parse::<u8>().is_ok_and(|h| h < 24)
}

/// Is `s` a day directory's name (`YYYYMMDD`)?
pub fn is_day(s: &str) -> bool {
    s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit())
}

/// The two trees of sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tree {
    /// `hourly/`: built hours.
    Hourly,
    /// `out/`: merged days.
    Merged,
}

impl Tree {
    fn dir(self) -> &'static str {
        match self {
            Tree::Hourly => "hourly",
            Tree::Merged => "out",
        }
    }
}

/// A work directory.
#[derive(Debug, Clone)]
pub struct WorkDir<'a> {
    root: &'a Path,
}

impl<'a> WorkDir<'a> {
    pub fn new(root: &'a Path) -> Self {
        WorkDir { root }
    }

    pub fn root(&self) -> &Path {
        self.root
    }

    /// `staging/<iface>/<YYYYMMDD>/<HH>/`: the pulled raw input of one hour.
    pub fn staging_dir(&self, iface: &str, date: Day, hour: u8) -> PathBuf {
        self.root
            .join("staging")
            .join(iface)
            .join(date.to_string())
            .join(hh(hour))
    }

    /// `hourly/<iface>/<YYYYMMDD>/`: the day's hourly sets, one directory per hour.
    pub fn hourly_day_dir(&self, iface: &str, date: Day) -> PathBuf {
        self.root.join("hourly").join(iface).join(date.to_string())
    }

    /// `hourly/<iface>/<YYYYMMDD>/<HH>/`: one hour's sets.
    pub fn hour_dir(&self, iface: &str, date: Day, hour: u8) -> PathBuf {
        self.hourly_day_dir(iface, date).join(hh(hour))
    }

    /// `out/<iface>/<YYYYMMDD>/`: the merged daily set(s), as delivered.
    pub fn out_dir(&self, iface: &str, date: Day) -> PathBuf {
        self.root.join("out").join(iface).join(date.to_string())
    }

    /// Where a period's sets are: an hour's directory under `hourly/`, or the day's under `out/`.
    pub fn set_dir(&self, iface: &str, period: &Period) -> PathBuf {
        let date = period.day();
        match period.hour {
            Some(h) => self.hour_dir(iface, date, h),
            None => self.out_dir(iface, date),
        }
    }

    /// `rejects/<iface>/<YYYYMMDD>/<HH>.rej.gz`: the rejected lines of one hour.
    pub fn rejects_file(&self, iface: &str, date: Day, hour: u8) -> PathBuf {
        self.root
            .join("rejects")
            .join(iface)
            .join(date.to_string())
            .join(format!("{}.rej.gz", hh(hour)))
    }

    /// `rejects/<iface>/<YYYYMMDD>/<HH>.failed.rej.gz`: the rejected lines of
    /// the last build of an hour that failed (the hour's set, and its rejects, stay as they were).
    pub fn failed_rejects_file(&self, iface: &str, date: Day, hour: u8) -> PathBuf {
        self.root
            .join("rejects")
            .join(iface)
            .join(date.to_string())
            .join(format!("{}.failed.rej.gz", hh(hour)))
    }

    /// `locks/`.
    pub fn locks_dir(&self) -> PathBuf {
        self.root.join("locks")
    }

    /// `locks/<iface>.<YYYYMMDD>.lock`.
    pub fn lock_file(&self, iface: &str, date: Day) -> PathBuf {
        self.locks_dir().join(format!("{iface}.{date}.lock"))
    }

    /// The day (`YYYYMMDD`) a lock file's name is for.
    pub fn lock_day(name: &str) -> Option<Day> {
        let (_, day) = name.strip_suffix(".lock")?.rsplit_once('.')?;
        day.parse().ok()
    }

    /// `rerun/<iface>/<YYYYMMDD>-<pid>/`: a rerun's fresh work directory.
    pub fn rerun_dir(&self, iface: &str, date: Day) -> PathBuf {
        self.root
            .join("rerun")
            .join(iface)
            .join(format!("{date}-{}", std::process::id()))
    }

    /// `ledger.sqlite`: run, set and push history.
    pub fn ledger_path(&self) -> PathBuf {
        self.root.join("ledger.sqlite")
    }

    /// `<tree>/<iface>/` for every interface with sets in `tree`, sorted.
    pub fn ifaces(&self, tree: Tree) -> Vec<(String, PathBuf)> {
        subdirs(&self.root.join(tree.dir()))
    }

    /// The interfaces of `staging/`, `rejects/` (trees of `iface/day/...`) by name, sorted.
    pub fn tree_ifaces(&self, tree: &str) -> Vec<(String, PathBuf)> {
        subdirs(&self.root.join(tree))
    }

    /// The days (`YYYYMMDD`) under `<tree>/<iface>/`, sorted.
    pub fn days(&self, tree: Tree, iface: &str) -> Vec<Day> {
        days_under(&self.root.join(tree.dir()).join(iface))
            .into_iter()
            .map(|(d, _)| d)
            .collect()
    }

    /// The complete hours of a day: `(hour, directory, manifest)`, in order.
    pub fn built_hours(&self, iface: &str, date: Day) -> Vec<(u8, PathBuf, Manifest)> {
        (0..24u8)
            .filter_map(|h| {
                let dir = self.hour_dir(iface, date, h);
                Manifest::read(&dir).ok().map(|m| (h, dir, m))
            })
            .collect()
    }
}

/// `(name, path)` of the sub-directories of `dir`, sorted.
pub fn subdirs(dir: &Path) -> Vec<(String, PathBuf)> {
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

/// The day directories (`YYYYMMDD`) of `dir`, sorted.
pub fn days_under(dir: &Path) -> Vec<(Day, PathBuf)> {
    subdirs(dir)
        .into_iter()
        .filter_map(|(d, p)| d.parse().ok().map(|d| (d, p)))
        .collect()
}

/// The hour directories (`HH`) of `dir`, sorted.
pub fn hours_under(dir: &Path) -> Vec<(String, PathBuf)> {
    subdirs(dir).into_iter().filter(|(h, _)| is_hour(h)).collect()
}

/// The hidden directory beside `final_dir` that a build or merge of it writes into.
pub fn building_dir(final_dir: &Path) -> PathBuf {
    hidden_beside(final_dir, "building")
}

fn hidden_beside(final_dir: &Path, what: &str) -> PathBuf {
    final_dir.with_file_name(format!(
        ".{}.{what}-{}",
        final_dir.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ))
}

/// The process that owns a hidden work entry (`.<name>.building-<pid>`,
/// `.<name>.old-<pid>`, a rerun's `<date>-<pid>`), by its name.
pub fn owner_pid(name: &str) -> Option<u32> {
    // The temporary file of a hidden entry (`..<name>.building-<pid>.part`) is its owner's too.
    let name = crate::atomic::part_of(name).unwrap_or(name);
    let (head, pid) = name.rsplit_once('-')?;
    let ours = (name.starts_with('.') && (head.ends_with(".building") || head.ends_with(".old")))
        || (is_day(head) && !name.starts_with('.'));
    ours.then(|| pid.parse().ok()).flatten()
}

/// Is process `pid` running (on this machine)?
pub fn is_running(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

/// One entry of a [`swap_all`]: `dest` becomes `new`, or goes when `new` is `None`.
#[derive(Debug, Clone, Copy)]
pub struct Swap<'a> {
    pub new: Option<&'a Path>,
    pub dest: &'a Path,
}

/// Puts every `new` in place of its `dest`, all or none: each existing `dest` aside
/// (`.<name>.old-<pid>`), each `new` in, then the old ones gone. A rename that fails
/// puts back what the ones before it moved, so an error leaves every `dest` and `new`
/// as they were. Past the last rename the swap is done: an old entry that cannot be
/// removed is said and left to the next run's sweep ([`remove_stale`], `clean`).
pub fn swap_all(swaps: &[Swap<'_>]) -> anyhow::Result<()> {
    fn undo_aside(aside: &[(&Path, PathBuf)]) {
        for (dest, old) in aside.iter().rev() {
            let _ = std::fs::rename(old, dest);
        }
    }
    // A dangling symlink is there too.
    let there = |p: &Path| std::fs::symlink_metadata(p).is_ok();
    let mut aside: Vec<(&Path, PathBuf)> = Vec::new();
    for s in swaps.iter().filter(|s| there(s.dest)) {
        let old = hidden_beside(s.dest, "old");
        if let Err(e) = std::fs::rename(s.dest, &old) {
            undo_aside(&aside);
            return Err(e).with_context(|| format!("moving aside {}", s.dest.display()));
        }
        aside.push((s.dest, old));
    }
    let mut placed: Vec<(&Path, &Path)> = Vec::new();
    for s in swaps {
        let Some(new) = s.new else { continue };
        if let Err(e) = std::fs::rename(new, s.dest) {
            for (new, dest) in placed.iter().rev() {
                let _ = std::fs::rename(dest, new);
            }
            undo_aside(&aside);
            return Err(e).with_context(|| format!("moving {} into place", new.display()));
        }
        placed.push((new, s.dest));
    }
    for (_, old) in &aside {
        let gone = match std::fs::symlink_metadata(old) {
            Ok(m) if m.is_dir() => std::fs::remove_dir_all(old),
            _ => std::fs::remove_file(old),
        };
        if let Err(e) = gone {
            crate::say_warn!("removing replaced {}: {e} (the next run removes it)", old.display());
        }
    }
    Ok(())
}

/// Puts a complete directory (an hour, a day) in place of the old one ([`swap_all`]).
pub fn swap_in(building: &Path, final_dir: &Path) -> anyhow::Result<()> {
    swap_all(&[Swap {
        new: Some(building),
        dest: final_dir,
    }])
}

/// Removes what a build or merge of `final_dir` (a directory, or a file
/// such as an hour's rejects) that died left beside it: its hidden
/// `.<name>.building-<pid>` and `.<name>.old-<pid>` entries, the temporary
/// file of such an entry, and nothing else.
pub fn remove_stale(final_dir: &Path) -> anyhow::Result<()> {
    let (Some(dir), Some(name)) = (final_dir.parent(), final_dir.file_name()) else {
        return Ok(());
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    let name = name.to_string_lossy();
    let prefixes = [
        format!(".{name}.building-"),
        format!(".{name}.old-"),
        format!("..{name}.building-"),
    ];
    for e in entries.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if !prefixes.iter().any(|p| n.starts_with(p.as_str())) {
            continue;
        }
        let removed = if e.path().is_dir() {
            std::fs::remove_dir_all(e.path())
        } else {
            std::fs::remove_file(e.path())
        };
        removed.with_context(|| format!("removing stale {}", e.path().display()))?;
    }
    Ok(())
}

/// Root working in a work directory another user owns (`/var/lib/chama`, the user
/// `chama`'s) makes files that user can no longer replace: said, with the way to work
/// as them instead.
pub fn warn_if_root_in_theirs(work_dir: &Path) {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return;
    }
    let Ok(meta) = std::fs::metadata(work_dir) else { return };
    if meta.uid() == 0 {
        return;
    }
    let user = std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|p| {
            p.lines()
                .map(|l| l.split(':').collect::<Vec<_>>())
                .find(|f| f.len() > 2 && f[2] == meta.uid().to_string())
                .map(|f| f[0].to_string())
        })
        .unwrap_or_else(|| format!("uid {}", meta.uid()));
    crate::say_warn!(
        "working as root in {}, which {user} owns: what this makes will be root's, and {user}'s next runs may fail on it; `sudo -u {user} chama ...` works as {user}",
        work_dir.display()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        let w = WorkDir::new(Path::new("/w"));
        let d: Day = "20241212".parse().unwrap();
        assert_eq!(w.hour_dir("T", d, 3), Path::new("/w/hourly/T/20241212/03"));
        assert_eq!(w.staging_dir("T", d, 23), Path::new("/w/staging/T/20241212/23"));
        assert_eq!(w.rejects_file("T", d, 0), Path::new("/w/rejects/T/20241212/00.rej.gz"));
        assert_eq!(
            w.set_dir("T", &"20241212".parse().unwrap()),
            Path::new("/w/out/T/20241212")
        );
        assert_eq!(
            w.set_dir("T", &"2024121205".parse().unwrap()),
            Path::new("/w/hourly/T/20241212/05")
        );
        assert_eq!(w.lock_file("T", d), Path::new("/w/locks/T.20241212.lock"));
        assert_eq!(WorkDir::lock_day("T.x.20241212.lock"), Some(d));
        assert!(is_hour("23") && !is_hour("24") && !is_hour("3"));
        assert!(is_day("20241212") && !is_day("2024121"));
        assert_eq!(owner_pid(".03.building-42"), Some(42));
        assert_eq!(owner_pid(".20241212.old-7"), Some(7));
        assert_eq!(owner_pid(".05.rej.gz.building-9"), Some(9));
        assert_eq!(owner_pid("20241212-5"), Some(5));
        assert_eq!(owner_pid("..05.rej.gz.building-9.part"), Some(9));
        assert_eq!(owner_pid("03"), None);
        assert_eq!(owner_pid("x-5"), None);
        assert!(is_running(std::process::id()));
        let b = building_dir(Path::new("/w/out/T/20241212"));
        assert!(b.to_string_lossy().starts_with("/w/out/T/.20241212.building-"));
    }

    #[test]
    fn swap_replaces_and_stale_goes() {
        let t = tempfile::tempdir().unwrap();
        let fin = t.path().join("03");
        std::fs::create_dir(&fin).unwrap();
        std::fs::write(fin.join("old"), "x").unwrap();
        let b = building_dir(&fin);
        std::fs::create_dir(&b).unwrap();
        std::fs::write(b.join("new"), "y").unwrap();
        swap_in(&b, &fin).unwrap();
        assert!(fin.join("new").exists() && !fin.join("old").exists());
        let dead = t.path().join(".03.building-1");
        std::fs::create_dir(&dead).unwrap();
        let other = t.path().join(".04.building-1");
        std::fs::create_dir(&other).unwrap();
        remove_stale(&fin).unwrap();
        assert!(!dead.exists() && other.exists());
        // A file's leftovers, and their temporary files.
        let rejects = t.path().join("05.rej.gz");
        for n in [
            ".05.rej.gz.building-1",
            "..05.rej.gz.building-1.part",
            ".06.rej.gz.building-1",
        ] {
            std::fs::write(t.path().join(n), "x").unwrap();
        }
        remove_stale(&rejects).unwrap();
        assert!(!t.path().join(".05.rej.gz.building-1").exists());
        assert!(!t.path().join("..05.rej.gz.building-1.part").exists());
        assert!(t.path().join(".06.rej.gz.building-1").exists());
    }
}
