//! The configuration file's schema: the TOML tables as serde reads them, before any check across keys.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use crate::recipe::{CallSpec, LookupSpec, ReplySpec, VarSpec};
use crate::secret::SecretSource;

/// The profile kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Kind {
    /// ONE DATA: token in the `Authorization` header of the login answer.
    Onedata,
    /// A login + refresh-token session API.
    Session,
    /// GoodData.CN personal API tokens.
    Gooddata,
    /// A fixed token.
    Static,
    /// A command that prints a token.
    Command,
    /// A generic HTTP recipe.
    Http,
    /// OAuth 2.0 / OpenID Connect.
    Oauth2,
}

impl Kind {
    /// The name used in the config file.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Onedata => "onedata",
            Kind::Session => "session",
            Kind::Gooddata => "gooddata",
            Kind::Static => "static",
            Kind::Command => "command",
            Kind::Http => "http",
            Kind::Oauth2 => "oauth2",
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    pub(crate) default_profile: Option<String>,
    #[serde(default)]
    pub(crate) profiles: BTreeMap<String, RawProfile>,
}

/// A profile table as written; `presets` build the recipes from it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawProfile {
    pub(crate) kind: Kind,
    #[serde(rename = "match")]
    pub(crate) match_prefixes: Option<Vec<String>>,
    pub(crate) refresh_margin: Option<DurationText>,
    pub(crate) url: Option<String>,
    pub(crate) login_url: Option<String>,
    pub(crate) refresh_url: Option<String>,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<SecretSource>,
    pub(crate) account_id: Option<serde_json::Value>,
    pub(crate) bootstrap_token: Option<SecretSource>,
    pub(crate) user_id: Option<String>,
    pub(crate) token_id: Option<String>,
    pub(crate) token: Option<SecretSource>,
    pub(crate) command: Option<CommandLine>,
    pub(crate) lifetime: Option<Lifetime>,
    pub(crate) ca_file: Option<String>,
    #[serde(default)]
    pub(crate) allow_http: bool,
    pub(crate) connect_timeout: Option<DurationText>,
    pub(crate) timeout: Option<DurationText>,
    pub(crate) git_username: Option<String>,
    pub(crate) cargo_token: Option<CargoToken>,
    pub(crate) registry_username: Option<String>,
    pub(crate) index_username: Option<String>,
    pub(crate) login: Option<CallSpec>,
    pub(crate) refresh: Option<CallSpec>,
    pub(crate) logout: Option<CallSpec>,
    #[serde(default)]
    pub(crate) lookup: BTreeMap<String, LookupSpec>,
    pub(crate) reply: Option<ReplySpec>,
    #[serde(default)]
    pub(crate) vars: BTreeMap<String, VarSpec>,
    pub(crate) issuer: Option<String>,
    pub(crate) token_url: Option<String>,
    pub(crate) device_authorization_url: Option<String>,
    pub(crate) authorization_url: Option<String>,
    pub(crate) revocation_url: Option<String>,
    pub(crate) grant: Option<Grant>,
    pub(crate) client_id: Option<String>,
    pub(crate) client_secret: Option<SecretSource>,
    pub(crate) client_auth: Option<ClientAuth>,
    #[serde(default)]
    pub(crate) scopes: Vec<String>,
    pub(crate) audience: Option<String>,
    pub(crate) resource: Option<String>,
    #[serde(default)]
    pub(crate) params: BTreeMap<String, String>,
    pub(crate) serve: Option<Serve>,
    pub(crate) interactive_timeout: Option<DurationText>,
}

/// The OAuth 2.0 grant a profile logs in with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Grant {
    /// RFC 6749 section 4.4: the client's own credentials.
    ClientCredentials,
    /// RFC 6749 section 4.3: a user's password (legacy servers).
    Password,
    /// RFC 8628: a code the user confirms on another device.
    DeviceCode,
    /// RFC 6749 section 4.1 with PKCE (RFC 7636) and a loopback redirect (RFC 8252).
    AuthorizationCode,
}

/// How cargo is given a profile's token: cargo sends what it gets verbatim as the `Authorization` value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum CargoToken {
    /// `Bearer <token>` (the default).
    #[default]
    Bearer,
    /// The token alone, for registries that take it without a scheme.
    Bare,
}

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ClientAuth {
    /// HTTP Basic with the client id and secret (the default).
    ClientSecretBasic,
    /// The client id and secret in the form body.
    ClientSecretPost,
}

/// Which token of an OAuth 2.0 answer is handed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Serve {
    /// The access token (the default).
    AccessToken,
    /// The OpenID Connect ID token (what Kubernetes OIDC clusters want).
    IdToken,
}

/// A duration written as text: `90s`, `10m`, `24h`, `7d`, `1h30m`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DurationText(pub(crate) Duration);

impl<'de> Deserialize<'de> for DurationText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        crate::duration::parse(&text).map(DurationText).map_err(serde::de::Error::custom)
    }
}

/// How long a token lives when its answer does not say: a duration, or `"never"`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lifetime(pub(crate) Option<Duration>);

impl<'de> Deserialize<'de> for Lifetime {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        if text == "never" {
            return Ok(Lifetime(None));
        }
        crate::duration::parse(&text).map(|d| Lifetime(Some(d))).map_err(serde::de::Error::custom)
    }
}

/// A command as a shell line or an argv list.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum CommandLine {
    /// Run with the system's shell (`sh -c`; `cmd /D /S /C` on Windows).
    Shell(String),
    /// Run directly.
    Argv(Vec<String>),
}

/// The value of a key that kind `kind` needs, or the error that says so.
pub(crate) fn require<'a, T>(value: &'a Option<T>, kind: &str, key: &str) -> Result<&'a T, String> {
    value.as_ref().ok_or_else(|| format!("kind {kind} needs `{key}`"))
}
