//! When a cached token is good enough to hand out: the one freshness rule.
//!
//! Freshness is a pure function of when the token was obtained, when it expires, `now` and a margin, so it is
//! tested without a clock; the broker, `status` and the cache-hit fast path (`broker::peek`) all apply it through
//! `Entry::fresh`, so they can never disagree. The margin is capped at half the token's lifetime (counted from when it was obtained): a server
//! that issues 30 s tokens against a 60 s margin then costs one renewal per 15 s, not one per call (issue #10).
//! The reasons a token is not fresh are named, for debug lines and `status`. `duration::MAX` bounds every
//! duration tokenfob accepts, so that adding one to a time can never overflow the calendar.

use std::time::Duration;

use time::OffsetDateTime;

/// Why a cached token will not be served as is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stale {
    /// There is no token (never obtained, or erased).
    Missing,
    /// It has expired.
    Expired,
    /// It expires within the margin.
    ExpiringSoon,
}

impl std::fmt::Display for Stale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stale::Missing => "no token cached",
            Stale::Expired => "the token has expired",
            Stale::ExpiringSoon => "the token expires within the margin",
        })
    }
}

/// True when `token` can go into an `Authorization` header, a git credential line or a curl config as is: 1 to
/// 16384 visible ASCII characters (a newline would inject a header or a key).
pub(crate) fn is_valid_token(token: &str) -> bool {
    !token.is_empty() && token.len() <= 16_384 && token.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

/// What a caller needs of a token: the profile's refresh margin, and the validity it asked for (`--min-valid`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Need {
    /// Renew this long before expiry, capped at half the lifetime.
    pub(crate) margin: Duration,
    /// Renew when less than this is left, unless the tokens live shorter than this (then half their lifetime).
    pub(crate) min_valid: Duration,
}

impl Need {
    /// The profile's margin alone.
    pub(crate) fn margin(margin: Duration) -> Need {
        Need { margin, min_valid: Duration::ZERO }
    }
}

/// How long before `expires_at` a token obtained at `obtained_at` is renewed for `need`: the margin, but at most
/// half its lifetime; and `min_valid` as asked when it is at most three quarters of the lifetime (a renewal meets it
/// and then serves for a quarter of the lifetime at least), else half the lifetime too (asking for all of a token's
/// life would renew on every call). A lifetime that is negative or zero gives nothing (fresh until it expires).
pub(crate) fn effective_margin(need: Need, obtained_at: OffsetDateTime, expires_at: OffsetDateTime) -> Duration {
    let lifetime = Duration::try_from(expires_at - obtained_at).unwrap_or(Duration::ZERO);
    let half = lifetime / 2;
    let min_valid = if need.min_valid <= lifetime / 4 * 3 { need.min_valid } else { half };
    need.margin.min(half).max(min_valid)
}

/// `Ok` when a token obtained at `obtained_at` with this expiry stays valid for the [`effective_margin`] after `now`.
/// `None` expiry never expires. Arithmetic that would overflow counts as "expiring soon" (fail closed).
pub(crate) fn check(
    has_token: bool,
    obtained_at: OffsetDateTime,
    expires_at: Option<OffsetDateTime>,
    now: OffsetDateTime,
    need: Need,
) -> Result<(), Stale> {
    let at = match (has_token, expires_at) {
        (false, _) => return Err(Stale::Missing),
        (true, None) => return Ok(()),
        (true, Some(at)) if at <= now => return Err(Stale::Expired),
        (true, Some(at)) => at,
    };
    match renew_at(obtained_at, at, need) {
        Some(edge) if now <= edge => Ok(()),
        _ => Err(Stale::ExpiringSoon),
    }
}

/// When a token obtained at `obtained_at` that expires at `expires_at` stops being fresh for `need`: its expiry less
/// the [`effective_margin`]; `None` when that leaves the calendar (then it is never fresh: fail closed). kubectl is
/// told this time as the token's expiry, so that it asks again exactly when tokenfob would renew.
pub(crate) fn renew_at(obtained_at: OffsetDateTime, expires_at: OffsetDateTime, need: Need) -> Option<OffsetDateTime> {
    let margin = time::Duration::try_from(effective_margin(need, obtained_at, expires_at)).ok()?;
    expires_at.checked_sub(margin)
}

/// How long the token has left at `now` (zero when expired); `None` when it never expires.
fn remaining(expires_at: Option<OffsetDateTime>, now: OffsetDateTime) -> Option<Duration> {
    expires_at.map(|at| Duration::try_from(at - now).unwrap_or(Duration::ZERO))
}

/// `Some((left, asked))` when a token that expires at `expires_at` has less than the `min_valid` asked for left at
/// `now`; `None` when nothing was asked, the token never expires, or it has enough.
pub(crate) fn short_of(
    min_valid: Option<Duration>,
    expires_at: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> Option<(Duration, Duration)> {
    let (asked, left) = (min_valid?, remaining(expires_at, now)?);
    (left < asked).then_some((left, asked))
}

/// `Some(lifetime)` when a token obtained at `obtained_at` lives no longer than `margin`, so that the margin was
/// capped at half its life (the broker warns about it once per renewal).
pub(crate) fn outlived_by(
    margin: Duration,
    obtained_at: OffsetDateTime,
    expires_at: Option<OffsetDateTime>,
) -> Option<Duration> {
    let life = Duration::try_from(expires_at? - obtained_at).unwrap_or(Duration::ZERO);
    (life <= margin).then_some(life)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_000_000 + s).unwrap()
    }

    #[test]
    fn freshness_depends_on_margin_and_expiry() {
        let (now, long_ago) = (t(0), t(-100_000));
        let m = Need::margin(Duration::from_secs(60));
        assert_eq!(check(false, long_ago, Some(t(999)), now, m), Err(Stale::Missing));
        assert_eq!(check(true, long_ago, None, now, m), Ok(()));
        assert_eq!(check(true, long_ago, Some(t(0)), now, m), Err(Stale::Expired));
        assert_eq!(check(true, long_ago, Some(t(59)), now, m), Err(Stale::ExpiringSoon));
        assert_eq!(check(true, long_ago, Some(t(60)), now, m), Ok(()));
    }

    #[test]
    fn the_margin_is_at_most_half_the_lifetime() {
        let m = Need::margin(Duration::from_secs(60));
        // A 30 s token obtained at 0: fresh for its first 15 s, then renewed.
        assert_eq!(check(true, t(0), Some(t(30)), t(0), m), Ok(()));
        assert_eq!(check(true, t(0), Some(t(30)), t(15), m), Ok(()));
        assert_eq!(check(true, t(0), Some(t(30)), t(16), m), Err(Stale::ExpiringSoon));
        // Obtained after its expiry (a server clock behind ours): no margin, and expired all the same.
        assert_eq!(check(true, t(10), Some(t(5)), t(0), m), Ok(()));
        assert_eq!(check(true, t(10), Some(t(5)), t(5), m), Err(Stale::Expired));
        assert_eq!(outlived_by(m.margin, t(0), Some(t(30))), Some(Duration::from_secs(30)));
        assert_eq!(outlived_by(m.margin, t(0), Some(t(3600))), None);
    }

    #[test]
    fn min_valid_is_met_when_a_renewal_can_meet_it() {
        let need = Need { margin: Duration::from_secs(1), min_valid: Duration::from_secs(15) };
        // 20 s tokens: 15 s is within their lifetime, so a token with 12 s left is renewed.
        assert_eq!(check(true, t(0), Some(t(20)), t(5), need), Ok(()));
        assert_eq!(check(true, t(0), Some(t(20)), t(8), need), Err(Stale::ExpiringSoon));
        // 10 s tokens cannot give 15 s: half their lifetime instead, not a renewal on every call.
        assert_eq!(check(true, t(0), Some(t(10)), t(5), need), Ok(()));
        assert_eq!(check(true, t(0), Some(t(10)), t(6), need), Err(Stale::ExpiringSoon));
        // Nor does asking for all of a 15 s token's life renew on every call (found by review).
        assert_eq!(check(true, t(0), Some(t(15)), t(1), need), Ok(()));
        assert_eq!(check(true, t(0), Some(t(15)), t(8), need), Err(Stale::ExpiringSoon));
    }

    #[test]
    fn huge_margins_never_overflow() {
        let far = OffsetDateTime::new_utc(
            time::Date::from_calendar_date(9999, time::Month::December, 31).unwrap(),
            time::Time::MIDNIGHT,
        );
        let now = far - time::Duration::days(1);
        let start = OffsetDateTime::UNIX_EPOCH;
        assert_eq!(check(true, start, Some(far), now, Need::margin(Duration::MAX)), Err(Stale::ExpiringSoon));
        assert_eq!(
            check(true, start, Some(far), now, Need { margin: crate::duration::MAX, min_valid: crate::duration::MAX }),
            Err(Stale::ExpiringSoon)
        );
    }
}
