//! `chama merge`: a day's hourly sets into the daily set(s), renumbered in
//! hour order, linked, never recompressed.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::time::Instant;

use crate::harness::{names_in, repo_root, Workdir};
use crate::push::{make_set, SPEC};

#[test]
fn merge_links_24_hours_of_40_files_in_hour_order_and_rewrites_none() {
    let w = Workdir::new("merge");
    w.create("interfaces/T1.toml", SPEC);
    w.create(
        "chama.toml",
        "work_dir = \"var\"\n[sources.default]\nkind = \"local\"\nroot = \"dumps\"\n[destinations.exchange]\nkind = \"local\"\nroot = \"outbox\"\n",
    );
    let hourly = w.join("var/hourly/T1/20241212");
    for h in 0..24u8 {
        make_set(&hourly.join(format!("{h:02}")), 40, 300 + usize::from(h), h);
    }
    let t = Instant::now();
    let r = w.run(&["merge", "--iface", "T1", "--period", "20241212", "--json"]);
    let took = t.elapsed();
    r.expect_code(0);
    eprintln!("merge of 24 x 40 files: {took:?}");
    assert!(took.as_secs_f64() < 3.0, "merge took {took:?}");
    let j = r.json();
    assert_eq!((j["files"].as_u64(), j["hours"].as_u64()), (Some(960), Some(24)));

    let out = w.join("var/out/T1/20241212");
    let verf = fs::read_to_string(out.join("t1_20241212_00.verf")).unwrap();
    let lines: Vec<&str> = verf.split_terminator("\r\n").collect();
    assert_eq!(lines.len(), 960);
    for (i, line) in lines.iter().enumerate() {
        let (h, k) = (i / 40, i % 40 + 1);
        let name = format!("t1_20241212_00_{:04}.dat.gz", i + 1);
        assert_eq!(line[..48].trim_end(), name);
        // The same file, not a copy: hour h's k-th file under its daily name.
        let src = hourly.join(format!("{h:02}/t1_20241212_00_{k:04}.dat.gz"));
        let (a, b) = (fs::metadata(&src).unwrap(), fs::metadata(out.join(&name)).unwrap());
        assert_eq!(
            (a.ino(), a.dev()),
            (b.ino(), b.dev()),
            "{name} is {} linked",
            src.display()
        );
        assert_eq!(line[48..68].trim().parse::<u64>().unwrap(), 300 + h as u64);
    }
    let m: serde_json::Value = serde_json::from_slice(&fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["counts"]["rows_out"].as_u64(), Some(24 * 40 * 100));
    assert!(m.get("missing_hours").is_none());

    // Merging again replaces the day whole, leaving nothing behind.
    w.run(&["merge", "--iface", "T1", "--period", "20241212"])
        .expect_code(0);
    let hidden: Vec<String> = names_in(&w.join("var/out/T1"))
        .into_iter()
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(hidden.is_empty(), "{hidden:?}");
    w.run(&["verify", "--iface", "T1", "--period", "20241212"])
        .expect_code(0);
}

#[test]
fn merge_refuses_a_missing_hour_unless_allowed_then_the_day_pushes() {
    let w = Workdir::bundled("merge-missing");
    let mut cmd = w.command(&["build", "--iface", "CM001", "--period", "20241212"]);
    let cfg = w.join("chama.toml");
    cmd.env("CHAMA_CONFIG", &cfg);
    w.run_cmd(cmd).expect_code(0);
    fs::remove_dir_all(w.join("var/hourly/CM001/20241212/05")).unwrap();
    let run = |args: &[&str]| {
        let mut cmd = w.command(args);
        cmd.env("CHAMA_CONFIG", &cfg);
        w.run_cmd(cmd)
    };
    run(&["merge", "--iface", "CM001", "--period", "20241212"])
        .expect_code(3)
        .stderr_has("hour(s) 05 not built")
        .stderr_has("--allow-missing 05");
    assert!(!w.join("var/out/CM001/20241212").exists());
    run(&["merge", "--iface", "CM001", "--period", "2024121205"])
        .expect_code(2)
        .stderr_has("merge takes a day");
    run(&[
        "merge",
        "--iface",
        "CM001",
        "--period",
        "20241212",
        "--allow-missing",
        "05",
    ])
    .expect_code(0)
    .stderr_has("23 hour(s) (missing, allowed: 05)");
    let m: serde_json::Value =
        serde_json::from_slice(&fs::read(w.join("var/out/CM001/20241212/manifest.json")).unwrap()).unwrap();
    assert_eq!(m["missing_hours"], serde_json::json!(["05"]));
    run(&["verify", "--iface", "CM001", "--period", "20241212", "--deep"]).expect_code(0);
    run(&["push", "--iface", "CM001", "--period", "20241212"]).expect_code(0);
    let day = w.join("outbox/incoming/cm");
    let sent = names_in(&day).len();
    let merged = names_in(&w.join("var/out/CM001/20241212")).len() - 1; // less manifest.json
    assert_eq!(sent, merged);
    run(&[
        "verify", "--iface", "CM001", "--period", "20241212", "--dest", "outbox", "--deep",
    ])
    .expect_code(0);
}

/// The lines of every data file a day's .verf lists, and each file's row count.
fn day_lines(out: &std::path::Path) -> (Vec<String>, Vec<(String, u64)>) {
    use std::io::Read;
    let mut lines = Vec::new();
    let mut files = Vec::new();
    let verfs = names_in(out).into_iter().filter(|n| n.ends_with(".verf"));
    for v in verfs.map(|n| out.join(n)) {
        for line in fs::read_to_string(&v).unwrap().split_terminator("\r\n") {
            let name = line[..48].trim_end().to_string();
            let rows: u64 = line[68..88].trim().parse().unwrap();
            let mut text = Vec::new();
            flate2::read::MultiGzDecoder::new(fs::File::open(out.join(&name)).unwrap())
                .read_to_end(&mut text)
                .unwrap();
            let n = text.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count() as u64;
            assert_eq!(n, rows, "{name}: the .verf's count");
            lines.extend(
                text.split(|&b| b == b'\n')
                    .filter(|l| !l.is_empty())
                    .map(|l| String::from_utf8_lossy(l).into_owned()),
            );
            files.push((name, rows));
        }
    }
    (lines, files)
}

#[test]
fn merge_compact_re_splits_only_the_hour_tails() {
    let w = Workdir::new("merge-compact");
    let spec = fs::read_to_string(repo_root().join("interfaces/CM001.toml")).unwrap();
    let spec: String = spec
        .lines()
        .map(|l| {
            if l.starts_with("lines_per_file") {
                "lines_per_file = 7".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert!(spec.contains("lines_per_file = 7"));
    w.create("interfaces/CM001.toml", spec);
    w.create(
        "chama.toml",
        format!(
            "work_dir = \"var\"\n[sources.default]\nkind = \"local\"\nroot = \"{}/testdata/dumps\"\n[destinations.outbox]\nkind = \"local\"\nroot = \"outbox\"\n",
            repo_root().display()
        ),
    );
    w.run(&["build", "--iface", "CM001", "--period", "20241212"])
        .expect_code(0);
    w.run(&["merge", "--iface", "CM001", "--period", "20241212"])
        .expect_code(0);
    let out = w.join("var/out/CM001/20241212");
    let (mut plain, plain_files) = day_lines(&out);
    assert!(
        plain_files.iter().filter(|(_, r)| *r < 7).count() > 24,
        "every hour ends on a partial file"
    );

    w.run(&["merge", "--iface", "CM001", "--period", "20241212", "--compact"])
        .expect_code(0)
        .stderr_has("hour tails re-split");
    let (mut compact, files) = day_lines(&out);
    plain.sort();
    compact.sort();
    assert_eq!(plain, compact, "the same rows");
    // Per set, every file but the last is full.
    let mut by_set: std::collections::BTreeMap<String, Vec<u64>> = Default::default();
    for (name, rows) in &files {
        by_set
            .entry(name[..name.rfind('_').unwrap()].to_string())
            .or_default()
            .push(*rows);
    }
    for (set, rows) in &by_set {
        assert!(rows[..rows.len() - 1].iter().all(|&r| r == 7), "{set}: {rows:?}");
    }
    // Full hourly files are linked, not rewritten.
    let hourly_inodes: std::collections::BTreeSet<u64> = (0..24)
        .flat_map(|h| fs::read_dir(w.join(format!("var/hourly/CM001/20241212/{h:02}"))).unwrap())
        .map(|e| e.unwrap().metadata().unwrap().ino())
        .collect();
    let full = files.iter().filter(|(_, r)| *r == 7).count();
    let linked = files
        .iter()
        .filter(|(n, _)| hourly_inodes.contains(&fs::metadata(out.join(n)).unwrap().ino()))
        .count();
    assert!(linked > 0 && linked <= full, "linked {linked} of {full} full files");
    w.run(&["verify", "--iface", "CM001", "--period", "20241212", "--deep"])
        .expect_code(0);
}
