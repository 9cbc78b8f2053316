//! One source suite, run against every source kind: `local`, and a real HDFS
//! 2.7.3 started by scripts/test.sh (scripts/hdfs.sh) through the native
//! `hdfs` kind and the `hdfs-cli` kind (Hadoop's own FsShell).
//!
//! The same two kinds run again on a Kerberized HDFS (scripts/krb.sh) with
//! chama's own keytab: `hdfs+krb` and `hdfs-cli+krb`.
//!
//! Without a cluster (plain `cargo test`), the HDFS kinds say so and are
//! skipped; with CHAMA_REQUIRE_HDFS=1 and CHAMA_REQUIRE_KRB=1 (as
//! scripts/test.sh sets), a missing cluster fails them.

use std::fs;
use std::path::Path;
use std::process::Command;

use crate::harness::{env_or_skip, field_strs, names_in, repo_root, Workdir};

/// The `hdfs` wrapper, or `None` (and a note) when no cluster runs here.
fn cluster() -> Option<String> {
    env_or_skip(
        "CHAMA_TEST_HDFS_CLI",
        |cli| !cli.is_empty(),
        "CHAMA_REQUIRE_HDFS",
        "no HDFS runs (scripts/hdfs.sh start)",
    )
}

/// The Kerberized cluster of scripts/krb.sh, if it runs: its `hdfs` wrapper.
pub(crate) fn secure() -> Option<String> {
    env_or_skip(
        "CHAMA_TEST_SECURE_CLI",
        |cli| !cli.is_empty(),
        "CHAMA_REQUIRE_KRB",
        "no Kerberized HDFS runs (scripts/krb.sh start)",
    )
}

/// A variable scripts/krb.sh exports.
pub(crate) fn krb(var: &str) -> String {
    std::env::var(format!("CHAMA_TEST_{var}")).unwrap_or_else(|_| panic!("CHAMA_TEST_{var} (scripts/krb.sh)"))
}

fn dfs(cli: &str, args: &[&str]) {
    let mut cmd = Command::new(cli);
    if std::env::var("CHAMA_TEST_SECURE_CLI").is_ok_and(|s| s == cli) {
        // The superuser's ticket, and the test realm.
        cmd.env("KRB5CCNAME", krb("KRB_ADMIN_CC"))
            .env("KRB5_CONFIG", krb("KRB5_CONFIG"));
    }
    let out = cmd.arg("dfs").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "hdfs dfs {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const HDFS_KINDS: [&str; 2] = ["hdfs", "hdfs-cli"];

/// The same two kinds on the Kerberized cluster, each with chama's keytab.
pub(crate) const SECURE_KINDS: [&str; 2] = ["hdfs+krb", "hdfs-cli+krb"];

/// Where a test's hours live for one source kind: a local directory, or a
/// directory of its own on the test cluster (the Kerberized one for the
/// `+krb` kinds).
pub(crate) struct Site {
    pub(crate) kind: &'static str,
    /// The `hdfs` wrapper (HDFS kinds only).
    cli: String,
    /// The source's root: a local path or an HDFS path.
    root: String,
    _local: Option<Workdir>,
}

impl Site {
    /// One site per kind this machine can run: `local` always, the HDFS kinds when a cluster runs.
    fn all(tag: &str) -> Vec<Site> {
        let mut v = vec![Site::local(tag)];
        if let Some(cli) = cluster() {
            v.extend(HDFS_KINDS.iter().map(|k| Site::hdfs(k, &cli, tag)));
        }
        if let Some(cli) = secure() {
            v.extend(SECURE_KINDS.iter().map(|k| Site::hdfs(k, &cli, tag)));
        }
        v
    }

    fn local(tag: &str) -> Site {
        let w = Workdir::new(&format!("src-{tag}"));
        Site {
            kind: "local",
            cli: String::new(),
            root: w.path().display().to_string(),
            _local: Some(w),
        }
    }

    pub(crate) fn hdfs(kind: &'static str, cli: &str, tag: &str) -> Site {
        let top = if kind.ends_with("+krb") {
            "/chama"
        } else {
            "/chama-test"
        };
        Site {
            kind,
            cli: cli.to_string(),
            root: format!("{top}/{}-{tag}-{}", std::process::id(), kind.replace('+', "-")),
            _local: None,
        }
    }

    /// Makes `rel` (a directory under the root) hold `files` (names may have subdirectories).
    pub(crate) fn put(&self, rel: &str, files: &[(&str, &[u8])]) {
        let dir = format!("{}/{rel}", self.root);
        if self.kind == "local" {
            fs::create_dir_all(&dir).unwrap();
            for (name, body) in files {
                let p = Path::new(&dir).join(name);
                fs::create_dir_all(p.parent().unwrap()).unwrap();
                fs::write(p, body).unwrap();
            }
            return;
        }
        let nested: Vec<&(&str, &[u8])> = files.iter().filter(|(n, _)| n.contains('/')).collect();
        if !nested.is_empty() {
            for (name, body) in nested {
                let (sub, base) = name.rsplit_once('/').unwrap();
                self.put(&format!("{rel}/{sub}"), &[(base, body)]);
            }
            let flat: Vec<(&str, &[u8])> = files.iter().filter(|(n, _)| !n.contains('/')).copied().collect();
            return self.put(rel, &flat);
        }
        let tmp = Workdir::new("put");
        for (name, body) in files {
            tmp.create(name, body);
        }
        dfs(&self.cli, &["-mkdir", "-p", &dir]);
        if !files.is_empty() {
            let mut args: Vec<String> = vec!["-put".into(), "-f".into()];
            args.extend(files.iter().map(|(n, _)| tmp.join(n).display().to_string()));
            args.push(format!("{dir}/"));
            dfs(&self.cli, &args.iter().map(String::as_str).collect::<Vec<_>>());
        }
    }

    /// A configuration whose default source is this site; `pull` is the `[pull]` section's body.
    pub(crate) fn config(&self, pull: &str) -> String {
        self.config_with(&self.source(19000), pull)
    }

    pub(crate) fn source(&self, port: u16) -> String {
        let keys = || {
            format!(
                "hadoop_conf_dir = \"{}\"\nprincipal = \"chama@EXAMPLE.TEST\"\nkeytab = \"{}/keytabs/chama.keytab\"",
                krb("SECURE_CONF"),
                krb("KRB_DIR")
            )
        };
        match self.kind {
            "local" => "kind = \"local\"".to_string(),
            "hdfs+krb" => format!(
                "kind = \"hdfs\"\nnamenode = \"{}\"\ntimeout_seconds = 5\n{}",
                krb("SECURE_URL"),
                keys()
            ),
            "hdfs-cli+krb" => format!("kind = \"hdfs-cli\"\ncommand = \"{} dfs\"\n{}", self.cli, keys()),
            "hdfs" => format!("kind = \"hdfs\"\nnamenode = \"hdfs://127.0.0.1:{port}\"\ntimeout_seconds = 5"),
            _ => format!(
                "kind = \"hdfs-cli\"\ncommand = \"{} dfs -fs hdfs://127.0.0.1:{port}\"",
                self.cli
            ),
        }
    }

    pub(crate) fn config_with(&self, source: &str, pull: &str) -> String {
        format!(
            "work_dir = \"var\"\ninterfaces_dir = \"{}/interfaces\"\n[pull]\n{pull}\n[sources.default]\n{source}\nroot = \"{}\"\n[destinations.outbox]\nkind = \"local\"\nroot = \"outbox\"\n",
            repo_root().display(),
            self.root
        )
    }
}

pub(crate) const FAST: &str = "retries = 1\nretry_delay_ms = 50\npoll_seconds = 1";

/// The files of one bundled test hour.
pub(crate) fn bundled_hour(hh: &str) -> Vec<(String, Vec<u8>)> {
    files(
        &repo_root().join(format!("testdata/dumps/cm001/dt=2024-12-12/hour={hh}")),
        "",
    )
}

pub(crate) fn refs(files: &[(String, Vec<u8>)]) -> Vec<(&str, &[u8])> {
    files.iter().map(|(n, b)| (n.as_str(), b.as_slice())).collect()
}

/// The files in `dir` whose names end with `suffix`, with their bytes, by name.
pub(crate) fn files(dir: &Path, suffix: &str) -> Vec<(String, Vec<u8>)> {
    names_in(dir)
        .into_iter()
        .filter(|n| n.ends_with(suffix))
        .map(|n| (n.clone(), fs::read(dir.join(&n)).unwrap()))
        .collect()
}

/// The bundled hour `hh` built straight from local disk: what every kind must match.
pub(crate) fn reference_hour(tag: &str, hh: &str) -> (Workdir, Vec<(String, Vec<u8>)>) {
    let reference = Workdir::bundled(tag);
    reference
        .run(&["build", "--iface", "CM001", "--period", &format!("20241212{hh}")])
        .expect_code(0);
    let expected = files(&reference.join(format!("var/hourly/CM001/20241212/{hh}")), ".gz");
    (reference, expected)
}

#[test]
fn every_kind_pulls_and_builds_the_same_bytes() {
    let _one = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    // The reference: a build straight from the bundled day on local disk.
    let (_reference, expected) = reference_hour("src-ref", "07");
    assert!(expected.len() >= 10);

    let hour = bundled_hour("07");
    for site in Site::all("same") {
        pull_and_build(&site, &hour, &expected);
    }
}

fn pull_and_build(site: &Site, hour: &[(String, Vec<u8>)], expected: &[(String, Vec<u8>)]) {
    let kind = site.kind;
    site.put("cm001/dt=2024-12-12/hour=07", &refs(hour));
    let w = Workdir::new(kind);
    w.create("chama.toml", site.config(FAST));
    w.run(&["pull", "--iface", "CM001", "--period", "2024121207"])
        .expect_code(0)
        .stderr_has("2 file(s), 2 copied");
    let staged = w.join("var/staging/CM001/20241212/07");
    for (name, body) in hour {
        assert_eq!(&fs::read(staged.join(name)).unwrap(), body, "{kind}: {name}");
    }
    w.run(&["pull", "--iface", "CM001", "--period", "2024121207"])
        .expect_code(0)
        .stderr_has("0 copied (0 bytes), 2 already staged");

    // Built from this kind or from the bundled day: the same files, byte for byte.
    w.run(&["build", "--iface", "CM001", "--period", "2024121207"])
        .expect_code(0);
    assert_eq!(
        files(&w.join("var/hourly/CM001/20241212/07"), ".gz"),
        expected,
        "{kind}"
    );

    // Streamed without staging: the same bytes again, and nothing staged.
    build_unstaged(site, "nostage", "07", expected);
}

/// Builds hour `hh` of the bundled day from `site` with `--no-stage`: the
/// files are `expected`, byte for byte, and nothing is staged.
fn build_unstaged(site: &Site, tag: &str, hh: &str, expected: &[(String, Vec<u8>)]) {
    let kind = site.kind;
    let ns = Workdir::new(&format!("{kind}-{tag}"));
    ns.create("chama.toml", site.config(FAST));
    ns.run(&[
        "build",
        "--iface",
        "CM001",
        "--period",
        &format!("20241212{hh}"),
        "--no-stage",
    ])
    .expect_code(0);
    assert!(!ns.join("var/staging").exists(), "{kind}: --no-stage stages nothing");
    assert_eq!(
        files(&ns.join(format!("var/hourly/CM001/20241212/{hh}")), ".gz"),
        expected,
        "{kind}: --no-stage"
    );
}

#[test]
fn every_kind_reads_hive_subdirectories_and_skips_hidden_ones() {
    let _one = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    // The reference: the bundled hour 09 as it is, from local disk.
    let (_reference, expected) = reference_hour("src-sub-ref", "09");

    // The same two files as Hive on Tez lays out a UNION ALL insert, beside
    // what Hive's reader skips: a failed attempt, a staging directory, hidden files.
    let hour: Vec<(String, Vec<u8>)> = bundled_hour("09")
        .into_iter()
        .filter(|(n, _)| !n.starts_with('_'))
        .collect();
    let junk: &[u8] = b"junk\x01that must not be read\n";
    let laid_out: Vec<(String, Vec<u8>)> = vec![
        (format!("HIVE_UNION_SUBDIR_1/{}", hour[0].0), hour[0].1.clone()),
        (format!("HIVE_UNION_SUBDIR_2/{}", hour[1].0), hour[1].1.clone()),
        ("_temporary/0/_temporary/attempt_1/part-00000".into(), junk.to_vec()),
        (
            ".hive-staging_hive_2024-12-12_09-00-00_1/-ext-10000/000000_0".into(),
            junk.to_vec(),
        ),
        ("HIVE_UNION_SUBDIR_1/.part-00000.crc".into(), junk.to_vec()),
        ("HIVE_UNION_SUBDIR_2/_SUCCESS".into(), Vec::new()),
        ("_SUCCESS".into(), Vec::new()),
    ];
    assert_eq!(hour.len(), 2, "two data files");
    for site in Site::all("sub") {
        let kind = site.kind;
        site.put("cm001/dt=2024-12-12/hour=09", &refs(&laid_out));
        let w = Workdir::new(&format!("{kind}-sub"));
        w.create("chama.toml", site.config(FAST));
        w.run(&["build", "--iface", "CM001", "--period", "2024121209", "--json"])
            .expect_code(0);
        assert_eq!(
            files(&w.join("var/hourly/CM001/20241212/09"), ".gz"),
            expected,
            "{kind}"
        );
        let manifest: serde_json::Value =
            serde_json::from_slice(&fs::read(w.join("var/hourly/CM001/20241212/09/manifest.json")).unwrap()).unwrap();
        let inputs = field_strs(&manifest["inputs"], "name");
        assert_eq!(
            inputs,
            [laid_out[0].0.as_str(), laid_out[1].0.as_str()],
            "{kind}: the subdirectories' files, in order, and nothing else"
        );
        if kind != "local" {
            let staged = w.join("var/staging/CM001/20241212/09");
            assert_eq!(
                fs::read(staged.join(&laid_out[0].0)).unwrap(),
                hour[0].1,
                "{kind}: staged in its subdirectory"
            );
            assert!(!staged.join("_temporary").exists(), "{kind}: _temporary is not pulled");
            build_unstaged(&site, "sub-nostage", "09", &expected);
        }
    }
}

#[test]
fn every_kind_exits_3_for_a_missing_or_unready_hour() {
    let _one = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    for site in Site::all("nr") {
        let w = Workdir::new(site.kind);
        w.create("chama.toml", site.config(FAST));
        w.run(&["pull", "--iface", "CM001", "--period", "2024121208"])
            .expect_code(3)
            .stderr_has("/cm001/dt=2024-12-12/hour=08 does not exist");
        site.put("cm001/dt=2024-12-12/hour=08", &[("part-00000", b"x\n")]);
        w.run(&["pull", "--iface", "CM001", "--period", "2024121208"])
            .expect_code(3)
            .stderr_has("hour not ready: no _SUCCESS in");
        assert!(!w.join("var/staging/CM001/20241212/08/part-00000").exists());
    }
}

#[test]
fn every_kind_waits_for_a_marker_that_appears_later() {
    let _one = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    let hour = bundled_hour("09");
    let data: Vec<(String, Vec<u8>)> = hour.iter().filter(|(n, _)| !n.starts_with('_')).cloned().collect();
    for site in Site::all("late") {
        let kind = site.kind;
        site.put("cm001/dt=2024-12-12/hour=09", &refs(&data));
        let w = Workdir::new(kind);
        w.create("chama.toml", site.config(FAST));
        let started = std::time::Instant::now();
        let pull = w.spawn(&["pull", "--iface", "CM001", "--period", "2024121209", "--wait", "60s"]);
        // The marker comes two seconds after the pull started waiting.
        std::thread::sleep(std::time::Duration::from_secs(2));
        w.assert_absent(
            "var/staging/CM001/20241212/09/_SUCCESS",
            &format!("{kind}: nothing before the marker"),
        );
        site.put("cm001/dt=2024-12-12/hour=09", &[("_SUCCESS", b"")]);
        pull.wait().expect_code(0).stderr_has("2 copied");
        assert!(started.elapsed() >= std::time::Duration::from_secs(2), "{kind}");
        for (name, body) in &data {
            assert_eq!(
                &fs::read(w.join(format!("var/staging/CM001/20241212/09/{name}"))).unwrap(),
                body,
                "{kind}: {name}"
            );
        }
        assert!(w.join("var/staging/CM001/20241212/09/_SUCCESS").exists(), "{kind}");
    }
}

#[test]
fn hdfs_unreachable_namenode_exits_1_naming_it_without_hanging() {
    let Some(cli) = cluster() else { return };
    let _one = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    let cases = [
        ("hdfs", "listing on hdfs://127.0.0.1:19999: no answer within 5 s"),
        ("hdfs-cli", "cannot reach HDFS through"),
    ];
    for (kind, says) in cases {
        let site = Site::hdfs(kind, &cli, "down");
        let w = Workdir::new(kind);
        w.create("chama.toml", site.config_with(&site.source(19999), FAST));
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

/// HDFS tests share one cluster, and one of them kills its DataNode: one at a time.
pub(crate) static CLUSTER: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn run_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(std::env::var("CHAMA_TEST_HDFS_RUN").expect("CHAMA_TEST_HDFS_RUN"))
}

fn kill_datanode() {
    let pid = fs::read_to_string(run_dir().join("dn.pid")).unwrap().trim().to_string();
    Command::new("kill").args(["-9", &pid]).status().unwrap();
    while Command::new("kill").args(["-0", &pid]).status().unwrap().success() {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn start_datanode() {
    assert!(Command::new(run_dir().join("start-dn.sh")).status().unwrap().success());
}

/// A small file the DataNode must serve for [`wait_datanode`] to return.
fn put_probe(cli: &str) {
    let w = Workdir::new("probe");
    dfs(cli, &["-mkdir", "-p", "/chama-test"]);
    dfs(
        cli,
        &[
            "-put",
            "-f",
            w.create("probe", "ok").to_str().unwrap(),
            "/chama-test/probe",
        ],
    );
}

/// Waits until the NameNode sees a live DataNode again.
fn wait_datanode(cli: &str) {
    for _ in 0..120 {
        let out = Command::new(cli)
            .args(["dfs", "-cat", "/chama-test/probe"])
            .output()
            .unwrap();
        if out.status.success() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    panic!("the DataNode did not come back");
}

#[test]
fn hdfs_pull_survives_a_datanode_restart_and_names_the_file_when_retries_run_out() {
    let Some(cli) = cluster() else { return };
    let _one = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    let w = Workdir::new("hdfs-dn");
    // Three files of 4 MB, and a probe file to tell when reads work again.
    let hour: Vec<(String, Vec<u8>)> = (0..3u32)
        .map(|i| {
            let body: Vec<u8> = (0..4_000_000u32)
                .map(|k| (k.wrapping_mul(2_654_435_761).wrapping_add(i) >> 24) as u8)
                .collect();
            (format!("part-{i:05}"), body)
        })
        .chain([("_SUCCESS".to_string(), vec![])])
        .collect();
    put_probe(&cli);
    let sites = HDFS_KINDS.map(|k| Site::hdfs(k, &cli, "dn"));
    for site in &sites {
        site.put("cm001/dt=2024-12-12/hour=10", &refs(&hour));
    }

    for site in &sites {
        let kind = site.kind;
        w.create(
            "chama.toml",
            site.config("retries = 8\nretry_delay_ms = 500\nmax_retry_delay_ms = 3000"),
        );
        let _ = fs::remove_dir_all(w.join("var"));
        kill_datanode();
        let restart = std::thread::spawn(|| {
            std::thread::sleep(std::time::Duration::from_secs(2));
            start_datanode();
        });
        let r = w.run(&["pull", "--iface", "CM001", "--period", "2024121210", "--json"]);
        restart.join().unwrap();
        r.expect_code(0);
        let j = r.json();
        // The site's client waits out a short DataNode outage by itself; the native one fails and chama retries.
        if kind == "hdfs" {
            assert!(
                j["hours"][0]["retries"].as_u64().unwrap() > 0,
                "the DataNode was down, so reads were retried"
            );
        }
        for (name, body) in hour.iter().filter(|(n, _)| n.starts_with("part-")) {
            assert_eq!(
                &fs::read(w.join(format!("var/staging/CM001/20241212/10/{name}"))).unwrap(),
                body,
                "{kind} {name}"
            );
        }
        wait_datanode(&cli);
    }

    // With the DataNode gone for good, the pull gives up naming the file.
    for site in &sites {
        let kind = site.kind;
        w.create("chama.toml", site.config(FAST));
        let _ = fs::remove_dir_all(w.join("var"));
        kill_datanode();
        let r = w.run(&["pull", "--iface", "CM001", "--period", "2024121210"]);
        start_datanode();
        r.expect_code(1)
            .stderr_has("pulling ")
            .stderr_has("/cm001/dt=2024-12-12/hour=10/part-0000")
            .stderr_has("gave up after 2 tries");
        let staged = w.join("var/staging/CM001/20241212/10");
        let parts: Vec<String> = if staged.exists() { names_in(&staged) } else { vec![] }
            .into_iter()
            .filter(|n| n.ends_with(".part") || n == "_SUCCESS")
            .collect();
        assert!(parts.is_empty(), "{kind}: no .part and no marker left: {parts:?}");
        wait_datanode(&cli);
    }
}

/// A file that grows between the listing and the read is read again, never
/// taken at the listed size. `hdfs-cli`: the client wrapper appends to the
/// file right before chama's first `-cat` of it. `hdfs`: the first read
/// fails (DataNode down), and during chama's backoff the DataNode comes back
/// and the file grows, so the retry reads more than was listed.
#[test]
fn hdfs_a_file_that_grows_after_its_listing_is_read_again_not_taken() {
    let Some(cli) = cluster() else { return };
    let _one = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    put_probe(&cli);
    let w = Workdir::new("grow");
    let first: Vec<u8> = b"1\x01first\n".repeat(50_000);
    let extra: Vec<u8> = b"2\x01appended\n".repeat(20_000);
    let extra_file = w.create("extra", &extra);
    let whole = [first.clone(), extra.clone()].concat();
    let hour = "cm001/dt=2024-12-12/hour=12";

    // hdfs-cli: a client that makes the file grow just before its first read.
    let site = Site::hdfs("hdfs-cli", &cli, "grow");
    site.put(hour, &[("part-00000", &first), ("_SUCCESS", b"")]);
    let wrapper = w.create(
        "grow-hdfs",
        format!(
            "#!/bin/sh\n[ \"$1\" = dfs ] && shift\nif [ \"$1\" = -cat ] && [ ! -e {flag} ]; then\n  touch {flag}\n  {cli} dfs -appendToFile {extra} \"$2\" || exit 9\nfi\nexec {cli} dfs \"$@\"\n",
            flag = w.join("appended").display(),
            extra = extra_file.display()
        ),
    );
    Command::new("chmod").arg("+x").arg(&wrapper).status().unwrap();
    w.create(
        "chama.toml",
        site.config_with(
            &format!("kind = \"hdfs-cli\"\ncommand = \"{} dfs\"", wrapper.display()),
            "retries = 2\nretry_delay_ms = 100",
        ),
    );
    let r = w.run(&["pull", "--iface", "CM001", "--period", "2024121212", "--json"]);
    r.expect_code(0);
    assert!(w.join("appended").exists(), "the wrapper made the file grow");
    let j = r.json();
    assert_eq!(j["hours"][0]["retries"].as_u64(), Some(1), "hdfs-cli: one more read");
    assert_eq!(
        fs::read(w.join("var/staging/CM001/20241212/12/part-00000")).unwrap(),
        whole,
        "hdfs-cli"
    );

    // hdfs: the file grows while chama waits to retry a failed read.
    let site = Site::hdfs("hdfs", &cli, "grow");
    site.put(hour, &[("part-00000", &first), ("_SUCCESS", b"")]);
    let _ = fs::remove_dir_all(w.join("var"));
    w.create(
        "chama.toml",
        site.config("retries = 3\nretry_delay_ms = 24000\nmax_retry_delay_ms = 24000"),
    );
    kill_datanode();
    let pull = w.spawn(&["pull", "--iface", "CM001", "--period", "2024121212", "--json"]);
    std::thread::sleep(std::time::Duration::from_secs(1));
    start_datanode();
    wait_datanode(&cli);
    dfs(
        &cli,
        &[
            "-appendToFile",
            extra_file.to_str().unwrap(),
            &format!("{}/{hour}/part-00000", site.root),
        ],
    );
    let r = pull.wait();
    r.expect_code(0);
    let j = r.json();
    assert_eq!(
        j["hours"][0]["retries"].as_u64(),
        Some(2),
        "hdfs: a failed read, then a read longer than the listing"
    );
    assert_eq!(
        fs::read(w.join("var/staging/CM001/20241212/12/part-00000")).unwrap(),
        whole,
        "hdfs"
    );
}

/// A directory the user may not read: exit 1 naming the path, not "missing" or "empty".
#[test]
fn hdfs_permission_denied_exits_1_naming_the_path() {
    let Some(cli) = cluster() else { return };
    let _one = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    for kind in HDFS_KINDS {
        let site = Site::hdfs(kind, &cli, "perm");
        let hour = "cm001/dt=2024-12-12/hour=13";
        site.put(hour, &[("part-00000", b"1\x01x\n"), ("_SUCCESS", b"")]);
        dfs(&cli, &["-chmod", "700", &format!("{}/{hour}", site.root)]);
        let w = Workdir::new(kind);
        w.create("chama.toml", site.config(FAST));
        let mut cmd = w.command(&["pull", "--iface", "CM001", "--period", "2024121213"]);
        cmd.env("HADOOP_USER_NAME", "intruder");
        w.run_cmd(cmd)
            .expect_code(1)
            .stderr_has(&format!("{}/{hour}", site.root))
            .stderr_has("Permission denied");
        // The owner reads it.
        w.run(&["pull", "--iface", "CM001", "--period", "2024121213"])
            .expect_code(0);
    }
}

/// `namenode = "hdfs://NAMESERVICE"` resolved from HADOOP_CONF_DIR, failing
/// over from a NameNode that is down to the one that answers.
#[test]
fn hdfs_name_service_from_hadoop_conf_dir() {
    let Some(cli) = cluster() else { return };
    let _one = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    let site = Site::hdfs("hdfs", &cli, "ns");
    let hour = bundled_hour("14");
    site.put("cm001/dt=2024-12-12/hour=14", &refs(&hour));
    let w = Workdir::new("ns");
    let p = |k: &str, v: &str| format!("<property><name>{k}</name><value>{v}</value></property>");
    w.create(
        "hadoop/core-site.xml",
        format!("<configuration>{}</configuration>", p("fs.defaultFS", "hdfs://chamans")),
    );
    w.create(
        "hadoop/hdfs-site.xml",
        format!(
            "<configuration>{}{}{}{}</configuration>",
            p("dfs.nameservices", "chamans"),
            p("dfs.ha.namenodes.chamans", "nn1,nn2"),
            p("dfs.namenode.rpc-address.chamans.nn1", "127.0.0.1:19999"),
            p("dfs.namenode.rpc-address.chamans.nn2", "127.0.0.1:19000"),
        ),
    );
    w.create(
        "chama.toml",
        site.config_with(
            "kind = \"hdfs\"\nnamenode = \"hdfs://chamans\"\ntimeout_seconds = 10",
            FAST,
        ),
    );
    let mut cmd = w.command(&["pull", "--iface", "CM001", "--period", "2024121214"]);
    cmd.env("HADOOP_CONF_DIR", w.join("hadoop"));
    w.run_cmd(cmd).expect_code(0).stderr_has("2 copied");
    for (name, body) in &hour {
        assert_eq!(
            &fs::read(w.join(format!("var/staging/CM001/20241212/14/{name}"))).unwrap(),
            body,
            "{name}"
        );
    }
    // Without the site's configuration the name means nothing: a configuration error.
    w.run(&["pull", "--iface", "CM001", "--period", "2024121214"])
        .expect_code(2)
        .stderr_has("hdfs://chamans")
        .stderr_has("HADOOP_CONF_DIR is not set");
}

/// A file the reading user may not read is a permission error: said at once, never
/// tried again as if the network had failed (a scheduler's retry is another matter:
/// exit 1). The real NameNode's permission check: the file is root's, mode 600, and
/// chama reads as `nobody` (`HADOOP_USER_NAME`), through both HDFS kinds.
#[test]
fn hdfs_a_file_chama_may_not_read_fails_at_once_not_retried() {
    let Some(cli) = cluster() else { return };
    for kind in ["hdfs", "hdfs-cli"] {
        let site = Site::hdfs(kind, &cli, "denied");
        let hour = "cm001/dt=2024-12-12/hour=05";
        site.put(hour, &[("part-00000", b"1\x01a\n"), ("_SUCCESS", b"")]);
        dfs(&cli, &["-chmod", "600", &format!("{}/{hour}/part-00000", site.root)]);
        let w = Workdir::new("denied");
        w.create("chama.toml", site.config("retries = 3\nretry_delay_ms = 5000"));
        let mut cmd = w.command(&["pull", "--iface", "CM001", "--period", "2024121205"]);
        cmd.env("HADOOP_USER_NAME", "nobody");
        let started = std::time::Instant::now();
        let r = w.run_cmd(cmd);
        r.expect_code(1).stderr_has("Permission denied");
        assert!(!r.stderr().contains("gave up"), "{kind}: retried: {}", r.stderr());
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{kind}: {:?}, a retry's wait is 5 s",
            started.elapsed()
        );
    }
}
