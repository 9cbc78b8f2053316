//! Sources against a real HDFS 2.7.3 started by scripts/test.sh (scripts/hdfs.sh):
//! the native `hdfs` kind and the `hdfs-cli` kind (Hadoop's own FsShell), each
//! test run against both.
//!
//! Without a cluster (plain `cargo test`), these tests say so and pass; with
//! CHAMA_REQUIRE_HDFS=1 (as scripts/test.sh sets), a missing cluster fails them.

use std::fs;
use std::path::Path;
use std::process::Command;

use crate::harness::{repo_root, Workdir};

/// The `hdfs` wrapper, or `None` (and a note) when no cluster runs here.
fn cluster() -> Option<String> {
    match std::env::var("CHAMA_TEST_HDFS_CLI") {
        Ok(cli) if !cli.is_empty() => Some(cli),
        _ => {
            assert!(
                std::env::var("CHAMA_REQUIRE_HDFS").is_err(),
                "CHAMA_REQUIRE_HDFS is set but no HDFS runs (scripts/hdfs.sh start)"
            );
            eprintln!("no HDFS here (run scripts/test.sh): skipping");
            None
        }
    }
}

fn dfs(cli: &str, args: &[&str]) {
    let out = Command::new(cli).arg("dfs").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "hdfs dfs {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const KINDS: [&str; 2] = ["hdfs", "hdfs-cli"];

/// A configuration whose default source is `kind` on the test cluster, or on
/// a port where no NameNode listens when `down`.
fn config(kind: &str, cli: &str, root: &str, down: bool) -> String {
    let port = if down { 19999 } else { 19000 };
    let source = match kind {
        "hdfs" => format!("kind = \"hdfs\"\nnamenode = \"hdfs://127.0.0.1:{port}\"\ntimeout_seconds = 5"),
        _ => format!("kind = \"hdfs-cli\"\ncommand = \"{cli} dfs -fs hdfs://127.0.0.1:{port}\""),
    };
    format!(
        "work_dir = \"var\"\ninterfaces_dir = \"{}/interfaces\"\n[pull]\nretries = 1\nretry_delay_ms = 50\n[sources.default]\n{source}\nroot = \"{root}\"\n[destinations.outbox]\nkind = \"local\"\nroot = \"outbox\"\n",
        repo_root().display()
    )
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".gz"))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn hdfs_pull_and_build_give_the_same_bytes_as_local() {
    let Some(cli) = cluster() else { return };
    for kind in KINDS {
        pull_and_build(kind, &cli);
    }
}

fn pull_and_build(kind: &str, cli: &str) {
    let cli = cli.to_string();
    let root = format!("/chama-test/{}-{kind}", std::process::id());
    let hour = repo_root().join("testdata/dumps/cm001/dt=2024-12-12/hour=07");
    dfs(&cli, &["-mkdir", "-p", &format!("{root}/cm001/dt=2024-12-12")]);
    dfs(
        &cli,
        &["-put", hour.to_str().unwrap(), &format!("{root}/cm001/dt=2024-12-12/")],
    );

    let w = Workdir::new(kind);
    w.create("chama.toml", config(kind, &cli, &root, false));
    w.run(&["pull", "--iface", "CM001", "--period", "2024121207"])
        .expect_code(0)
        .stderr_has("2 file(s), 2 copied");
    let staged = w.join("var/staging/CM001/20241212/07");
    for f in ["part-00000.gz", "part-00001.gz"] {
        assert_eq!(
            fs::read(staged.join(f)).unwrap(),
            fs::read(hour.join(f)).unwrap(),
            "{f}"
        );
    }
    assert!(staged.join("_SUCCESS").exists());
    w.run(&["pull", "--iface", "CM001", "--period", "2024121207"])
        .expect_code(0)
        .stderr_has("0 copied (0 bytes), 2 already staged");

    // Built from HDFS or from local disk: the same files, byte for byte.
    w.run(&["build", "--iface", "CM001", "--period", "2024121207"])
        .expect_code(0);
    let local = Workdir::new("hdfs-cli-local");
    let mut cmd = local.command(&["build", "--iface", "CM001", "--period", "2024121207"]);
    cmd.current_dir(repo_root()).env("CHAMA_CONFIG", local.create("chama.toml", format!(
        "work_dir = \"{}\"\ninterfaces_dir = \"{}/interfaces\"\n[sources.default]\nkind = \"local\"\nroot = \"{}/testdata/dumps\"\n[destinations.outbox]\nkind = \"local\"\nroot = \"outbox\"\n",
        local.join("var").display(), repo_root().display(), repo_root().display()
    )));
    local.run_cmd(cmd).expect_code(0);
    let a = files(&w.join("var/hourly/CM001/20241212/07"));
    assert!(a.len() >= 10);
    assert_eq!(a, files(&local.join("var/hourly/CM001/20241212/07")));
}

#[test]
fn hdfs_missing_and_unready_hours_exit_3() {
    let Some(cli) = cluster() else { return };
    let root = format!("/chama-test/{}-nr", std::process::id());
    for kind in KINDS {
        let w = Workdir::new(kind);
        w.create("chama.toml", config(kind, &cli, &root, false));
        w.run(&["pull", "--iface", "CM001", "--period", "2024121208"])
            .expect_code(3)
            .stderr_has(&format!("{root}/cm001/dt=2024-12-12/hour=08 does not exist"));
    }
    let w = Workdir::new("nr");
    let local = w.create("h/part-00000", "x\n");
    dfs(&cli, &["-mkdir", "-p", &format!("{root}/cm001/dt=2024-12-12/hour=08")]);
    dfs(
        &cli,
        &[
            "-put",
            local.to_str().unwrap(),
            &format!("{root}/cm001/dt=2024-12-12/hour=08/"),
        ],
    );
    for kind in KINDS {
        w.create("chama.toml", config(kind, &cli, &root, false));
        w.run(&["pull", "--iface", "CM001", "--period", "2024121208"])
            .expect_code(3)
            .stderr_has("hour not ready: no _SUCCESS in");
    }
}

#[test]
fn hdfs_unreachable_namenode_exits_1_naming_it_without_hanging() {
    let Some(cli) = cluster() else { return };
    let cases = [
        ("hdfs", "listing on hdfs://127.0.0.1:19999: no answer within 5 s"),
        ("hdfs-cli", "cannot reach HDFS through"),
    ];
    for (kind, says) in cases {
        let w = Workdir::new(kind);
        w.create("chama.toml", config(kind, &cli, "/x", true));
        let t = std::time::Instant::now();
        w.run(&["pull", "--iface", "CM001", "--period", "2024121209"])
            .expect_code(1)
            .stderr_has(says);
        assert!(
            t.elapsed() < std::time::Duration::from_secs(60),
            "{kind}: no hang: {:?}",
            t.elapsed()
        );
    }
}
