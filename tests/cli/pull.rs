//! `chama pull`: an hour copied into staging, verified, and not copied twice.

use std::fs;
use std::time::{Duration, Instant};

use crate::harness::{names_in, Workdir, LOCAL_CONFIG};

const PULL: &str = "[pull]\njobs = 3\nretries = 2\nretry_delay_ms = 10\npoll_seconds = 1\n";

const SPEC: &str = r#"name = "T1"
[input]
path = "t1/dt={date_iso}/hour={hour}"
columns = ["id", "prov"]
ready_marker = "_SUCCESS"
[transform]
sql = "SELECT id, prov FROM input"
[output]
file_name = "a_{date}_T1_{batch}_{seq}.dat.gz"
verf_name = "a_{date}_T1_{batch}.verf"
"#;

fn setup(name: &str) -> Workdir {
    let w = Workdir::new(name);
    w.create("chama.toml", format!("{LOCAL_CONFIG}{PULL}"));
    w.create("interfaces/T1.toml", SPEC);
    w
}

const SRC: &str = "dumps/t1/dt=2024-12-12/hour=04";
const STAGED: &str = "var/staging/T1/20241212/04";

#[test]
fn pull_copies_the_hour_then_skips_what_is_staged_unchanged() {
    let w = setup("pull");
    for i in 0..5 {
        w.create(
            format!("{SRC}/part-{i:05}"),
            format!("{i}\u{1}250\n").repeat(1000 * (i + 1)),
        );
    }
    w.create(format!("{SRC}/_SUCCESS"), "");
    w.run(&["pull", "--iface", "T1", "--period", "2024121204"])
        .expect_code(0)
        .stderr_has("5 file(s), 5 copied");
    for i in 0..5 {
        assert_eq!(
            fs::read(w.join(format!("{STAGED}/part-{i:05}"))).unwrap(),
            fs::read(w.join(format!("{SRC}/part-{i:05}"))).unwrap()
        );
    }
    assert!(
        w.join(format!("{STAGED}/_SUCCESS")).exists(),
        "the staged hour carries its marker"
    );

    let r = w.run(&["pull", "--iface", "T1", "--period", "2024121204", "--json"]);
    r.expect_code(0);
    let j = r.json();
    assert_eq!(
        (j["hours"][0]["copied"].as_u64(), j["hours"][0]["skipped"].as_u64()),
        (Some(0), Some(5))
    );

    // A changed file is copied again; a file gone from the source leaves staging.
    std::thread::sleep(Duration::from_millis(20));
    w.create(format!("{SRC}/part-00002"), "changed\u{1}250\n");
    fs::remove_file(w.join(format!("{SRC}/part-00004"))).unwrap();
    w.run(&["pull", "--iface", "T1", "--period", "2024121204"])
        .expect_code(0)
        .stderr_has("4 file(s), 1 copied");
    assert_eq!(
        fs::read_to_string(w.join(format!("{STAGED}/part-00002"))).unwrap(),
        "changed\u{1}250\n"
    );
    assert!(!w.join(format!("{STAGED}/part-00004")).exists());
    let left = names_in(&w.join(STAGED));
    assert!(left.iter().all(|n| !n.ends_with(".part")), "{left:?}");
}

#[test]
fn pull_exits_3_for_an_hour_that_is_not_ready_and_waits_when_asked() {
    let w = setup("pull-wait");
    w.create(format!("{SRC}/part-00000"), "1\u{1}250\n");
    w.run(&["pull", "--iface", "T1", "--period", "2024121204"])
        .expect_code(3)
        .stderr_has("hour not ready: no _SUCCESS in");
    assert!(!w.join(STAGED).exists());

    let marker = w.join(format!("{SRC}/_SUCCESS"));
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        fs::write(marker, "").unwrap();
    });
    let t = Instant::now();
    w.run(&["pull", "--iface", "T1", "--period", "2024121204", "--wait", "30s"])
        .expect_code(0)
        .stderr_has("1 copied");
    writer.join().unwrap();
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(1400) && took < Duration::from_secs(10),
        "waited {took:?}"
    );

    // Waiting has a limit: past it, exit 3.
    let t = Instant::now();
    w.run(&["pull", "--iface", "T1", "--period", "2024121205", "--wait", "2s"])
        .expect_code(3)
        .stderr_has("no input for this hour");
    assert!(t.elapsed() >= Duration::from_secs(1));
}
