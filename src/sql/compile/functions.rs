//! Function calls of the subset, and `split(s, re)[n]`, the one indexed array.

use sqlparser::ast::{self as ast, Spanned};

use super::{unify, Compiler, Ty, AGGREGATES};
use crate::sql::expr::Expr;
use crate::sql::func::Func;
use crate::sql::value::Value;

impl Compiler<'_> {
    pub(super) fn function(&mut self, e: &ast::Expr, f: &ast::Function) -> Option<(Expr, Ty)> {
        let name = f.name.to_string().to_lowercase();
        if f.over.is_some() {
            return self.unsupported(e.span(), &format!("the window function {name}() OVER"));
        }
        if AGGREGATES.contains(&name.as_str()) {
            self.error(
                e.span(),
                format!("aggregate function {name}() is not supported: chama evaluates one row at a time"),
            );
            return None;
        }
        let raw_args: Vec<&ast::Expr> = match &f.args {
            ast::FunctionArguments::List(list) => {
                if list.duplicate_treatment.is_some() || !list.clauses.is_empty() {
                    return self.unsupported(e.span(), &format!("DISTINCT or clauses inside {name}()"));
                }
                let mut out = Vec::new();
                for a in &list.args {
                    match a {
                        ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(x)) => out.push(x),
                        other => return self.unsupported(e.span(), &format!("the argument `{other}` of {name}()")),
                    }
                }
                out
            }
            ast::FunctionArguments::None => vec![],
            ast::FunctionArguments::Subquery(_) => return self.unsupported(e.span(), "a subquery"),
        };
        if f.filter.is_some() || !f.within_group.is_empty() || f.null_treatment.is_some() {
            return self.unsupported(e.span(), &format!("FILTER/WITHIN GROUP on {name}()"));
        }
        let n = raw_args.len();
        let arity = |lo: usize, hi: usize| n >= lo && n <= hi;
        let (func, ret, ok_arity, expect) = match name.as_str() {
            "lower" | "lcase" => (Some(Func::Lower), Ty::Str, arity(1, 1), "1 argument"),
            "upper" | "ucase" => (Some(Func::Upper), Ty::Str, arity(1, 1), "1 argument"),
            "trim" => (Some(Func::Trim), Ty::Str, arity(1, 1), "1 argument"),
            "length" => (Some(Func::Length), Ty::Int, arity(1, 1), "1 argument"),
            "substr" | "substring" => (Some(Func::Substr), Ty::Str, arity(2, 3), "2 or 3 arguments"),
            "instr" => (Some(Func::Instr), Ty::Int, arity(2, 2), "2 arguments"),
            "concat" => (Some(Func::Concat), Ty::Str, arity(1, usize::MAX), "at least 1 argument"),
            "concat_ws" => (
                Some(Func::ConcatWs),
                Ty::Str,
                arity(2, usize::MAX),
                "at least 2 arguments",
            ),
            "coalesce" => (
                Some(Func::Coalesce),
                Ty::Null,
                arity(1, usize::MAX),
                "at least 1 argument",
            ),
            "nvl" => (Some(Func::Coalesce), Ty::Null, arity(2, 2), "2 arguments"),
            "if" => (Some(Func::If), Ty::Null, arity(3, 3), "3 arguments"),
            "nullif" => (Some(Func::NullIf), Ty::Null, arity(2, 2), "2 arguments"),
            "regexp_extract" => (None, Ty::Str, arity(2, 3), "2 or 3 arguments"),
            "regexp_replace" => (None, Ty::Str, arity(3, 3), "3 arguments"),
            "split" => {
                self.error(
                    e.span(),
                    "split(s, regex) returns an array: index it, e.g. split(s, ',')[0]".into(),
                );
                return None;
            }
            _ => {
                self.error(e.span(), format!("unknown function {name}() (the subset has lower, upper, trim, length, substr, instr, concat, concat_ws, coalesce, nvl, if, nullif, regexp_extract, regexp_replace, split(...)[n])"));
                return None;
            }
        };
        if !ok_arity {
            self.error(e.span(), format!("{name}() takes {expect}, not {n}"));
            return None;
        }
        match func {
            Some(func) => {
                let first_is_cond = matches!(func, Func::If);
                let mut args = Vec::with_capacity(n);
                let mut ty = ret;
                let mut ok = true;
                for (i, a) in raw_args.iter().enumerate() {
                    let compiled = if first_is_cond && i == 0 {
                        self.condition(a, "the first argument of if()").map(|x| (x, Ty::Bool))
                    } else {
                        self.expr(a)
                    };
                    match compiled {
                        Some((x, t)) => {
                            if ret == Ty::Null
                                && !(first_is_cond && i == 0)
                                && !(matches!(func, Func::NullIf) && i == 1)
                            {
                                ty = unify(ty, t);
                            }
                            args.push(x);
                        }
                        None => ok = false,
                    }
                }
                ok.then_some((Expr::Call(func, args), ty))
            }
            None if name == "regexp_extract" => {
                let s = self.expr(raw_args[0]);
                let re = self.regex_literal(raw_args[1], "the regex of regexp_extract()");
                let group = match raw_args.get(2) {
                    None => Some(1),
                    Some(g) => match self.expr(g) {
                        Some((Expr::Literal(Value::Int(i)), _)) if i >= 0 => Some(i as usize),
                        _ => {
                            self.error(
                                g.span(),
                                "the group of regexp_extract() must be a non-negative integer literal".into(),
                            );
                            None
                        }
                    },
                };
                let (s, re, group) = (s?.0, re?, group?);
                if group >= re.captures_len() {
                    self.error(
                        raw_args[1].span(),
                        format!(
                            "regexp_extract() asks for group {group}, but the regex has only {}",
                            re.captures_len() - 1
                        ),
                    );
                    return None;
                }
                Some((Expr::Call(Func::RegexpExtract(re, group), vec![s]), Ty::Str))
            }
            None => {
                let s = self.expr(raw_args[0]);
                let re = self.regex_literal(raw_args[1], "the regex of regexp_replace()");
                let rep = self.expr(raw_args[2]);
                Some((Expr::Call(Func::RegexpReplace(re?), vec![s?.0, rep?.0]), Ty::Str))
            }
        }
    }

    /// `split(s, re)[n]`, the one array expression of the subset.
    pub(super) fn split_index(
        &mut self,
        e: &ast::Expr,
        root: &ast::Expr,
        chain: &[ast::AccessExpr],
    ) -> Option<(Expr, Ty)> {
        let ast::Expr::Function(f) = root else {
            return self.unsupported(e.span(), &format!("`{e}` (only split(...)[n] may be indexed)"));
        };
        if !f.name.to_string().eq_ignore_ascii_case("split") {
            return self.unsupported(e.span(), &format!("`{e}` (only split(...)[n] may be indexed)"));
        }
        let [ast::AccessExpr::Subscript(ast::Subscript::Index { index })] = chain else {
            return self.unsupported(e.span(), &format!("`{e}` (index split(...) once, with [n])"));
        };
        let args: Vec<&ast::Expr> = match &f.args {
            ast::FunctionArguments::List(l) => l
                .args
                .iter()
                .filter_map(|a| match a {
                    ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(x)) => Some(x),
                    _ => None,
                })
                .collect(),
            _ => vec![],
        };
        if args.len() != 2 {
            self.error(e.span(), format!("split() takes 2 arguments, not {}", args.len()));
            return None;
        }
        let s = self.expr(args[0]);
        let re = self.regex_literal(args[1], "the regex of split()");
        let idx = self.expr(index);
        Some((Expr::Call(Func::SplitIndex(re?), vec![s?.0, idx?.0]), Ty::Str))
    }
}
