//! One lifecycle for a set directory (an hour, a day): built hidden beside its
//! final place (`.<name>.building-<pid>`), filled, its manifest written last,
//! then swapped in whole with its rejects, all or none ([`SetDir::commit`]).
//! Dropped before a commit succeeds (an error, an interrupt, a panic, a commit
//! that failed), it leaves nothing of its build but the build's rejects, kept
//! apart as `<HH>.failed.rej.gz`, and the old set stays as it was. `atomic.rs`
//! does the same for one file.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::manifest::Manifest;
use crate::period::Day;
use crate::workdir::{building_dir, remove_stale, swap_all, Swap, WorkDir};

/// An hour's rejects: where its build writes them, where they go with the set,
/// and where they go when the build fails.
#[derive(Debug, Clone)]
pub struct SetRejects {
    /// Written by the pipeline (hidden); absent when no row was rejected.
    pub built: PathBuf,
    /// `<HH>.rej.gz`: the rejects of the set in place.
    pub current: PathBuf,
    /// `<HH>.failed.rej.gz`: the last failed build's.
    pub failed: PathBuf,
}

impl SetRejects {
    /// Hour `hour`'s, built hidden beside their final place.
    pub fn of_hour(work: &WorkDir<'_>, iface: &str, date: Day, hour: u8) -> SetRejects {
        let current = work.rejects_file(iface, date, hour);
        SetRejects {
            built: building_dir(&current),
            failed: work.failed_rejects_file(iface, date, hour),
            current,
        }
    }

    /// With their set: `built` replaces `current` (or `current` goes), and `failed` goes.
    fn swaps(&self) -> [Swap<'_>; 2] {
        let built = self.built.exists().then_some(self.built.as_path());
        [
            Swap {
                new: built,
                dest: &self.current,
            },
            Swap {
                new: None,
                dest: &self.failed,
            },
        ]
    }
}

/// A failed build's rejects kept apart: `from` becomes `to`; where that fails, `from`
/// goes (nothing hidden is left). Whether they were kept.
pub fn keep_apart(from: &Path, to: &Path) -> bool {
    if !from.exists() {
        return false;
    }
    let kept = to.parent().is_some_and(|d| std::fs::create_dir_all(d).is_ok()) && std::fs::rename(from, to).is_ok();
    if !kept {
        crate::say_warn!("could not keep the failed build's rejects as {}", to.display());
        let _ = std::fs::remove_file(from);
    }
    kept
}

/// A complete set directory, its final place, and its rejects.
pub struct Install<'a> {
    pub built: &'a Path,
    pub final_dir: &'a Path,
    pub rejects: Option<&'a SetRejects>,
}

/// Puts complete set directories in place with their rejects, all or none: an error
/// leaves the old sets, their rejects and every `built` as they were.
pub fn install(sets: &[Install<'_>]) -> anyhow::Result<()> {
    let mut swaps = Vec::new();
    for s in sets {
        swaps.push(Swap {
            new: Some(s.built),
            dest: s.final_dir,
        });
        swaps.extend(s.rejects.into_iter().flat_map(SetRejects::swaps));
    }
    for s in swaps.iter().filter(|s| s.new.is_some()) {
        if let Some(d) = s.dest.parent() {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
        }
    }
    swap_all(&swaps)
}

/// A set directory being built: see the module's opening.
#[derive(Debug)]
pub struct SetDir {
    building: PathBuf,
    final_dir: PathBuf,
    rejects: Option<SetRejects>,
    committed: bool,
}

impl SetDir {
    /// `hourly/<iface>/<date>/<HH>/`, with its rejects.
    pub fn hour(work: &WorkDir<'_>, iface: &str, date: Day, hour: u8) -> anyhow::Result<SetDir> {
        SetDir::create(
            &work.hour_dir(iface, date, hour),
            Some(SetRejects::of_hour(work, iface, date, hour)),
        )
    }

    /// `out/<iface>/<date>/`.
    pub fn day(work: &WorkDir<'_>, iface: &str, date: Day) -> anyhow::Result<SetDir> {
        SetDir::create(&work.out_dir(iface, date), None)
    }

    /// Removes what a dead build of `final_dir` (and of its rejects) left, then creates
    /// the hidden directory.
    pub fn create(final_dir: &Path, rejects: Option<SetRejects>) -> anyhow::Result<SetDir> {
        remove_stale(final_dir)?;
        if let Some(r) = &rejects {
            remove_stale(&r.current)?;
            remove_stale(&r.failed)?;
        }
        let set = SetDir {
            building: building_dir(final_dir),
            final_dir: final_dir.to_path_buf(),
            rejects,
            committed: false,
        };
        std::fs::create_dir_all(&set.building).with_context(|| format!("creating {}", set.building.display()))?;
        Ok(set)
    }

    /// Where to build (the hidden directory).
    pub fn path(&self) -> &Path {
        &self.building
    }

    /// Where the pipeline writes the rejects.
    pub fn rejects_path(&self) -> Option<&Path> {
        self.rejects.as_ref().map(|r| r.built.as_path())
    }

    /// Where the rejects go if this build fails (for the error that says so).
    pub fn failed_rejects(&self) -> Option<&Path> {
        self.rejects.as_ref().map(|r| r.failed.as_path())
    }

    /// Writes `manifest` last, then swaps the directory in with its rejects, all or
    /// none. On an error, `self` is dropped: the directory goes, its rejects kept apart.
    pub fn commit(mut self, manifest: &Manifest) -> anyhow::Result<()> {
        manifest.write(&self.building)?;
        install(&[Install {
            built: &self.building,
            final_dir: &self.final_dir,
            rejects: self.rejects.as_ref(),
        }])?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for SetDir {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        match std::fs::remove_dir_all(&self.building) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                crate::say_warn!("removing {}: {e} (the next run removes it)", self.building.display())
            }
            _ => {}
        }
        if let Some(r) = &self.rejects {
            keep_apart(&r.built, &r.failed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workdir::MANIFEST;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    fn manifest() -> Manifest {
        Manifest {
            chama_version: "t".into(),
            interface: "T".into(),
            period: "2024121203".into(),
            spec_fingerprint: "f".into(),
            inputs: vec![],
            counts: Default::default(),
            sets: vec![],
            started: String::new(),
            seconds: 0.0,
            missing_hours: vec![],
        }
    }

    /// Hour 03's rejects in `r`, as the work directory lays them out.
    fn hour_03_rejects(r: &Path) -> SetRejects {
        let current = r.join("03.rej.gz");
        SetRejects {
            built: building_dir(&current),
            failed: r.join("03.failed.rej.gz"),
            current,
        }
    }

    /// An hour `h/03` with an old set and old rejects `r/03.rej.gz`; a build of it
    /// with new data and new rejects.
    fn started(t: &Path) -> (PathBuf, PathBuf, SetDir) {
        let (h, r) = (t.join("h/03"), t.join("r"));
        std::fs::create_dir_all(&h).unwrap();
        std::fs::create_dir_all(&r).unwrap();
        std::fs::write(h.join("old.gz"), "old").unwrap();
        std::fs::write(h.join(MANIFEST), "{}").unwrap();
        std::fs::write(r.join("03.rej.gz"), "old rejects").unwrap();
        let set = SetDir::create(&h, Some(hour_03_rejects(&r))).unwrap();
        std::fs::write(set.path().join("new.gz"), "new").unwrap();
        std::fs::write(set.rejects_path().unwrap(), "new rejects").unwrap();
        (h, r, set)
    }

    /// The old set, its rejects and the failed build's rejects: nothing else, nothing hidden.
    fn untouched(t: &Path, h: &Path, r: &Path) {
        assert_eq!(names(&t.join("h")), ["03"]);
        assert_eq!(names(h), ["manifest.json", "old.gz"]);
        assert_eq!(names(r), ["03.failed.rej.gz", "03.rej.gz"]);
        assert_eq!(std::fs::read_to_string(r.join("03.rej.gz")).unwrap(), "old rejects");
        assert_eq!(
            std::fs::read_to_string(r.join("03.failed.rej.gz")).unwrap(),
            "new rejects"
        );
    }

    #[test]
    fn committed_in_place_with_its_rejects() {
        let t = tempfile::tempdir().unwrap();
        let (h, r, set) = started(t.path());
        std::fs::write(r.join("03.failed.rej.gz"), "an older failure").unwrap();
        set.commit(&manifest()).unwrap();
        assert_eq!(names(&t.path().join("h")), ["03"]);
        assert_eq!(names(&h), ["manifest.json", "new.gz"]);
        assert_eq!(names(&r), ["03.rej.gz"]);
        assert_eq!(std::fs::read_to_string(r.join("03.rej.gz")).unwrap(), "new rejects");
    }

    #[test]
    fn committed_without_rejects_removes_the_old_ones() {
        let t = tempfile::tempdir().unwrap();
        let (h, r, set) = started(t.path());
        std::fs::remove_file(set.rejects_path().unwrap()).unwrap();
        set.commit(&manifest()).unwrap();
        assert_eq!(names(&h), ["manifest.json", "new.gz"]);
        assert!(names(&r).is_empty(), "{:?}", names(&r));
    }

    #[test]
    fn dropped_or_panicked_leaves_the_old_set() {
        let t = tempfile::tempdir().unwrap();
        let (h, r, set) = started(t.path());
        drop(set);
        untouched(t.path(), &h, &r);
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _set = SetDir::create(&t.path().join("h/04"), None).unwrap();
            panic!("mid-build");
        }));
        assert!(caught.is_err());
        assert_eq!(names(&t.path().join("h")), ["03"]);
    }

    #[test]
    fn a_manifest_that_cannot_be_written_leaves_the_old_set() {
        let t = tempfile::tempdir().unwrap();
        let (h, r, set) = started(t.path());
        // A directory where the manifest goes: its rename fails, as root too.
        std::fs::create_dir_all(set.path().join(MANIFEST).join("x")).unwrap();
        assert!(set.commit(&manifest()).is_err());
        untouched(t.path(), &h, &r);
    }

    #[test]
    fn a_swap_that_fails_midway_puts_everything_back() {
        let t = tempfile::tempdir().unwrap();
        let (h, r, set) = started(t.path());
        // The hour goes aside, then its rejects cannot: a non-empty directory is where
        // they would go aside.
        let blocker = r.join(format!(".03.rej.gz.old-{}", std::process::id()));
        std::fs::create_dir_all(blocker.join("x")).unwrap();
        assert!(set.commit(&manifest()).is_err());
        std::fs::remove_dir_all(&blocker).unwrap();
        untouched(t.path(), &h, &r);
    }

    #[test]
    fn a_rejects_directory_that_cannot_be_made_leaves_the_old_set() {
        let t = tempfile::tempdir().unwrap();
        let (h, r, mut set) = started(t.path());
        // A path component that is a regular file: nothing moves.
        std::fs::write(t.path().join("blocker"), "").unwrap();
        let rejects = set.rejects.as_mut().unwrap();
        let built = t.path().join("r/.03.rej.gz.building-x");
        std::fs::rename(&rejects.built, &built).unwrap();
        rejects.built = built;
        rejects.current = t.path().join("blocker/03.rej.gz");
        assert!(set.commit(&manifest()).is_err());
        assert_eq!(names(&h), ["manifest.json", "old.gz"]);
        assert_eq!(names(&t.path().join("h")), ["03"]);
        assert_eq!(names(&r), ["03.failed.rej.gz", "03.rej.gz"]);
    }

    #[test]
    fn an_install_of_several_is_all_or_none() {
        // Rerun's shape: two complete hours; the second's is missing, after the first
        // went aside and in.
        let t = tempfile::tempdir().unwrap();
        let (h, r, set) = started(t.path());
        let built = set.path().to_path_buf();
        std::fs::write(built.join(MANIFEST), "{}").unwrap();
        let rejects = set.rejects.clone().unwrap();
        let (missing, h4) = (t.path().join("nothing"), t.path().join("h/04"));
        let e = install(&[
            Install {
                built: &built,
                final_dir: &h,
                rejects: Some(&rejects),
            },
            Install {
                built: &missing,
                final_dir: &h4,
                rejects: None,
            },
        ]);
        assert!(e.is_err());
        assert_eq!(names(&built), ["manifest.json", "new.gz"]);
        drop(set);
        untouched(t.path(), &h, &r);
    }

    #[test]
    fn create_sweeps_what_a_dead_build_left() {
        let t = tempfile::tempdir().unwrap();
        let (h, r) = (t.path().join("h/03"), t.path().join("r"));
        std::fs::create_dir_all(t.path().join("h/.03.building-999999999")).unwrap();
        std::fs::create_dir_all(&r).unwrap();
        std::fs::write(r.join(".03.rej.gz.building-999999999"), "").unwrap();
        std::fs::write(r.join(".03.failed.rej.gz.old-999999999"), "").unwrap();
        let set = SetDir::create(&h, Some(hour_03_rejects(&r))).unwrap();
        assert_eq!(
            names(&t.path().join("h")),
            [set.path().file_name().unwrap().to_string_lossy()]
        );
        assert!(names(&r).is_empty(), "{:?}", names(&r));
    }
}
