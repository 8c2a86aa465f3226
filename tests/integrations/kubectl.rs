//! Real kubectl against an HTTPS fake API server that checks the bearer token.

use std::sync::Arc;

use serde_json::Value;
use tokenfob_emulator::util;

use crate::support::Sandbox;
use crate::support::server::{Response, Server, Tls, tool};

/// A kubeconfig for a fake API server on `port` whose user runs `tokenfob kubectl PROFILE` (the sandbox's binary:
/// the Linux one, or the Windows one under Wine).
pub fn kubeconfig(s: &Sandbox, port: u16, ca_pem: &str, profile: &str) -> std::path::PathBuf {
    let ca = tokenfob_base64(ca_pem.as_bytes());
    let (program, mut args) = s.launcher();
    args.extend(["kubectl".to_owned(), profile.to_owned()]);
    let text = format!(
        r#"apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster:
    server: https://127.0.0.1:{port}
    certificate-authority-data: {ca}
users:
- name: tokenfob-od
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: {program}
      args: {args}
      interactiveMode: IfAvailable
      provideClusterInfo: false
contexts:
- name: fake
  context:
    cluster: fake
    user: tokenfob-od
current-context: fake
"#,
        program = serde_json::to_string(&program).unwrap(),
        args = serde_json::to_string(&args).unwrap(),
    );
    let path = s.dir.path().join("kubeconfig");
    std::fs::write(&path, text).unwrap();
    path
}

/// Standard base64 (kubeconfig's `-data` fields), from the URL-safe encoder.
fn tokenfob_base64(bytes: &[u8]) -> String {
    let url = util::base64url_encode(bytes).replace('-', "+").replace('_', "/");
    let pad = (4 - url.len() % 4) % 4;
    url + &"=".repeat(pad)
}

#[test]
fn kubectl_gets_its_token_from_the_cache_and_recovers_after_a_401() {
    let Some(kubectl) = tool("kubectl") else { return };
    cache_hit_401_and_erase(&Sandbox::new(), &kubectl);
}

/// kubectl against an API server that accepts the emulator's valid tokens: a login, a cache hit, a 401 after the
/// token is revoked, and one new login after `erase --token` (shared with the Windows test).
pub fn cache_hit_401_and_erase(s: &Sandbox, kubectl: &std::path::Path) {
    let tls = Tls::new();
    let seen = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let (state, log) = (s.emu.shared(), Arc::clone(&seen));
    let api = Server::start_tls(tls.config.clone(), move |req| {
            let bearer = req.bearer().unwrap_or_default().to_owned();
            log.lock().unwrap().push(bearer.clone());
            if state.lock().unwrap().valid.contains(&bearer) {
                Response::json(200, r#"{"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[]}"#)
            } else {
                Response::json(
                    401,
                    r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}"#,
                )
            }
        }).unwrap();
    let config = kubeconfig(s, api.port(), &tls.ca_pem, "od");
    let run = || {
        let mut k = s.tool_command(kubectl);
        k.args(["--kubeconfig", config.to_str().unwrap(), "get", "--raw", "/api"]);
        s.check(k.output().unwrap())
    };
    let first = run();
    assert!(first.ok().contains("APIVersions"), "{first:#?}");
    let token = s.entry("od")["token"].as_str().unwrap().to_owned();
    assert_eq!(seen.lock().unwrap().last().unwrap(), &token, "the server saw tokenfob's token");
    assert_eq!(s.emu.count("od.login"), 1);
    run().ok();
    assert_eq!(s.emu.count("od.login"), 1, "the second kubectl call was a cache hit");
    s.emu.state().valid.remove(&token);
    let refused = run();
    assert_ne!(refused.code, 0, "{refused:#?}");
    s.run(&["erase", "od", "--token", &token]).ok();
    run().ok();
    assert_eq!(s.emu.count("od.login"), 2, "after erase --token, one new login");
    assert_ne!(seen.lock().unwrap().last().unwrap(), &token);
}

#[test]
fn exec_credential_follows_the_requested_version_and_reports_expiry_minus_margin() {
    let s = Sandbox::new();
    s.set_env(
        "KUBERNETES_EXEC_INFO",
        r#"{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","spec":{"interactive":false}}"#,
    );
    let out: Value = serde_json::from_str(s.run(&["kubectl", "acme"]).ok()).unwrap();
    assert_eq!(out["apiVersion"], "client.authentication.k8s.io/v1beta1");
    assert_eq!(out["kind"], "ExecCredential");
    let token = out["status"]["token"].as_str().unwrap();
    s.secret(token);
    assert_eq!(s.entry("acme")["token"], token);
    let expires = util::parse_rfc3339(s.entry("acme")["expires_at"].as_str().unwrap()).unwrap();
    let reported = util::parse_rfc3339(out["status"]["expirationTimestamp"].as_str().unwrap()).unwrap();
    assert_eq!(expires - reported, time::Duration::seconds(60));
    let gd: Value = serde_json::from_str(s.run(&["kubectl", "gd"]).ok()).unwrap();
    s.secret(gd["status"]["token"].as_str().unwrap());
    assert!(gd["status"].get("expirationTimestamp").is_none(), "non-expiring tokens have no timestamp");
}

#[test]
fn exec_credential_defaults_to_v1_and_never_prompts_without_interactive() {
    let s = Sandbox::new();
    let out: Value = serde_json::from_str(s.run(&["kubectl", "od"]).ok()).unwrap();
    assert_eq!(out["apiVersion"], "client.authentication.k8s.io/v1");
    s.secret(out["status"]["token"].as_str().unwrap());
    s.write_config(
        &s.seed_config().replace("password = { env = \"OD_PASSWORD\" }", "password = { prompt = \"Password\" }"),
    );
    s.run(&["erase", "od"]).ok();
    s.set_env(
        "KUBERNETES_EXEC_INFO",
        r#"{"apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}"#,
    );
    s.run(&["kubectl", "od"]).fails(5, "tokenfob login od");
}
