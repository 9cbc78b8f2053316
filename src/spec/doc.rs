//! A spec file as a spanned TOML tree, so that every problem can name its line.
//!
//! serde stops at the first error; a spec author wants them all. So the tree
//! is parsed once with spans, unknown keys are found by walking it against the
//! field lists of the serde structs themselves (captured, not repeated by
//! hand), and each section is then deserialized on its own.

use std::ops::Range;

use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use toml::de::{DeTable, DeValue, ValueDeserializer};
use toml::Spanned;

/// One problem in one file, positioned by line (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: usize,
    pub message: String,
}

/// The parsed document and its source text.
pub struct Doc<'i> {
    text: &'i str,
    root: Spanned<DeTable<'i>>,
}

impl<'i> Doc<'i> {
    /// Parses the TOML, returning every syntax error at once.
    pub fn parse(text: &'i str) -> Result<Doc<'i>, Vec<Problem>> {
        let (root, errors) = DeTable::parse_recoverable(text);
        if errors.is_empty() {
            return Ok(Doc { text, root });
        }
        Err(errors
            .iter()
            .map(|e| Problem {
                line: e.span().map_or(1, |s| line_of(text, s.start)),
                message: format!("TOML syntax: {}", e.message().trim()),
            })
            .collect())
    }

    pub fn line(&self, offset: usize) -> usize {
        line_of(self.text, offset)
    }

    /// The text of the document.
    pub fn text(&self) -> &'i str {
        self.text
    }

    pub fn root(&self) -> &DeTable<'i> {
        self.root.get_ref()
    }

    /// The value at `path` (`["output", "split_by"]`) with its span.
    pub fn get(&self, path: &[&str]) -> Option<&Spanned<DeValue<'i>>> {
        let mut table = self.root();
        let (last, parents) = path.split_last()?;
        for p in parents {
            table = table.get(*p)?.get_ref().as_table()?;
        }
        table.get(*last)
    }

    /// The line of the value at `path`, else of its nearest parent that exists.
    pub fn line_at(&self, path: &[&str]) -> usize {
        for n in (1..=path.len()).rev() {
            if let Some(v) = self.get(&path[..n]) {
                return self.line(v.span().start);
            }
        }
        1
    }

    /// Keys of `table` that `allowed` does not name, with their lines.
    pub fn unknown_keys(&self, table: &DeTable<'i>, allowed: &[&str], section: Option<&str>) -> Vec<Problem> {
        let mut out = Vec::new();
        for (key, _) in table.iter() {
            let k = key.get_ref().as_ref();
            if allowed.contains(&k) {
                continue;
            }
            let hint = crate::suggest::hint(k, allowed);
            let place = section.map(|s| format!(" in [{s}]")).unwrap_or_default();
            out.push(Problem {
                line: self.line(key.span().start),
                message: format!("unknown key `{k}`{place}{hint} (allowed: {})", allowed.join(", ")),
            });
        }
        out
    }

    /// Deserializes one value (a section table, or the root with some keys
    /// removed) into `T`, reporting serde's error with its line.
    pub fn deserialize<T: DeserializeOwned>(&self, value: Spanned<DeValue<'i>>) -> Result<T, Problem> {
        let span = value.span();
        T::deserialize(ValueDeserializer::from(value)).map_err(|e| Problem {
            line: self.line(e.span().unwrap_or(span).start),
            message: e.message().trim().to_string(),
        })
    }

    /// A copy of `table` holding only the keys in `keep`.
    pub fn subset(&self, table: &Spanned<DeTable<'i>>, keep: &[&str]) -> Spanned<DeValue<'i>> {
        let mut t = DeTable::new();
        for (k, v) in table.get_ref().iter() {
            if keep.contains(&k.get_ref().as_ref()) {
                t.insert(k.clone(), v.clone());
            }
        }
        Spanned::new(table.span(), DeValue::Table(t))
    }

    pub fn root_spanned(&self) -> &Spanned<DeTable<'i>> {
        &self.root
    }
}

/// 1-based line of a byte offset.
pub fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    memchr::memchr_iter(b'\n', &text.as_bytes()[..end]).count() + 1
}

/// The field names a serde-derived struct accepts, read from serde itself so
/// that the unknown-key check can never drift from the structs.
pub fn fields_of<T: DeserializeOwned>() -> &'static [&'static str] {
    struct Capture;
    #[derive(Debug)]
    struct Captured(&'static [&'static str]);
    impl std::fmt::Display for Captured {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("captured")
        }
    }
    impl std::error::Error for Captured {}
    impl de::Error for Captured {
        fn custom<M: std::fmt::Display>(_: M) -> Self {
            Captured(&[])
        }
    }
    impl<'de> Deserializer<'de> for Capture {
        type Error = Captured;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Captured> {
            Err(Captured(&[]))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Captured> {
            Err(Captured(fields))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }
    match T::deserialize(Capture) {
        Err(Captured(fields)) => fields,
        Ok(_) => &[],
    }
}

/// The span of the raw string value at `range` starts at its quotes; the
/// text itself starts on the next line when the string opens with a newline.
pub fn string_body_line(doc: &Doc<'_>, span: Range<usize>) -> usize {
    let raw = &doc.text()[span.clone()];
    let line = doc.line(span.start);
    let opens_multiline = raw.starts_with("\"\"\"") || raw.starts_with("'''");
    if opens_multiline && raw[3..].starts_with(['\n', '\r']) {
        line + 1
    } else {
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::raw::RawOutput;

    #[test]
    fn fields_come_from_serde() {
        let f = fields_of::<RawOutput>();
        assert!(f.contains(&"split_by") && f.contains(&"gzip_level"), "{f:?}");
    }

    #[test]
    fn every_syntax_error_has_a_line() {
        let errs = Doc::parse("a = 1\nb = \nc = [\n").err().unwrap();
        assert!(!errs.is_empty());
        assert!(errs.iter().all(|e| e.line >= 2), "{errs:?}");
    }
}
