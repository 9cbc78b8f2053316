//! A Kerberized HDFS (scripts/krb.sh: an MIT KDC and a secure HDFS 2.7.3):
//! each DataNode protection level, each way a ticket can be missing or
//! wrong (exit 2 at once, saying what to do), and a pull that outlives a
//! one-minute ticket, renewed from the keytab. The source suite in
//! `sources.rs` also runs both kinds on this cluster.

use std::fs;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::harness::Workdir;
use crate::sources::{bundled_hour, files, krb, reference_hour, refs, secure, Site, CLUSTER, FAST, SECURE_KINDS};

/// Holds the DataNode still: the protection test restarts it.
static DATANODE: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// `kinit` as the test realm's `principal` from its keytab into `cache`, with `args`.
fn kinit(principal: &str, cache: &std::path::Path, args: &[&str]) {
    let keytab = format!("{}/keytabs/{principal}.keytab", krb("KRB_DIR"));
    let out = Command::new("kinit")
        .args(args)
        .args(["-kt", &keytab, "-c"])
        .arg(format!("FILE:{}", cache.display()))
        .arg(format!("{principal}@EXAMPLE.TEST"))
        .env("KRB5_CONFIG", krb("KRB5_CONFIG"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kinit {principal}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_datanode_protection_gives_the_same_bytes_with_both_kinds() {
    let Some(cli) = secure() else { return };
    // The DataNode first: waiting for the long pull must not hold up the source suite.
    let _dn = DATANODE.write().unwrap_or_else(|e| e.into_inner());
    let _one = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    let (_reference, expected) = reference_hour("krb-dtp-ref", "07");
    let hour = bundled_hour("07");
    // Integrity last: the level the cluster starts with, for the other tests.
    for level in ["authentication", "privacy", "integrity"] {
        let out = Command::new(format!("{}/hdfs/restart-dn.sh", krb("KRB_DIR")))
            .arg(level)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "restart-dn.sh {level}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        for kind in SECURE_KINDS {
            let site = Site::hdfs(kind, &cli, &format!("dtp-{level}"));
            site.put("cm001/dt=2024-12-12/hour=07", &refs(&hour));
            let w = Workdir::new(&format!("{}-{level}", kind.replace('+', "-")));
            w.create("chama.toml", site.config(FAST));
            w.run(&["build", "--iface", "CM001", "--period", "2024121207"])
                .expect_code(0);
            assert_eq!(
                files(&w.join("var/hourly/CM001/20241212/07"), ".gz"),
                expected,
                "{kind} with data transfer protection {level}"
            );
        }
    }
}

#[test]
fn the_user_s_own_ticket_serves_without_a_keytab() {
    let Some(cli) = secure() else { return };
    let _dn = DATANODE.read().unwrap_or_else(|e| e.into_inner());
    let (_reference, expected) = reference_hour("krb-user-ref", "07");
    let site = Site::hdfs("hdfs+krb", &cli, "user");
    site.put("cm001/dt=2024-12-12/hour=07", &refs(&bundled_hour("07")));
    let w = Workdir::new("krb-user");
    // As the README shows: HADOOP_CONF_DIR, and a ticket from `kinit`.
    let source = format!(
        "kind = \"hdfs\"\nnamenode = \"{}\"\ntimeout_seconds = 5",
        krb("SECURE_URL")
    );
    w.create("chama.toml", site.config_with(&source, FAST));
    let cache = w.join("cc");
    kinit("chama", &cache, &[]);
    let mut cmd = w.command(&["build", "--iface", "CM001", "--period", "2024121207"]);
    cmd.env("HADOOP_CONF_DIR", krb("SECURE_CONF")).env("KRB5CCNAME", &cache);
    w.run_cmd(cmd).expect_code(0);
    assert_eq!(files(&w.join("var/hourly/CM001/20241212/07"), ".gz"), expected);

    // A ticket that ends within the hour: a warning, and the work goes on.
    kinit("chama", &cache, &["-l", "10m"]);
    let mut cmd = w.command(&["pull", "--iface", "CM001", "--period", "2024121207"]);
    cmd.env("HADOOP_CONF_DIR", krb("SECURE_CONF")).env("KRB5CCNAME", &cache);
    w.run_cmd(cmd)
        .expect_code(0)
        .stderr_has("warning: the Kerberos ticket for chama@EXAMPLE.TEST in ")
        .stderr_has("set keytab in the source to let chama renew it");
}

/// A failure case: the kind (for messages), the source's keys, the environment
/// of the run, and what stderr must say.
type Case<'a> = (&'a str, String, Vec<(&'a str, String)>, Vec<&'a str>);

#[test]
fn kerberos_failures_exit_2_at_once_saying_what_to_do() {
    let Some(cli) = secure() else { return };
    let _dn = DATANODE.read().unwrap_or_else(|e| e.into_inner());
    let site = Site::hdfs("hdfs+krb", &cli, "fail");
    site.put("cm001/dt=2024-12-12/hour=07", &refs(&bundled_hour("07")));
    let w = Workdir::new("krb-fail");
    let k = krb("KRB_DIR");
    let (url, conf) = (krb("SECURE_URL"), krb("SECURE_CONF"));
    let native = format!("kind = \"hdfs\"\nnamenode = \"{url}\"\ntimeout_seconds = 20");
    let shell = format!("kind = \"hdfs-cli\"\ncommand = \"{cli} dfs\"");
    let with_conf = |kind: &str| format!("{kind}\nhadoop_conf_dir = \"{conf}\"");
    let keytab = |kind: &str, principal: &str, file: &str| {
        format!(
            "{}\nprincipal = \"{principal}@EXAMPLE.TEST\"\nkeytab = \"{k}/keytabs/{file}\"",
            with_conf(kind)
        )
    };
    // A cluster configuration that does not ask for Kerberos.
    w.create("plain/core-site.xml", "<configuration></configuration>\n");
    let missing = w.join("no-cache").display().to_string();
    let expired = w.join("cc-expired");
    kinit("chama-short", &expired, &["-l", "3s"]);
    let other = w.join("cc-other");
    kinit("chama", &other, &[]);
    std::thread::sleep(Duration::from_secs(4));
    let expired = expired.display().to_string();
    let other = other.display().to_string();

    let mut cases: Vec<Case> = Vec::new();
    for (name, kind) in [("native", &native), ("hdfs-cli", &shell)] {
        cases.push((
            name,
            with_conf(kind),
            vec![("KRB5CCNAME", missing.clone())],
            vec![
                "no Kerberos ticket in ",
                "run `kinit you@EXAMPLE.TEST`, or set principal and keytab",
            ],
        ));
        cases.push((
            name,
            with_conf(kind),
            vec![("KRB5CCNAME", expired.clone())],
            vec![
                "the Kerberos ticket for chama-short@EXAMPLE.TEST in ",
                " expired at ",
                "run `kinit chama-short@EXAMPLE.TEST`, or set keytab",
            ],
        ));
        cases.push((
            name,
            format!("{}\nprincipal = \"chama-short@EXAMPLE.TEST\"", with_conf(kind)),
            vec![("KRB5CCNAME", other.clone())],
            vec!["is for chama@EXAMPLE.TEST, not the source's principal chama-short@EXAMPLE.TEST"],
        ));
        cases.push((
            name,
            keytab(kind, "chama-short", "chama.keytab"),
            vec![],
            vec![
                "keytab ",
                "chama.keytab does not hold chama-short@EXAMPLE.TEST",
                "klist -kt",
            ],
        ));
    }
    // Keytabs and the KDC: the same code for both kinds, once each.
    cases.extend([
        (
            "hdfs-cli",
            keytab(&shell, "chama-stale", "chama-stale.keytab"),
            vec![],
            vec!["Preauthentication failed", "is stale", "export a new keytab"],
        ),
        (
            "native",
            keytab(&native, "ghost", "ghost.keytab"),
            vec![],
            vec!["does not know ghost@EXAMPLE.TEST"],
        ),
        (
            "native",
            keytab(&native, "chama", "missing.keytab"),
            vec![],
            vec!["missing.keytab does not exist: fix the keytab path"],
        ),
        (
            "native",
            keytab(&native, "chama", "chama.keytab"),
            vec![("KRB5_CONFIG", format!("{k}/krb5-nokdc.conf"))],
            vec!["Cannot contact any KDC", "no KDC of EXAMPLE.TEST answers: check its kdc lines in "],
        ),
        (
            "native",
            format!(
                "{native}\nhadoop_conf_dir = \"{}\"\nprincipal = \"chama@EXAMPLE.TEST\"\nkeytab = \"{k}/keytabs/chama.keytab\"",
                w.join("plain").display()
            ),
            vec![],
            vec!["does not ask for Kerberos", "point hadoop_conf_dir at the cluster's client configuration"],
        ),
        (
            "native",
            format!("{}\nkeytab = \"{k}/keytabs/chama.keytab\"", with_conf(&native)),
            vec![],
            vec!["is set without principal"],
        ),
        // No configuration: the NameNode refuses a client without Kerberos.
        (
            "native",
            native.clone(),
            vec![],
            vec!["the NameNode wants Kerberos, but no configuration asks for it", "hadoop_conf_dir"],
        ),
        // The site's client with a ticket cache that is not there: what the JVM says.
        (
            "hdfs-cli",
            shell.clone(),
            vec![("KRB5CCNAME", missing.clone())],
            vec!["cannot reach HDFS through ", "Kerberos (realm EXAMPLE.TEST): no Kerberos ticket in "],
        ),
    ]);
    // A clock ten minutes ahead of the KDC's (libfaketime, installed by scripts/krb.sh).
    let faketime = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
    if std::path::Path::new(faketime).exists() {
        cases.push((
            "native",
            with_conf(&native),
            vec![
                ("KRB5CCNAME", other.clone()),
                ("LD_PRELOAD", faketime.to_string()),
                ("FAKETIME", "+10m".to_string()),
                ("FAKETIME_DONT_FAKE_MONOTONIC", "1".to_string()),
            ],
            vec!["this machine's clock is too far from the KDC's", "fix NTP"],
        ));
    }
    if let Ok(plain) = std::env::var("CHAMA_TEST_HDFS_CLI") {
        cases.push((
            "hdfs-cli",
            format!("kind = \"hdfs-cli\"\ncommand = \"{plain} dfs -fs {url}\""),
            vec![],
            vec!["the NameNode wants Kerberos, but no configuration asks for it"],
        ));
    }
    for (name, source, env, says) in &cases {
        w.create("chama.toml", site.config_with(source, FAST));
        let mut cmd = w.command(&["pull", "--iface", "CM001", "--period", "2024121207"]);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let started = Instant::now();
        let r = w.run_cmd(cmd);
        let took = started.elapsed();
        let mut r = r.expect_code(2);
        for s in says {
            r = r.stderr_has(s);
        }
        assert!(!r.stderr().contains("gave up"), "{name}: retried: {}", r.stderr());
        assert!(took < Duration::from_secs(8), "{name}: {took:?} for {says:?}");
        assert!(
            !r.stderr().contains("GssMajorCodes"),
            "{name}: a raw GSSAPI error: {}",
            r.stderr()
        );
    }
}

#[test]
fn a_pull_that_outlives_a_one_minute_ticket_completes_from_the_keytab() {
    let Some(cli) = secure() else { return };
    let _dn = DATANODE.read().unwrap_or_else(|e| e.into_inner());
    let hour = bundled_hour("09");
    let data: Vec<(String, Vec<u8>)> = hour.iter().filter(|(n, _)| !n.starts_with('_')).cloned().collect();
    let log = format!("{}/kdc/kdc.log", krb("KRB_DIR"));
    let issued = || {
        fs::read_to_string(&log)
            .unwrap()
            .lines()
            .filter(|l| {
                l.contains("AS_REQ") && l.contains("ISSUE") && l.contains("chama-short@EXAMPLE.TEST for krbtgt/")
            })
            .count()
    };
    let before = issued();
    // chama-short's tickets last one minute and cannot be renewed: only the keytab
    // gets new ones. The marker comes after 75 s, so the files are read (by a new
    // JVM each, for the site's client) after the first ticket ended.
    let mut pulls = Vec::new();
    for kind in SECURE_KINDS {
        let site = Site::hdfs(kind, &cli, "long");
        site.put("cm001/dt=2024-12-12/hour=09", &refs(&data));
        let w = Workdir::new(&format!("{}-long", kind.replace('+', "-")));
        let source = site
            .source(0)
            .replace("principal = \"chama@", "principal = \"chama-short@")
            .replace("keytabs/chama.keytab", "keytabs/chama-short.keytab");
        w.create(
            "chama.toml",
            site.config_with(&source, "retries = 1\nretry_delay_ms = 50\npoll_seconds = 5"),
        );
        let pull = w.spawn(&["pull", "--iface", "CM001", "--period", "2024121209", "--wait", "150s"]);
        pulls.push((kind, site, w, pull));
    }
    std::thread::sleep(Duration::from_secs(75));
    for (_, site, _, _) in &pulls {
        site.put("cm001/dt=2024-12-12/hour=09", &[("_SUCCESS", b"")]);
    }
    for (kind, _, w, pull) in pulls {
        pull.wait()
            .expect_code(0)
            .stderr_has("2 copied")
            .stderr_has("renewed the Kerberos ticket for chama-short@EXAMPLE.TEST");
        for (name, body) in &data {
            assert_eq!(
                &fs::read(w.join(format!("var/staging/CM001/20241212/09/{name}"))).unwrap(),
                body,
                "{kind}: {name}"
            );
        }
    }
    // Two pulls: each got a ticket at its start and at least two more.
    let new = issued() - before;
    assert!(new >= 6, "the KDC issued {new} tickets to chama-short@EXAMPLE.TEST");
}

#[test]
fn the_scheduled_job_pulls_from_the_kerberized_cluster_with_the_keytab() {
    let Some(cli) = secure() else { return };
    let _dn = DATANODE.read().unwrap_or_else(|e| e.into_inner());
    let (_reference, expected) = reference_hour("krb-job-ref", "07");
    let site = Site::hdfs("hdfs+krb", &cli, "job");
    site.put("cm001/dt=2024-12-12/hour=07", &refs(&bundled_hour("07")));
    let w = Workdir::new("krb-job");
    let spec = crate::harness::repo_root().join("interfaces/CM001.toml");
    w.create("interfaces/CM001.toml", fs::read(spec).unwrap());
    let config = site.config(FAST);
    let interfaces = format!(
        "interfaces_dir = \"{}/interfaces\"",
        crate::harness::repo_root().display()
    );
    w.create(
        "chama.toml",
        config.replace(&interfaces, "interfaces_dir = \"interfaces\""),
    );
    w.create(
        "chama.env",
        format!("CHAMA_CONFIG={}\n", w.join("chama.toml").display()),
    );
    // As cron runs it: packaging/chama-job with its environment file, nothing else.
    let out = Command::new(crate::harness::repo_root().join("packaging/chama-job"))
        .args(["hourly", "2024121207"])
        .env("CHAMA_ENV", w.join("chama.env"))
        .env("CHAMA_WORKDIR", w.path())
        .env("CHAMA_BIN", env!("CARGO_BIN_EXE_chama"))
        .env("KRB5_CONFIG", krb("KRB5_CONFIG"))
        .env_remove("KRB5CCNAME")
        .env_remove("CHAMA_CONFIG")
        .env_remove("CHAMA_QUEUE")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "chama-job hourly: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(files(&w.join("var/hourly/CM001/20241212/07"), ".gz"), expected);
    assert!(w.join("var/krb5cc").is_dir(), "chama's own ticket cache");
}
