//! `docker-credential-tokenfob` (also `tokenfob docker-credential ACTION`): the docker-credential-helpers protocol,
//! which Docker, Podman, Skopeo, Buildah, Helm and ORAS speak to a credential helper named in `credHelpers`.
//!
//! The tool runs the helper with one action and writes the registry on stdin: a host (`registry.example.com`,
//! `127.0.0.1:5000`) or a URL (`https://index.docker.io/v1/`). A host is read as `https://HOST/`, and the profile is
//! the one whose `match` covers that URL, as `--url` chooses. `get` answers `{"ServerURL","Username","Secret"}` with
//! the token as the secret and the profile's `registry_username` (default `oauth2`; `<token>` makes the tool treat
//! the secret as an identity token, which it trades at the registry's token realm with a `refresh_token` grant).
//! `erase` is `tokenfob erase` for that profile; `list` names the `match` prefixes of profiles whose cached token is
//! fresh, so a tool that lists and then gets every entry (`docker build` with `credsStore`) never makes tokenfob log
//! in to every profile; `store` is refused, since tokenfob obtains its own tokens. A registry no profile covers gets
//! the protocol's own not-found answer, which the clients recognise by its exact words on stdout
//! (docker-credential-helpers `credentials/error.go`, `client/client.go`): they then go on without credentials.
//! Every failure is also written on stdout, as the protocol's helpers do, because that is what clients quote (ORAS
//! shows nothing else); the line on stderr says the same. Neither ever holds a secret.
//!
//! stdin is read to its end, at most [`MAX_INPUT`] bytes: a longer, non-UTF-8 or multi-line input, or an address
//! with user info, is an error, never a guess.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use serde::Serialize;

use super::App;
use crate::broker::Broker;
use crate::cli::DockerAction;
use crate::error::{Error, Result};
use crate::profile::Profile;

/// The protocol's "no credentials for this registry": clients compare the trimmed stdout with exactly this.
pub(crate) const NOT_FOUND: &str = "credentials not found in native keychain";
/// The protocol's words for an empty request.
const MISSING_URL: &str = "no credentials server URL";
/// The most read from stdin: a registry's address is a host name or a short URL.
const MAX_INPUT: usize = 4096;

/// The answer to `get`, with the protocol's field names and order.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Credentials<'a> {
    #[serde(rename = "ServerURL")]
    server_url: &'a str,
    username: &'a str,
    secret: &'a str,
}

/// A failure as the protocol reports it: `words` on stdout when the protocol has words for it (else the error's
/// message), and the error for stderr and the exit code.
struct Failure {
    words: Option<&'static str>,
    error: Error,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        Failure { words: None, error }
    }
}

/// Answers one request of a docker-credential-helpers client.
pub(crate) fn run(app: &App, action: DockerAction, input: &mut dyn Read, out: &mut dyn Write) -> Result<()> {
    match answer(app, action, input) {
        Ok(text) => super::write_out(out, &text),
        Err(Failure { words, error }) => {
            let text = words.map_or_else(|| error.to_string(), str::to_owned);
            // The stdout answer matters more than the exit code, but a reader that went away has no use for it.
            let _ = super::write_out(out, &format!("{text}\n"));
            Err(error)
        }
    }
}

fn answer(app: &App, action: DockerAction, input: &mut dyn Read) -> Result<String, Failure> {
    match action {
        DockerAction::Get => get(app, &read_address(input)?),
        DockerAction::Erase => erase(app, &read_address(input)?),
        DockerAction::List => Ok(list(app)?),
        DockerAction::Store => Err(Error::Other(
            "docker-credential-tokenfob keeps no credentials: tokenfob obtains its own tokens, so `docker login` is \
             not needed here (`tokenfob login PROFILE` logs in ahead)"
                .into(),
        )
        .into()),
        DockerAction::Version => Ok(format!("docker-credential-tokenfob (tokenfob) {}\n", env!("CARGO_PKG_VERSION"))),
    }
}

/// True when `input` names a registry this face would look up (for the fuzz targets).
pub(crate) fn accepts(mut input: &[u8]) -> bool {
    read_address(&mut input).is_ok_and(|address| registry_url(&address).is_ok())
}

/// The registry's address on stdin, trimmed as the protocol's helpers trim it.
fn read_address(input: &mut dyn Read) -> Result<String, Failure> {
    let raw = super::read_request(input, MAX_INPUT, "docker-credential: the registry's address")?;
    let text = std::str::from_utf8(&raw).map_err(|_| bad("stdin is not UTF-8".into()))?.trim();
    if text.is_empty() {
        let error = bad("no registry on stdin (write its host name, as docker does)".into());
        return Err(Failure { words: Some(MISSING_URL), error });
    }
    if text.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(bad("the registry's address holds a space, a line break or a control character".into()).into());
    }
    Ok(text.to_owned())
}

fn bad(why: String) -> Error {
    Error::BadRequest(format!("docker-credential: {why}"))
}

/// The URL a registry's address stands for: a URL as written (`None` unless http or https: not a registry of
/// ours), else `https://ADDRESS/`, since the tools name registries by host and use HTTPS unless told otherwise.
/// Errors never repeat the address, which could hold a password in its user info.
fn registry_url(address: &str) -> Result<Option<reqwest::Url>> {
    if address.contains("://") {
        let url = reqwest::Url::parse(address).map_err(|e| bad(format!("the registry's URL does not parse: {e}")))?;
        if url.scheme() != "https" && url.scheme() != "http" {
            return Ok(None);
        }
        if !url.username().is_empty() || url.password().is_some() || url.host_str().is_none() {
            return Err(bad("the registry's URL holds user info, or no host".into()));
        }
        return Ok(Some(url));
    }
    let (authority, path) = address.split_once('/').unwrap_or((address, ""));
    let url = reqwest::Url::parse(&format!("https://{authority}/{path}"))
        .map_err(|e| bad(format!("the registry's address is not a host[:port]: {e}")))?;
    if !super::is_plain_host(authority, &url) {
        return Err(bad("the registry's address is neither a host[:port] nor an http(s) URL".into()));
    }
    Ok(Some(url))
}

/// The not-found answer for `what`; stderr names what to change.
fn not_found(what: &str) -> Failure {
    let error = Error::Other(format!(
        "docker-credential: no profile's `match` covers {what} (a registry named by host is read as \
         https://HOST/; add that URL to the `match` of the profile whose token it takes)"
    ));
    Failure { words: Some(NOT_FOUND), error }
}

/// The profile whose `match` covers `address`, its broker, and the URL the address stands for.
fn covering<'a>(app: &'a App, address: &str) -> Result<(Broker<'a>, Profile, reqwest::Url), Failure> {
    let Some(url) = registry_url(address)? else { return Err(not_found("a registry that is not http(s)")) };
    let Some((broker, profile)) = app.open_for_url(url.as_str())? else {
        return Err(not_found(&crate::net::http::redacted(&url)));
    };
    Ok((broker, profile, url))
}

/// `get`: the credentials of the profile that covers `address`.
fn get(app: &App, address: &str) -> Result<String, Failure> {
    let (broker, profile, url) = covering(app, address)?;
    super::cleartext_allowed(&profile, &url)?;
    let served = broker.get(&profile, None, crate::clock::now())?;
    let credentials =
        Credentials { server_url: address, username: &profile.registry_username, secret: served.token().expose() };
    let json = serde_json::to_string(&credentials).map_err(|e| Error::Other(format!("encoding the answer: {e}")))?;
    Ok(format!("{json}\n"))
}

/// `erase`: forgets the token of the profile that covers `address` (nothing cached is no failure: docker's
/// `logout` erases the same registry twice).
fn erase(app: &App, address: &str) -> Result<String, Failure> {
    let (broker, profile, _) = covering(app, address)?;
    broker.erase(&profile, None)?;
    Ok(String::new())
}

/// The key `list` may offer for a `match` prefix: an `https` URL of a whole host, without user info. The tools key
/// what `list` gives by host, over https (Docker's `ConvertToHostname` drops scheme and path, and `docker build`
/// sends it all to the daemon), so a path-scoped prefix (a git organisation's) would become a credential for the
/// whole host, an `http://` one a credential for https on another port, and another scheme is no registry.
fn registry_key(prefix: &str) -> Option<String> {
    let mut url = reqwest::Url::parse(prefix).ok().filter(|u| u.scheme() == "https" && u.path() == "/")?;
    url.set_username("").ok()?;
    url.set_password(None).ok()?;
    (url.query().is_none() && url.fragment().is_none()).then(|| url.to_string())
}

/// `list`: `{match prefix: user name}` for every profile whose cached token is fresh. A profile with nothing fresh
/// is left out so that a client that gets every listed entry costs no login; on equal prefixes the first profile by
/// name wins, as it does in `get`. Profiles without a registry prefix are not looked at, and one whose cache cannot
/// be read (its keyring locked) is skipped with a warning, not made the failure of the whole list.
fn list(app: &App) -> Result<String> {
    let opened = app.open()?;
    let now = crate::clock::now();
    let mut listed = BTreeMap::new();
    for profile in opened.config.profiles.values() {
        let keys: Vec<String> = profile.matches.iter().filter_map(|p| registry_key(p)).collect();
        if keys.is_empty() {
            continue;
        }
        match opened.broker.cached(profile, now) {
            Ok(Some(_)) => {}
            Ok(None) => continue,
            Err(e) => {
                crate::log::warn(format_args!("docker list: profile {}: {e}; skipping it", profile.name));
                continue;
            }
        }
        for key in keys {
            listed.entry(key).or_insert(profile.registry_username.as_str());
        }
    }
    let json = serde_json::to_string(&listed).map_err(|e| Error::Other(format!("encoding the answer: {e}")))?;
    Ok(format!("{json}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(address: &str) -> Option<String> {
        registry_url(address).unwrap().map(String::from)
    }

    #[test]
    fn a_host_is_read_as_https_and_a_url_as_written() {
        assert_eq!(url("registry.example.com").unwrap(), "https://registry.example.com/");
        assert_eq!(url("127.0.0.1:5000").unwrap(), "https://127.0.0.1:5000/");
        assert_eq!(url("Registry.Example.com:443").unwrap(), "https://registry.example.com/");
        assert_eq!(url("localhost:5000/team").unwrap(), "https://localhost:5000/team");
        assert_eq!(url("[::1]:5000").unwrap(), "https://[::1]:5000/");
        assert_eq!(url("https://index.docker.io/v1/").unwrap(), "https://index.docker.io/v1/");
        assert_eq!(url("http://127.0.0.1:5000").unwrap(), "http://127.0.0.1:5000/");
        assert!(url("ftp://registry.example.com/").is_none(), "not a registry of ours");
        for wrong in ["evil@good", "good#x", "good?x", "h:99999", "https://u:p@good/", "a%2fb", "https://"] {
            let err = registry_url(wrong).unwrap_err();
            assert_eq!(err.code(), "bad_request", "{wrong}");
        }
        for secret in ["u:pw-42@good", "https://u:pw-42@good/", "https://u:pw-42@[bad/", "u:pw-42@good:99999"] {
            let err = registry_url(secret).unwrap_err().to_string();
            assert!(!err.contains("pw-42"), "{err}");
        }
    }

    #[test]
    fn stdin_is_bounded_trimmed_and_single() {
        let read = |bytes: &[u8]| read_address(&mut &bytes[..]);
        assert_eq!(read(b"  registry.example.com\n").ok().unwrap(), "registry.example.com");
        let empty = read(b" \n").err().unwrap();
        assert_eq!(empty.words, Some(MISSING_URL));
        for wrong in [&b"a\nb"[..], b"a b", b"\xff", b"a\0b", &[b'a'; MAX_INPUT + 1]] {
            let failure = read(wrong).err().unwrap();
            assert!(failure.words.is_none());
            assert_eq!(failure.error.code(), "bad_request", "{wrong:?}");
        }
        assert!(read(&[b'a'; MAX_INPUT]).is_ok(), "the cap itself is accepted");
    }

    #[test]
    fn credentials_carry_the_protocol_names_in_order() {
        let c = Credentials { server_url: "127.0.0.1:5000", username: "<token>", secret: "t\"k" };
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"ServerURL":"127.0.0.1:5000","Username":"<token>","Secret":"t\"k"}"#
        );
    }
}
