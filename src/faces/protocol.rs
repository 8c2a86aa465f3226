//! The JSON face: `tokenfob protocol` answers one JSON request per line with one JSON response per line.
//!
//! Requests are `{"v":1,"op":"get"|"erase"|"status", ...}`; unknown fields are ignored so that newer clients work
//! with older tokenfobs. A malformed line gets a `bad_request` answer and the loop goes on; only end of input (or a
//! closed stdout) ends it. Lines are capped at 64 KiB so a runaway client cannot exhaust memory; a longer line is
//! answered with one `bad_request` and skipped to its end, never read as several requests. The configuration is
//! loaded again whenever its file changed. docs/protocol.md is the reference.

use std::io::{BufRead, Write};

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{App, Opened};
use crate::error::{Error, Result};
use crate::fileid::ConfigWatch;
use crate::secret::Secret;

/// One request, after the version check.
#[derive(Debug, Deserialize)]
pub(crate) struct Request {
    /// `get`, `erase` or `status`.
    pub(crate) op: String,
    /// The profile; chosen as in the shell face when absent.
    pub(crate) profile: Option<String>,
    /// A URL to choose the profile by.
    pub(crate) url: Option<String>,
    /// Renew a token that would expire sooner than this.
    pub(crate) min_valid: Option<String>,
    /// For `erase`: only if the cache holds exactly this token.
    #[serde(default, with = "crate::secret::exposed::option")]
    pub(crate) token: Option<Secret>,
}

/// Parses one request line, checking the version first.
pub(crate) fn parse_request(line: &str) -> Result<Request> {
    let value: Value = serde_json::from_str(line).map_err(|e| Error::BadRequest(format!("not JSON: {e}")))?;
    if !value.is_object() {
        return Err(Error::BadRequest("a request is a JSON object".into()));
    }
    match value.get("v") {
        Some(v) if v == &json!(1) => {}
        Some(v) => return Err(Error::UnsupportedVersion(v.to_string())),
        None => return Err(Error::BadRequest("missing \"v\" (send \"v\":1)".into())),
    }
    serde_json::from_value(value).map_err(|e| Error::BadRequest(e.to_string()))
}

/// Serves requests from `input` until it ends.
pub(crate) fn serve(app: &App, input: &mut dyn BufRead, out: &mut dyn Write) -> Result<()> {
    let mut state = State { opened: None, watch: ConfigWatch::default() };
    let mut line = Vec::new();
    loop {
        line.clear();
        let answer = match super::read_line(input, &mut line) {
            Ok(None) => return Ok(()),
            Ok(Some(true)) => error_json(&Error::BadRequest(format!("line longer than {} bytes", super::MAX_LINE))),
            Ok(Some(false)) => match std::str::from_utf8(&line) {
                Ok(text) => answer(app, &mut state, text),
                Err(_) => error_json(&Error::BadRequest("line is not UTF-8".into())),
            },
            Err(e) => return Err(Error::Input(e)),
        };
        zeroize::Zeroize::zeroize(&mut line);
        // A client that went away ends the loop as a broken pipe, which `main` does not report.
        super::write_out(out, &format!("{answer}\n"))?;
    }
}

/// What the loop keeps between requests: the configuration and its broker (whose cache remembers parsed entries),
/// and what the configuration file looked like when last hashed.
struct State<'a> {
    opened: Option<Opened<'a>>,
    watch: ConfigWatch,
}

fn answer<'a>(app: &'a App, state: &mut State<'a>, line: &str) -> Value {
    match handle(app, state, line) {
        Ok(mut body) => {
            let mut out = Map::from_iter([("v".to_owned(), json!(1)), ("ok".to_owned(), json!(true))]);
            out.append(&mut body);
            Value::Object(out)
        }
        Err(e) => error_json(&e),
    }
}

fn error_json(err: &Error) -> Value {
    json!({"v": 1, "ok": false, "error": {"code": err.code(), "message": err.to_string()}})
}

/// Drops the loaded configuration (and the broker made from it) when the file is no longer the one loaded: a
/// long-running loop serves the profiles as the file says now, as a fresh `tokenfob get` would (issue #10). A file
/// that became invalid then fails each request with a `config` error until it is fixed; the loop goes on. The check
/// is a `stat` while the file is unchanged, and a hash of its bytes otherwise ([`ConfigWatch`]), so an in-place edit
/// that keeps the size and the modification time is seen too.
fn forget_if_edited(app: &App, state: &mut State<'_>) {
    let Some(Opened { config, .. }) = &state.opened else { return };
    let path = crate::store::paths::config_file(app.config_flag.as_deref(), &app.env).ok();
    let current = path.and_then(|p| state.watch.current(&p));
    if current.is_none() || current != config.stamp.as_ref() {
        crate::log::debug(format_args!("{} changed; reloading it", config.path.display()));
        state.opened = None;
    }
}

/// The fields of the answer to one request line (beside `v` and `ok`).
fn handle<'a>(app: &'a App, state: &mut State<'a>, line: &str) -> Result<Map<String, Value>> {
    let req = parse_request(line)?;
    forget_if_edited(app, state);
    let opened = match &mut state.opened {
        Some(opened) => opened,
        empty => empty.insert(app.open()?),
    };
    let now = crate::clock::now();
    match req.op.as_str() {
        "get" => {
            let profile = opened.choose(req.profile.as_deref(), req.url.as_deref())?;
            // A client that names the URL will send the token there: in clear only to loopback or with allow_http,
            // as every tool face.
            if let Some(url) = req.url.as_deref().and_then(|u| reqwest::Url::parse(u).ok()) {
                super::cleartext_allowed(profile, &url)?;
            }
            let min_valid = match &req.min_valid {
                Some(text) => {
                    Some(crate::duration::parse(text).map_err(|e| Error::BadRequest(format!("min_valid: {e}")))?)
                }
                None => None,
            };
            let mut answer = super::token_json(&opened.broker.get(profile, min_valid, now)?);
            // What a package index wants beside the token (the Python keyring backend reads it); only this face
            // has it, since the cache-hit shortcut of `get -o json` never reads the profile.
            answer.insert("index_username".into(), json!(profile.index_username));
            Ok(answer)
        }
        "erase" => {
            let profile = opened.choose(req.profile.as_deref(), req.url.as_deref())?;
            let erased = opened.broker.erase(profile, req.token.as_ref())?;
            Ok(Map::from_iter([("profile".into(), json!(profile.name)), ("erased".into(), json!(erased))]))
        }
        "status" => {
            let statuses = opened.statuses(req.profile.as_deref(), req.url.as_deref())?;
            Ok(Map::from_iter([("profiles".into(), json!(statuses))]))
        }
        other => Err(Error::BadRequest(format!("unknown op {other:?} (expected get, erase or status)"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_is_checked_before_anything_else() {
        assert_eq!(parse_request(r#"{"v":2,"op":"get"}"#).unwrap_err().code(), "unsupported_version");
        assert_eq!(parse_request(r#"{"op":"get"}"#).unwrap_err().code(), "bad_request");
        assert_eq!(parse_request("[1]").unwrap_err().code(), "bad_request");
        assert_eq!(parse_request("{\"v\":1,").unwrap_err().code(), "bad_request");
        assert_eq!(parse_request(r#"{"v":1}"#).unwrap_err().code(), "bad_request");
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let r = parse_request(r#"{"v":1,"op":"erase","profile":"od","token":"t","future":{"x":1}}"#).unwrap();
        assert_eq!(r.op, "erase");
        assert_eq!(r.token.unwrap().expose(), "t");
    }

    #[test]
    fn long_lines_are_cut_and_the_next_line_still_read() {
        let mut data = vec![b'x'; crate::faces::MAX_LINE + 10];
        data.extend_from_slice(b"\nnext\r\n");
        let mut input = std::io::BufReader::with_capacity(1000, &data[..]);
        let mut line = Vec::new();
        assert_eq!(crate::faces::read_line(&mut input, &mut line).unwrap(), Some(true));
        line.clear();
        assert_eq!(crate::faces::read_line(&mut input, &mut line).unwrap(), Some(false));
        assert_eq!(line, b"next");
        line.clear();
        assert_eq!(crate::faces::read_line(&mut input, &mut line).unwrap(), None);
    }
}
