//! Real cargo fetching a crate from a loopback sparse registry that demands the token (`auth-required`), with
//! tokenfob as its credential provider; and the provider's exchange by hand through `tokenfob --cargo-plugin`.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::support::server::{Log, Response, Server, tool};
use crate::support::{Run, Sandbox};

/// The crate the registry serves.
const CRATE: &str = "fobdep";

/// A sparse registry on 127.0.0.1 serving one crate: `config.json` (with `auth-required`), the index file of
/// [`CRATE`] and its `.crate`, each only to a request whose `Authorization` is exactly `Bearer <token>` (or the bare
/// token when `bare`) for a token the emulator issued. Every request is logged as "path authorization".
pub(super) struct Registry {
    pub(super) server: Server,
    log: Log,
}

impl Registry {
    pub(super) fn start(s: &Sandbox, package: Vec<u8>, bare: bool) -> Registry {
        let cksum = hex(ring::digest::digest(&ring::digest::SHA256, &package).as_ref());
        let index = format!(
            r#"{{"name":"{CRATE}","vers":"0.1.0","deps":[],"cksum":"{cksum}","features":{{}},"yanked":false}}"#
        );
        let (state, log): (_, Log) = (s.emu.shared(), Arc::default());
        let seen = Arc::clone(&log);
        let base = Arc::new(Mutex::new(String::new()));
        let dl = Arc::clone(&base);
        let server = Server::start(move |req| {
            let auth = req.headers.get("authorization").cloned().unwrap_or_default();
            seen.lock().unwrap().push(format!("{} {auth}", req.path));
            let token = if bare { Some(auth.as_str()) } else { auth.strip_prefix("Bearer ") };
            if !token.is_some_and(|t| state.lock().unwrap().valid.contains(t)) {
                let mut r = Response::json(401, r#"{"errors":[{"detail":"a token is required"}]}"#);
                r.headers.push(("WWW-Authenticate".into(), "Cargo login_url=\"https://login.invalid/\"".into()));
                return r;
            }
            match req.path.as_str() {
                "/index/config.json" => Response::json(
                    200,
                    &format!(r#"{{"dl":"{0}/dl","api":"{0}","auth-required":true}}"#, dl.lock().unwrap()),
                ),
                "/index/fo/bd/fobdep" => {
                    Response { status: 200, headers: Vec::new(), body: index.clone().into_bytes() }
                }
                "/dl/fobdep/0.1.0/download" => Response { status: 200, headers: Vec::new(), body: package.clone() },
                _ => Response::json(404, r#"{"errors":[{"detail":"not found"}]}"#),
            }
        })
        .unwrap();
        *base.lock().unwrap() = server.url();
        Registry { server, log }
    }

    /// The index URL as cargo's configuration writes it.
    fn index(&self) -> String {
        format!("sparse+{}/index/", self.server.url())
    }

    /// The `Authorization` values sent with the requests for the crate itself (index file and download).
    pub(super) fn crate_auth(&self) -> Vec<String> {
        let log = self.log.lock().unwrap();
        let of_crate = log.iter().filter(|l| l.starts_with("/index/fo/") || l.starts_with("/dl/"));
        of_crate.map(|l| l.split_once(' ').unwrap().1.to_owned()).collect()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Real cargo in the sandbox: its own CARGO_HOME (never the user's ~/.cargo), and rustup's home and toolchain
/// passed through, since cargo on PATH is usually rustup's proxy and the sandbox moves HOME.
#[allow(clippy::disallowed_methods)] // the test process's own environment
pub(super) fn cargo(s: &Sandbox, cargo: &Path, home: &Path, args: &[&str], dir: &Path) -> Command {
    let mut cmd = s.tool_command(cargo);
    cmd.args(args).current_dir(dir).env("CARGO_HOME", home).env("CARGO_TERM_COLOR", "never");
    let rustup_home = std::env::var_os("RUSTUP_HOME")
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".rustup").into_os_string()));
    for (name, value) in [("RUSTUP_HOME", rustup_home), ("RUSTUP_TOOLCHAIN", std::env::var_os("RUSTUP_TOOLCHAIN"))] {
        if let Some(value) = value {
            cmd.env(name, value);
        }
    }
    cmd
}

/// The `.crate` of [`CRATE`] 0.1.0, made by `cargo package`.
pub(super) fn package(s: &Sandbox, bin: &Path) -> Vec<u8> {
    let dir = s.dir.path().join(CRATE);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    let manifest = format!(
        "[package]\nname = \"{CRATE}\"\nversion = \"0.1.0\"\nedition = \"2021\"\nlicense = \"MIT\"\n\
         description = \"served by a loopback registry\"\n"
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    std::fs::write(dir.join("src/lib.rs"), "pub fn answer() -> u32 { 42 }\n").unwrap();
    let home = s.dir.path().join("cargo-home-package");
    let run = s
        .check(cargo(s, bin, &home, &["package", "--no-verify", "--allow-dirty", "--offline"], &dir).output().unwrap());
    assert_eq!(run.code, 0, "{run:#?}");
    std::fs::read(dir.join(format!("target/package/{CRATE}-0.1.0.crate"))).unwrap()
}

/// A project that depends on [`CRATE`] from the registry `fob`.
pub(super) fn project(s: &Sandbox) -> PathBuf {
    let dir = s.dir.path().join("app");
    std::fs::create_dir_all(dir.join("src")).unwrap();
    let manifest = format!(
        "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\n\
         {CRATE} = {{ version = \"0.1\", registry = \"fob\" }}\n"
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    std::fs::write(dir.join("src/lib.rs"), "").unwrap();
    dir
}

/// A fresh CARGO_HOME named `name` whose config.toml is `config`; a new home means cargo has cached nothing, so it
/// asks its credential provider again.
fn home(s: &Sandbox, name: &str, config: &str) -> PathBuf {
    let home = s.dir.path().join(name);
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join("config.toml"), config).unwrap();
    home
}

/// `cargo fetch` of the project with a fresh CARGO_HOME (and no lock file).
fn fetch(s: &Sandbox, bin: &Path, app: &Path, name: &str, config: &str) -> Run {
    let _ = std::fs::remove_file(app.join("Cargo.lock"));
    let home = home(s, name, config);
    s.check(cargo(s, bin, &home, &["fetch"], app).output().unwrap())
}

/// The seed configuration with `extra` lines added to profile `od`.
pub(super) fn od_with(s: &Sandbox, extra: &str) -> String {
    let od_url = format!("url = \"{}\"\n", s.emu.url());
    s.seed_config().replacen(&od_url, &format!("{od_url}{extra}"), 1)
}

#[test]
fn cargo_fetches_with_the_bearer_token_caches_renews_logs_out_and_in() {
    let Some(bin) = tool("cargo") else { return };
    let s = Sandbox::new();
    let registry = Registry::start(&s, package(&s, &bin), false);
    s.write_config(&od_with(&s, &format!("match = [\"{}/index/\"]\n", registry.server.url())));
    let config =
        format!("[registries.fob]\nindex = \"{}\"\ncredential-provider = [\"tokenfob\", \"od\"]\n", registry.index());
    let app = project(&s);

    let first = fetch(&s, &bin, &app, "home-1", &config);
    assert_eq!(first.code, 0, "{first:#?}");
    assert!(s.dir.path().join("home-1/registry/cache").exists(), "cargo downloaded the crate");
    let token = s.entry("od")["token"].as_str().unwrap().to_owned();
    let sent = registry.crate_auth();
    assert!(sent.len() >= 2 && sent.iter().all(|a| *a == format!("Bearer {token}")), "{sent:?}");
    assert_eq!(s.emu.count("od.login"), 1);

    let second = fetch(&s, &bin, &app, "home-2", &config);
    assert_eq!(second.code, 0, "{second:#?}");
    assert_eq!(s.emu.count("od.login"), 1, "a new cargo process got the cached token");
    assert_eq!(registry.crate_auth().len(), 2 * sent.len(), "the second fetch went to the registry with it");

    s.expire("od");
    let third = fetch(&s, &bin, &app, "home-3", &config);
    assert_eq!(third.code, 0, "{third:#?}");
    assert_eq!(s.emu.count("od.login"), 2, "the expired token was renewed");
    let renewed = s.entry("od")["token"].as_str().unwrap().to_owned();
    assert_ne!(renewed, token);
    assert_eq!(registry.crate_auth().last().unwrap(), &format!("Bearer {renewed}"));

    let logout = |home: &str| {
        let out = cargo(&s, &bin, &s.dir.path().join(home), &["logout", "--registry", "fob"], &app).output().unwrap();
        s.check(out)
    };
    let out = logout("home-3");
    assert_eq!(out.code, 0, "{out:#?}");
    assert!(!s.entry_path("od").exists(), "cargo logout made tokenfob forget the token");
    let again = logout("home-3");
    assert_eq!(again.code, 0, "{again:#?}");
    assert!(again.stderr.contains("not currently logged in"), "{again:#?}");
    // `cargo login` reads config.json with a token first (here a cache hit), then asks tokenfob to log in afresh.
    let cached = s.get(&["od"]);
    let before = s.emu.count("od.login");
    let login = cargo(&s, &bin, &s.dir.path().join("home-3"), &["login", "--registry", "fob"], &app).output().unwrap();
    let login = s.check(login);
    assert_eq!(login.code, 0, "{login:#?}");
    assert_eq!(s.emu.count("od.login"), before + 1, "cargo login logged in once more");
    assert_ne!(s.entry("od")["token"].as_str().unwrap(), cached, "with a new token");
}

#[test]
fn cargo_gets_the_bare_token_for_a_profile_chosen_by_the_index_url() {
    let Some(bin) = tool("cargo") else { return };
    let s = Sandbox::new();
    let registry = Registry::start(&s, package(&s, &bin), true);
    let extra = format!("match = [\"{}/index/\"]\ncargo_token = \"bare\"\n", registry.server.url());
    s.write_config(&od_with(&s, &extra));
    // The global form: tokenfob alone, so the index URL chooses the profile.
    let config = format!(
        "[registry]\nglobal-credential-providers = [\"tokenfob\"]\n\n[registries.fob]\nindex = \"{}\"\n",
        registry.index()
    );
    let app = project(&s);
    let run = fetch(&s, &bin, &app, "home-1", &config);
    assert_eq!(run.code, 0, "{run:#?}");
    let token = s.entry("od")["token"].as_str().unwrap().to_owned();
    let sent = registry.crate_auth();
    assert!(!sent.is_empty() && sent.iter().all(|a| *a == token), "{sent:?}");
}

#[test]
fn an_index_no_profile_covers_gets_no_token() {
    let Some(bin) = tool("cargo") else { return };
    let s = Sandbox::new();
    let registry = Registry::start(&s, package(&s, &bin), false);
    let config = format!("[registries.fob]\nindex = \"{}\"\ncredential-provider = [\"tokenfob\"]\n", registry.index());
    let app = project(&s);
    let run = fetch(&s, &bin, &app, "home-1", &config);
    assert_ne!(run.code, 0, "{run:#?}");
    assert!(run.stderr.contains("no credential providers could handle the request"), "{run:#?}");
    let log = registry.log.lock().unwrap().clone();
    assert!(!log.is_empty() && log.iter().all(|l| l.ends_with(' ')), "no Authorization was ever sent: {log:?}");
    assert_eq!(s.emu.count("od.login") + s.emu.count("session.login") + s.emu.count("gd.profile"), 0);
    // Named explicitly, a profile still gives its token only where its `match` reaches.
    let named =
        format!("[registries.fob]\nindex = \"{}\"\ncredential-provider = [\"tokenfob\", \"od\"]\n", registry.index());
    let run = fetch(&s, &bin, &app, "home-2", &named);
    assert_ne!(run.code, 0, "{run:#?}");
    assert!(run.stderr.contains("profile \"od\" does not cover"), "{run:#?}");
    assert!(registry.log.lock().unwrap().iter().all(|l| l.ends_with(' ')));
    assert_eq!(s.emu.count("od.login"), 0);
}

/// `tokenfob --cargo-plugin`, spoken to by hand: the hello, then one answer per request line.
struct Plugin {
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Plugin {
    fn spawn(s: &Sandbox) -> Plugin {
        let mut cmd = s.command(&["--cargo-plugin"]);
        let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (send, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || stdout.lines().map_while(Result::ok).try_for_each(|l| send.send(l)));
        Plugin { stdin: child.stdin.take(), child, lines }
    }

    /// The next line of output, within 20 s (a hang fails the test instead of hanging it).
    fn line(&self) -> Value {
        let line = self.lines.recv_timeout(Duration::from_secs(20)).expect("an answer line, not a hang");
        serde_json::from_str(&line).unwrap()
    }

    fn ask(&mut self, line: &str) -> Value {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(line.as_bytes()).and_then(|()| stdin.write_all(b"\n")).unwrap();
        self.line()
    }

    fn finish(mut self, s: &Sandbox) -> Run {
        drop(self.stdin.take());
        s.check(self.child.wait_with_output().unwrap())
    }
}

fn request(kind: &str, index: &str, rest: &str) -> String {
    format!(r#"{{"v":1,"registry":{{"index-url":"{index}","name":"fob"}},"kind":"{kind}"{rest}}}"#)
}

#[test]
fn the_plugin_exchange_by_hand() {
    let s = Sandbox::new();
    s.write_config(&od_with(&s, "match = [\"https://crates.example/\"]\n"));
    let index = "sparse+https://crates.example/index/";
    let mut plugin = Plugin::spawn(&s);
    assert_eq!(plugin.line(), serde_json::json!({"v": [1]}), "the hello comes first, unasked");
    // A malformed line is answered at once, before stdin ends, and the next request still works.
    let bad = plugin.ask("{\"v\":1,\"kind\":");
    assert_eq!(bad["Err"]["kind"], "other", "{bad}");
    assert!(bad["Err"]["message"].as_str().unwrap().contains("not JSON"), "{bad}");
    let got = plugin.ask(&request("get", index, r#","operation":"read","args":["od"]"#));
    let entry = s.entry("od");
    let token = entry["token"].as_str().unwrap();
    assert_eq!(got["Ok"]["kind"], "get", "{got}");
    assert_eq!(got["Ok"]["token"], format!("Bearer {token}"));
    assert_eq!(got["Ok"]["cache"], "expires");
    assert_eq!(got["Ok"]["operation_independent"], true);
    // cargo keeps the token until tokenfob would renew it: the expiry less the 60 s margin.
    let expires = time::OffsetDateTime::parse(
        entry["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(got["Ok"]["expiration"], (expires - Duration::from_secs(60)).unix_timestamp());
    let by_url = plugin.ask(&request("get", index, r#","operation":"publish","name":"c","vers":"1.0.0","cksum":"00""#));
    assert_eq!(by_url["Ok"]["token"], got["Ok"]["token"], "{by_url}");
    assert_eq!(s.emu.count("od.login"), 1);
    for (line, kind) in [
        (request("get", "sparse+https://elsewhere.example/index/", r#","operation":"read""#), "url-not-supported"),
        (
            request("get", "sparse+https://elsewhere.example/", r#","operation":"read","args":["od"]"#),
            "url-not-supported",
        ),
        (request("get", "ssh://git@crates.example/index", r#","operation":"read""#), "url-not-supported"),
        (request("rotate", index, ""), "operation-not-supported"),
        (request("get", index, r#","operation":"read","args":["nope"]"#), "other"),
        (request("get", index, r#","operation":"read","args":["od","more"]"#), "other"),
        (request("login", index, r#","token":"typed-by-the-user","args":["od"]"#), "other"),
        (request("get", index, r#","operation":"read""#).replace("\"v\":1", "\"v\":2"), "other"),
        (format!("{{\"v\":1,\"pad\":\"{}\"}}", "x".repeat(70 * 1024)), "other"),
    ] {
        let answer = plugin.ask(&line);
        assert_eq!(answer["Err"]["kind"], kind, "{answer} for {}", &line[..line.len().min(120)]);
        assert!(answer.get("Ok").is_none());
    }
    let login = plugin.ask(&request("login", index, r#","args":["od"]"#));
    assert_eq!(login, serde_json::json!({"Ok": {"kind": "login"}}));
    assert_eq!(s.emu.count("od.login"), 2, "login logs in afresh");
    let logout = plugin.ask(&request("logout", index, ""));
    assert_eq!(logout, serde_json::json!({"Ok": {"kind": "logout"}}));
    assert!(!s.entry_path("od").exists());
    assert_eq!(plugin.ask(&request("logout", index, "")), serde_json::json!({"Err": {"kind": "not-found"}}));
    let run = plugin.finish(&s);
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(!run.stderr.contains("typed-by-the-user"));
}

/// `cargo logout` is tokenfob's logout: for a kind whose tokens can be revoked (GoodData's API tokens), the token is
/// deleted on the server, not only forgotten.
#[test]
fn cargo_logout_revokes_a_revocable_token() {
    let s = Sandbox::new();
    s.write_config(&s.seed_config().replacen(
        "[profiles.gd]\n",
        "[profiles.gd]\nmatch = [\"https://crates.example/\"]\n",
        1,
    ));
    let index = "sparse+https://crates.example/index/";
    let mut plugin = Plugin::spawn(&s);
    assert_eq!(plugin.line(), serde_json::json!({"v": [1]}));
    let got = plugin.ask(&request("get", index, r#","operation":"read","args":["gd"]"#));
    assert_eq!(got["Ok"]["cache"], "session", "a GoodData token never expires: {got}");
    assert_eq!(s.emu.count("gd.mint"), 1);
    let logout = plugin.ask(&request("logout", index, r#","args":["gd"]"#));
    assert_eq!(logout, serde_json::json!({"Ok": {"kind": "logout"}}));
    assert_eq!(s.emu.count("gd.delete"), 1, "revoked on the server");
    assert!(!s.entry_path("gd").exists());
    assert_eq!(plugin.finish(&s).code, 0);
}
