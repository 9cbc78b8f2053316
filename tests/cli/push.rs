//! `chama push` and `chama verify` against three real OpenSSH servers started
//! by scripts/test.sh (scripts/sftp.sh), and against a local destination.
//!
//! The servers share one upload directory, as an exchange platform's hosts
//! share one storage; each test delivers into a directory of its own there.
//! Without servers (plain `cargo test`), the SFTP cases say so and are
//! skipped; with CHAMA_REQUIRE_SFTP=1 (as scripts/test.sh sets) they fail.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::harness::{env_or_skip, Run, Spawned, Workdir};

/// The servers' directory, or `None` (and a note) when none run here.
pub(crate) fn servers() -> Option<PathBuf> {
    env_or_skip(
        "CHAMA_TEST_SFTP_DIR",
        |d| !d.is_empty(),
        "CHAMA_REQUIRE_SFTP",
        "no SFTP servers run (scripts/sftp.sh start)",
    )
    .map(PathBuf::from)
}

/// Tests that kill, freeze or restart servers run one at a time.
pub(crate) static SERVERS: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub(crate) const SPEC: &str = r#"name = "T1"
[input]
path = "t1/dt={date_iso}/hour={hour}"
columns = ["id"]
[transform]
sql = "SELECT id FROM input"
[output]
file_name = "t1_{date}_{batch}_{seq}.dat.gz"
verf_name = "t1_{date}_{batch}.verf"
[delivery]
destinations = ["exchange"]
remote_dir = "/incoming/t1"
"#;

/// A test's scratch directory with the T1 spec, and where its deliveries land.
pub(crate) struct Setup {
    pub(crate) w: Workdir,
    sftp: PathBuf,
    /// This test's directory on the servers (under their shared upload directory).
    remote_root: PathBuf,
}

impl Setup {
    pub(crate) fn new(name: &str, sftp: &Path) -> Setup {
        let w = Workdir::new(name);
        w.create("interfaces/T1.toml", SPEC);
        let remote_root = sftp.join("upload").join(format!("{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&remote_root);
        Setup {
            w,
            sftp: sftp.to_path_buf(),
            remote_root,
        }
    }

    /// Where T1's files land on the servers.
    pub(crate) fn remote(&self) -> PathBuf {
        self.remote_root.join("incoming/t1")
    }

    /// chama.toml with an `exchange` destination over `ports`; `extra` goes into its table.
    pub(crate) fn config(&self, ports: &[u16], mode: &str, extra: &str) {
        let hosts: Vec<String> = ports
            .iter()
            .map(|p| format!("\"sftp://sftptest@127.0.0.1:{p}\""))
            .collect();
        self.w.create(
            "chama.toml",
            format!(
                "work_dir = \"var\"\n[sources.default]\nkind = \"local\"\nroot = \"dumps\"\n\
                 [destinations.outbox]\nkind = \"local\"\nroot = \"outbox\"\n\
                 [destinations.exchange]\nkind = \"sftp\"\nhosts = [{}]\nmode = \"{mode}\"\nroot = \"{}\"\n\
                 identity_file = \"{}\"\nknown_hosts = \"{}\"\nconnections = 2\nretries = 2\nretry_delay_ms = 100\n\
                 max_retry_delay_ms = 500\nconnect_timeout_seconds = 3\ntimeout_seconds = 3\n{extra}\n",
                hosts.join(", "),
                self.remote_root.display(),
                self.sftp.join("client_ed25519").display(),
                self.sftp.join("known_hosts").display(),
            ),
        );
    }

    /// A built-looking hour 2024121200 of T1: `n` data files of `size` bytes, its .verf and manifest.
    pub(crate) fn set(&self, n: usize, size: usize, salt: u8) -> BTreeMap<String, Vec<u8>> {
        make_set(&self.w.join("var/hourly/T1/20241212/00"), n, size, salt)
    }

    pub(crate) fn push(&self, args: &[&str]) -> Run {
        let mut a = vec!["push", "--iface", "T1", "--period", "2024121200"];
        a.extend_from_slice(args);
        self.w.run(&a)
    }

    pub(crate) fn spawn_push(&self, args: &[&str]) -> Spawned {
        let mut a = vec!["push", "--iface", "T1", "--period", "2024121200"];
        a.extend_from_slice(args);
        self.w.spawn(&a)
    }
}

/// A set of `n` pseudo-random data files of `size` bytes (100 rows each,
/// by the `.verf`), sealed by the library as a build would; every file by name.
pub(crate) fn make_set(dir: &Path, n: usize, size: usize, salt: u8) -> BTreeMap<String, Vec<u8>> {
    fs::create_dir_all(dir).unwrap();
    let mut files = BTreeMap::new();
    let mut listed = Vec::new();
    for i in 1..=n {
        let name = format!("t1_20241212_00_{i:04}.dat.gz");
        let mut x: u32 = 2_654_435_761u32.wrapping_mul(i as u32 + 1) ^ u32::from(salt);
        let body: Vec<u8> = (0..size)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        fs::write(dir.join(&name), &body).unwrap();
        listed.push((name.clone(), 100));
        files.insert(name, body);
    }
    let period = "2024121200".parse().unwrap();
    chama::ops::sets::seal(dir, "T1", &period, "t1_20241212_00.verf", &listed).unwrap();
    files.insert(
        "t1_20241212_00.verf".into(),
        fs::read(dir.join("t1_20241212_00.verf")).unwrap(),
    );
    files
}

/// Every file of a directory (none when it does not exist).
pub(crate) fn dir_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let Ok(rd) = fs::read_dir(dir) else {
        return BTreeMap::new();
    };
    rd.map(|e| e.unwrap())
        .filter(|e| e.path().is_file())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// Asserts the remote directory holds exactly `want`: no .part, nothing else.
#[track_caller]
pub(crate) fn assert_delivered(dir: &Path, want: &BTreeMap<String, Vec<u8>>) {
    let got = dir_files(dir);
    let names: Vec<&String> = got.keys().collect();
    assert_eq!(
        names,
        want.keys().collect::<Vec<_>>(),
        "remote names in {}",
        dir.display()
    );
    for (k, v) in want {
        assert!(got[k] == *v, "{k}: remote bytes differ");
    }
}

/// Watches a remote directory until stopped: every time a .verf is there,
/// every data file it names must be there whole under its final name.
pub(crate) struct Watcher {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<(usize, Vec<String>)>,
}

impl Watcher {
    pub(crate) fn start(dir: PathBuf) -> Watcher {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let handle = std::thread::spawn(move || {
            let (mut seen, mut bad) = (0, Vec::new());
            while !s.load(Ordering::Relaxed) {
                if let Ok(rd) = fs::read_dir(&dir) {
                    for e in rd.flatten() {
                        let name = e.file_name().to_string_lossy().into_owned();
                        if !name.ends_with(".verf") {
                            continue;
                        }
                        let Ok(text) = fs::read_to_string(e.path()) else {
                            continue;
                        };
                        seen += 1;
                        for line in text.split_terminator("\r\n") {
                            let file = line[..48].trim_end();
                            let size: u64 = line[48..68].trim().parse().unwrap();
                            let have = fs::metadata(dir.join(file)).map(|m| m.len()).ok();
                            if have != Some(size) {
                                bad.push(format!("{name} visible while {file} is {have:?} bytes, not {size}"));
                            }
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            (seen, bad)
        });
        Watcher { stop, handle }
    }

    #[track_caller]
    pub(crate) fn check(self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        let (seen, bad) = self.handle.join().unwrap();
        assert!(bad.is_empty(), "the .verf-last rule broke: {bad:?}");
        seen
    }
}

fn listener_pid(sftp: &Path, port: u16) -> String {
    fs::read_to_string(sftp.join(format!("sshd_{port}.bgpid")))
        .unwrap()
        .trim()
        .to_string()
}

/// Kills a host: its listener and every session it forked.
fn kill_host(sftp: &Path, port: u16) {
    let pid = listener_pid(sftp, port);
    // The listener, its per-connection monitors and their session processes.
    let mut tree = vec![pid.clone()];
    let mut i = 0;
    while i < tree.len() {
        let out = Command::new("pgrep").args(["-P", &tree[i]]).output().unwrap();
        tree.extend(
            String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .map(str::to_string),
        );
        i += 1;
    }
    let _ = Command::new("kill").arg("-9").args(&tree).status();
    while Command::new("kill")
        .args(["-0", &pid])
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
    {
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn start_host(sftp: &Path, port: u16) {
    assert!(Command::new(sftp.join(format!("start-{port}.sh")))
        .status()
        .unwrap()
        .success());
}

fn signal_host(sftp: &Path, port: u16, sig: &str) {
    let pid = listener_pid(sftp, port);
    Command::new("kill").args([sig, &pid]).status().unwrap();
}

/// A work directory with every sink kind (the local outbox; with the test
/// servers, one SFTP destination per cipher) and hour 2024121207 of CM001 built.
struct SinkSite {
    w: Workdir,
    sftp: Option<PathBuf>,
    /// Each destination and the remote directory its files land in.
    dests: Vec<(&'static str, PathBuf)>,
    /// The built set: data files and .verfs by name.
    built: BTreeMap<String, Vec<u8>>,
}

impl SinkSite {
    fn new(name: &str) -> SinkSite {
        let sftp = servers();
        let w = Workdir::new(name);
        let mut cfg = crate::harness::bundled_config();
        let mut dests = vec![("outbox", w.join("outbox/incoming/cm"))];
        if let Some(d) = &sftp {
            let root = d.join("upload").join(format!("{name}-{}", std::process::id()));
            // 2222 negotiates AES-GCM, 2223 AES-CTR with an HMAC, 2224 ChaCha20-Poly1305
            // (scripts/sftp.sh): every cipher path of the vendored libssh2, both ways. `nofsync`
            // also leaves out asking the server to flush each file.
            for (dest, port, extra) in [
                ("exchange", 2222, ""),
                ("nofsync", 2223, "fsync = false\n"),
                ("chacha", 2224, ""),
            ] {
                let dir = if dest == "exchange" {
                    root.clone()
                } else {
                    root.with_extension(dest)
                };
                cfg.push_str(&format!(
                    "[destinations.{dest}]\nkind = \"sftp\"\nhosts = [\"sftp://sftptest@127.0.0.1:{port}\"]\nroot = \"{}\"\nidentity_file = \"{}\"\nknown_hosts = \"{}\"\n{extra}",
                    dir.display(),
                    d.join("client_ed25519").display(),
                    d.join("known_hosts").display()
                ));
                dests.push((dest, dir.join("incoming/cm")));
            }
        }
        w.create("chama.toml", cfg);
        w.run(&["build", "--iface", "CM001", "--period", "2024121207"])
            .expect_code(0);
        let built: BTreeMap<String, Vec<u8>> = dir_files(&w.join("var/hourly/CM001/20241212/07"))
            .into_iter()
            .filter(|(n, _)| n.ends_with(".gz") || n.ends_with(".verf"))
            .collect();
        assert!(built.len() >= 20);
        SinkSite { w, sftp, dests, built }
    }

    /// SSH sessions that sshd on 2222 accepted so far (the servers are ours while SERVERS is held).
    fn sessions(&self) -> usize {
        self.sftp.as_ref().map_or(0, |d| {
            fs::read_to_string(d.join("sshd_2222.log"))
                .unwrap_or_default()
                .matches("Accepted publickey for sftptest")
                .count()
        })
    }

    /// `chama push` of the hour to `dest`, with `--json`, exit 0; its summary.
    fn push(&self, dest: &str) -> serde_json::Value {
        let r = self.w.run(&[
            "push",
            "--iface",
            "CM001",
            "--period",
            "2024121207",
            "--dest",
            dest,
            "--json",
        ]);
        r.expect_code(0);
        r.json()
    }

    fn verify(&self, dest: &str, deep: bool) -> Run {
        let mut args = vec!["verify", "--iface", "CM001", "--period", "2024121207", "--dest", dest];
        if deep {
            args.push("--deep");
        }
        self.w.run(&args)
    }
}

#[test]
fn every_sink_kind_delivers_the_built_set_once() {
    let _one = SERVERS.lock().unwrap_or_else(|e| e.into_inner());
    let site = SinkSite::new("sink");
    let n = site.built.len() as u64;
    for (dest, dir) in &site.dests {
        let before = site.sessions();
        assert_eq!(site.push(dest)["destinations"][0]["sent"].as_u64(), Some(n), "{dest}");
        assert_delivered(dir, &site.built);
        if *dest == "exchange" {
            // The planning session is reused by a worker, and the .verfs go over sessions that
            // are open already: no more sessions than `connections` (4) for the whole push.
            let opened = site.sessions() - before;
            assert!((1..=4).contains(&opened), "{opened} SSH sessions for one push");
        }
        // Again: nothing to send.
        let before = site.sessions();
        let j = site.push(dest);
        assert_eq!(
            (
                j["destinations"][0]["sent"].as_u64(),
                j["destinations"][0]["skipped"].as_u64()
            ),
            (Some(0), Some(n)),
            "{dest}"
        );
        if *dest == "exchange" {
            assert_eq!(
                site.sessions() - before,
                1,
                "a push with nothing to send opens one session"
            );
        }
        site.verify(dest, true).expect_code(0).stderr_has("MD5 and lines");
    }
    // The local set itself.
    site.w
        .run(&["verify", "--iface", "CM001", "--period", "2024121207", "--deep"])
        .expect_code(0);
}

#[test]
fn verify_catches_a_changed_or_short_file_on_every_sink_and_push_puts_it_right() {
    let _one = SERVERS.lock().unwrap_or_else(|e| e.into_inner());
    let site = SinkSite::new("sink-verify");
    for (dest, dir) in &site.dests {
        site.push(dest);
        // A file changed in place (same size) is caught by --deep only; a short one by either.
        let victim = site.built.keys().find(|n| n.ends_with(".gz")).unwrap();
        let mut bytes = site.built[victim].clone();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        fs::write(dir.join(victim), &bytes).unwrap();
        site.verify(dest, false).expect_code(0);
        site.verify(dest, true)
            .expect_code(5)
            .stderr_has(&format!("{victim}: MD5"));
        fs::write(dir.join(victim), &bytes[..10]).unwrap();
        site.verify(dest, false)
            .expect_code(5)
            .stderr_has(&format!("{victim}: 10 bytes, the .verf says"));
        // push notices, takes the set's .verf down, sends the file and the .verf again.
        site.w
            .run(&["push", "--iface", "CM001", "--period", "2024121207", "--dest", dest])
            .expect_code(0)
            .stderr_has("2 file(s) sent");
        assert_delivered(dir, &site.built);
    }
}

#[test]
fn push_fails_over_from_a_dead_host_and_names_it() {
    let Some(sftp) = servers() else { return };
    let _one = SERVERS.lock().unwrap_or_else(|e| e.into_inner());
    let s = Setup::new("failover", &sftp);
    // Nothing listens on 2299: connection refused at once.
    s.config(&[2299, 2223], "failover", "");
    let want = s.set(6, 200_000, 1);
    let r = s.push(&["--json"]);
    r.expect_code(0).stderr_has("sftp://sftptest@127.0.0.1:2299");
    assert_delivered(&s.remote(), &want);
    let j = r.json();
    let hosts = &j["destinations"][0]["hosts"];
    assert!(hosts["sftp://sftptest@127.0.0.1:2299"]["error"].is_string(), "{j}");
    assert_eq!(hosts["sftp://sftptest@127.0.0.1:2223"]["files"].as_u64(), Some(7));

    // Every host dead: exit 5 naming the destination, and no .verf anywhere.
    let s = Setup::new("alldead", &sftp);
    s.config(&[2298, 2299], "failover", "");
    s.set(2, 1000, 1);
    s.push(&[])
        .expect_code(5)
        .stderr_has("delivery to `exchange` failed on every host")
        .stderr_has("127.0.0.1:2298")
        .stderr_has("127.0.0.1:2299");
}

#[test]
fn spread_finishes_when_a_host_dies_mid_transfer_and_keeps_the_verf_last() {
    let Some(sftp) = servers() else { return };
    let _one = SERVERS.lock().unwrap_or_else(|e| e.into_inner());
    let s = Setup::new("spread-kill", &sftp);
    s.config(&[2222, 2223, 2224], "spread", "");
    let want = s.set(12, 1_500_000, 2);
    let watcher = Watcher::start(s.remote());
    // 18 MB at 6 MB/s: about three seconds, so the kill lands mid-transfer.
    let child = s.spawn_push(&["--json", "--bwlimit", "6M"]);
    std::thread::sleep(Duration::from_millis(1200));
    kill_host(&sftp, 2223);
    let r = child.wait();
    start_host(&sftp, 2223);
    r.expect_code(0);
    assert!(watcher.check() > 0, "the watcher saw the .verf arrive");
    assert_delivered(&s.remote(), &want);
    let j = r.json();
    let hosts = &j["destinations"][0]["hosts"];
    assert!(hosts["sftp://sftptest@127.0.0.1:2223"]["error"].is_string(), "{j}");
    let busy = ["2222", "2224"]
        .iter()
        .filter(|p| hosts[format!("sftp://sftptest@127.0.0.1:{p}")]["files"].as_u64() > Some(0))
        .count();
    assert_eq!(busy, 2, "both other hosts took files: {j}");
}

#[test]
fn a_frozen_host_times_out_and_the_next_takes_over_within_the_bound() {
    let Some(sftp) = servers() else { return };
    let _one = SERVERS.lock().unwrap_or_else(|e| e.into_inner());
    let s = Setup::new("frozen", &sftp);
    s.config(&[2224, 2222], "failover", "");
    let want = s.set(4, 100_000, 3);
    signal_host(&sftp, 2224, "-STOP");
    let t = Instant::now();
    let r = s.push(&[]);
    signal_host(&sftp, 2224, "-CONT");
    r.expect_code(0).stderr_has("127.0.0.1:2224");
    // timeout_seconds = 3, a few tries: well under 30 s, never a hang.
    assert!(t.elapsed() < Duration::from_secs(30), "took {:?}", t.elapsed());
    assert_delivered(&s.remote(), &want);
}

#[test]
fn a_second_signal_ends_a_push_stuck_on_a_frozen_host_at_once() {
    let Some(sftp) = servers() else { return };
    let _one = SERVERS.lock().unwrap_or_else(|e| e.into_inner());
    let s = Setup::new("second-signal", &sftp);
    // timeout_seconds = 3: a call blocked on the frozen host returns after 3 s at the earliest.
    s.config(&[2224], "failover", "");
    s.set(1, 100_000, 4);
    signal_host(&sftp, 2224, "-STOP");
    let child = s.spawn_push(&[]);
    std::thread::sleep(Duration::from_millis(800));
    // The first asks chama to stop at its next check, which a call blocked on the frozen host does not reach.
    child.signal("TERM");
    std::thread::sleep(Duration::from_millis(500));
    child.signal("TERM");
    let t = Instant::now();
    let r = child.wait();
    signal_host(&sftp, 2224, "-CONT");
    r.expect_code(143);
    assert!(
        t.elapsed() < Duration::from_millis(800),
        "the second signal ended it at once, not the timeout: {:?}",
        t.elapsed()
    );
}

#[test]
fn bad_credentials_and_host_keys_are_refused_naming_the_host_and_no_secret_is_shown() {
    let Some(sftp) = servers() else { return };
    let _one = SERVERS.lock().unwrap_or_else(|e| e.into_inner());
    let s = Setup::new("creds", &sftp);
    let want = s.set(2, 5000, 4);

    // Password from the environment: wrong, then right.
    let pw_cfg = |ports: &[u16]| {
        s.config(ports, "failover", "password_env = \"CHAMA_TEST_PW\"");
        // Password only: drop the key.
        let c = fs::read_to_string(s.w.join("chama.toml")).unwrap();
        let c: String = c
            .lines()
            .filter(|l| !l.starts_with("identity_file"))
            .map(|l| format!("{l}\n"))
            .collect();
        s.w.create("chama.toml", c);
    };
    pw_cfg(&[2222]);
    let mut cmd =
        s.w.command(&["push", "--iface", "T1", "--period", "2024121200", "--json"]);
    cmd.env("CHAMA_TEST_PW", "Wr0ngSecret!");
    let r = s.w.run_cmd(cmd);
    r.expect_code(5)
        .stderr_has("authentication as sftptest failed on sftp://sftptest@127.0.0.1:2222");
    assert!(!r.stderr().contains("Wr0ngSecret!") && !r.stdout().contains("Wr0ngSecret!"));
    for dry in [true, false] {
        let mut args = vec!["push", "--iface", "T1", "--period", "2024121200", "--json"];
        if dry {
            args.push("--dry-run");
        }
        let mut cmd = s.w.command(&args);
        cmd.env("CHAMA_TEST_PW", "testpass");
        let r = s.w.run_cmd(cmd);
        r.expect_code(0);
        assert!(
            !r.stdout().contains("testpass") && !r.stderr().contains("testpass"),
            "the password leaked (dry run: {dry})"
        );
    }
    assert_delivered(&s.remote(), &want);
    let ledger = fs::read(s.w.join("var/ledger.sqlite")).unwrap();
    assert!(
        !ledger.windows(8).any(|w| w == b"testpass"),
        "no password in the ledger"
    );
    // An owner-only password file works; one others can read is refused.
    let pwf = s.w.create("pw", "testpass\n");
    Command::new("chmod").arg("644").arg(&pwf).status().unwrap();
    s.config(&[2222], "failover", &format!("password_file = \"{}\"", pwf.display()));
    s.push(&[]).expect_code(2).stderr_has("readable by others");
    Command::new("chmod").arg("600").arg(&pwf).status().unwrap();
    s.push(&[]).expect_code(0);

    // Host keys: 2224 missing from known_hosts, then known under another key.
    let kh = fs::read_to_string(sftp.join("known_hosts")).unwrap();
    let without: String = kh
        .lines()
        .filter(|l| !l.starts_with("[127.0.0.1]:2224"))
        .map(|l| format!("{l}\n"))
        .collect();
    let other_key = fs::read_to_string(sftp.join("other_ed25519.pub")).unwrap();
    let other_key: Vec<&str> = other_key.split_whitespace().take(2).collect();
    let changed = format!("{without}[127.0.0.1]:2224 {}\n", other_key.join(" "));
    for (kh_text, says) in [(without, "unknown host key"), (changed, "does NOT match")] {
        let s = Setup::new("hostkey", &sftp);
        let want = s.set(2, 5000, 5);
        let khf = s.w.create("kh", kh_text);
        let config = |ports: &[u16]| {
            s.config(ports, "failover", "");
            let c = fs::read_to_string(s.w.join("chama.toml")).unwrap().replace(
                &sftp.join("known_hosts").display().to_string(),
                &khf.display().to_string(),
            );
            s.w.create("chama.toml", c);
        };
        config(&[2224]);
        s.push(&[])
            .expect_code(5)
            .stderr_has("sftp://sftptest@127.0.0.1:2224")
            .stderr_has(says);
        assert!(
            dir_files(&s.remote()).is_empty(),
            "nothing sent to a host that failed its key check"
        );
        // With a good host behind it, the set goes there.
        config(&[2224, 2222]);
        s.push(&[]).expect_code(0).stderr_has(says);
        assert_delivered(&s.remote(), &want);
    }
}

#[test]
fn killed_at_random_moments_the_push_resumes_and_finishes_without_duplicates_or_parts() {
    let Some(sftp) = servers() else { return };
    let _one = SERVERS.lock().unwrap_or_else(|e| e.into_inner());
    let s = Setup::new("sigkill", &sftp);
    s.config(&[2222, 2223, 2224], "spread", "");
    let want = s.set(8, 2_000_000, 6);
    let total: u64 = want.values().map(|v| v.len() as u64).sum();
    let watcher = Watcher::start(s.remote());
    let mut seed: u32 = 0x9e37_79b9 ^ std::process::id();
    let mut resumed = false;
    for round in 0..6 {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let child = s.spawn_push(&["--json", "--bwlimit", "8M"]);
        std::thread::sleep(Duration::from_millis(150 + u64::from(seed % 900)));
        child.kill();
        // The next run starts where this one stopped.
        if round == 5 {
            break;
        }
    }
    let r = s.push(&["--json"]);
    r.expect_code(0);
    let sent = r.json()["destinations"][0]["bytes"].as_u64().unwrap();
    if sent < total {
        resumed = true;
    }
    assert!(
        resumed,
        "the last run sent {sent} of {total} bytes: earlier runs' work was kept"
    );
    watcher.check();
    assert_delivered(&s.remote(), &want);
    // Done means done.
    let r = s.push(&["--json"]);
    r.expect_code(0);
    assert_eq!(r.json()["destinations"][0]["sent"].as_u64(), Some(0));
}

#[test]
fn sigterm_cuts_a_push_to_openssh_short_and_the_same_push_resumes_byte_identical() {
    let Some(sftp) = servers() else { return };
    let _one = SERVERS.lock().unwrap_or_else(|e| e.into_inner());
    let s = Setup::new("sigterm-push", &sftp);
    s.config(&[2222, 2223, 2224], "spread", "");
    let want = s.set(8, 2_000_000, 7);
    let total: u64 = want.values().map(|v| v.len() as u64).sum();
    let watcher = Watcher::start(s.remote());
    let child = s.spawn_push(&["--bwlimit", "4M"]);
    let t = Instant::now();
    while dir_files(&s.remote()).keys().all(|n| !n.ends_with(".part")) {
        assert!(t.elapsed() < Duration::from_secs(30), "no upload started");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    child.signal("TERM");
    let t = Instant::now();
    let r = child.wait();
    r.expect_code(143);
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "in-flight uploads are cut, not finished"
    );
    r.stderr_has("push T1 2024121200 interrupted by SIGTERM");
    assert!(
        dir_files(&s.remote()).keys().all(|n| !n.ends_with(".verf")),
        "no .verf over a set cut short"
    );
    // The same push goes on where it stopped, and the set is whole, byte for byte.
    let r = s.push(&["--json"]);
    r.expect_code(0);
    let sent = r.json()["destinations"][0]["bytes"].as_u64().unwrap();
    assert!(
        sent < total,
        "the last push sent {sent} of {total} bytes: the cut one's work was kept"
    );
    watcher.check();
    assert_delivered(&s.remote(), &want);
}

#[test]
fn a_rebuilt_set_replaces_the_old_one_without_a_stale_verf_showing() {
    let Some(sftp) = servers() else { return };
    let _one = SERVERS.lock().unwrap_or_else(|e| e.into_inner());
    let s = Setup::new("replace", &sftp);
    s.config(&[2222, 2223], "spread", "");
    s.set(5, 800_000, 7);
    s.push(&[]).expect_code(0);
    // Built again: same names, other sizes and bytes.
    let want = s.set(5, 900_000, 8);
    let watcher = Watcher::start(s.remote());
    s.push(&["--bwlimit", "8M"]).expect_code(0);
    watcher.check();
    assert_delivered(&s.remote(), &want);
}

/// OpenSSH offers posix-rename, so a data file that a rebuilt set replaces is
/// never absent: a watcher reading every data file's name over and over while
/// the same batch goes up again finds the old bytes or the new, never nothing
/// and never a mix. (Remove-then-rename, all SFTP v3 offers, leaves a gap.)
#[test]
fn a_replaced_file_is_never_absent_on_the_server() {
    let Some(sftp) = servers() else { return };
    let _one = SERVERS.lock().unwrap_or_else(|e| e.into_inner());
    let s = Setup::new("never-absent", &sftp);
    s.config(&[2222], "failover", "");
    let old = s.set(8, 200_000, 21);
    s.push(&[]).expect_code(0);
    assert_delivered(&s.remote(), &old);
    let new = s.set(8, 210_000, 22);
    let names: Vec<String> = new.keys().filter(|n| !n.ends_with(".verf")).cloned().collect();
    let (dir, stop) = (s.remote(), Arc::new(AtomicBool::new(false)));
    let watch = {
        let (old, new, stop) = (old.clone(), new.clone(), stop.clone());
        std::thread::spawn(move || {
            let (mut reads, mut fresh, mut bad) = (0usize, 0usize, Vec::new());
            while !stop.load(Ordering::Relaxed) {
                for n in &names {
                    match fs::read(dir.join(n)) {
                        Ok(b) if b == new[n] => fresh += 1,
                        Ok(b) if b == old[n] => {}
                        Ok(b) => bad.push(format!("{n}: {} bytes, neither old nor new", b.len())),
                        Err(e) => bad.push(format!("{n}: {e}")),
                    }
                    reads += 1;
                }
            }
            (reads, fresh, bad)
        })
    };
    // Slowed down so that the watcher reads each name many times while it changes.
    s.push(&["--bwlimit", "1M"]).expect_code(0);
    stop.store(true, Ordering::Relaxed);
    let (reads, fresh, bad) = watch.join().unwrap();
    assert!(
        bad.is_empty(),
        "{} of {reads} reads went wrong: {:?}",
        bad.len(),
        &bad[..bad.len().min(5)]
    );
    assert!(reads > 200 && fresh > 0, "{reads} reads, {fresh} of the new bytes");
    assert_delivered(&s.remote(), &new);
}

/// A rename the server refuses, after an upload it took (a directory now holds
/// one file's name): chama tries that file again, then fails with code 5 naming
/// it, and the set's .verf does not go up.
#[test]
fn a_rename_the_server_refuses_names_the_file_and_no_verf_goes_up() {
    let Some(sftp) = servers() else { return };
    let s = Setup::new("refused-rename", &sftp);
    s.config(&[2222], "failover", "");
    s.set(3, 50_000, 31);
    s.push(&[]).expect_code(0);
    let blocked = "t1_20241212_00_0002.dat.gz";
    fs::remove_file(s.remote().join(blocked)).unwrap();
    fs::create_dir_all(s.remote().join(blocked).join("inside")).unwrap();
    let r = s.push(&["--json"]);
    r.expect_code(5)
        .stderr_has(&format!(
            "renaming {}",
            s.remote().join(format!("{blocked}.part")).display()
        ))
        .stderr_has("trying again");
    assert!(
        r.json()["destinations"][0]["error"].as_str().unwrap().contains(blocked),
        "{}",
        r.stdout()
    );
    let left: Vec<String> = dir_files(&s.remote()).into_keys().collect();
    assert!(
        !left.iter().any(|n| n.ends_with(".verf")),
        "no .verf over a set with a file missing: {left:?}"
    );
    assert!(s.remote().join(blocked).join("inside").is_dir());
}

#[test]
fn dry_run_lists_what_would_go_where_and_changes_nothing() {
    let Some(sftp) = servers() else { return };
    let s = Setup::new("dry", &sftp);
    s.config(&[2222, 2223], "spread", "");
    s.set(3, 1000, 9);
    let r = s.push(&["--dry-run"]);
    r.expect_code(0)
        .stdout_has(
            "T1 2024121200 -> exchange (sftp, spread: sftp://sftptest@127.0.0.1:2222, sftp://sftptest@127.0.0.1:2223)",
        )
        .stdout_has("would upload      t1_20241212_00_0001.dat.gz");
    let lines: Vec<String> = r.stdout().lines().map(str::to_string).collect();
    assert!(lines.last().unwrap().contains(".verf"), "the .verf is listed last");
    assert!(!s.remote_root.exists(), "a dry run sends nothing");
    assert!(!s.w.join("var/ledger.sqlite").exists());
}

/// Spread over a fast host and a slow one (a proxy at 1 MiB/s): the slow
/// host takes a file; once the queue is empty the fast host sends that file
/// too, the first copy to finish wins, and the losing copy leaves no trace.
#[test]
fn spread_races_a_straggler_on_a_faster_host() {
    let Some(sftp) = servers() else { return };
    let _one = SERVERS.lock().unwrap_or_else(|e| e.into_inner());
    let s = Setup::new("straggler", &sftp);
    s.config(&[2232, 2222], "spread", "");
    let c = fs::read_to_string(s.w.join("chama.toml"))
        .unwrap()
        .replace("connections = 2", "connections = 1");
    s.w.create("chama.toml", c);
    // 8 MB through the slow host alone would take 8 s.
    let want = s.set(4, 2_000_000, 10);
    let watcher = Watcher::start(s.remote());
    let t = Instant::now();
    let r = s.push(&["--json"]);
    r.expect_code(0);
    let took = t.elapsed();
    watcher.check();
    assert_delivered(&s.remote(), &want);
    let j = r.json();
    assert!(
        j["destinations"][0]["speculative"].as_u64() >= Some(1),
        "{j} {}",
        r.stderr()
    );
    // The slow host's file (2 s there alone) came from the fast host sooner.
    assert!(took < Duration::from_millis(1900), "took {took:?}: {j} {}", r.stderr());
}
