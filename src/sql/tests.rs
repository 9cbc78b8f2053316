//! Unit tests for each operator and function of the subset, with Hive's edge cases.

use super::*;

fn cols() -> Vec<String> {
    ["a", "b", "c", "n"].iter().map(|s| s.to_string()).collect()
}

/// Evaluates one expression on one row; NULL renders as `NULL`.
fn eval(expr: &str, row: [Option<&str>; 4]) -> String {
    let sql = format!("SELECT {expr} AS x FROM input");
    let p = Program::compile(&sql, &cols()).unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    let mut out = Vec::new();
    assert!(p.eval(&row[..], &mut out));
    match &out[0] {
        Value::Null => "NULL".into(),
        Value::Str(s) => s.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Bool(b) => b.to_string(),
    }
}

fn e(expr: &str) -> String {
    eval(expr, [Some("Hello"), Some(""), None, Some("42")])
}

/// Each expression against what it must evaluate to on the row of [`e`].
#[track_caller]
fn check(cases: &[(&str, &str)]) {
    for (expr, want) in cases {
        assert_eq!(e(expr), *want, "{expr}");
    }
}

fn err(sql: &str) -> String {
    match Program::compile(sql, &cols()) {
        Ok(_) => panic!("{sql} compiled"),
        Err(errs) => errs
            .iter()
            .map(|e| format!("{}:{}", e.line, e.message))
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

#[test]
fn null_logic_is_three_valued() {
    check(&[
        ("c = 'x'", "NULL"),
        ("c = 'x' AND a = 'nope'", "false"),
        ("c = 'x' AND a = 'Hello'", "NULL"),
        ("c = 'x' OR a = 'Hello'", "true"),
        ("c = 'x' OR a = 'nope'", "NULL"),
        ("NOT (c = 'x')", "NULL"),
        ("c IS NULL", "true"),
        ("b IS NOT NULL", "true"), // the empty string is not NULL
    ]);
}

#[test]
fn in_and_not_in_with_null() {
    check(&[
        ("a IN ('x', 'Hello')", "true"),
        ("a IN ('x', NULL)", "NULL"),
        ("a NOT IN ('x', 'y')", "true"),
        ("a NOT IN ('x', NULL)", "NULL"),
        ("c IN ('x')", "NULL"),
        ("a NOT IN ('Hello', NULL)", "false"),
    ]);
}

#[test]
fn comparisons_are_strings_unless_both_integers() {
    check(&[
        ("n > '5'", "false"), // '42' < '5' as strings
        ("length(a) > 4", "true"),
        ("n = 42", "true"),       // '42' and 42 compare as strings
        ("a <> 'hello'", "true"), // case-sensitive
        ("a != 'Hello'", "false"),
        ("n BETWEEN '3' AND '5'", "true"),
        ("n NOT BETWEEN '3' AND '5'", "false"),
        ("c BETWEEN 'a' AND 'z'", "NULL"),
        ("'a' BETWEEN c AND 'A'", "false"), // known false beats unknown
    ]);
}

#[test]
fn like_and_rlike() {
    check(&[
        ("a LIKE 'He%'", "true"),
        ("a LIKE 'he%'", "false"),
        ("a LIKE 'H_llo'", "true"),
        ("a LIKE 'ell'", "false"), // LIKE matches the whole value
        ("a RLIKE 'ell'", "true"), // RLIKE finds anywhere
        ("a REGEXP '^ell'", "false"),
        ("a NOT RLIKE 'ell'", "false"),
        ("c LIKE '%'", "NULL"),
    ]);
    assert_eq!(e(r"'210315_QYCS_12' RLIKE '^210315_QYCS_\\d+$'"), "true");
    assert_eq!(e(r"'210315_QYCS_1x' RLIKE '^210315_QYCS_\\d+$'"), "false");
}

#[test]
fn case_and_if() {
    check(&[
        ("CASE WHEN c = 'x' THEN 'a' WHEN a = 'Hello' THEN 'b' ELSE 'c' END", "b"),
        ("CASE WHEN c IS NOT NULL THEN 'a' END", "NULL"),
        ("CASE a WHEN 'x' THEN 1 WHEN 'Hello' THEN 2 END", "2"),
        ("CASE c WHEN NULL THEN 1 ELSE 0 END", "0"), // NULL never equals NULL
        ("if(c = 'x', 'yes', 'no')", "no"),          // a NULL condition takes the else branch
        ("if(a = 'Hello', 'yes', 'no')", "yes"),
    ]);
}

#[test]
fn string_functions() {
    check(&[
        ("lower(a)", "hello"),
        ("upper(a)", "HELLO"),
        ("lower(c)", "NULL"),
        ("trim('  x y  ')", "x y"),
        ("trim('\tx ')", "\tx"),     // Hive trims spaces only
        ("length('中文标题')", "4"), // characters, not bytes
        ("length(b)", "0"),
        ("length(c)", "NULL"),
        ("substr(a, 2)", "ello"),
        ("substr(a, 0, 2)", "He"),
        ("substr(a, -3, 2)", "ll"),
        ("substr(a, 10)", ""),
        ("substring(a, 2, 3)", "ell"),
        ("substr(c, 1)", "NULL"),
        ("instr(a, 'll')", "3"),
        ("instr(a, 'z')", "0"),
        ("instr('中文标题', '标')", "3"),
        ("instr(c, 'z')", "NULL"),
    ]);
}

#[test]
fn concat_nvl_coalesce_nullif() {
    check(&[
        ("concat(a, '-', n)", "Hello-42"),
        ("concat(a, c)", "NULL"), // concat is NULL when any argument is
        ("concat('n=', length(a))", "n=5"),
        ("concat_ws('|', a, c, n)", "Hello|42"), // concat_ws skips NULLs
        ("concat_ws(c, a, n)", "NULL"),
        ("coalesce(c, b, a)", ""),
        ("coalesce(c, NULL)", "NULL"),
        ("nvl(c, 'd')", "d"),
        ("nullif(a, 'Hello')", "NULL"),
        ("nullif(a, 'x')", "Hello"),
    ]);
}

#[test]
fn regex_functions() {
    check(&[
        ("regexp_extract('id=123&x=9', 'id=(\\\\d+)', 1)", "123"),
        ("regexp_extract('abc', 'x(\\\\d)', 1)", ""), // no match is ''
        ("regexp_extract('abc', 'b', 0)", "b"),
        ("regexp_extract('ac', 'a(b)?c', 1)", "NULL"), // a group outside the match is NULL, as in Java
        ("regexp_replace('a1b22', '\\\\d+', '#')", "a#b#"),
        ("regexp_replace('ab', '(a)(b)', '$2$1')", "ba"),
        ("regexp_replace(c, 'x', 'y')", "NULL"),
    ]);
}

#[test]
fn split_is_zero_based_and_null_past_the_end() {
    check(&[
        ("split('a,b,c', ',')[0]", "a"),
        ("split('a,b,c', ',')[2]", "c"),
        ("split('a,b,c', ',')[3]", "NULL"),
        ("split('a,b,', ',')[2]", ""), // trailing empty pieces are kept
        ("split('x|y', '\\\\|')[1]", "y"),
        ("split(c, ',')[0]", "NULL"),
        ("split(a, ',')[-1]", "NULL"),
    ]);
}

#[test]
fn literals_follow_hive_escapes() {
    assert_eq!(e(r"'it\'s'"), "it's");
    assert_eq!(e(r#""double \"quoted\"""#), "double \"quoted\"");
    assert_eq!(e(r"'a\tb'"), "a\tb");
    assert_eq!(e(r"'\u4e2d'"), "中");
    assert_eq!(e("-3"), "-3");
}

#[test]
fn filter_drops_rows_where_not_true() {
    let p = Program::compile("SELECT a FROM input WHERE c = 'x' OR a = 'y'", &cols()).unwrap();
    let mut out = Vec::new();
    assert!(
        !p.eval(&[Some("x"), None, None, None][..], &mut out),
        "NULL is not true"
    );
    assert!(p.eval(&[Some("y"), None, None, None][..], &mut out));
}

#[test]
fn output_names_and_star() {
    let p = Program::compile("SELECT a, upper(b) AS B, concat(a, b) FROM input", &cols()).unwrap();
    assert_eq!(p.output_names(), ["a", "b", "_c2"]);
    let p = Program::compile("SELECT * FROM input", &cols()).unwrap();
    assert_eq!(p.output_names(), ["a", "b", "c", "n"]);
    assert_eq!(p.used_columns(), [0, 1, 2, 3]);
    let p = Program::compile("SELECT a FROM input WHERE n = '1'", &cols()).unwrap();
    assert_eq!(p.used_columns(), [0, 3]);
}

#[test]
fn errors_name_the_construct_and_line() {
    assert!(err("SELECT a,\n  nosuch FROM input").contains("2:unknown column `nosuch`"));
    assert!(err("SELECT a, nn FROM input").contains("did you mean `n`"));
    assert!(err("SELECT count(a) FROM input").contains("aggregate function count()"));
    assert!(err("SELECT a FROM input GROUP BY a").contains("GROUP BY"));
    assert!(err("SELECT a FROM input LATERAL VIEW explode(split(b, ',')) t AS x").contains("LATERAL VIEW"));
    assert!(err("SELECT a FROM input JOIN other ON input.a = other.a").contains("JOIN"));
    assert!(err("SELECT md5(a) FROM input").contains("unknown function md5()"));
    assert!(err("SELECT a FROM input WHERE a").contains("WHERE needs a condition"));
    assert!(err("SELECT a FROM input WHERE a RLIKE b").contains("must be a string literal"));
    assert!(err("SELECT a FROM input WHERE a RLIKE '(?=x)'").contains("not supported"));
    assert!(err("SELECT a + 1 FROM input").contains("operator +"));
    assert!(err("SELECT a FROM other").contains("FROM input"));
    assert!(err("SELECT a,, FROM input").contains("SQL syntax"));
    assert!(err("SELECT a, a FROM input").contains("appears twice"));
    assert!(err("SELECT substr(a) FROM input").contains("substr() takes 2 or 3 arguments"));
    assert!(err("SELECT regexp_extract(a, 'x', 1) FROM input").contains("only 0"));
}

#[test]
fn several_errors_are_all_reported() {
    let errs = Program::compile("SELECT nosuch,\n md5(a),\n count(b) FROM input", &cols())
        .err()
        .unwrap();
    assert_eq!(errs.len(), 3, "{errs:?}");
    assert_eq!(errs.iter().map(|e| e.line).collect::<Vec<_>>(), [1, 2, 3]);
}

#[test]
fn single_backslash_regex_warns() {
    let p = Program::compile(r"SELECT a FROM input WHERE a RLIKE '^x_\d+$'", &cols()).unwrap();
    assert_eq!(p.warnings().len(), 1);
    assert!(p.warnings()[0].message.contains("read as 'd'"));
}
