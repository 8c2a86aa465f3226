//! Real Terraform (1.0.3): `terraform init` of a `remote` backend on a loopback HTTPS host that demands a bearer
//! token, with tokenfob as the CLI configuration's credentials helper; and the helper protocol itself, spoken the
//! way terraform-svchost's `auth/helper_program.go` speaks it.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use tokenfob_emulator::util;

use crate::support::server::{Response, Server, Tls, tool};
use crate::support::{Run, Sandbox};

/// What a fake Terraform Enterprise saw: each request's path and its bearer token, if any.
type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// A JSON:API answer, as Terraform Enterprise gives.
fn api(status: u16, body: &str) -> Response {
    let mut response = Response::json(status, body);
    response.headers = vec![("Content-Type".into(), "application/vnd.api+json".into())];
    response
}

/// A fake Terraform Enterprise on a loopback HTTPS port: service discovery, then the calls `terraform init` makes
/// for a `remote` backend (ping, the organization's entitlements, the workspace, its current state version: none)
/// and the one `terraform login` makes, each answered only for a token the emulator issued and still honours.
fn tfe(s: &Sandbox, tls: &Tls) -> (Server, Seen) {
    let seen: Seen = Arc::default();
    let (log, state) = (Arc::clone(&seen), s.emu.shared());
    let server = Server::start_tls(tls.config.clone(), move |req| {
        let bearer = req.bearer().map(str::to_owned);
        log.lock().unwrap().push((req.path.clone(), bearer.clone()));
        let path = req.path.split('?').next().unwrap_or_default();
        if path == "/.well-known/terraform.json" {
            // Relative service URLs resolve against this document's own URL, host and port included.
            return Response::json(200, r#"{"tfe.v2":"/api/v2/","tfe.v2.1":"/api/v2/","state.v2":"/api/v2/"}"#);
        }
        if !bearer.is_some_and(|b| state.lock().unwrap().valid.contains(&b)) {
            return api(401, r#"{"errors":[{"status":"401","title":"unauthorized"}]}"#);
        }
        match path {
            "/api/v2/ping" => {
                let mut r = api(200, "{}");
                r.headers.push(("TFP-API-Version".into(), "2.5".into()));
                r
            }
            // `terraform login` checks a pasted token here before it stores it.
            "/api/v2/account/details" => {
                api(200, r#"{"data":{"id":"user-1","type":"users","attributes":{"username":"u"}}}"#)
            }
            "/api/v2/organizations/org/entitlement-set" => api(
                200,
                r#"{"data":{"id":"org-1","type":"entitlement-sets","attributes":{"operations":false,
                   "private-module-registry":false,"sentinel":false,"state-storage":true,"teams":false,
                   "vcs-integrations":false}}}"#,
            ),
            "/api/v2/organizations/org/workspaces/ws" => api(
                200,
                r#"{"data":{"id":"ws-1","type":"workspaces","attributes":{"name":"ws","execution-mode":"local",
                   "operations":false,"terraform-version":"1.0.3","locked":false,"permissions":{
                   "can-queue-run":true,"can-update":true,"can-lock":true,"can-read-state-versions":true,
                   "can-create-state-versions":true}}}}"#,
            ),
            _ => api(404, r#"{"errors":[{"status":"404","title":"not found"}]}"#),
        }
    })
    .unwrap();
    (server, seen)
}

/// tokenfob under `name` in the sandbox's `dir` (a symlink, as the docs install it).
fn link_as(s: &Sandbox, dir: &str, name: &str) -> PathBuf {
    let dir = s.dir.path().join(dir);
    std::fs::create_dir_all(&dir).unwrap();
    let link = dir.join(name);
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_tokenfob"), &link).unwrap();
    link
}

/// The seed profiles, with `od`'s `match` covering the host `localhost:PORT` of a fake Terraform Enterprise.
fn config_for(s: &Sandbox, port: u16) {
    let od = format!("[profiles.od]\nmatch = [\"https://localhost:{port}/\"]\n");
    s.write_config(&s.seed_config().replace("[profiles.od]\n", &od));
}

/// A Terraform project in the sandbox whose `remote` backend is on `localhost:PORT`, a CLI configuration with
/// `credentials_helper "tokenfob" {}`, and tokenfob as `terraform-credentials-tokenfob` in `~/.terraform.d/plugins`
/// (Terraform 1.0 looks for helpers there and in its `linux_amd64` folder; `-plugin-dir` is not consulted).
fn project(s: &Sandbox, name: &str, port: u16) -> PathBuf {
    let dir = s.dir.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let main = format!(
        "terraform {{\n  backend \"remote\" {{\n    hostname     = \"localhost:{port}\"\n    organization = \"org\"\n    \
         workspaces {{\n      name = \"ws\"\n    }}\n  }}\n}}\n"
    );
    std::fs::write(dir.join("main.tf"), main).unwrap();
    std::fs::write(s.dir.path().join("terraformrc"), "credentials_helper \"tokenfob\" {}\n").unwrap();
    if !s.dir.path().join(".terraform.d/plugins/terraform-credentials-tokenfob").exists() {
        link_as(s, ".terraform.d/plugins", "terraform-credentials-tokenfob");
    }
    dir
}

/// `terraform init` in `dir` with the sandbox's HOME and the test CA, from a clean `.terraform`.
fn init(s: &Sandbox, terraform: &Path, dir: &Path, ca: &Path) -> Run {
    let _ = std::fs::remove_dir_all(dir.join(".terraform"));
    let mut cmd = s.tool_command(terraform);
    cmd.args(["init", "-input=false", "-no-color"])
        .current_dir(dir)
        // Never the machine's own CLI configuration (TF_CLI_CONFIG_FILE=/root/.terraformrc).
        .env("TF_CLI_CONFIG_FILE", s.dir.path().join("terraformrc"))
        .env("SSL_CERT_FILE", ca)
        .env("CHECKPOINT_DISABLE", "1")
        .env("TF_IN_AUTOMATION", "1");
    s.check(cmd.output().unwrap())
}

fn ca_file(s: &Sandbox, tls: &Tls) -> PathBuf {
    let path = s.dir.path().join("ca.pem");
    std::fs::write(&path, &tls.ca_pem).unwrap();
    path
}

#[test]
fn terraform_init_gets_the_remote_backend_token_from_tokenfob() {
    let Some(terraform) = tool("terraform") else { return };
    let s = Sandbox::new();
    let tls = Tls::new();
    let (server, seen) = tfe(&s, &tls);
    config_for(&s, server.port());
    let dir = project(&s, "project", server.port());
    let ca = ca_file(&s, &tls);

    let first = init(&s, &terraform, &dir, &ca);
    assert_eq!(first.code, 0, "{first:#?}");
    assert!(first.stdout.contains("Successfully configured the backend \"remote\""), "{first:#?}");
    let token = s.entry("od")["token"].as_str().unwrap().to_owned();
    let paths: Vec<String> = seen.lock().unwrap().iter().map(|(p, _)| p.clone()).collect();
    assert!(paths.iter().any(|p| p == "/api/v2/organizations/org/workspaces/ws"), "{paths:?}");
    assert!(
        seen.lock().unwrap().iter().all(|(_, b)| b.as_deref() == Some(token.as_str())),
        "every request, discovery included, carried tokenfob's token"
    );
    assert_eq!(s.emu.count("od.login"), 1);

    let before = seen.lock().unwrap().len();
    assert_eq!(init(&s, &terraform, &dir, &ca).code, 0);
    assert!(seen.lock().unwrap()[before..].iter().all(|(_, b)| b.as_deref() == Some(token.as_str())));
    assert_eq!(s.emu.count("od.login"), 1, "the second init was served from tokenfob's cache");

    s.expire("od");
    assert_eq!(init(&s, &terraform, &dir, &ca).code, 0);
    assert_eq!(s.emu.count("od.login"), 2, "an expired token was renewed once");
    let renewed = s.entry("od")["token"].as_str().unwrap().to_owned();
    assert_ne!(renewed, token);
    assert_eq!(seen.lock().unwrap().last().unwrap().1.as_deref(), Some(renewed.as_str()));
}

#[test]
fn terraform_logout_makes_tokenfob_forget_the_hosts_token() {
    let Some(terraform) = tool("terraform") else { return };
    let s = Sandbox::new();
    let tls = Tls::new();
    let (server, _seen) = tfe(&s, &tls);
    config_for(&s, server.port());
    let dir = project(&s, "project", server.port());
    let ca = ca_file(&s, &tls);
    assert_eq!(init(&s, &terraform, &dir, &ca).code, 0);
    assert!(s.entry_path("od").exists());
    let mut logout = s.tool_command(&terraform);
    logout
        .args(["logout", "-no-color", &format!("localhost:{}", server.port())])
        .current_dir(&dir)
        .env("TF_CLI_CONFIG_FILE", s.dir.path().join("terraformrc"))
        .env("SSL_CERT_FILE", &ca)
        .env("CHECKPOINT_DISABLE", "1");
    let out = s.check(logout.output().unwrap());
    assert_eq!(out.code, 0, "{out:#?}");
    assert!(!s.entry_path("od").exists(), "`forget` erased the profile's cached token");
    assert_eq!(init(&s, &terraform, &dir, &ca).code, 0);
    assert_eq!(s.emu.count("od.login"), 2, "the next init logged in again");
}

#[test]
fn terraform_login_is_told_that_tokenfob_stores_no_token() {
    let Some(terraform) = tool("terraform") else { return };
    // `terraform login` reads from a terminal: util-linux's `script` gives it one.
    let Some(script) = tool("script") else { return };
    let s = Sandbox::new();
    let tls = Tls::new();
    let (server, _) = tfe(&s, &tls);
    config_for(&s, server.port());
    let dir = project(&s, "project", server.port());
    let ca = ca_file(&s, &tls);
    s.emu.state().valid.insert("pasted-by-the-user".into());
    let line = format!("{} login -no-color localhost:{}", terraform.display(), server.port());
    let mut cmd = s.tool_command(&script);
    cmd.args(["-qec", &line, "/dev/null"])
        .current_dir(&dir)
        .env("TF_CLI_CONFIG_FILE", s.dir.path().join("terraformrc"))
        .env("SSL_CERT_FILE", &ca)
        .env("CHECKPOINT_DISABLE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // The confirmation, then the token "copied from the browser"; stdin stays open until Terraform is done.
    std::io::Write::write_all(&mut stdin, b"yes\npasted-by-the-user\n").unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("terraform login still runs after 60 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    drop(stdin);
    let out = s.check(child.wait_with_output().unwrap());
    assert_ne!(out.code, 0, "{out:#?}");
    // Terraform's own report of a helper's `store` failure (internal/command/login.go), with tokenfob's reason.
    assert!(out.stdout.contains("Failed to save API token"), "{out:#?}");
    assert!(out.stdout.contains("nothing was stored") && out.stdout.contains("tokenfob login od"), "{out:#?}");
    assert!(!s.dir.path().join(".terraform.d/credentials.tfrc.json").exists(), "nor did Terraform keep it in clear");
    // Service discovery itself asked for the host's token (one `get`, one login); `store` changed nothing.
    assert_eq!(s.emu.count("od.login"), 1);
    assert_ne!(s.entry("od")["token"], "pasted-by-the-user", "tokenfob kept its own token, not the pasted one");
}

#[test]
fn a_host_no_profile_covers_gets_no_token_and_terraform_says_so() {
    let Some(terraform) = tool("terraform") else { return };
    let s = Sandbox::new();
    let tls = Tls::new();
    let (covered, _) = tfe(&s, &tls);
    let (elsewhere, seen) = tfe(&s, &tls);
    config_for(&s, covered.port());
    let dir = project(&s, "elsewhere", elsewhere.port());
    let ca = ca_file(&s, &tls);
    let out = init(&s, &terraform, &dir, &ca);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("Required token could not be found"), "Terraform's own \"no credentials\": {out:#?}");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "only service discovery: {seen:?}");
    assert_eq!(seen[0], ("/.well-known/terraform.json".to_owned(), None), "and without any token");
    assert_eq!(s.emu.count("od.login"), 0, "no profile logged in for a host it does not cover");
}

/// Runs `helper ARGS` with `input` on stdin, as Terraform does for `store` (a write that fails because the helper
/// stopped reading is ignored: what matters is how the helper ends).
fn helper(s: &Sandbox, program: &Path, args: &[&str], input: &[u8]) -> Run {
    let mut cmd = s.tool_command(program);
    cmd.args(args);
    s.feed(cmd, input)
}

#[test]
fn the_helper_protocol_get_store_forget_and_bad_input() {
    let s = Sandbox::new();
    let port = 8443;
    config_for(&s, port);
    let host = format!("localhost:{port}");
    let tf = link_as(&s, "plugins", "terraform-credentials-tokenfob");

    let got = helper(&s, &tf, &["get", &host], b"");
    let token = s.entry("od")["token"].as_str().unwrap().to_owned();
    assert_eq!(got.stdout, format!("{{\"token\":\"{token}\"}}\n"), "{got:#?}");
    assert_eq!(got.code, 0);
    let again = s.run(&["terraform-credentials", "get", &host]);
    assert_eq!(again.stdout, got.stdout, "the subcommand is the same face");
    assert_eq!(s.emu.count("od.login"), 1, "the second get was a cache hit");

    // No profile covers these: Terraform's "no credentials".
    for args in
        [&["get", "registry.terraform.io"][..], &["get", "localhost:8444"], &["--profile", "acme", "get", &host]]
    {
        assert_eq!(helper(&s, &tf, args, b"").ok(), "{}", "{args:?}");
    }
    assert_eq!(helper(&s, &tf, &["--profile", "od", "get", &host], b"").stdout, got.stdout);
    helper(&s, &tf, &["--profile", "ghost", "get", &host], b"").fails(2, "no profile named \"ghost\"");

    // `store` reads its stdin to the end and stores nothing; the cached token is untouched.
    s.secret("stored-by-terraform");
    let stored = helper(&s, &tf, &["store", &host], br#"{"token":"stored-by-terraform"}"#);
    stored.fails(1, "nothing was stored").fails(1, "tokenfob login od");
    helper(&s, &tf, &["store", "registry.example.com"], br#"{"token":"stored-by-terraform"}"#)
        .fails(1, "credentials \"registry.example.com\"");
    assert_eq!(s.entry("od")["token"], token.as_str());
    helper(&s, &tf, &["store", &host], b"stored-by-terraform").fails(2, "not a JSON credentials object");
    helper(&s, &tf, &["store", &host], &vec![b'{'; 1 << 20]).fails(2, "more than 65536 bytes");

    // Unknown verbs and hosts that are not hosts fail, with nothing on stdout.
    helper(&s, &tf, &["frob", &host], b"").fails(2, "frob");
    helper(&s, &tf, &[], b"").fails(2, "Usage");
    helper(&s, &tf, &["get", "user@localhost:8443"], b"").fails(2, "is not a host[:port]");
    helper(&s, &tf, &["get", "localhost:8443/path"], b"").fails(2, "is not a host[:port]");

    // `forget` erases the covering profile's token, prints nothing, and is a no-op for other hosts.
    let forgot = helper(&s, &tf, &["forget", "registry.terraform.io"], b"");
    assert_eq!((forgot.code, forgot.stdout.as_str()), (0, ""));
    assert!(s.entry_path("od").exists());
    let forgot = helper(&s, &tf, &["forget", &host], b"");
    assert_eq!((forgot.code, forgot.stdout.as_str()), (0, ""), "{forgot:#?}");
    assert!(!s.entry_path("od").exists());
    assert_ne!(helper(&s, &tf, &["get", &host], b"").ok(), got.ok(), "a new login after forget");
    assert_eq!(s.emu.count("od.login"), 2);
}

#[test]
fn min_valid_renews_a_token_that_would_not_last_the_run() {
    let s = Sandbox::new();
    config_for(&s, 8443);
    let tf = link_as(&s, "plugins", "terraform-credentials-tokenfob");
    let first = helper(&s, &tf, &["get", "localhost:8443"], b"").ok().to_owned();
    // A token of a day with an hour left: good enough by the profile's 60 s margin, not for a two-hour apply.
    let now = time::OffsetDateTime::now_utc();
    s.edit_entry("od", |e| {
        e["expires_at"] = util::rfc3339(now + time::Duration::hours(1)).into();
        e["obtained_at"] = util::rfc3339(now - time::Duration::hours(23)).into();
    });
    assert_eq!(helper(&s, &tf, &["get", "localhost:8443"], b"").ok(), first);
    assert_eq!(s.emu.count("od.login"), 1);
    let longer = helper(&s, &tf, &["--min-valid", "2h", "get", "localhost:8443"], b"");
    assert_ne!(longer.ok(), first);
    assert_eq!(s.emu.count("od.login"), 2, "renewed for the run");
    helper(&s, &tf, &["--min-valid", "soon", "get", "localhost:8443"], b"").fails(2, "soon");
}
