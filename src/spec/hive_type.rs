//! Hive column types as a spec's `[input] types` names them (`timestamp`,
//! `decimal(38,10)`, `array<string>`, `map<string,int>`,
//! `struct<x:int,y:string>`): parsed once, refused when chama cannot write
//! their values as Hive's text format does, and matched against the Arrow
//! type a Parquet or ORC file holds.

use std::fmt;

use arrow_schema::DataType;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HiveType {
    TinyInt,
    SmallInt,
    Int,
    BigInt,
    Float,
    Double,
    Decimal(u8, i8),
    /// `string`, `varchar(n)`, `char(n)`.
    String,
    Boolean,
    Date,
    Timestamp,
    Array(Box<HiveType>),
    Map(Box<HiveType>, Box<HiveType>),
    Struct(Vec<(String, HiveType)>),
}

impl fmt::Display for HiveType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HiveType::TinyInt => write!(f, "tinyint"),
            HiveType::SmallInt => write!(f, "smallint"),
            HiveType::Int => write!(f, "int"),
            HiveType::BigInt => write!(f, "bigint"),
            HiveType::Float => write!(f, "float"),
            HiveType::Double => write!(f, "double"),
            HiveType::Decimal(p, s) => write!(f, "decimal({p},{s})"),
            HiveType::String => write!(f, "string"),
            HiveType::Boolean => write!(f, "boolean"),
            HiveType::Date => write!(f, "date"),
            HiveType::Timestamp => write!(f, "timestamp"),
            HiveType::Array(t) => write!(f, "array<{t}>"),
            HiveType::Map(k, v) => write!(f, "map<{k},{v}>"),
            HiveType::Struct(fields) => {
                write!(f, "struct<")?;
                for (i, (n, t)) in fields.iter().enumerate() {
                    if i > 0 {
                        write!(f, ",")?;
                    }
                    write!(f, "{n}:{t}")?;
                }
                write!(f, ">")
            }
        }
    }
}

impl HiveType {
    /// Parses a Hive type name; the error says what is wrong, or why chama
    /// cannot write values of that type.
    pub fn parse(text: &str) -> Result<HiveType, String> {
        let lower = text.to_ascii_lowercase();
        let mut p = Parser {
            s: lower.as_bytes(),
            at: 0,
        };
        let t = p.ty()?;
        p.space();
        if p.at != p.s.len() {
            return Err(format!("unexpected `{}` after the type", &lower[p.at..]));
        }
        Ok(t)
    }

    /// Whether a file's Arrow type holds values of this type.
    pub fn matches(&self, dt: &DataType) -> bool {
        use DataType as D;
        match (self, dt) {
            // An all-NULL column fits any declaration; a dictionary is its values.
            (_, D::Null) => true,
            (t, D::Dictionary(_, v)) => t.matches(v),
            (HiveType::TinyInt, D::Int8) | (HiveType::SmallInt, D::Int16 | D::UInt8) => true,
            (HiveType::Int, D::Int32 | D::UInt16) | (HiveType::BigInt, D::Int64 | D::UInt32) => true,
            (HiveType::Float, D::Float32 | D::Float16) | (HiveType::Double, D::Float64) => true,
            (
                HiveType::Decimal(p, s),
                D::Decimal32(dp, ds) | D::Decimal64(dp, ds) | D::Decimal128(dp, ds) | D::Decimal256(dp, ds),
            ) => p == dp && s == ds,
            (HiveType::String, D::Utf8 | D::LargeUtf8 | D::Utf8View | D::Binary | D::LargeBinary | D::BinaryView) => {
                true
            }
            (HiveType::Boolean, D::Boolean) | (HiveType::Date, D::Date32 | D::Date64) => true,
            (HiveType::Timestamp, D::Timestamp(_, _)) => true,
            (HiveType::Array(t), D::List(f) | D::LargeList(f) | D::FixedSizeList(f, _)) => t.matches(f.data_type()),
            (HiveType::Map(k, v), D::Map(entries, _)) => match entries.data_type() {
                D::Struct(kv) if kv.len() == 2 => k.matches(kv[0].data_type()) && v.matches(kv[1].data_type()),
                _ => false,
            },
            (HiveType::Struct(fields), D::Struct(got)) => {
                fields.len() == got.len()
                    && fields
                        .iter()
                        .zip(got.iter())
                        .all(|((n, t), g)| g.name().eq_ignore_ascii_case(n) && t.matches(g.data_type()))
            }
            _ => false,
        }
    }
}

struct Parser<'s> {
    s: &'s [u8],
    at: usize,
}

impl Parser<'_> {
    fn space(&mut self) {
        while self.at < self.s.len() && self.s[self.at].is_ascii_whitespace() {
            self.at += 1;
        }
    }

    fn word(&mut self) -> String {
        self.space();
        let start = self.at;
        while self.at < self.s.len() && (self.s[self.at].is_ascii_alphanumeric() || self.s[self.at] == b'_') {
            self.at += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.at]).into_owned()
    }

    fn eat(&mut self, c: u8) -> bool {
        self.space();
        if self.s.get(self.at) == Some(&c) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(format!("expected `{}`", c as char))
        }
    }

    fn number(&mut self) -> Result<u32, String> {
        let w = self.word();
        w.parse().map_err(|_| format!("expected a number, found `{w}`"))
    }

    fn ty(&mut self) -> Result<HiveType, String> {
        let name = self.word();
        Ok(match name.as_str() {
            "tinyint" => HiveType::TinyInt,
            "smallint" => HiveType::SmallInt,
            "int" | "integer" => HiveType::Int,
            "bigint" => HiveType::BigInt,
            "float" => HiveType::Float,
            "double" => {
                // `double precision`
                let save = self.at;
                if self.word() != "precision" {
                    self.at = save;
                }
                HiveType::Double
            }
            "decimal" | "numeric" => {
                // Hive's bare DECIMAL is DECIMAL(10,0).
                if self.eat(b'(') {
                    let p = self.number()?;
                    let s = if self.eat(b',') { self.number()? } else { 0 };
                    self.expect(b')')?;
                    if !(1..=38).contains(&p) || s > p {
                        return Err(format!("decimal({p},{s}) is outside Hive's DECIMAL(1..38, 0..p)"));
                    }
                    HiveType::Decimal(p as u8, s as i8)
                } else {
                    HiveType::Decimal(10, 0)
                }
            }
            "string" => HiveType::String,
            "varchar" | "char" => {
                self.expect(b'(')?;
                self.number()?;
                self.expect(b')')?;
                HiveType::String
            }
            "boolean" => HiveType::Boolean,
            "date" => HiveType::Date,
            "timestamp" => HiveType::Timestamp,
            "array" => {
                self.expect(b'<')?;
                let t = self.ty()?;
                self.expect(b'>')?;
                HiveType::Array(Box::new(t))
            }
            "map" => {
                self.expect(b'<')?;
                let k = self.ty()?;
                self.expect(b',')?;
                let v = self.ty()?;
                self.expect(b'>')?;
                HiveType::Map(Box::new(k), Box::new(v))
            }
            "struct" => {
                self.expect(b'<')?;
                let mut fields = Vec::new();
                loop {
                    let n = self.word();
                    if n.is_empty() {
                        return Err("expected a struct field name".into());
                    }
                    self.expect(b':')?;
                    fields.push((n, self.ty()?));
                    if !self.eat(b',') {
                        break;
                    }
                }
                self.expect(b'>')?;
                HiveType::Struct(fields)
            }
            "binary" => {
                return Err(
                    "binary has no text form chama writes (Hive's text format writes it in base64); \
                     declare `string` for a column that holds text"
                        .into(),
                )
            }
            "uniontype" => return Err("uniontype has no text form chama writes".into()),
            "interval" | "interval_year_month" | "interval_day_time" => {
                return Err("intervals are not a column type Hive stores".into())
            }
            "timestamp_ntz" | "timestamp_ltz" | "timestamp_with_local_time_zone" | "timestamplocaltz" => {
                return Err(format!("{name}: declare `timestamp` (see the README's time-zone rule)"))
            }
            "" => return Err("expected a type".into()),
            other => return Err(format!("`{other}` is not a Hive type")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_schema::{Field, Fields, TimeUnit};
    use std::sync::Arc;

    #[test]
    fn types_parse_print_and_match_arrow() {
        for (text, shown) in [
            ("INT", "int"),
            ("decimal(38, 10)", "decimal(38,10)"),
            ("decimal", "decimal(10,0)"),
            ("varchar(20)", "string"),
            ("array<string>", "array<string>"),
            ("map<string,int>", "map<string,int>"),
            ("struct<x:int, y:string>", "struct<x:int,y:string>"),
            ("array<struct<a:array<bigint>>>", "array<struct<a:array<bigint>>>"),
        ] {
            assert_eq!(HiveType::parse(text).unwrap().to_string(), shown, "{text}");
        }
        for (text, why) in [
            ("binary", "base64"),
            ("uniontype<int,string>", "uniontype"),
            ("array<binary>", "base64"),
            ("decimal(39,2)", "outside"),
            ("strng", "`strng` is not a Hive type"),
            ("array<string", "expected `>`"),
            ("int int", "unexpected"),
        ] {
            let e = HiveType::parse(text).unwrap_err();
            assert!(e.contains(why), "{text}: {e}");
        }
        let ts = HiveType::parse("timestamp").unwrap();
        assert!(ts.matches(&DataType::Timestamp(TimeUnit::Nanosecond, None)));
        assert!(ts.matches(&DataType::Null));
        assert!(!ts.matches(&DataType::Utf8));
        let dec = HiveType::parse("decimal(9,2)").unwrap();
        assert!(dec.matches(&DataType::Decimal128(9, 2)));
        assert!(!dec.matches(&DataType::Decimal128(9, 3)));
        let s = HiveType::parse("string").unwrap();
        assert!(s.matches(&DataType::Dictionary(
            Box::new(DataType::Int32),
            Box::new(DataType::Utf8)
        )));
        assert!(s.matches(&DataType::Binary));
        let st = HiveType::parse("struct<x:int,y:string>").unwrap();
        let fields = Fields::from(vec![
            Field::new("x", DataType::Int32, true),
            Field::new("y", DataType::Utf8, true),
        ]);
        assert!(st.matches(&DataType::Struct(fields)));
        let arr = HiveType::parse("array<string>").unwrap();
        assert!(arr.matches(&DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)))));
        assert!(!arr.matches(&DataType::List(Arc::new(Field::new("item", DataType::Int32, true)))));
    }
}
