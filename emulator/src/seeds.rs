//! Loopback emulations of the three seed login systems, for `tokenfob demo`, the tests and the benchmark.
//!
//! One [`Server`] on 127.0.0.1 speaks:
//! - ONE DATA: `POST /api/v1/users/login` answers with the JWT (24 h) in the `Authorization` header;
//!   `POST /api/v1/users/logout` does not invalidate it.
//! - the session API: `POST /rest/v1/login` and `POST /rest/v1/refresh` answer
//!   `{"success","guid","token","tokenExpiration","tokenLifetime","refreshToken","refreshTokenExpiration"}`; refresh
//!   tokens rotate and a used one is rejected.
//! - GoodData.CN: `GET /api/v1/profile`, `POST /api/v1/entities/users/{id}/apiTokens` (JSON:API, 201, 409 on a taken
//!   id) and `DELETE .../apiTokens/{id}` (204), all behind the bootstrap bearer token; in `legacy` mode only the 1.x
//!   paths (`/api/entities/...`) exist.
//! - `GET /whoami`: 200 for any token it issued and has not revoked, else 401 (a protected resource).
//!
//! Every request is counted by name, and [`State`] has knobs for faults, so tests assert how many logins happened.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Value, json};

use crate::server::{Request, Response, Server};
use crate::util::{base64url_encode, random_hex, rfc3339};

/// The ONE DATA user.
pub const OD_USER: &str = "bot@example.com";
/// The session API user.
pub const SESSION_USER: &str = "alice";
/// The GoodData.CN user id.
pub const GD_USER_ID: &str = "john.doe";

/// The issue's example configuration of the three seed systems, pointed at an emulator at `url`; passwords come
/// from `OD_PASSWORD`, `ACME_PASSWORD` and `GDC_API_TOKEN`. The demo and the test suite both use it.
pub fn seed_config(url: &str) -> String {
    format!(
        r#"default_profile = "od"

[profiles.od]
kind = "onedata"
url = "{url}"
username = "{OD_USER}"
password = {{ env = "OD_PASSWORD" }}

[profiles.acme]
kind = "session"
login_url = "{url}/rest/v1/login"
refresh_url = "{url}/rest/v1/refresh"
username = "{SESSION_USER}"
password = {{ env = "ACME_PASSWORD" }}
account_id = 42

[profiles.gd]
kind = "gooddata"
url = "{url}"
bootstrap_token = {{ env = "GDC_API_TOKEN" }}
user_id = "{GD_USER_ID}"
"#
    )
}

/// A canned answer that replaces the real one for the login, refresh and mint endpoints.
#[derive(Debug, Clone)]
pub struct Fault {
    /// The status.
    pub status: u16,
    /// The content type.
    pub content_type: String,
    /// The body.
    pub body: String,
    /// How many more requests get it.
    pub times: usize,
}

/// What the emulator knows and counts; tests change it through [`Emulator::state`].
#[derive(Debug)]
pub struct State {
    /// Requests seen, by endpoint name (`od.login`, `session.login`, `session.refresh`, `gd.profile`, `gd.mint`,
    /// `gd.delete`, `whoami`).
    pub counts: HashMap<&'static str, usize>,
    /// The ONE DATA password.
    pub od_password: String,
    /// The session API password.
    pub session_password: String,
    /// The GoodData.CN bootstrap token.
    pub gd_bootstrap: String,
    /// `tokenLifetime` of session tokens, in seconds.
    pub session_lifetime: u64,
    /// Whether refresh tokens rotate on use.
    pub rotate_refresh: bool,
    /// Serve only the GoodData.CN 1.x paths.
    pub gd_legacy: bool,
    /// Answer this many mints with 409 first.
    pub gd_conflicts: usize,
    /// Delay every login, refresh and mint by this much.
    pub delay: Duration,
    /// A canned answer for logins, refreshes and mints.
    pub fault: Option<Fault>,
    /// Tokens `/whoami` accepts.
    pub valid: HashSet<String>,
    /// Refresh tokens that can still be used.
    pub refresh_tokens: HashSet<String>,
    /// Minted GoodData token ids.
    pub gd_tokens: HashMap<String, String>,
    /// Account ids the session API saw.
    pub account_ids: Vec<Value>,
    /// Logins, refreshes and mints that have arrived (counted before `delay`, so a test knows one is under way).
    pub arrivals: usize,
    serial: u64,
}

/// A running emulator; it stops when dropped.
pub struct Emulator {
    server: Server,
    state: Arc<Mutex<State>>,
}

fn reply(status: u16, body: Value) -> Response {
    Response::json(status, &body.to_string())
}

impl Emulator {
    /// Starts the emulator on an ephemeral 127.0.0.1 port with the given passwords.
    pub fn start(od_password: &str, session_password: &str, gd_bootstrap: &str) -> std::io::Result<Emulator> {
        let state = Arc::new(Mutex::new(State {
            counts: HashMap::new(),
            od_password: od_password.into(),
            session_password: session_password.into(),
            gd_bootstrap: gd_bootstrap.into(),
            session_lifetime: 3600,
            rotate_refresh: true,
            gd_legacy: false,
            gd_conflicts: 0,
            delay: Duration::ZERO,
            fault: None,
            valid: HashSet::new(),
            refresh_tokens: HashSet::new(),
            gd_tokens: HashMap::new(),
            account_ids: Vec::new(),
            arrivals: 0,
            serial: 0,
        }));
        let shared = Arc::clone(&state);
        let server = Server::start(move |req| route(req, &shared))?;
        Ok(Emulator { server, state })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The state, for knobs and counts.
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The state, shareable with another server's threads (a test's protected resource checks tokens here).
    pub fn shared(&self) -> Arc<Mutex<State>> {
        Arc::clone(&self.state)
    }

    /// How many requests `endpoint` got.
    pub fn count(&self, endpoint: &str) -> usize {
        self.state().counts.get(endpoint).copied().unwrap_or(0)
    }
}

fn route(req: &Request, state: &Mutex<State>) -> Response {
    let path = req.path.split('?').next().unwrap_or("");
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let is_renewal =
        matches!(path, "/api/v1/users/login" | "/rest/v1/login" | "/rest/v1/refresh") || path.ends_with("/apiTokens");
    if is_renewal {
        let delay = {
            let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
            s.arrivals += 1;
            s.delay
        };
        std::thread::sleep(delay);
    }
    let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
    if is_renewal
        && req.method == "POST"
        && let Some(fault) = s.fault.as_mut().filter(|f| f.times > 0)
    {
        fault.times -= 1;
        let f = fault.clone();
        *s.counts.entry("fault").or_default() += 1;
        return Response {
            status: f.status,
            headers: vec![("Content-Type".into(), f.content_type)],
            body: f.body.into_bytes(),
        };
    }

    match (req.method.as_str(), segments.as_slice()) {
        ("POST", ["api", "v1", "users", "login"]) => s.onedata_login(req),
        ("POST", ["api", "v1", "users", "logout"]) => reply(200, json!({})),
        ("POST", ["rest", "v1", "login"]) => s.session_login(req),
        ("POST", ["rest", "v1", "refresh"]) => s.session_refresh(req),
        ("GET", ["api", "v1", "profile"]) => s.gd_profile(req),
        ("POST", ["api", "v1", "entities", "users", user, "apiTokens"]) if !s.gd_legacy => s.gd_mint(req, user),
        ("POST", ["api", "entities", "users", user, "apiTokens"]) if s.gd_legacy => s.gd_mint(req, user),
        ("DELETE", ["api", "v1", "entities", "users", _, "apiTokens", id]) if !s.gd_legacy => s.gd_delete(req, id),
        ("DELETE", ["api", "entities", "users", _, "apiTokens", id]) if s.gd_legacy => s.gd_delete(req, id),
        ("GET", ["whoami"]) => s.whoami(req),
        _ => reply(404, json!({"message": "not found"})),
    }
}

impl State {
    fn count(&mut self, name: &'static str) {
        *self.counts.entry(name).or_default() += 1;
    }

    fn fresh(&mut self, prefix: &str) -> String {
        self.serial += 1;
        format!("{prefix}{}{}", self.serial, random_hex(6))
    }

    fn onedata_login(&mut self, req: &Request) -> Response {
        self.count("od.login");
        let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
        if body["username"] != OD_USER || body["password"] != self.od_password.as_str() {
            return reply(401, json!({"error": "Unauthorized", "message": "Invalid username or password"}));
        }
        let exp = time::OffsetDateTime::now_utc().unix_timestamp() + 24 * 3600;
        let header = base64url_encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let jti = self.fresh("od");
        let payload = base64url_encode(json!({"sub": OD_USER, "exp": exp, "jti": jti}).to_string().as_bytes());
        let token = format!("{header}.{payload}.{}", base64url_encode(jti.as_bytes()));
        self.valid.insert(token.clone());
        let mut r = reply(200, json!({"id": 1, "username": OD_USER}));
        r.headers.push(("Authorization".into(), format!("Bearer {token}")));
        r
    }

    fn session_answer(&mut self) -> Response {
        let now = time::OffsetDateTime::now_utc();
        let token = self.fresh("sess");
        let refresh = self.fresh("ref");
        self.valid.insert(token.clone());
        self.refresh_tokens.insert(refresh.clone());
        let at = |secs: u64| rfc3339(now + Duration::from_secs(secs));
        reply(
            200,
            json!({
                "success": true, "guid": "7a0c6e55", "token": token,
                "tokenExpiration": at(self.session_lifetime), "tokenLifetime": self.session_lifetime,
                "refreshToken": refresh, "refreshTokenExpiration": at(7 * 86_400),
            }),
        )
    }

    fn session_login(&mut self, req: &Request) -> Response {
        self.count("session.login");
        let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
        if body["username"] != SESSION_USER || body["password"] != self.session_password.as_str() {
            return reply(401, json!({"success": false, "message": "Invalid credentials"}));
        }
        if let Some(id) = body.get("account_id") {
            self.account_ids.push(id.clone());
        }
        self.session_answer()
    }

    fn session_refresh(&mut self, req: &Request) -> Response {
        self.count("session.refresh");
        let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
        let presented = body["refreshToken"].as_str().unwrap_or_default().to_owned();
        let known = if self.rotate_refresh {
            self.refresh_tokens.remove(&presented)
        } else {
            self.refresh_tokens.contains(&presented)
        };
        if !known {
            return reply(401, json!({"success": false, "message": "Refresh token is invalid or was already used"}));
        }
        let answer = self.session_answer();
        if !self.rotate_refresh {
            // Without rotation the old refresh token stays the one to use: answer without a new one.
            let mut body: Value = serde_json::from_slice(&answer.body).unwrap_or_default();
            if let Some(new) = body.as_object_mut().and_then(|o| o.remove("refreshToken")) {
                self.refresh_tokens.remove(new.as_str().unwrap_or_default());
            }
            return reply(200, body);
        }
        answer
    }

    fn gd_authorised(&self, req: &Request) -> bool {
        req.bearer() == Some(self.gd_bootstrap.as_str())
    }

    fn gd_profile(&mut self, req: &Request) -> Response {
        self.count("gd.profile");
        if !self.gd_authorised(req) {
            return reply(401, json!({"title": "Unauthorized", "status": 401, "detail": "Invalid API token"}));
        }
        reply(200, json!({"userId": GD_USER_ID, "organizationId": "default", "name": "John Doe"}))
    }

    fn gd_mint(&mut self, req: &Request, user: &str) -> Response {
        self.count("gd.mint");
        if !self.gd_authorised(req) {
            return reply(401, json!({"title": "Unauthorized", "status": 401, "detail": "Invalid API token"}));
        }
        let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
        let id = body["data"]["id"].as_str().unwrap_or_default().to_owned();
        let typed = req.headers.get("content-type").is_some_and(|c| c.starts_with("application/vnd.gooddata.api+json"));
        if user != GD_USER_ID || body["data"]["type"] != "apiToken" || id.is_empty() || !typed {
            return reply(400, json!({"title": "Bad Request", "status": 400, "detail": "Malformed apiToken request"}));
        }
        if self.gd_conflicts > 0 || self.gd_tokens.contains_key(&id) {
            self.gd_conflicts = self.gd_conflicts.saturating_sub(1);
            return reply(
                409,
                json!({"title": "Conflict", "status": 409, "detail": "Token with this id already exists"}),
            );
        }
        let token = base64url_encode(format!("{user}:{id}:{}", random_hex(16)).as_bytes());
        self.valid.insert(token.clone());
        self.gd_tokens.insert(id.clone(), token.clone());
        let links = json!({"self": format!("/api/v1/entities/users/{user}/apiTokens/{id}")});
        let mut r = reply(
            201,
            json!({"data": {"id": id, "type": "apiToken", "attributes": {"bearerToken": token}}, "links": links}),
        );
        r.headers[0].1 = "application/vnd.gooddata.api+json".into();
        r
    }

    fn gd_delete(&mut self, req: &Request, id: &str) -> Response {
        self.count("gd.delete");
        if !self.gd_authorised(req) {
            return reply(401, json!({"title": "Unauthorized", "status": 401, "detail": "Invalid API token"}));
        }
        match self.gd_tokens.remove(id) {
            Some(token) => {
                self.valid.remove(&token);
                Response { status: 204, headers: vec![], body: Vec::new() }
            }
            None => reply(404, json!({"title": "Not Found", "status": 404, "detail": "No such apiToken"})),
        }
    }

    fn whoami(&mut self, req: &Request) -> Response {
        self.count("whoami");
        match req.bearer() {
            Some(t) if self.valid.contains(t) => reply(200, json!({"ok": true})),
            _ => reply(401, json!({"message": "invalid or expired token"})),
        }
    }
}
