//! Columnar values (Arrow arrays, from Parquet or ORC) as Hive's text format
//! writes them, so that a Parquet or ORC hour gives the same bytes as the
//! same rows in a Hive text table:
//!
//! - strings as they are; BYTE_ARRAY without a string annotation (how Impala
//!   writes strings) read as UTF-8, a value that is not UTF-8 rejecting its row;
//! - integers in decimal; booleans `true` / `false`;
//! - floats and doubles as Java's `Float.toString` / `Double.toString`
//!   (`1.0E-5`, `100.0`, `1.0E10`, `NaN`, `Infinity`);
//! - decimals with their scale's digits (`1.50` for `DECIMAL(9,2)`);
//! - dates `YYYY-MM-DD`; timestamps `YYYY-MM-DD HH:MM:SS` with the fraction
//!   of a second, when there is one, to the last digit that is not zero
//!   (`.123456`, `.1`), as Hive's `Timestamp.toString` does; every instant
//!   from 0001-01-01 to 9999-12-31 exactly, whatever the unit it is stored in;
//! - arrays, maps and structs with Hive's separators by depth (`\002` between
//!   the items of a top-level array or struct or the entries of a map, `\003`
//!   between a map's key and value, deeper levels `\004`, `\005`, ...), NULL
//!   inside them as `\N`;
//! - dictionary-encoded columns as their values; all-NULL columns as NULL.
//!
//! A value that cannot be written exactly rejects its row with the reason.

use std::fmt::Write as _;

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef};
use arrow_schema::{DataType, TimeUnit};

use super::zone::{Rules, Zone};

/// Whether chama can write values of this type; the reason when not.
pub fn check_type(dt: &DataType) -> Result<(), String> {
    use DataType::*;
    match dt {
        Null
        | Boolean
        | Int8
        | Int16
        | Int32
        | Int64
        | UInt8
        | UInt16
        | UInt32
        | UInt64
        | Float16
        | Float32
        | Float64
        | Utf8
        | LargeUtf8
        | Utf8View
        | Binary
        | LargeBinary
        | BinaryView
        | Date32
        | Date64
        | Timestamp(_, _)
        | Decimal32(_, _)
        | Decimal64(_, _)
        | Decimal128(_, _)
        | Decimal256(_, _) => Ok(()),
        Dictionary(_, v) => check_type(v),
        List(f) | LargeList(f) | FixedSizeList(f, _) | ListView(f) | LargeListView(f) => check_type(f.data_type()),
        Map(f, _) => check_type(f.data_type()),
        Struct(fields) => fields.iter().try_for_each(|f| check_type(f.data_type())),
        other => Err(format!("{other} has no Hive text form chama can write")),
    }
}

/// How a column's values are to be read, beyond their Arrow type.
#[derive(Clone, Copy)]
pub enum Hint<'b> {
    None,
    /// A Parquet INT96 timestamp, read twice: as wrapped nanoseconds (this
    /// array) and as whole seconds (`seconds`), which together are exact;
    /// `instant` unless its writer stored a wall clock (Impala, and Arrow
    /// without a zone).
    Int96 {
        seconds: &'b ArrayRef,
        instant: bool,
    },
    /// An ORC timestamp read as nanoseconds in a `Decimal128(38, 9)`:
    /// `instant` for ORC's TIMESTAMP_INSTANT (with local time zone), shown
    /// in the clock's zone; a TIMESTAMP is a wall clock in the zone its
    /// stripe was `written` in (`None`: UTC), which ORC's Java reader shows
    /// by `java.util`'s rules.
    NanosDecimal {
        instant: bool,
        written: Option<&'b Zone>,
    },
    /// Microseconds since the epoch in an Int64, a wall clock (Spark's
    /// `TIMESTAMP_NTZ` in ORC).
    NtzMicros,
}

/// The calendar a file's dates and timestamps were written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Calendar {
    /// The Gregorian calendar extended backwards (Spark 3+, Hive 3.1+, Impala, Arrow).
    Proleptic,
    /// Julian before 1582-10-15, Gregorian after (`java.sql` dates: Hive 2,
    /// ORC files marked JULIAN_GREGORIAN, Spark's LEGACY rebase mode). A value
    /// before the switch is written with the year, month and day it has in
    /// that calendar, as Hive and Spark show it.
    Hybrid,
}

/// How a file's dates and timestamps become the wall clock chama writes.
#[derive(Clone, Copy, Debug)]
pub struct Clock<'z> {
    pub calendar: Calendar,
    /// Where instants (INT96, timestamps adjusted to UTC, ORC's
    /// TIMESTAMP_INSTANT) are shown: `[input] time_zone`, or the zone the
    /// writer recorded; `None` is UTC.
    pub zone: Option<&'z Zone>,
    /// Whose rules show them there: `java.util`'s for the hybrid calendar's
    /// writers (Hive 2, Spark's LEGACY mode), `java.time`'s for the others.
    pub rules: Rules,
}

impl Clock<'_> {
    /// The wall clock (seconds, as if UTC) of a stored timestamp: an instant
    /// moved into the zone, then rebased to the proleptic calendar.
    pub fn wall(self, secs: i64, instant: bool) -> i64 {
        let local = match (instant, self.zone) {
            (true, Some(z)) => z.wall(secs, self.rules),
            _ => secs,
        };
        self.calendar.rebase(local)
    }
}

/// 1582-10-15 00:00:00 UTC, the first day of the Gregorian calendar, in seconds.
const GREGORIAN_START: i64 = -12_219_292_800;

impl Calendar {
    /// Seconds since the epoch as stored, to the proleptic Gregorian seconds
    /// of the same wall clock.
    pub fn rebase(self, secs: i64) -> i64 {
        if self == Calendar::Proleptic || secs >= GREGORIAN_START {
            return secs;
        }
        let (days, in_day) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        // The Julian calendar's date of this day number (Richards' algorithm).
        let c = days + 2_440_588 + 32_082;
        let d = (4 * c + 3).div_euclid(1461);
        let e = c - (1461 * d).div_euclid(4);
        let m = (5 * e + 2).div_euclid(153);
        let day = e - (153 * m + 2).div_euclid(5) + 1;
        let month = m + 3 - 12 * m.div_euclid(10);
        let year = d - 4800 + m.div_euclid(10);
        // Julian leap days that the Gregorian calendar lacks (e.g. 0100-02-29) move to the next day, as in Spark.
        let (y, mo, dd) = (year as i32, month as u32, day as u32);
        let date = chrono::NaiveDate::from_ymd_opt(y, mo, dd)
            .or_else(|| chrono::NaiveDate::from_ymd_opt(y, 3, 1))
            .expect("a valid date");
        let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
        (date - epoch).num_days() * 86_400 + in_day
    }
}

/// One column of a batch, ready to give each row's value as text.
pub enum Column<'b> {
    Utf8(&'b arrow_array::StringArray),
    LargeUtf8(&'b arrow_array::LargeStringArray),
    View(&'b arrow_array::StringViewArray),
    Null,
    /// Formatted once: row `i` is `buf[offsets[i]..offsets[i + 1]]`, NULL
    /// where `nulls` says so; `errors` (sorted by row) reject their rows.
    Text {
        array: &'b ArrayRef,
        buf: String,
        offsets: Vec<usize>,
        errors: Vec<(usize, String)>,
    },
}

impl<'b> Column<'b> {
    pub fn new(a: &'b ArrayRef, hint: Hint<'b>, cal: Clock<'_>) -> Column<'b> {
        match (a.data_type(), hint) {
            (DataType::Utf8, _) => Column::Utf8(a.as_string::<i32>()),
            (DataType::LargeUtf8, _) => Column::LargeUtf8(a.as_string::<i64>()),
            (DataType::Utf8View, _) => Column::View(a.as_string_view()),
            (DataType::Null, _) => Column::Null,
            _ => {
                let mut buf = String::with_capacity(a.len() * 12);
                let mut offsets = Vec::with_capacity(a.len() + 1);
                let mut errors = Vec::new();
                offsets.push(0);
                for i in 0..a.len() {
                    if !a.is_null(i) {
                        let start = buf.len();
                        let r = match hint {
                            Hint::Int96 { seconds, instant } => int96(a, seconds, i, instant, cal, &mut buf),
                            Hint::NanosDecimal { instant, written } => {
                                nanos_decimal(a, i, instant, written, cal, &mut buf)
                            }
                            Hint::NtzMicros => {
                                // Spark counts them proleptically, whatever the file's calendar.
                                let (secs, nanos) = split(a.as_primitive::<Int64Type>().value(i), 1_000_000);
                                timestamp(secs, nanos, &mut buf)
                            }
                            Hint::None => value(a, i, 1, cal, &mut buf),
                        };
                        if let Err(why) = r {
                            buf.truncate(start);
                            errors.push((i, why));
                        }
                    }
                    offsets.push(buf.len());
                }
                Column::Text {
                    array: a,
                    buf,
                    offsets,
                    errors,
                }
            }
        }
    }

    /// Row `i`'s value; `Err` when the row must be rejected.
    pub fn get(&self, i: usize) -> Result<Option<&str>, &str> {
        Ok(match self {
            Column::Utf8(a) => (!a.is_null(i)).then(|| a.value(i)),
            Column::LargeUtf8(a) => (!a.is_null(i)).then(|| a.value(i)),
            Column::View(a) => (!a.is_null(i)).then(|| a.value(i)),
            Column::Null => None,
            Column::Text {
                array,
                buf,
                offsets,
                errors,
            } => {
                if !errors.is_empty() {
                    if let Ok(k) = errors.binary_search_by_key(&i, |(r, _)| *r) {
                        return Err(&errors[k].1);
                    }
                }
                (!array.is_null(i)).then(|| &buf[offsets[i]..offsets[i + 1]])
            }
        })
    }
}

/// Hive's separator for nesting `level` (1: the items of a top-level
/// collection).
fn separator(level: usize) -> Result<char, String> {
    // Hive's LazySerDeParameters: \002, \003, \004 .. \010, then (with extended nesting) \013, \016 .. \032.
    const SEPS: &[u8] = &[
        2, 3, 4, 5, 6, 7, 8, 11, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26,
    ];
    SEPS.get(level - 1)
        .map(|b| *b as char)
        .ok_or_else(|| format!("nested {level} levels deep, deeper than Hive's text format can write"))
}

fn value(a: &ArrayRef, i: usize, level: usize, cal: Clock<'_>, out: &mut String) -> Result<(), String> {
    macro_rules! num {
        ($t:ty) => {{
            let _ = write!(out, "{}", a.as_primitive::<$t>().value(i));
        }};
    }
    match a.data_type() {
        DataType::Null => {}
        DataType::Int8 => num!(Int8Type),
        DataType::Int16 => num!(Int16Type),
        DataType::Int32 => num!(Int32Type),
        DataType::Int64 => num!(Int64Type),
        DataType::UInt8 => num!(UInt8Type),
        DataType::UInt16 => num!(UInt16Type),
        DataType::UInt32 => num!(UInt32Type),
        DataType::UInt64 => num!(UInt64Type),
        DataType::Float16 => super::java_number::java_float(a.as_primitive::<Float16Type>().value(i).to_f32(), out),
        DataType::Float32 => super::java_number::java_float(a.as_primitive::<Float32Type>().value(i), out),
        DataType::Float64 => super::java_number::java_double(a.as_primitive::<Float64Type>().value(i), out),
        DataType::Boolean => out.push_str(if a.as_boolean().value(i) { "true" } else { "false" }),
        DataType::Utf8 => out.push_str(a.as_string::<i32>().value(i)),
        DataType::LargeUtf8 => out.push_str(a.as_string::<i64>().value(i)),
        DataType::Utf8View => out.push_str(a.as_string_view().value(i)),
        DataType::Binary => utf8(a.as_binary::<i32>().value(i), out)?,
        DataType::LargeBinary => utf8(a.as_binary::<i64>().value(i), out)?,
        DataType::BinaryView => utf8(a.as_binary_view().value(i), out)?,
        DataType::Date32 => date(i64::from(a.as_primitive::<Date32Type>().value(i)) * 86_400, cal, out)?,
        DataType::Date64 => date(a.as_primitive::<Date64Type>().value(i).div_euclid(1000), cal, out)?,
        DataType::Timestamp(unit, tz) => {
            let (secs, nanos) = match unit {
                TimeUnit::Second => (a.as_primitive::<TimestampSecondType>().value(i), 0),
                TimeUnit::Millisecond => split(a.as_primitive::<TimestampMillisecondType>().value(i), 1_000),
                TimeUnit::Microsecond => split(a.as_primitive::<TimestampMicrosecondType>().value(i), 1_000_000),
                TimeUnit::Nanosecond => split(a.as_primitive::<TimestampNanosecondType>().value(i), 1_000_000_000),
            };
            timestamp(cal.wall(secs, tz.is_some()), nanos, out)?
        }
        DataType::Decimal32(_, _) => out.push_str(&a.as_primitive::<Decimal32Type>().value_as_string(i)),
        DataType::Decimal64(_, _) => out.push_str(&a.as_primitive::<Decimal64Type>().value_as_string(i)),
        DataType::Decimal128(_, _) => out.push_str(&a.as_primitive::<Decimal128Type>().value_as_string(i)),
        DataType::Decimal256(_, _) => out.push_str(&a.as_primitive::<Decimal256Type>().value_as_string(i)),
        DataType::Dictionary(_, _) => {
            let d = a.as_any_dictionary();
            let k = d.normalized_keys()[i];
            value(d.values(), k, level, cal, out)?
        }
        DataType::List(_) => {
            let l = a.as_list::<i32>();
            items(&l.value(i), level, cal, out)?
        }
        DataType::LargeList(_) => {
            let l = a.as_list::<i64>();
            items(&l.value(i), level, cal, out)?
        }
        DataType::FixedSizeList(_, _) => items(&a.as_fixed_size_list().value(i), level, cal, out)?,
        DataType::Map(_, _) => {
            let m = a.as_map();
            let entries = m.value(i);
            let (sep, kv) = (separator(level)?, separator(level + 1)?);
            for e in 0..entries.len() {
                if e > 0 {
                    out.push(sep);
                }
                nested(entries.column(0), e, level + 2, cal, out)?;
                out.push(kv);
                nested(entries.column(1), e, level + 2, cal, out)?;
            }
        }
        DataType::Struct(_) => {
            let s = a.as_struct();
            let sep = separator(level)?;
            for (f, col) in s.columns().iter().enumerate() {
                if f > 0 {
                    out.push(sep);
                }
                nested(col, i, level + 1, cal, out)?;
            }
        }
        other => {
            return Err(format!(
                "a value of type {other}, which has no Hive text form chama can write"
            ))
        }
    }
    Ok(())
}

/// The items of one array value, separated for `level`.
fn items(a: &ArrayRef, level: usize, cal: Clock<'_>, out: &mut String) -> Result<(), String> {
    let sep = separator(level)?;
    for k in 0..a.len() {
        if k > 0 {
            out.push(sep);
        }
        nested(a, k, level + 1, cal, out)?;
    }
    Ok(())
}

/// A value inside a collection: NULL is written `\N`, as Hive does.
fn nested(a: &ArrayRef, i: usize, level: usize, cal: Clock<'_>, out: &mut String) -> Result<(), String> {
    if a.is_null(i) {
        out.push_str("\\N");
        Ok(())
    } else {
        value(a, i, level, cal, out)
    }
}

fn utf8(b: &[u8], out: &mut String) -> Result<(), String> {
    match std::str::from_utf8(b) {
        Ok(s) => {
            out.push_str(s);
            Ok(())
        }
        Err(e) => Err(format!(
            "a binary value that is not UTF-8 (invalid byte at {})",
            e.valid_up_to()
        )),
    }
}

/// `v` in units of `1/per` second, as whole seconds and nanoseconds.
fn split(v: i64, per: i64) -> (i64, u32) {
    (v.div_euclid(per), (v.rem_euclid(per) * (1_000_000_000 / per)) as u32)
}

fn date(secs: i64, cal: Clock<'_>, out: &mut String) -> Result<(), String> {
    let d = chrono::DateTime::from_timestamp(cal.calendar.rebase(secs), 0)
        .ok_or_else(|| format!("date {secs} s is out of range"))?;
    let _ = write!(out, "{}", d.format("%Y-%m-%d"));
    Ok(())
}

/// Hive's text form of a timestamp: the UTC wall clock, the fraction only
/// when there is one, without trailing zeros.
pub fn timestamp(secs: i64, nanos: u32, out: &mut String) -> Result<(), String> {
    use chrono::Datelike;
    let t = chrono::DateTime::from_timestamp(secs, nanos)
        .filter(|t| (1..=9999).contains(&t.year()))
        .ok_or_else(|| format!("timestamp {secs} s is outside Hive's years 0001 to 9999"))?;
    let _ = write!(out, "{}", t.format("%Y-%m-%d %H:%M:%S"));
    if nanos > 0 {
        let mut frac = format!("{nanos:09}");
        while frac.ends_with('0') {
            frac.pop();
        }
        out.push('.');
        out.push_str(&frac);
    }
    Ok(())
}

fn int96(
    a: &ArrayRef,
    seconds: &ArrayRef,
    i: usize,
    instant: bool,
    cal: Clock<'_>,
    out: &mut String,
) -> Result<(), String> {
    let wrapped = a.as_primitive::<TimestampNanosecondType>().value(i);
    let secs = seconds.as_primitive::<TimestampSecondType>().value(i);
    // Both wrap the same way: their difference is the nanoseconds of the second.
    let nanos = wrapped.wrapping_sub(secs.wrapping_mul(1_000_000_000));
    if !(0..1_000_000_000).contains(&nanos) {
        return Err(format!("an INT96 timestamp with {nanos} ns past its second"));
    }
    timestamp(cal.wall(secs, instant), nanos as u32, out)
}

fn nanos_decimal(
    a: &ArrayRef,
    i: usize,
    instant: bool,
    written: Option<&Zone>,
    cal: Clock<'_>,
    out: &mut String,
) -> Result<(), String> {
    let v = a.as_primitive::<Decimal128Type>().value(i);
    let secs = i64::try_from(v.div_euclid(1_000_000_000)).map_err(|_| format!("timestamp {v} ns is out of range"))?;
    let secs = match written {
        Some(z) if !instant => z.wall(secs, Rules::JavaUtil),
        _ => secs,
    };
    timestamp(cal.wall(secs, instant), v.rem_euclid(1_000_000_000) as u32, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_keep_their_fraction_and_range() {
        let t = |secs, nanos| {
            let mut s = String::new();
            timestamp(secs, nanos, &mut s).unwrap();
            s
        };
        assert_eq!(t(253402300799, 0), "9999-12-31 23:59:59");
        assert_eq!(t(-62135596800, 0), "0001-01-01 00:00:00");
        assert_eq!(t(1734036940, 123456000), "2024-12-12 20:55:40.123456");
        assert_eq!(t(1734033600, 100_000_000), "2024-12-12 20:00:00.1");
        assert_eq!(t(-1, 999_999_000), "1969-12-31 23:59:59.999999");
        assert_eq!(t(0, 1), "1970-01-01 00:00:00.000000001");
        assert_eq!(split(-1, 1000), (-1, 999_000_000));
        let hybrid = |y, m, d| {
            // The day number Java's hybrid calendar gives y-m-d (Julian before 1582-10-15).
            let jdn = |y: i64, m: i64, d: i64| {
                let a = (14 - m) / 12;
                let (y, m) = (y + 4800 - a, m + 12 * a - 3);
                d + (153 * m + 2) / 5 + 365 * y + y / 4 - 32083
            };
            (jdn(y, m, d) - 2_440_588) * 86_400
        };
        let mut s = String::new();
        let hybrid_utc = Clock {
            calendar: Calendar::Hybrid,
            zone: None,
            rules: Rules::JavaUtil,
        };
        date(hybrid(1, 1, 1), hybrid_utc, &mut s).unwrap();
        assert_eq!(s, "0001-01-01");
        s.clear();
        date(hybrid(1582, 10, 4), hybrid_utc, &mut s).unwrap();
        assert_eq!(s, "1582-10-04");
        s.clear();
        date(GREGORIAN_START, hybrid_utc, &mut s).unwrap();
        assert_eq!(s, "1582-10-15");
        assert_eq!(Calendar::Hybrid.rebase(hybrid(1, 1, 1) + 3661), t_secs(1, 1, 1) + 3661);
        // An instant shown in Shanghai is 8 hours later; a wall clock is not moved.
        let zone = Zone::get("Asia/Shanghai").unwrap();
        let shanghai = Clock {
            calendar: Calendar::Proleptic,
            zone: Some(&zone),
            rules: Rules::JavaTime,
        };
        assert_eq!(
            shanghai.wall(t_secs(2024, 12, 12), true),
            t_secs(2024, 12, 12) + 8 * 3600
        );
        assert_eq!(shanghai.wall(t_secs(2024, 12, 12), false), t_secs(2024, 12, 12));
    }

    fn t_secs(y: i32, m: u32, d: u32) -> i64 {
        chrono::NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp()
    }
}
