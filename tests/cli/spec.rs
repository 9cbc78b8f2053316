//! `chama spec check` and `chama spec try`, as a spec author uses them.

use crate::harness::{gzip, repo_root, Workdir};

const SPEC: &str = r#"name = "T1"

[input]
path = "t1/dt={date_iso}/hour={hour}"
columns = ["id", "wt_et", "title", "wt_xy"]
max_bad_rows = 2

[transform]
sql = '''
SELECT id, upper(wt_et) AS et, title, wt_xy, length(title) AS n
FROM input
WHERE wt_et NOT IN ('imp', 'pfm')
'''

[clean]
strip = ["\r", "\t", "|"]
keep = { wt_xy = ["|"] }

[output]
file_name = "a_{date}_T1_{batch}_{seq}.dat.gz"
verf_name = "a_{date}_T1_{batch}.verf"
"#;

fn row(fields: &[&str]) -> String {
    fields.join("\u{1}") + "\n"
}

#[test]
fn spec_check_passes_on_the_bundled_interfaces() {
    let w = Workdir::new("check-bundled");
    let mut cmd = w.command(&["spec", "check"]);
    cmd.current_dir(repo_root());
    let r = w.run_cmd(cmd);
    r.expect_code(0);
    for name in ["51006", "51007", "51010", "77006", "CM001", "CM002", "CM003"] {
        r.stdout_has(&format!("ok: interfaces/{name}.toml"));
    }
}

#[test]
fn spec_check_reports_each_problem_with_file_and_line() {
    let w = Workdir::new("check-bad");
    let cases = [
        (
            "typo",
            SPEC.replace("max_bad_rows", "max_bad_row"),
            "T1.toml:6: unknown key `max_bad_row` in [input] (did you mean `max_bad_rows`?)",
        ),
        (
            "column",
            SPEC.replace("length(title)", "length(titel)"),
            "T1.toml:10: unknown column `titel` (did you mean `title`?)",
        ),
        (
            "lateral",
            SPEC.replace(
                "FROM input\n",
                "FROM input LATERAL VIEW explode(split(title, ',')) t AS x\n",
            ),
            "T1.toml:11: LATERAL VIEW is not supported",
        ),
        (
            "aggregate",
            SPEC.replace("length(title)", "count(title)"),
            "T1.toml:10: aggregate function count() is not supported",
        ),
        (
            "join",
            SPEC.replace("FROM input\n", "FROM input JOIN dim ON input.id = dim.id\n"),
            "T1.toml:11: JOIN is not supported",
        ),
        (
            "long-name",
            SPEC.replace("a_{date}_T1_{batch}_{seq}", "a_{date}_a_name_of_twenty_eight_chars_{batch}_{seq}"),
            "T1.toml:20: file_name `a_{date}_a_name_of_twenty_eight_chars_{batch}_{seq}.dat.gz` cannot fit \
             the .verf's 48-character name column at the widest sequence (4 digits)",
        ),
        (
            "long-split-name",
            SPEC.replace("a_{date}_T1_{batch}_{seq}", "a_{date}_{split}_a_name_of_twenty_six_chars_{batch}_{seq}")
                .replace("[output]\n", "[output]\nsplit_by = \"wt_xy\"\n")
                .replace("verf_name = \"a_{date}_T1_{batch}.verf\"", "verf_name = \"a_{date}_{split}_{batch}.verf\""),
            "cannot fit the .verf's 48-character name column with a one-character split value at the widest sequence (4 digits)",
        ),
    ];
    for (dir, text, want) in cases {
        let f = w.create(format!("{dir}/T1.toml"), text);
        w.run(&["spec", "check", f.to_str().unwrap()])
            .expect_code(2)
            .stderr_has(want)
            .stderr_has("chama: spec check: ");
    }
}

#[test]
fn spec_check_reports_several_problems_in_several_files_at_once() {
    let w = Workdir::new("check-many");
    let a = w.create(
        "a/T1.toml",
        SPEC.replace("max_bad_rows", "max_bad_row")
            .replace("length(title)", "md5(title)"),
    );
    let b = w.create(
        "b/T1.toml",
        SPEC.replace("[output]\n", "[output]\nencoding = \"big5\"\n"),
    );
    let good = w.create("c/T1.toml", SPEC);
    let r = w.run(&[
        "spec",
        "check",
        a.to_str().unwrap(),
        good.to_str().unwrap(),
        b.to_str().unwrap(),
    ]);
    r.expect_code(2)
        .stderr_has("a/T1.toml:6: unknown key `max_bad_row`")
        .stderr_has("a/T1.toml:10: unknown function md5()")
        .stderr_has("b/T1.toml:20: in [output]: unknown variant `big5`")
        .stderr_has("3 problem(s) in 2 of 3 file(s)")
        .stdout_has("ok: ");
}

#[test]
fn spec_try_prints_cleaned_tsv_with_nulls_in_input_order() {
    let w = Workdir::new("try");
    let spec = w.create("T1.toml", SPEC);
    let mut input = String::new();
    input += &row(&["1", "clk", "首页|标题", "{\"a\":\"x|y\"}"]);
    input += &row(&["2", "imp", "dropped", "x"]);
    input += &row(&["3", "\\N", "null et is filtered: NOT IN gives NULL", "x"]);
    input += &row(&["4", "pageview", "tab\there", "\\N"]);
    input += &row(&["5", "clk", "back\\slash", ""]);
    let f = w.create("in.txt", &input);
    let r = w.run(&["spec", "try", spec.to_str().unwrap(), "--input", f.to_str().unwrap()]);
    r.expect_code(0);
    assert_eq!(
        r.stdout(),
        "id\tet\ttitle\twt_xy\tn\n\
         1\tCLK\t首页标题\t{\"a\":\"x|y\"}\t5\n\
         4\tPAGEVIEW\ttabhere\t\\N\t8\n\
         5\tCLK\tback\\\\slash\t\t10\n"
    );
    r.stderr_has("5 rows in, 3 out, 2 filtered, 0 rejected");
}

#[test]
fn spec_try_reads_multi_member_gzip_and_stops_at_limit() {
    let w = Workdir::new("try-gz");
    let spec = w.create("T1.toml", SPEC);
    let mut gz = gzip(row(&["1", "clk", "a", "x"]).as_bytes());
    gz.extend(gzip(row(&["2", "clk", "b", "x"]).as_bytes()));
    gz.extend(gzip(row(&["3", "clk", "c", "x"]).as_bytes()));
    let f = w.create("in.gz", gz);
    let r = w.run(&["spec", "try", spec.to_str().unwrap(), "--input", f.to_str().unwrap()]);
    assert_eq!(
        r.expect_code(0).stdout().lines().count(),
        4,
        "header + 3 rows from 3 members"
    );
    let r = w.run(&[
        "spec",
        "try",
        spec.to_str().unwrap(),
        "--input",
        f.to_str().unwrap(),
        "--limit",
        "2",
    ]);
    assert_eq!(
        r.expect_code(0).stdout(),
        "id\tet\ttitle\twt_xy\tn\n1\tCLK\ta\tx\t1\n2\tCLK\tb\tx\t1\n"
    );
}

#[test]
fn spec_try_rejects_bad_lines_with_file_line_and_reason() {
    let w = Workdir::new("try-bad");
    let spec = w.create("T1.toml", SPEC);
    let mut input = row(&["1", "clk", "a", "x"]).into_bytes();
    input.extend(row(&["2", "clk", "too few"]).as_bytes());
    input.extend(b"3\x01clk\x01\xff\xfe\x01x\n");
    input.extend(row(&["4", "clk", "d", "x"]).as_bytes());
    let f = w.create("in.txt", &input);
    let r = w.run(&["spec", "try", spec.to_str().unwrap(), "--input", f.to_str().unwrap()]);
    r.expect_code(0)
        .stderr_has("in.txt:2: rejected: 3 fields, expected 4")
        .stderr_has("in.txt:3: rejected: invalid UTF-8 in field 3 at byte 6");
    assert_eq!(r.stdout().lines().count(), 3);

    // One more bad line than max_bad_rows = 2: exit 4.
    input.extend(row(&["5"]).as_bytes());
    let f = w.create("in.txt", &input);
    w.run(&["spec", "try", spec.to_str().unwrap(), "--input", f.to_str().unwrap()])
        .expect_code(4)
        .stderr_has("chama: 3 rows rejected, more than max_bad_rows = 2");
}

#[test]
fn spec_try_takes_an_interface_name_and_a_bad_spec_exits_2() {
    let w = Workdir::new("try-name");
    let f = w.create("in.txt", row(&["1"]));
    let mut cmd = w.command(&["spec", "try", "CM001", "--input", f.to_str().unwrap()]);
    cmd.current_dir(repo_root());
    w.run_cmd(cmd)
        .expect_code(0)
        .stdout_has("daytime\tip\tcs_host")
        .stderr_has("in.txt:1: rejected: 1 field, expected 51");

    let bad = w.create("T1.toml", SPEC.replace("length(title)", "nosuch"));
    w.run(&["spec", "try", bad.to_str().unwrap(), "--input", f.to_str().unwrap()])
        .expect_code(2)
        .stderr_has("T1.toml:10: unknown column `nosuch`");
}

#[test]
fn spec_try_into_a_closed_pipe_exits_0() {
    let w = Workdir::new("try-pipe");
    let spec = w.create("T1.toml", SPEC);
    let input: String = (0..200_000)
        .map(|i| row(&[&i.to_string(), "clk", "title", "x"]))
        .collect();
    let f = w.create("in.txt", input);
    let script = format!(
        "'{}' spec try '{}' --input '{}' | head -1; exit ${{PIPESTATUS[0]}}",
        env!("CARGO_BIN_EXE_chama"),
        spec.display(),
        f.display()
    );
    let mut cmd = std::process::Command::new("bash");
    cmd.args(["-c", &script]).current_dir(w.path());
    w.run_cmd(cmd).expect_code(0);
}

#[test]
fn missing_config_file_is_a_usage_error() {
    let w = Workdir::new("config");
    w.run(&["--config", "nope.toml", "spec", "check"])
        .expect_code(2)
        .stderr_has("chama: reading config nope.toml");
    w.create("chama.toml", "work_dir = \"v\"\nsurces = 1\n");
    w.run(&["spec", "check"])
        .expect_code(2)
        .stderr_has("chama.toml:2: unknown field `surces`");
}
