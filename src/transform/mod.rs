//! One row in, one row (or none) out: evaluate the spec's SQL, then clean.

pub mod clean;

use std::borrow::Cow;

use crate::spec::Spec;
use crate::sql::{Program, Value};
use clean::Strip;

/// The per-row work of a spec, ready to run.
pub struct Transformer<'s> {
    program: &'s Program,
    strips: Vec<Strip>,
}

impl<'s> Transformer<'s> {
    pub fn new(spec: &Spec, program: &'s Program) -> Transformer<'s> {
        Transformer {
            program,
            strips: spec.clean.per_column(program.output_names()),
        }
    }

    pub fn output_names(&self) -> &[String] {
        self.program.output_names()
    }

    /// Evaluates and cleans one row into `out` (cleared first). `false` when
    /// the WHERE clause filters the row out.
    pub fn row<'a>(&'a self, fields: &[Option<&'a str>], out: &mut Vec<Value<'a>>) -> bool {
        out.clear();
        if !self.program.eval(fields, out) {
            return false;
        }
        for (v, strip) in out.iter_mut().zip(&self.strips) {
            if strip.is_empty() || v.is_null() {
                continue;
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
