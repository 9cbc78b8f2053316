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
    assert_eq!(e("c = 'x'"), "NULL");
    assert_eq!(e("c = 'x' AND a = 'nope'"), "false");
    assert_eq!(e("c = 'x' AND a = 'Hello'"), "NULL");
    assert_eq!(e("c = 'x' OR a = 'Hello'"), "true");
    assert_eq!(e("c = 'x' OR a = 'nope'"), "NULL");
    assert_eq!(e("NOT (c = 'x')"), "NULL");
    assert_eq!(e("c IS NULL"), "true");
    assert_eq!(e("b IS NOT NULL"), "true", "the empty string is not NULL");
}

#[test]
fn in_and_not_in_with_null() {
    assert_eq!(e("a IN ('x', 'Hello')"), "true");
    assert_eq!(e("a IN ('x', NULL)"), "NULL");
    assert_eq!(e("a NOT IN ('x', 'y')"), "true");
    assert_eq!(e("a NOT IN ('x', NULL)"), "NULL");
    assert_eq!(e("c IN ('x')"), "NULL");
    assert_eq!(e("a NOT IN ('Hello', NULL)"), "false");
}

#[test]
fn comparisons_are_strings_unless_both_integers() {
    assert_eq!(e("n > '5'"), "false", "'42' < '5' as strings");
    assert_eq!(e("length(a) > 4"), "true");
    assert_eq!(e("n = 42"), "true", "'42' and 42 compare as strings");
    assert_eq!(e("a <> 'hello'"), "true", "case-sensitive");
    assert_eq!(e("a != 'Hello'"), "false");
    assert_eq!(e("n BETWEEN '3' AND '5'"), "true");
    assert_eq!(e("n NOT BETWEEN '3' AND '5'"), "false");
    assert_eq!(e("c BETWEEN 'a' AND 'z'"), "NULL");
    assert_eq!(e("'a' BETWEEN c AND 'A'"), "false", "known false beats unknown");
}

#[test]
fn like_and_rlike() {
    assert_eq!(e("a LIKE 'He%'"), "true");
    assert_eq!(e("a LIKE 'he%'"), "false");
    assert_eq!(e("a LIKE 'H_llo'"), "true");
    assert_eq!(e("a LIKE 'ell'"), "false", "LIKE matches the whole value");
    assert_eq!(e("a RLIKE 'ell'"), "true", "RLIKE finds anywhere");
    assert_eq!(e("a REGEXP '^ell'"), "false");
    assert_eq!(e("a NOT RLIKE 'ell'"), "false");
    assert_eq!(e("c LIKE '%'"), "NULL");
    assert_eq!(e(r"'210315_QYCS_12' RLIKE '^210315_QYCS_\\d+$'"), "true");
    assert_eq!(e(r"'210315_QYCS_1x' RLIKE '^210315_QYCS_\\d+$'"), "false");
}

#[test]
fn case_and_if() {
    assert_eq!(
        e("CASE WHEN c = 'x' THEN 'a' WHEN a = 'Hello' THEN 'b' ELSE 'c' END"),
        "b"
    );
    assert_eq!(e("CASE WHEN c IS NOT NULL THEN 'a' END"), "NULL");
    assert_eq!(e("CASE a WHEN 'x' THEN 1 WHEN 'Hello' THEN 2 END"), "2");
    assert_eq!(e("CASE c WHEN NULL THEN 1 ELSE 0 END"), "0", "NULL never equals NULL");
    assert_eq!(
        e("if(c = 'x', 'yes', 'no')"),
        "no",
        "a NULL condition takes the else branch"
    );
    assert_eq!(e("if(a = 'Hello', 'yes', 'no')"), "yes");
}

#[test]
fn string_functions() {
    assert_eq!(e("lower(a)"), "hello");
    assert_eq!(e("upper(a)"), "HELLO");
    assert_eq!(e("lower(c)"), "NULL");
    assert_eq!(e("trim('  x y  ')"), "x y");
    assert_eq!(e("trim('\tx ')"), "\tx", "Hive trims spaces only");
    assert_eq!(e("length('中文标题')"), "4", "characters, not bytes");
    assert_eq!(e("length(b)"), "0");
    assert_eq!(e("length(c)"), "NULL");
    assert_eq!(e("substr(a, 2)"), "ello");
    assert_eq!(e("substr(a, 0, 2)"), "He");
    assert_eq!(e("substr(a, -3, 2)"), "ll");
    assert_eq!(e("substr(a, 10)"), "");
    assert_eq!(e("substring(a, 2, 3)"), "ell");
    assert_eq!(e("substr(c, 1)"), "NULL");
    assert_eq!(e("instr(a, 'll')"), "3");
    assert_eq!(e("instr(a, 'z')"), "0");
    assert_eq!(e("instr('中文标题', '标')"), "3");
    assert_eq!(e("instr(c, 'z')"), "NULL");
}

#[test]
fn concat_nvl_coalesce_nullif() {
    assert_eq!(e("concat(a, '-', n)"), "Hello-42");
    assert_eq!(e("concat(a, c)"), "NULL", "concat is NULL when any argument is");
    assert_eq!(e("concat('n=', length(a))"), "n=5");
    assert_eq!(e("concat_ws('|', a, c, n)"), "Hello|42", "concat_ws skips NULLs");
    assert_eq!(e("concat_ws(c, a, n)"), "NULL");
    assert_eq!(e("coalesce(c, b, a)"), "");
    assert_eq!(e("coalesce(c, NULL)"), "NULL");
    assert_eq!(e("nvl(c, 'd')"), "d");
    assert_eq!(e("nullif(a, 'Hello')"), "NULL");
    assert_eq!(e("nullif(a, 'x')"), "Hello");
}

#[test]
fn regex_functions() {
    assert_eq!(e("regexp_extract('id=123&x=9', 'id=(\\\\d+)', 1)"), "123");
    assert_eq!(e("regexp_extract('abc', 'x(\\\\d)', 1)"), "", "no match is ''");
    assert_eq!(e("regexp_extract('abc', 'b', 0)"), "b");
    assert_eq!(
        e("regexp_extract('ac', 'a(b)?c', 1)"),
        "NULL",
        "a group outside the match is NULL, as in Java"
    );
    assert_eq!(e("regexp_replace('a1b22', '\\\\d+', '#')"), "a#b#");
    assert_eq!(e("regexp_replace('ab', '(a)(b)', '$2$1')"), "ba");
    assert_eq!(e("regexp_replace(c, 'x', 'y')"), "NULL");
}

#[test]
fn split_is_zero_based_and_null_past_the_end() {
    assert_eq!(e("split('a,b,c', ',')[0]"), "a");
    assert_eq!(e("split('a,b,c', ',')[2]"), "c");
    assert_eq!(e("split('a,b,c', ',')[3]"), "NULL");
    assert_eq!(e("split('a,b,', ',')[2]"), "", "trailing empty pieces are kept");
    assert_eq!(e("split('x|y', '\\\\|')[1]"), "y");
    assert_eq!(e("split(c, ',')[0]"), "NULL");
    assert_eq!(e("split(a, ',')[-1]"), "NULL");
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
