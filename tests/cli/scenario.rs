//! Two days end to end through three real OpenSSH servers: hourly builds,
//! run (merge, push), a run that does nothing; then a rerun with the same
//! batch and one with the next batch; `status --json` after each step.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use crate::harness::{names_in, repo_root, Workdir};
use crate::push::{servers, SERVERS};

fn status(w: &Workdir) -> serde_json::Value {
    let r = w.run(&["status", "--since", "20241201", "--json"]);
    r.expect_code(0);
    r.json()
}

fn day<'a>(s: &'a serde_json::Value, d: &str) -> &'a serde_json::Value {
    s["days"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["day"] == d)
        .unwrap_or(&serde_json::Value::Null)
}

/// The names in a remote directory; none before the first delivery.
fn remote_names(dir: &Path) -> BTreeSet<String> {
    if dir.exists() {
        names_in(dir).into_iter().collect()
    } else {
        BTreeSet::new()
    }
}

/// A work directory with two days of CM001's source (the bundled day, and
/// the same rows as the next day) delivering to the three OpenSSH servers
/// (spread); and the remote directory its files land in.
fn two_day_site(name: &str, sftp: &Path) -> (Workdir, std::path::PathBuf) {
    let w = Workdir::new(name);
    // Two days of source: the bundled day, and the same rows as the next day.
    let src = repo_root().join("testdata/dumps/cm001/dt=2024-12-12");
    for date in ["2024-12-12", "2024-12-13"] {
        for h in 0..24 {
            for e in fs::read_dir(src.join(format!("hour={h:02}"))).unwrap().flatten() {
                w.create(
                    format!("dumps/cm001/dt={date}/hour={h:02}/{}", e.file_name().to_string_lossy()),
                    fs::read(e.path()).unwrap(),
                );
            }
        }
    }
    let spec = fs::read_to_string(repo_root().join("interfaces/CM001.toml"))
        .unwrap()
        .replace("destinations = [\"outbox\"]", "destinations = [\"exchange\"]");
    w.create("interfaces/CM001.toml", spec);
    let remote_root = sftp.join("upload").join(format!("{name}-{}", std::process::id()));
    w.create(
        "chama.toml",
        format!(
            "work_dir = \"var\"\n[sources.default]\nkind = \"local\"\nroot = \"dumps\"\n\
             [destinations.exchange]\nkind = \"sftp\"\nhosts = [\"sftp://sftptest@127.0.0.1:2222\", \"sftp://sftptest@127.0.0.1:2223\", \"sftp://sftptest@127.0.0.1:2224\"]\n\
             mode = \"spread\"\nroot = \"{}\"\nidentity_file = \"{}\"\nknown_hosts = \"{}\"\nconnections = 2\n",
            remote_root.display(),
            sftp.join("client_ed25519").display(),
            sftp.join("known_hosts").display()
        ),
    );
    let remote = remote_root.join("incoming/cm");
    (w, remote)
}

#[test]
fn a_day_built_hour_by_hour_then_run_is_merged_and_pushed_once() {
    let Some(sftp) = servers() else { return };
    let _one = SERVERS.lock().unwrap_or_else(|e| e.into_inner());
    let (w, remote) = two_day_site("scenario-day", &sftp);

    // Day 1, hour by hour as cron does: built, not merged, not pushed.
    for h in 0..24 {
        w.run_fixed(&["build", "--iface", "CM001", "--period", &format!("20241212{h:02}")])
            .expect_code(0);
    }
    let s = status(&w);
    let d1 = day(&s, "20241212");
    assert_eq!(d1["hours_built"].as_array().unwrap().len(), 24, "{s}");
    assert_eq!(
        (d1["merged"].as_bool(), d1["pushes"].as_array().unwrap().len()),
        (Some(false), 0)
    );

    // The daily run merges and pushes; the next one does nothing.
    w.run_fixed(&["run", "--iface", "CM001", "--period", "20241212"])
        .expect_code(0);
    let s = status(&w);
    let d1 = day(&s, "20241212");
    assert_eq!(d1["merged"], true);
    assert_eq!(
        (d1["pushes"][0]["dest"].as_str(), d1["pushes"][0]["code"].as_i64()),
        (Some("exchange"), Some(0))
    );
    let delivered = remote_names(&remote);
    let merged: BTreeSet<String> = remote_names(&w.join("var/out/CM001/20241212"))
        .into_iter()
        .filter(|n| n != "manifest.json")
        .collect();
    assert_eq!(delivered, merged);
    w.run_fixed(&["run", "--iface", "CM001", "--period", "20241212"])
        .expect_code(0)
        .stderr_has("0 file(s) sent");
}

#[test]
fn reruns_of_the_same_batch_replace_and_of_the_next_add_beside() {
    let Some(sftp) = servers() else { return };
    let _one = SERVERS.lock().unwrap_or_else(|e| e.into_inner());
    let (w, remote) = two_day_site("scenario-rerun", &sftp);
    w.run_fixed(&["run", "--iface", "CM001", "--period", "20241212"])
        .expect_code(0);
    let d1 = day(&status(&w), "20241212").clone();
    // Day 2 in one run.
    w.run_fixed(&["run", "--iface", "CM001", "--period", "20241213"])
        .expect_code(0);
    let s = status(&w);
    assert_eq!(day(&s, "20241213")["merged"], true);
    assert_eq!(day(&s, "20241213")["pushes"][0]["code"], 0);
    for d in ["20241212", "20241213"] {
        w.run_fixed(&[
            "verify", "--iface", "CM001", "--period", d, "--dest", "exchange", "--deep",
        ])
        .expect_code(0);
    }

    // Rerun day 1, same batch, after its source changed for hour 03: replaced in place.
    let h03 = w.join("dumps/cm001/dt=2024-12-12/hour=03/part-00001.gz");
    fs::remove_file(&h03).unwrap();
    let r = w.run_fixed(&[
        "rerun",
        "--iface",
        "CM001",
        "--period",
        "20241212",
        "--hours",
        "03",
        "--reason",
        "hour 03 fixed",
        "--json",
    ]);
    r.expect_code(0);
    let j = r.json();
    assert!(
        j["days"][0]["rows_after"].as_u64() < j["days"][0]["rows_before"].as_u64(),
        "{j}"
    );
    w.run_fixed(&[
        "verify", "--iface", "CM001", "--period", "20241212", "--dest", "exchange", "--deep",
    ])
    .expect_code(0);
    let s = status(&w);
    assert_eq!(day(&s, "20241212")["pushes"][0]["code"], 0);
    assert!(day(&s, "20241212")["rows"].as_u64() < d1["rows"].as_u64());

    // Rerun day 2 under the next batch: new names beside the old ones.
    let before = remote_names(&remote);
    w.run_fixed(&["rerun", "--iface", "CM001", "--period", "20241213", "--next-batch"])
        .expect_code(0);
    let after = remote_names(&remote);
    let new: Vec<&String> = after.difference(&before).collect();
    assert!(
        !new.is_empty() && new.iter().all(|n| n.contains("20241213") && n.contains("_01")),
        "{new:?}"
    );
    assert!(before.is_subset(&after), "the old delivery is left as it is");
    let s = status(&w);
    assert_eq!(s["days"].as_array().unwrap().len(), 2, "{s}");
}
