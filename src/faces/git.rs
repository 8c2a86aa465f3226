//! `tokenfob git-credential`: git's credential-helper protocol, for HTTPS remotes that take bearer tokens.
//!
//! git writes `key=value` lines and a blank line; tokenfob answers `get` with a token. When git announces
//! `capability[]=authtype` (git 2.46+), the answer is `authtype=Bearer` and `credential=<token>`, so git sends
//! `Authorization: Bearer`; older gits get `username` (the profile's `git_username`) and `password=<token>`. The
//! profile is chosen by `protocol://host/path` against `match`; no match means no answer, so git asks its next
//! helper. `erase` forgets exactly the token git reports as rejected; `store` does nothing. Unknown keys are
//! ignored, as git requires.
//!
//! The input is partly written by the server: git passes its `WWW-Authenticate` headers as `wwwauth[]=...`. So
//! every line is read whole or refused (issue #10: a line cut at a buffer boundary once let a server's header end
//! in a `host=` line that replaced the real host), and anything git itself would never send (a line without `=`,
//! a repeated single-valued key, NUL, a CR inside a line, `url=`, a host that is not a host) is an error with
//! nothing on stdout. The token goes only to the `protocol://host/path` git asked about, only when the profile's
//! `match` covers it (also with `--profile`), and over plain http only to loopback or with `allow_http`.

use std::collections::BTreeMap;
use std::io::{BufRead, Read, Write};

use reqwest::Url;

use super::App;
use crate::cli::GitAction;
use crate::environment::Env;
use crate::error::{Error, Result};
use crate::profile::{Config, Profile};
use crate::secret::Secret;

/// The longest line accepted, newline included; a `WWW-Authenticate` header longer than this is refused.
const MAX_LINE: usize = 64 * 1024;
/// The most lines read before the blank line that ends the request.
const MAX_LINES: usize = 1000;

/// What git sent.
#[derive(Debug, Default)]
pub(crate) struct Request {
    /// Single-valued keys.
    pub(crate) fields: BTreeMap<String, String>,
    /// `capability[]` values.
    pub(crate) capabilities: Vec<String>,
}

impl Request {
    /// `protocol://host/path`, or `None` without protocol and host.
    pub(crate) fn url(&self) -> Option<String> {
        let (protocol, host) = (self.fields.get("protocol")?, self.fields.get("host")?);
        let path = self.fields.get("path").map_or("", String::as_str);
        Some(format!("{protocol}://{host}/{path}"))
    }

    /// The credential git used and the server rejected.
    fn rejected(&self) -> Option<&String> {
        self.fields.get("credential").or_else(|| self.fields.get("password"))
    }
}

fn bad(why: String) -> Error {
    Error::BadRequest(format!("git's input: {why} (git never sends this; refusing to answer)"))
}

/// Parses git's `key=value` lines up to a blank line or the end.
pub(crate) fn parse(input: &mut dyn BufRead) -> Result<Request> {
    let mut request = Request::default();
    let mut raw = Vec::new();
    for number in 1..=MAX_LINES {
        raw.clear();
        let limit = u64::try_from(MAX_LINE).unwrap_or(u64::MAX);
        let n = Read::take(&mut *input, limit).read_until(b'\n', &mut raw).map_err(Error::Input)?;
        if n == 0 {
            return Ok(request);
        }
        if !raw.ends_with(b"\n") && n >= MAX_LINE {
            return Err(bad(format!("line {number} is longer than {} KiB", MAX_LINE / 1024)));
        }
        let text = line_text(&raw).map_err(|why| bad(format!("line {number} {why}")))?;
        if text.is_empty() {
            return Ok(request);
        }
        let (key, value) = text.split_once('=').ok_or_else(|| bad(format!("line {number} has no '='")))?;
        match key {
            "" => return Err(bad(format!("line {number} has an empty key"))),
            "url" => return Err(bad("a `url=` line (git sends protocol, host and path to helpers)".into())),
            "capability[]" => request.capabilities.push(value.to_owned()),
            k if k.ends_with("[]") => {}
            k => {
                if request.fields.insert(k.to_owned(), value.to_owned()).is_some() {
                    return Err(bad(format!("`{k}` is sent twice")));
                }
            }
        }
    }
    Err(bad(format!("more than {MAX_LINES} lines without the blank line that ends a request")))
}

/// A line without its LF (and the CR before it, which git's own reader also drops): UTF-8, with no NUL and no
/// other CR.
fn line_text(raw: &[u8]) -> Result<&str, &'static str> {
    let body = raw.strip_suffix(b"\n").unwrap_or(raw);
    let body = body.strip_suffix(b"\r").unwrap_or(body);
    if body.contains(&0) {
        return Err("holds a NUL byte");
    }
    if body.contains(&b'\r') {
        return Err("holds a carriage return");
    }
    std::str::from_utf8(body).map_err(|_| "is not UTF-8")
}

/// The URL git asks about, checked: protocol http or https (else `None`: not ours), a host that parses back to
/// itself, and no control character anywhere.
fn asked_url(request: &Request) -> Result<Option<Url>> {
    let Some(text) = request.url() else { return Ok(None) };
    let protocol = &request.fields["protocol"];
    if protocol != "https" && protocol != "http" {
        return Ok(None);
    }
    if text.chars().any(|c| c.is_control()) {
        return Err(bad("a control character in protocol, host or path".into()));
    }
    let host = &request.fields["host"];
    let url = Url::parse(&text).map_err(|e| bad(format!("host {host:?} is not a host: {e}")))?;
    if !super::is_plain_host(host, &url) {
        return Err(bad(format!("host {host:?} is not a plain host[:port]")));
    }
    Ok(Some(url))
}

/// Handles one git request.
pub(crate) fn run(
    app: &App,
    action: GitAction,
    profile: Option<&str>,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
) -> Result<()> {
    let request = parse(input)?;
    // git stores what a helper gave it; tokenfob already has it.
    if action == GitAction::Store {
        return Ok(());
    }
    let config = app.load()?;
    let Some((profile, url)) = choose(&config, &app.env, profile, &request)? else {
        crate::log::debug(format_args!("git-credential: no profile matches {:?}", request.url()));
        return Ok(());
    };
    let broker = app.broker(&config)?;
    if action == GitAction::Erase {
        if let Some(token) = request.rejected() {
            broker.erase(profile, Some(&Secret::new(token.clone())))?;
        }
        return Ok(());
    }
    super::cleartext_allowed(profile, &url)?;
    let served = broker.get(profile, None, crate::clock::now())?;
    let answer = if request.capabilities.iter().any(|c| c == "authtype") {
        format!("capability[]=authtype\nauthtype=Bearer\ncredential={}\n", served.token().expose())
    } else {
        format!("username={}\npassword={}\n", profile.git_username, served.token().expose())
    };
    super::write_out(out, &answer)
}

/// The profile for git's request, and the URL it asks about. Unlike the other faces, git's choice never falls back
/// to `$TOKENFOB_PROFILE`, `default_profile` or the only profile: git asks every helper about every host, so a
/// request no `match` covers is answered with nothing, and `--profile` must cover the URL too.
fn choose<'a>(
    config: &'a Config,
    env: &Env,
    name: Option<&str>,
    request: &Request,
) -> Result<Option<(&'a Profile, Url)>> {
    match (name, asked_url(request)?) {
        (Some(name), Some(url)) => Ok(Some((covering(config.choose(Some(name), None, env)?, &url)?, url))),
        (Some(name), None) => {
            Err(bad(format!("no http(s) protocol and host to check against profile {name:?}'s `match`")))
        }
        (None, Some(url)) => Ok(config.by_url(url.as_str()).map(|profile| (profile, url))),
        (None, None) => Ok(None),
    }
}

/// `profile`, if its `match` covers `url`: `--profile` names the token, never the host it may go to.
fn covering<'a>(profile: &'a Profile, url: &Url) -> Result<&'a Profile> {
    if profile.covers(url.as_str()) {
        return Ok(profile);
    }
    let shown = if profile.matches.is_empty() { "none".to_owned() } else { profile.matches.join(", ") };
    Err(Error::Config(format!(
        "git asks for {}, which profile {:?} does not cover (its `match`: {shown}); add that URL to the profile's \
         `match` to send its token there",
        crate::net::http::redacted(url),
        profile.name
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_git_input_and_ignores_unknown_keys() {
        let text = "capability[]=authtype\ncapability[]=state\nprotocol=https\nhost=git.example.com:8443\npath=org/repo.git\nwwwauth[]=Bearer realm=x\nfuture=1\n\nignored=after-blank\n";
        let r = parse(&mut text.as_bytes()).unwrap();
        assert_eq!(r.capabilities, ["authtype", "state"]);
        assert_eq!(r.url().unwrap(), "https://git.example.com:8443/org/repo.git");
        assert!(!r.fields.contains_key("ignored"));
        let erase = parse(&mut "protocol=https\nhost=h\npassword=old\n".as_bytes()).unwrap();
        assert_eq!(erase.rejected().unwrap(), "old");
    }

    #[test]
    fn refuses_what_git_never_sends() {
        let cut = format!("host=a\nwwwauth[]={}host=b\n\n", "x".repeat(MAX_LINE));
        for text in [
            cut.as_str(),
            "host=a\nhost=b\n",
            "protocol=https\nnoequals\n",
            "host=a\0b\n",
            "host=a\rpath=b\n",
            "url=https://a/\n",
            "=x\n",
        ] {
            let err = parse(&mut text.as_bytes()).unwrap_err();
            assert_eq!(err.code(), "bad_request", "{text:?}");
        }
        let crlf = parse(&mut "protocol=https\r\nhost=h\r\n\r\n".as_bytes()).unwrap();
        assert_eq!(crlf.url().unwrap(), "https://h/");
        // A line just under the cap is read whole, and what follows it is still a line of its own.
        let long = format!("wwwauth[]={}\nhost=h\n", "x".repeat(MAX_LINE - 12));
        assert_eq!(parse(&mut long.as_bytes()).unwrap().fields["host"], "h");
    }

    #[test]
    fn the_url_must_be_the_host_git_named() {
        let url = |text: &str| asked_url(&parse(&mut text.as_bytes()).unwrap());
        assert_eq!(
            url("protocol=https\nhost=Git.Example.com:8443\npath=a/b\n").unwrap().unwrap().as_str(),
            "https://git.example.com:8443/a/b"
        );
        assert_eq!(url("protocol=https\nhost=h:443\n").unwrap().unwrap().as_str(), "https://h/");
        assert!(url("protocol=cert\nhost=h\n").unwrap().is_none());
        assert!(url("protocol=https\n").unwrap().is_none());
        for host in ["evil@good", "good/x", "a b", "h:99999", "good#x", "h\u{7}"] {
            assert!(url(&format!("protocol=https\nhost={host}\n")).is_err(), "{host}");
        }
    }
}
