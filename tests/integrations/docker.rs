//! Real docker (the client alone: `docker manifest inspect` needs no daemon) and real skopeo, with tokenfob as their
//! docker-credential helper, against a loopback HTTPS registry that uses the token-endpoint flow: `/v2/` answers 401
//! with a Bearer challenge, the realm trades the helper's credentials for a registry token, and the manifest and
//! config blob are served only for that registry token. And the helper's protocol itself, under its file name.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use tokenfob_emulator::State;
use tokenfob_emulator::util::{base64_encode, random_hex};

use crate::support::server::{Request, Response, Server, Tls, tool};
use crate::support::{Run, Sandbox};

const NOT_FOUND: &str = "credentials not found in native keychain\n";

/// What the realm was asked: `basic <Authorization header>`, `refresh_token <token>` (an identity token's grant),
/// or `anonymous`; and whether it issued a registry token.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Grant {
    pub(super) asked: String,
    pub(super) issued: bool,
}

/// The registry and what its realm saw.
pub(super) struct Registry {
    pub(super) server: Server,
    pub(super) grants: Arc<Mutex<Vec<Grant>>>,
    manifest_digest: String,
}

fn sha256(bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    format!("sha256:{}", digest.as_ref().iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// A registry on 127.0.0.1 over HTTPS with `repo:tag`; its realm takes a tokenfob token the emulator issued, as
/// the Basic password of `username` or as the refresh token of an OAuth2 grant.
pub(super) fn registry(tls: &Tls, state: Arc<Mutex<State>>, username: &'static str) -> Registry {
    let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"config":{}}"#;
    let config_digest = sha256(config);
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","size":{},"digest":"{config_digest}"}},"layers":[]}}"#,
        config.len()
    );
    let manifest_digest = sha256(manifest.as_bytes());
    let grants: Arc<Mutex<Vec<Grant>>> = Arc::default();
    let issued: Arc<Mutex<HashSet<String>>> = Arc::default();
    let (seen, digest) = (Arc::clone(&grants), manifest_digest.clone());
    let port = Arc::new(Mutex::new(0u16));
    let realm_port = Arc::clone(&port);
    let server = Server::start_tls(tls.config.clone(), move |req| {
        let port = *realm_port.lock().unwrap();
        if req.path.starts_with("/token") {
            return realm(req, &state.lock().unwrap(), username, &seen, &issued);
        }
        if !req.bearer().is_some_and(|t| issued.lock().unwrap().contains(t)) {
            return challenge(port);
        }
        let typed = |status, kind: &str, body: &[u8], digest: &str| Response {
            status,
            headers: vec![("Content-Type".into(), kind.into()), ("Docker-Content-Digest".into(), digest.into())],
            body: body.to_vec(),
        };
        match req.path.as_str() {
            "/v2/" => Response::json(200, "{}"),
            "/v2/repo/manifests/tag" => {
                typed(200, "application/vnd.docker.distribution.manifest.v2+json", manifest.as_bytes(), &digest)
            }
            p if p == format!("/v2/repo/blobs/{config_digest}") => {
                typed(200, "application/octet-stream", config, &config_digest)
            }
            _ => Response::json(404, r#"{"errors":[{"code":"NAME_UNKNOWN","message":"no such repository"}]}"#),
        }
    })
    .unwrap();
    *port.lock().unwrap() = server.port();
    Registry { server, grants, manifest_digest }
}

/// The registry's 401: where to get a token.
fn challenge(port: u16) -> Response {
    let mut r = Response::json(401, r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#);
    r.headers.push((
        "WWW-Authenticate".into(),
        format!(r#"Bearer realm="https://127.0.0.1:{port}/token",service="tokenfob-test-registry""#),
    ));
    r.headers.push(("Docker-Distribution-API-Version".into(), "registry/2.0".into()));
    r
}

/// The token endpoint: Basic `username:<tokenfob token>` (a GET), or a `refresh_token` grant (a POST) whose
/// refresh token is a tokenfob token; anything else is refused.
fn realm(
    req: &Request,
    state: &State,
    username: &str,
    grants: &Mutex<Vec<Grant>>,
    issued: &Mutex<HashSet<String>>,
) -> Response {
    let (asked, ok) = if req.method == "POST" {
        let form = req.form();
        let token = form.get("refresh_token").cloned().unwrap_or_default();
        let ok = form.get("grant_type").is_some_and(|g| g == "refresh_token") && state.valid.contains(&token);
        (format!("refresh_token {token}"), ok && username == "<token>")
    } else if let Some(header) = req.headers.get("authorization") {
        let basic = |t: &String| format!("Basic {}", base64_encode(format!("{username}:{t}").as_bytes()));
        (format!("basic {header}"), state.valid.iter().any(|t| *header == basic(t)))
    } else {
        ("anonymous".to_owned(), false)
    };
    grants.lock().unwrap().push(Grant { asked, issued: ok });
    if !ok {
        return Response::json(401, r#"{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}"#);
    }
    let token = format!("registry-{}", random_hex(8));
    issued.lock().unwrap().insert(token.clone());
    Response::json(200, &format!(r#"{{"token":"{token}","access_token":"{token}","expires_in":300}}"#))
}

/// The sandbox's side of the tools: a docker config dir and a containers auth file that send `127.0.0.1:PORT` and
/// `localhost:PORT` to the helper `tokenfob`, a directory holding `docker-credential-tokenfob` (a link to the
/// binary under test), and the test CA.
pub(super) struct Tools {
    pub(super) docker_config: PathBuf,
    pub(super) auth_file: PathBuf,
    pub(super) bin: PathBuf,
    pub(super) ca: PathBuf,
}

fn tools(s: &Sandbox, port: u16, ca_pem: &str) -> Tools {
    let root = s.dir.path();
    let helpers = format!(r#"{{"credHelpers":{{"127.0.0.1:{port}":"tokenfob","localhost:{port}":"tokenfob"}}}}"#);
    let docker_config = root.join("docker");
    std::fs::create_dir_all(&docker_config).unwrap();
    std::fs::write(docker_config.join("config.json"), &helpers).unwrap();
    let auth_file = root.join("auth.json");
    std::fs::write(&auth_file, &helpers).unwrap();
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_tokenfob"), bin.join("docker-credential-tokenfob")).unwrap();
    let ca = root.join("ca.pem");
    std::fs::write(&ca, ca_pem).unwrap();
    Tools { docker_config, auth_file, bin, ca }
}

impl Tools {
    /// `program` in the sandbox's environment, with the helper's directory first on PATH, the test CA trusted (Go
    /// reads SSL_CERT_FILE), the docker config dir, and a daemon address where no daemon is.
    pub(super) fn command(&self, s: &Sandbox, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = s.tool_command(program);
        let path = cmd.get_envs().find(|(k, _)| *k == "PATH").and_then(|(_, v)| v).unwrap_or_default().to_owned();
        let path = std::env::join_paths(std::iter::once(self.bin.clone()).chain(std::env::split_paths(&path)));
        cmd.env("PATH", path.unwrap())
            .env("SSL_CERT_FILE", &self.ca)
            .env("DOCKER_CONFIG", &self.docker_config)
            .env("DOCKER_HOST", format!("unix://{}", s.dir.path().join("no-daemon.sock").display()));
        cmd
    }

    /// The helper under its file name, asked `action` with `input` on stdin.
    fn helper(&self, s: &Sandbox, action: &str, input: &str) -> Run {
        let mut cmd = self.command(s, self.bin.join("docker-credential-tokenfob"));
        cmd.arg(action);
        s.feed(cmd, input)
    }
}

/// `match` for the registry on the od profile (the emulator's ONE DATA), plus `extra` lines.
pub(super) fn od_matches_registry(s: &Sandbox, port: u16, extra: &str) {
    let od_url = format!("url = \"{}\"\n", s.emu.url());
    let lines = format!("{od_url}match = [\"https://127.0.0.1:{port}/\"]\n{extra}");
    s.write_config(&s.seed_config().replacen(&od_url, &lines, 1));
}

pub(super) fn manifest_inspect(s: &Sandbox, t: &Tools, docker: &Path, host: &str) -> Run {
    let mut cmd = t.command(s, docker);
    cmd.args(["manifest", "inspect", &format!("{host}/repo:tag")]);
    s.check(cmd.output().unwrap())
}

fn skopeo_inspect(s: &Sandbox, t: &Tools, skopeo: &Path, host: &str) -> Run {
    let mut cmd = t.command(s, skopeo);
    cmd.args(["inspect", "--no-tags", "--authfile"]).arg(&t.auth_file).arg(format!("docker://{host}/repo:tag"));
    s.check(cmd.output().unwrap())
}

pub(super) fn basic(username: &str, token: &str) -> String {
    format!("basic Basic {}", base64_encode(format!("{username}:{token}").as_bytes()))
}

pub(super) fn od_token(s: &Sandbox) -> String {
    s.entry("od")["token"].as_str().unwrap().to_owned()
}

#[test]
fn docker_and_skopeo_read_a_registry_with_tokenfob_tokens() {
    let (Some(docker), Some(skopeo)) = (tool("docker"), tool("skopeo")) else { return };
    let s = Sandbox::new();
    let tls = Tls::new();
    let reg = registry(&tls, s.emu.shared(), "oauth2");
    let port = reg.server.port();
    od_matches_registry(&s, port, "");
    let t = tools(&s, port, &tls.ca_pem);
    let host = format!("127.0.0.1:{port}");
    let last_grant = || reg.grants.lock().unwrap().last().cloned().unwrap();

    let first = manifest_inspect(&s, &t, &docker, &host);
    assert!(first.ok().contains("\"schemaVersion\": 2"), "{first:#?}");
    let token = od_token(&s);
    assert_eq!(last_grant(), Grant { asked: basic("oauth2", &token), issued: true }, "the realm saw tokenfob's token");
    assert_eq!(s.emu.count("od.login"), 1);
    manifest_inspect(&s, &t, &docker, &host).ok();
    assert_eq!(s.emu.count("od.login"), 1, "the second docker run was a cache hit");

    let out = skopeo_inspect(&s, &t, &skopeo, &host);
    assert!(out.ok().contains(&reg.manifest_digest), "{out:#?}");
    assert_eq!(last_grant(), Grant { asked: basic("oauth2", &token), issued: true });
    assert_eq!(s.emu.count("od.login"), 1, "skopeo got the same cached token");

    // Expired: the next get logs in again, and the realm sees the new token.
    s.expire("od");
    manifest_inspect(&s, &t, &docker, &host).ok();
    assert_eq!(s.emu.count("od.login"), 2);
    let renewed = od_token(&s);
    assert_ne!(renewed, token);
    assert_eq!(last_grant(), Grant { asked: basic("oauth2", &renewed), issued: true });

    // `docker logout` is the helper's erase: the token is forgotten, and the next run logs in.
    let mut logout = t.command(&s, &docker);
    logout.args(["logout", &host]);
    s.check(logout.output().unwrap()).ok();
    assert!(!s.entry_path("od").exists(), "docker logout erased the cached token");
    skopeo_inspect(&s, &t, &skopeo, &host).ok();
    assert_eq!(s.emu.count("od.login"), 3);
}

#[test]
fn an_unmatched_registry_is_not_found_and_the_tools_go_on_without_credentials() {
    let (Some(docker), Some(skopeo)) = (tool("docker"), tool("skopeo")) else { return };
    let s = Sandbox::new();
    let tls = Tls::new();
    let reg = registry(&tls, s.emu.shared(), "oauth2");
    let port = reg.server.port();
    od_matches_registry(&s, port, "");
    let t = tools(&s, port, &tls.ca_pem);
    // The same registry as `localhost:PORT`: sent to the helper by the tools' config, covered by no profile.
    let host = format!("localhost:{port}");
    let direct = t.helper(&s, "get", &host);
    assert_eq!((direct.code, direct.stdout.as_str()), (1, NOT_FOUND), "{direct:#?}");
    assert!(direct.stderr.contains(&format!("no profile's `match` covers https://localhost:{port}/")), "{direct:#?}");

    let out = manifest_inspect(&s, &t, &docker, &host);
    assert_ne!(out.code, 0, "{out:#?}");
    assert!(out.stderr.contains("no profile's `match` covers"), "the helper's hint reached the user: {out:#?}");
    let out = skopeo_inspect(&s, &t, &skopeo, &host);
    assert_ne!(out.code, 0, "{out:#?}");
    let grants = reg.grants.lock().unwrap().clone();
    assert!(!grants.is_empty() && grants.iter().all(|g| g.asked == "anonymous" && !g.issued), "{grants:#?}");
    assert_eq!(s.emu.count("od.login"), 0, "no profile logged in for a registry it does not cover");
}

#[test]
fn identity_token_mode_trades_the_token_at_the_realm() {
    let (Some(docker), Some(skopeo)) = (tool("docker"), tool("skopeo")) else { return };
    let s = Sandbox::new();
    let tls = Tls::new();
    let reg = registry(&tls, s.emu.shared(), "<token>");
    let port = reg.server.port();
    od_matches_registry(&s, port, "registry_username = \"<token>\"\n");
    let t = tools(&s, port, &tls.ca_pem);
    let host = format!("127.0.0.1:{port}");
    let get = t.helper(&s, "get", &host);
    let token = od_token(&s);
    assert_eq!(get.ok(), format!(r#"{{"ServerURL":"{host}","Username":"<token>","Secret":"{token}"}}"#));

    manifest_inspect(&s, &t, &docker, &host).ok();
    skopeo_inspect(&s, &t, &skopeo, &host).ok();
    let grants = reg.grants.lock().unwrap().clone();
    let expected = Grant { asked: format!("refresh_token {token}"), issued: true };
    assert_eq!(grants, vec![expected.clone(), expected], "docker and skopeo each traded the identity token");
    assert_eq!(s.emu.count("od.login"), 1);
}

#[test]
fn docker_login_fails_at_store_with_the_reason() {
    let Some(docker) = tool("docker") else { return };
    let s = Sandbox::new();
    let tls = Tls::new();
    let reg = registry(&tls, s.emu.shared(), "oauth2");
    let port = reg.server.port();
    od_matches_registry(&s, port, "");
    let t = tools(&s, port, &tls.ca_pem);
    let token = s.get(&["od"]);
    // The login itself succeeds (the realm takes the token); docker then asks the helper to store it.
    let mut login = t.command(&s, &docker);
    login.args(["login", &format!("127.0.0.1:{port}"), "-u", "oauth2", "--password-stdin"]);
    let out = s.feed(login, format!("{token}\n"));
    assert_eq!(out.code, 1, "{out:#?}");
    assert!(out.stderr.contains("Error saving credentials"), "{out:#?}");
    assert!(out.stderr.contains("keeps no credentials"), "{out:#?}");
    let last = reg.grants.lock().unwrap().last().cloned().unwrap();
    assert_eq!(last, Grant { asked: basic("oauth2", &token), issued: true }, "docker logged in with the token");
    let config = std::fs::read_to_string(t.docker_config.join("config.json")).unwrap();
    assert!(!config.contains(&token), "nothing was written in the docker config");
}

#[test]
fn the_helper_speaks_the_protocol_and_refuses_what_it_cannot_answer() {
    let s = Sandbox::new();
    let tls = Tls::new();
    let port = crate::support::closed_port();
    od_matches_registry(&s, port, "");
    let t = tools(&s, port, &tls.ca_pem);
    let host = format!("127.0.0.1:{port}");
    assert_eq!(t.helper(&s, "list", "unused").ok(), "{}", "nothing cached: nothing listed");
    let get = t.helper(&s, "get", &format!("https://{host}"));
    let token = od_token(&s);
    assert_eq!(get.ok(), format!(r#"{{"ServerURL":"https://{host}","Username":"oauth2","Secret":"{token}"}}"#));
    assert_eq!(t.helper(&s, "list", "").ok(), format!(r#"{{"https://{host}/":"oauth2"}}"#));
    // The same under tokenfob's own name, from the cache.
    let again = s.feed(s.command(&["docker-credential", "get"]), &host);
    assert!(again.ok().contains(&token));
    assert_eq!(s.emu.count("od.login"), 1);
    s.expire("od");
    assert_eq!(t.helper(&s, "list", "").ok(), "{}", "a stale token is not listed (getting it would log in)");

    // Not covered: plain http to the same host, another port, another scheme.
    for other in [format!("http://{host}/"), "127.0.0.1:1".to_owned(), format!("ftp://{host}/")] {
        let out = t.helper(&s, "get", &other);
        assert_eq!((out.code, out.stdout.as_str()), (1, NOT_FOUND), "{other}: {out:#?}");
    }
    s.secret("pw-not-kept");
    let store = t.helper(&s, "store", r#"{"ServerURL":"x","Username":"u","Secret":"pw-not-kept"}"#);
    assert_eq!(store.code, 1, "{store:#?}");
    assert!(store.stdout.contains("keeps no credentials") && store.stderr.contains("keeps no credentials"));
    let missing = t.helper(&s, "get", "  \n");
    assert_eq!((missing.code, missing.stdout.as_str()), (2, "no credentials server URL\n"), "{missing:#?}");
    for bad in ["a b", "127.0.0.1:5000\nother", "user@127.0.0.1", "https://u:p@127.0.0.1/"] {
        let out = t.helper(&s, "get", bad);
        assert_eq!(out.code, 2, "{bad:?}: {out:#?}");
        assert!(out.stderr.contains("bad request: docker-credential"), "{out:#?}");
    }
    assert!(t.helper(&s, "version", "").ok().starts_with("docker-credential-tokenfob (tokenfob) "));
    let unknown = t.helper(&s, "delete", &host);
    assert_eq!(unknown.code, 2, "{unknown:#?}");
    assert!(unknown.stdout.is_empty());

    // erase: the covered registry's token is forgotten; twice is fine (docker's logout erases twice).
    t.helper(&s, "erase", &host).ok();
    assert!(!s.entry_path("od").exists());
    t.helper(&s, "erase", &host).ok();
    let out = t.helper(&s, "erase", "elsewhere.example");
    assert_eq!((out.code, out.stdout.as_str()), (1, NOT_FOUND));
}

#[test]
fn oversized_or_binary_input_is_refused_without_waiting() {
    let s = Sandbox::new();
    let port = crate::support::closed_port();
    od_matches_registry(&s, port, "");
    // A megabyte on stdin: the helper reads 4 KiB and one byte, refuses, and exits while the writer still writes.
    let out = s.feed(s.command(&["docker-credential", "get"]), vec![b'a'; 1 << 20]);
    assert_eq!(out.code, 2, "{out:#?}");
    assert!(out.stderr.contains("more than 4096 bytes"), "{out:#?}");
    let out = s.feed(s.command(&["docker-credential", "erase"]), b"127.0.0.1:\xff");
    assert_eq!(out.code, 2, "{out:#?}");
    assert!(out.stderr.contains("not UTF-8"), "{out:#?}");
}
