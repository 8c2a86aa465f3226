//! How the engine fills a recipe's templates: `{name}` placeholders take the profile's values,
//! secrets read only when a call needs them (so a refresh never prompts for a password), values looked up from
//! another answer (OpenID discovery, GoodData's user id), and the built-ins (`{nonce}`, `{hostname}`,
//! `{client_basic}`). Every secret used is remembered, so that whatever a server says back is shown redacted.

use super::value::{Place, Value};
use super::{Engine, reply};
use crate::error::{Error, Result};
use crate::net::http::Outgoing;
use crate::recipe::{CallSpec, VarSpec};
use crate::secret::Secret;
use crate::template::{self, Piece};

impl Engine<'_> {
    /// Sets a placeholder to a secret value.
    pub(super) fn set_secret(&mut self, name: &str, value: String) {
        let secret = Secret::new(value);
        self.secrets.push(secret.clone());
        self.known.insert(name.to_owned(), Value::Secret(secret));
    }

    /// Sets a placeholder to a plain value.
    pub(super) fn set_plain(&mut self, name: &str, value: String) {
        self.known.insert(name.to_owned(), Value::Plain(value.into()));
    }

    /// Expands a URL template.
    pub(crate) fn url_text(&mut self, template: &str) -> Result<String> {
        self.text(template, Place::Url)
    }

    /// Expands a template, `None` for a lone unset `{x?}`.
    pub(super) fn optional_value(&mut self, template: &str) -> Result<Option<String>> {
        self.optional_text(template)
    }

    /// Removes every secret this engine used, in any encoding, from server text (a server may echo what it was
    /// sent). Runs before any cut (see [`crate::net::redact`]).
    pub(super) fn redact(&self, text: &str) -> String {
        crate::net::redact::redact(text, &self.secrets)
    }

    /// `err` with server text redacted and shortened, for errors built outside this engine (the browser redirect).
    pub(super) fn redact_error(&self, err: Error) -> Error {
        match err {
            Error::AuthRejected { what, url, why, profile } => {
                Error::AuthRejected { what, url, why: reply::shorten(&self.redact(&why)), profile }
            }
            Error::Server { what, url, why } => Error::Server { what, url, why: reply::shorten(&self.redact(&why)) },
            other => other,
        }
    }

    /// The current `{nonce}`, drawn on first use.
    fn nonce(&mut self) -> Result<String> {
        if self.nonce.is_none() {
            self.nonce = Some(crate::sys::random_hex(4)?);
        }
        Ok(self.nonce.clone().unwrap_or_default())
    }

    pub(super) fn renew_nonce(&mut self) -> Result<()> {
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

    pub(super) fn request(&mut self, spec: &CallSpec, url_template: &str, default_method: &str) -> Result<Outgoing> {
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

    /// The first placeholder of `template` that has no value, if any.
    pub(super) fn unset_in<'t>(&mut self, template: &'t str) -> Result<Option<&'t str>> {
        for piece in template::parse(template).map_err(|e| self.config_error(e))? {
            if let Piece::Var { name, .. } = piece
                && self.value(name)?.is_none()
            {
                return Ok(Some(name));
            }
        }
        Ok(None)
    }

    pub(super) fn config_error(&self, why: String) -> Error {
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
