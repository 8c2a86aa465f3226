//! Real Go: `go mod download` through an HTTPS module proxy on loopback that demands the bearer token, with
//! `GOAUTH="tokenfob goauth"`; and the GOAUTH exchange itself, call by call.

use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use crate::support::server::{Response, Server, Tls, tool};
use crate::support::{Run, Sandbox, files_containing};

pub(super) const MODULE: &str = "tokenfob.test/hello";
const GO_MOD: &str = "module tokenfob.test/hello\n\ngo 1.21\n";
const HELLO_GO: &str = "package hello\n\n// Hello greets.\nfunc Hello() string { return \"hello through tokenfob\" }\n";

/// CRC-32 (IEEE), as zip records it.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A zip archive of `files`, stored without compression (Go's module zips may be stored).
fn zip(files: &[(String, &[u8])]) -> Vec<u8> {
    let (mut out, mut central) = (Vec::new(), Vec::new());
    let u16le = |v: usize| u16::try_from(v).unwrap().to_le_bytes();
    let u32le = |v: usize| u32::try_from(v).unwrap().to_le_bytes();
    for (name, data) in files {
        let offset = out.len();
        // version 10, no flags, stored, time 0, date 1980-01-01
        let common = [&10u16.to_le_bytes()[..], &[0, 0, 0, 0, 0, 0], &33u16.to_le_bytes()].concat();
        let sizes = [crc32(data).to_le_bytes(), u32le(data.len()), u32le(data.len())].concat();
        out.extend([&0x0403_4b50u32.to_le_bytes()[..], &common, &sizes, &u16le(name.len()), &[0, 0]].concat());
        out.extend(name.as_bytes());
        out.extend(*data);
        central.extend([&0x0201_4b50u32.to_le_bytes()[..], &20u16.to_le_bytes(), &common, &sizes].concat());
        central.extend([&u16le(name.len())[..], &[0; 12], &u32le(offset)].concat());
        central.extend(name.as_bytes());
    }
    let (at, size, n) = (out.len(), central.len(), files.len());
    out.extend(central);
    out.extend(
        [&0x0605_4b50u32.to_le_bytes()[..], &[0; 4], &u16le(n), &u16le(n), &u32le(size), &u32le(at), &[0, 0]].concat(),
    );
    out
}

/// What the proxy saw: the path, the bearer token sent (if any), and the status it answered.
pub(super) type Seen = Arc<Mutex<Vec<(String, Option<String>, u16)>>>;

/// A GOPROXY for one module version, over HTTPS, that answers only requests with a token the emulator issued.
pub(super) fn proxy(s: &Sandbox, tls: &Tls) -> (Server, Seen) {
    let seen: Seen = Arc::default();
    let (state, log) = (s.emu.shared(), Arc::clone(&seen));
    let zipped = zip(&[
        (format!("{MODULE}@v1.0.0/go.mod"), GO_MOD.as_bytes()),
        (format!("{MODULE}@v1.0.0/hello.go"), HELLO_GO.as_bytes()),
    ]);
    let server = Server::start_tls(tls.config.clone(), move |req| {
        let token = req.bearer().map(str::to_owned);
        let valid = token.as_ref().is_some_and(|t| state.lock().unwrap().valid.contains(t));
        let info = r#"{"Version":"v1.0.0","Time":"2024-01-01T00:00:00Z"}"#;
        let response = match req.path.strip_prefix(&format!("/{MODULE}/")) {
            _ if !valid => {
                let mut r = Response::json(401, r#"{"error":"a bearer token is required"}"#);
                r.headers.push(("WWW-Authenticate".into(), "Bearer realm=\"goproxy\"".into()));
                r
            }
            Some("@v/list") => Response::json(200, "v1.0.0\n"),
            Some("@v/v1.0.0.info" | "@latest") => Response::json(200, info),
            Some("@v/v1.0.0.mod") => Response::json(200, GO_MOD),
            Some("@v/v1.0.0.zip") => Response {
                status: 200,
                headers: vec![("Content-Type".into(), "application/zip".into())],
                body: zipped.clone(),
            },
            _ => Response::json(404, "not found"),
        };
        log.lock().unwrap().push((req.path.clone(), token, response.status));
        response
    })
    .unwrap();
    (server, seen)
}

/// `go mod download -x` of the module into a module cache of its own (so every run fetches), in a sandbox module.
fn download(s: &Sandbox, go: &Path, port: u16, run: &str) -> Run {
    let root = s.dir.path().join("go");
    let work = root.join("work");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(work.join("go.mod"), "module sandbox.test/app\n\ngo 1.21\n").unwrap();
    let ca = root.join("ca.pem");
    let mut cmd = s.tool_command(go);
    cmd.args(["mod", "download", "-x", &format!("{MODULE}@v1.0.0")])
        .current_dir(&work)
        .env("GOAUTH", "tokenfob goauth")
        .env("GOPROXY", format!("https://127.0.0.1:{port}"))
        .env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "-mod=mod -modcacherw")
        .env("GOSUMDB", "off")
        .env("GONOSUMDB", "tokenfob.test")
        .env("GOENV", "off")
        .env("GOPATH", root.join("path"))
        .env("GOCACHE", root.join("cache"))
        .env("GOMODCACHE", root.join(format!("modcache-{run}")))
        .env("SSL_CERT_FILE", &ca);
    s.check(cmd.output().unwrap())
}

pub(super) fn go_sandbox() -> Option<(std::path::PathBuf, Sandbox, Tls)> {
    let go = tool("go")?;
    let s = Sandbox::new();
    let tls = Tls::new();
    std::fs::create_dir_all(s.dir.path().join("go")).unwrap();
    std::fs::write(s.dir.path().join("go/ca.pem"), &tls.ca_pem).unwrap();
    Some((go, s, tls))
}

/// The seed configuration with `od` matching `prefix`.
pub(super) fn match_od(s: &Sandbox, prefix: &str) {
    let od_url = format!("url = \"{}\"\n", s.emu.url());
    s.write_config(&s.seed_config().replacen(&od_url, &format!("{od_url}match = [\"{prefix}\"]\n"), 1));
}

/// The requests of one run: how many were refused, and the tokens the accepted ones carried.
pub(super) fn refused_and_tokens(seen: &Seen, from: usize) -> (usize, Vec<String>) {
    let seen = seen.lock().unwrap();
    let refused = seen[from..].iter().filter(|(_, _, status)| *status == 401).count();
    let tokens =
        seen[from..].iter().filter(|(_, _, status)| *status == 200).filter_map(|(_, t, _)| t.clone()).collect();
    (refused, tokens)
}

#[test]
fn go_downloads_a_module_through_a_proxy_that_demands_the_token() {
    let Some((go, s, tls)) = go_sandbox() else { return };
    let (server, seen) = proxy(&s, &tls);
    let prefix = format!("https://127.0.0.1:{}/", server.port());
    match_od(&s, &prefix);

    // Go's first call, before anything is cached: no answer, and no login.
    assert_eq!(s.run(&["goauth"]).ok(), "");
    assert_eq!(s.emu.count("od.login"), 0, "the first GOAUTH call never logs in");

    download(&s, &go, server.port(), "1").ok();
    let fetched = s.dir.path().join(format!("go/modcache-1/{MODULE}@v1.0.0/hello.go"));
    assert_eq!(std::fs::read_to_string(fetched).unwrap(), HELLO_GO);
    assert_eq!(s.emu.count("od.login"), 1);
    let token = s.entry("od")["token"].as_str().unwrap().to_owned();
    let (refused, tokens) = refused_and_tokens(&seen, 0);
    assert_eq!(refused, 1, "only the first request went without the token: {:?}", seen.lock().unwrap());
    assert!(tokens.len() >= 2 && tokens.iter().all(|t| *t == token), "{:?}", seen.lock().unwrap());

    // Now the first call answers, so the second run sends the token from its first request on: no 401 at all.
    assert_eq!(s.run(&["goauth"]).ok(), format!("{prefix}\n\nAuthorization: Bearer {token}\n"));
    let before = seen.lock().unwrap().len();
    download(&s, &go, server.port(), "2").ok();
    assert_eq!(s.emu.count("od.login"), 1, "the second go run was served from the cache");
    let (refused, tokens) = refused_and_tokens(&seen, before);
    assert_eq!(refused, 0, "{:?}", seen.lock().unwrap());
    assert!(tokens.len() >= 2 && tokens.iter().all(|t| *t == token));

    // Expired: the first call has nothing again, the 401 makes tokenfob log in, Go retries with the new token.
    s.expire("od");
    assert_eq!(s.run(&["goauth"]).ok(), "");
    let before = seen.lock().unwrap().len();
    download(&s, &go, server.port(), "3").ok();
    assert_eq!(s.emu.count("od.login"), 2, "one renewal after expiry");
    let renewed = s.entry("od")["token"].as_str().unwrap().to_owned();
    assert_ne!(renewed, token);
    let (refused, tokens) = refused_and_tokens(&seen, before);
    assert!(refused == 1 && tokens.len() >= 2 && tokens.iter().all(|t| *t == renewed), "{:?}", seen.lock().unwrap());

    // Neither the token nor the password was written anywhere Go keeps files.
    for secret in [&token, &renewed, &s.od_password] {
        assert_eq!(files_containing(&s.dir.path().join("go"), secret), Vec::<std::path::PathBuf>::new());
    }
}

#[test]
fn goauth_answers_each_call_as_go_expects() {
    let s = Sandbox::new();
    match_od(&s, "https://proxy.tokenfob.test/go/");
    let refused = "HTTP/1.1 401 Unauthorized\nContent-Type: application/json\nWww-Authenticate: Bearer realm=\"x\"\n\n";
    let goauth = |args: &[&str], input: &str| {
        let mut all = vec!["goauth"];
        all.extend_from_slice(args);
        s.feed(s.command(&all), input)
    };

    // A URL no profile covers, or an http one (Go authenticates https only): nothing, exit 0, no login.
    for url in [
        "https://elsewhere.tokenfob.test/go/m/@v/list",
        "https://proxy.tokenfob.test/gopher/x",
        "http://proxy.tokenfob.test/go/x",
    ] {
        assert_eq!(goauth(&[url], refused).ok(), "", "{url}");
    }
    assert_eq!(s.emu.count("od.login"), 0);

    // A covered URL: the URL as Go spelled it, then the profile's prefixes; the token is renewed as needed.
    let url = "https://PROXY.tokenfob.test:443/go/m/@v/list";
    let answer = goauth(&[url], refused).ok().to_owned();
    let token = s.entry("od")["token"].as_str().unwrap().to_owned();
    assert_eq!(answer, format!("{url}\nhttps://proxy.tokenfob.test/go/\n\nAuthorization: Bearer {token}\n"));
    assert_eq!(s.emu.count("od.login"), 1);
    assert_eq!(goauth(&[url], "").ok(), answer, "no input (a run by hand) is no error");
    assert_eq!(s.emu.count("od.login"), 1);

    // --profile names the token, never where it may go.
    assert_eq!(goauth(&["--profile", "acme", url], refused).ok(), "");
    assert_eq!(
        goauth(&["--profile", "od"], "").ok(),
        format!("https://proxy.tokenfob.test/go/\n\nAuthorization: Bearer {token}\n")
    );
    assert_eq!(goauth(&["--profile", "acme"], "").ok(), "", "acme has no https prefix and no token");
    goauth(&["--profile", "nope"], "").fails(2, "no profile named");

    // What Go never writes on stdin: an error, nothing on stdout.
    for input in ["garbage\n\n", "HTTP/1.1 401 Unauthorized\n", "HTTP/1.1 401 Unauthorized\n\nhttps://evil/\n\n"] {
        goauth(&[url], input).fails(2, "Go's input");
    }
    // A megabyte of headers: tokenfob stops reading at 64 KiB and refuses (the rest of the write may then fail).
    let mut child = s
        .command(&["goauth", url])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let long = format!("HTTP/1.1 401 Unauthorized\nX-Long: {}\n\n", "a".repeat(1 << 20));
    let _ = child.stdin.take().unwrap().write_all(long.as_bytes());
    s.check(child.wait_with_output().unwrap()).fails(2, "more than 65536 bytes");
    goauth(&["https://proxy.tokenfob.test/go/\nhttps://evil.test/"], refused).fails(2, "Go's input");
    s.secret("pw-in-a-url");
    goauth(&["https://user:pw-in-a-url@[::1/go/"], refused).fails(2, "not a URL");
    assert_eq!(s.emu.count("od.login"), 1);
}

#[test]
fn a_prefix_two_profiles_share_goes_with_the_profile_url_choice_picks() {
    let s = Sandbox::new();
    let (shared, own) = ("https://proxy.tokenfob.test/go/", "https://od-only.tokenfob.test/");
    s.write_config(
        &s.seed_config()
            .replacen(
                &format!("url = \"{}\"\nusername", s.emu.url()),
                &format!("url = \"{}\"\nmatch = [\"{shared}\", \"{own}\"]\nusername", s.emu.url()),
                1,
            )
            .replacen("account_id = 42\n", &format!("account_id = 42\nmatch = [\"{shared}\"]\n"), 1),
    );
    s.run(&["login", "od"]).ok();
    let od = s.entry("od")["token"].as_str().unwrap().to_owned();
    s.secret(&od);
    // `--url` picks acme for the shared prefix (equal matches: the first by name), so only od's own prefix is listed.
    assert_eq!(s.run(&["goauth"]).ok(), format!("{own}\n\nAuthorization: Bearer {od}\n"));
    assert_eq!(s.run(&["goauth", "--profile", "od"]).ok(), format!("{shared}\n{own}\n\nAuthorization: Bearer {od}\n"));
    let url = format!("{shared}m/@v/list");
    let acme = s.feed(s.command(&["goauth", &url]), "HTTP/1.1 401 Unauthorized\n\n").ok().to_owned();
    let acme_token = s.entry("acme")["token"].as_str().unwrap().to_owned();
    assert_eq!(acme, format!("{url}\n{shared}\n\nAuthorization: Bearer {acme_token}\n"));
    assert_eq!(
        s.run(&["goauth"]).ok(),
        format!("{shared}\n\nAuthorization: Bearer {acme_token}\n\n{own}\n\nAuthorization: Bearer {od}\n")
    );
}
