//! OpenID discovery for `setup`: fetch an issuer's metadata once, check that it is the issuer's (OpenID Connect
//! Discovery 4.3: its `issuer` is exactly the URL asked), and say which endpoints and grants it offers. Only the
//! issuer is written: the profile discovers the endpoints again at login (`presets::oauth2`).

use reqwest::Url;
use serde_json::Value;

use crate::environment::Env;
use crate::error::{Error, Result};
use crate::net::http::{Http, NetOptions, Outgoing, redacted};

/// What the issuer's metadata offers.
#[derive(Debug, Default)]
pub(super) struct Metadata {
    /// `issuer`, as asked and confirmed.
    pub(super) issuer: String,
    /// `token_endpoint`.
    pub(super) token: String,
    /// `device_authorization_endpoint`.
    pub(super) device: Option<String>,
    /// `authorization_endpoint`.
    pub(super) authorization: Option<String>,
    /// `revocation_endpoint`.
    pub(super) revocation: Option<String>,
    /// `grant_types_supported` (empty when not said).
    pub(super) grants: Vec<String>,
    /// `scopes_supported` (empty when not said).
    pub(super) scopes: Vec<String>,
}

/// Fetches and checks the metadata of `issuer`: the OpenID location, then RFC 8414's when that is not found.
pub(super) fn fetch(issuer: &str, env: &Env) -> Result<Metadata> {
    let trimmed = issuer.trim_end_matches('/');
    let parsed = Url::parse(trimmed).map_err(|e| Error::Config(format!("issuer {issuer:?} is not a URL: {e}")))?;
    let rfc8414 = format!(
        "{}/.well-known/oauth-authorization-server{}",
        parsed.origin().ascii_serialization(),
        parsed.path().trim_end_matches('/')
    );
    let net = NetOptions {
        connect_timeout: std::time::Duration::from_secs(10),
        timeout: std::time::Duration::from_secs(30),
        ..NetOptions::default()
    };
    let mut http = Http::new(&net, env);
    let mut last = None;
    for url in [format!("{trimmed}/.well-known/openid-configuration"), rfc8414] {
        let url = Url::parse(&url).map_err(|e| Error::Config(format!("issuer {issuer:?}: {e}")))?;
        let request = Outgoing {
            method: reqwest::Method::GET,
            url: url.clone(),
            headers: Vec::new(),
            body: None,
            carries_secret: false,
        };
        let (answer, _) = http.send(request, "fetching the issuer's metadata")?;
        if answer.status == 404 {
            last = Some(redacted(&url));
            continue;
        }
        if answer.status != 200 {
            return Err(server(&url, format!("HTTP {}", answer.status)));
        }
        let json = answer.json().ok_or_else(|| server(&url, "something that is not JSON".into()))?;
        return parse(&json, trimmed).map_err(|why| server(&url, why));
    }
    Err(Error::Config(format!(
        "issuer {issuer}: no OpenID or OAuth metadata there ({} and the OpenID location answered 404); check the \
         issuer URL (Keycloak: https://HOST/realms/REALM)",
        last.unwrap_or_default()
    )))
}

fn server(url: &Url, why: String) -> Error {
    Error::Server { what: "fetching the issuer's metadata".into(), url: redacted(url), why }
}

/// Reads the metadata `json` of `issuer`; an `issuer` other than the one asked is refused (a mix-up, RFC 8414 3.3).
pub(super) fn parse(json: &Value, issuer: &str) -> std::result::Result<Metadata, String> {
    let text = |key: &str| json.get(key).and_then(Value::as_str).map(str::to_owned);
    let list = |key: &str| -> Vec<String> {
        json.get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect()
    };
    match text("issuer") {
        Some(said) if said.trim_end_matches('/') == issuer => {}
        Some(said) => return Err(format!("metadata for another issuer ({said:?}), not {issuer:?}")),
        None => return Err("metadata without an `issuer`".into()),
    }
    let token = text("token_endpoint").ok_or("metadata without a `token_endpoint`")?;
    Ok(Metadata {
        issuer: issuer.to_owned(),
        token,
        device: text("device_authorization_endpoint"),
        authorization: text("authorization_endpoint"),
        revocation: text("revocation_endpoint"),
        grants: list("grant_types_supported"),
        scopes: list("scopes_supported"),
    })
}

impl Metadata {
    /// The endpoints, one per line, for the person setting up. They are the server's text, going to a terminal:
    /// control characters are shown escaped (an escape sequence could drive the terminal, a line break forge a
    /// line), and an endpoint on another origin than the issuer's is marked so.
    pub(super) fn describe(&self) -> String {
        let origin = |u: &str| Url::parse(u).ok().map(|u| u.origin().ascii_serialization());
        let issuer = origin(&self.issuer);
        let shown = |v: Option<&String>| match v {
            None => "(none)".to_owned(),
            Some(url) if origin(url).is_none() || origin(url) != issuer => {
                format!("{} (not on the issuer's origin)", printable(url))
            }
            Some(url) => printable(url),
        };
        format!(
            "  token endpoint:         {}\n  device authorization:   {}\n  browser authorization:  {}\n  \
             revocation:             {}\n",
            shown(Some(&self.token)),
            shown(self.device.as_ref()),
            shown(self.authorization.as_ref()),
            shown(self.revocation.as_ref())
        )
    }

    /// True when the server says it supports `grant` (a server that lists none is taken to support the usual ones).
    pub(super) fn offers(&self, grant: &str) -> bool {
        let listed = self.grants.is_empty() || self.grants.iter().any(|g| g == grant);
        match grant {
            "urn:ietf:params:oauth:grant-type:device_code" => self.device.is_some() && listed,
            "authorization_code" => self.authorization.is_some() && listed,
            _ => listed,
        }
    }
}

/// Server text as one printable line: control characters (and the bidirectional overrides that reorder what is
/// shown) escaped as `\u{..}`, at most 300 characters.
pub(super) fn printable(text: &str) -> String {
    let bidi = |c: char| matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}');
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == 300 {
            out.push_str("...");
            break;
        }
        if c.is_control() || bidi(c) {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn metadata_must_be_the_issuers_own() {
        let doc = json!({"issuer": "https://id.example/r", "token_endpoint": "https://id.example/r/token",
                         "device_authorization_endpoint": "https://id.example/r/device",
                         "grant_types_supported": ["authorization_code", "refresh_token"]});
        let m = parse(&doc, "https://id.example/r").unwrap();
        assert_eq!(m.token, "https://id.example/r/token");
        assert!(!m.offers("urn:ietf:params:oauth:grant-type:device_code"), "not in grant_types_supported");
        assert!(!m.offers("authorization_code"), "no authorization endpoint");
        assert!(parse(&doc, "https://evil.example/r").unwrap_err().contains("another issuer"));
        assert!(parse(&json!({"issuer": "https://id.example/r"}), "https://id.example/r").is_err());
    }

    #[test]
    fn a_hostile_servers_endpoints_are_shown_escaped_and_marked_when_elsewhere() {
        let doc = json!({"issuer": "https://id.example/r", "token_endpoint": "https://id.example/r/t\u{1b}[2J\nfake",
                         "authorization_endpoint": "https://evil.example/auth\u{202e}"});
        let shown = parse(&doc, "https://id.example/r").unwrap().describe();
        assert!(!shown.chars().any(|c| c == '\u{1b}' || c == '\u{202e}'), "{shown:?}");
        assert!(shown.contains("https://id.example/r/t\\u{1b}[2J\\u{a}fake\n"), "{shown}");
        assert!(shown.contains("https://evil.example/auth\\u{202e} (not on the issuer's origin)"), "{shown}");
        assert_eq!(shown.lines().count(), 4, "{shown}");
    }
}
