//! Cleaning: remove the spec's `strip` characters from each output value,
//! except the ones `keep` allows for that column.
//!
//! Most values contain none of them, so the common path scans the bytes once
//! against an ASCII mask and returns the value untouched.

use std::borrow::Cow;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Strip {
    /// Bit `b` set: ASCII byte `b` is stripped.
    ascii: u128,
    other: Vec<char>,
}

impl Strip {
    pub fn new(chars: impl IntoIterator<Item = char>) -> Strip {
        let mut s = Strip::default();
        for c in chars {
            if c.is_ascii() {
                s.ascii |= 1 << (c as u32);
            } else if !s.other.contains(&c) {
                s.other.push(c);
            }
        }
        s
    }

    pub fn is_empty(&self) -> bool {
        self.other.is_empty() && self.ascii == 0
    }

    fn strips(&self, c: char) -> bool {
        if c.is_ascii() {
            self.ascii & (1 << (c as u32)) != 0
        } else {
            self.other.contains(&c)
        }
    }

    /// The ASCII bytes this strips, for a line-wide search.
    pub fn ascii_bytes(&self) -> impl Iterator<Item = u8> + '_ {
        (0u8..128).filter(|b| self.ascii & (1 << b) != 0)
    }

    /// Whether it strips characters outside ASCII, which a byte search cannot find.
    pub fn has_non_ascii(&self) -> bool {
        !self.other.is_empty()
    }

    /// The value without the stripped characters; borrowed when nothing changes.
    pub fn apply<'a>(&self, value: Cow<'a, str>) -> Cow<'a, str> {
        let hit = if self.other.is_empty() {
            value.bytes().any(|b| b < 128 && self.ascii & (1 << b) != 0)
        } else {
            value.chars().any(|c| self.strips(c))
        };
        if !hit {
            return value;
        }
        Cow::Owned(value.chars().filter(|c| !self.strips(*c)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_only_what_is_listed() {
        let s = Strip::new(['\r', '\n', '\t', '|']);
        assert_eq!(s.apply("a|b\tc\r\nd".into()), "abcd");
        assert!(matches!(s.apply("中文 ok".into()), Cow::Borrowed(_)));
        let cjk = Strip::new(['，']);
        assert_eq!(cjk.apply("a，b".into()), "ab");
    }
}
