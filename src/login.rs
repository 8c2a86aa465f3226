//! The login engine: runs a recipe's calls and turns the answers into a token.
//!
//! One engine serves every HTTP kind. It fills placeholders lazily (a secret is read only when a call needs it,
//! so a refresh never prompts for a password), runs lookups for unset variables, tries fallback URLs on 404,
//! draws a new `{nonce}` on 409 when the recipe says so, and remembers the plain values a login used so that
//! logout can use them again. The `command` kind, which runs a program instead of HTTP, lives here too.

use std::collections::{BTreeMap, HashMap};
use std::process::Command;
use std::time::Duration;

use time::OffsetDateTime;

use crate::config::Profile;
use crate::error::{Error, Result};
use crate::http::{Http, Outgoing};
use crate::recipe::{CallSpec, Interactive, Recipe, VarSpec};
use crate::reply::{self, Answer, Failure, Issued};
use crate::secret::{Resolver, Secret};
use crate::template::{self, Piece};

/// How many times a 409 Conflict draws a new nonce before giving up.
const CONFLICT_RETRIES: usize = 5;

/// What a login or refresh produced: the token and the plain values worth keeping.
#[derive(Debug)]
pub struct Outcome {
    /// The token and its expiry.
    pub issued: Issued,
    /// Plain placeholder values used (ids, looked-up values), saved with the entry.
    pub vars: BTreeMap<String, String>,
}

#[derive(Clone)]
enum Value {
    Plain(serde_json::Value),
    Secret(Secret),
}

impl Value {
    fn text(&self) -> String {
        match self {
            Value::Plain(serde_json::Value::String(s)) => s.clone(),
            Value::Plain(other) => other.to_string(),
            Value::Secret(s) => s.expose().to_owned(),
        }
    }
}

/// Where an expanded string goes: URLs must not carry secrets and get their values percent-encoded.
#[derive(Clone, Copy, PartialEq)]
enum Place {
    Url,
    Header,
}

/// Runs one recipe for one profile.
pub struct Engine<'a> {
    recipe: &'a Recipe,
    profile: &'a str,
    resolver: Resolver<'a>,
    http: Http<'a>,
    known: HashMap<String, Value>,
    kept: BTreeMap<String, String>,
    /// Drawn on first use, so that a failing random source fails only the calls that need one.
    nonce: Option<String>,
    secrets: Vec<Secret>,
    depth: usize,
    /// How many times a secret value was used, so a request knows whether it carries one.
    secret_uses: usize,
    /// Lookup answers by URL, so several values from one discovery document cost one request.
    fetched: HashMap<String, Option<serde_json::Value>>,
}

impl<'a> Engine<'a> {
    /// An engine for `profile`'s `recipe`.
    pub fn new(recipe: &'a Recipe, profile: &'a Profile, resolver: Resolver<'a>) -> Engine<'a> {
        Engine {
            recipe,
            profile: &profile.name,
            http: Http::new(&profile.net, resolver.env),
            resolver,
            known: HashMap::new(),
            kept: BTreeMap::new(),
            nonce: None,
            secrets: Vec::new(),
            depth: 0,
            secret_uses: 0,
            fetched: HashMap::new(),
        }
    }

    /// Starts from the values an earlier login kept (for refresh and logout).
    pub fn with_saved(mut self, saved: &BTreeMap<String, String>) -> Engine<'a> {
        for (k, v) in saved {
            self.known.insert(k.clone(), Value::Plain(v.clone().into()));
            self.kept.insert(k.clone(), v.clone());
        }
        self
    }

    /// Logs in: the interactive step first, if the recipe has one, else the login call.
    pub fn login(&mut self) -> Result<Outcome> {
        let recipe = self.recipe;
        match &recipe.interactive {
            Some(Interactive::DeviceCode { authorize, timeout }) => {
                return crate::oauth::device(self, authorize, *timeout);
            }
            Some(Interactive::Browser { authorization_url, query, timeout }) => {
                return crate::oauth::browser(self, authorization_url, query, *timeout);
            }
            None => {}
        }
        let what = format!("logging in to profile {:?}", self.profile);
        let (answer, sent_at, url) = self.run(&self.recipe.login, "POST", &what)?;
        self.read_reply(&answer, sent_at, &url, &what)
    }

    /// Renews with `refresh_token`; a rejection is `Error::AuthRejected`, which callers answer with a login.
    pub fn refresh(&mut self, refresh_token: &Secret) -> Result<Outcome> {
        let spec =
            self.recipe.refresh.as_ref().ok_or_else(|| Error::Other("this profile has no refresh call".into()))?;
        self.known.insert("refresh_token".into(), Value::Secret(refresh_token.clone()));
        self.secrets.push(refresh_token.clone());
        let what = format!("refreshing profile {:?}", self.profile);
        let (answer, sent_at, url) = self.run(spec, "POST", &what)?;
        match reply::parse(&self.recipe.reply, self.recipe.lifetime, &answer, sent_at) {
            Ok(issued) => Ok(Outcome { issued, vars: std::mem::take(&mut self.kept) }),
            // Issue #10: a refusal in any form (Glewlwyd answers a dead refresh token with a bare 400), and a good
            // answer without the token we serve (many providers send no ID token on refresh), both mean "log in
            // again": the caller drops the refresh token and runs the grant. A 2xx that is not JSON at all (a
            // gateway's maintenance page) says nothing about the refresh token, which is kept for the next try.
            Err(f) if refresh_refused(answer.status) || answered_without_token(&answer, &self.recipe.reply) => {
                let (Failure::Rejected(why) | Failure::Unusable(why)) = f;
                Err(self.failure(Failure::Rejected(why), &url, &what))
            }
            Err(f) => Err(self.failure(f, &url, &what)),
        }
    }

    /// Revokes the token server-side, if the recipe can; a 404 counts as already revoked. False when it cannot
    /// (no logout call, or its URL has no value, such as a provider without a revocation endpoint).
    /// `{revoke_token}` is the refresh token when there is one (revoking it ends the whole grant), else the token.
    pub fn logout(&mut self, token: Option<&Secret>, refresh_token: Option<&Secret>) -> Result<bool> {
        let recipe = self.recipe;
        let Some(spec) = &recipe.logout else { return Ok(false) };
        if let Some(t) = token {
            self.set_secret("token", t.expose().to_owned());
        }
        if let Some(r) = refresh_token {
            self.set_secret("refresh_token", r.expose().to_owned());
        }
        if let Some(revoke) = refresh_token.or(token) {
            self.set_secret("revoke_token", revoke.expose().to_owned());
            let hint = if refresh_token.is_some() { "refresh_token" } else { "access_token" };
            self.set_plain("revoke_token_hint", hint.into());
        }
        for piece in template::parse(&spec.url).map_err(|e| self.config_error(e))? {
            if let Piece::Var { name, .. } = piece
                && self.value(name)?.is_none()
            {
                crate::log::debug(format_args!("profile {}: no {{{name}}}, so no server-side logout", self.profile));
                return Ok(false);
            }
        }
        let what = format!("revoking the token of profile {:?}", self.profile);
        let (answer, _, url) = self.run(spec, "DELETE", &what)?;
        match answer.status {
            200..=299 | 404 | 410 => Ok(true),
            _ => Err(self.failure(Failure::Unusable(answer.describe(&self.recipe.reply)), &url, &what)),
        }
    }

    /// The profile's name, for messages.
    pub(crate) fn profile_name(&self) -> &str {
        self.profile
    }

    /// The recipe being run.
    pub(crate) fn recipe(&self) -> &'a Recipe {
        self.recipe
    }

    /// A variable of the environment (`$BROWSER`).
    pub(crate) fn env_var(&self, name: &str) -> Option<String> {
        self.resolver.env.get(name).map(str::to_owned)
    }

    /// Fails unless the user can take part: prompting allowed and a terminal there.
    pub(crate) fn require_interaction(&self, what: &str) -> Result<()> {
        let why = if !self.resolver.may_prompt {
            "prompting is turned off (--no-input, TOKENFOB_NO_INPUT, or kubectl without a terminal)"
        } else if crate::tty::Tty::open().is_none() {
            "there is no terminal"
        } else {
            return Ok(());
        };
        Err(Error::InteractionRequired { what: what.into(), why: why.into(), profile: self.profile.into() })
    }

    /// Sets a placeholder to a secret value.
    pub(crate) fn set_secret(&mut self, name: &str, value: String) {
        let secret = Secret::new(value);
        self.secrets.push(secret.clone());
        self.known.insert(name.to_owned(), Value::Secret(secret));
    }

    /// Sets a placeholder to a plain value.
    pub(crate) fn set_plain(&mut self, name: &str, value: String) {
        self.known.insert(name.to_owned(), Value::Plain(value.into()));
    }

    /// Expands a URL template.
    pub(crate) fn url_text(&mut self, template: &str) -> Result<String> {
        self.text(template, Place::Url)
    }

    /// Expands a template, `None` for a lone unset `{x?}`.
    pub(crate) fn optional_value(&mut self, template: &str) -> Result<Option<String>> {
        self.optional_text(template)
    }

    /// The error code of an answer, by the recipe's `error_pointer`.
    pub(crate) fn error_code(&self, answer: &Answer) -> Option<String> {
        answer.error_code(&self.recipe.reply)
    }

    /// The error for an answer without what the step needed.
    pub(crate) fn unusable(&self, answer: &Answer, url: &str, what: &str) -> Error {
        let failure = match answer.status {
            401 | 403 => Failure::Rejected(answer.describe(&self.recipe.reply)),
            _ => Failure::Unusable(answer.describe(&self.recipe.reply)),
        };
        self.failure(failure, url, what)
    }

    pub(crate) fn read_reply(
        &mut self,
        answer: &Answer,
        sent_at: OffsetDateTime,
        url: &str,
        what: &str,
    ) -> Result<Outcome> {
        match reply::parse(&self.recipe.reply, self.recipe.lifetime, answer, sent_at) {
            Ok(issued) => Ok(Outcome { issued, vars: std::mem::take(&mut self.kept) }),
            Err(f) => Err(self.failure(f, url, what)),
        }
    }

    fn failure(&self, failure: Failure, url: &str, what: &str) -> Error {
        let (Failure::Rejected(why) | Failure::Unusable(why)) = &failure;
        let why = reply::shorten(&self.redact(why));
        match failure {
            Failure::Rejected(_) => {
                Error::AuthRejected { what: what.into(), url: url.into(), why, profile: self.profile.into() }
            }
            Failure::Unusable(_) => Error::Server { what: what.into(), url: url.into(), why },
        }
    }

    /// Removes every secret this engine used, in any encoding, from server text (a server may echo what it was
    /// sent). Runs before any cut (see [`crate::redact`]).
    fn redact(&self, text: &str) -> String {
        crate::redact::redact(text, &self.secrets)
    }

    /// `err` with server text redacted and shortened, for errors built outside this engine (the browser redirect).
    pub(crate) fn redact_error(&self, err: Error) -> Error {
        match err {
            Error::AuthRejected { what, url, why, profile } => {
                Error::AuthRejected { what, url, why: reply::shorten(&self.redact(&why)), profile }
            }
            Error::Server { what, url, why } => Error::Server { what, url, why: reply::shorten(&self.redact(&why)) },
            other => other,
        }
    }

    /// Sends `spec`, following its fallback URLs on 404 and retrying with a new nonce on 409.
    pub(crate) fn run(
        &mut self,
        spec: &CallSpec,
        default_method: &str,
        what: &str,
    ) -> Result<(Answer, OffsetDateTime, String)> {
        let urls: Vec<&str> =
            std::iter::once(spec.url.as_str()).chain(spec.fallback_urls.iter().map(String::as_str)).collect();
        for _ in 0..CONFLICT_RETRIES {
            for (i, url_template) in urls.iter().enumerate() {
                let req = self.request(spec, url_template, default_method)?;
                let url = crate::http::redacted(&req.url);
                let (answer, sent_at) = self.http.send(req, what)?;
                if answer.status == 404 && i + 1 < urls.len() {
                    crate::log::debug(format_args!("{url} answered 404; trying the next URL"));
                    continue;
                }
                if answer.status == 409 && spec.retry_on_conflict {
                    crate::log::debug(format_args!("{url} answered 409; drawing a new nonce"));
                    self.renew_nonce()?;
                    break;
                }
                return Ok((answer, sent_at, url));
            }
        }
        Err(Error::Server {
            what: what.into(),
            url: spec.url.clone(),
            why: format!("409 Conflict {CONFLICT_RETRIES} times (the id is taken; change token_id)"),
        })
    }

    /// The current `{nonce}`, drawn on first use.
    fn nonce(&mut self) -> Result<String> {
        if self.nonce.is_none() {
            self.nonce = Some(crate::sys::random_hex(4)?);
        }
        Ok(self.nonce.clone().unwrap_or_default())
    }

    fn renew_nonce(&mut self) -> Result<()> {
        self.nonce = Some(crate::sys::random_hex(4)?);
        // Values built from templates may contain the old nonce: build them again.
        for (name, spec) in &self.recipe.vars {
            if matches!(spec, VarSpec::Plain(serde_json::Value::String(s)) if s.contains('{')) {
                self.known.remove(name);
                self.kept.remove(name);
            }
        }
        Ok(())
    }

    fn request(&mut self, spec: &CallSpec, url_template: &str, default_method: &str) -> Result<Outgoing> {
        let uses_before = self.secret_uses;
        let url_text = self.text(url_template, Place::Url)?;
        let url = reqwest::Url::parse(&url_text)
            .map_err(|e| self.config_error(format!("{url_template:?} gives {url_text:?}, which is not a URL: {e}")))?;
        let method_name = spec.method.as_deref().unwrap_or(default_method).to_ascii_uppercase();
        let method = reqwest::Method::from_bytes(method_name.as_bytes())
            .map_err(|_| self.config_error(format!("bad HTTP method {method_name:?}")))?;
        let mut headers = Vec::new();
        for (name, value) in &spec.headers {
            headers.push((name.clone(), Secret::new(self.text(value, Place::Header)?)));
        }
        let has = |headers: &[(String, Secret)], n: &str| headers.iter().any(|(h, _)| h.eq_ignore_ascii_case(n));
        let body = if let Some(json) = &spec.json {
            if !has(&headers, "content-type") {
                headers.push(("Content-Type".into(), Secret::new("application/json".into())));
            }
            let value = self.json(json)?.unwrap_or(serde_json::Value::Null);
            Some(Secret::new(value.to_string()))
        } else if let Some(form) = &spec.form {
            if !has(&headers, "content-type") {
                headers.push(("Content-Type".into(), Secret::new("application/x-www-form-urlencoded".into())));
            }
            let mut out = form_urlencoded::Serializer::new(String::new());
            for (k, v) in form {
                if let Some(value) = self.optional_text(v)? {
                    out.append_pair(k, &value);
                }
            }
            Some(Secret::new(out.finish()))
        } else {
            None
        };
        if !has(&headers, "accept") {
            headers.push(("Accept".into(), Secret::new("application/json".into())));
        }
        Ok(Outgoing { method, url, headers, body, carries_secret: self.secret_uses != uses_before })
    }

    fn config_error(&self, why: String) -> Error {
        Error::Config(format!("profile {:?}: {why}", self.profile))
    }

    /// The value of placeholder `name`, reading secrets and running lookups as needed.
    fn value(&mut self, name: &str) -> Result<Option<Value>> {
        let value = self.value_uncounted(name)?;
        if matches!(value, Some(Value::Secret(_))) {
            self.secret_uses += 1;
        }
        Ok(value)
    }

    fn value_uncounted(&mut self, name: &str) -> Result<Option<Value>> {
        if let Some(v) = self.known.get(name) {
            return Ok(Some(v.clone()));
        }
        let value = match name {
            "nonce" => Some(Value::Plain(self.nonce()?.into())),
            "hostname" => Some(Value::Plain(crate::sys::hostname().into())),
            "client_basic" => self.client_basic()?,
            _ => self.configured(name)?,
        };
        if let Some(v) = &value {
            self.known.insert(name.to_owned(), v.clone());
        }
        Ok(value)
    }

    fn configured(&mut self, name: &str) -> Result<Option<Value>> {
        let recipe = self.recipe;
        match recipe.vars.get(name) {
            Some(VarSpec::Secret(source)) => {
                let secret = self.resolver.resolve(source, &name.replace('_', " "))?;
                self.secrets.push(secret.clone());
                Ok(Some(Value::Secret(secret)))
            }
            Some(VarSpec::Plain(serde_json::Value::String(t))) if t.contains('{') => {
                let text = self.builtin_text(t)?;
                self.kept.insert(name.to_owned(), text.clone());
                Ok(Some(Value::Plain(text.into())))
            }
            Some(VarSpec::Plain(v)) => Ok(Some(Value::Plain(v.clone()))),
            None if recipe.lookups.contains_key(name) => self.lookup(name),
            None => Ok(None),
        }
    }

    /// `{client_basic}`: the RFC 6749 2.3.1 Basic credentials, base64 of the form-encoded id and secret.
    fn client_basic(&mut self) -> Result<Option<Value>> {
        let (Some(id), Some(secret)) = (self.value("client_id")?, self.value("client_secret")?) else {
            return Ok(None);
        };
        let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let pair = zeroize::Zeroizing::new(format!("{}:{}", encode(&id.text()), encode(&secret.text())));
        let secret = Secret::new(crate::jwt::base64_encode(pair.as_bytes()));
        self.secrets.push(secret.clone());
        Ok(Some(Value::Secret(secret)))
    }

    /// A plain var's own template may use only `{hostname}` and `{nonce}`.
    fn builtin_text(&mut self, template: &str) -> Result<String> {
        let pieces = template::parse(template).map_err(|e| self.config_error(e))?;
        let mut out = String::new();
        for piece in pieces {
            match piece {
                Piece::Text(t) => out.push_str(&t),
                Piece::Var { name: "nonce", .. } => out.push_str(&self.nonce()?),
                Piece::Var { name: "hostname", .. } => out.push_str(&crate::sys::hostname()),
                Piece::Var { name, .. } => {
                    return Err(self.config_error(format!(
                        "in vars, only {{hostname}} and {{nonce}} can be used, not {{{name}}}"
                    )));
                }
            }
        }
        Ok(out)
    }

    /// Fills `name` from a lookup call's answer; `None` when the answer lacks the value.
    fn lookup(&mut self, name: &str) -> Result<Option<Value>> {
        let spec = &self.recipe.lookups[name];
        self.depth += 1;
        if self.depth > 4 {
            return Err(self.config_error(format!("lookup of {{{name}}} depends on itself")));
        }
        let call = CallSpec {
            method: spec.method.clone(),
            url: spec.url.clone(),
            fallback_urls: spec.fallback_urls.clone(),
            headers: spec.headers.clone(),
            json: None,
            form: None,
            retry_on_conflict: false,
        };
        let result = self.fetch(&call, name);
        self.depth -= 1;
        let found = result?.as_ref().and_then(|j| j.pointer(&spec.pointer)).and_then(|v| match v {
            serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        });
        let Some(text) = found else {
            crate::log::debug(format_args!("profile {}: the lookup of {name} has no {}", self.profile, spec.pointer));
            return Ok(None);
        };
        self.kept.insert(name.to_owned(), text.clone());
        Ok(Some(Value::Plain(text.into())))
    }

    /// GETs a lookup's JSON once per URL.
    fn fetch(&mut self, call: &CallSpec, name: &str) -> Result<Option<serde_json::Value>> {
        let key = format!("{:?}", (&call.url, &call.fallback_urls, &call.headers));
        if let Some(json) = self.fetched.get(&key) {
            return Ok(json.clone());
        }
        let what = format!("looking up {name} for profile {:?}", self.profile);
        let (answer, _, url) = self.run(call, "GET", &what)?;
        if !(200..300).contains(&answer.status) {
            return Err(self.unusable(&answer, &url, &what));
        }
        let json: Option<serde_json::Value> = serde_json::from_slice(&answer.body).ok();
        if json.is_none() {
            return Err(Error::Server { what, url, why: format!("HTTP {} that is not JSON", answer.status) });
        }
        self.fetched.insert(key, json.clone());
        Ok(json)
    }

    fn missing(&self, name: &str) -> Error {
        self.config_error(format!("placeholder {{{name}}} has no value (set `{name}` or vars.{name} in the profile)"))
    }

    /// Expands a template whose placeholders are all required.
    fn text(&mut self, template: &str, place: Place) -> Result<String> {
        let pieces = template::parse(template).map_err(|e| self.config_error(e))?;
        let mut out = String::new();
        for (i, piece) in pieces.into_iter().enumerate() {
            match piece {
                Piece::Text(t) => out.push_str(&t),
                Piece::Var { name, optional } => {
                    match self.value(name)? {
                        Some(Value::Secret(_)) if place == Place::Url => {
                            return Err(self.config_error(format!(
                                "the secret {{{name}}} cannot go into a URL, where it would be logged"
                            )));
                        }
                        // A value at the very start of a URL is its base (`{url}/api`) and stays as is; any other is a
                        // path or query part and is percent-encoded.
                        Some(v) if place == Place::Url && i > 0 => {
                            out.extend(percent_encoding::utf8_percent_encode(&v.text(), template::URL_VALUE));
                        }
                        Some(v) => out.push_str(&v.text()),
                        None if optional => {}
                        None => return Err(self.missing(name)),
                    }
                }
            }
        }
        Ok(out)
    }

    /// Expands a template, or `None` when it is a lone optional placeholder that is unset.
    fn optional_text(&mut self, template: &str) -> Result<Option<String>> {
        if let Some((name, true)) = template::sole_var(template) {
            return Ok(self.value(name)?.map(|v| v.text()));
        }
        self.text(template, Place::Header).map(Some)
    }

    /// Expands a JSON body template; `None` for a lone optional placeholder that is unset.
    fn json(&mut self, value: &serde_json::Value) -> Result<Option<serde_json::Value>> {
        use serde_json::Value as J;
        Ok(Some(match value {
            J::String(s) => match template::sole_var(s) {
                Some((name, optional)) => match self.value(name)? {
                    Some(Value::Plain(v)) => v,
                    Some(Value::Secret(s)) => J::String(s.expose().to_owned()),
                    None if optional => return Ok(None),
                    None => return Err(self.missing(name)),
                },
                None => J::String(self.text(s, Place::Header)?),
            },
            J::Array(items) => {
                let mut out = Vec::new();
                for item in items {
                    out.extend(self.json(item)?);
                }
                J::Array(out)
            }
            J::Object(members) => {
                let mut out = serde_json::Map::new();
                for (k, v) in members {
                    if let Some(v) = self.json(v)? {
                        out.insert(k.clone(), v);
                    }
                }
                J::Object(out)
            }
            other => other.clone(),
        }))
    }
}

/// True for a 2xx JSON answer without the token the profile serves: none of its token headers, and nothing (or
/// `null`) at its token pointer. Any other unusable 2xx (a bad expiry beside a token) is a server error.
fn answered_without_token(answer: &Answer, spec: &crate::recipe::ReplySpec) -> bool {
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(&answer.body) else { return false };
    let in_body = spec.token_pointer.as_deref().and_then(|p| json.pointer(p)).is_some_and(|v| !v.is_null());
    (200..300).contains(&answer.status) && !in_body && !spec.token_header.iter().any(|h| answer.header(h).is_some())
}

/// True for a refresh answer that refuses the refresh token: any 4xx but 408 and 429, which ask to try again later.
fn refresh_refused(status: u16) -> bool {
    (400..500).contains(&status) && !matches!(status, 408 | 429)
}

/// Runs a `command` profile's program (bounded by `timeout`, see [`crate::child`]): its stdout is the token, or a
/// JSON object with `token` and `expires_at`.
pub fn run_command(
    profile: &str,
    argv: &[String],
    lifetime: Option<Duration>,
    timeout: Duration,
    now: OffsetDateTime,
) -> Result<Issued> {
    let what = format!("running the command of profile {profile:?}");
    let shown = argv.iter().skip_while(|a| *a == "sh" || *a == "-c").cloned().collect::<Vec<_>>().join(" ");
    let fail = |why: String| Error::Other(format!("{what}: `{shown}` {why}"));
    let mut command = Command::new(&argv[0]);
    command.args(&argv[1..]);
    let out = crate::child::output(command, timeout, crate::http::MAX_BODY).map_err(|e| fail(e.to_string()))?;
    parse_command_output(&out, lifetime, now).map_err(fail)
}

/// Reads a command's output: a bare token, or `{"token": ..., "expires_at": RFC 3339 or epoch seconds}`.
pub fn parse_command_output(out: &[u8], lifetime: Option<Duration>, now: OffsetDateTime) -> Result<Issued, String> {
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
