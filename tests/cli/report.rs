//! `chama report`: a day against the day before and the same day last month.

use std::fs;

use crate::harness::{repo_root, Workdir};

#[test]
fn report_raises_an_alarm_for_a_dropped_day_and_a_late_push_only() {
    let w = Workdir::new("report");
    let spec = fs::read_to_string(repo_root().join("interfaces/CM001.toml")).unwrap();
    w.create("interfaces/CM001.toml", &spec);
    w.create(
        "chama.toml",
        "work_dir = \"var\"\n[sources.default]\nkind = \"local\"\nroot = \"dumps\"\n[destinations.outbox]\nkind = \"local\"\nroot = \"outbox\"\n",
    );
    // History: the bundled day's rows on four days; on 2024-12-13 only half of them arrive.
    let src = repo_root().join("testdata/dumps/cm001/dt=2024-12-12");
    for (date, whole) in [
        ("2024-11-12", true),
        ("2024-11-13", true),
        ("2024-12-11", true),
        ("2024-12-12", true),
        ("2024-12-13", false),
        ("2024-11-14", false),
        ("2024-12-14", true),
    ] {
        for h in 0..24 {
            for e in fs::read_dir(src.join(format!("hour={h:02}"))).unwrap().flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if !whole && name == "part-00001.gz" {
                    continue;
                }
                w.create(
                    format!("dumps/cm001/dt={date}/hour={h:02}/{name}"),
                    fs::read(e.path()).unwrap(),
                );
            }
        }
        let day = date.replace('-', "");
        w.run(&["run", "--iface", "CM001", "--period", &day]).expect_code(0);
    }

    let r = w.run(&["report", "--period", "20241212", "--json"]);
    r.expect_code(0);
    let j = r.json();
    let l = &j["interfaces"][0];
    assert_eq!(l["interface"], "CM001");
    assert_eq!(l["ratio"].as_f64(), Some(1.0));
    assert_eq!(l["ratio_day_before"].as_f64(), Some(1.0));
    assert_eq!(l["day"]["rows"], l["day_before"]["rows"]);
    assert!(l["push_started"].is_string() && l["push_finished"].is_string());
    assert_eq!(l["alarms"], serde_json::json!([]));

    let r = w.run(&["report", "--period", "20241213"]);
    r.expect_code(7)
        .stderr_has("ALARM CM001 20241213: rows")
        .stderr_has("are 50% of 9578 on 20241113 (alarm under 80%)")
        .stderr_has("are 50% of 9578 on 20241212 (alarm under 80%)")
        .stdout_has("CM001");
    // Twice last month's rows: over 1/alarm_ratio (125%) is an alarm too.
    w.run(&["report", "--period", "20241214"])
        .expect_code(7)
        .stderr_has("ALARM CM001 20241214: rows 9578 are ")
        .stderr_has("on 20241114 (alarm over 125%)");

    // A deadline the push missed (it ran today, long after the period's next morning).
    w.create(
        "interfaces/CM001.toml",
        spec.replace("[delivery]\n", "[delivery]\ndeadline = \"09:00\"\n"),
    );
    w.run(&["report", "--period", "20241212"])
        .expect_code(7)
        .stderr_has("after the deadline");
    w.create(
        "interfaces/CM001.toml",
        spec.replace("[delivery]\n", "[delivery]\ndeadline = \"9h\"\n"),
    );
    w.run(&["spec", "check"])
        .expect_code(2)
        .stderr_has("deadline `9h` must be HH:MM");
    w.create(
        "interfaces/CM001.toml",
        spec.replace(
            "[delivery]\n",
            "[delivery]\nalarm_silence = \"1d\"\nalarm_hour_late = \"0m\"\n",
        ),
    );
    w.run(&["spec", "check"])
        .expect_code(2)
        .stderr_has("alarm_silence: duration `1d` must be a number with s, m or h")
        .stderr_has("alarm_hour_late `0m` must be more than 0");
}
