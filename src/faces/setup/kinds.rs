//! What `setup` asks for each kind: the few keys its preset needs (`presets/*`, `config/schema.rs`), each from its
//! flag or a question, in the order they are written.

use super::{Setup, discover};
use crate::cli::{SetupGrant, SetupKind};
use crate::config::edit::Field;
use crate::error::{Error, Result};

/// The kinds in the menu's order, with what each means.
pub(super) const KINDS: &[(SetupKind, &str, &str)] = &[
    (SetupKind::Onedata, "onedata", "ONE DATA: user name and password, a JWT back"),
    (SetupKind::Session, "session", "a login + refresh-token session API"),
    (SetupKind::Gooddata, "gooddata", "GoodData.CN personal API token, minted once"),
    (SetupKind::Oauth2, "oauth2", "OAuth 2.0 / OpenID Connect (Keycloak, Okta, Entra ID, ...)"),
    (SetupKind::Http, "http", "another JSON login: user name and password posted"),
    (SetupKind::Command, "command", "a command that prints a token"),
    (SetupKind::Static, "static", "a fixed token"),
];

/// The keys of a profile of `kind`, asked or taken from the flags.
pub(super) fn fields(kind: SetupKind, s: &mut Setup<'_>) -> Result<Vec<(&'static str, Field)>> {
    let name = KINDS.iter().find(|(k, ..)| *k == kind).map_or("http", |(_, n, _)| n);
    let mut out = vec![("kind", Field::Text(name.into()))];
    match kind {
        SetupKind::Onedata => {
            let given = s.args.url.take();
            out.push(("url", url(s, given, "url", "ONE DATA URL (https://...)")?));
            user_and_password(s, &mut out)?;
        }
        SetupKind::Session => {
            let given = s.args.login_url.take();
            out.push(("login_url", url(s, given, "login-url", "Login URL")?));
            if let Some(refresh) = s.ask.optional(s.args.refresh_url.take(), "Refresh URL")? {
                warn_unless_url(&refresh, "refresh-url");
                out.push(("refresh_url", text(refresh)));
            }
            user_and_password(s, &mut out)?;
            if let Some(id) = s.ask.optional(s.args.account_id.take(), "Account id")? {
                out.push(("account_id", id.parse::<i64>().map_or(Field::Text(id), Field::Integer)));
            }
        }
        SetupKind::Gooddata => {
            let given = s.args.url.take();
            out.push(("url", url(s, given, "url", "GoodData.CN URL (https://...)")?));
            out.extend(s.secret("bootstrap_token", true)?);
            if let Some(id) = s.ask.optional(s.args.user_id.take(), "User id (else looked up)")? {
                out.push(("user_id", text(id)));
            }
        }
        SetupKind::Oauth2 => oauth2(s, &mut out)?,
        SetupKind::Http => http(s, &mut out)?,
        SetupKind::Command => {
            let line = s.ask.text(s.args.command.take(), "command", "Command that prints the token", None)?;
            out.push(("command", text(line)));
            lifetime(s, &mut out)?;
        }
        SetupKind::Static => out.extend(s.secret("token", true)?),
    }
    Ok(out)
}

fn text(value: String) -> Field {
    Field::Text(value)
}

/// A URL from its flag or asked; one that is not an http(s) URL is written, with a warning that the login will
/// fail (the file can be edited into a template the check here would not know).
fn url(s: &mut Setup<'_>, given: Option<String>, flag: &str, question: &str) -> Result<Field> {
    let value = s.ask.text(given, flag, question, None)?;
    warn_unless_url(&value, flag);
    Ok(text(value))
}

fn warn_unless_url(value: &str, flag: &str) {
    let ok = reqwest::Url::parse(value).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host());
    if !ok {
        crate::log::warn(format_args!(
            "--{flag} {:?} is not an http:// or https:// URL: the login will fail until it is one",
            super::discover::printable(value)
        ));
    }
}

/// A response header name (`--token-header`): an HTTP token, so no blank, colon or line break.
fn header_name(name: String) -> Result<String> {
    let tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(tchar) {
        return Err(Error::Config(format!(
            "--token-header {:?} is not a header name (letters, digits and !#$%&'*+-.^_`|~, no blank, colon or line \
             break)",
            super::discover::printable(&name)
        )));
    }
    Ok(name)
}

fn user_and_password(s: &mut Setup<'_>, out: &mut Vec<(&'static str, Field)>) -> Result<()> {
    out.push(("username", text(s.ask.text(s.args.username.take(), "username", "User name", None)?)));
    out.extend(s.secret("password", true)?);
    Ok(())
}

fn lifetime(s: &mut Setup<'_>, out: &mut Vec<(&'static str, Field)>) -> Result<()> {
    if let Some(life) =
        s.ask.optional(s.args.lifetime.take(), "Token lifetime when the answer does not say (1h, never)")?
    {
        if life != "never" {
            crate::duration::parse(&life).map_err(|e| Error::Config(format!("--lifetime {life:?}: {e}")))?;
        }
        out.push(("lifetime", text(life)));
    }
    Ok(())
}

/// A JSON login: the user name and password posted as `{"username","password"}`, the token read by pointer or header.
fn http(s: &mut Setup<'_>, out: &mut Vec<(&'static str, Field)>) -> Result<()> {
    let given = s.args.login_url.take();
    let url = url(s, given, "login-url", "Login URL (POSTed {\"username\",\"password\"})")?;
    user_and_password(s, out)?;
    lifetime(s, out)?;
    let reply = match (s.args.token_pointer.take(), s.args.token_header.take()) {
        (_, Some(header)) => ("token_header", Field::List(vec![header_name(header)?])),
        (pointer, None) => {
            let pointer =
                s.ask.text(pointer, "token-pointer", "JSON pointer to the token in the answer", Some("/token"))?;
            ("token_pointer", text(pointer))
        }
    };
    let body = vec![("username", text("{username}".into())), ("password", text("{password}".into()))];
    out.push(("login", Field::Inline(vec![("url", url), ("json", Field::Inline(body))])));
    out.push(("reply", Field::Inline(vec![reply])));
    Ok(())
}

/// The grants in the menu's order: (flag value, the name in the file, what it is).
const GRANTS: &[(SetupGrant, &str, &str)] = &[
    (SetupGrant::DeviceCode, "device_code", "a code confirmed in a browser, on any device"),
    (SetupGrant::AuthorizationCode, "authorization_code", "a browser login on this machine (PKCE)"),
    (SetupGrant::ClientCredentials, "client_credentials", "the client's own id and secret (machines)"),
    (SetupGrant::Password, "password", "a user name and password (legacy servers)"),
];

fn oauth2(s: &mut Setup<'_>, out: &mut Vec<(&'static str, Field)>) -> Result<()> {
    let (issuer, meta) = issuer(s)?;
    s.note(&format!("issuer {issuer} answers with its metadata:\n{}", meta.describe()));
    let device = meta.offers("urn:ietf:params:oauth:grant-type:device_code");
    let default = if device { 0 } else { 1 };
    let given = s.args.grant.take().map(|g| GRANTS.iter().position(|(x, ..)| *x == g).unwrap_or(0));
    // Without a terminal, the grant the server suits best, as the flag's help says.
    let given = given.or_else(|| (!s.ask.interactive()).then_some(default));
    let options: Vec<(&str, &str)> = GRANTS.iter().map(|(_, n, a)| (*n, *a)).collect();
    let grant = s.ask.choose(given, "grant", "How does tokenfob log in?", &options, default)?;
    let (which, grant_name, _) = GRANTS[grant];
    let wire =
        if which == SetupGrant::DeviceCode { "urn:ietf:params:oauth:grant-type:device_code" } else { grant_name };
    if !meta.offers(wire) {
        crate::log::warn(format_args!(
            "the issuer's metadata does not offer the {grant_name} grant; the login may fail"
        ));
    }
    out.push(("issuer", text(issuer)));
    out.push(("grant", text(grant_name.into())));
    out.push(("client_id", text(s.ask.text(s.args.client_id.take(), "client-id", "Client id", None)?)));
    let machine = which == SetupGrant::ClientCredentials;
    let has_secret =
        machine || s.has_secret("client_secret") || s.ask.confirm("Does the client have a secret?", false)?;
    if has_secret {
        out.extend(s.secret("client_secret", true)?);
    }
    if which == SetupGrant::Password {
        user_and_password(s, out)?;
    }
    scopes(s, &meta, machine, out)
}

/// The issuer and its metadata; at the terminal, an issuer whose metadata cannot be had is asked again.
fn issuer(s: &mut Setup<'_>) -> Result<(String, discover::Metadata)> {
    loop {
        let issuer = s.ask.text(s.args.issuer.take(), "issuer", "Issuer URL (https://...)", None)?;
        match discover::fetch(&issuer, &s.app.env) {
            Ok(meta) => return Ok((issuer, meta)),
            Err(e) if s.ask.interactive() => s.ask.say(&format!("  {e}\n")),
            Err(e) => return Err(e),
        }
    }
}

fn scopes(
    s: &mut Setup<'_>,
    meta: &discover::Metadata,
    machine: bool,
    out: &mut Vec<(&'static str, Field)>,
) -> Result<()> {
    let mut scopes = std::mem::take(&mut s.args.scopes);
    if scopes.is_empty() && s.ask.interactive() {
        let offline = meta.scopes.iter().any(|x| x == "offline_access");
        let default = match (machine, offline) {
            (true, _) => "",
            (false, true) => "openid offline_access",
            (false, false) => "openid",
        };
        let answer = s.ask.optional(None, &format!("Scopes, separated by spaces [{default}]"))?;
        scopes = answer.as_deref().unwrap_or(default).split_whitespace().map(str::to_owned).collect();
    }
    if !scopes.is_empty() {
        out.push(("scopes", Field::List(scopes)));
    }
    Ok(())
}
