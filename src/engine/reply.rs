//! Reading a login, refresh or lookup answer: the token, its expiry, the refresh token, or why there is none.
//!
//! Pure functions of the answer, the recipe's [`ReplySpec`] and the time the request was sent, so every server
//! quirk is tested (and fuzzed) on bytes. A token that is not a visible-ASCII string is refused: it would end up
//! in an HTTP header, where a newline injects another header. An expiry or success field that is present but
//! cannot be right (a negative lifetime, a year past 9999, `"success": null`) is an error, never a fallback to
//! "valid forever" (issue #10): only an answer that says nothing about expiry gives a token without one.

use time::OffsetDateTime;

use crate::clock;
use crate::net::http::Answer;
use crate::recipe::ReplySpec;
use crate::secret::Secret;

/// What a good answer yields.
#[derive(Debug)]
pub(crate) struct Issued {
    /// The bearer token.
    pub(crate) token: Secret,
    /// When it expires; `None` for never.
    pub(crate) expires_at: Option<OffsetDateTime>,
    /// A refresh token, if the answer has one.
    pub(crate) refresh_token: Option<Secret>,
    /// When the refresh token expires, if the answer says.
    pub(crate) refresh_expires_at: Option<OffsetDateTime>,
}

/// Why an answer yields no token.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The server refused the credentials (401, 403, or a false success flag); carries its message.
    Rejected(String),
    /// Anything else: wrong status, missing or malformed token; carries a description.
    Unusable(String),
}

/// A one-line description of a failed answer: the status and the server's message, if it has one.
pub(crate) fn describe(answer: &Answer, spec: &ReplySpec) -> String {
    let mut text = format!("HTTP {}", answer.status);
    if (300..400).contains(&answer.status) {
        let to = answer.header("location").unwrap_or("?");
        text.push_str(&format!(" redirect to {} (not followed: credentials go to the same origin only)", clean(to)));
    } else if answer.status == 429 {
        let after = answer.header("retry-after").map(clean).unwrap_or_else(|| "a while".into());
        text.push_str(&format!(" Too Many Requests (the server asks to retry after {after})"));
    } else if let Some(message) = message(answer, spec) {
        text.push_str(": ");
        text.push_str(&message);
    } else if answer.body.trim_ascii_start().starts_with(b"<") {
        text.push_str(" with an HTML page");
    }
    text
}

/// The error code at the recipe's `error_pointer` (OAuth 2.0's `error`), if any.
pub(super) fn error_code(answer: &Answer, spec: &ReplySpec) -> Option<String> {
    let pointer = spec.error_pointer.as_deref()?;
    answer.json()?.pointer(pointer)?.as_str().map(str::to_owned)
}

/// The server's own message, from the recipe's pointer or the usual fields, after its error code if it has one
/// (`invalid_grant: refresh token expired`).
pub(crate) fn message(answer: &Answer, spec: &ReplySpec) -> Option<String> {
    match (error_code(answer, spec).map(|c| clean(&c)), plain_message(answer, spec)) {
        (Some(code), Some(m)) if m != code => Some(format!("{code}: {m}")),
        (Some(code), _) => Some(code),
        (None, m) => m,
    }
}

fn plain_message(answer: &Answer, spec: &ReplySpec) -> Option<String> {
    let json = answer.json()?;
    let pointers = spec.message_pointer.iter().map(String::as_str).chain([
        "/message",
        "/error_description",
        "/error/message",
        "/error",
        "/detail",
        "/title",
        "/errors/0/detail",
        "/errors/0/title",
    ]);
    pointers.filter_map(|p| json.pointer(p)?.as_str()).find(|s| !s.is_empty()).map(clean)
}

/// Makes text from a server one printable line. It does not shorten: secrets are redacted from the whole text
/// first, and [`shorten`] cuts after that (cutting first could leave the start of a secret to be shown, issue #10).
pub(crate) fn clean(text: &str) -> String {
    let line: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    line.trim().to_owned()
}

/// The longest server message shown, in characters.
const MAX_MESSAGE: usize = 200;

/// Cuts a (redacted) message to [`MAX_MESSAGE`] characters, marking the cut.
pub(crate) fn shorten(text: &str) -> String {
    match text.char_indices().nth(MAX_MESSAGE) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text.to_owned(),
    }
}

/// Reads a login or refresh answer. `sent_at` is when the request left (lifetimes count from then, which is immune
/// to clock skew between us and the server); `lifetime` applies when nothing else gives the expiry.
pub(crate) fn parse(
    spec: &ReplySpec,
    lifetime: Option<std::time::Duration>,
    answer: &Answer,
    sent_at: OffsetDateTime,
) -> Result<Issued, Failure> {
    let refused_code = error_code(answer, spec).is_some_and(|c| spec.rejection_errors.contains(&c));
    if matches!(answer.status, 401 | 403) || (refused_code && !(200..300).contains(&answer.status)) {
        return Err(Failure::Rejected(describe(answer, spec)));
    }
    if !(200..300).contains(&answer.status) {
        return Err(Failure::Unusable(describe(answer, spec)));
    }
    let json = answer.json();
    check_success(spec, answer, json.as_ref())?;
    let token = find_token(spec, answer, json.as_ref())?;
    let bad = |e: String| Failure::Unusable(format!("HTTP {} with {e}", answer.status));
    let expires_at = match expiry(spec, json.as_ref(), &token, sent_at).map_err(bad)? {
        Some(at) => Some(at),
        None => lifetime.map(|d| after(sent_at, d)).transpose().map_err(bad)?,
    };
    let refresh_token = match (&spec.refresh_token_pointer, &json) {
        (Some(p), Some(j)) => j
            .pointer(p)
            .and_then(|v| v.as_str())
            .filter(|s| crate::token::is_valid_token(s))
            .map(|s| Secret::new(s.to_owned())),
        _ => None,
    };
    let refresh_expires_at = match &json {
        Some(j) => match seconds_at(j, spec.refresh_expires_in_pointer.as_deref(), sent_at).map_err(bad)? {
            Some(at) => Some(at),
            None => time_at(j, spec.refresh_expires_at_pointer.as_deref()).map_err(bad)?,
        },
        None => None,
    };
    Ok(Issued { token: Secret::new(token), expires_at, refresh_token, refresh_expires_at })
}

/// The recipe's success flag: absent or `true` is fine, `false` is a rejection, anything else (`null`, a number,
/// a word other than true or false) is an answer that cannot be trusted.
fn check_success(spec: &ReplySpec, answer: &Answer, json: Option<&serde_json::Value>) -> Result<(), Failure> {
    use serde_json::Value;
    let Some(pointer) = spec.success_pointer.as_deref() else { return Ok(()) };
    let said = match json.and_then(|j| j.pointer(pointer)) {
        None | Some(Value::Bool(true)) => return Ok(()),
        Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("true") => return Ok(()),
        Some(Value::Bool(false)) => "success: false",
        Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("false") => "success: \"false\"",
        Some(_) => {
            return Err(Failure::Unusable(format!(
                "HTTP {} with a success flag at {pointer} that is neither true nor false",
                answer.status
            )));
        }
    };
    Err(Failure::Rejected(message(answer, spec).unwrap_or_else(|| format!("the answer says {said}"))))
}

fn find_token(spec: &ReplySpec, answer: &Answer, json: Option<&serde_json::Value>) -> Result<String, Failure> {
    // A header that holds only a scheme (`Authorization: Bearer`) carries no token: it must not become one.
    let from_header =
        spec.token_header.iter().find_map(|h| answer.header(h).map(strip_scheme).filter(|t| !t.is_empty()));
    let from_body = || {
        let pointer = spec.token_pointer.as_deref()?;
        json?.pointer(pointer)?.as_str().map(str::to_owned)
    };
    let token = from_header.map(str::to_owned).or_else(from_body).ok_or_else(|| {
        let place = match (&spec.token_pointer, spec.token_header.first()) {
            (Some(p), _) => format!("at JSON pointer {p}"),
            (None, Some(h)) => format!("in header {h}"),
            (None, None) => "anywhere".into(),
        };
        let body = if json.is_none() && spec.token_pointer.is_some() { " (the body is not JSON)" } else { "" };
        Failure::Unusable(format!("HTTP {} without a token {place}{body}", answer.status))
    })?;
    if !crate::token::is_valid_token(&token) {
        return Err(Failure::Unusable(format!(
            "HTTP {} with a token that is empty, too long or holds spaces or control characters (refused: it would corrupt the Authorization header)",
            answer.status
        )));
    }
    Ok(token)
}

/// `Bearer abc` -> `abc`, a bare `Bearer` -> empty; other values are returned trimmed.
fn strip_scheme(value: &str) -> &str {
    let value = value.trim();
    match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        None if value.eq_ignore_ascii_case("bearer") => "",
        _ => value,
    }
}

/// The expiry the answer gives: its lifetime field, else its expiry-time field, else the token's JWT `exp`.
/// `Ok(None)` when it gives none; an error naming the field when one is present but cannot be right.
fn expiry(
    spec: &ReplySpec,
    json: Option<&serde_json::Value>,
    token: &str,
    sent_at: OffsetDateTime,
) -> Result<Option<OffsetDateTime>, String> {
    if let Some(j) = json {
        if let Some(at) = seconds_at(j, spec.expires_in_pointer.as_deref(), sent_at)? {
            return Ok(Some(at));
        }
        if let Some(at) = time_at(j, spec.expires_at_pointer.as_deref())? {
            return Ok(Some(at));
        }
    }
    let Some(claim) = spec.jwt_exp.unwrap_or(true).then(|| crate::jwt::exp_claim(token)).flatten() else {
        return Ok(None);
    };
    let exp = claim.map_err(|()| "a JWT whose exp claim is not a number (RFC 7519 NumericDate)".to_owned())?;
    OffsetDateTime::from_unix_timestamp(exp)
        .ok()
        .filter(plausible)
        .map(Some)
        .ok_or_else(|| "an expiry in the JWT's exp claim that cannot be right (outside the years 1970 to 9999)".into())
}

/// The latest lifetime a server may give, in seconds (about 317 years: "never" would be written without a field).
const MAX_LIFETIME_SECS: f64 = 1e10;

/// True for an expiry that can be stored and compared: between 1970 and 9999.
fn plausible(at: &OffsetDateTime) -> bool {
    (1970..=9999).contains(&at.year())
}

/// `start + d`, or an error when that leaves the calendar.
fn after(start: OffsetDateTime, d: std::time::Duration) -> Result<OffsetDateTime, String> {
    time::Duration::try_from(d)
        .ok()
        .and_then(|d| start.checked_add(d))
        .filter(plausible)
        .ok_or_else(|| "a lifetime that reaches past the year 9999".into())
}

/// `sent_at` plus the number of seconds at `pointer` (a number or a numeric string); `Ok(None)` when absent.
fn seconds_at(
    json: &serde_json::Value,
    pointer: Option<&str>,
    sent_at: OffsetDateTime,
) -> Result<Option<OffsetDateTime>, String> {
    let Some(pointer) = pointer else { return Ok(None) };
    let Some(value) = json.pointer(pointer) else { return Ok(None) };
    let wrong = |why: &str| format!("a lifetime at {pointer} that cannot be right ({why})");
    let secs = value.as_f64().or_else(|| value.as_str()?.trim().parse().ok()).ok_or_else(|| wrong("not a number"))?;
    if !secs.is_finite() || secs < 0.0 {
        return Err(wrong("negative or not finite"));
    }
    if secs >= MAX_LIFETIME_SECS {
        return Err(wrong("too long"));
    }
    after(sent_at, std::time::Duration::from_secs(secs as u64)).map(Some).map_err(|e| wrong(&e))
}

/// A point in time as servers and commands write it: an RFC 3339 string or epoch seconds, from 1970 to 9999;
/// `None` for anything else (`null` included: a field that is there must say when).
pub(super) fn time_value(value: &serde_json::Value) -> Option<OffsetDateTime> {
    let at = match value {
        serde_json::Value::String(s) => clock::parse_rfc3339(s),
        serde_json::Value::Number(n) => n.as_i64().and_then(|n| OffsetDateTime::from_unix_timestamp(n).ok()),
        _ => None,
    };
    at.filter(plausible)
}

/// The time at `pointer` (an RFC 3339 string or epoch seconds); `Ok(None)` when absent.
fn time_at(json: &serde_json::Value, pointer: Option<&str>) -> Result<Option<OffsetDateTime>, String> {
    let Some(pointer) = pointer else { return Ok(None) };
    let Some(value) = json.pointer(pointer) else { return Ok(None) };
    time_value(value).map(Some).ok_or_else(|| {
        format!("an expiry at {pointer} that cannot be right (not an RFC 3339 time or epoch seconds from 1970 to 9999)")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn session_spec() -> ReplySpec {
        ReplySpec {
            token_pointer: Some("/token".into()),
            refresh_token_pointer: Some("/refreshToken".into()),
            refresh_expires_at_pointer: Some("/refreshTokenExpiration".into()),
            expires_in_pointer: Some("/tokenLifetime".into()),
            expires_at_pointer: Some("/tokenExpiration".into()),
            success_pointer: Some("/success".into()),
            message_pointer: Some("/message".into()),
            ..ReplySpec::default()
        }
    }

    fn answer(status: u16, body: &str) -> Answer {
        Answer { status, headers: vec![], body: body.as_bytes().to_vec() }
    }

    fn t(s: &str) -> OffsetDateTime {
        clock::parse_rfc3339(s).unwrap()
    }

    #[test]
    fn session_answer_counts_lifetime_from_the_request() {
        let body = r#"{"success":true,"guid":"g","token":"tok","tokenExpiration":"2018-04-01T21:39:12+00:00",
            "tokenLifetime":3600,"refreshToken":"ref","refreshTokenExpiration":"2018-04-08T21:39:12+00:00"}"#;
        let got = parse(&session_spec(), None, &answer(200, body), t("2026-01-01T00:00:00Z")).unwrap();
        assert_eq!(got.token.expose(), "tok");
        assert_eq!(got.expires_at, Some(t("2026-01-01T01:00:00Z")));
        assert_eq!(got.refresh_token.unwrap().expose(), "ref");
        assert_eq!(got.refresh_expires_at, Some(t("2018-04-08T21:39:12Z")));
    }

    #[test]
    fn falls_back_to_the_expiration_time() {
        let body = r#"{"success":true,"token":"tok","tokenExpiration":"2030-04-01T21:39:12+02:00"}"#;
        let got = parse(&session_spec(), None, &answer(200, body), t("2026-01-01T00:00:00Z")).unwrap();
        assert_eq!(got.expires_at, Some(t("2030-04-01T19:39:12Z")));
    }

    #[test]
    fn rejections_carry_the_server_message() {
        let body = r#"{"success":false,"message":"Invalid credentials"}"#;
        let now = t("2026-01-01T00:00:00Z");
        assert_eq!(
            parse(&session_spec(), None, &answer(200, body), now).unwrap_err(),
            Failure::Rejected("Invalid credentials".into())
        );
        assert_eq!(
            parse(&session_spec(), None, &answer(401, body), now).unwrap_err(),
            Failure::Rejected("HTTP 401: Invalid credentials".into())
        );
        let html = answer(500, "<html><body>Oops</body></html>");
        assert_eq!(
            parse(&session_spec(), None, &html, now).unwrap_err(),
            Failure::Unusable("HTTP 500 with an HTML page".into())
        );
    }

    #[test]
    fn header_tokens_lose_their_scheme_and_use_the_jwt_exp() {
        let payload = crate::jwt::base64url_encode(br#"{"exp":1893456000}"#);
        let spec =
            ReplySpec { token_header: vec!["Authorization".into(), "X-Auth-Token".into()], ..ReplySpec::default() };
        let mut a = answer(200, "{}");
        a.headers.push(("authorization".into(), format!("Bearer h.{payload}.s")));
        let got = parse(&spec, Some(Duration::from_secs(60)), &a, t("2026-01-01T00:00:00Z")).unwrap();
        assert_eq!(got.token.expose(), format!("h.{payload}.s"));
        assert_eq!(got.expires_at, Some(t("2030-01-01T00:00:00Z")));
        let mut b = answer(200, "");
        b.headers.push(("x-auth-token".into(), "opaque".into()));
        let got = parse(&spec, Some(Duration::from_secs(60)), &b, t("2026-01-01T00:00:00Z")).unwrap();
        assert_eq!(got.expires_at, Some(t("2026-01-01T00:01:00Z")));
    }

    #[test]
    fn expiry_fields_that_cannot_be_right_are_errors() {
        let now = t("2026-01-01T00:00:00Z");
        for body in [
            r#"{"token":"tok","tokenLifetime":-100}"#,
            r#"{"token":"tok","tokenLifetime":"soon"}"#,
            r#"{"token":"tok","tokenLifetime":1e300}"#,
            r#"{"token":"tok","tokenLifetime":null}"#,
            r#"{"token":"tok","tokenExpiration":"10000-01-01T00:00:00Z"}"#,
            r#"{"token":"tok","tokenExpiration":253402300800000}"#,
            r#"{"token":"tok","tokenExpiration":true}"#,
            r#"{"token":"tok","tokenLifetime":60,"refreshToken":"r","refreshTokenExpiration":"later"}"#,
            r#"{"success":null,"token":"tok"}"#,
        ] {
            match parse(&session_spec(), None, &answer(200, body), now) {
                Err(Failure::Unusable(_)) => {}
                other => panic!("{body}: {other:?}"),
            }
        }
        let body = r#"{"success":"false","token":"tok","tokenLifetime":60}"#;
        assert!(matches!(parse(&session_spec(), None, &answer(200, body), now), Err(Failure::Rejected(_))));
        let body = r#"{"success":"true","token":"tok","tokenLifetime":0}"#;
        assert_eq!(parse(&session_spec(), None, &answer(200, body), now).unwrap().expires_at, Some(now));
        let body = r#"{"token":"tok"}"#;
        assert_eq!(parse(&session_spec(), None, &answer(200, body), now).unwrap().expires_at, None, "no field: never");
    }

    #[test]
    fn a_jwt_exp_that_is_not_a_number_is_an_error_not_never() {
        let spec = ReplySpec { token_pointer: Some("/token".into()), ..ReplySpec::default() };
        let now = t("2026-01-01T00:00:00Z");
        for claims in [r#"{"exp":"1796226760"}"#, r#"{"exp":null}"#, r#"{"exp":[1]}"#] {
            let jwt = format!("h.{}.s", crate::jwt::base64url_encode(claims.as_bytes()));
            let body = format!(r#"{{"token":"{jwt}"}}"#);
            match parse(&spec, None, &answer(200, &body), now) {
                Err(Failure::Unusable(why)) => assert!(why.contains("exp"), "{why}"),
                other => panic!("{claims}: {other:?}"),
            }
        }
        let jwt = format!("h.{}.s", crate::jwt::base64url_encode(br#"{"sub":"x"}"#));
        let body = format!(r#"{{"token":"{jwt}"}}"#);
        assert_eq!(parse(&spec, None, &answer(200, &body), now).unwrap().expires_at, None, "no exp: never");
    }

    #[test]
    fn a_bare_scheme_is_not_a_token() {
        let spec = ReplySpec { token_header: vec!["Authorization".into()], ..ReplySpec::default() };
        for value in ["Bearer", "bearer ", ""] {
            let mut a = answer(200, "{}");
            a.headers.push(("authorization".into(), value.into()));
            assert!(parse(&spec, None, &a, t("2026-01-01T00:00:00Z")).is_err(), "{value:?}");
        }
        let payload = crate::jwt::base64url_encode(br#"{"exp":-377705116800}"#);
        let mut a = answer(200, "{}");
        a.headers.push(("authorization".into(), format!("Bearer h.{payload}.s")));
        assert!(parse(&spec, None, &a, t("2026-01-01T00:00:00Z")).is_err(), "an exp before 1970");
    }

    #[test]
    fn refuses_missing_and_dangerous_tokens() {
        let now = t("2026-01-01T00:00:00Z");
        for body in [r#"{"success":true}"#, r#"{"token":"a\nb"}"#, r#"{"token":"a b"}"#, r#"{"token":""}"#, "{trunc"] {
            match parse(&session_spec(), None, &answer(200, body), now) {
                Err(Failure::Unusable(_)) => {}
                other => panic!("{body}: {other:?}"),
            }
        }
    }
}
