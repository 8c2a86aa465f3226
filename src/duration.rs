//! Durations as people write them (`90s`, `10m`, `1h30m`, `7d`) and as messages show them, and the one bound on
//! every duration tokenfob accepts.
//!
//! A pure module at the ground floor: the configuration, the command line, the JSON face and the environment
//! (`TOKENFOB_LOCK_TIMEOUT`) all parse durations here, and every message that shows one formats it here.

use std::time::Duration;

/// The longest duration accepted anywhere (margins, lifetimes, timeouts, `--min-valid`, the lock timeout): 3650 days.
/// Anything longer is a typo or an attack, and would overflow date arithmetic.
pub(crate) const MAX: Duration = Duration::from_secs(3650 * 86_400);

/// How [`MAX`] is written in messages.
pub(crate) const MAX_TEXT: &str = "3650d (about 10 years)";

/// Parses `90s`, `10m`, `24h`, `7d`, `250ms` or sums such as `1h30m`, up to [`MAX`].
pub(crate) fn parse(text: &str) -> std::result::Result<Duration, String> {
    let bad = || format!("bad duration {text:?} (expected a number and a unit, such as 90s, 10m, 24h or 7d)");
    let too_long = || format!("duration {text:?} is more than the maximum of {}", MAX_TEXT);
    let mut total_ms: u128 = 0;
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let number: u128 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let scale_ms: u128 = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return Err(bad()),
        };
        // u128 milliseconds hold any 38-digit number times a day; the cap below keeps the result small.
        total_ms = number.checked_mul(scale_ms).and_then(|n| n.checked_add(total_ms)).ok_or_else(too_long)?;
        rest = &rest[unit_len..];
    }
    if total_ms > MAX.as_millis() {
        return Err(too_long());
    }
    Ok(Duration::from_millis(u64::try_from(total_ms).map_err(|_| too_long())?))
}

/// `3723` s -> `1h2m`, for messages and `status`: the two largest units.
pub(crate) fn human(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m{}s", secs / 60, secs % 60),
        3600..86_400 => format!("{}h{}m", secs / 3600, secs % 3600 / 60),
        _ => format!("{}d{}h", secs / 86_400, secs % 86_400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_durations() {
        assert_eq!(parse("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        for bad in ["", "10", "m", "s", "5 minutes", "-1s", "1.5h", "99999999999h", "3651d", "3650d1ms"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert_eq!(parse("3650d"), Ok(MAX));
        assert!(parse("4294967295d").unwrap_err().contains("maximum"));
        assert!(parse("99999999999999999999999999999999999d").unwrap_err().contains("maximum"));
    }

    #[test]
    fn shows_the_two_largest_units() {
        assert_eq!(human(Duration::from_secs(59)), "59s");
        assert_eq!(human(Duration::from_secs(90)), "1m30s");
        assert_eq!(human(Duration::from_secs(3723)), "1h2m");
        assert_eq!(human(Duration::from_secs(90_000)), "1d1h");
    }
}
