//! Shell integration: completions, the man page, and the cron file.

use crate::harness::{repo_root, Workdir};

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
