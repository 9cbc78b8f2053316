//! What operators and schedulers do to chama by accident: typos in names,
//! names that are paths; each an exit 2 (fix it, do not retry) that says
//! what there is, before anything is locked, recorded or written.

use crate::harness::{id_v_spec, Workdir};

#[test]
fn an_unknown_interface_exits_2_naming_the_known_ones_before_any_lock() {
    let w = Workdir::bundled("typo");
    for args in [
        &["build", "--iface", "CM01", "--period", "20241212"][..],
        &["pull", "--iface", "CM01", "--period", "2024121203"],
        &["merge", "--iface", "CM01", "--period", "20241212"],
        &["push", "--iface", "CM01", "--period", "20241212"],
        &["run", "--iface", "CM01", "--period", "20241212"],
        &["rerun", "--iface", "CM01", "--period", "20241212"],
        &["verify", "--iface", "CM01", "--period", "20241212"],
        &["sample", "--iface", "CM01", "--period", "20241212"],
    ] {
        w.run(args)
            .expect_code(2)
            .stderr_has("no interface `CM01` in ")
            .stderr_has("(did you mean `CM001`?)")
            .stderr_has("known: 51006, 51007, 51010, 77006, CM001, CM002, CM003");
    }
    w.assert_absent("var/locks", "no lock was taken for a name that is no interface");
    assert!(!w.join("var/ledger.sqlite").exists(), "nor any run recorded");
    // A name far from every interface gets the list alone.
    w.run(&["build", "--iface", "NOSUCH", "--period", "20241212"])
        .expect_code(2)
        .stderr_has("interfaces; known: 51006");
}

#[test]
fn names_that_are_paths_are_refused_where_they_are_parsed() {
    let w = Workdir::bundled("pathname");
    for (flag, name) in [
        ("--iface", "../interfaces/CM001"),
        ("--iface", ".CM001"),
        ("--iface", "a/b"),
    ] {
        w.run(&["build", flag, name, "--period", "20241212"])
            .expect_code(2)
            .stderr_has("is not a plain name");
    }
    w.run(&[
        "push",
        "--iface",
        "CM001",
        "--period",
        "20241212",
        "--dest",
        "../outbox",
    ])
    .expect_code(2)
    .stderr_has("is not a plain name");
    assert!(!w.join("var").exists(), "nothing was made");
}

#[test]
fn an_unknown_destination_exits_2_naming_the_known_ones() {
    let w = Workdir::bundled("desttypo");
    w.run(&["build", "--iface", "CM001", "--period", "2024121203"])
        .expect_code(0);
    let known = "no destination `outbx` in the configuration (did you mean `outbox`?); known: outbox";
    for (command, extra) in [("push", None), ("push", Some("--dry-run")), ("verify", None)] {
        let mut args = vec![command, "--iface", "CM001", "--period", "2024121203", "--dest", "outbx"];
        args.extend(extra);
        let r = w.run(&args);
        r.expect_code(2).stderr_has("(did you mean `outbox`?)");
        if command == "push" {
            r.stderr_has(known);
        }
    }
    assert!(!w.join("outbox").exists(), "nothing was delivered");
}

#[test]
fn a_local_file_that_grows_while_read_is_read_again_and_never_torn() {
    let w = Workdir::new("growing");
    w.create(
        "chama.toml",
        format!(
            "{}[pull]\nretries = 2\nretry_delay_ms = 50\n",
            crate::harness::LOCAL_CONFIG
        ),
    );
    w.create("interfaces/G1.toml", id_v_spec("G1", "", "", ""));
    let rows: String = (0..100_000).map(|i| format!("{i}\u{1}value-{i}\n")).collect();
    let file = w.create("dumps/g1/2024121200/part-0", &rows);
    // A writer still appending, half a line at a time: any listing may end inside a line.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (stop, file) = (stop.clone(), file.clone());
        std::thread::spawn(move || {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new().append(true).open(&file).unwrap();
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                f.write_all(format!("late{n}\u{1}ha").as_bytes()).unwrap();
                std::thread::sleep(std::time::Duration::from_millis(1));
                f.write_all(b"lf\n").unwrap();
                n += 1;
            }
            n
        })
    };
    let r = w.run(&["build", "--iface", "G1", "--period", "2024121200"]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let late = writer.join().unwrap();
    r.expect_code(1)
        .stderr_has("the file changed while being read (still being written?)")
        .stderr_has("building G1 2024121200 again")
        .stderr_has("gave up after 3 tries");
    w.assert_absent("var/hourly/G1/20241212/00", "no set from a file being written");
    // Once it is written: every whole line, none torn.
    w.run(&["build", "--iface", "G1", "--period", "2024121200"])
        .expect_code(0)
        .stderr_has(&format!(
            "{} rows in, {} out, 0 filtered, 0 rejected",
            100_000 + late,
            100_000 + late
        ));
}

/// A work directory with interface O1 (`id`, `v`, then `clean`, a `[clean]`
/// section) and an hour whose file begins with a BOM and holds a CRLF line
/// end and a NUL byte; built. The built rows, and the run.
fn odd_bytes(name: &str, clean: &str) -> (Vec<String>, crate::harness::Run, Workdir) {
    let w = Workdir::local(name, &[("O1", &id_v_spec("O1", clean, "", ""))]);
    w.create(
        "dumps/o1/2024121200/part-0",
        b"\xEF\xBB\xBF1\x01a\r\n2\x01b\x00c\n3\x01plain\n",
    );
    let r = w.run(&["build", "--iface", "O1", "--period", "2024121200"]);
    r.expect_code(0);
    let out = crate::harness::gunzip(&w.join("var/hourly/O1/20241212/00/o1_20241212_00_0001.dat.gz"));
    // Split on LF alone: `str::lines` would take a CR before it away.
    let rows = String::from_utf8(out)
        .unwrap()
        .split_terminator('\n')
        .map(String::from)
        .collect();
    (rows, r, w)
}

#[test]
fn a_bom_is_stripped_and_nul_and_cr_are_counted_and_said() {
    let (rows, r, w) = odd_bytes("oddbytes", "");
    assert_eq!(
        rows,
        ["1|a\r", "2|b\0c", "3|plain"],
        "the BOM goes; NUL and CR are kept by default"
    );
    r.stderr_has("chama: warning: O1 2024121200: 1 file(s) began with a UTF-8 BOM (stripped)")
        .stderr_has(
            "chama: warning: O1 2024121200: 1 row(s) hold a NUL byte, 1 a CR (kept: `[clean] strip` can remove them)",
        );
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(w.join("var/hourly/O1/20241212/00/manifest.json")).unwrap()).unwrap();
    let c = &m["counts"];
    assert_eq!(
        (
            c["bom_stripped"].as_u64(),
            c["rows_with_nul"].as_u64(),
            c["rows_with_cr"].as_u64()
        ),
        (Some(1), Some(1), Some(1))
    );
    assert_eq!((c["rows_in"].as_u64(), c["rows_out"].as_u64()), (Some(3), Some(3)));
    // The spec's [clean] rule removes them.
    let (rows, _, _) = odd_bytes("oddbytes-clean", "[clean]\nstrip = [\"\\r\", \"\\u0000\"]\n");
    assert_eq!(rows, ["1|a", "2|bc", "3|plain"]);
}

/// Waits (up to 60 s) until `ready` holds, polling.
fn wait_for(what: &str, ready: impl Fn() -> bool) {
    let t = std::time::Instant::now();
    while !ready() {
        assert!(t.elapsed() < std::time::Duration::from_secs(60), "never saw {what}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Every path under `dir` whose name has `needle`.
fn paths_with(dir: &std::path::Path, needle: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.contains(needle) {
                out.push(e.path().display().to_string());
            }
            if e.path().is_dir() {
                stack.push(e.path());
            }
        }
    }
    out
}

/// The last run the ledger recorded: command, code, error.
fn last_run(w: &Workdir) -> (String, Option<i64>, Option<String>) {
    let ledger = chama::ledger::Ledger::open(&w.join("var/ledger.sqlite")).unwrap();
    let r = ledger.runs(None, "").unwrap().pop().expect("a run recorded");
    (r.command, r.ran.code, r.ran.error)
}

/// A work directory with interface B1 (`id`, `v`) whose hour 2024121200 is
/// a few hundred thousand lines, long enough to stop in the middle.
fn big_hour(name: &str) -> Workdir {
    let spec = id_v_spec(
        "B1",
        "",
        "lines_per_file = 20000\n",
        "[delivery]\ndestinations = [\"outbox\"]\nremote_dir = \"/in\"\n",
    );
    let w = Workdir::local(name, &[("B1", &spec)]);
    let rows: String = (0..600_000)
        .map(|i| format!("{i}\u{1}some value of the row {i}\n"))
        .collect();
    w.create("dumps/b1/2024121200/part-0", &rows);
    w
}

#[test]
fn sigterm_stops_a_build_cleans_up_records_it_and_exits_143() {
    let w = big_hour("sigterm-build");
    let child = w.spawn(&["build", "--iface", "B1", "--period", "2024121200", "--jobs", "1"]);
    let day = w.join("var/hourly/B1/20241212");
    wait_for("the hour being built", || !paths_with(&day, ".00.building-").is_empty());
    child.signal("TERM");
    let t = std::time::Instant::now();
    let r = child.wait();
    r.expect_code(143);
    assert!(t.elapsed() < std::time::Duration::from_secs(5), "stopped promptly");
    r.stderr_has("interrupted by SIGTERM")
        .stderr_has("run the same command again to go on");
    assert!(
        paths_with(&w.join("var"), "building").is_empty(),
        "no building directory is left"
    );
    assert!(
        paths_with(&w.join("var"), ".part").is_empty(),
        "no temporary file is left"
    );
    assert!(!day.join("00").exists(), "no set was published");
    let (command, code, error) = last_run(&w);
    assert_eq!((command.as_str(), code), ("build", Some(143)));
    assert!(error.unwrap_or_default().contains("interrupted by SIGTERM"));
    // The same command again finishes the hour.
    w.run(&["build", "--iface", "B1", "--period", "2024121200"])
        .expect_code(0)
        .stderr_has("600000 rows in, 600000 out");
}

#[test]
fn sigint_cuts_a_push_short_with_no_verf_and_the_next_push_resumes() {
    let w = big_hour("sigint-push");
    w.run(&["build", "--iface", "B1", "--period", "2024121200"])
        .expect_code(0);
    let child = w.spawn(&["push", "--iface", "B1", "--period", "2024121200", "--bwlimit", "2M"]);
    let remote = w.join("outbox/in");
    wait_for("an upload under way", || !paths_with(&remote, ".part").is_empty());
    child.stop("INT").expect_code(130).stderr_has("interrupted by SIGINT");
    assert!(paths_with(&remote, ".verf").is_empty(), "no .verf over a set cut short");
    assert_eq!(last_run(&w).1, Some(130));
    w.run(&["push", "--iface", "B1", "--period", "2024121200"])
        .expect_code(0);
    w.run(&[
        "verify",
        "--iface",
        "B1",
        "--period",
        "2024121200",
        "--dest",
        "outbox",
        "--deep",
    ])
    .expect_code(0);
}

#[test]
fn sighup_ends_a_pull_waiting_for_its_hour_with_129() {
    let w = big_hour("sighup-wait");
    let child = w.spawn(&["pull", "--iface", "B1", "--period", "2024121201", "--wait", "10m"]);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    child.signal("HUP");
    let t = std::time::Instant::now();
    child.wait().expect_code(129);
    assert!(t.elapsed() < std::time::Duration::from_secs(3), "the wait ends at once");
}

#[test]
fn clean_removes_what_killed_runs_left_and_only_that() {
    let w = Workdir::bundled("clean-abandoned");
    let gone = 999_999; // no such process
    for p in [
        format!("var/hourly/CM001/20241212/.03.building-{gone}/x.dat.gz"),
        format!("var/hourly/CM001/20241212/.04.old-{gone}/manifest.json"),
        format!("var/out/CM001/.20241212.building-{gone}/y.verf"),
        format!("var/rerun/CM001/20241212-{gone}/hourly/z"),
    ] {
        w.create(&p, "left behind");
    }
    w.create(format!("var/rejects/CM001/20241212/.05.rej.gz.building-{gone}"), "x");
    // Ours, still running: stays.
    let mine = format!("var/hourly/CM001/20241212/.06.building-{}/a", std::process::id());
    w.create(&mine, "in use");
    w.run(&["clean", "--dry-run"])
        .expect_code(0)
        .stdout_has(&format!(
            "would remove var/hourly/CM001/20241212/.03.building-{gone} (left by process {gone}, which is gone)"
        ))
        .stderr_has("would remove 5 hidden entr(ies) left by killed runs");
    w.run(&["clean"])
        .expect_code(0)
        .stdout_has(&format!("(left by process {gone}, which is gone)"))
        .stderr_has("removed 5 hidden entr(ies) left by killed runs");
    let left = paths_with(&w.join("var"), &gone.to_string());
    assert!(left.is_empty(), "{left:?}");
    assert!(w.join(&mine).exists(), "a live process's directory stays");
    assert!(!w.join("var/rerun").exists(), "an emptied rerun/ goes");
}
