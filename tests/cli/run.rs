//! `chama run`: the daily job end to end, what a second run does, and locks.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{names_in, Run, Workdir};

/// A work directory delivering the bundled day to a local outbox, and its config.
fn setup(name: &str) -> (Workdir, PathBuf) {
    let w = Workdir::bundled(name);
    let cfg = w.join("chama.toml");
    (w, cfg)
}

fn run(w: &Workdir, cfg: &PathBuf, args: &[&str]) -> Run {
    let mut cmd = w.command(args);
    cmd.env("CHAMA_CONFIG", cfg);
    w.run_cmd(cmd)
}

#[test]
fn run_builds_merges_and_pushes_the_day_then_only_checks() {
    let (w, cfg) = setup("run");
    let r = run(&w, &cfg, &["run", "--iface", "CM001", "--period", "20241212", "--json"]);
    r.expect_code(0);
    let j = r.json();
    assert_eq!(j["interfaces"][0]["built"].as_array().unwrap().len(), 24);
    assert_eq!(j["interfaces"][0]["merged"], true);
    let out = w.join("var/out/CM001/20241212");
    let delivered = w.join("outbox/incoming/cm");
    let names: Vec<String> = names_in(&out).into_iter().filter(|n| n != "manifest.json").collect();
    for n in &names {
        assert_eq!(
            fs::read(out.join(n)).unwrap(),
            fs::read(delivered.join(n)).unwrap(),
            "{n}"
        );
    }
    assert_eq!(names_in(&delivered).len(), names.len());

    // Again: nothing built, merged or sent; exit 0.
    let r = run(&w, &cfg, &["run", "--iface", "CM001", "--period", "20241212", "--json"]);
    r.expect_code(0).stderr_has("0 file(s) sent");
    let j = r.json();
    assert_eq!(j["interfaces"][0]["built"], serde_json::json!([]));
    assert_eq!(j["interfaces"][0]["merged"], false);

    // status: the day built, merged, pushed; a day whose data is not there, with its error.
    run(&w, &cfg, &["build", "--iface", "CM001", "--period", "2024121305"]).expect_code(3);
    let r = run(
        &w,
        &cfg,
        &["status", "--iface", "CM001", "--since", "20241212", "--json"],
    );
    r.expect_code(0);
    let j = r.json();
    let days = j["days"].as_array().unwrap();
    assert_eq!(days.len(), 2, "{j}");
    let d = &days[0];
    assert_eq!(
        (d["day"].as_str(), d["merged"].as_bool()),
        (Some("20241212"), Some(true))
    );
    assert_eq!(d["hours_built"].as_array().unwrap().len(), 24);
    assert_eq!(
        d["files"].as_u64(),
        Some(names.len() as u64 - 15),
        "data files, not .verfs"
    );
    let p = &d["pushes"][0];
    assert_eq!((p["dest"].as_str(), p["code"].as_i64()), (Some("outbox"), Some(0)));
    assert!(p["started"].is_string() && p["finished"].is_string());
    let e = &days[1]["last_error"];
    assert_eq!(
        (e["command"].as_str(), e["code"].as_i64()),
        (Some("build"), Some(3)),
        "{j}"
    );
    assert!(e["error"].as_str().unwrap().contains("hour=05 does not exist"));
    let r = run(&w, &cfg, &["status", "--since", "20241212"]);
    r.expect_code(0)
        .stdout_has("CM001      20241212  24/24  yes")
        .stdout_has("outbox 20241212")
        .stdout_has("last error: build 2024121305 exit 3");
}

#[test]
fn a_second_run_of_the_same_day_exits_6_at_once_naming_the_holder() {
    let (w, cfg) = setup("run-lock");
    let lock = w.join("var/locks/CM001.20241212.lock");
    let mut cmd = w.command(&["run", "--iface", "CM001", "--period", "20241212"]);
    cmd.env("CHAMA_CONFIG", &cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let first = w.spawn_cmd(cmd);
    let t = Instant::now();
    while fs::read_to_string(&lock).map_or(true, |s| s.is_empty()) {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "the first run never took its lock"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let t = Instant::now();
    let r = run(&w, &cfg, &["run", "--iface", "CM001", "--period", "20241212"]);
    let second_took = t.elapsed();
    r.expect_code(6)
        .stderr_has("another chama run holds CM001 20241212: `chama run`, pid")
        .stderr_has(&format!("pid {} on host", first.id()));
    assert!(
        second_took < Duration::from_secs(2),
        "exit 6 at once, not after {second_took:?}"
    );
    // build, merge and push of that day are held off too.
    run(&w, &cfg, &["push", "--iface", "CM001", "--period", "2024121203"]).expect_code(6);
    first.wait().expect_code(0);

    // A run killed with SIGKILL leaves no lock behind.
    fs::remove_dir_all(w.join("var/hourly")).unwrap();
    let mut cmd = w.command(&["run", "--iface", "CM001", "--period", "20241212"]);
    cmd.env("CHAMA_CONFIG", &cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let victim = w.spawn_cmd(cmd);
    std::thread::sleep(Duration::from_millis(300));
    victim.kill();
    run(&w, &cfg, &["run", "--iface", "CM001", "--period", "20241212"]).expect_code(0);
}

/// Every file of a directory, recursively, by relative path.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(
                    p.strip_prefix(dir).unwrap().display().to_string(),
                    fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}

/// `chama run` of CM001's bundled day with `cfg`, at a fixed SOURCE_DATE_EPOCH.
fn run_day(w: &Workdir, cfg: &Path) -> Command {
    let mut cmd = w.command(&["run", "--iface", "CM001", "--period", "20241212"]);
    cmd.env("CHAMA_CONFIG", cfg).env("SOURCE_DATE_EPOCH", "1734000000");
    cmd
}

/// What an undisturbed run of the day delivers, in a work directory `name`.
fn undisturbed(name: &str) -> BTreeMap<String, Vec<u8>> {
    let (a, acfg) = setup(name);
    a.run_cmd(run_day(&a, &acfg)).expect_code(0);
    tree(&a.join("outbox"))
}

/// `w` delivered exactly `want`, byte for byte.
fn assert_same_delivery(w: &Workdir, want: &BTreeMap<String, Vec<u8>>) {
    let got = tree(&w.join("outbox"));
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "same names, nothing extra"
    );
    for (k, v) in want {
        assert!(got[k] == *v, "{k} differs from the undisturbed run");
    }
}

/// Nothing half-made is left under the work directory's final names.
fn assert_nothing_half_made(w: &Workdir) {
    let leftovers: Vec<String> = tree(&w.join("var"))
        .into_keys()
        .filter(|k| k.ends_with(".part") || k.contains(".building-") || k.contains(".old-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn run_stopped_by_sigterm_leaves_nothing_half_made_and_resumes_byte_identical() {
    let want = undisturbed("run-term-ref");

    let (b, bcfg) = setup("run-term");
    let mut cmd = run_day(&b, &bcfg);
    cmd.stderr(Stdio::piped());
    let child = b.spawn_cmd(cmd);
    let hourly = b.join("var/hourly/CM001/20241212");
    let t = Instant::now();
    while fs::read_dir(&hourly).map_or(0, |rd| rd.count()) < 3 {
        assert!(t.elapsed() < Duration::from_secs(60), "no hour built");
        std::thread::sleep(Duration::from_millis(5));
    }
    child
        .stop("TERM")
        .expect_code(143)
        .stderr_has("run CM001 20241212 interrupted by SIGTERM");
    assert_nothing_half_made(&b);
    assert!(!b.join("outbox/incoming").exists() || tree(&b.join("outbox")).len() < want.len());
    // The same command again: the day as an undisturbed run delivers it.
    b.run_cmd(run_day(&b, &bcfg)).expect_code(0);
    assert_same_delivery(&b, &want);
}

#[test]
fn run_killed_20_times_at_random_points_then_finishes_byte_identical() {
    let want = undisturbed("run-ref");
    assert!(want.len() > 300);

    let (b, bcfg) = setup("run-kill");
    let mut seed: u32 = 0x2545_f491 ^ std::process::id();
    let t = Instant::now();
    for _ in 0..20 {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let mut cmd = run_day(&b, &bcfg);
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        let child = b.spawn_cmd(cmd);
        std::thread::sleep(Duration::from_millis(u64::from(seed % 1500)));
        child.kill();
    }
    eprintln!("20 killed runs in {:?}", t.elapsed());
    b.run_cmd(run_day(&b, &bcfg)).expect_code(0);
    assert_same_delivery(&b, &want);
    // Nothing half-made is left under the work directory's final names either.
    assert_nothing_half_made(&b);
}

/// Right after the README's first command (the built-in default, no configuration
/// anywhere): `status` says which configuration and work directory it read, and shows
/// the bundled day though it is older than keep_days; `report` and `clean` say where
/// they looked too.
#[test]
fn status_after_the_first_command_shows_the_bundled_day_and_says_where_it_looked() {
    let w = Workdir::new("first");
    let root = crate::harness::repo_root();
    std::os::unix::fs::symlink(root.join("interfaces"), w.join("interfaces")).unwrap();
    std::os::unix::fs::symlink(root.join("testdata"), w.join("testdata")).unwrap();
    w.run(&["run", "--iface", "CM001", "--period", "20241212"])
        .expect_code(0);
    let var = w.path().join("var");
    let origin = format!(
        "no configuration found (--config, CHAMA_CONFIG, ./chama.toml, /etc/chama/chama.toml): the built-in default, work directory {}",
        var.display()
    );
    let r = w.run(&["status"]);
    r.expect_code(0)
        .stderr_has(&origin)
        .stderr_has("(keep_days = 15); the newest 1 day(s) there are below (`--since YYYYMMDD` for others)")
        .stdout_has("CM001      20241212  24/24  yes");
    let j = w.run(&["status", "--json"]).json();
    assert_eq!(j["since"], "20241212");
    assert_eq!(j["days"].as_array().map(Vec::len), Some(1));
    w.run(&["report", "--period", "20241212"])
        .expect_code(0)
        .stderr_has(&origin);
    w.run(&["clean", "--dry-run"]).expect_code(0).stderr_has(&origin);
    // A window that holds nothing by choice stays empty, and says where it looked.
    w.run(&["status", "--since", "20250101"])
        .expect_code(0)
        .stderr_has(&origin);
}
