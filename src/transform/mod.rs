//! One row in, one row (or none) out: evaluate the spec's SQL, then clean.

pub mod bytes;
pub mod clean;
pub mod encode;

use std::borrow::Cow;

use crate::spec::Spec;
use crate::sql::{Program, Value};
use bytes::{ByteSet, LineHits};
use clean::Strip;

/// The per-row work of a spec, ready to run.
pub struct Transformer<'s> {
    program: &'s Program,
    strips: Vec<Strip>,
    /// Every ASCII byte any column strips, to search each line once; `None`
    /// when some stripped character is not ASCII (then every value is scanned).
    stripped: Option<ByteSet>,
}

impl<'s> Transformer<'s> {
    pub fn new(spec: &Spec, program: &'s Program) -> Transformer<'s> {
        let strips = spec.clean.per_column(program.output_names());
        let stripped = if strips.iter().any(Strip::has_non_ascii) {
            None
        } else {
            Some(ByteSet::new(strips.iter().flat_map(Strip::ascii_bytes)))
        };
        Transformer {
            program,
            strips,
            stripped,
        }
    }

    pub fn output_names(&self) -> &[String] {
        self.program.output_names()
    }

    /// Evaluates and cleans one row of `line` into `out` (cleared first).
    /// `false` when the WHERE clause filters the row out. `hits` is scratch
    /// space kept by the caller between rows.
    pub fn row<'a>(
        &'a self,
        line: &str,
        fields: &[Option<&'a str>],
        out: &mut Vec<Value<'a>>,
        hits: &mut LineHits,
    ) -> bool {
        out.clear();
        if !self.program.eval(fields, out) {
            return false;
        }
        if let Some(set) = &self.stripped {
            hits.scan(set, line.as_bytes());
        }
        for (v, strip) in out.iter_mut().zip(&self.strips) {
            if strip.is_empty() {
                continue;
            }
            match v {
                Value::Null => continue,
                Value::Str(s) if self.stripped.is_some() && hits.within(s.as_bytes()) == Some(false) => continue,
                _ => {}
            }
            let s = std::mem::replace(v, Value::Null)
                .into_str()
                .unwrap_or(Cow::Borrowed(""));
            *v = Value::Str(strip.apply(s));
        }
        true
    }
}

/// Reuses a vector's allocation for items of a new lifetime: emptied, then
/// collected in place (std keeps the buffer when the layouts match).
pub fn recycle<A, B>(mut v: Vec<A>) -> Vec<B> {
    v.clear();
    v.into_iter().map(|_| unreachable!()).collect()
}
