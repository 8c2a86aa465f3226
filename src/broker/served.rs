//! What the broker hands out: a [`Served`] token (its fields private, checked when made) and a profile's
//! [`Status`] (never a token).

use std::time::Duration;

use time::OffsetDateTime;

use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::store::Entry;
use crate::token::{self, Need};

/// A token handed out. Its fields are private: [`Served::new`] is the one way to make one.
#[derive(Debug)]
pub(crate) struct Served {
    profile: String,
    token: Secret,
    expires_at: Option<OffsetDateTime>,
    renew_at: Option<OffsetDateTime>,
}

impl Served {
    /// The one way to make a `Served`: every face prints `token` into a header, a curl config, git's key=value
    /// lines or JSON, so a token that [`crate::token::is_valid_token`] refuses (CR/LF, spaces, control or
    /// non-ASCII characters) is an error here, whatever its source (issue #10: header and key injection).
    pub(crate) fn new(profile: &str, token: Secret, expires_at: Option<OffsetDateTime>) -> Result<Served> {
        if !crate::token::is_valid_token(token.expose()) {
            return Err(Error::Config(format!(
                "the token of profile {profile:?} is not a valid token (empty, too long, or with a space, a control \
                 or a non-ASCII character); check where the profile's token comes from"
            )));
        }
        Ok(Served { profile: profile.to_owned(), token, expires_at, renew_at: expires_at })
    }

    /// The same token, renewed from `at` on (`token::renew_at`); `None` leaves it at the expiry.
    pub(crate) fn renewing_at(self, at: Option<OffsetDateTime>) -> Served {
        Served { renew_at: at.or(self.expires_at), ..self }
    }

    /// The profile it belongs to.
    pub(crate) fn profile(&self) -> &str {
        &self.profile
    }

    /// The token.
    pub(crate) fn token(&self) -> &Secret {
        &self.token
    }

    /// When it expires; `None` for never.
    pub(crate) fn expires_at(&self) -> Option<OffsetDateTime> {
        self.expires_at
    }

    /// When a tool that caches the token should ask again: when tokenfob would renew it, but never sooner than 10 s
    /// from now (a token served after a failed renewal would otherwise have the tool run its helper before every
    /// request) nor after the token's expiry (a token that arrived expired is reported as it is). `None` for a
    /// token that never expires. kubectl, Bazel and cargo are told this.
    pub(crate) fn ask_again_at(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        let expires = self.expires_at?;
        let soonest = now.checked_add(time::Duration::seconds(10)).unwrap_or(now);
        Some(self.renew_at.unwrap_or(expires).max(soonest).min(expires))
    }

    /// The token of `entry`, which renews `margin` before it expires (capped as [`token::renew_at`] says).
    pub(super) fn from_entry(profile: &str, entry: Entry, margin: Duration) -> Result<Served> {
        let renew_at = entry.expires_at.and_then(|at| token::renew_at(entry.obtained_at, at, Need::margin(margin)));
        let token =
            entry.token.ok_or_else(|| Error::Other(format!("profile {profile}: the cache entry has no token")))?;
        Ok(Served::new(profile, token, entry.expires_at)?.renewing_at(renew_at))
    }
}

/// What `status` reports of a profile (never a token).
#[derive(Debug, serde::Serialize)]
pub(crate) struct Status {
    /// The profile name.
    pub(crate) profile: String,
    /// Its kind.
    pub(crate) kind: &'static str,
    /// A token is cached for the current settings.
    pub(crate) cached: bool,
    /// It would be served without renewing.
    pub(crate) fresh: bool,
    /// When it expires.
    #[serde(with = "time::serde::rfc3339::option")]
    pub(crate) expires_at: Option<OffsetDateTime>,
    /// Seconds until it expires (negative when expired).
    pub(crate) expires_in: Option<i64>,
    /// A refresh token is held.
    pub(crate) refreshable: bool,
}
