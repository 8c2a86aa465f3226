//! `tokenfob cargo-credential`: cargo's credential-provider protocol, version 1 (cargo 1.74+), for alternative
//! registries that demand a token.
//!
//! cargo runs a provider as `PATH --cargo-plugin` (`cli::command_line` turns that flag into this subcommand), with
//! the arguments configured after PATH in the request's `args`. tokenfob writes the hello `{"v":[1]}`, then answers
//! each request line with one line until stdin ends (cargo sends one request, then closes stdin, and requires exit
//! status 0 whatever the answer, so every failure is an `Err` answer on stdout and the exit is 0). The profile is
//! `args[0]` if given, else the one whose `match` covers the index URL (without cargo's `sparse+` marker); either
//! way its `match` must cover the index URL, since cargo also asks a globally configured provider about registries
//! named by dependencies. Only sparse indexes are served: a git index is `url-not-supported` (see `index_url`), as
//! is a URL no profile covers (cargo then tries its next provider).
//! `get` answers the token, as `Bearer <token>` or bare (the profile's `cargo_token`), with `cache: "expires"` at
//! the moment tokenfob itself would renew; `login` and `logout` are tokenfob's own (`logout` with nothing cached is
//! `not-found`, which cargo reports as not logged in); any other kind is `operation-not-supported`. Lines are capped
//! as in the JSON face, and a line that is not a request gets an `other` answer, never a hang. Reference:
//! <https://doc.rust-lang.org/cargo/reference/credential-provider-protocol.html> and the `cargo-credential` crate.

use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::App;
use crate::broker::{Broker, Served};
use crate::config::CargoToken;
use crate::error::Error;
use crate::profile::Profile;
use crate::secret::Secret;

/// The hello: the protocol versions tokenfob speaks.
const HELLO: &str = "{\"v\":[1]}\n";

/// One request from cargo, after the version check. Unknown fields are ignored, as cargo's own types do.
#[derive(Debug, Deserialize)]
struct Request {
    registry: Registry,
    #[serde(flatten)]
    action: Action,
    #[serde(default)]
    args: Vec<String>,
}

/// The registry a request is about.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Registry {
    /// `sparse+https://host/index/`, or a git index's URL.
    index_url: String,
}

/// What cargo asks for.
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
enum Action {
    /// A token for `operation` (`read`, `publish`, `yank`, ...): tokenfob's tokens serve every operation.
    Get { operation: String },
    /// `cargo login`; `token` when the user gave one.
    Login {
        #[serde(default, with = "crate::secret::exposed::option")]
        token: Option<Secret>,
    },
    /// `cargo logout`.
    Logout,
    /// A kind newer than this tokenfob.
    #[serde(other)]
    Unknown,
}

/// A successful answer, in the field order of cargo's `CredentialResponse`.
#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
enum Done {
    Get {
        #[serde(serialize_with = "expose")]
        token: Secret,
        #[serde(flatten)]
        cache: Cache,
        operation_independent: bool,
    },
    Login,
    Logout,
}

/// How long cargo may keep the token within its own run.
#[derive(Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "cache", rename_all = "kebab-case")]
enum Cache {
    /// Ask again next time.
    Never,
    /// Keep it for the whole run (a token that never expires).
    Session,
    /// Keep it until this Unix time.
    Expires { expiration: i64 },
}

/// An answer line: `{"Ok":...}` or `{"Err":...}`, as cargo reads a `Result`.
#[derive(Debug, Serialize)]
enum Answer {
    Ok(Done),
    Err(Failure),
}

/// A failure, as cargo's `Error` serializes.
#[derive(Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
enum Failure {
    /// No profile serves this registry: cargo tries its next provider.
    UrlNotSupported,
    /// Nothing to log out of.
    NotFound,
    /// A request kind tokenfob does not know.
    OperationNotSupported,
    /// Anything else, shown to the user by cargo.
    Other { message: String },
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure::Other { message: e.to_string() }
    }
}

fn expose<S: Serializer>(secret: &Secret, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(secret.expose())
}

/// Says hello, then answers every request line on `input` until it ends.
pub(crate) fn run(app: &App, input: &mut dyn BufRead, out: &mut dyn Write) -> crate::error::Result<()> {
    super::write_out(out, HELLO)?;
    let mut line = Vec::new();
    loop {
        line.clear();
        let reply = match super::read_line(input, &mut line) {
            Ok(None) => return Ok(()),
            Ok(Some(true)) => Err(bad(&format!("a line longer than {} KiB", super::MAX_LINE / 1024))),
            Ok(Some(false)) => parse(&line).and_then(|request| handle(app, &request)),
            Err(e) => return Err(Error::Other(format!("reading cargo's request on stdin: {e}"))),
        };
        // A login request may carry a token.
        zeroize::Zeroize::zeroize(&mut line);
        if let Err(Failure::Other { message }) = &reply {
            crate::log::debug(format_args!("cargo-credential: {message}"));
        }
        super::write_out(out, answer(reply).expose())?;
    }
}

fn bad(why: &str) -> Failure {
    Failure::Other { message: format!("bad request from cargo: {why} (tokenfob speaks cargo's credential protocol 1)") }
}

/// True when cargo's request `line` parses (for the fuzz targets).
pub(crate) fn accepts(line: &[u8]) -> bool {
    parse(line).is_ok()
}

/// Parses one request line, checking the version first.
fn parse(line: &[u8]) -> Result<Request, Failure> {
    let value: Value = serde_json::from_slice(line).map_err(|e| bad(&format!("not JSON: {e}")))?;
    match value.get("v") {
        Some(v) if v == &json!(1) => {}
        Some(v) => return Err(bad(&format!("protocol version {v}"))),
        None => return Err(bad("no \"v\"")),
    }
    serde_json::from_value(value).map_err(|e| bad(&e.to_string()))
}

/// The answer line for `reply`: `{"Ok":...}` or `{"Err":...}`.
fn answer(reply: Result<Done, Failure>) -> Secret {
    let answer = match reply {
        Ok(done) => Answer::Ok(done),
        Err(failure) => Answer::Err(failure),
    };
    Secret::new(format!("{}\n", serde_json::to_string(&answer).expect("an answer always serializes")))
}

/// Answers one request.
fn handle(app: &App, request: &Request) -> Result<Done, Failure> {
    if matches!(request.action, Action::Unknown) {
        return Err(Failure::OperationNotSupported);
    }
    let Some(url) = index_url(&request.registry.index_url) else { return Err(Failure::UrlNotSupported) };
    let Some((broker, profile)) = choose(app, &request.args, &url)? else { return Err(Failure::UrlNotSupported) };
    let now = crate::clock::now();
    match &request.action {
        Action::Get { operation } => {
            crate::log::debug(format_args!("cargo-credential: a token for {operation} with profile {}", profile.name));
            super::cleartext_allowed(&profile, &url)?;
            Ok(token(&profile, &broker.get(&profile, None, now)?, now))
        }
        Action::Login { token: Some(_) } => Err(Failure::Other {
            message: format!(
                "tokenfob makes its own tokens and does not store one given to it; run `cargo login` without a \
                 token (or `tokenfob login {}`) to log in afresh",
                profile.name
            ),
        }),
        Action::Login { token: None } => broker.login(&profile, now).map(|_| Done::Login).map_err(Failure::from),
        Action::Logout => match broker.logout(&profile)? {
            (false, false) => Err(Failure::NotFound),
            _ => Ok(Done::Logout),
        },
        Action::Unknown => Err(Failure::OperationNotSupported),
    }
}

/// The URL a registry's token goes to: a sparse index's URL without cargo's `sparse+` marker. `None` for a git index
/// (and anything but http(s)), which no profile serves: git fetches a git index with its own credentials, so the
/// token would go only to the `dl` and `api` hosts of the index's `config.json`, which whoever can write that
/// repository chooses; that a profile's `match` covers the repository's URL (`https://github.com/`) says nothing
/// of them.
fn index_url(raw: &str) -> Option<reqwest::Url> {
    let url = reqwest::Url::parse(raw.strip_prefix("sparse+")?).ok()?;
    matches!(url.scheme(), "http" | "https").then_some(url)
}

/// The profile for `url`: the one `args` names, else the one whose `match` covers `url`. `None` when that profile
/// does not cover `url`, or none does: the name in cargo's configuration says which token, never where it may go.
fn choose<'a>(app: &'a App, args: &[String], url: &reqwest::Url) -> Result<Option<(Broker<'a>, Profile)>, Failure> {
    match args {
        [] => Ok(app.open_named_for_url(None, url)?),
        [name] => Ok(app.open_named_for_url(Some(name), url)?),
        more => Err(Failure::Other {
            message: format!(
                "tokenfob takes at most one argument from cargo, a profile name, and got {}: {more:?}",
                more.len()
            ),
        }),
    }
}

/// The `get` answer: the token as the profile's `cargo_token` says, kept by cargo until tokenfob would renew it.
fn token(profile: &Profile, served: &Served, now: OffsetDateTime) -> Done {
    let token = match profile.cargo_token {
        CargoToken::Bearer => Secret::new(format!("Bearer {}", served.token().expose())),
        CargoToken::Bare => served.token().clone(),
    };
    Done::Get { token, cache: cache(served.ask_again_at(now), now), operation_independent: true }
}

/// `expires` when cargo should ask again ([`Served::ask_again_at`]); `session` for a token that never expires;
/// `never` for a token that has already expired (it arrived expired).
fn cache(ask_again_at: Option<OffsetDateTime>, now: OffsetDateTime) -> Cache {
    match ask_again_at {
        None => Cache::Session,
        Some(at) if at > now => Cache::Expires { expiration: at.unix_timestamp() },
        Some(_) => Cache::Never,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(reply: Result<Done, Failure>) -> String {
        answer(reply).expose().to_owned()
    }

    #[test]
    fn answers_exactly_as_cargo_reads_them() {
        let get = |cache| Done::Get { token: Secret::new("Bearer t0k".into()), cache, operation_independent: true };
        assert_eq!(
            text(Ok(get(Cache::Expires { expiration: 1_693_942_857 }))),
            "{\"Ok\":{\"kind\":\"get\",\"token\":\"Bearer t0k\",\"cache\":\"expires\",\"expiration\":1693942857,\
             \"operation_independent\":true}}\n"
        );
        assert_eq!(
            text(Ok(get(Cache::Session))),
            "{\"Ok\":{\"kind\":\"get\",\"token\":\"Bearer t0k\",\"cache\":\"session\",\"operation_independent\":true}}\n"
        );
        assert_eq!(text(Ok(Done::Login)), "{\"Ok\":{\"kind\":\"login\"}}\n");
        assert_eq!(text(Ok(Done::Logout)), "{\"Ok\":{\"kind\":\"logout\"}}\n");
        assert_eq!(text(Err(Failure::UrlNotSupported)), "{\"Err\":{\"kind\":\"url-not-supported\"}}\n");
        assert_eq!(text(Err(Failure::NotFound)), "{\"Err\":{\"kind\":\"not-found\"}}\n");
        assert_eq!(text(Err(Failure::OperationNotSupported)), "{\"Err\":{\"kind\":\"operation-not-supported\"}}\n");
        assert_eq!(
            text(Err(Failure::Other { message: "m".into() })),
            "{\"Err\":{\"kind\":\"other\",\"message\":\"m\"}}\n"
        );
    }

    #[test]
    fn parses_cargo_requests_and_ignores_unknown_fields() {
        let read = parse(
            br#"{"v":1,"registry":{"index-url":"sparse+https://r.example/index/","name":"corp","headers":["WWW-Authenticate: Cargo"],"x":1},"kind":"get","operation":"read","args":["corp"],"future":true}"#,
        )
        .unwrap();
        assert_eq!(read.registry.index_url, "sparse+https://r.example/index/");
        assert!(matches!(read.action, Action::Get { ref operation } if operation == "read"));
        assert_eq!(read.args, ["corp"]);
        let publish = parse(
            br#"{"v":1,"registry":{"index-url":"u"},"kind":"get","operation":"publish","name":"c","vers":"1.0.0","cksum":"ab"}"#,
        )
        .unwrap();
        assert!(publish.args.is_empty());
        let login = parse(br#"{"v":1,"registry":{"index-url":"u"},"kind":"login","token":"given"}"#).unwrap();
        assert!(matches!(login.action, Action::Login { token: Some(ref t) } if t.expose() == "given"));
        assert!(matches!(
            parse(br#"{"v":1,"registry":{"index-url":"u"},"kind":"logout"}"#).unwrap().action,
            Action::Logout
        ));
        let newer = parse(br#"{"v":1,"registry":{"index-url":"u"},"kind":"rotate","x":[]}"#).unwrap();
        assert!(matches!(newer.action, Action::Unknown));
    }

    #[test]
    fn refuses_what_is_not_a_version_1_request() {
        for line in [
            &b"{\"v\":2,\"registry\":{\"index-url\":\"u\"},\"kind\":\"get\",\"operation\":\"read\"}"[..],
            b"{\"registry\":{\"index-url\":\"u\"},\"kind\":\"get\",\"operation\":\"read\"}",
            b"{\"v\":1,\"kind\":\"get\",\"operation\":\"read\"}",
            b"{\"v\":1,\"registry\":{\"index-url\":\"u\"}}",
            b"{\"v\":1,\"registry\":{\"index-url\":\"u\"},\"kind\":\"get\"}",
            b"[1]",
            b"{\"v\":1,",
            b"",
            b"\xff",
        ] {
            assert!(matches!(parse(line), Err(Failure::Other { .. })), "{:?}", String::from_utf8_lossy(line));
        }
    }

    #[test]
    fn only_sparse_indexes_are_served() {
        let url = |raw: &str| index_url(raw).map(|u| u.to_string());
        assert_eq!(url("sparse+https://r.example/index/").unwrap(), "https://r.example/index/");
        assert_eq!(url("sparse+http://127.0.0.1:8080/i/").unwrap(), "http://127.0.0.1:8080/i/");
        for other in [
            "https://github.com/org/index",
            "ssh://git@github.com/org/index",
            "file:///srv/index",
            "registry+https://x/",
            "sparse+ssh://x/",
            "sparse+",
            "",
        ] {
            assert!(url(other).is_none(), "{other}");
        }
    }

    #[test]
    fn cargo_keeps_the_token_until_tokenfob_would_renew_it() {
        let now = OffsetDateTime::from_unix_timestamp(1_000_000).unwrap();
        assert_eq!(cache(None, now), Cache::Session);
        assert_eq!(cache(Some(now + time::Duration::seconds(3540)), now), Cache::Expires { expiration: 1_003_540 });
        assert_eq!(cache(Some(now), now), Cache::Never);
        assert_eq!(cache(Some(now - time::Duration::seconds(1)), now), Cache::Never);
    }

    #[test]
    fn the_token_takes_the_profiles_scheme() {
        let config = crate::profile::parse(
            "[profiles.b]\nkind = \"static\"\ntoken = \"x\"\n[profiles.n]\nkind = \"static\"\ntoken = \"x\"\ncargo_token = \"bare\"\n",
            std::path::Path::new("c.toml"),
        )
        .unwrap();
        let now = OffsetDateTime::from_unix_timestamp(1_000_000).unwrap();
        let served = Served::new("b", Secret::new("t0k".into()), None).unwrap();
        let given = |name: &str| match token(&config.profiles[name], &served, now) {
            Done::Get { token, .. } => token.expose().to_owned(),
            other => panic!("{other:?}"),
        };
        assert_eq!(given("b"), "Bearer t0k");
        assert_eq!(given("n"), "t0k");
        let wrong = "[profiles.b]\nkind = \"static\"\ntoken = \"x\"\ncargo_token = \"basic\"\n";
        assert!(crate::profile::parse(wrong, std::path::Path::new("c.toml")).is_err());
    }
}
