//! The `command` kind: a program prints the token (or a JSON object with `token` and `expires_at`). It runs under
//! the same process runner as `{ command = ... }` secrets (`sys::child`), bounded in time and output.

use std::time::Duration;

use time::OffsetDateTime;

use super::reply::{self, Issued};
use crate::error::{Error, Result};
use crate::secret::Secret;

/// Runs a `command` profile's program (bounded by `timeout`, see [`crate::sys::child`]): its stdout is the token, or a
/// JSON object with `token` and `expires_at`.
pub(crate) fn run_command(
    profile: &str,
    argv: &[String],
    lifetime: Option<Duration>,
    timeout: Duration,
    now: OffsetDateTime,
) -> Result<Issued> {
    let what = format!("running the command of profile {profile:?}");
    let shell = crate::sys::child::SHELL;
    let shown =
        argv.strip_prefix(&shell.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()[..]).unwrap_or(argv).join(" ");
    let fail = |why: String| Error::Other(format!("{what}: `{shown}` {why}"));
    let command = crate::sys::child::command(argv);
    let out =
        crate::sys::child::output(command, timeout, crate::net::http::MAX_BODY).map_err(|e| fail(e.to_string()))?;
    parse_command_output(&out, lifetime, now).map_err(fail)
}

/// Reads a command's output: a bare token, or `{"token": ..., "expires_at": RFC 3339 or epoch seconds}`.
pub(crate) fn parse_command_output(
    out: &[u8],
    lifetime: Option<Duration>,
    now: OffsetDateTime,
) -> Result<Issued, String> {
    let text = std::str::from_utf8(out).map_err(|_| "printed something that is not UTF-8".to_string())?.trim();
    let (token, expires_at) = if text.starts_with('{') {
        let json: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("printed malformed JSON: {e}"))?;
        let token = json.get("token").and_then(|t| t.as_str()).ok_or("printed JSON without a \"token\" string")?;
        // A present expires_at that cannot be read is an error, never a token without expiry (issue #10).
        let bad = "printed an expires_at that is not an RFC 3339 time or epoch seconds from 1970 to 9999";
        let at = match json.get("expires_at") {
            None => None,
            Some(value) => Some(reply::time_value(value).ok_or(bad)?),
        };
        (token.to_owned(), at)
    } else {
        (text.to_owned(), None)
    };
    if !crate::token::is_valid_token(&token) {
        return Err("printed no usable token (empty, several words, or control characters)".into());
    }
    let lifetime = lifetime.map(|d| {
        time::Duration::try_from(d).ok().and_then(|d| now.checked_add(d)).ok_or("has a lifetime past the year 9999")
    });
    let expires_at = match expires_at {
        Some(at) => Some(at),
        None => lifetime.transpose()?,
    };
    Ok(Issued { token: Secret::new(token), expires_at, refresh_token: None, refresh_expires_at: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_output_is_a_token_or_json() {
        let now = OffsetDateTime::from_unix_timestamp(1000).unwrap();
        let got = parse_command_output(b"abc\n", Some(Duration::from_secs(60)), now).unwrap();
        assert_eq!(got.token.expose(), "abc");
        assert_eq!(got.expires_at.unwrap().unix_timestamp(), 1060);
        let got = parse_command_output(br#"{"token":"t","expires_at":2000}"#, None, now).unwrap();
        assert_eq!(got.expires_at.unwrap().unix_timestamp(), 2000);
        assert!(parse_command_output(b"two words", None, now).is_err());
        assert!(parse_command_output(b"{\"tok", None, now).is_err());
        for bad in [r#""soon""#, "253402300800000", "-100", "true", "null", r#""10000-01-01T00:00:00Z""#] {
            let out = format!(r#"{{"token":"t","expires_at":{bad}}}"#);
            assert!(parse_command_output(out.as_bytes(), None, now).is_err(), "{bad}");
        }
    }
}
