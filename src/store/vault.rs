//! Where a cache entry's secret parts live: in the 0600 JSON file (`store = "file"`, the default), or in the system
//! keyring (`store = "keyring"`, or `"auto"`: the keyring when it works, else the file with a warning; issue #14).
//!
//! With the keyring, one item per profile and cache directory holds the refresh token, and the access token too
//! when both fit the system's item size (the Windows Credential Manager's 2560 bytes); a token that never expires
//! must fit, since it is as long-lived as a refresh token. The JSON file keeps the rest (expiry, fingerprint, stamp)
//! and a marker of what is in the keyring, so `status`, the lock and the freshness rule work without it. The
//! keyring item is written before the file, so a reader that sees the new file finds the new item.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::Entry;
use crate::error::{Error, Result};
use crate::secret::{Secret, exposed};
use crate::sys::keyring::{Advice, Item, KeyringError, MAX_ITEM};

/// Where a profile keeps its cached tokens: `store = "file" | "keyring" | "auto"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Store {
    /// The 0600 cache file (the default).
    #[default]
    File,
    /// The system keyring; an error when it cannot be used.
    Keyring,
    /// The system keyring when it can be used, else the file with a warning.
    Auto,
}

/// The marker in the JSON file: which secret parts sit in the keyring.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct InKeyring {
    /// The access token is there.
    #[serde(default)]
    pub(crate) token: bool,
    /// The refresh token is there.
    #[serde(default)]
    pub(crate) refresh_token: bool,
}

/// The keyring item's content.
#[derive(Serialize, Deserialize)]
struct Parts {
    #[serde(default, with = "exposed::option", skip_serializing_if = "Option::is_none")]
    token: Option<Secret>,
    #[serde(default, with = "exposed::option", skip_serializing_if = "Option::is_none")]
    refresh_token: Option<Secret>,
}

/// How one profile's entry reaches the keyring.
#[derive(Debug, Clone)]
pub(crate) struct Vault {
    /// The profile's choice.
    pub(crate) store: Store,
    /// The profile's keyring item.
    pub(crate) item: Item,
    /// How long one keyring call may take.
    pub(crate) timeout: Duration,
    /// Whether someone can answer an unlock prompt (a terminal, and prompting allowed).
    pub(crate) may_unlock: bool,
    /// The profile, named in errors.
    pub(crate) profile: String,
}

/// The keyring service of cached tokens; the user is `<profile>@<cache directory>`.
pub(crate) const CACHE_SERVICE: &str = "tokenfob";

impl Vault {
    /// Splits `entry` for storing: the part for the JSON file, after its secrets went to the keyring. With
    /// `store = "auto"` a keyring that fails leaves the entry whole, with a warning.
    pub(crate) fn put(&self, entry: &Entry) -> Result<Entry> {
        if self.store == Store::File {
            return Ok(entry.clone());
        }
        match self.put_keyring(entry) {
            Ok(part) => Ok(part),
            Err(e) if self.store == Store::Auto => {
                crate::log::warn(format_args!(
                    "profile {}: {e}; keeping its tokens in the cache file instead (store = \"auto\")",
                    self.profile
                ));
                Ok(entry.clone())
            }
            Err(e) => Err(self.error(e, "storing the tokens", &format!("tokenfob login {}", self.profile))),
        }
    }

    fn put_keyring(&self, entry: &Entry) -> Result<Entry, KeyringError> {
        let (item, file) = split(entry, MAX_ITEM)?;
        self.item.set(&item, self.timeout, self.may_unlock)?;
        Ok(file)
    }

    /// Fills in the secret parts of an entry read from the file; `None` when its keyring item is gone (a miss). A
    /// keyring that cannot be read makes the entry a miss, with a warning, under `store = "auto"` or `"file"`, unless
    /// `strict`: then (a token that never expires, which a miss would orphan on the server; or a logout, which must
    /// not drop the file's pointer to tokens it could not revoke) it is an error, as always with `"keyring"`. When
    /// `forgetting` tokens that need no revoking, several matching items are a miss, so that all of them are
    /// deleted. `retry` is the command that, in a terminal, has a locked keyring unlocked.
    pub(crate) fn fill(&self, mut entry: Entry, strict: bool, forgetting: bool, retry: &str) -> Result<Option<Entry>> {
        let Some(marker) = entry.keyring else { return Ok(Some(entry)) };
        let bytes = match self.item.get(self.timeout, self.may_unlock) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => {
                crate::log::warn(format_args!(
                    "profile {}: the cached entry's tokens are not in the system keyring any more; logging in again",
                    self.profile
                ));
                return Ok(None);
            }
            Err(KeyringError::Ambiguous { .. }) if forgetting => return Ok(None),
            Err(e) if !strict && self.store != Store::Keyring => {
                // The broker reads the entry twice (before and under the lock): one warning is enough.
                if first_time(&self.profile) {
                    crate::log::warn(format_args!(
                        "profile {}: {e}; the cached tokens in it cannot be read, so they are obtained again",
                        self.profile
                    ));
                }
                return Ok(None);
            }
            Err(e) => return Err(self.error(e, "reading the cached tokens", retry)),
        };
        let Ok(parts) = serde_json::from_slice::<Parts>(&bytes) else {
            crate::log::warn(format_args!(
                "profile {}: its keyring item is not what tokenfob wrote; ignoring it",
                self.profile
            ));
            return Ok(None);
        };
        if marker.token {
            entry.token = parts.token;
        }
        if marker.refresh_token {
            entry.refresh_token = parts.refresh_token;
        }
        entry.keyring = None;
        let printable = entry.token.as_ref().is_none_or(|t| crate::token::is_valid_token(t.expose()));
        Ok(Some(entry).filter(|_| printable))
    }

    /// Deletes the profile's keyring item (`logout`, `erase`, or a switch back to the file). With `store =
    /// "keyring"`, or `strict` (the file still points at the item), a failure is an error; otherwise a warning.
    pub(crate) fn delete(&self, strict: bool, retry: &str) -> Result<()> {
        match self.item.delete(self.timeout, self.may_unlock) {
            Ok(_) => Ok(()),
            Err(e) if strict || self.store == Store::Keyring => Err(self.error(e, "deleting the cached tokens", retry)),
            Err(e) => {
                crate::log::warn(format_args!(
                    "profile {}: {e}; its old keyring item (service {:?}, user {:?}) may be left behind",
                    self.profile, self.item.service, self.item.user
                ));
                Ok(())
            }
        }
    }

    /// Fails when the keyring cannot be used now: not there, or locked with nobody to unlock it.
    pub(crate) fn check(&self) -> Result<()> {
        let retry = format!("tokenfob login {}", self.profile);
        crate::sys::keyring::usable(self.timeout, self.may_unlock)
            .map_err(|e| self.error(e, "keeping the tokens", &retry))
    }

    /// The error for a keyring that failed while doing `what`: a locked one nobody can unlock names `retry` to run
    /// in a terminal (exit 5). With `store = "keyring"` it names the way back to the file; otherwise the tokens were
    /// already in the keyring and must be reached there, so it says why they are not dropped.
    fn error(&self, e: KeyringError, what: &str, retry: &str) -> Error {
        let doing = format!("{what} of profile {:?} in the system keyring", self.profile);
        let instead = if self.store == Store::Keyring {
            format!(
                "or set store = \"file\" for profile {:?} to keep its tokens in the cache file, or store = \"auto\" \
                 to fall back to it",
                self.profile
            )
        } else {
            "the cached tokens are in the keyring and are not dropped unread: a token that never expires would stay \
             valid on the server, and the cache file is the only record of the item"
                .to_owned()
        };
        e.into_error(&Advice { doing: &doing, retry, instead: &instead, may_unlock: self.may_unlock })
    }
}

/// True the first time it is asked about `profile` in this process.
fn first_time(profile: &str) -> bool {
    static SEEN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut seen = SEEN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if seen.iter().any(|p| p == profile) {
        return false;
    }
    seen.push(profile.to_owned());
    true
}

/// Splits `entry` into the keyring item's bytes (at most `limit`) and the entry for the file, marked. The refresh
/// token always goes to the keyring; so does a token that never expires, as long-lived as a refresh token. A
/// short-lived token goes too when both fit, else it stays in the file. What must go and does not fit is an error.
fn split(entry: &Entry, limit: usize) -> Result<(Zeroizing<Vec<u8>>, Entry), KeyringError> {
    let lasting = entry.token.is_some() && entry.expires_at.is_none();
    let whole = encode(&Parts { token: entry.token.clone(), refresh_token: entry.refresh_token.clone() })?;
    let (item, token_in) = if whole.len() <= limit || lasting {
        (whole, entry.token.is_some())
    } else {
        (encode(&Parts { token: None, refresh_token: entry.refresh_token.clone() })?, false)
    };
    if item.len() > limit {
        return Err(KeyringError::TooLarge { size: item.len(), limit });
    }
    let mut file = entry.clone();
    if token_in {
        file.token = None;
    }
    file.refresh_token = None;
    file.keyring = Some(InKeyring { token: token_in, refresh_token: entry.refresh_token.is_some() });
    Ok((item, file))
}

/// The item's bytes; an error (never an empty item) if they cannot be made.
fn encode(parts: &Parts) -> Result<Zeroizing<Vec<u8>>, KeyringError> {
    serde_json::to_vec(parts).map(Zeroizing::new).map_err(|e| KeyringError::Failed(format!("encoding the item: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;

    fn entry(token: &str, refresh: Option<&str>, expires: bool) -> Entry {
        let now = OffsetDateTime::from_unix_timestamp(1_000_000).unwrap();
        let mut e = Entry::new("p", "f".into(), now);
        e.token = Some(Secret::new(token.into()));
        e.refresh_token = refresh.map(|r| Secret::new(r.into()));
        e.expires_at = expires.then(|| now + time::Duration::hours(1));
        e
    }

    fn item(bytes: &[u8]) -> serde_json::Value {
        serde_json::from_slice(bytes).unwrap()
    }

    #[test]
    fn both_tokens_go_to_the_keyring_when_they_fit() {
        let (bytes, file) = split(&entry("tok-s1", Some("ref-s2"), true), 100).unwrap();
        assert_eq!(item(&bytes), serde_json::json!({"token": "tok-s1", "refresh_token": "ref-s2"}));
        assert!(file.token.is_none() && file.refresh_token.is_none());
        assert_eq!(file.keyring, Some(InKeyring { token: true, refresh_token: true }));
        let json = serde_json::to_string(&file).unwrap();
        assert!(!json.contains("tok-s1") && !json.contains("ref-s2"), "{json}");
        assert!(file.has_token() && file.fresh(file.obtained_at, crate::token::Need::default()).is_ok());
    }

    #[test]
    fn a_large_short_lived_token_stays_in_the_file() {
        let big = "t".repeat(200);
        let (bytes, file) = split(&entry(&big, Some("ref"), true), 100).unwrap();
        assert_eq!(item(&bytes), serde_json::json!({"refresh_token": "ref"}));
        assert_eq!(file.token.as_ref().map(Secret::expose), Some(big.as_str()));
        assert_eq!(file.keyring, Some(InKeyring { token: false, refresh_token: true }));
    }

    #[test]
    fn what_must_go_and_does_not_fit_is_an_error() {
        let big = "t".repeat(200);
        let lasting = split(&entry(&big, None, false), 100).unwrap_err();
        assert!(matches!(lasting, KeyringError::TooLarge { limit: 100, .. }), "{lasting}");
        let refresh = split(&entry("tok", Some(&big), true), 100).unwrap_err();
        assert!(matches!(refresh, KeyringError::TooLarge { .. }), "{refresh}");
    }
}
