//! The conformance suite of SFTP servers as collectors run them, started by
//! scripts/sftp.sh: OpenSSH's `internal-sftp -P` refusing rename and remove
//! (2225), stat (2226), listing (2227), or all four (2228); two other
//! implementations, gesftpserver (2229, behind sshd) and ProFTPD's mod_sftp
//! (2230); an sshd that takes two connections at a time before login (2231);
//! gesftpserver keeping few files open (2233). Each takes the bundled day
//! byte-identical with nothing changed in the configuration, the `.verf` last
//! as a watcher sees it; a SIGKILLed push finishes on the next run; a rebuilt
//! batch replaces the files. `verify --probe` says what each server allows;
//! `require` turns a fallback into a failure; a full disk and a jump host are
//! here too.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::Duration;

use crate::harness::Workdir;
use crate::push::{dir_files, servers, Setup, Watcher};

/// The drop boxes of scripts/sftp.sh and what each refuses, as `--json` names it.
const BOXES: [(u16, &[&str]); 4] = [
    (2225, &["remove", "rename"]),
    (2226, &["stat"]),
    (2227, &["list"]),
    (2228, &["list", "stat", "rename", "remove"]),
];

/// Every server of the suite and what it refuses: the drop boxes, gesftpserver, ProFTPD,
/// the sshd with `MaxStartups 2:100:2`, and gesftpserver with few files open.
const SUITE: [(u16, &[&str]); 8] = [
    BOXES[0],
    BOXES[1],
    BOXES[2],
    BOXES[3],
    (2229, &[]),
    (2230, &[]),
    (2231, &[]),
    (2233, &[]),
];

fn refuses(port: u16) -> &'static [&'static str] {
    SUITE.iter().find(|(p, _)| *p == port).expect("a server of the suite").1
}

/// A `[destinations.NAME]` table for host `port` under `root`, as a user writes it.
fn destination(name: &str, port: u16, root: &Path, sftp: &Path, extra: &str) -> String {
    format!(
        "[destinations.{name}]\nkind = \"sftp\"\nhosts = [\"sftp://sftptest@127.0.0.1:{port}\"]\nroot = \"{}\"\n\
         identity_file = \"{}\"\nknown_hosts = \"{}\"\nretry_delay_ms = 100\n{extra}",
        root.display(),
        sftp.join("client_ed25519").display(),
        sftp.join("known_hosts").display()
    )
}

/// `s`'s configuration for host `port` alone, with `connections` and `retries` of its own.
fn config_with(s: &Setup, port: u16, connections: u32, retries: u32) {
    s.config(&[port], "failover", "");
    let cfg = fs::read_to_string(s.w.join("chama.toml")).unwrap().replace(
        "connections = 2\nretries = 2",
        &format!("connections = {connections}\nretries = {retries}"),
    );
    s.w.create("chama.toml", cfg);
}

/// Asserts the remote directory holds `want` byte for byte, and besides it only empty
/// `.part` files, and those only on a server that refuses both rename and remove (the
/// first try there went to a temporary name that can be neither renamed nor removed).
#[track_caller]
fn assert_landed(dir: &Path, want: &BTreeMap<String, Vec<u8>>, refused: &[&str]) {
    let mut got = dir_files(dir);
    let stuck = refused.contains(&"rename") && refused.contains(&"remove");
    got.retain(|name, bytes| {
        if name.ends_with(".part") {
            assert!(stuck, "{name} left on a server that allows rename or remove");
            assert!(bytes.is_empty(), "{name} left with {} bytes, not emptied", bytes.len());
            return false;
        }
        true
    });
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "names in {}",
        dir.display()
    );
    for (name, bytes) in want {
        assert!(got[name] == *bytes, "{name}: remote bytes differ");
    }
}

#[test]
fn the_bundled_day_reaches_every_locked_down_box_byte_identical_with_the_verf_last() {
    let Some(sftp) = servers() else { return };
    let w = Workdir::bundled("dropbox-day");
    let upload = sftp.join("upload").join(format!("dropbox-day-{}", std::process::id()));
    let mut cfg = crate::harness::bundled_config();
    for (port, _) in SUITE {
        cfg.push_str(&destination(
            &format!("box{port}"),
            port,
            &upload.join(port.to_string()),
            &sftp,
            "",
        ));
    }
    w.create("chama.toml", cfg);
    w.run(&["run", "--iface", "CM001", "--period", "20241212"])
        .expect_code(0);
    let day: BTreeMap<String, Vec<u8>> = dir_files(&w.join("var/out/CM001/20241212"))
        .into_iter()
        .filter(|(n, _)| n.ends_with(".gz") || n.ends_with(".verf"))
        .collect();
    assert!(day.len() > 20, "{} files in the day", day.len());
    for (port, refused) in SUITE {
        let dest = format!("box{port}");
        let remote = upload.join(port.to_string()).join("incoming/cm");
        let push = |extra: &[&str]| {
            let mut args = vec![
                "push", "--iface", "CM001", "--period", "20241212", "--dest", &dest, "--json",
            ];
            args.extend_from_slice(extra);
            w.run(&args)
        };
        let watcher = Watcher::start(remote.clone());
        let r = push(&[]);
        r.expect_code(0);
        watcher.check();
        assert_landed(&remote, &day, refused);
        // Each refusal is said once, with what chama does instead, and is in the summary.
        for req in refused {
            let says = format!("refuses {req}: ");
            assert_eq!(r.stderr().matches(&says).count(), 1, "{dest}: {says}\n{}", r.stderr());
        }
        let host = &r.json()["destinations"][0]["hosts"][format!("sftp://sftptest@127.0.0.1:{port}")];
        let none = Vec::new();
        let mut listed: Vec<&str> = host["refuses"]
            .as_array()
            .unwrap_or(&none)
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let mut expected = refused.to_vec();
        listed.sort();
        expected.sort();
        assert_eq!(listed, expected, "{dest}: {host}");
        // Pushed again: nothing goes up; the ledger's record of the host is said.
        let r = push(&[]);
        r.expect_code(0);
        if !refused.is_empty() {
            r.stderr_has("as recorded in the ledger");
        }
        assert_eq!(r.json()["destinations"][0]["sent"].as_u64(), Some(0), "{dest}");
        assert_landed(&remote, &day, refused);
        // verify works there too: by listing, by asking each size, or (neither allowed) by reading.
        let deep = refused.contains(&"list") && refused.contains(&"stat");
        let mut args = vec!["verify", "--iface", "CM001", "--period", "20241212", "--dest", &dest];
        if deep {
            let r = w.run(&args);
            r.expect_code(5).stderr_has("its size cannot be asked");
            args.push("--deep");
        }
        w.run(&args).expect_code(0).stderr_has("verified");
    }
}

/// The sink suite's hard cases on drop box `port`: a push SIGKILLed mid-way finishes on
/// the next run with less than the whole set sent again, then the same batch rebuilt
/// with other bytes replaces it; a watcher sees no `.verf` over an incomplete set.
fn killed_and_replaced(port: u16) {
    let Some(sftp) = servers() else { return };
    let refused = refuses(port);
    let s = Setup::new(&format!("dropbox-kill-{port}"), &sftp);
    s.config(&[port], "failover", "");
    let want = s.set(6, 2_000_000, 50);
    let total: u64 = want.values().map(|v| v.len() as u64).sum();
    let watcher = Watcher::start(s.remote());
    let mut child = s.spawn_push(&["--bwlimit", "4M"]);
    let t = std::time::Instant::now();
    // Killed once two files are whole under their final names (on a server that refuses
    // rename, a file has its final name from its first byte).
    while dir_files(&s.remote())
        .iter()
        .filter(|(n, b)| want.get(*n).is_some_and(|w| w.len() == b.len()))
        .count()
        < 2
    {
        if t.elapsed() > Duration::from_secs(30) || child.ended() {
            let r = child.kill();
            panic!("nothing arrived on {port} ({:?}): {}", r.out.status, r.stderr());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    child.kill();
    let r = s.push(&["--json"]);
    r.expect_code(0);
    let sent = r.json()["destinations"][0]["bytes"].as_u64().unwrap();
    assert!(sent < total, "{port}: the last push sent {sent} of {total} bytes");
    assert_landed(&s.remote(), &want, refused);
    // The same batch again, other bytes: replaced, the old .verf gone (or emptied) first.
    let want = s.set(6, 900_000, 51);
    s.push(&["--bwlimit", "8M"]).expect_code(0);
    watcher.check();
    assert_landed(&s.remote(), &want, refused);
}

#[test]
fn a_box_that_refuses_rename_and_remove_resumes_and_replaces() {
    killed_and_replaced(2225);
}

#[test]
fn a_box_that_refuses_stat_resumes_and_replaces() {
    killed_and_replaced(2226);
}

#[test]
fn a_box_that_refuses_listing_resumes_and_replaces() {
    killed_and_replaced(2227);
}

#[test]
fn a_box_that_refuses_all_four_resumes_and_replaces() {
    killed_and_replaced(2228);
}

#[test]
fn gesftpserver_resumes_and_replaces() {
    killed_and_replaced(2229);
}

#[test]
fn proftpd_mod_sftp_resumes_and_replaces() {
    killed_and_replaced(2230);
}

#[test]
fn a_server_with_few_startups_resumes_and_replaces() {
    killed_and_replaced(2231);
}

#[test]
fn a_server_with_few_open_files_resumes_and_replaces() {
    killed_and_replaced(2233);
}

/// A server that drops connections beyond two not yet logged in (`MaxStartups 2:100:2`)
/// with `connections = 8` and no retries: the push goes on with the connections it got
/// (said once), the host stays in the rotation, and the set arrives whole.
#[test]
fn a_server_that_takes_fewer_connections_gets_the_set_over_fewer() {
    let Some(sftp) = servers() else { return };
    let s = Setup::new("dropbox-crowded", &sftp);
    config_with(&s, 2231, 8, 0);
    // Files too big to go together: one per connection, so that all 8 are asked for.
    let want = s.set(16, 1_200_000, 56);
    let r = s.push(&["--json"]);
    r.expect_code(0);
    let err = r.stderr();
    assert!(!err.contains("leaves the rotation"), "{err}");
    assert!(
        err.matches("takes fewer connections than `connections` = 8").count() == 1,
        "{err}"
    );
    assert_landed(&s.remote(), &want, &[]);
}

/// A site that wants rename or nothing: with `require = ["rename"]` the drop box that
/// refuses it fails the push (exit 5, saying why), and nothing carries a final name.
#[test]
fn require_turns_a_fallback_into_a_failure() {
    let Some(sftp) = servers() else { return };
    let s = Setup::new("dropbox-require", &sftp);
    s.config(&[2225], "failover", "require = [\"rename\"]");
    s.set(3, 10_000, 52);
    let r = s.push(&["--json"]);
    r.expect_code(5)
        .stderr_has("the server refuses rename")
        .stderr_has("requires rename (`require`)");
    let left: Vec<String> = dir_files(&s.remote())
        .into_keys()
        .filter(|n| !n.ends_with(".part"))
        .collect();
    assert!(left.is_empty(), "final names on a server that refuses rename: {left:?}");
}

/// `verify --probe` on the plain server, every drop box and a host that is down: a block
/// per host saying what it allows; exit 0 only when every host would take a push.
#[test]
fn the_probe_says_what_each_server_allows() {
    let Some(sftp) = servers() else { return };
    let w = Workdir::new("dropbox-probe");
    let root = sftp
        .join("upload")
        .join(format!("dropbox-probe-{}", std::process::id()));
    let hosts: Vec<String> = [2222u16, 2225, 2226, 2227, 2228]
        .iter()
        .map(|p| format!("\"sftp://sftptest@127.0.0.1:{p}\""))
        .collect();
    let table = |name: &str, hosts: &str, extra: &str| {
        destination(name, 0, &root, &sftp, extra).replace("[\"sftp://sftptest@127.0.0.1:0\"]", &format!("[{hosts}]"))
    };
    w.create(
        "chama.toml",
        format!(
            "work_dir = \"var\"\n{}{}{}",
            table("all", &hosts.join(", "), ""),
            table(
                "strict",
                "\"sftp://sftptest@127.0.0.1:2225\"",
                "require = [\"rename\"]\n"
            ),
            table(
                "down",
                "\"sftp://sftptest@127.0.0.1:2299\"",
                "connect_timeout_seconds = 2\n"
            ),
        ),
    );
    let r = w.run(&["verify", "--dest", "all", "--probe", "--json"]);
    r.expect_code(0)
        .stdout_has("server       SSH-2.0-OpenSSH_")
        .stdout_has("sftp         version 3; extensions: posix-rename@openssh.com")
        .stdout_has("free space   ")
        .stdout_has("push         would work, with 4 fallback(s)");
    let json = r.json();
    let hosts = &json["hosts"];
    let find = |port: u16| {
        hosts
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["host"] == format!("sftp://sftptest@127.0.0.1:{port}"))
            .unwrap()
            .clone()
    };
    let plain = find(2222);
    for req in ["list", "write", "stat", "rename", "remove"] {
        assert_eq!(plain["requests"][req]["result"], "yes", "{plain}");
    }
    for (port, refused) in BOXES {
        let h = find(port);
        assert_eq!(h["would_push"], true, "{h}");
        assert_eq!(h["requests"]["write"]["result"], "yes", "{h}");
        for req in ["list", "stat", "rename", "remove"] {
            let want = if refused.contains(&req) { "refused" } else { "yes" };
            assert_eq!(h["requests"][req]["result"], want, "{port} {req}: {h}");
        }
    }
    // The probe leaves nothing, but where the server refuses remove: one emptied file.
    let left: Vec<(String, usize)> = dir_files(&root).into_iter().map(|(n, b)| (n, b.len())).collect();
    assert!(
        left.iter().all(|(n, len)| n.starts_with(".chama-probe-") && *len == 0),
        "{left:?}"
    );
    let r = w.run(&["verify", "--dest", "strict", "--probe"]);
    r.expect_code(5)
        .stdout_has("rename       REFUSED")
        .stdout_has("which destination `strict` requires (`require`)")
        .stdout_has("push         would FAIL");
    let r = w.run(&["verify", "--dest", "down", "--probe"]);
    r.expect_code(5)
        .stdout_has("error        connecting to sftp://sftptest@127.0.0.1:2299")
        .stdout_has("push         would FAIL");
    let _ = fs::remove_dir_all(&root);
}

/// A remote disk that fills up mid-push (a 1 MiB tmpfs over the remote directory): the
/// push stops at once with "no space on HOST:DIR" (no retries burnt), exit 5, and
/// leaves no partial file, under a final name or a temporary one, and no `.verf`.
#[test]
fn a_full_remote_disk_is_named_at_once_and_leaves_no_partial_file() {
    let Some(sftp) = servers() else { return };
    let s = Setup::new("dropbox-full", &sftp);
    s.config(&[2222], "failover", "");
    let dir = s.remote();
    fs::create_dir_all(&dir).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m,mode=0777", "tmpfs"])
        .arg(&dir)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        assert!(
            std::env::var("CHAMA_REQUIRE_SFTP").is_err(),
            "CHAMA_REQUIRE_SFTP is set but a tmpfs cannot be mounted (root needed)"
        );
        eprintln!("cannot mount a tmpfs here: skipping");
        return;
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(dir.clone());
    let want = s.set(3, 600_000, 53);
    let t = std::time::Instant::now();
    let r = s.push(&["--json"]);
    r.expect_code(5)
        .stderr_has(&format!("no space on sftp://sftptest@127.0.0.1:2222:{}", dir.display()));
    assert!(!r.stderr().contains("trying again"), "{}", r.stderr());
    assert!(t.elapsed() < Duration::from_secs(10), "took {:?}", t.elapsed());
    for (name, bytes) in dir_files(&dir) {
        assert!(!name.ends_with(".part") && !name.ends_with(".verf"), "{name} left");
        assert!(want[&name] == bytes, "{name}: {} bytes, partial", bytes.len());
    }
}

/// A host reached through a jump host (`via`, OpenSSH's ProxyJump): the set arrives, the
/// jump host logs the logins; a jump host that is down, or whose key is not known, fails
/// the push (exit 5) with what `ssh` said.
#[test]
fn a_host_behind_a_jump_host_takes_the_set() {
    let Some(sftp) = servers() else { return };
    let _one = crate::push::SERVERS.lock().unwrap_or_else(|e| e.into_inner());
    let s = Setup::new("dropbox-jump", &sftp);
    let logins = || {
        fs::read_to_string(sftp.join("sshd_2222.log"))
            .unwrap()
            .matches("Accepted publickey for sftptest")
            .count()
    };
    s.config(&[2223], "failover", "via = \"sftp://sftptest@127.0.0.1:2222\"");
    let want = s.set(4, 300_000, 54);
    let before = logins();
    s.push(&["--json"]).expect_code(0);
    assert_landed(&s.remote(), &want, &[]);
    assert!(logins() > before, "the jump host (2222) logged no login");
    s.config(&[2223], "failover", "via = \"sftp://sftptest@127.0.0.1:2299\"");
    s.set(4, 300_000, 55);
    s.push(&[])
        .expect_code(5)
        .stderr_has("through the jump host sftp://sftptest@127.0.0.1:2299: ssh: connect to host 127.0.0.1 port 2299: Connection refused");
    // The jump host's key is checked too: a known_hosts without it refuses.
    let known = s.w.create(
        "known_hosts",
        fs::read_to_string(sftp.join("known_hosts"))
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with("[127.0.0.1]:2222 "))
            .map(|l| format!("{l}\n"))
            .collect::<String>(),
    );
    let cfg = fs::read_to_string(s.w.join("chama.toml")).unwrap().replace(
        &sftp.join("known_hosts").display().to_string(),
        &known.display().to_string(),
    );
    s.w.create("chama.toml", cfg.replace(":2299", ":2222"));
    s.push(&[]).expect_code(5).stderr_has("Host key verification failed.");
}

/// A server that keeps few files open at once and does not say so (gesftpserver under
/// `ulimit -n 12`, no limits@openssh.com): the opens beyond its limit are refused, those
/// files go back without a try, the batches shrink to what it took (said), and the set
/// arrives whole with no retries allowed.
#[test]
fn a_server_with_few_open_files_gets_smaller_batches() {
    let Some(sftp) = servers() else { return };
    let s = Setup::new("dropbox-fewfiles", &sftp);
    config_with(&s, 2233, 1, 0);
    let want = s.set(40, 20_000, 57);
    let r = s.push(&["--json"]);
    r.expect_code(0).stderr_has("files at once; sending at most ");
    assert!(!r.stderr().contains("trying again"), "{}", r.stderr());
    assert_landed(&s.remote(), &want, &[]);
}

/// A server whose login shell prints where SFTP should start (sshd running the external
/// sftp-server through `nologin`): exit 5 at once, quoting what it printed, with no
/// retries spent on it.
#[test]
fn a_server_that_prints_text_is_quoted_and_not_retried() {
    let Some(sftp) = servers() else { return };
    let s = Setup::new("dropbox-nologin", &sftp);
    s.config(&[2234], "failover", "");
    s.set(2, 1000, 58);
    let t = std::time::Instant::now();
    let r = s.push(&[]);
    r.expect_code(5)
        .stderr_has("the server printed text before SFTP started: \"This account is currently not available.\"");
    assert!(!r.stderr().contains("trying again"), "{}", r.stderr());
    assert!(t.elapsed() < Duration::from_secs(5), "took {:?}", t.elapsed());
}
