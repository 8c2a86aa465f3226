//! Server faults: every bad answer has a clear exit code and message, leaves an expired entry untouched, and keeps
//! serving a cached token that is still valid.

use std::io::{BufReader, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::Sandbox;
use crate::support::server::{Listener, Response, read_request, write_response};

/// What the raw server does with the next requests.
#[derive(Clone)]
enum Mode {
    Good,
    Answer(u16, &'static str, String, Vec<(&'static str, String)>),
    ResetMidBody,
    Hang,
    Huge,
    /// 307 to `/login-v2` on the same origin, which answers well.
    SameOriginRedirect,
}

struct Raw {
    listener: Listener,
    mode: Arc<Mutex<Mode>>,
    requests: Arc<AtomicUsize>,
}

impl Raw {
    fn start() -> Raw {
        let mode = Arc::new(Mutex::new(Mode::Good));
        let requests = Arc::new(AtomicUsize::new(0));
        let (m, r) = (Arc::clone(&mode), Arc::clone(&requests));
        let listener = Listener::start(move |stream| serve(stream, &m, &r)).unwrap();
        Raw { listener, mode, requests }
    }

    fn port(&self) -> u16 {
        self.listener.port()
    }

    /// Closes the port: then connections are refused, on the same URL.
    fn refuse(&self) {
        self.listener.stop();
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }
}

fn answer(status: u16, ctype: &str, body: &str, extra: &[(&str, String)]) -> Response {
    let mut headers = vec![("Content-Type".to_owned(), ctype.to_owned())];
    headers.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
    Response { status, headers, body: body.as_bytes().to_vec() }
}

fn serve(stream: TcpStream, mode: &Mutex<Mode>, requests: &AtomicUsize) {
    let mut reader = BufReader::new(stream);
    let Some(request) = read_request(&mut reader) else { return };
    let n = requests.fetch_add(1, Ordering::SeqCst);
    let mode = mode.lock().unwrap().clone();
    let stream = reader.get_mut();
    let _ = match mode {
        Mode::Good => write_response(
            stream,
            &answer(200, "application/json", &format!(r#"{{"token":"good-{n}-4f1c","expires_in":3600}}"#), &[]),
        ),
        Mode::Answer(status, ctype, body, extra) => write_response(stream, &answer(status, ctype, &body, &extra)),
        Mode::ResetMidBody => {
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n{\"token\":\"half",
            );
            let linger = libc::linger { l_onoff: 1, l_linger: 0 };
            // SAFETY: SO_LINGER with a zero timeout on our own socket makes close() send a reset.
            unsafe {
                libc::setsockopt(
                    stream.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_LINGER,
                    (&raw const linger).cast(),
                    size_of::<libc::linger>() as u32,
                )
            };
            Ok(())
        }
        Mode::Hang => {
            std::thread::sleep(Duration::from_secs(20));
            Ok(())
        }
        Mode::SameOriginRedirect if request.path.contains("/login-v2") => {
            write_response(stream, &answer(200, "application/json", r#"{"token":"moved-7e2a","expires_in":3600}"#, &[]))
        }
        Mode::SameOriginRedirect => {
            write_response(stream, &answer(307, "text/plain", "", &[("Location", "/login-v2".into())]))
        }
        Mode::Huge => {
            let big = format!(r#"{{"token":"big","pad":"{}"}}"#, "x".repeat(2 << 20));
            write_response(stream, &answer(200, "application/json", &big, &[]))
        }
    };
}

fn config(url: &str) -> String {
    format!(
        "[profiles.r]\nkind = \"http\"\ntimeout = \"1s\"\nconnect_timeout = \"1s\"\npassword = {{ env = \"OD_PASSWORD\" }}\n\
         [profiles.r.login]\nurl = \"{url}/login\"\njson = {{ password = \"{{password}}\" }}\n\
         [profiles.r.reply]\ntoken_pointer = \"/token\"\nexpires_in_pointer = \"/expires_in\"\nmessage_pointer = \"/message\"\n"
    )
}

/// Gets a good token, then checks the fault both ways: with the token expired (error, entry untouched) and with
/// the token inside its margin (served, with a warning).
fn case(s: &Sandbox, raw: &Raw, mode: Mode, code: i32, needle: &str) {
    raw.set(Mode::Good);
    let _ = std::fs::remove_file(s.entry_path("r"));
    let good = s.get(&["r"]);
    s.expire("r");
    let before = std::fs::read(s.entry_path("r")).unwrap();
    raw.set(mode);
    let started = Instant::now();
    s.run(&["get", "r"]).fails(code, needle);
    assert!(started.elapsed() < Duration::from_secs(8), "{needle}: ended within the configured bound");
    assert_eq!(std::fs::read(s.entry_path("r")).unwrap(), before, "{needle}: the entry is untouched");
    s.expire_soon("r");
    let kept = s.run(&["get", "r"]);
    assert_eq!(kept.ok(), good, "{needle}: the still-valid token is served");
    assert!(kept.stderr.contains("serving the cached token"), "{kept:#?}");
}

#[test]
fn every_bad_answer_has_a_clear_error_and_keeps_a_valid_token() {
    let s = Sandbox::new();
    let raw = Raw::start();
    s.write_config(&config(&format!("http://127.0.0.1:{}", raw.port())));
    let html =
        |status| Mode::Answer(status, "text/html", "<html><body><h1>Bad Gateway</h1></body></html>".into(), vec![]);
    let json = |body: &str| Mode::Answer(200, "application/json", body.to_owned(), vec![]);
    let cases: Vec<(Mode, i32, &str)> = vec![
        (html(500), 4, "HTTP 500 with an HTML page"),
        (html(502), 4, "HTTP 502 with an HTML page"),
        (html(503), 4, "HTTP 503 with an HTML page"),
        (Mode::Answer(429, "application/json", "{}".into(), vec![("Retry-After", "30".into())]), 4, "retry after 30"),
        (Mode::ResetMidBody, 4, "cannot reach"),
        (Mode::Hang, 4, "timed out"),
        (json(r#"{"token":"abc","expi"#), 4, "the body is not JSON"),
        (json(r#"{"expires_in":3600}"#), 4, "without a token at JSON pointer /token"),
        (json(r#"{"token":"abc\ndef"}"#), 4, "control characters"),
        (json(r#"{"token":"abc\u0007def"}"#), 4, "control characters"),
        (Mode::Huge, 4, "over 1 MiB"),
        (Mode::Answer(401, "application/json", r#"{"message":"bad password"}"#.into(), vec![]), 3, "bad password"),
        (Mode::Answer(403, "application/json", r#"{"message":"account locked"}"#.into(), vec![]), 3, "account locked"),
    ];
    let total = cases.len();
    for (mode, code, needle) in cases {
        case(&s, &raw, mode, code, needle);
    }
    eprintln!("figure: fault cases passed: {total} answers x (expired: error, entry untouched; valid: served)");
}

#[test]
fn a_refused_connection_keeps_a_valid_token() {
    let s = Sandbox::new();
    let raw = Raw::start();
    s.write_config(&config(&format!("http://127.0.0.1:{}", raw.port())));
    let good = s.get(&["r"]);
    s.expire_soon("r");
    raw.refuse();
    let kept = s.run(&["get", "r"]);
    assert_eq!(kept.ok(), good);
    assert!(
        kept.stderr.contains("Connection refused") && kept.stderr.contains("serving the cached token"),
        "{kept:#?}"
    );
    s.expire("r");
    s.run(&["get", "r"]).fails(4, "Connection refused");
}

#[test]
fn a_login_is_never_redirected_to_another_origin() {
    let s = Sandbox::new();
    let (elsewhere, origin) = (Raw::start(), Raw::start());
    origin.set(Mode::Answer(
        307,
        "text/plain",
        String::new(),
        vec![("Location", format!("http://127.0.0.1:{}/login", elsewhere.port()))],
    ));
    s.write_config(&config(&format!("http://127.0.0.1:{}", origin.port())));
    s.run(&["get", "r"]).fails(4, "not followed");
    assert_eq!(elsewhere.requests.load(Ordering::SeqCst), 0, "the password never reached the other host");
    origin.set(Mode::SameOriginRedirect);
    assert_eq!(s.get(&["r"]), "moved-7e2a", "a redirect within the same origin is followed");
}

#[test]
fn a_rejected_refresh_falls_back_to_login() {
    let s = Sandbox::new();
    s.get(&["acme"]);
    s.expire("acme");
    s.emu.state().fault = Some(tokenfob_emulator::Fault {
        status: 401,
        content_type: "application/json".into(),
        body: r#"{"success":false,"message":"expired"}"#.into(),
        times: 1,
    });
    s.get(&["acme"]);
    assert_eq!((s.emu.count("session.login"), s.emu.count("fault")), (2, 1), "the refresh was refused, then a login");
}
