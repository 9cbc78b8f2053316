//! Shell integration: completions, the man page, the cron file, systemd timers and
//! the job script they run.

use crate::harness::{bundled_config, names_in, repo_root, Workdir};

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
fn the_cron_file_runs_chama_job_as_chama_with_a_log_each() {
    let text = std::fs::read_to_string(repo_root().join("packaging/chama.cron")).unwrap();
    let jobs: Vec<Vec<&str>> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty() && !l.contains('='))
        .map(|l| l.split_whitespace().collect())
        .collect();
    let names: Vec<&str> = jobs.iter().map(|j| j[7]).collect();
    assert_eq!(names, ["hourly", "daily", "status", "clean"]);
    for job in &jobs {
        // m h dom mon dow user command: cron.d's format.
        assert_eq!(job[5], "chama", "{job:?}");
        assert_eq!(job[6], "/usr/libexec/chama/chama-job", "{job:?}");
        assert_eq!(job[8], ">>", "{job:?}");
        assert_eq!(job[9], format!("/var/log/chama/{}.log", job[7]), "{job:?}");
    }
    // The systemd timers run the same jobs on the same schedule.
    for (job, calendar) in [
        ("hourly", "*-*-* *:20:00"),
        ("daily", "*-*-* 01,03,05:30:00"),
        ("status", "*-*-* 09:30:00"),
        ("clean", "Sun *-*-* 04:00:00"),
    ] {
        let timer = std::fs::read_to_string(repo_root().join(format!("packaging/systemd/chama-{job}.timer"))).unwrap();
        assert!(timer.contains(&format!("OnCalendar={calendar}\n")), "{job}: {timer}");
        assert!(timer.contains(&format!("Unit=chama@{job}.service\n")), "{job}: {timer}");
    }
}

/// Runs `packaging/chama-job` as cron and systemd do, with its environment file
/// pointing at a work directory here that has the bundled day's interface, CM001.
fn chama_job(w: &Workdir, queue: Option<&str>, args: &[&str]) -> crate::harness::Run {
    let interfaces = repo_root().join("interfaces");
    let config = bundled_config().replace(&interfaces.display().to_string(), "interfaces");
    std::fs::create_dir_all(w.join("interfaces")).unwrap();
    std::fs::copy(interfaces.join("CM001.toml"), w.join("interfaces/CM001.toml")).unwrap();
    let cfg = w.create("chama.toml", config);
    let mut env = format!("CHAMA_CONFIG={}\n", cfg.display());
    if let Some(q) = queue {
        env.push_str(&format!("CHAMA_QUEUE={q}\n"));
    }
    let env_file = w.create("chama.env", env);
    let mut cmd = std::process::Command::new(repo_root().join("packaging/chama-job"));
    cmd.args(args)
        .env_remove("CHAMA_CONFIG")
        .env_remove("CHAMA_QUEUE")
        .env("CHAMA_ENV", env_file)
        .env("CHAMA_BIN", env!("CARGO_BIN_EXE_chama"))
        .env("CHAMA_WORKDIR", w.path());
    w.run_cmd(cmd)
}

#[test]
fn chama_job_runs_the_hourly_and_daily_jobs_of_this_machines_queue() {
    let w = Workdir::new("chama_job");
    chama_job(&w, None, &["hourly", "2024121207"]).expect_code(0);
    assert!(w.join("var/hourly/CM001/20241212/07/manifest.json").is_file());
    // On a machine of another queue, the hourly job builds none of the bundled interfaces.
    chama_job(&w, Some("node09"), &["hourly", "2024121208"]).expect_code(0);
    assert!(!w.join("var/hourly/CM001/20241212/08").exists());
    let r = chama_job(&w, None, &["daily", "20241212"]);
    r.expect_code(0);
    assert_eq!(r.json()["command"], "run");
    assert!(names_in(&w.join("outbox/incoming/cm")).len() > 300);
    chama_job(&w, None, &["status"]).expect_code(0);
    chama_job(&w, None, &["nightly"])
        .expect_code(2)
        .stderr_has("usage: chama-job");
}

#[test]
fn log_format_json_gives_one_object_per_line() {
    let w = Workdir::bundled("logjson");
    let build = |period: &str| {
        let mut cmd = w.command(&["--log-format", "json", "build", "--iface", "CM001", "--period", period]);
        cmd.env("CHAMA_CONFIG", w.join("chama.toml"));
        w.run_cmd(cmd)
    };
    let r = build("2024121300");
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
    let r = build("2024121207");
    r.expect_code(0);
    let l: serde_json::Value = serde_json::from_str(r.stderr().lines().last().unwrap()).unwrap();
    assert_eq!(l["level"], "info");
    assert!(l["message"]
        .as_str()
        .unwrap()
        .starts_with("CM001 2024121207: 800 rows in"));
}
