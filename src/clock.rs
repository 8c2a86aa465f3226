//! The one place tokenfob asks what time it is.
//!
//! Freshness and expiry are pure functions of a `now` passed in, so tests fix the time. The faces call [`now`] to
//! start a request; the broker reads it again after a wait (a lock, a failed renewal) and the HTTP client to date a
//! request. The configuration watch reads the system clock itself, in nanoseconds, for its racily-clean rule.

use time::OffsetDateTime;

/// The current time in UTC, truncated to whole seconds (expiry times are kept in seconds).
pub(crate) fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(0).unwrap_or(t)
}

/// Formats `t` as RFC 3339 in UTC, e.g. `2026-11-22T13:46:00Z`.
pub(crate) fn rfc3339(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC).format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// Parses an RFC 3339 time such as `2018-04-01T21:39:12+00:00`.
pub(crate) fn parse_rfc3339(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
}
