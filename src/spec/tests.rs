//! Spec validation: every problem, each with its line.

use super::*;

fn names() -> Names {
    Names {
        sources: vec!["default".into()],
        destinations: vec!["outbox".into()],
    }
}

const GOOD: &str = r#"name = "T1"

[input]
path = "t1/dt={date_iso}/hour={hour}"
columns = ["a", "b", "wt_prov", "wt_xy"]

[transform]
sql = '''
SELECT a, upper(b) AS b, wt_prov, wt_xy
FROM input
WHERE a <> 'x'
'''

[clean]
strip = ["\t", "|"]
keep = { wt_xy = ["|"] }

[output]
split_by = "wt_prov"
file_name = "a_{date}_T1_{split}_{batch}_{seq}.dat.gz"
verf_name = "a_{date}_T1_{split}_{batch}.verf"
"#;

fn problems(text: &str) -> Vec<String> {
    check(text, "T1", &names())
        .problems
        .iter()
        .map(|p| format!("{}: {}", p.line, p.message))
        .collect()
}

#[test]
fn good_spec_loads_with_defaults() {
    let c = check(GOOD, "T1", &names());
    assert!(c.problems.is_empty(), "{:?}", c.problems);
    let s = c.spec.unwrap();
    assert_eq!(s.input.delimiter, 1);
    assert_eq!(s.input.null, "\\N");
    assert_eq!(s.input.source, "default");
    assert_eq!(s.output.lines_per_file, 800_000);
    assert_eq!(s.output.delimiter, "|");
    assert_eq!(s.output.encoding, Encoding::Utf8);
    assert_eq!(s.output.seq_width, 4);
    assert_eq!(s.output.gzip_level, 6);
    assert_eq!(s.delivery.cadence, Cadence::Daily);
    let strips = s.clean.per_column(s.program.as_ref().unwrap().output_names());
    assert_eq!(strips[3].apply("x|y\tz".into()), "x|yz", "wt_xy keeps |");
    assert_eq!(strips[0].apply("x|y\tz".into()), "xyz");
}

#[test]
fn misspelled_keys_are_errors_with_suggestions() {
    let bad = GOOD
        .replace("split_by", "spilt_by")
        .replace("[clean]\nstrip", "[clean]\nstirp");
    let p = problems(&bad);
    assert!(
        p.iter()
            .any(|m| m.starts_with("15: unknown key `stirp` in [clean] (did you mean `strip`")),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|m| m.starts_with("19: unknown key `spilt_by` in [output] (did you mean `split_by`")),
        "{p:?}"
    );
}

#[test]
fn sql_errors_carry_their_file_line() {
    let bad = GOOD.replace("SELECT a, upper(b) AS b", "SELECT a, upper(nosuch) AS b");
    assert_eq!(problems(&bad), ["9: unknown column `nosuch`"]);
    let bad = GOOD.replace("WHERE a <> 'x'", "WHERE a <> 'x'\nGROUP BY a");
    assert!(problems(&bad)[0].contains("GROUP BY"), "{:?}", problems(&bad));
}

#[test]
fn every_problem_is_reported_at_once() {
    let bad = GOOD
        .replace("name = \"T1\"", "name = \"T1\"\ncolour = 1")
        .replace("upper(b)", "md5(b)")
        .replace("split_by = \"wt_prov\"", "split_by = \"prov\"")
        .replace("keep = { wt_xy = [\"|\"] }", "keep = { wt_xx = [\"|\"] }");
    let p = problems(&bad);
    assert!(p.len() >= 3, "{p:?}");
    assert!(p.iter().any(|m| m.contains("colour")));
    assert!(p.iter().any(|m| m.contains("md5()")));
    let lines: Vec<usize> = check(&bad, "T1", &names()).problems.iter().map(|p| p.line).collect();
    assert!(lines.windows(2).all(|w| w[0] <= w[1]), "sorted by line: {lines:?}");
}

#[test]
fn names_and_templates_are_checked() {
    assert!(problems(&GOOD.replace("_{seq}.dat.gz", ".dat.gz"))[0].contains("must contain {seq}"));
    assert!(problems(&GOOD.replace("T1_{split}_{batch}.verf", "T1_{batch}.verf"))[0].contains("must contain {split}"));
    assert!(problems(&GOOD.replace(
        "{date}_T1_{split}_{batch}_{seq}",
        "{date}_T1_{split}_{batch}_{hour}_{seq}"
    ))[0]
        .contains("cadence = \"hourly\""));
    assert!(problems(&GOOD.replace("hour={hour}", "all"))[0].contains("must contain {hour}"));
    assert!(
        problems(&GOOD.replace("split_by = \"wt_prov\"", "split_by = \"wt_pro\""))[0]
            .contains("did you mean `wt_prov`")
    );
    assert!(problems(GOOD).is_empty());
    let c = check(GOOD, "OTHER", &names());
    assert!(c.problems[0].message.contains("must match the file name `OTHER.toml`"));
}

#[test]
fn references_to_config_names_are_checked() {
    let bad = format!("{GOOD}\n[delivery]\ndestinations = [\"exchange\"]\n");
    assert!(problems(&bad)[0].contains("destination `exchange` is not defined"));
    let bad = GOOD.replace("[input]\n", "[input]\nsource = \"ads\"\n");
    assert!(problems(&bad)[0].contains("source `ads` is not defined"));
}

#[test]
fn type_errors_and_missing_sections() {
    let p = problems(&GOOD.replace("[output]\n", "[output]\nlines_per_file = \"many\"\n"));
    assert!(p[0].starts_with("19: in [output]: invalid type"), "{p:?}");
    let p = problems(&GOOD.replace("[transform]", "[transfrom]"));
    assert!(p.iter().any(|m| m.contains("missing section [transform]")), "{p:?}");
    let p = problems("name = \"T1\"\n[input\n");
    assert!(p[0].starts_with("2: TOML syntax"), "{p:?}");
}

#[test]
fn clean_characters_must_be_single_and_kept_ones_stripped() {
    assert!(
        problems(&GOOD.replace("strip = [\"\\t\", \"|\"]", "strip = [\"\\t\", \"ab\"]"))[0]
            .contains("exactly one character")
    );
    assert!(
        problems(&GOOD.replace("keep = { wt_xy = [\"|\"] }", "keep = { wt_xy = [\",\"] }"))[0].contains("not in strip")
    );
}
