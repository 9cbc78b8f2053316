//! Account periods: `YYYYMMDD` (a day) or `YYYYMMDDHH` (one hour of it).

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;

/// A day of account: what every workflow names a day by, written `YYYYMMDD`
/// in periods, paths, file names and the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(pub NaiveDate);

impl Day {
    pub fn date(self) -> NaiveDate {
        self.0
    }

    /// The period of the whole day.
    pub fn period(self) -> Period {
        Period {
            date: self.0,
            hour: None,
        }
    }

    /// `YYYY-MM-DD`.
    pub fn iso(self) -> String {
        self.0.format("%Y-%m-%d").to_string()
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y%m%d"))
    }
}

impl FromStr for Day {
    type Err = String;

    /// Exactly `YYYYMMDD`, a date that exists.
    fn from_str(s: &str) -> Result<Day, String> {
        if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("day `{s}` must be YYYYMMDD"));
        }
        NaiveDate::parse_from_str(s, "%Y%m%d")
            .map(Day)
            .map_err(|_| format!("day `{s}`: no such date"))
    }
}

impl serde::Serialize for Day {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl From<NaiveDate> for Day {
    fn from(d: NaiveDate) -> Day {
        Day(d)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Period {
    pub date: NaiveDate,
    pub hour: Option<u8>,
}

impl Period {
    /// The period's day.
    pub fn day(&self) -> Day {
        Day(self.date)
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
            write!(f, "{}", hh(h))?;
        }
        Ok(())
    }
}

/// An hour as it is named in paths and periods: `00` to `23`.
pub fn hh(hour: u8) -> String {
    format!("{hour:02}")
}

/// A batch: the retransmission number of a day's delivery, named in two
/// digits (`00` for the regular delivery, `01` for the first redelivery).
/// Kept as text in manifests and the ledger.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Batch(u8);

impl Batch {
    /// The regular delivery, `00`.
    pub const FIRST: Batch = Batch(0);

    /// The batch after this one, or an error past `99`.
    pub fn next(self) -> anyhow::Result<Batch> {
        anyhow::ensure!(self.0 < 99, "batch {self} is the last one that fits in two digits");
        Ok(Batch(self.0 + 1))
    }
}

impl fmt::Display for Batch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}", self.0)
    }
}

impl FromStr for Batch {
    type Err = String;

    fn from_str(s: &str) -> Result<Batch, String> {
        match s.parse() {
            Ok(n) if s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit()) => Ok(Batch(n)),
            _ => Err(format!("takes two digits (00, 01, ...), not `{s}`")),
        }
    }
}

impl serde::Serialize for Batch {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Batch {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Batch, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A period range, `P[..P2]`: days to days, or hours to hours, going forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeriodRange {
    pub first: Period,
    pub last: Period,
}

impl FromStr for PeriodRange {
    type Err = String;

    fn from_str(s: &str) -> Result<PeriodRange, String> {
        let (a, b) = s.split_once("..").unwrap_or((s, s));
        let (first, last): (Period, Period) = (a.parse()?, b.parse()?);
        if first.hour.is_some() != last.hour.is_some()
            || last.date < first.date
            || (first.date == last.date && last.hour < first.hour)
        {
            return Err(format!(
                "period range `{s}` must go forward, day to day or hour to hour"
            ));
        }
        Ok(PeriodRange { first, last })
    }
}

impl fmt::Display for PeriodRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}..{}", self.first, self.last)
        }
    }
}

impl PeriodRange {
    /// The days it covers (`YYYYMMDD`), each with its hours, kept to `only` when given.
    pub fn days(&self, only: Option<&[u8]>) -> Vec<(Day, Vec<u8>)> {
        let mut out = Vec::new();
        let mut d = self.first.date;
        while d <= self.last.date {
            let first = if d == self.first.date {
                self.first.hour.unwrap_or(0)
            } else {
                0
            };
            let last = if d == self.last.date {
                self.last.hour.unwrap_or(23)
            } else {
                23
            };
            let hs: Vec<u8> = (first..=last).filter(|h| only.is_none_or(|o| o.contains(h))).collect();
            if !hs.is_empty() {
                out.push((Day(d), hs));
            }
            match d.succ_opt() {
                Some(next) => d = next,
                None => break,
            }
        }
        out
    }
}

/// Some hours of a day, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HourSet(pub Vec<u8>);

/// `HH-HH` (or one `HH`): the hours it covers.
pub fn hour_range(s: &str) -> Result<HourSet, String> {
    let bad = || format!("takes HH-HH (00-23), not `{s}`");
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let (a, b): (u8, u8) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
    if a > b || b > 23 {
        return Err(bad());
    }
    Ok(HourSet((a..=b).collect()))
}

/// `HH,HH,...`: a list of hours (two digits each).
pub fn hour_list(s: &str) -> Result<HourSet, String> {
    s.split(',')
        .filter(|h| !h.trim().is_empty())
        .map(|h| {
            let h = h.trim();
            match h.parse::<u8>() {
                Ok(n) if n < 24 && h.len() == 2 => Ok(n),
                _ => Err(format!("takes hours as HH,HH,... (00-23), not `{h}`")),
            }
        })
        .collect::<Result<_, _>>()
        .map(HourSet)
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

    #[test]
    fn ranges_and_lists() {
        let r: PeriodRange = "20231220".parse().unwrap();
        assert_eq!(r.days(None), vec![("20231220".parse().unwrap(), (0..24).collect())]);
        let r: PeriodRange = "20231220..20231222".parse().unwrap();
        let p = r.days(Some(&[0, 1]));
        assert_eq!(p.len(), 3);
        assert!(p.iter().all(|(_, h)| h == &vec![0, 1]));
        let r: PeriodRange = "2023122022..2023122101".parse().unwrap();
        assert_eq!(
            r.days(None),
            vec![
                ("20231220".parse().unwrap(), vec![22, 23]),
                ("20231221".parse().unwrap(), vec![0, 1])
            ]
        );
        assert!("20231222..20231220".parse::<PeriodRange>().is_err());
        assert!("20231220..2023122201".parse::<PeriodRange>().is_err());
        assert!(hour_range("05-03").is_err() && hour_range("24").is_err());
        assert_eq!(hour_range("03").unwrap().0, [3]);
        assert_eq!(hour_list("03,04").unwrap().0, [3, 4]);
        assert!(hour_list("3").is_err() && hour_list("24").is_err());
        assert!(hour_list("").unwrap().0.is_empty());
    }

    #[test]
    fn batches() {
        let b: Batch = "01".parse().unwrap();
        assert_eq!(b.to_string(), "01");
        assert!("1".parse::<Batch>().is_err() && "ab".parse::<Batch>().is_err() && "+1".parse::<Batch>().is_err());
        assert_eq!(Batch::FIRST.next().unwrap(), b);
        assert!("99".parse::<Batch>().unwrap().next().is_err());
        assert_eq!(serde_json::to_string(&b).unwrap(), "\"01\"");
        assert_eq!(serde_json::from_str::<Batch>("\"07\"").unwrap().to_string(), "07");
        assert!(serde_json::from_str::<Batch>("\"7\"").is_err());
    }
}
