//! Profiles: the configuration checked across keys and turned into what runs. Each profile gets a [`Source`] (a
//! recipe built by its preset, a static secret, or a command), its network settings and its `match` prefixes;
//! profile choice (argument, `--url` match, environment, default, only profile) is a pure function of the
//! profiles and the environment.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::{self, CargoToken, CommandLine, Kind, RawConfig, RawProfile};
use crate::environment::{self, Env};
use crate::error::{Error, Result};
use crate::fileid::ConfigStamp;
use crate::net::http::{NetOptions, redacted};
use crate::recipe::{Recipe, VarSpec};
use crate::secret::SecretSource;

/// A loaded configuration.
#[derive(Debug)]
pub(crate) struct Config {
    /// Where it was read from (named in errors).
    pub(crate) path: PathBuf,
    /// `default_profile`.
    pub(crate) default_profile: Option<String>,
    /// Profiles by name.
    pub(crate) profiles: BTreeMap<String, Profile>,
    /// Things worth a warning on stderr (a literal secret in a readable file).
    pub(crate) warnings: Vec<String>,
    /// The file's stamp, made from the very bytes parsed (so an edit after that never matches).
    pub(crate) stamp: Option<ConfigStamp>,
}

/// One validated profile.
#[derive(Debug, Clone)]
pub(crate) struct Profile {
    /// Its name (the table key).
    pub(crate) name: String,
    /// Its `kind`.
    pub(crate) kind: Kind,
    /// URL prefixes that select it for `--url`.
    pub(crate) matches: Vec<String>,
    /// Renew this long before expiry.
    pub(crate) refresh_margin: Duration,
    /// How the token is obtained.
    pub(crate) source: Source,
    /// Network settings for its HTTP calls.
    pub(crate) net: NetOptions,
    /// The user name git gets with the token (issue #3).
    pub(crate) git_username: String,
    /// What cargo is given as the `Authorization` value: `Bearer <token>` or the token alone.
    pub(crate) cargo_token: CargoToken,
    /// The user name container tools get with the token; `<token>` makes it an identity token (docker face).
    pub(crate) registry_username: String,
    /// The user name a Python package index gets with the token (the keyring backend, issue #12).
    pub(crate) index_username: String,
    /// True when a secret is written literally in the file (for the permission warning).
    pub(crate) literal_secret: bool,
}

/// How a profile obtains its token.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    /// HTTP calls described by a recipe.
    Recipe(Box<Recipe>),
    /// A fixed secret; never cached.
    Static(SecretSource),
    /// A command that prints a token (or a JSON object with `token` and `expires_at`).
    Command { argv: Vec<String>, lifetime: Option<Duration> },
}

/// Reads the configuration at `path` and checks it; a literal secret in a file others can read is a warning.
pub(crate) fn load(path: &Path) -> Result<Config> {
    let doc = config::read(path)?;
    let mut config = check(doc.raw, path)?;
    config.stamp = doc.stamp;
    if config.profiles.values().any(|p| p.literal_secret) && doc.readable_by_others {
        let (others, fix) = (crate::sys::protect::OTHERS, crate::sys::protect::MAKE_PRIVATE);
        config.warnings.push(format!(
            "{} holds a literal secret and is readable by {others} ({fix}, or use {{ env = ... }})",
            path.display()
        ));
    }
    Ok(config)
}

/// Parses and checks configuration text; `path` is only used in messages.
pub(crate) fn parse(text: &str, path: &Path) -> Result<Config> {
    check(config::parse(text, path)?, path)
}

/// Checks every profile and builds what runs it.
fn check(raw: RawConfig, path: &Path) -> Result<Config> {
    let mut profiles = BTreeMap::new();
    let mut folded = BTreeMap::new();
    for (name, spec) in raw.profiles {
        crate::store::check_name(&name)
            .map_err(|why| Error::Config(format!("{}: profile {name:?}: {why}", path.display())))?;
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

fn build(name: &str, raw: RawProfile) -> std::result::Result<Profile, String> {
    let literal_secret = [&raw.password, &raw.bootstrap_token, &raw.token, &raw.client_secret]
        .iter()
        .any(|s| matches!(s, Some(SecretSource::Literal(_))))
        || raw.vars.values().any(|v| matches!(v, VarSpec::Secret(SecretSource::Literal(_))));
    let source = match raw.kind {
        Kind::Static => Source::Static(raw.token.clone().ok_or("kind static needs `token`")?),
        Kind::Command => Source::Command {
            argv: match raw.command.clone().ok_or("kind command needs `command`")? {
                CommandLine::Shell(line) => crate::sys::child::shell_argv(&line),
                CommandLine::Argv(argv) if !argv.is_empty() => argv,
                CommandLine::Argv(_) => return Err("`command` is an empty list".into()),
            },
            lifetime: raw.lifetime.map_or(Some(Duration::from_secs(3600)), |l| l.0),
        },
        _ => Source::Recipe(Box::new(crate::presets::from_profile(&raw)?)),
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
        git_username: basic_user("git_username", raw.git_username.as_deref(), "oauth2")?,
        cargo_token: raw.cargo_token.unwrap_or_default(),
        registry_username: basic_user("registry_username", raw.registry_username.as_deref(), "oauth2")?,
        index_username: basic_user("index_username", raw.index_username.as_deref(), "__token__")?,
        literal_secret,
    })
}

/// A user name tools send with the token in HTTP Basic auth (`registry_username`, `index_username`), checked: not
/// empty, no `:` (RFC 7617: a user id has none) and no control character. `default` when the key is not set:
/// `oauth2` for registries (what GitLab took with OAuth access tokens, and what registries that ignore the user name
/// accept), `__token__` for package indexes (PyPI, GitLab and others); docs/integrations.md lists what others expect.
fn basic_user(key: &str, raw: Option<&str>, default: &str) -> std::result::Result<String, String> {
    let name = raw.unwrap_or(default);
    if name.is_empty() || name.contains(':') || name.chars().any(char::is_control) {
        return Err(format!(
            "{key} {name:?} cannot be a Basic auth user name (it must be non-empty, without ':' or control characters)"
        ));
    }
    Ok(name.to_owned())
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
    pub(crate) fn choose(&self, name: Option<&str>, url: Option<&str>, env: &Env) -> Result<&Profile> {
        if let Some(name) = name {
            return self.profiles.get(name).ok_or_else(|| self.unknown(format!("no profile named {name:?}")));
        }
        if let Some(url) = url {
            // The URL is shown without its user info and query, which may hold a password.
            let shown = reqwest::Url::parse(url).map_or_else(|_| "it (not a URL)".into(), |u| redacted(&u));
            return self.by_url(url).ok_or_else(|| self.unknown(format!("no profile's `match` covers {shown}")));
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
    pub(crate) fn by_url(&self, url: &str) -> Option<&Profile> {
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
    /// The digest of the settings that decide whose token a cache entry holds (never a secret's value): an entry
    /// made with another one is not this profile's token any more.
    pub(crate) fn fingerprint(&self) -> String {
        match &self.source {
            Source::Recipe(r) => format!("{}-{}", self.kind.name(), r.fingerprint()),
            Source::Command { argv, lifetime } => {
                crate::recipe::fingerprint_of(&format!("command|{argv:?}|{lifetime:?}"))
            }
            Source::Static(_) => String::new(),
        }
    }

    /// True when one of the profile's `match` prefixes covers `url`.
    pub(crate) fn covers(&self, url: &str) -> bool {
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
    fn index_username_defaults_to_token_and_must_be_a_basic_user_name() {
        let c = seeds();
        assert_eq!(c.profiles["od"].index_username, "__token__");
        let with = |name: &str| {
            SEEDS.replacen("account_id = 42\n", &format!("account_id = 42\nindex_username = {name:?}\n"), 1)
        };
        assert_eq!(parse(&with("aws"), Path::new("c.toml")).unwrap().profiles["acme"].index_username, "aws");
        for bad in ["", "a:b", "a\nb"] {
            let e = parse(&with(bad), Path::new("c.toml")).unwrap_err().to_string();
            assert!(e.contains("profile \"acme\": index_username"), "{e}");
        }
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

    #[test]
    fn registry_username_defaults_to_oauth2_and_must_suit_basic_auth() {
        assert_eq!(seeds().profiles["od"].registry_username, "oauth2");
        let with = |name: &str| {
            let text =
                format!("[profiles.r]\nkind = \"static\"\ntoken = {{ env = \"T\" }}\nregistry_username = {name}\n");
            parse(&text, Path::new("config.toml"))
        };
        assert_eq!(with("\"<token>\"").unwrap().profiles["r"].registry_username, "<token>");
        for wrong in ["\"\"", "\"a:b\"", "\"a\\nb\""] {
            let e = with(wrong).unwrap_err();
            assert!(e.to_string().contains("registry_username"), "{wrong}: {e}");
        }
    }

    #[test]
    fn fingerprints_do_not_change_by_accident() {
        let toml = format!(
            "{SEEDS}{}",
            r#"
[profiles.oidc]
kind = "oauth2"
issuer = "https://id.example.com"
client_id = "cli"
grant = "device_code"
[profiles.cmd]
kind = "command"
command = "vault read -field=token secret/x"
[profiles.st]
kind = "static"
token = { env = "T" }
"#
        );
        // A changed fingerprint makes every cached entry of that kind a stranger: tokens are minted again, and a
        // GoodData token that never expires is left on the server unrevoked. Change these only on purpose.
        let pinned = [
            ("acme", "session-55cfc5edb83bb12e"),
            // A command line's fingerprint includes the shell that runs it (`sh -c`; `cmd /D /S /C` on Windows).
            ("cmd", if cfg!(windows) { "c6226ce706498946" } else { "420afe2eb5d35e50" }),
            ("gd", "gooddata-ff19af8d8a773bbf"),
            ("od", "onedata-ead69c2683e6d844"),
            ("oidc", "oauth2-7fbe3f0ee7761247"),
            ("st", ""),
        ];
        let config = parse(&toml, Path::new("c.toml")).unwrap();
        let got: Vec<(&str, String)> = config.profiles.values().map(|p| (p.name.as_str(), p.fingerprint())).collect();
        let pinned: Vec<(&str, String)> = pinned.iter().map(|(n, f)| (*n, (*f).to_owned())).collect();
        assert_eq!(got, pinned);
    }
}
