//! The compiled expression tree and its row-by-row evaluation.
//!
//! Evaluation borrows column values from the row; a column reference costs no
//! allocation. NULL follows Hive: three-valued AND/OR/NOT, NULL in gives NULL
//! out for comparisons and functions, except where `func.rs` says otherwise.

use std::cmp::Ordering;

use regex::Regex;

use super::func::Func;
use super::value::{compare, Value};

/// Where an expression reads its columns from: one input row.
pub trait Row<'a> {
    /// The value of input column `i`, `None` when it is NULL.
    fn get(&self, i: usize) -> Option<&'a str>;
}

impl<'a> Row<'a> for [Option<&'a str>] {
    fn get(&self, i: usize) -> Option<&'a str> {
        self[i]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
}

impl CmpOp {
    fn holds(self, ord: Ordering) -> bool {
        match self {
            CmpOp::Eq => ord == Ordering::Equal,
            CmpOp::NotEq => ord != Ordering::Equal,
            CmpOp::Lt => ord == Ordering::Less,
            CmpOp::LtEq => ord != Ordering::Greater,
            CmpOp::Gt => ord == Ordering::Greater,
            CmpOp::GtEq => ord != Ordering::Less,
        }
    }
}

#[derive(Debug)]
pub enum Expr {
    Column(usize),
    Literal(Value<'static>),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Compare(CmpOp, Box<Expr>, Box<Expr>),
    /// `x [NOT] IN (...)`.
    In {
        expr: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
    },
    IsNull {
        expr: Box<Expr>,
        negated: bool,
    },
    Between {
        expr: Box<Expr>,
        low: Box<Expr>,
        high: Box<Expr>,
        negated: bool,
    },
    /// LIKE and RLIKE both end up as a regex; LIKE's is anchored at both ends.
    Matches {
        expr: Box<Expr>,
        re: Regex,
        negated: bool,
    },
    Case {
        operand: Option<Box<Expr>>,
        whens: Vec<(Expr, Expr)>,
        otherwise: Option<Box<Expr>>,
    },
    Call(Func, Vec<Expr>),
}

/// Three-valued truth: `None` is unknown (NULL).
fn truth(v: Option<bool>) -> Value<'static> {
    v.map_or(Value::Null, Value::Bool)
}

impl Expr {
    pub fn eval<'a, R: Row<'a> + ?Sized>(&'a self, row: &R) -> Value<'a> {
        match self {
            Expr::Column(i) => match row.get(*i) {
                Some(s) => Value::Str(s.into()),
                None => Value::Null,
            },
            Expr::Literal(v) => match v {
                Value::Str(s) => Value::Str(s.as_ref().into()),
                other => other.clone(),
            },
            Expr::Not(e) => truth(e.eval(row).as_bool().map(|b| !b)),
            // Three-valued logic: AND is decided by a FALSE, OR by a TRUE, either side.
            Expr::And(a, b) => connective(a, b, row, false),
            Expr::Or(a, b) => connective(a, b, row, true),
            Expr::Compare(op, a, b) => {
                let (x, y) = (a.eval(row), b.eval(row));
                truth(compare(&x, &y).map(|o| op.holds(o)))
            }
            Expr::In { expr, list, negated } => {
                let x = expr.eval(row);
                if x.is_null() {
                    return Value::Null;
                }
                let mut saw_null = false;
                for item in list {
                    match compare(&x, &item.eval(row)) {
                        Some(Ordering::Equal) => return Value::Bool(!negated),
                        Some(_) => {}
                        None => saw_null = true,
                    }
                }
                if saw_null {
                    Value::Null
                } else {
                    Value::Bool(*negated)
                }
            }
            Expr::IsNull { expr, negated } => Value::Bool(expr.eval(row).is_null() != *negated),
            Expr::Between {
                expr,
                low,
                high,
                negated,
            } => {
                let x = expr.eval(row);
                let ge = compare(&x, &low.eval(row)).map(|o| o != Ordering::Less);
                let le = compare(&x, &high.eval(row)).map(|o| o != Ordering::Greater);
                let within = match (ge, le) {
                    (Some(false), _) | (_, Some(false)) => Some(false),
                    (Some(true), Some(true)) => Some(true),
                    _ => None,
                };
                truth(within.map(|w| w != *negated))
            }
            Expr::Matches { expr, re, negated } => {
                let x = expr.eval(row);
                truth(x.as_str().map(|s| re.is_match(&s) != *negated))
            }
            Expr::Case {
                operand,
                whens,
                otherwise,
            } => {
                let subject = operand.as_ref().map(|o| o.eval(row));
                for (when, then) in whens {
                    let hit = match &subject {
                        Some(s) => compare(s, &when.eval(row)) == Some(Ordering::Equal),
                        None => when.eval(row).as_bool() == Some(true),
                    };
                    if hit {
                        return then.eval(row);
                    }
                }
                otherwise.as_ref().map_or(Value::Null, |e| e.eval(row))
            }
            Expr::Call(f, args) => f.call(args, row),
        }
    }
}

/// AND (`decisive` false) or OR (`decisive` true) in SQL's three-valued logic:
/// either side equal to `decisive` decides (the right one is not evaluated
/// when the left one does); both the other way give the other; else NULL.
#[inline]
fn connective<'a, R: Row<'a> + ?Sized>(a: &'a Expr, b: &'a Expr, row: &R, decisive: bool) -> Value<'a> {
    let x = a.eval(row).as_bool();
    if x == Some(decisive) {
        return Value::Bool(decisive);
    }
    match (x, b.eval(row).as_bool()) {
        (_, Some(y)) if y == decisive => Value::Bool(decisive),
        (Some(_), Some(_)) => Value::Bool(!decisive),
        _ => Value::Null,
    }
}
