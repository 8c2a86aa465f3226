//! OAuth 2.0 paths the certified provider does not exercise, against small stub servers: RFC 8414 discovery,
//! audience/resource/extra parameters, device-flow `slow_down` and `access_denied`, and a forged `state`.

use std::sync::{Arc, Mutex};

use super::provider::WithTerminal;
use crate::support::Sandbox;
use crate::support::server::{Response, stub};

#[test]
fn rfc8414_discovery_and_extra_token_parameters() {
    // The discovery document names the server's own port, known only once it listens.
    let port = Arc::new(Mutex::new(0u16));
    let own = Arc::clone(&port);
    let (server, log) = stub(move |req, _| match req.path.as_str() {
        "/.well-known/oauth-authorization-server/tenant" => {
            let token_endpoint = format!("http://127.0.0.1:{}/tenant/token", own.lock().unwrap());
            Response::json(200, &serde_json::json!({ "issuer": "x", "token_endpoint": token_endpoint }).to_string())
        }
        "/tenant/token" => {
            Response::json(200, r#"{"access_token":"stub-token-5b1","token_type":"Bearer","expires_in":600}"#)
        }
        _ => Response::json(404, r#"{"error":"not_found"}"#),
    });
    *port.lock().unwrap() = server.port();
    let s = Sandbox::new();
    s.write_config(&format!(
        "[profiles.m]\nkind = \"oauth2\"\nissuer = \"http://127.0.0.1:{}/tenant\"\ngrant = \"client_credentials\"\n\
         client_id = \"m\"\nclient_secret = {{ env = \"M_SECRET\" }}\nclient_auth = \"client_secret_post\"\n\
         audience = \"https://api.example.com\"\nresource = \"https://api.example.com/v2\"\nparams = {{ tenant = \"acme\" }}\n",
        server.port()
    ));
    s.set_env("M_SECRET", "stub-secret-771");
    s.secret("stub-secret-771");
    assert_eq!(s.get(&["m"]), "stub-token-5b1");
    let log = log.lock().unwrap().clone();
    let paths: Vec<&str> = log.iter().map(|l| l.split(' ').nth(1).unwrap()).collect();
    assert_eq!(
        paths,
        ["/tenant/.well-known/openid-configuration", "/.well-known/oauth-authorization-server/tenant", "/tenant/token"],
        "OpenID discovery first, then RFC 8414's well-known location, then the token endpoint it names"
    );
    let token_request = log.last().unwrap();
    for part in [
        "grant_type=client_credentials",
        "audience=https%3A%2F%2Fapi.example.com",
        "resource=https%3A%2F%2Fapi.example.com%2Fv2",
        "tenant=acme",
        "client_id=m",
        "client_secret=stub-secret-771",
    ] {
        assert!(token_request.contains(part), "{part} missing from the token request");
    }
}

#[test]
fn device_flow_slows_down_and_stops_on_access_denied() {
    let (server, _) = stub(|req, _| match req.path.as_str() {
        "/device" => Response::json(
            200,
            r#"{"device_code":"dc-1","user_code":"ABCD-EFGH","verification_uri":"http://127.0.0.1/verify","interval":1,"expires_in":60}"#,
        ),
        _ if req.path == "/token" => {
            let polls = String::from_utf8_lossy(&req.body).contains("device_code=dc-1");
            assert!(polls);
            Response::json(400, r#"{"error":"slow_down"}"#)
        }
        _ => Response::json(404, "{}"),
    });
    let s = Sandbox::new();
    let base = server.url();
    s.write_config(&format!(
        "[profiles.d]\nkind = \"oauth2\"\ntoken_url = \"{base}/token\"\ndevice_authorization_url = \"{base}/device\"\n\
         grant = \"device_code\"\nclient_id = \"d\"\ninteractive_timeout = \"10s\"\n"
    ));
    let term = WithTerminal::spawn(s.command(&["get", "d"]));
    term.url_after("ABCD-EFGH");
    let run = s.check(term.child.wait_with_output().unwrap());
    // Polls at 1 s (slow_down: the interval becomes 6 s) and at 7 s (slow_down: 11 s), then the 10 s timeout: two
    // polls. Without slow_down the 1 s interval would have polled about nine times.
    assert_eq!(run.code, 5, "{run:#?}");
    assert!(run.stderr.contains("nobody confirmed the code"), "{run:#?}");
    let polls = server.count() - 1;
    assert_eq!(polls, 2, "slow_down added 5 s to the interval");

    let (denier, _) = stub(|req, n| match req.path.as_str() {
        "/device" => Response::json(
            200,
            r#"{"device_code":"dc-2","user_code":"WXYZ-1234","verification_uri":"http://127.0.0.1/v","interval":1}"#,
        ),
        _ if n <= 2 => Response::json(400, r#"{"error":"authorization_pending"}"#),
        _ => Response::json(400, r#"{"error":"access_denied","error_description":"the user said no"}"#),
    });
    let base = denier.url();
    s.write_config(&format!(
        "[profiles.d]\nkind = \"oauth2\"\ntoken_url = \"{base}/token\"\ndevice_authorization_url = \"{base}/device\"\n\
         grant = \"device_code\"\nclient_id = \"d\"\n"
    ));
    let term = WithTerminal::spawn(s.command(&["get", "d"]));
    let run = s.check(term.child.wait_with_output().unwrap());
    assert_eq!(run.code, 3, "{run:#?}");
    assert!(run.stderr.contains("access_denied: the user said no"), "{run:#?}");
    assert_eq!(denier.count(), 3, "one authorization request, one pending poll, one denial");
}

#[test]
fn a_forged_state_is_refused() {
    let (server, _) = stub(|_, _| Response::json(200, r#"{"access_token":"never"}"#));
    let s = Sandbox::new();
    let base = server.url();
    s.write_config(&format!(
        "[profiles.b]\nkind = \"oauth2\"\ntoken_url = \"{base}/token\"\nauthorization_url = \"{base}/auth\"\n\
         grant = \"authorization_code\"\nclient_id = \"b\"\ninteractive_timeout = \"3s\"\n"
    ));
    // A "browser" that goes straight to the redirect with a state of its own.
    let browser = s.dir.path().join("forge.sh");
    std::fs::write(
        &browser,
        "#!/bin/sh\nredirect=$(python3 -c 'import sys, urllib.parse as u; print(u.parse_qs(u.urlparse(sys.argv[1]).query)[\"redirect_uri\"][0])' \"$1\")\n\
         curl -s \"$redirect?code=stolen&state=forged\" >/dev/null &\n",
    )
    .unwrap();
    std::fs::set_permissions(&browser, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    s.set_env("BROWSER", browser.to_str().unwrap());
    let term = WithTerminal::spawn(s.command(&["get", "b"]));
    let run = s.check(term.child.wait_with_output().unwrap());
    // Issue #10: a redirect with the wrong state is answered 400 and ignored; the login waits for the real one.
    assert_eq!(run.code, 5, "{run:#?}");
    assert!(run.stderr.contains("no browser came back"), "{run:#?}");
    assert_eq!(server.count(), 0, "the forged code was never exchanged");
}

#[test]
fn password_grant_logs_in_refreshes_and_reports_a_wrong_password() {
    // RFC 6749 4.3, which oidc-provider does not implement: a stub token endpoint that knows one user.
    let (server, log) = stub(|req, n| {
        let form = req.form();
        let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
        match (req.path.as_str(), field("grant_type")) {
            ("/token", "password") if field("username") == "ada" && field("password") == "pw-grant-3e9" => {
                Response::json(
                    200,
                    &format!(
                        r#"{{"access_token":"pw-access-{n}","token_type":"Bearer","expires_in":600,"refresh_token":"pw-refresh-8a0"}}"#
                    ),
                )
            }
            ("/token", "password") => {
                Response::json(400, r#"{"error":"invalid_grant","error_description":"bad user credentials"}"#)
            }
            ("/token", "refresh_token") if field("refresh_token") == "pw-refresh-8a0" => Response::json(
                200,
                &format!(r#"{{"access_token":"pw-access-{n}","token_type":"Bearer","expires_in":600}}"#),
            ),
            _ => Response::json(400, r#"{"error":"invalid_request"}"#),
        }
    });
    let s = Sandbox::new();
    s.write_config(&format!(
        "[profiles.p]\nkind = \"oauth2\"\ntoken_url = \"http://127.0.0.1:{}/token\"\ngrant = \"password\"\n\
         client_id = \"cli\"\nusername = \"ada\"\npassword = {{ env = \"PW\" }}\nscopes = [\"openid\", \"profile\"]\n",
        server.port()
    ));
    for secret in ["pw-grant-3e9", "pw-refresh-8a0", "wrong-pw-55c"] {
        s.secret(secret);
    }
    s.set_env("PW", "pw-grant-3e9");
    assert_eq!(s.get(&["p"]), "pw-access-1");
    assert_eq!(s.get(&["p"]), "pw-access-1", "a hit");
    let login = log.lock().unwrap()[0].clone();
    for part in
        ["grant_type=password", "username=ada", "password=pw-grant-3e9", "scope=openid+profile", "client_id=cli"]
    {
        assert!(login.contains(part), "{part} missing from {login}");
    }
    s.expire("p");
    assert_eq!(s.get(&["p"]), "pw-access-2", "renewed with the refresh token");
    assert!(log.lock().unwrap()[1].contains("grant_type=refresh_token"));
    s.set_env("PW", "wrong-pw-55c");
    s.run(&["login", "p"]).fails(3, "bad user credentials");
    assert_eq!(log.lock().unwrap().len(), 3);
}
