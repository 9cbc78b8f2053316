//! Durations as people write them in flags and specs: `90s`, `10m`, `2h`.

/// Parses `90s`, `10m`, `2h` or a plain number of seconds.
pub fn parse(s: &str) -> Result<std::time::Duration, String> {
    let bad = || format!("duration `{s}` must be a number with s, m or h (e.g. 30s, 10m, 2h)");
    let (num, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: u64 = num.parse().map_err(|_| bad())?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(bad()),
    };
    Ok(std::time::Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(parse("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse("15"), Ok(Duration::from_secs(15)));
        assert!(parse("1d").is_err() && parse("m").is_err());
    }
}
