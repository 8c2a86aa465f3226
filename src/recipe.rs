//! The login recipe: the HTTP calls that obtain, renew and revoke a token, and where each answer carries it.
//!
//! This is the one model the engine runs. `kind = "http"` profiles write a recipe out in full (these types are
//! also the TOML schema of its tables); every other HTTP kind is a preset that fills one in from a few keys
//! (`presets`). docs/configuration.md shows each preset as the `http` recipe it equals.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use crate::secret::SecretSource;

/// A complete recipe.
#[derive(Debug, Clone)]
pub(crate) struct Recipe {
    /// Obtains a token from credentials.
    pub(crate) login: CallSpec,
    /// Renews it with `{refresh_token}`.
    pub(crate) refresh: Option<CallSpec>,
    /// Revokes it server-side.
    pub(crate) logout: Option<CallSpec>,
    /// Fills a variable that is not configured by asking the server (GoodData's user id).
    pub(crate) lookups: BTreeMap<String, LookupSpec>,
    /// Where the answers carry the token.
    pub(crate) reply: ReplySpec,
    /// How long a token lives when the answer does not say; `None` for never.
    pub(crate) lifetime: Option<Duration>,
    /// Values for placeholders.
    pub(crate) vars: BTreeMap<String, VarSpec>,
    /// A step the user takes part in before the login call (OAuth 2.0 device code or browser).
    pub(crate) interactive: Option<Interactive>,
}

/// An interactive step of a login; it needs a terminal and is bounded by `timeout`.
#[derive(Debug, Clone)]
pub(crate) enum Interactive {
    /// RFC 8628: `authorize` gets a device and user code; the login call is then polled.
    DeviceCode { authorize: CallSpec, timeout: Duration },
    /// RFC 6749 4.1 + PKCE: open `authorization_url` with these query templates, wait for the loopback redirect.
    Browser { authorization_url: String, query: Vec<(String, String)>, timeout: Duration },
}

/// One HTTP call.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CallSpec {
    /// The method; POST for login and refresh, DELETE for logout, when not given.
    pub(crate) method: Option<String>,
    /// The URL template.
    pub(crate) url: String,
    /// URLs tried in turn when the previous one answers 404 (older server versions).
    #[serde(default)]
    pub(crate) fallback_urls: Vec<String>,
    /// Header templates.
    #[serde(default)]
    pub(crate) headers: BTreeMap<String, String>,
    /// A JSON body template: a string that is exactly `{x}` takes x's value and type; `{x?}` drops the member
    /// when x is unset.
    pub(crate) json: Option<serde_json::Value>,
    /// A form body (application/x-www-form-urlencoded) of templates.
    pub(crate) form: Option<BTreeMap<String, String>>,
    /// On 409 Conflict, draw a new `{nonce}` and try again (GoodData token ids).
    #[serde(default)]
    pub(crate) retry_on_conflict: bool,
}

/// A call whose answer fills one variable.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LookupSpec {
    /// The method (GET when not given).
    pub(crate) method: Option<String>,
    /// The URL template.
    pub(crate) url: String,
    /// Header templates.
    #[serde(default)]
    pub(crate) headers: BTreeMap<String, String>,
    /// JSON pointer (RFC 6901) to the value in the answer.
    pub(crate) pointer: String,
    /// URLs tried in turn when the previous one answers 404.
    #[serde(default)]
    pub(crate) fallback_urls: Vec<String>,
}

/// Where an answer carries the token and its expiry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReplySpec {
    /// Response headers that may carry the token (first present wins); a `Bearer ` prefix is stripped.
    #[serde(default)]
    pub(crate) token_header: Vec<String>,
    /// JSON pointer to the token in the body.
    pub(crate) token_pointer: Option<String>,
    /// JSON pointer to a refresh token.
    pub(crate) refresh_token_pointer: Option<String>,
    /// JSON pointer to the refresh token's expiry time (RFC 3339 or epoch seconds).
    pub(crate) refresh_expires_at_pointer: Option<String>,
    /// JSON pointer to the refresh token's lifetime in seconds.
    pub(crate) refresh_expires_in_pointer: Option<String>,
    /// JSON pointer to the token's lifetime in seconds, counted from when the request was sent.
    pub(crate) expires_in_pointer: Option<String>,
    /// JSON pointer to the token's expiry time (RFC 3339 or epoch seconds).
    pub(crate) expires_at_pointer: Option<String>,
    /// Read the expiry from the token's JWT `exp` claim when the fields above say nothing (default true).
    pub(crate) jwt_exp: Option<bool>,
    /// JSON pointer to a success flag; `false` there is a rejection.
    pub(crate) success_pointer: Option<String>,
    /// JSON pointer to the server's message, shown when it rejects or fails.
    pub(crate) message_pointer: Option<String>,
    /// JSON pointer to an error code (OAuth 2.0: `/error`), shown before the message.
    pub(crate) error_pointer: Option<String>,
    /// Error codes that mean the credentials were refused (OAuth 2.0: `invalid_grant`, ...), whatever the status.
    #[serde(default)]
    pub(crate) rejection_errors: Vec<String>,
}

/// A placeholder value in `vars`: a plain value (strings may use `{hostname}` and `{nonce}`) or a secret source.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum VarSpec {
    /// A string, number or boolean.
    Plain(serde_json::Value),
    /// `{ env = ... }`, `{ file = ... }`, `{ command = ... }` or `{ prompt = ... }`.
    Secret(SecretSource),
}

impl<'de> Deserialize<'de> for VarSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let value = serde_json::Value::deserialize(d)?;
        match value {
            serde_json::Value::Object(_) => {
                serde_json::from_value(value).map(VarSpec::Secret).map_err(D::Error::custom)
            }
            serde_json::Value::Array(_) | serde_json::Value::Null => {
                Err(D::Error::custom("a var is a string, number, boolean or secret source"))
            }
            plain => Ok(VarSpec::Plain(plain)),
        }
    }
}

/// A call, with a JSON body or none.
pub(crate) fn call(method: &str, url: &str, json: Option<serde_json::Value>) -> CallSpec {
    CallSpec {
        method: Some(method.into()),
        url: url.into(),
        fallback_urls: Vec::new(),
        headers: BTreeMap::new(),
        json,
        form: None,
        retry_on_conflict: false,
    }
}

/// A recipe with only a login call.
pub(crate) fn bare(login: CallSpec, reply: ReplySpec, lifetime: Option<Duration>) -> Recipe {
    Recipe {
        login,
        refresh: None,
        logout: None,
        lookups: BTreeMap::new(),
        reply,
        lifetime,
        vars: BTreeMap::new(),
        interactive: None,
    }
}

impl Recipe {
    /// A stable digest of everything that decides whose token this is (kind-independent: URLs, bodies, user,
    /// account, ids, and where secrets come from, but never a secret's value).
    pub(crate) fn fingerprint(&self) -> String {
        fingerprint_of(&format!(
            "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
            self.login, self.refresh, self.lookups, self.reply, self.vars, self.interactive
        ))
    }
}

/// FNV-1a 64 of `text`, as 16 hex digits: stable across builds, unlike `DefaultHasher`.
pub(crate) fn fingerprint_of(text: &str) -> String {
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    format!("{hash:016x}")
}
