//! `chama sample`: rows for analysts from the raw input or the built files.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};

use crate::harness::Workdir;

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

/// `chama sample --iface CM001 --period PERIOD ARGS...` on the bundled day; its stdout.
fn sample(w: &Workdir, period: &str, args: &[&str]) -> String {
    let mut a = vec!["sample", "--iface", "CM001", "--period", period];
    a.extend_from_slice(args);
    let r = w.run(&a);
    r.expect_code(0);
    r.stdout()
}

/// Every row of the day, as `wt_prov<TAB>wt_ti`, with a condition if given.
fn day_rows(w: &Workdir, extra: &[&str]) -> Vec<String> {
    let mut a = vec!["--limit", "1000000", "--columns", "wt_prov,wt_ti"];
    a.extend_from_slice(extra);
    rows(&sample(w, "20241212", &a))
}

#[test]
fn sample_limits_rows_and_projects_columns() {
    let w = Workdir::bundled("sample");
    let out = sample(&w, "2024121207", &["--limit", "5", "--columns", "wt_prov,wt_ti"]);
    assert_eq!(out.lines().next(), Some("wt_prov\twt_ti"));
    assert_eq!(rows(&out).len(), 5);
    let none = sample(&w, "2024121207", &["--limit", "0"]);
    assert_eq!(none.lines().count(), 1, "--limit 0: the header alone\n{none}");
}

#[test]
fn sample_where_keeps_the_rows_of_its_condition() {
    let w = Workdir::bundled("sample");
    let all = day_rows(&w, &[]);
    assert_eq!(all.len(), 9578, "every row the build writes");
    let by_where = day_rows(&w, &["--where", "wt_prov = '250'"]);
    let by_hand: Vec<String> = all.iter().filter(|r| r.starts_with("250\t")).cloned().collect();
    assert_eq!(by_where, by_hand);
    assert!(by_where.len() > 100);
}

#[test]
fn sample_reservoir_is_reproducible_by_seed() {
    let w = Workdir::bundled("sample");
    let with_seed = |seed: &str| {
        let args = ["--sample", "50", "--seed", seed, "--columns", "wt_cid"];
        sample(&w, "20241212", &args)
    };
    let (a, b, c) = (with_seed("7"), with_seed("7"), with_seed("8"));
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_eq!(rows(&a).len(), 50);
}

#[test]
fn sample_reads_built_files_back_from_gbk() {
    let w = Workdir::bundled("sample");
    let by_hand: Vec<String> = day_rows(&w, &[])
        .into_iter()
        .filter(|r| r.starts_with("250\t"))
        .collect();
    w.run(&["build", "--iface", "CM001", "--period", "20241212"])
        .expect_code(0);
    w.run(&["merge", "--iface", "CM001", "--period", "20241212"])
        .expect_code(0);
    let built = day_rows(&w, &["--from", "built", "--split", "250"]);
    // The raw rows, with what GBK cannot hold as '?'.
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
}

#[test]
fn sample_writes_csv_and_json_lines() {
    let w = Workdir::bundled("sample");
    let as_format = |f: &str| {
        let args = ["--limit", "2", "--format", f, "--columns", "wt_prov,wt_ti"];
        sample(&w, "2024121207", &args)
    };
    let csv = as_format("csv");
    assert!(csv.starts_with("wt_prov,wt_ti\r\n"));
    assert_eq!(csv.lines().count(), 3, "the header and 2 rows\n{csv}");
    let jsonl = as_format("jsonl");
    assert_eq!(jsonl.lines().count(), 2, "2 rows, no header\n{jsonl}");
    for l in jsonl.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert!(v["wt_prov"].is_string());
    }
}

#[test]
fn sample_into_a_closed_pipe_exits_0() {
    let w = Workdir::bundled("sample");
    let mut child = w.spawn(&[
        "sample", "--iface", "CM001", "--period", "20241212", "--limit", "1000000",
    ]);
    let mut first = String::new();
    BufReader::new(child.child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("daytime"));
    // The reader is gone: the next write fails with a broken pipe.
    child.wait().expect_code(0);
}

/// A spec over `id`, `v` whose output writes NULL as `null_out`; the hour
/// 2024121200 holds a NULL, an empty string and the text `null`, built.
fn null_site(name: &str, null_out: &str) -> Workdir {
    let spec = crate::harness::id_v_spec("N1", "", &format!("null = \"{null_out}\"\n"), "");
    let w = Workdir::local(name, &[("N1", &spec)]);
    w.create("dumps/n1/2024121200/part-0", "1\u{1}\\N\n2\u{1}\n3\u{1}null\n");
    w.run(&["build", "--iface", "N1", "--period", "2024121200"])
        .expect_code(0);
    w
}

/// The ids `sample` gives for `cond`, from `from`.
fn ids(w: &Workdir, from: &str, cond: &str) -> Vec<String> {
    let r = w.run(&[
        "sample",
        "--iface",
        "N1",
        "--period",
        "2024121200",
        "--from",
        from,
        "--columns",
        "id",
        "--where",
        cond,
    ]);
    r.expect_code(0);
    rows(&r.stdout())
}

#[test]
fn sample_from_built_reads_the_output_null_marker_as_null() {
    // A marker of its own: raw and built agree on NULL, empty and the text `null`.
    let w = null_site("sample-null", "NA");
    for cond in ["v IS NULL", "v = ''", "v = 'null'", "v IS NOT NULL"] {
        assert_eq!(ids(&w, "raw", cond), ids(&w, "built", cond), "{cond}");
    }
    assert_eq!(ids(&w, "built", "v IS NULL"), ["1"]);
    assert_eq!(ids(&w, "built", "v = 'null'"), ["3"]);
    // `null = ""`, as the shipped specs have it: NULL and the empty string are
    // written alike, and both read back as NULL; the text `null` stays text.
    let w = null_site("sample-null-empty", "");
    assert_eq!(ids(&w, "raw", "v IS NULL"), ["1"]);
    assert_eq!(ids(&w, "built", "v IS NULL"), ["1", "2"]);
    assert_eq!(ids(&w, "built", "v = 'null'"), ["3"]);
}
