//! The transform language: the Hive SQL subset of CONTRACT.md.
//!
//! `Program::compile` parses and resolves the spec's `SELECT ... FROM input
//! [WHERE ...]` once; `Program::eval` then runs it on each row, borrowing
//! column values from the row and allocating only for computed values.

mod compile;
mod expr;
mod func;
mod literal;
mod pattern;
mod value;

pub use compile::SqlError;
pub use expr::Row;
pub use value::Value;

use expr::Expr;

/// A compiled `SELECT`: what to keep and what to write for each input row.
pub struct Program {
    names: Vec<String>,
    outputs: Vec<Expr>,
    filter: Option<Expr>,
    used_columns: Vec<usize>,
    warnings: Vec<SqlError>,
}

impl Program {
    /// Compiles `sql` against the input's column names (lowercase).
    pub fn compile(sql: &str, columns: &[String]) -> Result<Program, Vec<SqlError>> {
        Program::compile_with_names(sql, columns).map_err(|(errors, _)| errors)
    }

    /// Like `compile`; on failure also returns the SELECT list's output names
    /// when they could be read, so that checks that need them can still run.
    pub fn compile_with_names(sql: &str, columns: &[String]) -> Result<Program, (Vec<SqlError>, Option<Vec<String>>)> {
        let c = compile::compile(sql, columns).map_err(|f| (f.errors, f.names))?;
        let (names, outputs) = c.outputs.into_iter().map(|o| (o.name, o.expr)).unzip();
        Ok(Program {
            names,
            outputs,
            filter: c.filter,
            used_columns: c.used_columns,
            warnings: c.warnings,
        })
    }

    /// Output column names, in order: the alias, else the column, else `_cN`.
    pub fn output_names(&self) -> &[String] {
        &self.names
    }

    /// Indices of the input columns the SQL reads (what a Parquet reader must load).
    pub fn used_columns(&self) -> &[usize] {
        &self.used_columns
    }

    /// Things that are legal but probably not what the author meant.
    pub fn warnings(&self) -> &[SqlError] {
        &self.warnings
    }

    /// Evaluates one row: `false` when WHERE filters it out, else the output
    /// values are pushed onto `out` (which the caller clears).
    pub fn eval<'a, R: Row<'a> + ?Sized>(&'a self, row: &R, out: &mut Vec<Value<'a>>) -> bool {
        if let Some(f) = &self.filter {
            if f.eval(row).as_bool() != Some(true) {
                return false;
            }
        }
        out.extend(self.outputs.iter().map(|e| e.eval(row)));
        true
    }
}

#[cfg(test)]
mod tests;
