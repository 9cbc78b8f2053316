//! Interfaces spread over machines: `[delivery] queue`, `chama spec list --queue`,
//! `chama run --all --queue` (CHAMA_QUEUE), as the Airflow DAG and the cron jobs use them.

use crate::harness::{field_strs, id_v_spec, names_in, repo_root, Workdir};

/// A work directory whose interfaces sit on two queues: CM001 (the bundled day) on
/// node01, NODATA on node02, PLAIN on none (the default queue), BROKEN not TOML.
fn two_machines(name: &str) -> Workdir {
    let w = Workdir::new(name);
    let root = repo_root();
    w.create(
        "chama.toml",
        format!(
            "work_dir = \"var\"\n[sources.default]\nkind = \"local\"\nroot = \"{}/testdata/dumps\"\n\
             [destinations.outbox]\nkind = \"local\"\nroot = \"outbox\"\n",
            root.display()
        ),
    );
    let cm001 = std::fs::read_to_string(root.join("interfaces/CM001.toml")).unwrap();
    assert!(
        cm001.trim_end().ends_with("remote_dir = \"/incoming/cm\""),
        "[delivery] is CM001's last section"
    );
    w.create("interfaces/CM001.toml", format!("{cm001}queue = \"node01\"\n"));
    let delivery = "[delivery]\ndestinations = [\"outbox\"]\nremote_dir = \"/x\"\n";
    w.create(
        "interfaces/NODATA.toml",
        id_v_spec("NODATA", "", "", &format!("{delivery}queue = \"node02\"\n")),
    );
    w.create("interfaces/PLAIN.toml", id_v_spec("PLAIN", "", "", delivery));
    w.create("interfaces/BROKEN.toml", "this is not [toml\n");
    w
}

fn names(w: &Workdir, args: &[&str], queue_env: Option<&str>) -> Vec<String> {
    let mut cmd = w.command(args);
    if let Some(q) = queue_env {
        cmd.env("CHAMA_QUEUE", q);
    }
    let r = w.run_cmd(cmd);
    r.expect_code(0);
    r.stdout().lines().map(str::to_string).collect()
}

#[test]
fn spec_list_gives_each_machine_its_interfaces_and_every_machine_the_unreadable_ones() {
    let w = two_machines("queues_list");
    assert_eq!(
        names(&w, &["spec", "list"], None),
        ["BROKEN", "CM001", "NODATA", "PLAIN"]
    );
    assert_eq!(
        names(&w, &["spec", "list", "--queue", "node01"], None),
        ["BROKEN", "CM001"]
    );
    assert_eq!(names(&w, &["spec", "list"], Some("node02")), ["BROKEN", "NODATA"]);
    assert_eq!(
        names(&w, &["spec", "list", "--queue", "default"], None),
        ["BROKEN", "PLAIN"]
    );
    let r = w.run(&["spec", "list", "--json"]);
    let rows = r.expect_code(0).json();
    assert_eq!(rows[1], serde_json::json!({"name": "CM001", "queue": "node01"}));
    assert_eq!(rows[3], serde_json::json!({"name": "PLAIN", "queue": "default"}));
    assert_eq!(
        rows[0]["queue"],
        serde_json::Value::Null,
        "BROKEN's queue cannot be read"
    );
    w.run(&["spec", "list", "--queue", "no/such"])
        .expect_code(2)
        .stderr_has("is not a queue name");
}

#[test]
fn a_spec_with_a_bad_queue_name_fails_its_check() {
    let w = two_machines("queues_check");
    let spec = id_v_spec(
        "BADQ",
        "",
        "",
        "[delivery]\ndestinations = [\"outbox\"]\nremote_dir = \"/x\"\nqueue = \"node 01\"\n",
    );
    let f = w.create("interfaces/BADQ.toml", spec);
    w.run(&["spec", "check", f.to_str().unwrap()])
        .expect_code(2)
        .stderr_has("queue `node 01` must be letters, digits");
}

#[test]
fn run_all_on_a_queue_runs_that_machines_interfaces_only() {
    let w = two_machines("queues_run");
    std::fs::remove_file(w.join("interfaces/BROKEN.toml")).unwrap();
    let mut cmd = w.command(&["run", "--all", "--period", "20241212", "--json"]);
    cmd.env("CHAMA_QUEUE", "node01");
    let r = w.run_cmd(cmd);
    r.expect_code(0);
    let summary = r.json();
    let ran = field_strs(&summary["interfaces"], "interface");
    assert_eq!(ran, ["CM001"], "{summary}");
    assert!(names_in(&w.join("outbox/incoming/cm")).len() > 300);
    for other in ["NODATA", "PLAIN"] {
        w.assert_absent(format!("var/hourly/{other}"), &format!("{other} was built on node01"));
    }

    w.run(&["run", "--all", "--queue", "node03", "--period", "20241212"])
        .expect_code(2)
        .stderr_has("no interface in")
        .stderr_has("is on queue `node03`");

    // By hand, on the wrong machine: a warning, and the run goes on.
    let r = w.run(&["run", "--iface", "CM001", "--queue", "node02", "--period", "20241212"]);
    r.expect_code(0)
        .stderr_has("CM001 is on queue `node01`, this machine's is `node02`");
}
