//! The loopback listener of a browser login: it waits on 127.0.0.1 for the redirect that carries this login's
//! `state`, and answers everything else with a 400 without acting on it.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// How many redirect connections may wait for their request line at once; more are closed at once.
const MAX_PENDING: usize = 16;
/// How long one redirect connection may take to send its request line.
const LINE_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection to the redirect listener, and the bytes of its request line so far.
struct Pending {
    stream: TcpStream,
    head: Vec<u8>,
    since: Instant,
}

/// Serves the loopback redirect until one with the right `state` comes back, and returns its code.
///
/// Any local process can connect to the listener, so nothing without this login's `state` is acted on or shown
/// (issue #10): it gets a 400 and the wait goes on until the interactive timeout. Connections are served side by
/// side without blocking, so an idle connection (a browser's preconnect, or a process that connects and says
/// nothing) cannot hold up the real redirect.
pub(super) fn wait_for_code(
    listener: &TcpListener,
    state: &str,
    deadline: Instant,
    what: &str,
    profile: &str,
) -> Result<String> {
    listener.set_nonblocking(true).map_err(|e| Error::system(what, e))?;
    let mut pending: Vec<Pending> = Vec::new();
    loop {
        if Instant::now() > deadline {
            return Err(Error::InteractionRequired {
                what: what.into(),
                why: "no browser came back before the interactive timeout".into(),
                profile: profile.into(),
            });
        }
        while let Ok((stream, _)) = listener.accept() {
            if pending.len() < MAX_PENDING && stream.set_nonblocking(true).is_ok() {
                pending.push(Pending { stream, head: Vec::new(), since: Instant::now() });
            }
        }
        let mut lines = Vec::new();
        pending.retain_mut(|p| match read_line(p) {
            Some(Ok(line)) => {
                lines.push((p.stream.try_clone(), line));
                false
            }
            Some(Err(())) => false,
            None => p.since.elapsed() < LINE_TIMEOUT,
        });
        for (stream, line) in lines {
            let Ok(mut stream) = stream else { continue };
            let (status, page, outcome) = judge(&line, state, what, profile);
            answer(&mut stream, status, page);
            if let Some(result) = outcome {
                return result;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Reads what has arrived of a request line: `None` while it is incomplete, `Some(Err)` when the connection is
/// closed, broken or sends an over-long line.
fn read_line(p: &mut Pending) -> Option<Result<String, ()>> {
    let mut buf = [0u8; 2048];
    loop {
        if let Some(end) = p.head.windows(2).position(|w| w == b"\r\n") {
            return Some(Ok(String::from_utf8_lossy(&p.head[..end]).into_owned()));
        }
        if p.head.len() > 8192 {
            return Some(Err(()));
        }
        match p.stream.read(&mut buf) {
            Ok(0) => return Some(Err(())),
            Ok(n) => p.head.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return None,
            Err(_) => return Some(Err(())),
        }
    }
}

/// What to answer a redirect's request line, and the outcome of the login if this request decides it.
fn judge(line: &str, state: &str, what: &str, profile: &str) -> (&'static str, &'static str, Option<Result<String>>) {
    let target = line.split_whitespace().nth(1).unwrap_or("");
    let Some(query) = target.strip_prefix("/callback?") else {
        return ("404 Not Found", "Not found.", None);
    };
    let params: BTreeMap<String, String> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    if !params.get("state").is_some_and(|s| same(s.as_bytes(), state.as_bytes())) {
        crate::log::debug(format_args!("ignored a redirect without this login's state (a forged or stale one)"));
        return ("400 Bad Request", "This answer does not belong to the login under way (state); ignored.", None);
    }
    if let Some(error) = params.get("error") {
        let why = match params.get("error_description") {
            Some(d) => format!("{}: {}", crate::engine::reply::clean(error), crate::engine::reply::clean(d)),
            None => crate::engine::reply::clean(error),
        };
        let rejected = Error::AuthRejected {
            what: what.into(),
            url: "the authorization server".into(),
            why,
            profile: profile.into(),
        };
        return ("200 OK", "The login was refused. You can close this window.", Some(Err(rejected)));
    }
    match params.get("code") {
        Some(code) => ("200 OK", "Logged in. You can close this window.", Some(Ok(code.clone()))),
        None => ("400 Bad Request", "The login answer has no code.", None),
    }
}

/// Compares in time that does not depend on where the values differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn answer(stream: &mut TcpStream, status: &str, page: &str) {
    let body = format!("<!doctype html><title>tokenfob</title><p>{page}</p>");
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}
