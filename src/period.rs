//! Account periods: `YYYYMMDD` (a day) or `YYYYMMDDHH` (one hour of it).

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Period {
    pub date: NaiveDate,
    pub hour: Option<u8>,
}

impl Period {
    /// `YYYYMMDD`.
    pub fn date_str(&self) -> String {
        self.date.format("%Y%m%d").to_string()
    }

    /// The hours this period covers, in order.
    pub fn hours(&self) -> Vec<u8> {
        match self.hour {
            Some(h) => vec![h],
            None => (0..24).collect(),
        }
    }

    pub fn with_hour(&self, hour: u8) -> Period {
        Period {
            date: self.date,
            hour: Some(hour),
        }
    }
}

impl FromStr for Period {
    type Err = String;

    fn from_str(s: &str) -> Result<Period, String> {
        let bad = || format!("period `{s}` must be YYYYMMDD or YYYYMMDDHH");
        if !s.bytes().all(|b| b.is_ascii_digit()) || !(s.len() == 8 || s.len() == 10) {
            return Err(bad());
        }
        let date = NaiveDate::parse_from_str(&s[..8], "%Y%m%d").map_err(|_| format!("period `{s}`: no such date"))?;
        let hour = if s.len() == 10 {
            let h: u8 = s[8..].parse().map_err(|_| bad())?;
            if h > 23 {
                return Err(format!("period `{s}`: hour {h} is past 23"));
            }
            Some(h)
        } else {
            None
        };
        Ok(Period { date, hour })
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.date.format("%Y%m%d"))?;
        if let Some(h) = self.hour {
            write!(f, "{h:02}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_hours() {
        let d: Period = "20241212".parse().unwrap();
        assert_eq!(d.hours().len(), 24);
        let h: Period = "2024121203".parse().unwrap();
        assert_eq!(h.hours(), [3]);
        assert_eq!(h.to_string(), "2024121203");
        assert!("20241312".parse::<Period>().unwrap_err().contains("no such date"));
        assert!("2024121224".parse::<Period>().unwrap_err().contains("past 23"));
        assert!("2024-12-12".parse::<Period>().is_err());
    }
}
