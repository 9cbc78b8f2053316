//! Numbers as Java writes them: `Double.toString` and `Float.toString`,
//! which is how Hive's text format (and Spark's cast to string) writes
//! DOUBLE and FLOAT values: `1.0E-5`, `100.0`, `1.0E10`, `NaN`, `-Infinity`.

use std::fmt::Write as _;

/// Java's `Double.toString`.
pub fn java_double(v: f64, out: &mut String) {
    java_fp(v, v.is_nan(), v.is_infinite(), v == 0.0, out)
}

/// Java's `Float.toString`.
pub fn java_float(v: f32, out: &mut String) {
    java_fp(v, v.is_nan(), v.is_infinite(), v == 0.0, out)
}

/// Java's layout of the shortest decimal that reads back as `v`, with at
/// least two digits when one would do (Java 19+ picks the closest of those:
/// `1.4E-45`, not `1.0E-45`, for the smallest float).
fn java_fp<F: std::fmt::LowerExp + Copy>(v: F, nan: bool, inf: bool, zero: bool, out: &mut String) {
    let short = format!("{v:e}");
    if nan || inf || zero {
        return java_special(nan, short.starts_with('-'), zero, out);
    }
    let sci = if digits_of(&short) == 1 {
        format!("{v:.1e}")
    } else {
        short
    };
    java_layout(&sci, out)
}

fn java_special(nan: bool, negative: bool, zero: bool, out: &mut String) {
    out.push_str(match (nan, negative, zero) {
        (true, _, _) => "NaN",
        (_, false, true) => "0.0",
        (_, true, true) => "-0.0",
        (_, false, false) => "Infinity",
        (_, true, false) => "-Infinity",
    });
}

fn digits_of(sci: &str) -> usize {
    let mantissa = sci.split('e').next().unwrap_or("");
    mantissa.bytes().filter(u8::is_ascii_digit).count()
}

/// Lays out Rust's `{:e}` form (`-1.2345e-5`) as Java does: plain from
/// 10^-3 up to 10^7, else `d.dddE±n`; always a digit after the point.
fn java_layout(sci: &str, out: &mut String) {
    let (mantissa, exp) = sci.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("{:e} exponent");
    let plain = (-3..7).contains(&exp);
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let mut digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    while digits.len() > 1 && digits.ends_with('0') {
        digits.pop();
    }
    if negative {
        out.push('-');
    }
    if !plain {
        out.push_str(&digits[..1]);
        out.push('.');
        out.push_str(if digits.len() > 1 { &digits[1..] } else { "0" });
        let _ = write!(out, "E{exp}");
    } else if exp >= 0 {
        let point = exp as usize + 1;
        if digits.len() <= point {
            out.push_str(&digits);
            out.extend(std::iter::repeat_n('0', point - digits.len()));
            out.push_str(".0");
        } else {
            out.push_str(&digits[..point]);
            out.push('.');
            out.push_str(&digits[point..]);
        }
    } else {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-exp - 1) as usize));
        out.push_str(&digits);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(v: f64) -> String {
        let mut s = String::new();
        java_double(v, &mut s);
        s
    }

    fn f(v: f32) -> String {
        let mut s = String::new();
        java_float(v, &mut s);
        s
    }

    #[test]
    fn doubles_and_floats_read_as_java_writes_them() {
        for (v, want) in [
            (0.00001, "1.0E-5"),
            (100.0, "100.0"),
            (1e10, "1.0E10"),
            (1e7, "1.0E7"),
            (9999999.0, "9999999.0"),
            (0.001, "0.001"),
            (0.0009, "9.0E-4"),
            (123.456, "123.456"),
            (-0.5, "-0.5"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0e-300, "1.0E-300"),
            (123456.789, "123456.789"),
            (1e23, "1.0E23"),
            (f64::MAX, "1.7976931348623157E308"),
            (f64::MIN_POSITIVE, "2.2250738585072014E-308"),
            (4.9e-324, "4.9E-324"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
            (1.1, "1.1"),
            (12.0, "12.0"),
        ] {
            assert_eq!(d(v), want, "{v:e}");
        }
        for (v, want) in [
            (1.1f32, "1.1"),
            (3.4028235e38, "3.4028235E38"),
            (1.0e-10, "1.0E-10"),
            (1.4e-45, "1.4E-45"),
            (100.0, "100.0"),
            (0.001, "0.001"),
            (9.999999e-4, "9.999999E-4"),
            (1.0e7, "1.0E7"),
            (0.1, "0.1"),
        ] {
            assert_eq!(f(v), want, "{v:e}");
        }
    }
}
