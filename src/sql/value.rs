//! Runtime values of the transform language and Hive's implicit conversions.
//!
//! Column values borrow from the input line (`Cow::Borrowed`); only values a
//! function computes allocate.

use std::borrow::Cow;
use std::cmp::Ordering;

/// One value: what a column, literal or function yields for one row.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Null,
    Str(Cow<'a, str>),
    Int(i64),
    Bool(bool),
}

impl<'a> Value<'a> {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The value as a string, as Hive casts it (`true`/`false`, decimal integers).
    pub fn as_str(&self) -> Option<Cow<'_, str>> {
        match self {
            Value::Null => None,
            Value::Str(s) => Some(Cow::Borrowed(s.as_ref())),
            Value::Int(i) => Some(Cow::Owned(i.to_string())),
            Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        }
    }

    /// Consumes the value into a string, keeping a borrow of the input when it has one.
    pub fn into_str(self) -> Option<Cow<'a, str>> {
        match self {
            Value::Null => None,
            Value::Str(s) => Some(s),
            Value::Int(i) => Some(Cow::Owned(i.to_string())),
            Value::Bool(b) => Some(Cow::Borrowed(if b { "true" } else { "false" })),
        }
    }

    /// The value as an integer: a string that does not parse as one is NULL, as in Hive.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Null => None,
            Value::Int(i) => Some(*i),
            Value::Str(s) => s.parse().ok(),
            Value::Bool(b) => Some(i64::from(*b)),
        }
    }

    /// The truth of a condition: only `true` is true; NULL is unknown.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::Null => None,
            // The compiler only lets boolean expressions stand as conditions.
            Value::Str(_) | Value::Int(_) => None,
        }
    }

    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::Null => Value::Null,
            Value::Str(s) => Value::Str(Cow::Owned(s.into_owned())),
            Value::Int(i) => Value::Int(i),
            Value::Bool(b) => Value::Bool(b),
        }
    }
}

/// Compares two non-NULL values: integers numerically when both are integers,
/// booleans as booleans, everything else as strings in byte order.
pub fn compare(a: &Value<'_>, b: &Value<'_>) -> Option<Ordering> {
    match (a, b) {
        (Value::Null, _) | (_, Value::Null) => None,
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Str(x), Value::Str(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        _ => {
            let (x, y) = (a.as_str()?, b.as_str()?);
            Some(x.as_bytes().cmp(y.as_bytes()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare_is_numeric_only_when_both_are_integers() {
        assert_eq!(compare(&Value::Int(9), &Value::Int(10)), Some(Ordering::Less));
        let nine = Value::Str("9".into());
        assert_eq!(compare(&nine, &Value::Int(10)), Some(Ordering::Greater));
        assert_eq!(compare(&Value::Null, &Value::Int(1)), None);
    }

    #[test]
    fn strings_that_are_not_integers_cast_to_null() {
        assert_eq!(Value::Str(" 5".into()).as_int(), None);
        assert_eq!(Value::Str("-5".into()).as_int(), Some(-5));
    }
}
