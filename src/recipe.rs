//! Login recipes: the HTTP calls that obtain, renew and revoke a token, and where each answer carries it.
//!
//! `kind = "http"` profiles write a recipe out in full; the seed kinds (`onedata`, `session`, `gooddata`) are
//! presets that fill one in from a few keys, so one engine (`login`) runs them all (issue #2: "the three seed kinds
//! must be presets of this one engine"). docs/configuration.md shows each preset as the `http` recipe it equals.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

use crate::config::{Kind, RawProfile};
use crate::secret::SecretSource;

/// A complete recipe.
#[derive(Debug, Clone)]
pub struct Recipe {
    /// Obtains a token from credentials.
    pub login: CallSpec,
    /// Renews it with `{refresh_token}`.
    pub refresh: Option<CallSpec>,
    /// Revokes it server-side.
    pub logout: Option<CallSpec>,
    /// Fills a variable that is not configured by asking the server (GoodData's user id).
    pub lookups: BTreeMap<String, LookupSpec>,
    /// Where the answers carry the token.
    pub reply: ReplySpec,
    /// How long a token lives when the answer does not say; `None` for never.
    pub lifetime: Option<Duration>,
    /// Values for placeholders.
    pub vars: BTreeMap<String, VarSpec>,
    /// A step the user takes part in before the login call (OAuth 2.0 device code or browser).
    pub interactive: Option<Interactive>,
}

/// An interactive step of a login; it needs a terminal and is bounded by `timeout`.
#[derive(Debug, Clone)]
pub enum Interactive {
    /// RFC 8628: `authorize` gets a device and user code; the login call is then polled.
    DeviceCode { authorize: CallSpec, timeout: Duration },
    /// RFC 6749 4.1 + PKCE: open `authorization_url` with these query templates, wait for the loopback redirect.
    Browser { authorization_url: String, query: Vec<(String, String)>, timeout: Duration },
}

/// One HTTP call.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallSpec {
    /// The method; POST for login and refresh, DELETE for logout, when not given.
    pub method: Option<String>,
    /// The URL template.
    pub url: String,
    /// URLs tried in turn when the previous one answers 404 (older server versions).
    #[serde(default)]
    pub fallback_urls: Vec<String>,
    /// Header templates.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A JSON body template: a string that is exactly `{x}` takes x's value and type; `{x?}` drops the member
    /// when x is unset.
    pub json: Option<serde_json::Value>,
    /// A form body (application/x-www-form-urlencoded) of templates.
    pub form: Option<BTreeMap<String, String>>,
    /// On 409 Conflict, draw a new `{nonce}` and try again (GoodData token ids).
    #[serde(default)]
    pub retry_on_conflict: bool,
}

/// A call whose answer fills one variable.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupSpec {
    /// The method (GET when not given).
    pub method: Option<String>,
    /// The URL template.
    pub url: String,
    /// Header templates.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// JSON pointer (RFC 6901) to the value in the answer.
    pub pointer: String,
    /// URLs tried in turn when the previous one answers 404.
    #[serde(default)]
    pub fallback_urls: Vec<String>,
}

/// Where an answer carries the token and its expiry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplySpec {
    /// Response headers that may carry the token (first present wins); a `Bearer ` prefix is stripped.
    #[serde(default)]
    pub token_header: Vec<String>,
    /// JSON pointer to the token in the body.
    pub token_pointer: Option<String>,
    /// JSON pointer to a refresh token.
    pub refresh_token_pointer: Option<String>,
    /// JSON pointer to the refresh token's expiry time (RFC 3339 or epoch seconds).
    pub refresh_expires_at_pointer: Option<String>,
    /// JSON pointer to the refresh token's lifetime in seconds.
    pub refresh_expires_in_pointer: Option<String>,
    /// JSON pointer to the token's lifetime in seconds, counted from when the request was sent.
    pub expires_in_pointer: Option<String>,
    /// JSON pointer to the token's expiry time (RFC 3339 or epoch seconds).
    pub expires_at_pointer: Option<String>,
    /// Read the expiry from the token's JWT `exp` claim when the fields above say nothing (default true).
    pub jwt_exp: Option<bool>,
    /// JSON pointer to a success flag; `false` there is a rejection.
    pub success_pointer: Option<String>,
    /// JSON pointer to the server's message, shown when it rejects or fails.
    pub message_pointer: Option<String>,
    /// JSON pointer to an error code (OAuth 2.0: `/error`), shown before the message.
    pub error_pointer: Option<String>,
    /// Error codes that mean the credentials were refused (OAuth 2.0: `invalid_grant`, ...), whatever the status.
    #[serde(default)]
    pub rejection_errors: Vec<String>,
}

/// A placeholder value in `vars`: a plain value (strings may use `{hostname}` and `{nonce}`) or a secret source.
#[derive(Debug, Clone, PartialEq)]
pub enum VarSpec {
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

/// Builds the recipe of a profile of any HTTP kind.
pub fn from_profile(raw: &RawProfile) -> Result<Recipe, String> {
    let mut vars = common_vars(raw);
    let recipe = match raw.kind {
        Kind::Onedata => onedata(raw)?,
        Kind::Session => session(raw)?,
        Kind::Gooddata => gooddata(raw, &mut vars)?,
        Kind::Http => http(raw)?,
        Kind::Oauth2 => crate::oauth::preset(raw, &mut vars)?,
        Kind::Static | Kind::Command => {
            return Err(format!("kind {} has no recipe", raw.kind.name()));
        }
    };
    for (name, value) in &raw.vars {
        vars.insert(name.clone(), value.clone());
    }
    Ok(Recipe { vars, ..recipe })
}

/// The profile keys every recipe can use as placeholders.
fn common_vars(raw: &RawProfile) -> BTreeMap<String, VarSpec> {
    let mut vars = BTreeMap::new();
    let plain = [
        ("url", raw.url.as_deref()),
        ("login_url", raw.login_url.as_deref()),
        ("refresh_url", raw.refresh_url.as_deref()),
        ("username", raw.username.as_deref()),
        ("user_id", raw.user_id.as_deref()),
        ("token_id", raw.token_id.as_deref()),
    ];
    for (name, value) in plain {
        if let Some(v) = value {
            // `{url}/api/...` must not become `//api` when the URL was written with a trailing slash.
            let v = if name.ends_with("url") { v.trim_end_matches('/') } else { v };
            vars.insert(name.to_owned(), VarSpec::Plain(v.to_owned().into()));
        }
    }
    if let Some(id) = &raw.account_id {
        vars.insert("account_id".into(), VarSpec::Plain(id.clone()));
    }
    for (name, source) in [("password", &raw.password), ("bootstrap_token", &raw.bootstrap_token)] {
        if let Some(s) = source {
            vars.insert(name.into(), VarSpec::Secret(s.clone()));
        }
    }
    vars
}

fn require<'a, T>(value: &'a Option<T>, kind: &str, key: &str) -> Result<&'a T, String> {
    value.as_ref().ok_or_else(|| format!("kind {kind} needs `{key}`"))
}

/// A call, with a JSON body or none.
pub fn call(method: &str, url: &str, json: Option<serde_json::Value>) -> CallSpec {
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
pub fn bare(login: CallSpec, reply: ReplySpec, lifetime: Option<Duration>) -> Recipe {
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

/// ONE DATA: the JWT comes back in the `Authorization` header and lives 24 h; there is no refresh.
fn onedata(raw: &RawProfile) -> Result<Recipe, String> {
    require(&raw.url, "onedata", "url")?;
    require(&raw.username, "onedata", "username")?;
    require(&raw.password, "onedata", "password")?;
    let login =
        call("POST", "{url}/api/v1/users/login", Some(json!({"username": "{username}", "password": "{password}"})));
    let reply = ReplySpec {
        token_header: vec!["Authorization".into(), "X-Auth-Token".into()],
        message_pointer: Some("/message".into()),
        ..ReplySpec::default()
    };
    let lifetime = raw.lifetime.map_or(Some(Duration::from_secs(24 * 3600)), |l| l.0);
    Ok(bare(login, reply, lifetime))
}

/// A session API: token, lifetime and a rotating refresh token in a JSON answer.
fn session(raw: &RawProfile) -> Result<Recipe, String> {
    require(&raw.login_url, "session", "login_url")?;
    require(&raw.username, "session", "username")?;
    require(&raw.password, "session", "password")?;
    let body = json!({"username": "{username}", "password": "{password}", "account_id": "{account_id?}"});
    let reply = ReplySpec {
        token_pointer: Some("/token".into()),
        refresh_token_pointer: Some("/refreshToken".into()),
        refresh_expires_at_pointer: Some("/refreshTokenExpiration".into()),
        expires_in_pointer: Some("/tokenLifetime".into()),
        expires_at_pointer: Some("/tokenExpiration".into()),
        success_pointer: Some("/success".into()),
        message_pointer: Some("/message".into()),
        ..ReplySpec::default()
    };
    let mut recipe = bare(call("POST", "{login_url}", Some(body)), reply, raw.lifetime.and_then(|l| l.0));
    if raw.refresh_url.is_some() {
        recipe.refresh = Some(call("POST", "{refresh_url}", Some(json!({"refreshToken": "{refresh_token}"}))));
    }
    Ok(recipe)
}

/// GoodData.CN: mint a personal API token once with a bootstrap token, keep it, delete it on logout.
fn gooddata(raw: &RawProfile, vars: &mut BTreeMap<String, VarSpec>) -> Result<Recipe, String> {
    require(&raw.url, "gooddata", "url")?;
    require(&raw.bootstrap_token, "gooddata", "bootstrap_token")?;
    vars.entry("token_id".into()).or_insert_with(|| VarSpec::Plain("tokenfob-{hostname}-{nonce}".into()));
    let mut headers = BTreeMap::new();
    headers.insert("Authorization".to_owned(), "Bearer {bootstrap_token}".to_owned());
    let path = "/entities/users/{user_id}/apiTokens";
    let mut mint =
        call("POST", &format!("{{url}}/api/v1{path}"), Some(json!({"data": {"id": "{token_id}", "type": "apiToken"}})));
    // GoodData.CN 1.x served the same resource without the /v1.
    mint.fallback_urls = vec![format!("{{url}}/api{path}")];
    mint.retry_on_conflict = true;
    mint.headers = headers.clone();
    mint.headers.insert("Content-Type".into(), "application/vnd.gooddata.api+json".into());
    let mut logout = call("DELETE", &format!("{{url}}/api/v1{path}/{{token_id}}"), None);
    logout.fallback_urls = vec![format!("{{url}}/api{path}/{{token_id}}")];
    logout.headers = headers.clone();
    let profile = LookupSpec {
        method: None,
        url: "{url}/api/v1/profile".into(),
        headers,
        pointer: "/userId".into(),
        fallback_urls: Vec::new(),
    };
    let reply = ReplySpec {
        token_pointer: Some("/data/attributes/bearerToken".into()),
        jwt_exp: Some(false),
        message_pointer: Some("/detail".into()),
        ..ReplySpec::default()
    };
    let mut recipe = bare(mint, reply, None);
    recipe.logout = Some(logout);
    recipe.lookups.insert("user_id".into(), profile);
    Ok(recipe)
}

/// A recipe written out in full.
fn http(raw: &RawProfile) -> Result<Recipe, String> {
    let login = require(&raw.login, "http", "login")?.clone();
    let reply = require(&raw.reply, "http", "reply")?.clone();
    if reply.token_header.is_empty() && reply.token_pointer.is_none() {
        return Err("[reply] needs `token_header` or `token_pointer`".into());
    }
    if raw.refresh.is_some() && reply.refresh_token_pointer.is_none() {
        return Err("[refresh] needs [reply] `refresh_token_pointer`".into());
    }
    let mut recipe = bare(login, reply, raw.lifetime.and_then(|l| l.0));
    recipe.refresh = raw.refresh.clone();
    recipe.logout = raw.logout.clone();
    recipe.lookups = raw.lookup.clone();
    Ok(recipe)
}

impl Recipe {
    /// A stable digest of everything that decides whose token this is (kind-independent: URLs, bodies, user,
    /// account, ids, and where secrets come from, but never a secret's value).
    pub fn fingerprint(&self) -> String {
        fingerprint_of(&format!(
            "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
            self.login, self.refresh, self.lookups, self.reply, self.vars, self.interactive
        ))
    }
}

/// FNV-1a 64 of `text`, as 16 hex digits: stable across builds, unlike `DefaultHasher`.
pub fn fingerprint_of(text: &str) -> String {
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Source, parse};
    use std::path::Path;

    fn recipe_of(toml: &str) -> Recipe {
        let config = parse(toml, Path::new("c.toml")).unwrap();
        match &config.profiles.values().next().unwrap().source {
            Source::Recipe(r) => (**r).clone(),
            other => panic!("not a recipe: {other:?}"),
        }
    }

    const OD: &str = "[profiles.od]\nkind = \"onedata\"\nurl = \"https://od.example.com/\"\nusername = \"bot\"\npassword = { env = \"PW\" }\n";

    #[test]
    fn onedata_preset_posts_credentials_and_reads_the_header() {
        let r = recipe_of(OD);
        assert_eq!(r.login.url, "{url}/api/v1/users/login");
        assert_eq!(r.vars["url"], VarSpec::Plain("https://od.example.com".into()));
        assert_eq!(r.reply.token_header, ["Authorization", "X-Auth-Token"]);
        assert_eq!(r.lifetime, Some(Duration::from_secs(86_400)));
        assert!(r.refresh.is_none());
    }

    #[test]
    fn fingerprint_changes_with_identity_but_not_with_secret_values() {
        let base = recipe_of(OD).fingerprint();
        assert_eq!(base, recipe_of(OD).fingerprint());
        assert_ne!(base, recipe_of(&OD.replace("bot", "other")).fingerprint());
        assert_ne!(base, recipe_of(&OD.replace("od.example.com/", "od2.example.com")).fingerprint());
        let lit = |pw: &str| recipe_of(&OD.replace("{ env = \"PW\" }", &format!("\"{pw}\""))).fingerprint();
        assert_eq!(lit("one"), lit("two"));
    }

    #[test]
    fn http_recipe_needs_a_token_location() {
        let toml = "[profiles.h]\nkind = \"http\"\n[profiles.h.login]\nurl = \"https://x/login\"\n[profiles.h.reply]\n";
        let e = parse(toml, Path::new("c.toml")).unwrap_err().to_string();
        assert!(e.contains("token_header"), "{e}");
    }

    #[test]
    fn vars_take_plain_values_and_secret_sources() {
        let toml = "[profiles.h]\nkind = \"http\"\nvars = { tenant = \"t1\", n = 3, key = { env = \"K\" } }\n\
                    [profiles.h.login]\nurl = \"https://x/login\"\n[profiles.h.reply]\ntoken_pointer = \"/t\"\n";
        let r = recipe_of(toml);
        assert_eq!(r.vars["tenant"], VarSpec::Plain("t1".into()));
        assert_eq!(r.vars["n"], VarSpec::Plain(3.into()));
        assert_eq!(r.vars["key"], VarSpec::Secret(SecretSource::Env("K".into())));
    }
}
