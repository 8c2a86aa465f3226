//! The cache entry: what one profile's JSON file holds, and the one freshness rule every reader applies to it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::vault::InKeyring;
use crate::fileid::ConfigStamp;
use crate::secret::{Secret, exposed};
use crate::token::{self, Need, Stale};

/// The cache file format version.
const VERSION: u32 = 1;

/// One profile's cached state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Entry {
    /// Format version.
    pub(crate) v: u32,
    /// The profile it belongs to.
    pub(crate) profile: String,
    /// Digest of the profile settings that produced it; a mismatch makes the entry a miss.
    pub(crate) fingerprint: String,
    /// The bearer token; absent after `erase --token` when a refresh token is kept.
    #[serde(default, with = "exposed::option", skip_serializing_if = "Option::is_none")]
    pub(crate) token: Option<Secret>,
    /// When the token expires; absent for never.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub(crate) expires_at: Option<OffsetDateTime>,
    /// When tokenfob obtained it.
    #[serde(with = "time::serde::rfc3339")]
    pub(crate) obtained_at: OffsetDateTime,
    /// A refresh token, when the login kind has one.
    #[serde(default, with = "exposed::option", skip_serializing_if = "Option::is_none")]
    pub(crate) refresh_token: Option<Secret>,
    /// When the refresh token expires, if known.
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub(crate) refresh_expires_at: Option<OffsetDateTime>,
    /// Non-secret values the login used that logout needs again (GoodData's token id).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) vars: BTreeMap<String, String>,
    /// The configuration file this entry was made with, so the cache-hit fast path (`broker::peek`) can trust the entry
    /// without parsing the configuration while that file is unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) config: Option<ConfigStamp>,
    /// The profile's refresh margin in milliseconds, for the same shortcut.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) margin_ms: Option<u64>,
    /// Which of the tokens sit in the system keyring instead of this file (`store = "keyring"`, issue #14).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) keyring: Option<InKeyring>,
}

impl Entry {
    /// A new entry for `profile`.
    pub(crate) fn new(profile: &str, fingerprint: String, obtained_at: OffsetDateTime) -> Entry {
        Entry {
            v: VERSION,
            profile: profile.to_owned(),
            fingerprint,
            token: None,
            expires_at: None,
            obtained_at,
            refresh_token: None,
            refresh_expires_at: None,
            vars: BTreeMap::new(),
            config: None,
            margin_ms: None,
            keyring: None,
        }
    }

    /// The one freshness rule: `Ok` when the entry's token stays valid for `need` after `now` ([`token::check`]).
    pub(crate) fn fresh(&self, now: OffsetDateTime, need: Need) -> Result<(), Stale> {
        token::check(self.has_token(), self.obtained_at, self.expires_at, now, need)
    }

    /// True when there is a token, here or in the keyring.
    pub(crate) fn has_token(&self) -> bool {
        self.token.is_some() || self.keyring.is_some_and(|k| k.token)
    }

    /// True when the refresh token exists (here or in the keyring) and has not expired at `now`.
    pub(crate) fn can_refresh(&self, now: OffsetDateTime) -> bool {
        let held = self.refresh_token.is_some() || self.keyring.is_some_and(|k| k.refresh_token);
        held && self.refresh_expires_at.is_none_or(|at| at > now)
    }
}

/// Parses an entry; anything malformed is `None` (a miss), never an error. A token that no face may print (a file
/// edited to hold CR/LF, issue #10) makes the entry malformed too.
pub(crate) fn parse_entry(bytes: &[u8]) -> Option<Entry> {
    let printable = |e: &Entry| e.token.as_ref().is_none_or(|t| crate::token::is_valid_token(t.expose()));
    serde_json::from_slice::<Entry>(bytes).ok().filter(|e| e.v == VERSION && printable(e))
}
