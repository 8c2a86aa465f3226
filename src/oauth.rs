//! OAuth 2.0 and OpenID Connect: a preset family of the one login engine, and its two interactive steps.
//!
//! [`preset`] turns an `oauth2` profile into a recipe: endpoints come from OpenID discovery (a lookup, so they are
//! kept with the token) unless configured; the token request is a form call with `client_secret_basic` or
//! `client_secret_post`; refresh rotates; logout revokes (RFC 7009). The grants that need the user run as an
//! interactive step before the token call: [`device`] (RFC 8628) shows a code on the terminal and polls;
//! [`browser`] (RFC 6749 4.1, PKCE S256 per RFC 7636, loopback redirect per RFC 8252) opens the browser and waits
//! for the redirect on 127.0.0.1. Both need a terminal, run under the profile's lock (one at a time, so parallel
//! callers never open ten browser tabs), and give up after `interactive_timeout`.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use crate::config::{ClientAuth, Grant, RawProfile, Serve};
use crate::error::{Error, Result};
use crate::login::{Engine, Outcome};
use crate::recipe::{self, CallSpec, Interactive, LookupSpec, Recipe, ReplySpec, VarSpec};

/// The error codes that mean the grant or client was refused (RFC 6749 5.2, RFC 8628 3.5).
const REFUSED: [&str; 5] = ["invalid_grant", "invalid_client", "unauthorized_client", "access_denied", "expired_token"];

/// Builds the recipe of an `oauth2` profile.
pub fn preset(raw: &RawProfile, vars: &mut BTreeMap<String, VarSpec>) -> Result<Recipe, String> {
    let client_id = raw.client_id.as_ref().ok_or("kind oauth2 needs `client_id`")?;
    let grant = raw.grant.unwrap_or(Grant::AuthorizationCode);
    let serve = raw.serve.unwrap_or(Serve::AccessToken);
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
    let interactive = match grant {
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
    };
    let reply = ReplySpec {
        token_pointer: Some(if serve == Serve::IdToken { "/id_token" } else { "/access_token" }.into()),
        // expires_in describes the access token; an ID token's lifetime is its own `exp`.
        expires_in_pointer: (serve == Serve::AccessToken).then(|| "/expires_in".into()),
        refresh_token_pointer: Some("/refresh_token".into()),
        refresh_expires_in_pointer: Some("/refresh_expires_in".into()),
        error_pointer: Some("/error".into()),
        message_pointer: Some("/error_description".into()),
        rejection_errors: REFUSED.iter().map(|s| (*s).to_owned()).collect(),
        ..ReplySpec::default()
    };
    let mut recipe = recipe::bare(token, reply, raw.lifetime.and_then(|l| l.0));
    recipe.refresh = Some(refresh);
    recipe.logout = Some(logout);
    recipe.lookups = lookups;
    recipe.interactive = interactive;
    Ok(recipe)
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

/// RFC 8628: asks for a device code, shows it on the terminal, and polls the token endpoint until the user
/// confirms, refuses, or the code expires.
pub fn device(engine: &mut Engine<'_>, authorize: &CallSpec, timeout: Duration) -> Result<Outcome> {
    let what = format!("starting the device login of profile {:?}", engine.profile_name());
    engine.require_interaction(&what)?;
    let (answer, _, url) = engine.run(authorize, "POST", &what)?;
    let json: serde_json::Value = serde_json::from_slice(&answer.body).unwrap_or_default();
    let field = |name: &str| json.get(name).and_then(|v| v.as_str()).map(str::to_owned);
    let (Some(device_code), Some(user_code), Some(uri)) =
        (field("device_code"), field("user_code"), field("verification_uri"))
    else {
        return Err(engine.unusable(&answer, &url, &what));
    };
    // Server text goes to the terminal: without control characters, which could drive it (escape sequences).
    let shown = crate::reply::clean(&field("verification_uri_complete").unwrap_or(uri.clone()));
    crate::secret::say_on_tty(&format!(
        "To log in to profile {:?}, open {shown}\nand confirm the code {} (waiting up to {}s).\n",
        engine.profile_name(),
        crate::reply::clean(&user_code),
        timeout.as_secs()
    ));
    engine.set_secret("device_code", device_code);
    // The server's numbers are bounded before any arithmetic: an absurd interval or expires_in must not overflow
    // the clock (issue #10). The wait is bounded by `interactive_timeout` anyway.
    let seconds = |name: &str, default: u64| json.get(name).and_then(|v| v.as_u64()).unwrap_or(default);
    // A poll interval longer than the whole wait would never poll: bound it by the wait, not by a constant.
    let longest = timeout.as_secs().max(1);
    let mut interval = Duration::from_secs(seconds("interval", 5).clamp(1, longest));
    let expires = Duration::from_secs(seconds("expires_in", 600).min(timeout.as_secs()));
    let deadline = deadline_after(timeout.min(expires));
    let login = engine.recipe().login.clone();
    let what = format!("waiting for the device login of profile {:?}", engine.profile_name());
    loop {
        if Instant::now().checked_add(interval).is_none_or(|next| next > deadline) {
            return Err(Error::InteractionRequired {
                what,
                why: format!("nobody confirmed the code within {}s", timeout.min(expires).as_secs()),
                profile: engine.profile_name().to_owned(),
            });
        }
        std::thread::sleep(interval);
        let (answer, sent_at, url) = engine.run(&login, "POST", &what)?;
        match engine.error_code(&answer).as_deref() {
            Some("authorization_pending") => continue,
            // RFC 8628 3.5: slow down by 5 seconds.
            Some("slow_down") => interval = (interval + Duration::from_secs(5)).min(Duration::from_secs(longest)),
            _ => return engine.read_reply(&answer, sent_at, &url, &what),
        }
    }
}

/// RFC 6749 4.1 with PKCE: opens the authorization URL in a browser and waits on 127.0.0.1 for the redirect.
pub fn browser(
    engine: &mut Engine<'_>,
    authorization_url: &str,
    query: &[(String, String)],
    timeout: Duration,
) -> Result<Outcome> {
    let what = format!("logging in to profile {:?} in a browser", engine.profile_name());
    engine.require_interaction(&what)?;
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| Error::Other(format!("{what}: listening on 127.0.0.1: {e}")))?;
    let port = listener.local_addr().map_err(|e| Error::Other(format!("{what}: {e}")))?.port();
    let state = crate::sys::random_hex(16)?;
    let verifier = crate::jwt::base64url_encode(&hex_bytes(&crate::sys::random_hex(32)?));
    let challenge =
        crate::jwt::base64url_encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()).as_ref());
    engine.set_plain("redirect_uri", format!("http://127.0.0.1:{port}/callback"));
    engine.set_plain("state", state.clone());
    engine.set_plain("code_challenge", challenge);
    engine.set_secret("code_verifier", verifier);
    let mut url = reqwest::Url::parse(&engine.url_text(authorization_url)?)
        .map_err(|e| Error::Config(format!("{what}: the authorization URL is not a URL: {e}")))?;
    for (key, template) in query {
        if let Some(value) = engine.optional_value(template)? {
            url.query_pairs_mut().append_pair(key, &value);
        }
    }
    let opened = open_browser(engine.env_var("BROWSER"), url.as_str());
    let how = if opened { "A browser window was opened; if it did not appear, open" } else { "Open" };
    crate::secret::say_on_tty(&format!("To log in to profile {:?}: {how} this URL:\n{url}\n", engine.profile_name()));
    let code = wait_for_code(&listener, &state, deadline_after(timeout), &what, engine.profile_name())
        .map_err(|e| engine.redact_error(e))?;
    engine.set_secret("code", code);
    let login = engine.recipe().login.clone();
    let (answer, sent_at, url) = engine.run(&login, "POST", &what)?;
    engine.read_reply(&answer, sent_at, &url, &what)
}

/// Now plus `wait`, saturating at a century: the interval, `expires_in` and `interactive_timeout` come from a
/// server or the user, and `Instant` arithmetic that overflows panics.
fn deadline_after(wait: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(wait).or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 86_400))).unwrap_or(now)
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len() / 2).filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()).collect()
}

/// `$BROWSER` (its first entry; `%s` is the URL) or xdg-open; false when neither could be started.
fn open_browser(browser: Option<String>, url: &str) -> bool {
    let command = browser.and_then(|b| b.split(':').next().map(str::to_owned)).filter(|b| !b.is_empty());
    let mut argv: Vec<String> = match command {
        Some(b) if b.contains("%s") => b.replace("%s", url).split_whitespace().map(str::to_owned).collect(),
        Some(b) => b.split_whitespace().map(str::to_owned).chain([url.to_owned()]).collect(),
        None => vec!["xdg-open".into(), url.into()],
    };
    let program = argv.remove(0);
    std::process::Command::new(program)
        .args(argv)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .is_ok()
}

/// How many redirect connections may wait for their request line at once; more are closed at once.
const MAX_PENDING: usize = 16;
/// How long one redirect connection may take to send its request line.
const LINE_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection to the redirect listener, and the bytes of its request line so far.
struct Pending {
    stream: TcpStream,
    head: Vec<u8>,
    since: Instant,
}

/// Serves the loopback redirect until one with the right `state` comes back, and returns its code.
///
/// Any local process can connect to the listener, so nothing without this login's `state` is acted on or shown
/// (issue #10): it gets a 400 and the wait goes on until the interactive timeout. Connections are served side by
/// side without blocking, so an idle connection (a browser's preconnect, or a process that connects and says
/// nothing) cannot hold up the real redirect.
fn wait_for_code(listener: &TcpListener, state: &str, deadline: Instant, what: &str, profile: &str) -> Result<String> {
    listener.set_nonblocking(true).map_err(|e| Error::Other(format!("{what}: {e}")))?;
    let mut pending: Vec<Pending> = Vec::new();
    loop {
        if Instant::now() > deadline {
            return Err(Error::InteractionRequired {
                what: what.into(),
                why: "no browser came back before the interactive timeout".into(),
                profile: profile.into(),
            });
        }
        while let Ok((stream, _)) = listener.accept() {
            if pending.len() < MAX_PENDING && stream.set_nonblocking(true).is_ok() {
                pending.push(Pending { stream, head: Vec::new(), since: Instant::now() });
            }
        }
        let mut lines = Vec::new();
        pending.retain_mut(|p| match read_line(p) {
            Some(Ok(line)) => {
                lines.push((p.stream.try_clone(), line));
                false
            }
            Some(Err(())) => false,
            None => p.since.elapsed() < LINE_TIMEOUT,
        });
        for (stream, line) in lines {
            let Ok(mut stream) = stream else { continue };
            let (status, page, outcome) = judge(&line, state, what, profile);
            answer(&mut stream, status, page);
            if let Some(result) = outcome {
                return result;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Reads what has arrived of a request line: `None` while it is incomplete, `Some(Err)` when the connection is
/// closed, broken or sends an over-long line.
fn read_line(p: &mut Pending) -> Option<Result<String, ()>> {
    let mut buf = [0u8; 2048];
    loop {
        if let Some(end) = p.head.windows(2).position(|w| w == b"\r\n") {
            return Some(Ok(String::from_utf8_lossy(&p.head[..end]).into_owned()));
        }
        if p.head.len() > 8192 {
            return Some(Err(()));
        }
        match p.stream.read(&mut buf) {
            Ok(0) => return Some(Err(())),
            Ok(n) => p.head.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return None,
            Err(_) => return Some(Err(())),
        }
    }
}

/// What to answer a redirect's request line, and the outcome of the login if this request decides it.
fn judge(line: &str, state: &str, what: &str, profile: &str) -> (&'static str, &'static str, Option<Result<String>>) {
    let target = line.split_whitespace().nth(1).unwrap_or("");
    let Some(query) = target.strip_prefix("/callback?") else {
        return ("404 Not Found", "Not found.", None);
    };
    let params: BTreeMap<String, String> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    if !params.get("state").is_some_and(|s| same(s.as_bytes(), state.as_bytes())) {
        crate::log::debug(format_args!("ignored a redirect without this login's state (a forged or stale one)"));
        return ("400 Bad Request", "This answer does not belong to the login under way (state); ignored.", None);
    }
    if let Some(error) = params.get("error") {
        let why = match params.get("error_description") {
            Some(d) => format!("{}: {}", crate::reply::clean(error), crate::reply::clean(d)),
            None => crate::reply::clean(error),
        };
        let rejected = Error::AuthRejected {
            what: what.into(),
            url: "the authorization server".into(),
            why,
            profile: profile.into(),
        };
        return ("200 OK", "The login was refused. You can close this window.", Some(Err(rejected)));
    }
    match params.get("code") {
        Some(code) => ("200 OK", "Logged in. You can close this window.", Some(Ok(code.clone()))),
        None => ("400 Bad Request", "The login answer has no code.", None),
    }
}

/// Compares in time that does not depend on where the values differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn answer(stream: &mut TcpStream, status: &str, page: &str) {
    let body = format!("<!doctype html><title>tokenfob</title><p>{page}</p>");
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}
