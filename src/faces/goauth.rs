//! `tokenfob goauth`: Go's GOAUTH command protocol (Go 1.24+), for private module proxies and go-import hosts.
//!
//! With `GOAUTH="tokenfob goauth"`, Go runs the command once before its first HTTPS fetch, with no argument and no
//! input. tokenfob answers with the tokens it already holds fresh, one block per profile (the profile's `https://`
//! match prefixes, a blank line, `Authorization: Bearer <token>`, a blank line), and never logs in or renews on that
//! call: Go asks it whatever it is about to fetch, so a login there would be a login to every profile. After any 4xx
//! Go runs it again with the URL as the argument and the response's status line and headers on stdin; tokenfob then
//! answers for the profile whose `match` covers the URL, renewing when needed, and with nothing (exit 0) when no
//! profile covers it, which Go takes as "no credentials from this command". Go sends GOAUTH headers over HTTPS only,
//! so only `https://` prefixes and URLs are answered. `--profile` limits both calls to one profile, and still only to
//! URLs its `match` covers: the profile names the token, never where it may go.
//!
//! The input is written by Go from the server's answer, and tokenfob only logs its status (at debug level); it is
//! read up to 64 KiB, and anything that is not the status line and header lines Go writes is an error with nothing
//! on stdout. Go's grammar and behaviour: `go help goauth`, and `runAuthCommand`, `parseUserAuth` and
//! `writeResponseToStdin` in Go's cmd/go/internal/auth/userauth.go.

use std::io::{Read, Write};

use super::App;
use crate::broker::Served;
use crate::error::{Error, Result};
use crate::profile::Profile;

/// The most bytes read from stdin, where Go writes the refused response's status line and headers.
const MAX_INPUT: usize = 64 * 1024;

fn bad(why: String) -> Error {
    Error::BadRequest(format!("Go's input: {why} (Go never sends this; refusing to answer)"))
}

/// Answers one GOAUTH call: without `url`, the fresh cached tokens; with it, its profile's token. `input` is the
/// response Go passes with a URL (`None` when stdin is a terminal: a run by hand).
pub(crate) fn run(
    app: &App,
    profile: Option<&str>,
    url: Option<&str>,
    input: Option<&mut dyn Read>,
    out: &mut dyn Write,
) -> Result<()> {
    let Some(url) = url else { return cached(app, profile, out) };
    let status = match input {
        Some(input) => read_response(input)?,
        None => None,
    };
    let asked = asked_url(url)?;
    if asked.scheme() != "https" {
        crate::log::debug(format_args!("goauth: a {} URL, not https; no answer", asked.scheme()));
        return Ok(());
    }
    crate::log::debug(format_args!(
        "goauth: Go was answered {} by {}",
        status.map_or_else(|| "(no response given)".to_owned(), |s| s.to_string()),
        crate::net::http::redacted(&asked)
    ));
    let Some((broker, profile)) = app.open_named_for_url(profile, &asked)? else { return Ok(()) };
    let served = broker.get(&profile, None, crate::clock::now())?;
    // The URL itself first, as Go spelled it: Go looks a request up by its own text (host case, an explicit :443),
    // which a prefix written another way would miss.
    let mut lines = vec![url.to_owned()];
    lines.extend(prefixes(&profile).into_iter().filter(|p| p != url));
    super::write_out(out, &block(&lines, &served))
}

/// The first call: a block for every profile (or only `only`) with `https://` prefixes whose cached token would be
/// served as it is. Nothing is renewed; a profile whose cache cannot be read is skipped with a warning. Without
/// `only`, a prefix goes with the profile `--url` would choose for it, as after a 4xx: when two profiles list the
/// same prefix, Go is not handed the token of the one that would not be chosen.
fn cached(app: &App, only: Option<&str>, out: &mut dyn Write) -> Result<()> {
    let opened = app.open()?;
    let profiles: Vec<&Profile> = match only {
        Some(name) => vec![opened.choose(Some(name), None)?],
        None => opened.config.profiles.values().collect(),
    };
    let now = crate::clock::now();
    let mut answer = String::new();
    for profile in profiles {
        let chosen = |p: &String| only.is_some() || opened.config.by_url(p).is_some_and(|q| q.name == profile.name);
        let prefixes: Vec<String> = prefixes(profile).into_iter().filter(chosen).collect();
        if prefixes.is_empty() {
            continue;
        }
        match opened.broker.cached(profile, now) {
            Ok(Some(served)) => answer.push_str(&block(&prefixes, &served)),
            Ok(None) => crate::log::debug(format_args!("goauth: profile {}: no fresh token cached", profile.name)),
            Err(e) => crate::log::warn(format_args!("goauth: profile {}: {e}; skipping it", profile.name)),
        }
    }
    super::write_out(out, &answer)
}

/// The profile's `match` prefixes that Go can use: `https://` ones, without query, fragment or user info (Go keys its
/// credentials by scheme-less `host/path` and looks requests up by path, so anything else would never match), and
/// only those Go's `url.ParseRequestURI` accepts (whole `%` escapes, a plain host): Go drops the whole answer over one
/// it refuses, every other profile's credentials with it.
fn prefixes(profile: &Profile) -> Vec<String> {
    let usable = |m: &String| {
        let mut url = reqwest::Url::parse(m).ok().filter(|u| u.scheme() == "https")?;
        url.set_query(None);
        url.set_fragment(None);
        url.set_username("").ok()?;
        url.set_password(None).ok()?;
        // Go's parser refuses a host with characters the URL standard keeps (`{`, `}`, a backquote).
        let plain_host = url.host_str()?.chars().all(|c| c.is_ascii_alphanumeric() || ".-_:[]".contains(c));
        Some(url.to_string()).filter(|u| plain_host && escapes_are_whole(u))
    };
    profile.matches.iter().filter_map(usable).collect()
}

/// True when every `%` in `text` starts a two-hex-digit escape.
fn escapes_are_whole(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes
        .iter()
        .enumerate()
        .all(|(i, b)| *b != b'%' || bytes.get(i + 1..i + 3).is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)))
}

/// One GOAUTH credential set: the URL lines, a blank line, the header line, a blank line.
fn block(urls: &[String], served: &Served) -> String {
    format!("{}\n\n{}\n\n", urls.join("\n"), super::header_line(served.token().expose()))
}

/// The URL Go passed, checked. It is echoed back as a line of the answer, so whitespace and control characters
/// (which Go's own URLs never hold) are refused; it is never shown in a message (it may hold a password).
fn asked_url(url: &str) -> Result<reqwest::Url> {
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(bad("a URL argument with whitespace or a control character".into()));
    }
    reqwest::Url::parse(url).map_err(|e| bad(format!("the argument is not a URL ({e})")))
}

/// Reads the response Go passes on stdin and returns its status; `None` for no input at all (a run by hand).
pub(crate) fn read_response(input: &mut dyn Read) -> Result<Option<u16>> {
    parse_response(&super::read_request(input, MAX_INPUT, "goauth: Go's response")?)
}

/// Parses `Proto SP Status LF {Name ": " Value LF} LF`, as Go's `writeResponseToStdin` writes it.
fn parse_response(raw: &[u8]) -> Result<Option<u16>> {
    if raw.is_empty() {
        return Ok(None);
    }
    let head = raw.strip_suffix(b"\n\n").ok_or_else(|| bad("the response does not end with a blank line".into()))?;
    let mut lines = head.split(|b| *b == b'\n');
    let status = status_line(lines.next().unwrap_or_default()).ok_or_else(|| bad("no HTTP status line".into()))?;
    for (number, line) in lines.enumerate() {
        let fine = line
            .windows(2)
            .position(|w| w == b": ")
            .is_some_and(|at| !line[..at].is_empty() && line[..at].iter().all(|b| is_token(*b)) && value(&line[at..]));
        if !fine {
            return Err(bad(format!("line {} is not a header line", number + 2)));
        }
    }
    Ok(Some(status))
}

/// The status code of `HTTP/<d>[.<d>] <ddd>[ <reason>]`.
fn status_line(line: &[u8]) -> Option<u16> {
    let rest = line.strip_prefix(b"HTTP/")?;
    let (proto, rest) = rest.split_at(rest.iter().position(|b| *b == b' ')?);
    let proto_ok = matches!(proto, [d] | [d, b'.', _] if d.is_ascii_digit()) && proto.last()?.is_ascii_digit();
    let code = rest.get(1..4)?;
    let reason = &rest[4..];
    let reason_ok = reason.is_empty() || (reason[0] == b' ' && value(reason));
    if !proto_ok || !code.iter().all(u8::is_ascii_digit) || !reason_ok {
        return None;
    }
    std::str::from_utf8(code).ok()?.parse().ok()
}

/// An HTTP token character (a header name's), as Go's `validHeaderFieldByte` allows.
fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// True when every byte is one Go allows in a header value: visible ASCII, space, tab, or obs-text (0x80 and up).
fn value(text: &[u8]) -> bool {
    text.iter().all(|b| matches!(b, b'\t' | b' '..=b'~' | 0x80..=0xff))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    #[test]
    fn reads_the_response_go_writes() {
        let go = b"HTTP/1.1 401 Unauthorized\nContent-Length: 19\nWww-Authenticate: Bearer realm=\"x\", e=\"\xe9\"\n\n";
        assert_eq!(parse_response(go).unwrap(), Some(401));
        assert_eq!(parse_response(b"HTTP/2.0 499 \n\n").unwrap(), Some(499));
        assert_eq!(parse_response(b"HTTP/1.1 404 Not Found\nX-Empty: \n\n").unwrap(), Some(404));
        assert_eq!(parse_response(b"").unwrap(), None, "no input: a run by hand");
        let big = format!("HTTP/1.1 401 X\nX-Big: {}\n\n", "a".repeat(MAX_INPUT));
        assert_eq!(read_response(&mut big.as_bytes()).unwrap_err().code(), "bad_request");
        let frame = "HTTP/1.1 401 X\nX-Big: \n\n".len();
        let just = format!("HTTP/1.1 401 X\nX-Big: {}\n\n", "a".repeat(MAX_INPUT - frame));
        assert_eq!(just.len(), MAX_INPUT);
        assert_eq!(read_response(&mut just.as_bytes()).unwrap(), Some(401));
    }

    #[test]
    fn refuses_what_go_never_writes() {
        for text in [
            &b"HTTP/1.1 401 Unauthorized\n"[..],
            b"HTTP/1.1 401 Unauthorized",
            b"HTTP/1.1 401 Unauthorized\r\n\r\n",
            b"HTTP/1.1 401 Unauthorized\nno colon here\n\n",
            b"HTTP/1.1 401 Unauthorized\n: empty name\n\n",
            b"HTTP/1.1 401 Unauthorized\nBad Name: x\n\n",
            b"HTTP/1.1 401 Unauthorized\nX: a\0b\n\n",
            b"HTTP/1.1 401 Unauthorized\n\nX: after the end\n\n",
            b"HTTP/1.1 40 Short\n\n",
            b"HTTP/1.1 4011\n\n",
            b"HTTP/x 401 Unauthorized\n\n",
            b"FTP/1.1 401 Unauthorized\n\n",
            b"{\"json\": true}\n\n",
            b"\n\n",
        ] {
            let err = parse_response(text).unwrap_err();
            assert_eq!(err.code(), "bad_request", "{:?}", String::from_utf8_lossy(text));
        }
    }

    #[test]
    fn the_url_is_checked_before_it_is_echoed() {
        assert_eq!(asked_url("https://h.example.com/x?go-get=1").unwrap().query(), Some("go-get=1"));
        assert_eq!(asked_url("http://proxy.example.com/").unwrap().scheme(), "http");
        for url in ["https://a/\nhttps://evil/", "https://a/ b", " https://a/", "https://a/\t", "not a url"] {
            assert_eq!(asked_url(url).unwrap_err().code(), "bad_request", "{url:?}");
        }
    }

    #[test]
    fn only_https_prefixes_as_go_keys_them() {
        let text = r#"
[profiles.p]
kind = "static"
token = "t"
match = ["https://u:pw@Proxy.Example.com:443/go/?x=1#f", "http://127.0.0.1:8080/", "https://b.example.com:8443"]
"#;
        let config = crate::profile::parse(text, std::path::Path::new("config.toml")).unwrap();
        assert_eq!(prefixes(&config.profiles["p"]), ["https://proxy.example.com/go/", "https://b.example.com:8443/"]);
    }

    #[test]
    fn answers_in_go_s_grammar() {
        let served = Served::new("od", Secret::new("t0k".into()), None).unwrap();
        let urls = ["https://a.example.com/".to_owned(), "https://b.example.com/go".to_owned()];
        assert_eq!(
            block(&urls, &served),
            "https://a.example.com/\nhttps://b.example.com/go\n\nAuthorization: Bearer t0k\n\n"
        );
    }
}
