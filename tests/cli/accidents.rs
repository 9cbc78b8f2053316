//! What operators and schedulers do to chama by accident: typos in names,
//! names that are paths; each an exit 2 (fix it, do not retry) that says
//! what there is, before anything is locked, recorded or written.

use crate::harness::Workdir;

#[test]
fn an_unknown_interface_exits_2_naming_the_known_ones_before_any_lock() {
    let w = Workdir::bundled("typo");
    for args in [
        &["build", "--iface", "CM01", "--period", "20241212"][..],
        &["pull", "--iface", "CM01", "--period", "2024121203"],
        &["merge", "--iface", "CM01", "--period", "20241212"],
        &["push", "--iface", "CM01", "--period", "20241212"],
        &["run", "--iface", "CM01", "--period", "20241212"],
        &["rerun", "--iface", "CM01", "--period", "20241212"],
        &["verify", "--iface", "CM01", "--period", "20241212"],
        &["sample", "--iface", "CM01", "--period", "20241212"],
    ] {
        w.run(args)
            .expect_code(2)
            .stderr_has("no interface `CM01` in ")
            .stderr_has("(did you mean `CM001`?)")
            .stderr_has("known: 51006, 51007, 51010, 77006, CM001, CM002, CM003");
    }
    assert!(
        !w.join("var/locks").exists(),
        "no lock was taken for a name that is no interface"
    );
    assert!(!w.join("var/ledger.sqlite").exists(), "nor any run recorded");
    // A name far from every interface gets the list alone.
    w.run(&["build", "--iface", "NOSUCH", "--period", "20241212"])
        .expect_code(2)
        .stderr_has("interfaces; known: 51006");
}

#[test]
fn names_that_are_paths_are_refused_where_they_are_parsed() {
    let w = Workdir::bundled("pathname");
    for (flag, name) in [
        ("--iface", "../interfaces/CM001"),
        ("--iface", ".CM001"),
        ("--iface", "a/b"),
    ] {
        w.run(&["build", flag, name, "--period", "20241212"])
            .expect_code(2)
            .stderr_has("is not a plain name");
    }
    w.run(&[
        "push",
        "--iface",
        "CM001",
        "--period",
        "20241212",
        "--dest",
        "../outbox",
    ])
    .expect_code(2)
    .stderr_has("is not a plain name");
    assert!(!w.join("var").exists(), "nothing was made");
}

#[test]
fn an_unknown_destination_exits_2_naming_the_known_ones() {
    let w = Workdir::bundled("desttypo");
    w.run(&["build", "--iface", "CM001", "--period", "2024121203"])
        .expect_code(0);
    for args in [
        &["push", "--iface", "CM001", "--period", "2024121203", "--dest", "outbx"][..],
        &[
            "push",
            "--iface",
            "CM001",
            "--period",
            "2024121203",
            "--dest",
            "outbx",
            "--dry-run",
        ],
    ] {
        w.run(args)
            .expect_code(2)
            .stderr_has("no destination `outbx` in the configuration (did you mean `outbox`?); known: outbox");
    }
    w.run(&[
        "verify",
        "--iface",
        "CM001",
        "--period",
        "2024121203",
        "--dest",
        "outbx",
    ])
    .expect_code(2)
    .stderr_has("(did you mean `outbox`?)");
    assert!(!w.join("outbox").exists(), "nothing was delivered");
}
