//! Time zones as the JVM shows instants in them: the wall clock a Java
//! reader (Spark, Hive, ORC's own reader) gives an instant in a zone, which is
//! the value a delivery must carry.
//!
//! Java has two sets of rules, and writers differ in which they used:
//!
//! - `java.time` (Spark 3+, Hive 3+): the tz database throughout, so local
//!   mean time before a zone's first rule (`+08:05:43` in Shanghai before
//!   1901), and a zone's current summer-time rule extended forever (a summer
//!   in 2040 is summer time).
//! - `java.util.TimeZone` (Hive 2's SerDe, ORC's Java writer and reader,
//!   Spark's LEGACY rebase): the same from 1900-01-01 00:00 UTC on, but before
//!   that every instant has the zone's last standard offset (`+08:00`).
//!   This is how `sun.util.calendar.ZoneInfoFile` builds a `ZoneInfo`: it drops
//!   the transitions before 1900 and answers the raw offset before its first.
//!
//! The rules come from `jiff`'s bundled copy of the tz database, which, as
//! Java does, applies a zone's last rule past its last transition.

use jiff::tz::TimeZone;
use jiff::Timestamp;

/// Whose rules an instant is shown by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rules {
    /// `java.time`: the tz database as it is.
    JavaTime,
    /// `java.util.TimeZone`: the zone's last standard offset before 1900.
    JavaUtil,
}

/// 1900-01-01 00:00:00 UTC: `ZoneInfoFile.UTC1900`.
const UTC1900: i64 = -2_208_988_800;

/// 400 Gregorian years in seconds: every calendar and weekday repeats after it.
const YEARS_400: i64 = 146_097 * 86_400;

/// An IANA time zone, with Java's two sets of rules.
#[derive(Clone, Debug)]
pub struct Zone {
    name: String,
    tz: TimeZone,
    /// `java.util`'s offset before 1900 (`ZoneInfo.rawOffset`): the zone's
    /// last standard offset, the lower of a far-future winter's and summer's.
    raw: i64,
    utc: bool,
}

impl Zone {
    /// The zone named `name` (`"Asia/Shanghai"`, `"UTC"`); `None` when the tz
    /// database has no such zone.
    pub fn get(name: &str) -> Option<Zone> {
        let tz = jiff::tz::db().get(name).ok()?;
        let at = |s: &str| {
            s.parse::<Timestamp>()
                .map(|t| i64::from(tz.to_offset(t).seconds()))
                .unwrap_or(0)
        };
        let raw = at("2200-01-15T00:00:00Z").min(at("2200-07-15T00:00:00Z"));
        let utc = tz.to_fixed_offset().is_ok_and(|o| o.seconds() == 0);
        Some(Zone {
            name: name.to_string(),
            tz,
            raw,
            utc,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether every instant's offset is zero: nothing to move.
    pub fn is_utc(&self) -> bool {
        self.utc
    }

    /// The offset (seconds east of UTC) of the instant `secs` seconds after
    /// the epoch, by `rules`.
    pub fn offset(&self, secs: i64, rules: Rules) -> i64 {
        if self.utc {
            return 0;
        }
        if rules == Rules::JavaUtil && secs < UTC1900 {
            return self.raw;
        }
        // jiff's instants stop short of the years -9999 and 9999's ends; past
        // them every zone is on a fixed offset or a yearly rule, which 400
        // years do not change.
        let (min, max) = (Timestamp::MIN.as_second(), Timestamp::MAX.as_second());
        let mut s = secs;
        if s > max {
            s -= ((s - max) / YEARS_400 + 1) * YEARS_400;
        } else if s < min {
            s += ((min - s) / YEARS_400 + 1) * YEARS_400;
        }
        match Timestamp::from_second(s) {
            Ok(t) => i64::from(self.tz.to_offset(t).seconds()),
            Err(_) => self.raw,
        }
    }

    /// The wall clock (seconds, as if UTC) of the instant `secs`, by `rules`.
    pub fn wall(&self, secs: i64, rules: Rules) -> i64 {
        secs + self.offset(secs, rules)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: &str) -> i64 {
        chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%SZ")
            .unwrap()
            .and_utc()
            .timestamp()
    }

    #[test]
    fn java_time_and_java_util_part_before_1900_only() {
        let sh = Zone::get("Asia/Shanghai").unwrap();
        // java.time: local mean time until 1901; java.util: +08:00 before 1900-01-01 UTC.
        let before = secs("1899-12-31T16:00:00Z");
        assert_eq!(sh.offset(before, Rules::JavaTime), 8 * 3600 + 5 * 60 + 43);
        assert_eq!(sh.offset(before, Rules::JavaUtil), 8 * 3600);
        let y1900 = secs("1900-06-01T00:00:00Z");
        assert_eq!(sh.offset(y1900, Rules::JavaUtil), 8 * 3600 + 5 * 60 + 43);
        // China's summer time, 1986: +09:00 from 1986-05-04 02:00 local.
        assert_eq!(sh.offset(secs("1986-05-03T18:00:00Z"), Rules::JavaTime), 9 * 3600);
        assert_eq!(sh.offset(secs("1986-05-03T17:59:59Z"), Rules::JavaTime), 8 * 3600);
        // The year 1 and 9999 in Shanghai.
        assert_eq!(sh.offset(secs("0000-12-31T16:00:00Z"), Rules::JavaUtil), 8 * 3600);
    }

    #[test]
    fn summer_time_after_2037_and_past_jiffs_range() {
        let la = Zone::get("America/Los_Angeles").unwrap();
        assert_eq!(la.offset(secs("2040-07-01T19:00:00Z"), Rules::JavaTime), -7 * 3600);
        assert_eq!(la.offset(secs("9999-07-01T19:00:00Z"), Rules::JavaUtil), -7 * 3600);
        assert_eq!(la.offset(secs("2040-01-01T20:00:00Z"), Rules::JavaTime), -8 * 3600);
        // 9999-12-31 23:59:59 in Los Angeles is in the year 10000 in UTC.
        let end = secs("9999-12-31T23:59:59Z") + 8 * 3600;
        assert_eq!(la.wall(end, Rules::JavaTime), secs("9999-12-31T23:59:59Z"));
        // Before 1900: java.util's raw offset is the standard -08:00, java.time's LMT -07:52:58.
        let old = secs("1850-01-01T00:00:00Z");
        assert_eq!(la.offset(old, Rules::JavaUtil), -8 * 3600);
        assert_eq!(la.offset(old, Rules::JavaTime), -(7 * 3600 + 52 * 60 + 58));
        assert!(Zone::get("Mars/Olympus").is_none());
        assert!(Zone::get("UTC").unwrap().is_utc());
    }
}
