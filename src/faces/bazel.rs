//! `tokenfob credential-helper`: the credential-helper spec (github.com/EngFlow/credential-helper-spec) that Bazel's
//! `--credential_helper` speaks, as do other build tools.
//!
//! The tool runs `HELPER get` (tokenfob installed as `tokenfob-credential-helper`, `cli::PERSONALITIES`, since Bazel
//! takes a path without arguments), writes `{"uri":"..."}` on stdin (the 2022 draft's `url` is accepted too, other
//! properties are ignored as the spec asks) and closes it. The answer is
//! `{"headers":{"Authorization":["Bearer ..."]},"expires":"<RFC 3339>"}` for the profile whose `match` covers the
//! URI. `expires` is when tokenfob itself would renew the token, so a tool that caches (Bazel 7.1+) asks again just
//! then; it is in whole seconds, since Bazel parses it with the pattern `yyyy-MM-dd'T'HH:mm:ssXXX`, and left out for
//! a token that never expires. No covering profile is `{}`, the spec's "no credentials needed": the spec would
//! rather see an error for a URI a helper does not serve, but a helper configured without a host pattern is asked
//! about every download, and an error would fail them all. tokenfob never prompts here: the tool shows the user
//! nothing of the helper (Bazel runs it from its server, with no terminal and a timeout). Bad input (not JSON, no
//! `uri`, not a URL, over 64 KiB) is an error on stderr with nothing on stdout; an unknown command is a usage error.

use std::io::{Read, Write};

use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

use super::App;
use crate::broker::Served;
use crate::error::{Error, Result};

/// The longest request read from stdin.
const MAX_REQUEST: usize = 64 * 1024;

fn bad(why: &str) -> Error {
    Error::BadRequest(format!("credential-helper get: {why}"))
}

/// Answers `get`: reads the request from `input`, prints the headers for its URI.
pub(crate) fn get(app: &App, profile: Option<&str>, input: &mut dyn Read, out: &mut dyn Write) -> Result<()> {
    let bytes = super::read_request(input, MAX_REQUEST, "the credential-helper request")?;
    let uri = parse_request(&bytes)?;
    // The parser's message never repeats the input, which may carry a password in its user part.
    let url = reqwest::Url::parse(&uri).map_err(|e| bad(&format!("\"uri\" is not a URL ({e})")))?;
    let Some((mut broker, profile)) = app.open_named_for_url(profile, &url)? else {
        return super::write_out(out, "{}\n");
    };
    super::cleartext_allowed(&profile, &url)?;
    broker.may_prompt = false;
    let now = crate::clock::now();
    let served = broker.get(&profile, None, now)?;
    super::write_out(out, &format!("{}\n", response(&served, now)))
}

/// The URI a `get` request names: `uri`, or the 2022 draft's `url` (both: they must agree).
pub(crate) fn parse_request(bytes: &[u8]) -> Result<String> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| bad(&format!("stdin is not JSON ({e})")))?;
    let Value::Object(fields) = value else { return Err(bad("the request is not a JSON object")) };
    let text = |key: &str| match fields.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(bad(&format!("\"{key}\" is not a string"))),
    };
    match (text("uri")?, text("url")?) {
        (Some(uri), Some(url)) if uri != url => Err(bad("\"uri\" and \"url\" name different URIs")),
        (Some(uri), _) | (None, Some(uri)) => Ok(uri.to_owned()),
        (None, None) => Err(bad("the request has no \"uri\" (send {\"uri\":\"https://...\"})")),
    }
}

/// A `get` answer, with the spec's field names.
#[derive(Serialize)]
struct Response {
    headers: Headers,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires: Option<String>,
}

#[derive(Serialize)]
struct Headers {
    #[serde(rename = "Authorization")]
    authorization: [String; 1],
}

/// The `get` answer for `served`.
pub(crate) fn response(served: &Served, now: OffsetDateTime) -> String {
    let answer = Response {
        headers: Headers { authorization: [format!("Bearer {}", served.token().expose())] },
        expires: expires(served, now).map(crate::clock::rfc3339),
    };
    serde_json::to_string(&answer).expect("a credential-helper answer always serializes")
}

/// When the tool should ask again ([`Served::ask_again_at`]), rounded down to the second (Bazel's pattern has no
/// fraction). `None` for a token that never expires.
fn expires(served: &Served, now: OffsetDateTime) -> Option<OffsetDateTime> {
    let at = served.ask_again_at(now)?;
    Some(at.replace_nanosecond(0).unwrap_or(at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    #[test]
    fn reads_uri_or_the_drafts_url() {
        let uri = |text: &str| parse_request(text.as_bytes());
        assert_eq!(uri(r#"{"uri":"https://a.example/x"}"#).unwrap(), "https://a.example/x");
        assert_eq!(uri(r#"{"url":"https://a.example/x"}"#).unwrap(), "https://a.example/x");
        assert_eq!(
            uri(r#"{"uri":"grpcs://c.example","url":"grpcs://c.example","x":[1]}"#).unwrap(),
            "grpcs://c.example"
        );
        for text in ["", "{", "[]", "\"https://a\"", "{}", r#"{"uri":5}"#, r#"{"uri":"https://a","url":"https://b"}"#] {
            assert_eq!(uri(text).unwrap_err().code(), "bad_request", "{text:?}");
        }
    }

    #[test]
    fn answers_with_headers_and_whole_second_expiry() {
        let now = OffsetDateTime::from_unix_timestamp(1_000_000).unwrap();
        let expiry = now + time::Duration::hours(1);
        let renew = expiry - time::Duration::milliseconds(60_250);
        let served = Served::new("p", Secret::new("t0k".into()), Some(expiry)).unwrap().renewing_at(Some(renew));
        assert_eq!(
            response(&served, now),
            r#"{"headers":{"Authorization":["Bearer t0k"]},"expires":"1970-01-12T14:45:39Z"}"#
        );
        let lasting = Served::new("p", Secret::new("t0k".into()), None).unwrap();
        assert_eq!(response(&lasting, now), r#"{"headers":{"Authorization":["Bearer t0k"]}}"#);
        // A renewal time already past is reported 10 s ahead, but never after the expiry.
        let late = Served::new("p", Secret::new("t0k".into()), Some(now + time::Duration::seconds(5))).unwrap();
        let late = late.renewing_at(Some(now - time::Duration::seconds(1)));
        assert!(response(&late, now).ends_with(r#""expires":"1970-01-12T13:46:45Z"}"#), "{}", response(&late, now));
    }
}
