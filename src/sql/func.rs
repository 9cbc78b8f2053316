//! The functions of the subset, with Hive's semantics.
//!
//! Lengths and positions count characters (code points), not bytes. Every
//! function returns NULL when an argument is NULL, except `coalesce`/`nvl`,
//! `concat_ws` (skips NULL values), `if` (a NULL condition takes the else
//! branch) and `nullif`.

use std::borrow::Cow;

use regex::Regex;

use super::expr::{Expr, Row};
use super::value::{compare, Value};

#[derive(Debug)]
pub enum Func {
    Lower,
    Upper,
    Trim,
    Length,
    Substr,
    Instr,
    Concat,
    ConcatWs,
    Coalesce,
    If,
    NullIf,
    /// `regexp_extract(s, re, group)`; the group index is a literal.
    RegexpExtract(Regex, usize),
    /// `regexp_replace(s, re, replacement)`.
    RegexpReplace(Regex),
    /// `split(s, re)[index]`: args are `s` and `index`.
    SplitIndex(Regex),
}

macro_rules! arg_str {
    ($args:expr, $i:expr, $row:expr) => {
        match $args[$i].eval($row).into_str() {
            Some(s) => s,
            None => return Value::Null,
        }
    };
}

macro_rules! arg_int {
    ($args:expr, $i:expr, $row:expr) => {
        match $args[$i].eval($row).as_int() {
            Some(n) => n,
            None => return Value::Null,
        }
    };
}

/// `s` in another case: borrowed as it is when no character would change.
fn recase<'a>(s: Cow<'a, str>, changes: fn(char) -> bool, to: fn(&str) -> String) -> Value<'a> {
    if s.chars().any(changes) {
        Value::Str(Cow::Owned(to(&s)))
    } else {
        Value::Str(s)
    }
}

impl Func {
    pub fn call<'a, R: Row<'a> + ?Sized>(&'a self, args: &'a [Expr], row: &R) -> Value<'a> {
        match self {
            Func::Lower => recase(arg_str!(args, 0, row), char::is_uppercase, str::to_lowercase),
            Func::Upper => recase(arg_str!(args, 0, row), char::is_lowercase, str::to_uppercase),
            Func::Trim => match arg_str!(args, 0, row) {
                Cow::Borrowed(s) => Value::Str(Cow::Borrowed(s.trim_matches(' '))),
                Cow::Owned(s) => Value::Str(Cow::Owned(s.trim_matches(' ').to_string())),
            },
            Func::Length => {
                let s = arg_str!(args, 0, row);
                Value::Int(s.chars().count() as i64)
            }
            Func::Substr => {
                let s = arg_str!(args, 0, row);
                let pos = arg_int!(args, 1, row);
                let len = if args.len() > 2 {
                    arg_int!(args, 2, row)
                } else {
                    i64::MAX
                };
                match substr_range(&s, pos, len) {
                    Some((from, to)) => Value::Str(slice_cow(s, from, to)),
                    None => Value::Str(Cow::Borrowed("")),
                }
            }
            Func::Instr => {
                let s = arg_str!(args, 0, row);
                let sub = arg_str!(args, 1, row);
                // Hive's findText: nothing is found in an empty string, not even ''.
                if s.is_empty() {
                    return Value::Int(0);
                }
                Value::Int(s.find(sub.as_ref()).map_or(0, |b| s[..b].chars().count() as i64 + 1))
            }
            Func::Concat => {
                let mut out = String::new();
                for a in args {
                    match a.eval(row).as_str() {
                        Some(s) => out.push_str(&s),
                        None => return Value::Null,
                    }
                }
                Value::Str(Cow::Owned(out))
            }
            Func::ConcatWs => {
                let sep = arg_str!(args, 0, row);
                let mut out = String::new();
                let mut first = true;
                for a in &args[1..] {
                    if let Some(s) = a.eval(row).as_str() {
                        if !first {
                            out.push_str(&sep);
                        }
                        out.push_str(&s);
                        first = false;
                    }
                }
                Value::Str(Cow::Owned(out))
            }
            Func::Coalesce => args
                .iter()
                .map(|a| a.eval(row))
                .find(|v| !v.is_null())
                .unwrap_or(Value::Null),
            Func::If => {
                if args[0].eval(row).as_bool() == Some(true) {
                    args[1].eval(row)
                } else {
                    args[2].eval(row)
                }
            }
            Func::NullIf => {
                let a = args[0].eval(row);
                match compare(&a, &args[1].eval(row)) {
                    Some(std::cmp::Ordering::Equal) => Value::Null,
                    _ => a,
                }
            }
            Func::RegexpExtract(re, group) => {
                let s = arg_str!(args, 0, row);
                match re.captures(&s) {
                    // A group that took no part in the match is NULL, as Java's group() is.
                    Some(c) => c
                        .get(*group)
                        .map_or(Value::Null, |m| Value::Str(Cow::Owned(m.as_str().to_string()))),
                    None => Value::Str(Cow::Borrowed("")),
                }
            }
            Func::RegexpReplace(re) => {
                let s = arg_str!(args, 0, row);
                let rep = arg_str!(args, 1, row);
                let rep = super::pattern::java_replacement(&rep);
                match re.replace_all(&s, rep.as_str()) {
                    Cow::Borrowed(_) => Value::Str(s),
                    Cow::Owned(o) => Value::Str(Cow::Owned(o)),
                }
            }
            Func::SplitIndex(re) => {
                let s = arg_str!(args, 0, row);
                let idx = arg_int!(args, 1, row);
                let Ok(idx) = usize::try_from(idx) else {
                    return Value::Null;
                };
                match re.split(&s).nth(idx) {
                    Some(piece) => Value::Str(Cow::Owned(piece.to_string())),
                    None => Value::Null,
                }
            }
        }
    }
}

/// Hive's `substr` window over `s`, as character indices `[from, to)`.
fn substr_range(s: &str, pos: i64, len: i64) -> Option<(usize, usize)> {
    if len <= 0 {
        return None;
    }
    let n = s.chars().count() as i64;
    if pos.abs() > n {
        return None;
    }
    let start = match pos {
        p if p > 0 => p - 1,
        p if p < 0 => n + p,
        _ => 0,
    };
    let end = if n - start < len { n } else { start + len };
    Some((start as usize, end as usize))
}

/// The characters `[from, to)` of `s`, borrowed when `s` is.
fn slice_cow(s: Cow<'_, str>, from: usize, to: usize) -> Cow<'_, str> {
    let byte = |s: &str, ci: usize| s.char_indices().nth(ci).map_or(s.len(), |(b, _)| b);
    match s {
        Cow::Borrowed(b) => {
            if b.is_ascii() {
                Cow::Borrowed(&b[from..to])
            } else {
                Cow::Borrowed(&b[byte(b, from)..byte(b, to)])
            }
        }
        Cow::Owned(o) => Cow::Owned(o[byte(&o, from)..byte(&o, to)].to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(s: &str, pos: i64, len: i64) -> String {
        match substr_range(s, pos, len) {
            Some((a, b)) => slice_cow(Cow::Borrowed(s), a, b).into_owned(),
            None => String::new(),
        }
    }

    #[test]
    fn substr_follows_hive() {
        assert_eq!(sub("hello", 1, 2), "he");
        assert_eq!(sub("hello", 0, 2), "he", "pos 0 acts as 1");
        assert_eq!(sub("hello", -3, 2), "ll", "negative pos counts from the end");
        assert_eq!(sub("hello", -5, 99), "hello");
        assert_eq!(sub("hello", -6, 2), "", "past the start is empty");
        assert_eq!(sub("hello", 6, 2), "", "past the end is empty");
        assert_eq!(sub("hello", 2, 0), "");
        assert_eq!(sub("hello", 2, i64::MAX), "ello");
        assert_eq!(sub("中文标题", 2, 2), "文标", "characters, not bytes");
    }
}
