//! OAuth 2.0 and OpenID Connect as a preset of the one login engine.
//!
//! [`preset`] turns an `oauth2` profile into a recipe: endpoints come from OpenID discovery (a lookup, so they are
//! kept with the token) unless configured; the token request is a form call with `client_secret_basic` or
//! `client_secret_post`; refresh rotates; logout revokes (RFC 7009). The grants that need the user add an
//! interactive step before the token call ([`Interactive`]): a device code (RFC 8628) or a browser login (RFC 6749
//! 4.1 with PKCE); the engine runs those (`engine::interactive`).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::config::{ClientAuth, Grant, RawProfile, Serve};
use crate::error::Result;
use crate::recipe::{self, CallSpec, Interactive, LookupSpec, Recipe, ReplySpec, VarSpec};

/// The error codes that mean the grant or client was refused (RFC 6749 5.2, RFC 8628 3.5).
const REFUSED: [&str; 5] = ["invalid_grant", "invalid_client", "unauthorized_client", "access_denied", "expired_token"];

/// Builds the recipe of an `oauth2` profile.
pub(crate) fn preset(raw: &RawProfile, vars: &mut BTreeMap<String, VarSpec>) -> Result<Recipe, String> {
    let grant = raw.grant.unwrap_or(Grant::AuthorizationCode);
    let serve = raw.serve.unwrap_or(Serve::AccessToken);
    client_vars(raw, serve, vars)?;
    let lookups = endpoints(raw, grant, vars)?;
    if grant == Grant::Password && (raw.username.is_none() || raw.password.is_none()) {
        return Err("grant password needs `username` and `password`".into());
    }
    let auth = ClientAuthStyle {
        auth: raw.client_auth.unwrap_or(ClientAuth::ClientSecretBasic),
        secret: raw.client_secret.is_some(),
    };
    let mut token = auth.form_call("{token_url}", grant_form(grant));
    for (k, v) in &raw.params {
        token.form.get_or_insert_with(BTreeMap::new).insert(k.clone(), v.clone());
    }
    let refresh =
        auth.form_call("{token_url}", [("grant_type", "refresh_token"), ("refresh_token", "{refresh_token}")].into());
    let logout = auth.form_call(
        "{revocation_url}",
        [("token", "{revoke_token}"), ("token_type_hint", "{revoke_token_hint}")].into(),
    );
    let timeout = raw.interactive_timeout.map_or(Duration::from_secs(300), |d| d.0);
    let mut recipe = recipe::bare(token, reply(serve), raw.lifetime.and_then(|l| l.0));
    recipe.refresh = Some(refresh);
    recipe.logout = Some(logout);
    recipe.lookups = lookups;
    recipe.interactive = interactive(grant, &auth, timeout);
    Ok(recipe)
}

/// The client's variables: its id and secret, and the scope, audience and resource it asks for (an ID token needs
/// the `openid` scope).
fn client_vars(raw: &RawProfile, serve: Serve, vars: &mut BTreeMap<String, VarSpec>) -> Result<(), String> {
    let client_id = raw.client_id.as_ref().ok_or("kind oauth2 needs `client_id`")?;
    let mut scopes = raw.scopes.clone();
    if serve == Serve::IdToken && !scopes.iter().any(|s| s == "openid") {
        scopes.insert(0, "openid".into());
    }
    let plain = |v: &str| VarSpec::Plain(v.into());
    vars.insert("client_id".into(), plain(client_id));
    if let Some(secret) = &raw.client_secret {
        vars.insert("client_secret".into(), VarSpec::Secret(secret.clone()));
    }
    for (name, value) in [
        ("scope", Some(scopes.join(" ")).filter(|s| !s.is_empty())),
        ("audience", raw.audience.clone()),
        ("resource", raw.resource.clone()),
    ] {
        if let Some(v) = value {
            vars.insert(name.into(), plain(&v));
        }
    }
    Ok(())
}

/// The interactive step a grant needs before the token call, if any.
fn interactive(grant: Grant, auth: &ClientAuthStyle, timeout: Duration) -> Option<Interactive> {
    match grant {
        Grant::DeviceCode => Some(Interactive::DeviceCode {
            authorize: auth.form_call("{device_authorization_url}", with_audience([("scope", "{scope?}")].into())),
            timeout,
        }),
        Grant::AuthorizationCode => Some(Interactive::Browser {
            authorization_url: "{authorization_url}".into(),
            query: [
                ("response_type", "code"),
                ("client_id", "{client_id}"),
                ("redirect_uri", "{redirect_uri}"),
                ("scope", "{scope?}"),
                ("state", "{state}"),
                ("code_challenge", "{code_challenge}"),
                ("code_challenge_method", "S256"),
                ("audience", "{audience?}"),
                ("resource", "{resource?}"),
            ]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
            timeout,
        }),
        Grant::ClientCredentials | Grant::Password => None,
    }
}

/// Where a token endpoint's answer carries what `serve` hands out, and how it says no.
fn reply(serve: Serve) -> ReplySpec {
    ReplySpec {
        token_pointer: Some(if serve == Serve::IdToken { "/id_token" } else { "/access_token" }.into()),
        // expires_in describes the access token; an ID token's lifetime is its own `exp`.
        expires_in_pointer: (serve == Serve::AccessToken).then(|| "/expires_in".into()),
        refresh_token_pointer: Some("/refresh_token".into()),
        refresh_expires_in_pointer: Some("/refresh_expires_in".into()),
        error_pointer: Some("/error".into()),
        message_pointer: Some("/error_description".into()),
        rejection_errors: REFUSED.iter().map(|s| (*s).to_owned()).collect(),
        ..ReplySpec::default()
    }
}

/// Endpoint variables: configured ones as values, the others as lookups in the discovery document. Without an
/// issuer, the endpoints the grant needs must be configured; revocation is optional (no revocation, no server-side
/// logout).
fn endpoints(
    raw: &RawProfile,
    grant: Grant,
    vars: &mut BTreeMap<String, VarSpec>,
) -> Result<BTreeMap<String, LookupSpec>, String> {
    let configured = [
        ("token_url", &raw.token_url, "/token_endpoint", true),
        (
            "device_authorization_url",
            &raw.device_authorization_url,
            "/device_authorization_endpoint",
            grant == Grant::DeviceCode,
        ),
        ("authorization_url", &raw.authorization_url, "/authorization_endpoint", grant == Grant::AuthorizationCode),
        ("revocation_url", &raw.revocation_url, "/revocation_endpoint", false),
    ];
    let mut lookups = BTreeMap::new();
    for (name, value, pointer, needed) in configured {
        if let Some(url) = value {
            vars.insert(name.into(), VarSpec::Plain(url.as_str().into()));
            continue;
        }
        let Some(issuer) = raw.issuer.as_deref() else {
            if needed {
                return Err(format!("kind oauth2 needs `issuer` (for discovery), or `{name}`"));
            }
            continue;
        };
        let issuer = issuer.trim_end_matches('/');
        let parsed = reqwest::Url::parse(issuer).map_err(|e| format!("issuer {issuer:?} is not a URL: {e}"))?;
        // RFC 8414 section 3: the well-known segment goes between the host and the issuer's path.
        let rfc8414 = format!(
            "{}/.well-known/oauth-authorization-server{}",
            parsed.origin().ascii_serialization(),
            parsed.path().trim_end_matches('/')
        );
        let lookup = LookupSpec {
            method: None,
            url: escape(&format!("{issuer}/.well-known/openid-configuration")),
            headers: BTreeMap::new(),
            pointer: pointer.into(),
            fallback_urls: vec![escape(&rfc8414)],
        };
        lookups.insert(name.to_owned(), lookup);
    }
    Ok(lookups)
}

/// A literal URL as a template (braces doubled).
fn escape(text: &str) -> String {
    text.replace('{', "{{").replace('}', "}}")
}

fn grant_form(grant: Grant) -> BTreeMap<&'static str, &'static str> {
    let pairs: &[(&str, &str)] = match grant {
        Grant::ClientCredentials => &[("grant_type", "client_credentials"), ("scope", "{scope?}")],
        Grant::Password => {
            &[("grant_type", "password"), ("username", "{username}"), ("password", "{password}"), ("scope", "{scope?}")]
        }
        Grant::DeviceCode => {
            &[("grant_type", "urn:ietf:params:oauth:grant-type:device_code"), ("device_code", "{device_code}")]
        }
        Grant::AuthorizationCode => &[
            ("grant_type", "authorization_code"),
            ("code", "{code}"),
            ("redirect_uri", "{redirect_uri}"),
            ("code_verifier", "{code_verifier}"),
        ],
    };
    let form: BTreeMap<_, _> = pairs.iter().copied().collect();
    if matches!(grant, Grant::ClientCredentials | Grant::Password) { with_audience(form) } else { form }
}

fn with_audience(mut form: BTreeMap<&'static str, &'static str>) -> BTreeMap<&'static str, &'static str> {
    form.insert("audience", "{audience?}");
    form.insert("resource", "{resource?}");
    form
}

/// How a form call authenticates the client.
struct ClientAuthStyle {
    auth: ClientAuth,
    secret: bool,
}

impl ClientAuthStyle {
    fn form_call(&self, url: &str, form: BTreeMap<&str, &str>) -> CallSpec {
        let mut call = recipe::call("POST", url, None);
        let mut form: BTreeMap<String, String> = form.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        match (self.secret, self.auth) {
            (true, ClientAuth::ClientSecretBasic) => {
                call.headers.insert("Authorization".into(), "Basic {client_basic}".into());
            }
            (true, ClientAuth::ClientSecretPost) => {
                form.insert("client_id".into(), "{client_id}".into());
                form.insert("client_secret".into(), "{client_secret}".into());
            }
            (false, _) => {
                form.insert("client_id".into(), "{client_id}".into());
            }
        }
        call.form = Some(form);
        call
    }
}
