//! `chama rerun`: rebuild and deliver again, same batch or a new one.

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;

use crate::harness::{names_in, repo_root, Run, Workdir, LOCAL_CONFIG};

/// A work directory with its own copy of the bundled day and of CM001's spec
/// (`lines_per_file` as given), delivering to a local outbox.
fn setup(name: &str, lines_per_file: u32) -> (Workdir, PathBuf) {
    let w = Workdir::new(name);
    let src = repo_root().join("testdata/dumps/cm001/dt=2024-12-12");
    for h in 0..24 {
        for e in fs::read_dir(src.join(format!("hour={h:02}"))).unwrap().flatten() {
            w.create(
                format!(
                    "dumps/cm001/dt=2024-12-12/hour={h:02}/{}",
                    e.file_name().to_string_lossy()
                ),
                fs::read(e.path()).unwrap(),
            );
        }
    }
    set_lines(&w, lines_per_file);
    let cfg = w.create("chama.toml", LOCAL_CONFIG);
    (w, cfg)
}

fn set_lines(w: &Workdir, n: u32) {
    let spec = fs::read_to_string(repo_root().join("interfaces/CM001.toml")).unwrap();
    let spec = if spec.contains("lines_per_file") {
        spec.lines()
            .map(|l| {
                if l.starts_with("lines_per_file") {
                    format!("lines_per_file = {n}")
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    } else {
        spec.replace("[output]\n", &format!("[output]\nlines_per_file = {n}\n"))
    };
    w.create("interfaces/CM001.toml", spec);
}

/// `chama rerun` of CM001's bundled day, with `extra` arguments.
fn rerun(w: &Workdir, extra: &[&str]) -> Run {
    let mut a = vec!["rerun", "--iface", "CM001", "--period", "20241212"];
    a.extend_from_slice(extra);
    w.run_fixed(&a)
}

fn names(dir: PathBuf) -> BTreeSet<String> {
    names_in(&dir).into_iter().filter(|n| n != "manifest.json").collect()
}

#[test]
fn rerun_same_batch_replaces_prunes_only_when_asked_and_records_why() {
    let (w, _) = setup("rerun", 5);
    w.run_fixed(&["run", "--iface", "CM001", "--period", "20241212"])
        .expect_code(0);
    let outbox = || names(w.join("outbox/incoming/cm"));
    let out = || names(w.join("var/out/CM001/20241212"));
    let many = outbox();
    assert_eq!(many, out());

    // Fewer, bigger files: the same names are replaced, the extra old ones stay without --prune-remote.
    set_lines(&w, 100_000);
    let r = rerun(&w, &["--reason", "files were duplicated", "--json"]);
    r.expect_code(0);
    let j = r.json();
    let d = &j["days"][0];
    assert_eq!(d["batch"], "00");
    assert_eq!(d["reason"], "files were duplicated");
    assert!(d["files_after"].as_u64() < d["files_before"].as_u64(), "{j}");
    assert_eq!(d["rows_after"], d["rows_before"]);
    let few = out();
    assert!(few.len() < many.len());
    assert_eq!(outbox(), &many | &few, "old extra names stay without --prune-remote");
    for n in &few {
        assert_eq!(
            fs::read(w.join("var/out/CM001/20241212").join(n)).unwrap(),
            fs::read(w.join("outbox/incoming/cm").join(n)).unwrap(),
            "{n} replaced"
        );
    }

    // Back to many, then to few with --prune-remote: exactly the new set remains.
    set_lines(&w, 5);
    rerun(&w, &[]).expect_code(0);
    set_lines(&w, 100_000);
    rerun(&w, &["--prune-remote"])
        .expect_code(0)
        .stderr_has("old remote file(s) pruned");
    assert_eq!(outbox(), out());

    // A rebuild that cannot complete changes nothing.
    let before = (
        out(),
        outbox(),
        fs::read(w.join("var/out/CM001/20241212/manifest.json")).unwrap(),
    );
    fs::remove_dir_all(w.join("dumps/cm001/dt=2024-12-12/hour=05")).unwrap();
    rerun(&w, &["--hours", "04-06"])
        .expect_code(3)
        .stderr_has("hour=05 does not exist")
        .stderr_has("the old sets and delivery are untouched");
    assert_eq!(
        before,
        (
            out(),
            outbox(),
            fs::read(w.join("var/out/CM001/20241212/manifest.json")).unwrap()
        )
    );
    assert!(!w.join("var/rerun").exists(), "the fresh place is gone");

    // Every rerun is on record: who, when, why, what changed.
    let db = rusqlite::Connection::open(w.join("var/ledger.sqlite")).unwrap();
    let rows: Vec<(String, Option<String>, i64, String, String)> = db
        .prepare("SELECT hours, reason, code, who, started FROM reruns ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[0].1.as_deref(), Some("files were duplicated"));
    assert_eq!((rows[3].0.as_str(), rows[3].2), ("04,05,06", 3));
    assert!(!rows[0].3.is_empty() && !rows[0].4.is_empty());
}

#[test]
fn rerun_next_batch_delivers_new_names_and_leaves_the_old_delivery() {
    let (w, _) = setup("rerun-batch", 800_000);
    w.run_fixed(&["run", "--iface", "CM001", "--period", "20241212"])
        .expect_code(0);
    let first = names(w.join("outbox/incoming/cm"));
    let first_bytes: Vec<Vec<u8>> = first
        .iter()
        .map(|n| fs::read(w.join("outbox/incoming/cm").join(n)).unwrap())
        .collect();
    assert!(first.iter().all(|n| n.contains("_00")));
    rerun(&w, &["--next-batch", "--reason", "resend"]).expect_code(0);
    let now = names(w.join("outbox/incoming/cm"));
    let new: BTreeSet<String> = now.difference(&first).cloned().collect();
    assert_eq!(new.len(), first.len(), "a whole new set");
    assert!(
        new.iter().all(|n| n.contains("_01_") || n.ends_with("_01.verf")),
        "{new:?}"
    );
    for (n, b) in first.iter().zip(&first_bytes) {
        assert_eq!(
            &fs::read(w.join("outbox/incoming/cm").join(n)).unwrap(),
            b,
            "{n} left as it was"
        );
    }
    // The next one is 02.
    let r = rerun(&w, &["--next-batch", "--no-push", "--json"]);
    r.expect_code(0);
    assert!(r.stdout().contains("\"batch\":\"02\""));
}
