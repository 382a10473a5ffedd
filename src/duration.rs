//! Durations as users write them (`90s`, `30m`, `1.5h`, `90d`, `2w`, or plain
//! seconds such as `3600`): the one parser behind every flag, config key and
//! query parameter that takes one (`--window`, `--keep`, `--bin`, `--fade`,
//! `/api/stats?window=`).
//!
//! Checked: a value too large for the clock (`99999999999999999999d`) is an
//! error, never an overflow or a panic further on. The longest accepted is
//! [`MAX_SECS`], long enough for any retention and far from every limit of
//! `Duration`, `i64` microseconds and timestamp arithmetic.

use std::time::Duration;

use thiserror::Error;

/// The longest duration accepted: 100 years.
pub const MAX_SECS: u64 = 100 * 365 * 86_400;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DurationError {
    #[error("{0:?} is not a duration: use a number and a unit s, m, h, d or w (e.g. 90m, 1.5h, 30d) or plain seconds")]
    Syntax(String),
    #[error("{0:?} is too long: at most 100 years (36500d)")]
    TooLong(String),
}

/// Parses a duration; zero is allowed (callers that need a positive one say so).
pub fn parse(s: &str) -> Result<Duration, DurationError> {
    let t = s.trim();
    let syntax = || DurationError::Syntax(s.to_string());
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let mult: u64 = match unit.trim() {
        "" | "s" | "sec" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(syntax()),
    };
    if num.is_empty() || num == "." || num.matches('.').count() > 1 {
        return Err(syntax());
    }
    let too_long = || DurationError::TooLong(s.to_string());
    match num.split_once('.') {
        None => {
            // Integers exactly: no float rounding for `90d`.
            let n: u64 = num.parse().map_err(|_| too_long())?;
            let secs = n.checked_mul(mult).ok_or_else(too_long)?;
            if secs > MAX_SECS {
                return Err(too_long());
            }
            Ok(Duration::from_secs(secs))
        }
        Some(_) => {
            let n: f64 = num.parse().map_err(|_| syntax())?;
            let secs = n * mult as f64;
            if !secs.is_finite() || secs < 0.0 {
                return Err(syntax());
            }
            if secs > MAX_SECS as f64 {
                return Err(too_long());
            }
            Ok(Duration::from_secs_f64(secs))
        }
    }
}

/// Whole seconds of [`parse`], for the flags that count in seconds (`--keep`, `--bin`).
pub fn seconds(s: &str) -> Option<i64> {
    parse(s).ok().and_then(|d| i64::try_from(d.as_secs()).ok())
}

/// [`parse`] for values that must be longer than zero.
pub fn parse_positive(s: &str) -> Result<Duration, DurationError> {
    match parse(s)? {
        d if d.is_zero() => Err(DurationError::Syntax(s.to_string())),
        d => Ok(d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_decimals_and_plain_seconds() {
        assert_eq!(parse("5h"), Ok(Duration::from_secs(18_000)));
        assert_eq!(parse("90m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("90d"), Ok(Duration::from_secs(90 * 86_400)));
        assert_eq!(parse("2w"), Ok(Duration::from_secs(14 * 86_400)));
        assert_eq!(parse("3600"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse(" 45s "), Ok(Duration::from_secs(45)));
        assert_eq!(parse("0s"), Ok(Duration::ZERO));
        assert!(parse_positive("0h").is_err());
    }

    #[test]
    fn garbage_and_overflow_are_errors_not_panics() {
        for bad in [
            "", "soon", "h", ".h", "1.2.3h", "-5m", "5y", "inf", "NaN", "1e9s",
        ] {
            assert!(matches!(parse(bad), Err(DurationError::Syntax(_))), "{bad}");
        }
        for big in [
            "99999999999999999999d",
            "99999999999999999999",
            "18446744073709551615w",
            "5300w",
            "36501d",
            "1e300",
            "99999999999999999999.5d",
        ] {
            assert!(parse(big).is_err(), "{big}");
        }
        assert!(matches!(
            parse("99999999999999999999d"),
            Err(DurationError::TooLong(_))
        ));
        assert!(parse("36500d").is_ok());
    }
}
