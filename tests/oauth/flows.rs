//! Each grant end to end against oidc-provider: client credentials (both client authentications), 64 parallel
//! gets, device code with the test as the user, authorization code + PKCE through a browser stand-in, refresh with
//! rotation, revocation on logout, invalid_grant, and kubectl with the ID token.

use std::process::Stdio;

use tokenfob_emulator::util;

use super::provider::{Provider, WithTerminal, act_as_user, http, oidc_dir};
use crate::support::Sandbox;
use crate::support::server::{Response, Server, Tls, tool};

const MACHINE_SECRET: &str = "machine-secret-7d1e";
const MACHINE_POST_SECRET: &str = "machine-post-secret-22c9";
const DEVICE_SECRET: &str = "device-secret-91b0";

fn sandbox(p: &Provider) -> Sandbox {
    let s = Sandbox::new();
    let iss = &p.issuer;
    s.write_config(&format!(
        r#"
[profiles.machine]
kind = "oauth2"
issuer = "{iss}"
grant = "client_credentials"
client_id = "machine"
client_secret = {{ env = "MACHINE_SECRET" }}
scopes = ["api:read"]

[profiles.machine-post]
kind = "oauth2"
token_url = "{iss}/token"
grant = "client_credentials"
client_id = "machine-post"
client_secret = {{ env = "MACHINE_POST_SECRET" }}
client_auth = "client_secret_post"
scopes = ["api:read"]

[profiles.dev]
kind = "oauth2"
issuer = "{iss}"
grant = "device_code"
client_id = "device"
client_secret = {{ env = "DEVICE_SECRET" }}
scopes = ["openid", "offline_access"]
interactive_timeout = "60s"

[profiles.cli]
kind = "oauth2"
issuer = "{iss}"
grant = "authorization_code"
client_id = "cli"
scopes = ["offline_access"]
serve = "id_token"
interactive_timeout = "60s"
"#
    ));
    for (var, value) in [
        ("MACHINE_SECRET", MACHINE_SECRET),
        ("MACHINE_POST_SECRET", MACHINE_POST_SECRET),
        ("DEVICE_SECRET", DEVICE_SECRET),
    ] {
        s.set_env(var, value);
        s.secret(value);
    }
    s
}

#[test]
fn client_credentials_with_discovery_and_both_client_authentications() {
    let Some(p) = Provider::start() else { return };
    let s = sandbox(&p);
    let token = s.get(&["machine"]);
    assert_eq!(p.tokens(), 1);
    assert_eq!(s.get(&["machine"]), token, "a cache hit");
    assert_eq!(p.tokens(), 1);
    assert_eq!(s.entry("machine")["vars"]["token_url"], format!("{}/token", p.issuer), "discovered endpoints are kept");
    s.get(&["machine-post"]);
    assert_eq!(p.tokens(), 2, "client_secret_post works too");
    s.set_env("MACHINE_SECRET", "not-the-client-secret");
    s.secret("not-the-client-secret");
    s.run(&["login", "machine"]).fails(3, "invalid_client");
}

#[test]
fn sixty_four_parallel_gets_make_one_token_request() {
    let Some(p) = Provider::start() else { return };
    let s = sandbox(&p);
    let children: Vec<_> = (0..64)
        .map(|_| s.command(&["get", "machine"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap())
        .collect();
    let tokens: Vec<String> =
        children.into_iter().map(|c| s.check(c.wait_with_output().unwrap()).ok().to_owned()).collect();
    assert!(tokens.iter().all(|t| t == &tokens[0]));
    s.secret(&tokens[0]);
    assert_eq!(p.tokens(), 1, "one token request for 64 processes");
}

#[test]
fn interactive_grants_need_a_terminal() {
    let Some(p) = Provider::start() else { return };
    let s = sandbox(&p);
    s.run(&["get", "dev"]).fails(5, "tokenfob login dev");
    s.run(&["get", "cli"]).fails(5, "tokenfob login cli");
    assert_eq!(p.tokens(), 0);
}

/// A refresh with `refresh_token` straight at the provider: the status it answers.
fn refresh_status(p: &Provider, refresh_token: &str) -> (u16, String) {
    let basic = util::base64_encode(format!("device:{DEVICE_SECRET}").as_bytes());
    let form = format!("grant_type=refresh_token&refresh_token={refresh_token}");
    http(&p.issuer, "POST", "/token", Some(&form), &[("Authorization", &format!("Basic {basic}"))])
}

#[test]
fn device_code_then_refresh_with_rotation_revocation_and_invalid_grant() {
    let Some(p) = Provider::start() else { return };
    let s = sandbox(&p);
    let term = WithTerminal::spawn(s.command(&["get", "dev"]));
    let url = term.url_after("confirm the code");
    assert!(url.contains("user_code="), "{}", term.screen());
    act_as_user(&url);
    let token = s.check(term.child.wait_with_output().unwrap()).ok().to_owned();
    s.secret(&token);
    assert_eq!(p.tokens(), 1);
    let first_refresh = s.entry("dev")["refresh_token"].as_str().unwrap().to_owned();
    s.expire("dev");
    assert_ne!(s.get(&["dev"]), token, "refreshed without a terminal");
    assert_eq!(p.tokens(), 2);
    let second_refresh = s.entry("dev")["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(first_refresh, second_refresh, "the rotated refresh token is kept");
    assert_eq!(refresh_status(&p, &first_refresh).0, 400, "the provider rotated the old one out");
    let saved = s.entry("dev");
    assert!(s.run(&["logout", "dev"]).ok().contains("revoked"));
    assert_eq!(p.counts()["revocations"], 1);
    let (status, body) = refresh_status(&p, &second_refresh);
    assert!(status == 400 && body.contains("invalid_grant"), "revoked on logout: {status} {body}");
    // A cached entry whose refresh token the provider refuses: the refresh token is dropped, and tokenfob falls
    // back to the interactive grant (which needs a terminal here).
    std::fs::write(s.entry_path("dev"), serde_json::to_vec(&saved).unwrap()).unwrap();
    s.expire("dev");
    s.run(&["get", "dev"]).fails(5, "tokenfob login dev");
    assert!(s.entry("dev").get("refresh_token").is_none(), "the dead refresh token is gone");
}

#[test]
fn authorization_code_with_pkce_serves_the_id_token_to_kubectl() {
    let Some(p) = Provider::start() else { return };
    let s = sandbox(&p);
    s.set_env("BROWSER", oidc_dir().join("browser.sh").to_str().unwrap());
    let term = WithTerminal::spawn(s.command(&["get", "cli"]));
    let run = s.check(term.child.wait_with_output().unwrap());
    let id_token = run.ok().to_owned();
    s.secret(&id_token);
    let exp = util::jwt_exp(&id_token).expect("an ID token is a JWT with exp");
    let cached = util::parse_rfc3339(s.entry("cli")["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!(cached.unix_timestamp(), exp, "an ID token expires at its exp");
    assert_eq!(p.tokens(), 1);
    assert!(s.entry("cli")["refresh_token"].is_string());

    // kubectl with the ID token, from the cache, without prompting.
    let Some(kubectl) = tool("kubectl") else { return };
    let tls = Tls::new();
    let expected = id_token.clone();
    let api = Server::start_tls(tls.config.clone(), move |req| match req.bearer() {
        Some(t) if t == expected => {
            Response::json(200, r#"{"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[]}"#)
        }
        _ => Response::json(
            401,
            r#"{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Unauthorized","code":401}"#,
        ),
    })
    .unwrap();
    let config = crate::integrations::kubectl::kubeconfig(&s, api.port(), &tls.ca_pem, "cli");
    let mut k = s.tool_command(&kubectl);
    k.args(["--kubeconfig", config.to_str().unwrap(), "get", "--raw", "/api"]);
    assert!(s.check(k.output().unwrap()).ok().contains("APIVersions"), "the fake API server accepts only the ID token");
    assert!(api.count() >= 1);
    assert_eq!(p.tokens(), 1, "kubectl was served from the cache");
}
