//! When a cached token is good enough to hand out.
//!
//! Freshness is a pure function of the expiry, `now` and a margin, so it is tested without a clock. The reasons a
//! token is not fresh are named, for debug lines and `status`.

use std::time::Duration;

use time::OffsetDateTime;

/// Why a cached token will not be served as is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stale {
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

/// `Ok` when a token with this expiry stays valid for at least `margin` after `now`. `None` expiry never expires.
pub fn check(
    has_token: bool,
    expires_at: Option<OffsetDateTime>,
    now: OffsetDateTime,
    margin: Duration,
) -> Result<(), Stale> {
    match (has_token, expires_at) {
        (false, _) => Err(Stale::Missing),
        (true, None) => Ok(()),
        (true, Some(at)) if at <= now => Err(Stale::Expired),
        (true, Some(at)) if at < now + margin => Err(Stale::ExpiringSoon),
        (true, Some(_)) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freshness_depends_on_margin_and_expiry() {
        let now = OffsetDateTime::from_unix_timestamp(1_000_000).unwrap();
        let m = Duration::from_secs(60);
        let at = |s: i64| Some(OffsetDateTime::from_unix_timestamp(1_000_000 + s).unwrap());
        assert_eq!(check(false, at(999), now, m), Err(Stale::Missing));
        assert_eq!(check(true, None, now, m), Ok(()));
        assert_eq!(check(true, at(0), now, m), Err(Stale::Expired));
        assert_eq!(check(true, at(59), now, m), Err(Stale::ExpiringSoon));
        assert_eq!(check(true, at(60), now, m), Ok(()));
    }
}
