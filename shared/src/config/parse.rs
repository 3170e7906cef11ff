//! The parsers every setting goes through: one for durations, one for lists.

use std::time::Duration;

/// The non-empty, trimmed items of a comma-separated setting.
pub fn comma_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// A duration: a bare number is seconds (`90`); otherwise a number with a unit, `ms`, `s`,
/// `m`, `h` or `d`, or humantime forms like `1h 30m`.
pub fn duration(s: &str) -> Result<Duration, InvalidDuration> {
    let s = s.trim();
    if let Ok(n) = s.parse::<u64>() {
        return Ok(Duration::from_secs(n));
    }
    humantime::parse_duration(s).map_err(|source| InvalidDuration {
        input: s.to_owned(),
        source,
    })
}

/// A value that is not a duration.
#[derive(Debug, thiserror::Error)]
#[error("{input:?} is not a duration like 90s, 15m or 24h ({source})")]
pub struct InvalidDuration {
    input: String,
    source: humantime::DurationError,
}

/// A duration in whole seconds (see [`duration`]); what a part of a second adds is dropped.
pub fn parse_duration(s: &str) -> Result<u64, InvalidDuration> {
    duration(s).map(|d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90").unwrap(), 90);
        assert_eq!(parse_duration("15m").unwrap(), 900);
        assert_eq!(parse_duration("24h").unwrap(), 86_400);
        assert_eq!(duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(duration("3").unwrap(), Duration::from_secs(3));
        let e = parse_duration("-1").unwrap_err();
        assert!(e.to_string().contains("is not a duration like 90s"), "{e}");
        // The parser's own error is kept as the cause.
        assert!(std::error::Error::source(&e).is_some());
    }
}
