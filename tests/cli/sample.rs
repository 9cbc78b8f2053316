//! `chama sample`: rows for analysts from the raw input or the built files.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::Stdio;

use crate::harness::{repo_root, Workdir};

fn setup() -> Workdir {
    let w = Workdir::new("sample");
    w.create(
        "chama.toml",
        format!(
            "work_dir = \"var\"\ninterfaces_dir = \"{}/interfaces\"\n[sources.default]\nkind = \"local\"\nroot = \"{}/testdata/dumps\"\n[destinations.outbox]\nkind = \"local\"\nroot = \"outbox\"\n",
            repo_root().display(),
            repo_root().display()
        ),
    );
    w
}

fn rows(out: &str) -> Vec<String> {
    out.lines().skip(1).map(str::to_string).collect()
}

fn counts(v: &[String]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for r in v {
        *m.entry(r.clone()).or_insert(0) += 1;
    }
    m
}

#[test]
fn sample_limits_samples_reproducibly_filters_and_reads_built_files_back() {
    let w = setup();
    let s = |args: &[&str]| {
        let mut a = vec!["sample", "--iface", "CM001"];
        a.extend_from_slice(args);
        let r = w.run(&a);
        r.expect_code(0);
        r.stdout()
    };
    let out = s(&["--period", "2024121207", "--limit", "5", "--columns", "wt_prov,wt_ti"]);
    assert_eq!(out.lines().next(), Some("wt_prov\twt_ti"));
    assert_eq!(rows(&out).len(), 5);

    // The whole day, and the rows of one province two ways.
    let all = rows(&s(&[
        "--period",
        "20241212",
        "--limit",
        "1000000",
        "--columns",
        "wt_prov,wt_ti",
    ]));
    assert_eq!(all.len(), 9578, "every row the build writes");
    let by_where = rows(&s(&[
        "--period",
        "20241212",
        "--limit",
        "1000000",
        "--columns",
        "wt_prov,wt_ti",
        "--where",
        "wt_prov = '250'",
    ]));
    let by_hand: Vec<String> = all.iter().filter(|r| r.starts_with("250\t")).cloned().collect();
    assert_eq!(by_where, by_hand);
    assert!(by_where.len() > 100);

    // Reservoir: the same seed gives the same rows; another seed, others; each a subset.
    let a = s(&[
        "--period",
        "20241212",
        "--sample",
        "50",
        "--seed",
        "7",
        "--columns",
        "wt_cid",
    ]);
    let b = s(&[
        "--period",
        "20241212",
        "--sample",
        "50",
        "--seed",
        "7",
        "--columns",
        "wt_cid",
    ]);
    let c = s(&[
        "--period",
        "20241212",
        "--sample",
        "50",
        "--seed",
        "8",
        "--columns",
        "wt_cid",
    ]);
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_eq!(rows(&a).len(), 50);

    // Built files read back from GBK: the raw rows, with what GBK cannot hold as '?'.
    w.run(&["build", "--iface", "CM001", "--period", "20241212"])
        .expect_code(0);
    w.run(&["merge", "--iface", "CM001", "--period", "20241212"])
        .expect_code(0);
    let built = rows(&s(&[
        "--period",
        "20241212",
        "--from",
        "built",
        "--split",
        "250",
        "--limit",
        "1000000",
        "--columns",
        "wt_prov,wt_ti",
    ]));
    let gbk = |t: &str| -> String {
        t.chars()
            .map(|ch| {
                let (_, _, bad) = encoding_rs::GBK.encode(&ch.to_string());
                if bad {
                    '?'
                } else {
                    ch
                }
            })
            .collect()
    };
    let want: Vec<String> = by_hand.iter().map(|r| gbk(r)).collect();
    assert_eq!(counts(&built), counts(&want));
    assert!(
        built.iter().any(|r| r.contains('?')),
        "the sample has characters GBK cannot hold"
    );

    // CSV and JSON lines.
    let csv = s(&[
        "--period",
        "2024121207",
        "--limit",
        "2",
        "--format",
        "csv",
        "--columns",
        "wt_prov,wt_ti",
    ]);
    assert!(csv.starts_with("wt_prov,wt_ti\r\n"));
    let jl = s(&[
        "--period",
        "2024121207",
        "--limit",
        "2",
        "--format",
        "jsonl",
        "--columns",
        "wt_prov,wt_ti",
    ]);
    for l in jl.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert!(v["wt_prov"].is_string());
    }
}

#[test]
fn sample_into_a_closed_pipe_exits_0() {
    let w = setup();
    let mut child = w
        .command(&[
            "sample", "--iface", "CM001", "--period", "20241212", "--limit", "1000000",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("daytime"));
    // The reader is gone: the next write fails with a broken pipe.
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}
