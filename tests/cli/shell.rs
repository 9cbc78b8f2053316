//! Shell integration: completions, the man page, and the cron file.

use crate::harness::{bundled_config, repo_root, Workdir};

#[test]
fn completions_and_man_page_cover_every_command() {
    let w = Workdir::new("shell");
    for shell in ["bash", "zsh", "fish"] {
        let r = w.run(&["completions", shell]);
        r.expect_code(0);
        for cmd in [
            "build", "pull", "push", "merge", "run", "rerun", "verify", "status", "clean",
        ] {
            r.stdout_has(cmd);
        }
    }
    w.run(&["completions", "tcsh"]).expect_code(2);
    let r = w.run(&["man"]);
    r.expect_code(0).stdout_has(".TH chama 1").stdout_has("rerun");
}

#[test]
fn the_cron_file_uses_absolute_paths_and_real_commands() {
    let text = std::fs::read_to_string(repo_root().join("scripts/cron/chama.cron")).unwrap();
    let jobs: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter(|l| {
            !l.split('=')
                .next()
                .unwrap()
                .chars()
                .all(|c| c.is_ascii_uppercase() || c == '_')
        })
        .collect();
    assert_eq!(jobs.len(), 4, "hourly build, daily run, status, retention");
    for job in &jobs {
        assert!(
            job.contains("/opt/chama/bin/chama ") && job.contains(">> /opt/chama/log/"),
            "{job}"
        );
        // Each chama command line parses (clap would exit 2 on a bad flag).
        let sub = job.split("/opt/chama/bin/chama ").nth(1).unwrap();
        let word = sub.split_whitespace().next().unwrap();
        let w = Workdir::new("cron");
        w.run(&[word, "--help"]).expect_code(0);
    }
}

#[test]
fn log_format_json_gives_one_object_per_line() {
    let w = Workdir::new("logjson");
    let cfg = w.create("chama.toml", bundled_config());
    let mut cmd = w.command(&[
        "--log-format",
        "json",
        "build",
        "--iface",
        "CM001",
        "--period",
        "2024121300",
    ]);
    cmd.env("CHAMA_CONFIG", &cfg);
    let r = w.run_cmd(cmd);
    r.expect_code(3);
    let lines: Vec<serde_json::Value> = r
        .stderr()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    assert!(!lines.is_empty());
    for l in &lines {
        assert!(l["time"].is_string() && l["message"].is_string(), "{l}");
    }
    assert_eq!(lines[0]["level"], "error");
    assert!(lines[0]["message"].as_str().unwrap().contains("hour=00 does not exist"));
    let mut cmd = w.command(&[
        "--log-format",
        "json",
        "build",
        "--iface",
        "CM001",
        "--period",
        "2024121207",
    ]);
    cmd.env("CHAMA_CONFIG", &cfg);
    let r = w.run_cmd(cmd);
    r.expect_code(0);
    let l: serde_json::Value = serde_json::from_str(r.stderr().lines().last().unwrap()).unwrap();
    assert_eq!(l["level"], "info");
    assert!(l["message"]
        .as_str()
        .unwrap()
        .starts_with("CM001 2024121207: 800 rows in"));
}
