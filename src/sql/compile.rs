//! From the spec's SQL text to a compiled [`Program`](super::Program).
//!
//! Parsing is sqlparser's, with the Hive dialect adjusted the way Hive reads
//! text: `"..."` is a string literal (backticks quote identifiers) and a
//! backslash escapes inside literals. Literals are kept raw by the parser and
//! unescaped here with Hive's rules. Everything outside the documented subset
//! is reported with the construct's line, never evaluated differently.

use std::any::TypeId;

use sqlparser::ast::{self as ast, Spanned};
use sqlparser::dialect::{Dialect, HiveDialect};
use sqlparser::parser::{Parser, ParserOptions};
use sqlparser::tokenizer::Span;

use super::expr::{CmpOp, Expr};
use super::func::Func;
use super::literal;
use super::pattern;
use super::value::Value;

mod functions;
mod select;

/// A problem in the SQL, positioned within the SQL text (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlError {
    pub line: u64,
    pub column: u64,
    pub message: String,
}

/// Hive as chama reads it. `dialect()` reports Hive so that sqlparser keeps
/// its Hive-specific parsing.
#[derive(Debug)]
struct HiveText(HiveDialect);

impl Dialect for HiveText {
    fn dialect(&self) -> TypeId {
        TypeId::of::<HiveDialect>()
    }
    fn is_identifier_start(&self, ch: char) -> bool {
        self.0.is_identifier_start(ch)
    }
    fn is_identifier_part(&self, ch: char) -> bool {
        self.0.is_identifier_part(ch)
    }
    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        ch == '`'
    }
    fn supports_string_literal_backslash_escape(&self) -> bool {
        true
    }
    fn supports_bang_not_operator(&self) -> bool {
        true
    }
}

/// Static types, to reject a non-condition where a condition must stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    Str,
    Int,
    Bool,
    Null,
}

pub struct Output {
    pub name: String,
    pub expr: Expr,
}

pub struct Compiled {
    pub outputs: Vec<Output>,
    pub filter: Option<Expr>,
    pub used_columns: Vec<usize>,
    pub warnings: Vec<SqlError>,
}

const AGGREGATES: &[&str] = &[
    "count",
    "sum",
    "avg",
    "min",
    "max",
    "collect_set",
    "collect_list",
    "stddev",
    "variance",
    "percentile",
    "first_value",
    "last_value",
    "row_number",
    "rank",
    "dense_rank",
    "lag",
    "lead",
];

/// A failed compilation: every error, and the output names when the SELECT
/// list could be read (so that checks of `split_by` and `keep` still run).
pub struct Failed {
    pub errors: Vec<SqlError>,
    pub names: Option<Vec<String>>,
}

pub fn compile(sql: &str, columns: &[String]) -> Result<Compiled, Failed> {
    let dialect = HiveText(HiveDialect {});
    let parsed = Parser::new(&dialect)
        .with_options(ParserOptions::new().with_unescape(false))
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_statements());
    let statements = match parsed {
        Ok(s) => s,
        Err(e) => {
            return Err(Failed {
                errors: vec![parse_error(&e.to_string())],
                names: None,
            })
        }
    };
    let mut c = Compiler {
        columns,
        used: vec![false; columns.len()],
        errors: vec![],
        warnings: vec![],
        names: None,
    };
    let compiled = match statements.as_slice() {
        [ast::Statement::Query(q)] => c.query(q),
        [] => {
            c.error_at(1, "the transform SQL is empty: write one SELECT ... FROM input".into());
            None
        }
        [other] => {
            c.error(
                other.span(),
                "only one SELECT ... FROM input is supported, not this statement".into(),
            );
            None
        }
        [_, second, ..] => {
            c.error(second.span(), "only one statement is supported".into());
            None
        }
    };
    match compiled {
        Some((outputs, filter)) if c.errors.is_empty() => {
            let used_columns = c.used.iter().enumerate().filter(|(_, u)| **u).map(|(i, _)| i).collect();
            Ok(Compiled {
                outputs,
                filter,
                used_columns,
                warnings: c.warnings,
            })
        }
        _ => Err(Failed {
            errors: c.errors,
            names: c.names,
        }),
    }
}

/// sqlparser puts the position only into its message: "... at Line: 3, Column: 5".
fn parse_error(message: &str) -> SqlError {
    let mut line = 1;
    let mut column = 1;
    let mut text = message.to_string();
    if let Some(at) = message.rfind(" at Line: ") {
        let pos = &message[at + " at Line: ".len()..];
        let mut parts = pos.split(", Column: ");
        line = parts.next().and_then(|l| l.trim().parse().ok()).unwrap_or(1);
        column = parts.next().and_then(|c| c.trim().parse().ok()).unwrap_or(1);
        text.truncate(at);
    }
    let text = text.trim_start_matches("sql parser error: ");
    SqlError {
        line,
        column,
        message: format!("SQL syntax: {text}"),
    }
}

struct Compiler<'c> {
    columns: &'c [String],
    used: Vec<bool>,
    errors: Vec<SqlError>,
    warnings: Vec<SqlError>,
    /// Output names of every SELECT item, compiled or not.
    names: Option<Vec<String>>,
}

impl Compiler<'_> {
    fn error(&mut self, span: Span, message: String) {
        let (line, column) = if span.start.line == 0 {
            (1, 1)
        } else {
            (span.start.line, span.start.column)
        };
        self.errors.push(SqlError { line, column, message });
    }

    fn error_at(&mut self, line: u64, message: String) {
        self.errors.push(SqlError {
            line,
            column: 1,
            message,
        });
    }

    fn unsupported(&mut self, span: Span, what: &str) -> Option<(Expr, Ty)> {
        self.error(span, format!("{what} is not supported by chama's transform language"));
        None
    }

    /// An expression that must be a condition (WHERE, AND, OR, NOT, IF, WHEN).
    fn condition(&mut self, e: &ast::Expr, role: &str) -> Option<Expr> {
        let (expr, ty) = self.expr(e)?;
        match ty {
            Ty::Bool | Ty::Null => Some(expr),
            _ => {
                self.error(
                    e.span(),
                    format!("{role} needs a condition, but `{e}` is not one (compare it, e.g. `{e} = '...'`)"),
                );
                None
            }
        }
    }

    fn boxed(&mut self, e: &ast::Expr) -> Option<Box<Expr>> {
        self.expr(e).map(|(x, _)| Box::new(x))
    }

    fn expr(&mut self, e: &ast::Expr) -> Option<(Expr, Ty)> {
        use ast::Expr as A;
        match e {
            A::Identifier(ident) => self.column(ident),
            A::CompoundIdentifier(parts) => match parts.as_slice() {
                [t, c] if t.value.eq_ignore_ascii_case("input") => self.column(c),
                _ => self.unsupported(e.span(), &format!("the qualified name `{e}`")),
            },
            A::Nested(inner) => self.expr(inner),
            A::Value(v) => self.literal(v),
            A::UnaryOp { op, expr } => match op {
                ast::UnaryOperator::Not | ast::UnaryOperator::BangNot => {
                    let x = self.condition(expr, "NOT")?;
                    Some((Expr::Not(Box::new(x)), Ty::Bool))
                }
                ast::UnaryOperator::Minus => match expr.as_ref() {
                    A::Value(ast::ValueWithSpan {
                        value: ast::Value::Number(n, _),
                        ..
                    }) => match format!("-{n}").parse::<i64>() {
                        Ok(i) => Some((Expr::Literal(Value::Int(i)), Ty::Int)),
                        Err(_) => self.unsupported(e.span(), &format!("the number -{n} (only integers)")),
                    },
                    _ => self.unsupported(e.span(), "arithmetic (unary minus)"),
                },
                _ => self.unsupported(e.span(), &format!("the operator {op}")),
            },
            A::BinaryOp { left, op, right } => self.binary(e, left, op, right),
            A::IsNull(x) | A::IsNotNull(x) => {
                let x = self.boxed(x)?;
                Some((
                    Expr::IsNull {
                        expr: x,
                        negated: matches!(e, A::IsNotNull(_)),
                    },
                    Ty::Bool,
                ))
            }
            A::InList { expr, list, negated } => {
                let x = self.boxed(expr);
                let items: Vec<_> = list.iter().map(|i| self.expr(i).map(|(x, _)| x)).collect();
                let items: Option<Vec<Expr>> = items.into_iter().collect();
                Some((
                    Expr::In {
                        expr: x?,
                        list: items?,
                        negated: *negated,
                    },
                    Ty::Bool,
                ))
            }
            A::Between {
                expr,
                negated,
                low,
                high,
            } => {
                let (x, lo, hi) = (self.boxed(expr), self.boxed(low), self.boxed(high));
                Some((
                    Expr::Between {
                        expr: x?,
                        low: lo?,
                        high: hi?,
                        negated: *negated,
                    },
                    Ty::Bool,
                ))
            }
            A::Like {
                negated,
                any,
                expr,
                pattern,
                escape_char,
            } => {
                if *any || escape_char.is_some() {
                    return self.unsupported(e.span(), "LIKE ANY / LIKE ... ESCAPE");
                }
                let x = self.boxed(expr);
                let pat = self.string_literal(pattern, "a LIKE pattern")?;
                let re = match pattern::like_regex(&pat) {
                    Ok(re) => re,
                    Err(m) => {
                        self.error(pattern.span(), m);
                        return None;
                    }
                };
                matches(x?, re, *negated)
            }
            A::RLike {
                negated, expr, pattern, ..
            } => {
                let x = self.boxed(expr);
                let re = self.regex_literal(pattern, "an RLIKE pattern")?;
                matches(x?, re, *negated)
            }
            A::Case {
                operand,
                conditions,
                else_result,
                ..
            } => self.case(operand.as_deref(), conditions, else_result.as_deref()),
            A::Function(f) => self.function(e, f),
            A::Substring {
                expr,
                substring_from,
                substring_for,
                ..
            } => {
                let mut args = vec![self.expr(expr).map(|x| x.0)];
                match substring_from {
                    Some(from) => args.push(self.expr(from).map(|x| x.0)),
                    None => {
                        self.error(e.span(), "substr() takes 2 or 3 arguments, not 1".into());
                        return None;
                    }
                }
                if let Some(len) = substring_for {
                    args.push(self.expr(len).map(|x| x.0));
                }
                let args: Option<Vec<Expr>> = args.into_iter().collect();
                Some((Expr::Call(Func::Substr, args?), Ty::Str))
            }
            A::Trim {
                expr,
                trim_where: None,
                trim_what: None,
                trim_characters: None,
            } => {
                let x = self.expr(expr)?.0;
                Some((Expr::Call(Func::Trim, vec![x]), Ty::Str))
            }
            A::CompoundFieldAccess { root, access_chain } => self.split_index(e, root, access_chain),
            A::Subquery(_) | A::InSubquery { .. } | A::Exists { .. } => self.unsupported(e.span(), "a subquery"),
            A::Cast { .. } => self.unsupported(e.span(), "CAST"),
            other => self.unsupported(other.span(), &format!("`{other}`")),
        }
    }

    fn column(&mut self, ident: &ast::Ident) -> Option<(Expr, Ty)> {
        let name = ident.value.to_lowercase();
        match self.columns.iter().position(|c| c.eq_ignore_ascii_case(&name)) {
            Some(i) => {
                self.used[i] = true;
                Some((Expr::Column(i), Ty::Str))
            }
            None => {
                let hint = crate::suggest::hint(&name, self.columns);
                self.error(ident.span, format!("unknown column `{}`{hint}", ident.value));
                None
            }
        }
    }

    fn literal(&mut self, v: &ast::ValueWithSpan) -> Option<(Expr, Ty)> {
        match &v.value {
            ast::Value::SingleQuotedString(raw) | ast::Value::DoubleQuotedString(raw) => {
                if let Some(c) = literal::dropped_escape(raw) {
                    self.warnings.push(SqlError {
                        line: v.span.start.line.max(1),
                        column: v.span.start.column.max(1),
                        message: format!("'\\{c}' in a string literal is read as '{c}', as Hive does; write '\\\\{c}' to keep the backslash (e.g. for a regex)"),
                    });
                }
                Some((Expr::Literal(Value::Str(literal::unescape(raw).into())), Ty::Str))
            }
            ast::Value::Number(n, _) => match n.parse::<i64>() {
                Ok(i) => Some((Expr::Literal(Value::Int(i)), Ty::Int)),
                Err(_) => self.unsupported(v.span, &format!("the number {n} (only integers)")),
            },
            ast::Value::Boolean(b) => Some((Expr::Literal(Value::Bool(*b)), Ty::Bool)),
            ast::Value::Null => Some((Expr::Literal(Value::Null), Ty::Null)),
            other => self.unsupported(v.span, &format!("the literal {other}")),
        }
    }

    /// A pattern argument must be a string literal, so that it compiles once.
    fn string_literal(&mut self, e: &ast::Expr, what: &str) -> Option<String> {
        match self.expr(e)? {
            (Expr::Literal(Value::Str(s)), _) => Some(s.into_owned()),
            _ => {
                self.error(e.span(), format!("{what} must be a string literal, not `{e}`"));
                None
            }
        }
    }

    fn regex_literal(&mut self, e: &ast::Expr, what: &str) -> Option<regex::Regex> {
        let pat = self.string_literal(e, what)?;
        match pattern::java_regex(&pat) {
            Ok(re) => Some(re),
            Err(m) => {
                self.error(e.span(), m);
                None
            }
        }
    }

    fn binary(
        &mut self,
        e: &ast::Expr,
        left: &ast::Expr,
        op: &ast::BinaryOperator,
        right: &ast::Expr,
    ) -> Option<(Expr, Ty)> {
        use ast::BinaryOperator as B;
        let cmp = match op {
            B::And | B::Or => {
                let role = if matches!(op, B::And) { "AND" } else { "OR" };
                let (l, r) = (self.condition(left, role), self.condition(right, role));
                let (l, r) = (Box::new(l?), Box::new(r?));
                let x = if matches!(op, B::And) {
                    Expr::And(l, r)
                } else {
                    Expr::Or(l, r)
                };
                return Some((x, Ty::Bool));
            }
            B::Eq => CmpOp::Eq,
            B::NotEq => CmpOp::NotEq,
            B::Lt => CmpOp::Lt,
            B::LtEq => CmpOp::LtEq,
            B::Gt => CmpOp::Gt,
            B::GtEq => CmpOp::GtEq,
            other => return self.unsupported(e.span(), &format!("the operator {other}")),
        };
        let (l, r) = (self.boxed(left), self.boxed(right));
        Some((Expr::Compare(cmp, l?, r?), Ty::Bool))
    }

    fn case(
        &mut self,
        operand: Option<&ast::Expr>,
        conditions: &[ast::CaseWhen],
        else_result: Option<&ast::Expr>,
    ) -> Option<(Expr, Ty)> {
        let operand = operand.map(|o| self.boxed(o));
        let mut whens = Vec::new();
        let mut ty = Ty::Null;
        let mut ok = true;
        for w in conditions {
            let cond = if operand.is_some() {
                self.expr(&w.condition).map(|x| x.0)
            } else {
                self.condition(&w.condition, "WHEN")
            };
            let then = self.expr(&w.result);
            match (cond, then) {
                (Some(c), Some((t, tt))) => {
                    ty = unify(ty, tt);
                    whens.push((c, t));
                }
                _ => ok = false,
            }
        }
        let otherwise = match else_result {
            Some(x) => match self.expr(x) {
                Some((x, tt)) => {
                    ty = unify(ty, tt);
                    Some(Box::new(x))
                }
                None => {
                    ok = false;
                    None
                }
            },
            None => None,
        };
        let operand = match operand {
            Some(o) => Some(o?),
            None => None,
        };
        ok.then_some((
            Expr::Case {
                operand,
                whens,
                otherwise,
            },
            ty,
        ))
    }
}

/// LIKE and RLIKE alike: a boolean match of `expr` against `re`.
fn matches(expr: Box<Expr>, re: regex::Regex, negated: bool) -> Option<(Expr, Ty)> {
    Some((Expr::Matches { expr, re, negated }, Ty::Bool))
}

fn unify(a: Ty, b: Ty) -> Ty {
    match (a, b) {
        (Ty::Null, t) | (t, Ty::Null) => t,
        (x, y) if x == y => x,
        _ => Ty::Str,
    }
}
