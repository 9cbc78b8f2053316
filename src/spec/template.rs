//! Name and path templates: `{date}`, `{date_iso}`, `{hour}`, `{split}`, `{batch}`, `{seq}`.

use std::fmt::Write;

use crate::period::{Batch, Day};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholder {
    Date,
    DateIso,
    Hour,
    Split,
    Batch,
    Seq,
}

impl Placeholder {
    fn parse(name: &str) -> Option<Placeholder> {
        Some(match name {
            "date" => Placeholder::Date,
            "date_iso" => Placeholder::DateIso,
            "hour" => Placeholder::Hour,
            "split" => Placeholder::Split,
            "batch" => Placeholder::Batch,
            "seq" => Placeholder::Seq,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Slot(Placeholder),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    pieces: Vec<Piece>,
}

/// The values a template is rendered with; `None` for what does not apply.
#[derive(Debug, Default, Clone)]
pub struct Vars<'a> {
    pub date: Option<Day>,
    /// `HH`.
    pub hour: Option<&'a str>,
    pub split: Option<&'a str>,
    /// Two digits.
    pub batch: Option<Batch>,
    pub seq: Option<u64>,
    pub seq_width: u32,
}

impl Template {
    /// Parses `text`, accepting only the placeholders in `allowed`.
    pub fn parse(text: &str, allowed: &[Placeholder]) -> Result<Template, String> {
        let mut pieces = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                pieces.push(Piece::Text(rest[..open].to_string()));
            }
            let Some(close) = rest[open..].find('}') else {
                return Err(format!("`{text}`: `{{` without a closing `}}`"));
            };
            let name = &rest[open + 1..open + close];
            match Placeholder::parse(name) {
                Some(p) if allowed.contains(&p) => pieces.push(Piece::Slot(p)),
                Some(_) => return Err(format!("`{text}`: {{{name}}} cannot be used here")),
                None => return Err(format!("`{text}`: unknown placeholder {{{name}}}")),
            }
            rest = &rest[open + close + 1..];
        }
        if rest.contains('}') {
            return Err(format!("`{text}`: `}}` without an opening `{{`"));
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_string()));
        }
        Ok(Template {
            source: text.to_string(),
            pieces,
        })
    }

    pub fn uses(&self, p: Placeholder) -> bool {
        self.pieces.contains(&Piece::Slot(p))
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Renders the template. A sequence number wider than `seq_width` is an
    /// error, never a wrap.
    pub fn render(&self, v: &Vars<'_>) -> Result<String, String> {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Slot(Placeholder::Date) => {
                    let _ = write!(out, "{}", v.date.ok_or("{date} has no value here")?);
                }
                Piece::Slot(Placeholder::DateIso) => out.push_str(&v.date.ok_or("{date_iso} has no value here")?.iso()),
                Piece::Slot(Placeholder::Hour) => out.push_str(v.hour.ok_or("{hour} has no value here")?),
                Piece::Slot(Placeholder::Split) => out.push_str(v.split.ok_or("{split} has no value here")?),
                Piece::Slot(Placeholder::Batch) => {
                    let batch = v.batch.ok_or("{batch} has no value here")?;
                    out.push_str(&batch.to_string())
                }
                Piece::Slot(Placeholder::Seq) => {
                    let seq = v.seq.ok_or("{seq} has no value here")?;
                    let w = v.seq_width as usize;
                    let s = format!("{seq:0w$}");
                    if s.len() > w {
                        return Err(format!("sequence {seq} does not fit in seq_width = {w} digits"));
                    }
                    out.push_str(&s);
                }
            }
        }
        Ok(out)
    }

    /// The longest `{split}` value with which a data file name still fits
    /// `limit` characters at the widest sequence (`usize::MAX` without a
    /// `{split}`; `None` when even an empty value does not fit).
    pub fn longest_split(&self, seq_width: u32, limit: usize) -> Option<usize> {
        let len = |split: &str| {
            let vars = Vars {
                date: Some("20241212".parse().unwrap()),
                hour: Some("00"),
                split: Some(split),
                batch: Some(Batch::FIRST),
                seq: Some(10u64.pow(seq_width.min(18)) - 1),
                seq_width,
            };
            self.render(&vars).map_or(usize::MAX, |s| s.len())
        };
        let base = len("");
        if base > limit {
            return None;
        }
        match len("x").saturating_sub(base) {
            0 => Some(usize::MAX),
            per_char => Some((limit - base) / per_char),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Placeholder::*;

    #[test]
    fn renders_the_cm_name() {
        let t = Template::parse(
            "a_10000_{date}_CM001_{split}_{batch}_{seq}.dat.gz",
            &[Date, Split, Batch, Seq],
        )
        .unwrap();
        let v = Vars {
            date: Some("20241212".parse().unwrap()),
            split: Some("250"),
            batch: Some(crate::period::Batch::FIRST),
            seq: Some(1),
            seq_width: 4,
            hour: None,
        };
        assert_eq!(t.render(&v).unwrap(), "a_10000_20241212_CM001_250_00_0001.dat.gz");
    }

    #[test]
    fn sequence_past_width_fails_never_wraps() {
        let t = Template::parse("x_{seq}", &[Seq]).unwrap();
        let v = Vars {
            date: Some("20241212".parse().unwrap()),
            seq: Some(10_000),
            seq_width: 4,
            ..Vars::default()
        };
        assert!(t.render(&v).unwrap_err().contains("does not fit"));
    }

    #[test]
    fn unknown_and_misplaced_placeholders() {
        assert!(Template::parse("{dat}", &[Date])
            .unwrap_err()
            .contains("unknown placeholder {dat}"));
        assert!(Template::parse("{seq}", &[Date])
            .unwrap_err()
            .contains("cannot be used here"));
        assert!(Template::parse("{date", &[Date]).is_err());
    }
}
