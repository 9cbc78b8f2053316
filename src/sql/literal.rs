//! Hive's string literals: the backslash escapes of `unescapeSQLString`.
//!
//! Users paste Hive SQL, so `'\\d'` must mean the regex `\d` and `'\d'` must
//! mean `d`, exactly as Hive reads them. `\%` and `\_` keep their backslash so
//! that LIKE sees an escaped wildcard, as in Hive (and MySQL).

/// Turns the raw text between a literal's quotes into its value.
pub fn unescape(raw: &str) -> String {
    let chars: Vec<char> = raw.chars().collect();
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '\\' || i + 1 >= chars.len() {
            out.push(c);
            i += 1;
            continue;
        }
        // \uXXXX
        if chars[i + 1] == 'u' && i + 5 < chars.len() {
            let hex: String = chars[i + 2..i + 6].iter().collect();
            if let Some(ch) = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                out.push(ch);
                i += 6;
                continue;
            }
        }
        // \ooo with the first digit 0 or 1: one byte, as Hive does
        if i + 3 < chars.len()
            && matches!(chars[i + 1], '0'..='1')
            && matches!(chars[i + 2], '0'..='7')
            && matches!(chars[i + 3], '0'..='7')
        {
            let v = (chars[i + 1] as u32 - 48) * 64 + (chars[i + 2] as u32 - 48) * 8 + (chars[i + 3] as u32 - 48);
            out.push(char::from_u32(v).unwrap_or('\u{fffd}'));
            i += 4;
            continue;
        }
        match chars[i + 1] {
            '0' => out.push('\0'),
            'b' => out.push('\u{8}'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'Z' => out.push('\u{1a}'),
            '%' => out.push_str("\\%"),
            '_' => out.push_str("\\_"),
            other => out.push(other),
        }
        i += 2;
    }
    out
}

/// Whether a raw literal holds a backslash that Hive silently drops (`'\d'` is `d`):
/// almost always a regex written with one backslash where Hive needs two.
pub fn dropped_escape(raw: &str) -> Option<char> {
    let mut it = raw.chars().peekable();
    while let Some(c) = it.next() {
        if c == '\\' {
            if let Some(
                n @ ('d' | 'D' | 'w' | 'W' | 's' | 'S' | '.' | '|' | '?' | '*' | '+' | '(' | ')' | '[' | ']' | '{'
                | '}' | '^' | '$'),
            ) = it.next()
            {
                return Some(n);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::unescape;

    #[test]
    fn hive_escapes() {
        assert_eq!(unescape(r"a\tb"), "a\tb");
        assert_eq!(unescape(r"it\'s"), "it's");
        assert_eq!(unescape(r"\\d+"), r"\d+");
        assert_eq!(unescape(r"\d"), "d", "Hive drops an unknown escape's backslash");
        assert_eq!(unescape(r"100\%"), r"100\%");
        assert_eq!(unescape(r"\u4e2d"), "中");
        assert_eq!(unescape(r"\001"), "\u{1}");
        assert_eq!(unescape("中文|x"), "中文|x");
    }
}
