//! The network: proxies, bodies that trickle, redaction of echoed secrets, the OAuth redirect and refresh, random bytes.

use std::io::{BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokenfob_emulator::util;

use crate::oauth::provider::WithTerminal;
use crate::support::server::{Listener, Log, Response, Server, Tls, read_request, stub, tunnel_proxy};
use crate::support::{Run, Sandbox};

/// Runs `cmd` and kills it after `limit`, so that a hang fails the test instead of hanging it.
fn run_bounded(s: &Sandbox, mut cmd: Command, limit: Duration) -> (Run, Duration) {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = cmd.spawn().unwrap();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("still running after {limit:?}: {}", String::from_utf8_lossy(&out.stderr));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let elapsed = started.elapsed();
    (s.check(child.wait_with_output().unwrap()), elapsed)
}

/// A forward proxy that answers every request itself with a token, and records each request line.
fn answering_proxy() -> (Server, Log) {
    stub(|_, _| {
        let mut r = Response::json(200, r#"{"access_token":"via-proxy-77a","token":"via-proxy-77a"}"#);
        r.headers.push(("Authorization".into(), "Bearer via-proxy-77a".into()));
        r
    })
}

// ---- Item 2: proxies ----

#[test]
fn a_loopback_login_never_goes_through_a_proxy() {
    let (proxy, seen) = answering_proxy();
    let proxy_url = proxy.url();
    for var in ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"] {
        let s = Sandbox::new();
        s.set_env(var, &proxy_url);
        let token = s.get(&["od"]);
        assert_ne!(token, "via-proxy-77a", "{var}: the login went through the proxy");
        assert_eq!(s.emu.count("od.login"), 1, "{var}: the login reached the server directly");
    }
    assert_eq!(proxy.count(), 0, "the proxy saw {:?}", seen.lock().unwrap());
}

/// A profile that logs in over plain http (allowed) at a name that only the proxy knows.
fn plain_remote_profile() -> String {
    "[profiles.m]\nkind = \"oauth2\"\ntoken_url = \"http://login.tokenfob.test/token\"\nallow_http = true\n\
     grant = \"client_credentials\"\nclient_id = \"m\"\nclient_secret = { env = \"M_SECRET\" }\n"
        .into()
}

#[test]
fn a_secret_never_crosses_a_plain_http_proxy_in_clear() {
    let (proxy, seen) = answering_proxy();
    let proxy_url = proxy.url();
    for var in ["HTTP_PROXY", "http_proxy", "ALL_PROXY"] {
        let s = Sandbox::new();
        s.write_config(&plain_remote_profile());
        s.set_env("M_SECRET", "client-secret-proxy-2b8");
        s.secret("client-secret-proxy-2b8");
        s.set_env(var, &proxy_url);
        s.run(&["get", "m"]).fails(2, var).fails(2, "NO_PROXY");
        // NO_PROXY exempts the host: the request goes direct (and the name does not resolve), never via the proxy.
        s.set_env("NO_PROXY", ".tokenfob.test");
        s.run(&["get", "m"]).fails(4, "cannot reach");
    }
    assert_eq!(proxy.count(), 0, "the proxy saw {:?}", seen.lock().unwrap());
}

#[test]
fn https_through_a_proxy_is_a_connect_tunnel_and_loopback_https_goes_direct() {
    let s = Sandbox::new();
    let tls = Tls::new();
    let server = Server::start_tls(tls.config.clone(), |_| {
        Response::json(200, r#"{"access_token":"tunnel-token-41c","expires_in":600}"#)
    })
    .unwrap();
    let ca = s.dir.path().join("ca.pem");
    std::fs::write(&ca, &tls.ca_pem).unwrap();
    // A tunnelling proxy that knows proxied.tokenfob.test as 127.0.0.1.
    let (proxy, lines) = tunnel_proxy();
    let profile = |host: &str| {
        format!(
            "[profiles.m]\nkind = \"oauth2\"\ntoken_url = \"https://{host}:{}/token\"\nca_file = \"{}\"\n\
             grant = \"client_credentials\"\nclient_id = \"m\"\nclient_secret = {{ env = \"M_SECRET\" }}\n",
            server.port(),
            ca.display()
        )
    };
    s.set_env("M_SECRET", "client-secret-tunnel-5d0");
    s.secret("client-secret-tunnel-5d0");
    s.set_env("https_proxy", &format!("http://127.0.0.1:{}", proxy.port()));
    s.write_config(&profile("proxied.tokenfob.test"));
    assert_eq!(s.get(&["m"]), "tunnel-token-41c");
    assert_eq!(
        lines.lock().unwrap().as_slice(),
        [format!("CONNECT proxied.tokenfob.test:{} HTTP/1.1", server.port())],
        "an http:// proxy for an https target is a CONNECT tunnel"
    );
    s.write_config(&profile("127.0.0.1"));
    s.run(&["erase", "m"]).ok();
    assert_eq!(s.get(&["m"]), "tunnel-token-41c");
    assert_eq!(lines.lock().unwrap().len(), 1, "a loopback https target goes direct");
    assert_eq!(server.count(), 2);
}

// ---- Item 5: a body that trickles ----

/// A server that answers with a head and then one byte of body every 200 ms.
fn trickling_server() -> Listener {
    Listener::start(|mut stream| {
        let _ = read_request(&mut BufReader::new(&stream));
        let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n";
        if stream.write_all(head.as_bytes()).is_err() {
            return;
        }
        for _ in 0..600 {
            if stream.write_all(b" ").is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    })
    .unwrap()
}

#[test]
fn the_timeout_bounds_a_body_that_trickles() {
    let server = trickling_server();
    let port = server.port();
    let s = Sandbox::new();
    s.write_config(&format!(
        "[profiles.m]\nkind = \"oauth2\"\ntoken_url = \"http://127.0.0.1:{port}/token\"\ntimeout = \"2s\"\n\
         grant = \"client_credentials\"\nclient_id = \"m\"\nclient_secret = {{ env = \"M_SECRET\" }}\n"
    ));
    s.set_env("M_SECRET", "client-secret-trickle-1f3");
    s.secret("client-secret-trickle-1f3");
    let (run, elapsed) = run_bounded(&s, s.command(&["get", "m"]), Duration::from_secs(20));
    assert_eq!(run.code, 4, "{run:#?}");
    assert!(run.stderr.contains("timed out"), "{run:#?}");
    assert!(elapsed < Duration::from_secs(6), "the 2 s timeout took {elapsed:?}");
    // The same through a lookup (OpenID discovery).
    s.write_config(&format!(
        "[profiles.m]\nkind = \"oauth2\"\nissuer = \"http://127.0.0.1:{port}\"\ntimeout = \"2s\"\n\
         grant = \"client_credentials\"\nclient_id = \"m\"\nclient_secret = {{ env = \"M_SECRET\" }}\n"
    ));
    let (run, elapsed) = run_bounded(&s, s.command(&["get", "m"]), Duration::from_secs(20));
    assert_eq!(run.code, 4, "{run:#?}");
    assert!(elapsed < Duration::from_secs(6), "the 2 s timeout took {elapsed:?}");
}

// ---- Item 12: redaction of echoed secrets ----

/// Every form in which a server could echo `secret`, and its first eight characters.
fn echoed_forms(secret: &str) -> Vec<String> {
    let pct = |set| percent_encoding::utf8_percent_encode(secret, set).to_string();
    let upper = pct(percent_encoding::NON_ALPHANUMERIC);
    let json = serde_json::to_string(secret).unwrap();
    let json = json.trim_matches('"');
    let ascii_json: String = json
        .chars()
        .map(|c| if c.is_ascii() { c.to_string() } else { format!("\\u{:04x}", c as u32) })
        .collect::<String>()
        .replace('/', "\\/");
    vec![
        secret.into(),
        secret[..8].into(),
        upper.clone(),
        upper.to_lowercase(),
        form_urlencoded::byte_serialize(secret.as_bytes()).collect(),
        json.into(),
        ascii_json,
        util::base64_encode(secret.as_bytes()),
    ]
}

/// A status, a message and headers for the stub to answer with.
type Echo = (u16, String, Vec<(String, String)>);

#[test]
fn a_secret_echoed_by_the_server_is_redacted_in_every_form() {
    let password = format!("{}/ñ+x y\"q", util::random_hex(8));
    let forms = echoed_forms(&password);
    let echo = Arc::new(Mutex::new((400u16, String::new(), Vec::<(String, String)>::new())));
    let answer = Arc::clone(&echo);
    let (server, _) = stub(move |_, _| {
        let (status, text, headers) = answer.lock().unwrap().clone();
        let mut r = Response::json(
            status,
            &serde_json::json!({"error": "invalid_request", "error_description": text}).to_string(),
        );
        r.headers.extend(headers);
        r
    });
    let s = Sandbox::new();
    s.write_config(&format!(
        "[profiles.p]\nkind = \"oauth2\"\ntoken_url = \"http://127.0.0.1:{}/token\"\ngrant = \"password\"\n\
         client_id = \"cli\"\nusername = \"ada\"\npassword = {{ env = \"PW\" }}\n",
        server.port()
    ));
    s.set_env("PW", &password);
    s.secret(&password);
    let mut cases: Vec<Echo> =
        forms.iter().filter(|f| f.len() > 8).map(|f| (400, format!("you sent {f} which is wrong"), vec![])).collect();
    // Cut at 200 characters in the middle of the secret.
    cases.push((400, format!("{}{password} and more", "x".repeat(190)), vec![]));
    cases.push((400, format!("{}{}", "y".repeat(195), forms[2]), vec![]));
    cases.push((302, String::new(), vec![("Location".into(), format!("/again?password={}", forms[2]))]));
    cases.push((429, String::new(), vec![("Retry-After".into(), forms[4].clone())]));
    for (status, text, headers) in cases {
        *echo.lock().unwrap() = (status, text.clone(), headers.clone());
        let run = s.run(&["get", "p"]);
        assert_ne!(run.code, 0, "{run:#?}");
        for form in &forms {
            assert!(
                !run.stderr.contains(form.as_str()),
                "{form:?} reached stderr ({status} {text:?} {headers:?}): {run:#?}"
            );
        }
    }
}

#[test]
fn a_short_secret_echoed_by_the_server_hides_the_message() {
    let (server, _) = stub(|req, _| {
        let pw = req.form().get("password").cloned().unwrap_or_default();
        Response::json(
            400,
            &serde_json::json!({"error": "invalid_request", "error_description": format!("bad password {pw}!")})
                .to_string(),
        )
    });
    let s = Sandbox::new();
    s.write_config(&format!(
        "[profiles.p]\nkind = \"oauth2\"\ntoken_url = \"http://127.0.0.1:{}/token\"\ngrant = \"password\"\n\
         client_id = \"cli\"\nusername = \"ada\"\npassword = {{ env = \"PW\" }}\n",
        server.port()
    ));
    s.set_env("PW", "q7z");
    let run = s.run(&["get", "p"]);
    assert_eq!(run.code, 4, "{run:#?}");
    assert!(!run.stderr.contains("q7z"), "{run:#?}");
    assert!(run.stderr.contains("hidden"), "{run:#?}");
}

// ---- Item 4: the OAuth loopback redirect ----

#[test]
fn a_redirect_without_the_right_state_is_refused_and_the_login_goes_on() {
    let (server, log) = stub(|req, _| match req.form().get("code").map(String::as_str) {
        Some("good-code-1") => Response::json(200, r#"{"access_token":"browser-token-8e1","expires_in":600}"#),
        _ => Response::json(400, r#"{"error":"invalid_grant"}"#),
    });
    let s = Sandbox::new();
    let base = server.url();
    s.write_config(&format!(
        "[profiles.b]\nkind = \"oauth2\"\ntoken_url = \"{base}/token\"\nauthorization_url = \"{base}/auth\"\n\
         grant = \"authorization_code\"\nclient_id = \"b\"\ninteractive_timeout = \"30s\"\n"
    ));
    // A "browser" that is first beaten by a local process sending forged redirects (no state, a wrong state, an
    // idle connection), and then comes back with the right state.
    let statuses = s.dir.path().join("statuses");
    let script = s.dir.path().join("browser.py");
    std::fs::write(
        &script,
        r#"import socket, sys, time, urllib.parse as u, urllib.request as r, urllib.error as e
q = u.parse_qs(u.urlparse(sys.argv[1]).query)
redirect, state = q["redirect_uri"][0], q["state"][0]
p = u.urlparse(redirect)
idle = socket.create_connection((p.hostname, p.port))
out = []
def visit(query):
    try:
        out.append(str(r.urlopen(redirect + "?" + query, timeout=10).status))
    except e.HTTPError as err:
        out.append(str(err.code))
visit("error=access_denied&error_description=forged-text-9f3")
visit("error=access_denied&state=wrong&error_description=forged-text-9f3")
visit("code=forged-code&state=wrong")
visit("state=" + u.quote(state))
visit("code=good-code-1&state=" + u.quote(state))
open(sys.argv[2], "w").write(" ".join(out))
"#,
    )
    .unwrap();
    let browser = s.dir.path().join("browser.sh");
    std::fs::write(
        &browser,
        format!("#!/bin/sh\npython3 {} \"$1\" {} >/dev/null 2>&1 &\n", script.display(), statuses.display()),
    )
    .unwrap();
    std::fs::set_permissions(&browser, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    s.set_env("BROWSER", browser.to_str().unwrap());
    let mut term = WithTerminal::spawn(s.command(&["get", "b"]));
    let (mut out, mut err) = (term.child.stdout.take().unwrap(), term.child.stderr.take().unwrap());
    let reader = std::thread::spawn(move || {
        let mut text = Vec::new();
        err.read_to_end(&mut text).unwrap();
        text
    });
    let mut stdout = Vec::new();
    out.read_to_end(&mut stdout).unwrap();
    let status = term.child.wait().unwrap();
    let run = s.check(std::process::Output { status, stdout, stderr: reader.join().unwrap() });
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.stdout.trim(), "browser-token-8e1");
    assert!(!run.stderr.contains("forged-text-9f3"), "{run:#?}");
    assert!(!term.screen().contains("forged-text-9f3"), "{}", term.screen());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !statuses.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(std::fs::read_to_string(&statuses).unwrap(), "400 400 400 400 200");
    let log = log.lock().unwrap();
    assert_eq!(log.len(), 1, "only the right code was exchanged: {log:?}");
    assert!(log[0].contains("code=good-code-1"), "{log:?}");
}

// ---- Item 20: a refused refresh ----

/// A token endpoint for client_credentials with refresh tokens; `refresh` answers refresh requests.
fn refreshing_stub(refresh: impl Fn(usize) -> Response + Send + Sync + 'static) -> (Server, Log) {
    stub(move |req, n| match req.form().get("grant_type").map(String::as_str) {
        Some("client_credentials") => Response::json(
            200,
            &format!(r#"{{"access_token":"cc-{n}","id_token":"idt-{n}","expires_in":600,"refresh_token":"rt-{n}"}}"#),
        ),
        Some("refresh_token") => refresh(n),
        _ => Response::json(400, r#"{"error":"invalid_request"}"#),
    })
}

fn refresh_profile(port: u16, extra: &str) -> String {
    format!(
        "[profiles.r]\nkind = \"oauth2\"\ntoken_url = \"http://127.0.0.1:{port}/token\"\n\
         grant = \"client_credentials\"\nclient_id = \"r\"\nclient_secret = {{ env = \"R_SECRET\" }}\n{extra}"
    )
}

fn refresh_sandbox(port: u16, extra: &str) -> Sandbox {
    let s = Sandbox::new();
    s.write_config(&refresh_profile(port, extra));
    s.set_env("R_SECRET", "client-secret-refresh-0c4");
    s.secret("client-secret-refresh-0c4");
    s
}

#[test]
fn a_refresh_refused_in_any_form_falls_back_to_the_grant() {
    let bare: [(u16, &str); 4] = [(400, ""), (400, "{}"), (400, "<html>Bad Request</html>"), (404, "")];
    for (status, body) in bare {
        let (server, log) =
            refreshing_stub(move |_| Response { status, headers: vec![], body: body.as_bytes().to_vec() });
        let s = refresh_sandbox(server.port(), "");
        assert_eq!(s.get(&["r"]), "cc-1");
        s.expire("r");
        let run = s.run(&["get", "r"]);
        assert_eq!(run.ok(), "cc-3", "{status} {body:?}: a new login after the refused refresh");
        assert!(!run.stderr.contains("try again later"), "{run:#?}");
        assert_eq!(s.entry("r")["refresh_token"], "rt-3", "the refused refresh token was dropped");
        assert!(log.lock().unwrap()[1].contains("grant_type=refresh_token"));
    }
}

#[test]
fn a_refresh_that_is_throttled_or_fails_keeps_the_refresh_token() {
    for status in [429u16, 500, 503] {
        let (server, _) = refreshing_stub(move |_| Response::json(status, r#"{"error":"temporarily_unavailable"}"#));
        let s = refresh_sandbox(server.port(), "");
        assert_eq!(s.get(&["r"]), "cc-1");
        s.expire("r");
        let run = s.run(&["get", "r"]);
        assert_eq!(run.code, 4, "{status}: {run:#?}");
        assert_eq!(server.count(), 2, "{status}: no login after a refresh that may work later");
        assert_eq!(s.entry("r")["refresh_token"], "rt-1", "{status}: the refresh token is kept");
    }
    // A 200 that is not JSON (a gateway's maintenance page), or that has the token but an expiry that cannot be
    // right, says nothing about the refresh token (both found by review).
    for body in ["<html><body>Maintenance</body></html>", r#"{"access_token":"acc-2","expires_in":null}"#] {
        kept_after_a_bad_refresh(body);
    }
}

fn kept_after_a_bad_refresh(body: &'static str) {
    let (server, _) = refreshing_stub(move |_| Response::json(200, body));
    let s = refresh_sandbox(server.port(), "");
    assert_eq!(s.get(&["r"]), "cc-1");
    s.expire("r");
    assert_eq!(s.run(&["get", "r"]).code, 4);
    assert_eq!(server.count(), 2, "no login after {body}");
    assert_eq!(s.entry("r")["refresh_token"], "rt-1", "the refresh token is kept after {body}");
}

#[test]
fn a_refresh_without_an_id_token_falls_back_to_the_grant_for_serve_id_token() {
    let (server, _) =
        refreshing_stub(|n| Response::json(200, &format!(r#"{{"access_token":"cc-{n}","expires_in":600}}"#)));
    let s = refresh_sandbox(server.port(), "serve = \"id_token\"\nlifetime = \"10m\"\n");
    assert_eq!(s.get(&["r"]), "idt-1");
    s.expire("r");
    let run = s.run(&["get", "r"]);
    assert_eq!(run.ok(), "idt-3", "the refresh gave no ID token, so the grant ran again");
    assert!(!run.stderr.contains("try again later"), "{run:#?}");
}

// ---- Audit: the device-code polling loop reads numbers and text from the server ----

#[test]
fn a_device_answer_with_a_huge_interval_or_escape_codes_is_survived() {
    let (server, _) = stub(|req, _| match req.path.as_str() {
        "/device" => Response::json(
            200,
            r#"{"device_code":"dc-9","user_code":"AB\u001b]0;pwned\u0007CD","verification_uri":"http://127.0.0.1/v\u001b[2J",
                "interval":18446744073709551615,"expires_in":18446744073709551615}"#,
        ),
        _ => Response::json(400, r#"{"error":"authorization_pending"}"#),
    });
    let s = Sandbox::new();
    let base = server.url();
    s.write_config(&format!(
        "[profiles.d]\nkind = \"oauth2\"\ntoken_url = \"{base}/token\"\ndevice_authorization_url = \"{base}/device\"\n\
         grant = \"device_code\"\nclient_id = \"d\"\ninteractive_timeout = \"3s\"\n"
    ));
    let mut term = WithTerminal::spawn(s.command(&["get", "d"]));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = term.child.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "still polling: {}", term.screen());
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(5), "{status:?}: {}", term.screen());
    let screen = term.screen();
    assert!(screen.contains("AB"), "{screen}");
    assert!(!screen.contains('\u{1b}') && !screen.contains('\u{7}'), "escape codes reached the terminal: {screen:?}");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut term.child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!stderr.contains('\u{1b}') && !stderr.contains('\u{7}'), "escape codes reached stderr: {stderr:?}");
    assert!(stderr.contains("nobody confirmed the code"), "the timeout is named: {stderr}");
}
