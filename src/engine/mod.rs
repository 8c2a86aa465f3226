//! The login engine: runs a recipe's calls and turns the answers into a token.
//!
//! One engine serves every HTTP kind. Here: login, refresh (whose refusal callers answer with a login) and logout,
//! each a call of the recipe, sent with fallback URLs on 404 and a new `{nonce}` on 409 when the recipe says so.
//! Beside it: `fill` (the engine's state and how templates are filled: lazily, so a refresh never prompts for a
//! password; with lookups; remembering the plain values a login used so that logout can use them again),
//! `interactive` (device code and browser login steps, with `redirect`, the loopback listener), `reply` (reading
//! answers), `secrets` (resolving secret sources) and `command` (the `command` kind, which runs a program instead
//! of HTTP, with the same process runner as `{ command = ... }` secrets).

pub(crate) mod command;
mod fill;
mod interactive;
mod redirect;
pub(crate) mod reply;
pub(crate) mod secrets;
mod value;

use std::collections::{BTreeMap, HashMap};

use time::OffsetDateTime;

use self::reply::{Failure, Issued};
use self::secrets::Resolver;
use self::value::Value;
use crate::error::{Error, Result};
use crate::net::http::{Answer, Http};
use crate::profile::Profile;
use crate::recipe::{CallSpec, Interactive, Recipe};
use crate::secret::Secret;

/// How many times a 409 Conflict draws a new nonce before giving up.
const CONFLICT_RETRIES: usize = 5;

/// What a login or refresh produced: the token and the plain values worth keeping.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// The token and its expiry.
    pub(crate) issued: Issued,
    /// Plain placeholder values used (ids, looked-up values), saved with the entry.
    pub(crate) vars: BTreeMap<String, String>,
}

/// Runs one recipe for one profile.
pub(crate) struct Engine<'a> {
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
    pub(crate) fn new(recipe: &'a Recipe, profile: &'a Profile, resolver: Resolver<'a>) -> Engine<'a> {
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
    pub(crate) fn with_saved(mut self, saved: &BTreeMap<String, String>) -> Engine<'a> {
        for (k, v) in saved {
            self.known.insert(k.clone(), Value::Plain(v.clone().into()));
            self.kept.insert(k.clone(), v.clone());
        }
        self
    }

    /// Logs in: the interactive step first, if the recipe has one, else the login call.
    pub(crate) fn login(&mut self) -> Result<Outcome> {
        let recipe = self.recipe;
        match &recipe.interactive {
            Some(Interactive::DeviceCode { authorize, timeout }) => {
                return self.device(authorize, *timeout);
            }
            Some(Interactive::Browser { authorization_url, query, timeout }) => {
                return self.browser(authorization_url, query, *timeout);
            }
            None => {}
        }
        let what = format!("logging in to profile {:?}", self.profile);
        let (answer, sent_at, url) = self.run(&self.recipe.login, "POST", &what)?;
        self.read_reply(&answer, sent_at, &url, &what)
    }

    /// Renews with `refresh_token`; a rejection is `Error::AuthRejected`, which callers answer with a login.
    pub(crate) fn refresh(&mut self, refresh_token: &Secret) -> Result<Outcome> {
        let spec =
            self.recipe.refresh.as_ref().ok_or_else(|| Error::Other("this profile has no refresh call".into()))?;
        self.set_secret("refresh_token", refresh_token.expose().to_owned());
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
    pub(crate) fn logout(&mut self, token: Option<&Secret>, refresh_token: Option<&Secret>) -> Result<bool> {
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
        if let Some(name) = self.unset_in(&spec.url)? {
            crate::log::debug(format_args!("profile {}: no {{{name}}}, so no server-side logout", self.profile));
            return Ok(false);
        }
        let what = format!("revoking the token of profile {:?}", self.profile);
        let (answer, _, url) = self.run(spec, "DELETE", &what)?;
        match answer.status {
            200..=299 | 404 | 410 => Ok(true),
            _ => Err(self.failure(Failure::Unusable(reply::describe(&answer, &self.recipe.reply)), &url, &what)),
        }
    }

    /// The profile's name, for messages.
    fn profile_name(&self) -> &str {
        self.profile
    }

    /// The recipe being run.
    pub(crate) fn recipe(&self) -> &'a Recipe {
        self.recipe
    }

    /// A variable of the environment (`$BROWSER`).
    fn env_var(&self, name: &str) -> Option<String> {
        self.resolver.env.get(name).map(str::to_owned)
    }

    /// Fails unless the user can take part: prompting allowed and a terminal there.
    fn require_interaction(&self, what: &str) -> Result<()> {
        self.resolver.terminal(what).map(drop)
    }

    /// The error code of an answer, by the recipe's `error_pointer`.
    fn error_code(&self, answer: &Answer) -> Option<String> {
        reply::error_code(answer, &self.recipe.reply)
    }

    /// The error for an answer without what the step needed.
    fn unusable(&self, answer: &Answer, url: &str, what: &str) -> Error {
        let failure = match answer.status {
            401 | 403 => Failure::Rejected(reply::describe(answer, &self.recipe.reply)),
            _ => Failure::Unusable(reply::describe(answer, &self.recipe.reply)),
        };
        self.failure(failure, url, what)
    }

    fn read_reply(&mut self, answer: &Answer, sent_at: OffsetDateTime, url: &str, what: &str) -> Result<Outcome> {
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
                let url = crate::net::http::redacted(&req.url);
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
