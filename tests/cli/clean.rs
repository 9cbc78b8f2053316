//! `chama clean`: retention that deletes only chama's own old files.

use std::fs;
use std::path::Path;

use crate::harness::{names_in, Workdir};

fn all_files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn clean_deletes_only_chamas_own_old_files_and_logs_each() {
    let w = Workdir::bundled("clean");
    // An old day, built, merged, pulled (a local source stages too) and locked.
    w.run(&["run", "--iface", "CM001", "--period", "20241212"])
        .expect_code(0);
    w.run(&["pull", "--iface", "CM001", "--period", "2024121207"])
        .expect_code(0);
    // A recent day that must stay: today's hour 07, copied from the old one.
    let today = chrono::Local::now().format("%Y%m%d").to_string();
    let recent = w.join(format!("var/hourly/CM001/{today}/07"));
    fs::create_dir_all(&recent).unwrap();
    let old = w.join("var/hourly/CM001/20241212/07");
    for name in names_in(&old) {
        fs::copy(old.join(&name), recent.join(&name)).unwrap();
    }
    // Decoys: similar names, another tool's files, a log.
    let decoys = [
        "var/hourly/CM001/20241212/07/notes.txt",
        "var/hourly/CM001/20241212/07/a_10000_20241212_CM001_100_00_0001.dat.gz.bak",
        "var/hourly/CM001/20241212/07/a_10000_20241212_CM001_100_00_0099.dat.gz",
        "var/out/CM001/20241212/README",
        "var/staging/CM001/20241212/07/other-tool.tmp",
        "var/rejects/CM001/20241212/07.rej.gz.keep",
        "var/rejects/CM001/20241212/7.rej.gz",
        "var/chama.log",
        "var/hourly/CM001/old-notes/manifest.txt",
    ];
    for d in decoys {
        w.create(d, "not chama's");
    }
    let before = all_files(&w.join("var"));

    let r = w.run(&["clean", "--keep-days", "15", "--dry-run"]);
    r.expect_code(0).stdout_has("would remove");
    assert_eq!(all_files(&w.join("var")), before, "a dry run removes nothing");

    let r = w.run(&["clean", "--keep-days", "15"]);
    r.expect_code(0);
    let logged: Vec<String> = r
        .stdout()
        .lines()
        .map(|l| {
            l.strip_prefix("removed ")
                .expect("one removed file per line")
                .to_string()
        })
        .collect();
    let after = all_files(&w.join("var"));
    // Every decoy, the recent day and the ledger stay.
    for d in decoys {
        assert!(
            after.contains(&d.strip_prefix("var/").unwrap().to_string()),
            "{d} was removed"
        );
    }
    assert!(after
        .iter()
        .any(|f| f.starts_with(&format!("hourly/CM001/{today}/07/"))));
    assert!(after.contains(&"ledger.sqlite".to_string()));
    // Of the old day, only decoys are left.
    let old_left: Vec<&String> = after
        .iter()
        .filter(|f| f.contains("/20241212") && !decoys.iter().any(|d| d.ends_with(f.as_str())))
        .collect();
    assert!(old_left.is_empty(), "left behind: {old_left:?}");
    // Everything removed was logged, and nothing else.
    assert_eq!(logged.len(), before.len() - after.len());
    assert!(logged.iter().all(|p| !w.join(p).exists()));
    assert!(logged
        .iter()
        .any(|p| p.ends_with("var/rejects/CM001/20241212/07.rej.gz")));
    assert!(logged
        .iter()
        .any(|p| p.ends_with("var/staging/CM001/20241212/07/part-00000.gz")));
    assert!(logged.iter().any(|p| p.ends_with("var/locks/CM001.20241212.lock")));
    // Empty directories went; those holding decoys stayed.
    assert!(!w.join("var/hourly/CM001/20241212/06").exists());
    assert!(w.join("var/hourly/CM001/20241212/07").exists());
}
