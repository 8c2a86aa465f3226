//! Failures: each has its exit code and message, and a cached entry survives it.

use tokenfob_emulator::Fault;

use crate::support::server::{Response, Server, Tls, tunnel_proxy};
use crate::support::{Sandbox, closed_port};

fn html_500() -> Fault {
    Fault {
        status: 500,
        content_type: "text/html".into(),
        body: "<html><body>Internal Error</body></html>".into(),
        times: 100,
    }
}

#[test]
fn a_wrong_password_exits_3() {
    let s = Sandbox::new();
    s.set_env("OD_PASSWORD", "not-the-password");
    s.secret("not-the-password");
    s.run(&["get", "od"]).fails(3, "Invalid username or password");
}

#[test]
fn a_500_with_html_exits_4_and_leaves_the_entry_untouched() {
    let s = Sandbox::new();
    s.get(&["od"]);
    s.expire("od");
    let before = std::fs::read(s.entry_path("od")).unwrap();
    s.emu.state().fault = Some(html_500());
    s.run(&["get", "od"]).fails(4, "HTTP 500 with an HTML page");
    assert_eq!(std::fs::read(s.entry_path("od")).unwrap(), before);
}

#[test]
fn a_failed_renewal_serves_a_token_that_is_still_valid() {
    let s = Sandbox::new();
    let token = s.get(&["acme"]);
    s.expire_soon("acme");
    s.emu.state().fault = Some(html_500());
    let run = s.run(&["get", "acme"]);
    assert_eq!(run.ok(), token);
    assert!(run.stderr.contains("serving the cached token"), "{run:#?}");
}

#[test]
fn an_unreachable_server_exits_4() {
    let s = Sandbox::new();
    s.write_config(&s.seed_config().replace(&s.emu.url(), &format!("http://127.0.0.1:{}", closed_port())));
    s.run(&["get", "od"]).fails(4, "cannot reach").fails(4, "/api/v1/users/login");
}

#[test]
fn plain_http_to_another_host_is_refused_before_any_traffic() {
    let s = Sandbox::new();
    s.write_config(&s.seed_config().replace(&s.emu.url(), "http://od.example.invalid"));
    s.run(&["get", "od"]).fails(2, "over plain http").fails(2, "allow_http");
}

#[test]
fn malformed_config_names_file_line_and_column() {
    let s = Sandbox::new();
    s.write_config("[profiles.x]\nkind = \"ldap\"\n");
    s.run(&["get"]).fails(2, "config.toml:2:8: unknown variant `ldap`");
    s.write_config("[profiles.x]\nkind = \"onedata\"\nurl = \"https://x\"\nusername = \"u\"\npassword = \"p\"\nrefresh_margin = \"later\"\n");
    s.run(&["get"]).fails(2, "bad duration \"later\"");
    s.write_config("[profiles.x\nkind=1");
    s.run(&["get"]).fails(2, "config.toml:1:");
    std::fs::remove_file(s.config_path()).unwrap();
    s.run(&["get"]).fails(2, "reading configuration");
}

#[test]
fn unusable_answers_are_server_errors() {
    let s = Sandbox::new();
    for (body, needle) in [
        (r#"{"success":true}"#, "without a token at JSON pointer /token"),
        ("{\"success\":tr", "the body is not JSON"),
        (r#"{"success":true,"token":"a\r\nX-Evil: 1"}"#, "control characters"),
    ] {
        s.emu.state().fault =
            Some(Fault { status: 200, content_type: "application/json".into(), body: body.into(), times: 1 });
        s.run(&["get", "acme"]).fails(4, needle);
    }
    assert!(!s.entry_path("acme").exists());
}

#[test]
fn a_failing_command_is_a_clear_error() {
    let s = Sandbox::new();
    s.write_config("[profiles.c]\nkind = \"command\"\ncommand = \"echo nope >&2; exit 7\"\n");
    s.run(&["get", "c"]).fails(1, "failed with exit status: 7");
}

/// An https server with a CA of its own that answers every request with `{"token": token}`, and the CA's PEM file
/// in the sandbox.
fn https_token_server(s: &Sandbox, token: &'static str) -> (Server, std::path::PathBuf) {
    let tls = Tls::new();
    let server =
        Server::start_tls(tls.config.clone(), move |_| Response::json(200, &format!(r#"{{"token":"{token}"}}"#)))
            .unwrap();
    s.secret(token);
    let ca = s.dir.path().join("ca.pem");
    std::fs::write(&ca, &tls.ca_pem).unwrap();
    (server, ca)
}

/// An `http` profile `t` that logs in at `https://127.0.0.1:<port>/login`, with `extra` lines (such as `ca_file`).
fn https_profile(port: u16, extra: &str) -> String {
    format!(
        "[profiles.t]\nkind = \"http\"\n{extra}\n[profiles.t.login]\nurl = \"https://127.0.0.1:{port}/login\"\n\
         [profiles.t.reply]\ntoken_pointer = \"/token\"\n"
    )
}

#[test]
fn https_logins_verify_the_server_and_trust_ca_file() {
    let s = Sandbox::new();
    let (server, ca) = https_token_server(&s, "tls-token-0451");
    s.write_config(&https_profile(server.port(), ""));
    s.run(&["get", "t"]).fails(4, "cannot reach").fails(4, "certificate");
    assert_eq!(server.count(), 0, "no request went to an unverified server");
    s.write_config(&https_profile(server.port(), &format!("ca_file = \"{}\"", ca.display())));
    assert_eq!(s.get(&["t"]), "tls-token-0451");
    assert_eq!(server.count(), 1);
}

#[test]
fn proxy_variables_are_honoured_except_for_loopback() {
    let s = Sandbox::new();
    // A forward proxy sees a request in absolute form and answers for the server behind it.
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = std::sync::Arc::clone(&seen);
    let proxy = Server::start(move |req| {
        log.lock().unwrap().push(req.path.clone());
        let mut r = Response::json(200, "{}");
        r.headers.push(("Authorization".into(), "Bearer via-proxy-3c1".into()));
        r
    })
    .unwrap();
    s.set_env("HTTP_PROXY", &proxy.url());
    // Issue #10: a loopback target never goes through a proxy (the proxy would see the password in clear).
    s.get(&["od"]);
    assert_eq!((s.emu.count("od.login"), proxy.count()), (1, 0));
    // A plain-http request that carries no secret goes through the proxy.
    s.write_config(
        "[profiles.n]\nkind = \"http\"\nallow_http = true\n[profiles.n.login]\nurl = \"http://login.tokenfob.test/login\"\n\
         [profiles.n.reply]\ntoken_header = [\"Authorization\"]\n",
    );
    assert_eq!(s.get(&["n"]), "via-proxy-3c1");
    assert_eq!(seen.lock().unwrap().as_slice(), ["http://login.tokenfob.test/login"]);
    // NO_PROXY exempts the server: the request goes straight to it (and the name does not resolve).
    s.set_env("NO_PROXY", "tokenfob.test");
    s.run(&["erase", "n"]).ok();
    s.run(&["get", "n"]).fails(4, "cannot reach");
    assert_eq!(proxy.count(), 1);
}

#[test]
fn https_goes_through_the_proxy_as_a_connect_tunnel() {
    let s = Sandbox::new();
    let (server, ca) = https_token_server(&s, "tunnel-token-6d2");
    // A forward proxy that only tunnels: it sees the target's name and nothing of the login.
    let (proxy, targets) = tunnel_proxy();
    // A name that is not loopback (loopback targets never use a proxy); the proxy knows it as 127.0.0.1.
    let profile = https_profile(server.port(), &format!("ca_file = \"{}\"", ca.display()));
    s.write_config(&profile.replace("https://127.0.0.1", "https://proxied.tokenfob.test"));
    s.set_env("HTTPS_PROXY", &format!("http://127.0.0.1:{}", proxy.port()));
    assert_eq!(s.get(&["t"]), "tunnel-token-6d2");
    assert_eq!(
        targets.lock().unwrap().as_slice(),
        [format!("CONNECT proxied.tokenfob.test:{} HTTP/1.1", server.port())]
    );
    assert_eq!(server.count(), 1, "the login reached the server through the tunnel");
}
