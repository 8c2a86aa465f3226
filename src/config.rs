//! The configuration file: TOML text in, validated profiles out.
//!
//! [`parse`] turns text into a [`Config`] (so it is tested on strings), [`load`] reads the file first. Each profile
//! becomes a [`Profile`] whose [`Source`] says how its token is obtained: an HTTP recipe (the seed kinds are presets
//! of it, see `recipe`), a static secret, or a command. Profile choice (argument, `--url` match, environment,
//! default, only profile) lives here too, as a pure function of the config and the environment.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::environment::{self, Env};
use crate::error::{Error, Result};
use crate::recipe::{self, CallSpec, LookupSpec, Recipe, ReplySpec, VarSpec};
use crate::secret::SecretSource;

/// A loaded configuration.
#[derive(Debug)]
pub struct Config {
    /// Where it was read from (named in errors).
    pub path: PathBuf,
    /// `default_profile`.
    pub default_profile: Option<String>,
    /// Profiles by name.
    pub profiles: BTreeMap<String, Profile>,
    /// Things worth a warning on stderr (a literal secret in a readable file).
    pub warnings: Vec<String>,
    /// The file's identity, taken before it was read (so an edit after that never matches).
    pub stamp: Option<crate::cache::ConfigStamp>,
}

/// One validated profile.
#[derive(Debug)]
pub struct Profile {
    /// Its name (the table key).
    pub name: String,
    /// Its `kind`.
    pub kind: Kind,
    /// URL prefixes that select it for `--url`.
    pub matches: Vec<String>,
    /// Renew this long before expiry.
    pub refresh_margin: Duration,
    /// How the token is obtained.
    pub source: Source,
    /// Network settings for its HTTP calls.
    pub net: NetOptions,
    /// The user name git gets with the token (issue #3).
    pub git_username: String,
    /// True when a secret is written literally in the file (for the permission warning).
    pub literal_secret: bool,
}

/// How a profile obtains its token.
#[derive(Debug)]
pub enum Source {
    /// HTTP calls described by a recipe.
    Recipe(Box<Recipe>),
    /// A fixed secret; never cached.
    Static(SecretSource),
    /// A command that prints a token (or a JSON object with `token` and `expires_at`).
    Command { argv: Vec<String>, lifetime: Option<Duration> },
}

/// Network settings of one profile.
#[derive(Debug, Clone, Default)]
pub struct NetOptions {
    /// Extra PEM roots trusted besides the operating system's.
    pub ca_file: Option<PathBuf>,
    /// Allow `http://` to non-loopback hosts.
    pub allow_http: bool,
    /// Connect timeout (default 10 s).
    pub connect_timeout: Duration,
    /// Whole-request timeout (default 30 s).
    pub timeout: Duration,
}

/// The profile kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
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
    pub fn name(self) -> &'static str {
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
struct RawConfig {
    default_profile: Option<String>,
    #[serde(default)]
    profiles: BTreeMap<String, RawProfile>,
}

/// A profile table as written; `recipe` builds the seed presets from it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProfile {
    pub kind: Kind,
    #[serde(rename = "match")]
    pub match_prefixes: Option<Vec<String>>,
    pub refresh_margin: Option<DurationText>,
    pub url: Option<String>,
    pub login_url: Option<String>,
    pub refresh_url: Option<String>,
    pub username: Option<String>,
    pub password: Option<SecretSource>,
    pub account_id: Option<serde_json::Value>,
    pub bootstrap_token: Option<SecretSource>,
    pub user_id: Option<String>,
    pub token_id: Option<String>,
    pub token: Option<SecretSource>,
    pub command: Option<CommandLine>,
    pub lifetime: Option<Lifetime>,
    pub ca_file: Option<String>,
    #[serde(default)]
    pub allow_http: bool,
    pub connect_timeout: Option<DurationText>,
    pub timeout: Option<DurationText>,
    pub git_username: Option<String>,
    pub login: Option<CallSpec>,
    pub refresh: Option<CallSpec>,
    pub logout: Option<CallSpec>,
    #[serde(default)]
    pub lookup: BTreeMap<String, LookupSpec>,
    pub reply: Option<ReplySpec>,
    #[serde(default)]
    pub vars: BTreeMap<String, VarSpec>,
    pub issuer: Option<String>,
    pub token_url: Option<String>,
    pub device_authorization_url: Option<String>,
    pub authorization_url: Option<String>,
    pub revocation_url: Option<String>,
    pub grant: Option<Grant>,
    pub client_id: Option<String>,
    pub client_secret: Option<SecretSource>,
    pub client_auth: Option<ClientAuth>,
    #[serde(default)]
    pub scopes: Vec<String>,
    pub audience: Option<String>,
    pub resource: Option<String>,
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    pub serve: Option<Serve>,
    pub interactive_timeout: Option<DurationText>,
}

/// The OAuth 2.0 grant a profile logs in with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grant {
    /// RFC 6749 section 4.4: the client's own credentials.
    ClientCredentials,
    /// RFC 6749 section 4.3: a user's password (legacy servers).
    Password,
    /// RFC 8628: a code the user confirms on another device.
    DeviceCode,
    /// RFC 6749 section 4.1 with PKCE (RFC 7636) and a loopback redirect (RFC 8252).
    AuthorizationCode,
}

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// HTTP Basic with the client id and secret (the default).
    ClientSecretBasic,
    /// The client id and secret in the form body.
    ClientSecretPost,
}

/// Which token of an OAuth 2.0 answer is handed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Serve {
    /// The access token (the default).
    AccessToken,
    /// The OpenID Connect ID token (what Kubernetes OIDC clusters want).
    IdToken,
}

/// A duration written as text: `90s`, `10m`, `24h`, `7d`, `1h30m`.
#[derive(Debug, Clone, Copy)]
pub struct DurationText(pub Duration);

impl<'de> Deserialize<'de> for DurationText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        crate::duration::parse(&text).map(DurationText).map_err(serde::de::Error::custom)
    }
}

/// How long a token lives when its answer does not say: a duration, or `"never"`.
#[derive(Debug, Clone, Copy)]
pub struct Lifetime(pub Option<Duration>);

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
pub enum CommandLine {
    /// Run with `sh -c`.
    Shell(String),
    /// Run directly.
    Argv(Vec<String>),
}

/// Reads and parses the configuration at `path`; its stamp is made from the very bytes parsed.
pub fn load(path: &Path) -> Result<Config> {
    let unreadable = |why: String| {
        Error::Config(format!(
            "reading configuration {}: {why} (create it, or point --config or {} at one; see docs/configuration.md)",
            path.display(),
            environment::CONFIG
        ))
    };
    let (bytes, meta) =
        crate::paths::read_regular(path, crate::cache::MAX_CONFIG).map_err(|e| unreadable(e.to_string()))?;
    let stamp = crate::cache::ConfigStamp::new(path, &meta, &bytes);
    let text = std::str::from_utf8(&bytes).map_err(|_| unreadable("it is not UTF-8 text".into()))?;
    let mut config = parse(text, path)?;
    config.stamp = stamp;
    if has_literal_secret(&config) && std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o044 != 0 {
        config.warnings.push(format!(
            "{} holds a literal secret and is readable by group or others (chmod 600 it, or use {{ env = ... }})",
            path.display()
        ));
    }
    Ok(config)
}

fn has_literal_secret(config: &Config) -> bool {
    config.profiles.values().any(|p| p.literal_secret)
}

/// Parses configuration text; `path` is only used in messages.
pub fn parse(text: &str, path: &Path) -> Result<Config> {
    let raw: RawConfig = toml::from_str(text).map_err(|e| toml_error(&e, text, path))?;
    let mut profiles = BTreeMap::new();
    let mut folded = BTreeMap::new();
    for (name, spec) in raw.profiles {
        check_name(&name).map_err(|why| Error::Config(format!("{}: profile {name:?}: {why}", path.display())))?;
        // A profile name is a file name, and on a case-insensitive file system (macOS) `Work` and `work` would
        // share one cache file and one lock.
        if let Some(other) = folded.insert(name.to_ascii_lowercase(), name.clone()) {
            return Err(Error::Config(format!(
                "{}: profiles {other:?} and {name:?} differ only in case, and would share cache files on a \
                 case-insensitive file system (rename one)",
                path.display()
            )));
        }
        let profile =
            build(&name, spec).map_err(|why| Error::Config(format!("{}: profile {name:?}: {why}", path.display())))?;
        profiles.insert(name, profile);
    }
    if let Some(d) = &raw.default_profile
        && !profiles.contains_key(d)
    {
        return Err(Error::Config(format!(
            "{}: default_profile {d:?} names no profile (define [profiles.{d}] or fix the name)",
            path.display()
        )));
    }
    Ok(Config {
        path: path.to_owned(),
        default_profile: raw.default_profile,
        profiles,
        warnings: Vec::new(),
        stamp: None,
    })
}

/// One line: `file:line:col: message`, from a TOML error and its span.
fn toml_error(err: &toml::de::Error, text: &str, path: &Path) -> Error {
    let message = without_value(&err.message().trim().replace('\n', " "));
    match err.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            Error::Config(format!("{}:{line}:{column}: {message}", path.display()))
        }
        None => Error::Config(format!("{}: {message}", path.display())),
    }
}

/// Drops the quoted value from "invalid type/value" messages: the value may be a secret typed in the wrong form
/// (`password = 48151623`), and the line and column already say where it is.
fn without_value(message: &str) -> String {
    if !(message.starts_with("invalid type:") || message.starts_with("invalid value:")) {
        return message.to_owned();
    }
    match message.find('`').and_then(|start| Some((start, start + 1 + message[start + 1..].find('`')?))) {
        Some((start, end)) => format!("{}{}", message[..start].trim_end(), &message[end + 1..]),
        None => message.to_owned(),
    }
}

/// Checks a profile name: it names a file in the cache directory, so it must be a plain file name.
pub fn check_name(name: &str) -> std::result::Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err("a profile name is 1-64 letters, digits, '-', '_' or '.', not starting with '.'".into())
    }
}

fn build(name: &str, raw: RawProfile) -> std::result::Result<Profile, String> {
    let literal_secret = [&raw.password, &raw.bootstrap_token, &raw.token, &raw.client_secret]
        .iter()
        .any(|s| matches!(s, Some(SecretSource::Literal(_))))
        || raw.vars.values().any(|v| matches!(v, VarSpec::Secret(SecretSource::Literal(_))));
    let source = match raw.kind {
        Kind::Static => Source::Static(raw.token.clone().ok_or("kind static needs `token`")?),
        Kind::Command => Source::Command {
            argv: match raw.command.clone().ok_or("kind command needs `command`")? {
                CommandLine::Shell(line) => vec!["sh".into(), "-c".into(), line],
                CommandLine::Argv(argv) if !argv.is_empty() => argv,
                CommandLine::Argv(_) => return Err("`command` is an empty list".into()),
            },
            lifetime: raw.lifetime.map_or(Some(Duration::from_secs(3600)), |l| l.0),
        },
        _ => Source::Recipe(Box::new(recipe::from_profile(&raw)?)),
    };
    let matches = match &raw.match_prefixes {
        Some(list) => list.clone(),
        None => default_match(&raw).into_iter().collect(),
    };
    for m in &matches {
        reqwest::Url::parse(m).map_err(|e| format!("match prefix {m:?} is not a URL: {e}"))?;
    }
    let net = NetOptions {
        ca_file: raw.ca_file.as_deref().map(PathBuf::from),
        allow_http: raw.allow_http,
        connect_timeout: raw.connect_timeout.map_or(Duration::from_secs(10), |d| d.0),
        timeout: raw.timeout.map_or(Duration::from_secs(30), |d| d.0),
    };
    Ok(Profile {
        name: name.to_owned(),
        kind: raw.kind,
        matches,
        refresh_margin: raw.refresh_margin.map_or(Duration::from_secs(60), |d| d.0),
        source,
        net,
        git_username: raw.git_username.clone().unwrap_or_else(|| "oauth2".into()),
        literal_secret,
    })
}

/// The default `match`: the profile's `url`, else the origin of its login URL.
fn default_match(raw: &RawProfile) -> Option<String> {
    if let Some(url) = &raw.url {
        return Some(url.clone());
    }
    // For oauth2 the "login URL" is the token endpoint, or the issuer when it is discovered.
    let login = raw.login_url.as_deref().or(raw.login.as_ref().map(|c| c.url.as_str()));
    let login = login.or(raw.token_url.as_deref()).or(raw.issuer.as_deref())?;
    let url = reqwest::Url::parse(login).ok()?;
    Some(url.origin().ascii_serialization())
}

impl Config {
    /// Picks a profile: `name`, else the longest `match` of `url`, else `$TOKENFOB_PROFILE`, else
    /// `default_profile`, else the only profile.
    ///
    /// A `url` that matches no profile is an error rather than a fall-through to the default: handing a token for
    /// one host to a request for another would leak it (docs/configuration.md).
    pub fn choose(&self, name: Option<&str>, url: Option<&str>, env: &Env) -> Result<&Profile> {
        if let Some(name) = name {
            return self.profiles.get(name).ok_or_else(|| self.unknown(format!("no profile named {name:?}")));
        }
        if let Some(url) = url {
            return self.by_url(url).ok_or_else(|| self.unknown(format!("no profile's `match` covers {url}")));
        }
        let fallback = env.get(environment::PROFILE).or(self.default_profile.as_deref());
        if let Some(name) = fallback {
            return self.profiles.get(name).ok_or_else(|| self.unknown(format!("no profile named {name:?}")));
        }
        match self.profiles.len() {
            1 => Ok(self.profiles.values().next().expect("one profile")),
            0 => Err(self.unknown(format!("{} defines no profiles", self.path.display()))),
            _ => Err(self.unknown("several profiles and none chosen (name one, or set default_profile)".into())),
        }
    }

    /// The profile whose `match` prefix covers `url` most specifically; on a tie, the first by name.
    pub fn by_url(&self, url: &str) -> Option<&Profile> {
        let url = reqwest::Url::parse(url).ok()?;
        let scored = self
            .profiles
            .values()
            .filter_map(|p| Some((p.matches.iter().filter_map(|m| prefix_score(m, &url)).max()?, p)));
        // Profiles come in name order, so keeping the first of equal scores makes a tie deterministic.
        scored
            .fold(None, |best: Option<(usize, &Profile)>, (score, p)| match best {
                Some((b, _)) if b >= score => best,
                _ => Some((score, p)),
            })
            .map(|(_, p)| p)
    }

    fn unknown(&self, why: String) -> Error {
        let known = self.profiles.keys().cloned().collect::<Vec<_>>().join(", ");
        Error::UnknownProfile { why, known: if known.is_empty() { "none".into() } else { known } }
    }
}

impl Profile {
    /// True when one of the profile's `match` prefixes covers `url`.
    pub fn covers(&self, url: &str) -> bool {
        reqwest::Url::parse(url).is_ok_and(|u| self.matches.iter().any(|m| prefix_score(m, &u).is_some()))
    }
}

/// How well `prefix` covers `url`: same scheme, host and port, and a path prefix that ends at a `/` boundary.
fn prefix_score(prefix: &str, url: &reqwest::Url) -> Option<usize> {
    let p = reqwest::Url::parse(prefix).ok()?;
    if p.scheme() != url.scheme()
        || p.host_str() != url.host_str()
        || p.port_or_known_default() != url.port_or_known_default()
    {
        return None;
    }
    let (pp, up) = (p.path(), url.path());
    let boundary = pp.ends_with('/') || up.len() == pp.len() || up[pp.len()..].starts_with('/');
    (up.starts_with(pp) && boundary).then_some(pp.len() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEEDS: &str = r#"
default_profile = "od"

[profiles.od]
kind = "onedata"
url = "https://od.example.com"
username = "bot@example.com"
password = { env = "OD_PASSWORD" }

[profiles.acme]
kind = "session"
login_url = "https://api.example.com/rest/v1/login"
refresh_url = "https://api.example.com/rest/v1/refresh"
username = "alice"
password = { command = "pass show acme" }
account_id = 42

[profiles.gd]
kind = "gooddata"
url = "https://analytics.example.com"
bootstrap_token = { env = "GDC_API_TOKEN" }
user_id = "john.doe"
match = ["https://analytics.example.com/api/", "https://analytics.example.com/special/x"]
refresh_margin = "5m"
"#;

    fn seeds() -> Config {
        parse(SEEDS, Path::new("config.toml")).unwrap()
    }

    #[test]
    fn parses_the_issue_example() {
        let c = seeds();
        assert_eq!(c.default_profile.as_deref(), Some("od"));
        assert_eq!(c.profiles["od"].kind, Kind::Onedata);
        assert_eq!(c.profiles["od"].matches, vec!["https://od.example.com".to_string()]);
        assert_eq!(c.profiles["acme"].matches, vec!["https://api.example.com".to_string()]);
        assert_eq!(c.profiles["gd"].refresh_margin, Duration::from_secs(300));
        assert_eq!(c.profiles["od"].refresh_margin, Duration::from_secs(60));
    }

    #[test]
    fn chooses_profiles_in_the_documented_order() {
        let c = seeds();
        let none = Env::default();
        assert_eq!(c.choose(Some("acme"), None, &none).unwrap().name, "acme");
        assert_eq!(c.choose(None, Some("https://api.example.com/rest/v1/x"), &none).unwrap().name, "acme");
        assert_eq!(c.choose(None, Some("https://analytics.example.com/special/x/y"), &none).unwrap().name, "gd");
        assert_eq!(c.choose(None, None, &Env::from_pairs([("TOKENFOB_PROFILE", "gd")])).unwrap().name, "gd");
        assert_eq!(c.choose(None, None, &none).unwrap().name, "od");
        let e = c.choose(Some("nope"), None, &none).unwrap_err();
        assert_eq!(e.code(), "unknown_profile");
        assert!(e.to_string().contains("acme, gd, od"), "{e}");
    }

    #[test]
    fn url_match_respects_host_and_path_boundaries() {
        let c = seeds();
        assert!(c.by_url("https://od.example.com.evil.net/").is_none());
        assert!(c.by_url("https://analytics.example.com/special/xy").is_none());
        assert!(c.by_url("http://od.example.com/").is_none());
        assert_eq!(c.by_url("https://OD.example.com:443/api").unwrap().name, "od");
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let e = parse("[profiles.x]\nkind = \"ldap\"\n", Path::new("c.toml")).unwrap_err().to_string();
        assert!(e.starts_with("c.toml:2:8: unknown variant `ldap`"), "{e}");
        let e =
            parse("[profiles.x]\nkind = \"static\"\ntoken = \"t\"\nrefresh_margin = \"soon\"\n", Path::new("c.toml"))
                .unwrap_err()
                .to_string();
        assert!(e.starts_with("c.toml:4:18: bad duration \"soon\""), "{e}");
        let e =
            parse("[profiles.x]\nkind = \"static\"\ntoken = 48151623\n", Path::new("c.toml")).unwrap_err().to_string();
        assert!(e.starts_with("c.toml:3:9: invalid type: integer, expected a string"), "{e}");
        assert!(!e.contains("48151623"), "a mistyped secret is not repeated: {e}");
        let e = parse("[profiles.x]\nkind = \"onedata\"\n", Path::new("c.toml")).unwrap_err().to_string();
        assert!(e.contains("profile \"x\"") && e.contains("`url`"), "{e}");
        let e = parse("[profiles.x]\nkind = \"static\"\ntoken = \"t\"\ncolour = 1\n", Path::new("c.toml")).unwrap_err();
        assert!(e.to_string().contains("unknown field `colour`"), "{e}");
    }
}
