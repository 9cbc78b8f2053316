//! Patterns: Java regular expressions (RLIKE, regexp_*, split) and LIKE, both
//! compiled once to `regex::Regex`.
//!
//! Hive evaluates regexes with `java.util.regex`, where `\d`, `\w`, `\s` and `\b`
//! are ASCII-only; the `regex` crate makes them Unicode-aware. We rewrite those
//! classes to their ASCII forms so that `\d` never matches a full-width digit.
//! Look-around and back-references have no equivalent and are spec errors.

use regex::Regex;

/// Compiles a Java-style regex as Hive would use it.
pub fn java_regex(pattern: &str) -> Result<Regex, String> {
    let translated = translate_java(pattern);
    Regex::new(&translated).map_err(|e| {
        let why = e.to_string();
        let first = why.lines().last().unwrap_or("invalid regex").trim().to_string();
        format!("regex '{pattern}' is not supported: {first}")
    })
}

fn translate_java(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut chars = pattern.chars();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(n) = chars.next() else {
                    out.push('\\');
                    break;
                };
                let ascii = match (n, in_class) {
                    ('d', false) => Some("[0-9]"),
                    ('D', false) => Some("[^0-9]"),
                    ('w', false) => Some("[0-9A-Za-z_]"),
                    ('W', false) => Some("[^0-9A-Za-z_]"),
                    ('s', false) => Some("[\\t\\n\\x0B\\f\\r ]"),
                    ('S', false) => Some("[^\\t\\n\\x0B\\f\\r ]"),
                    ('b', false) => Some("(?-u:\\b)"),
                    ('B', false) => Some("(?-u:\\B)"),
                    ('d', true) => Some("0-9"),
                    ('w', true) => Some("0-9A-Za-z_"),
                    ('s', true) => Some("\\t\\n\\x0B\\f\\r "),
                    _ => None,
                };
                match ascii {
                    Some(s) => out.push_str(s),
                    None => {
                        out.push('\\');
                        out.push(n);
                    }
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                // A `]` or `^]` right after the opening bracket is a literal.
                let rest = chars.as_str();
                if let Some(r) = rest.strip_prefix("^]") {
                    out.push_str("^\\]");
                    chars = r.chars();
                } else if let Some(r) = rest.strip_prefix(']') {
                    out.push_str("\\]");
                    chars = r.chars();
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            _ => out.push(c),
        }
    }
    out
}

/// Compiles a LIKE pattern: `%` any run, `_` one character, `\` escapes the next
/// character; the whole value must match; case-sensitive.
pub fn like_regex(pattern: &str) -> Result<Regex, String> {
    let mut re = String::from("(?s)^");
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '%' => re.push_str(".*"),
            '_' => re.push('.'),
            '\\' => match chars.next() {
                Some(n) => re.push_str(&regex::escape(&n.to_string())),
                None => re.push_str("\\\\"),
            },
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    Regex::new(&re).map_err(|e| format!("LIKE pattern '{pattern}': {e}"))
}

/// Translates a Java replacement string (`$1`, `\$`) into the `regex` crate's (`${1}`, `$$`).
pub fn java_replacement(rep: &str) -> String {
    let mut out = String::with_capacity(rep.len() + 4);
    let mut chars = rep.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('$') => out.push_str("$$"),
                Some(n) => out.push(n),
                None => {}
            },
            '$' => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                if digits.is_empty() {
                    out.push_str("$$");
                } else {
                    out.push_str(&format!("${{{digits}}}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_digit_class_is_ascii() {
        let re = java_regex(r"^210315_QYCS_\d+$").unwrap();
        assert!(re.is_match("210315_QYCS_12"));
        assert!(
            !re.is_match("210315_QYCS_１２"),
            "full-width digits are not \\d in Java"
        );
        assert!(java_regex(r"[\d]+").unwrap().is_match("7"));
        assert!(java_regex(r"[]a]").unwrap().is_match("]"));
    }

    #[test]
    fn look_around_is_an_error_naming_the_pattern() {
        let err = java_regex(r"a(?=b)").unwrap_err();
        assert!(err.contains("a(?=b)"), "{err}");
    }

    #[test]
    fn like_matches_whole_value() {
        let re = like_regex("ab%c_").unwrap();
        assert!(re.is_match("abXXcd"));
        assert!(!re.is_match("xabcd"));
        assert!(like_regex(r"100\%").unwrap().is_match("100%"));
        assert!(!like_regex(r"100\%").unwrap().is_match("1000"));
        assert!(like_regex("a.b").unwrap().is_match("a.b"));
        assert!(!like_regex("a.b").unwrap().is_match("axb"));
        assert!(like_regex("%").unwrap().is_match("line\nbreak"));
    }

    #[test]
    fn replacement_groups() {
        assert_eq!(java_replacement("$1-x"), "${1}-x");
        assert_eq!(java_replacement(r"\$5"), "$$5");
    }
}
