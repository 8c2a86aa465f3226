//! One small HTTP/1.1 server on 127.0.0.1, shared by the emulator, tokenfob's tests and its benchmark.
//!
//! A [`Listener`] accepts connections on an ephemeral loopback port and hands each to a function on a thread of its
//! own; stopping or dropping it closes the port, so later connections are refused. A [`Server`] reads one request
//! per connection, asks its handler for the [`Response`], writes it with `Connection: close`, and counts the
//! requests it read; [`Server::start_tls`] (feature `tls`) does the same over TLS. A test that misbehaves on purpose
//! (a reset, a trickle, a tunnel) takes the connection from a bare [`Listener`] and uses [`read_request`] and
//! [`write_response`] as far as it wants.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long a connection may stay silent before its thread gives up.
const READ_TIMEOUT: Duration = Duration::from_secs(20);

/// The most of a request body that is read.
const MAX_BODY: usize = 1 << 20;

/// A request as a handler sees it; header names are lower case.
#[derive(Debug)]
pub struct Request {
    /// `GET`, `POST`, `CONNECT`, ...
    pub method: String,
    /// The request target as sent: a path with its query, an absolute URL (to a proxy) or `host:port` (CONNECT).
    pub path: String,
    /// The headers, by lower-case name.
    pub headers: HashMap<String, String>,
    /// The body (`Content-Length` bytes, at most 1 MiB).
    pub body: Vec<u8>,
}

impl Request {
    /// The bearer token, if one was sent.
    pub fn bearer(&self) -> Option<&str> {
        self.headers.get("authorization")?.strip_prefix("Bearer ")
    }

    /// The fields of an `application/x-www-form-urlencoded` body.
    pub fn form(&self) -> HashMap<String, String> {
        form_urlencoded::parse(&self.body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
    }
}

/// A handler's answer; the server adds `Content-Length` and `Connection: close`.
#[derive(Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// `status` with an `application/json` body (which is sent as given, JSON or not).
    pub fn json(status: u16, body: &str) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.as_bytes().to_vec(),
        }
    }
}

/// Reads one request (request line, headers, body) from `reader`; `None` when the connection ends or the request
/// line is malformed. Header lines without a colon are skipped.
pub fn read_request(reader: &mut impl BufRead) -> Option<Request> {
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let mut headers = HashMap::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }
    let chunked = headers.get("transfer-encoding").is_some_and(|t| t.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        read_chunked(reader)?
    } else {
        let len: usize = headers.get("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
        let mut body = vec![0; len.min(MAX_BODY)];
        reader.read_exact(&mut body).ok()?;
        body
    };
    Some(Request { method, path, headers, body })
}

/// A `Transfer-Encoding: chunked` body (skopeo sends its token requests so), at most [`MAX_BODY`] bytes; `None` when
/// it is malformed or longer. Chunk extensions and trailers are skipped.
fn read_chunked(reader: &mut impl BufRead) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let size = line.trim().split(';').next()?;
        let size = usize::from_str_radix(size.trim(), 16).ok()?;
        if size == 0 {
            // Trailers, up to the blank line.
            loop {
                let mut trailer = String::new();
                if reader.read_line(&mut trailer).ok()? == 0 || trailer.trim().is_empty() {
                    return Some(body);
                }
            }
        }
        if body.len().checked_add(size)? > MAX_BODY {
            return None;
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..]).ok()?;
        let mut end = [0; 2];
        reader.read_exact(&mut end).ok()?;
        if &end != b"\r\n" {
            return None;
        }
    }
}

/// Writes `response` with `Content-Length` and `Connection: close`, and flushes.
pub fn write_response(stream: &mut impl Write, response: &Response) -> io::Result<()> {
    let mut head =
        format!("HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n", response.status, response.body.len());
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(&response.body)?;
    stream.flush()
}

/// Connections accepted on an ephemeral 127.0.0.1 port, each given to a function on its own thread; the port
/// closes when the listener is stopped or dropped.
pub struct Listener {
    addr: SocketAddr,
    stopping: Arc<AtomicBool>,
    accepting: Mutex<Option<JoinHandle<()>>>,
}

impl Listener {
    /// Binds 127.0.0.1 on a free port and calls `on_connection` for every connection, on a thread of its own.
    pub fn start(on_connection: impl Fn(TcpStream) + Send + Sync + 'static) -> io::Result<Listener> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let addr = listener.local_addr()?;
        let stopping = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&stopping);
        let on_connection = Arc::new(on_connection);
        let accepting = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let on_connection = Arc::clone(&on_connection);
                std::thread::spawn(move || on_connection(stream));
            }
        });
        Ok(Listener { addr, stopping, accepting: Mutex::new(Some(accepting)) })
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Closes the port: when this returns, new connections are refused. Connections already handed out go on.
    pub fn stop(&self) {
        if self.stopping.swap(true, Ordering::SeqCst) {
            return;
        }
        // Wake the accept loop, which sees the flag and drops the socket; wait for that unless the wake-up failed.
        if TcpStream::connect(self.addr).is_ok()
            && let Some(accepting) = self.accepting.lock().unwrap_or_else(|e| e.into_inner()).take()
        {
            let _ = accepting.join();
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop();
    }
}

/// An HTTP server: one request per connection, answered by a handler; it stops when dropped.
pub struct Server {
    listener: Listener,
    requests: Arc<AtomicUsize>,
}

impl Server {
    /// A plain HTTP server on 127.0.0.1 whose every request `handler` answers.
    pub fn start(handler: impl Fn(&Request) -> Response + Send + Sync + 'static) -> io::Result<Server> {
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&requests);
        let listener = Listener::start(move |stream| {
            let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
            serve(stream, &handler, &counter);
        })?;
        Ok(Server { listener, requests })
    }

    /// An HTTPS server with the certificate of `config`, whose every request `handler` answers.
    #[cfg(feature = "tls")]
    pub fn start_tls(
        config: Arc<rustls::ServerConfig>,
        handler: impl Fn(&Request) -> Response + Send + Sync + 'static,
    ) -> io::Result<Server> {
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&requests);
        let listener = Listener::start(move |stream| {
            let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
            let Ok(tls) = rustls::ServerConnection::new(Arc::clone(&config)) else { return };
            serve(rustls::StreamOwned::new(tls, stream), &handler, &counter);
        })?;
        Ok(Server { listener, requests })
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.listener.port()
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port())
    }

    /// How many requests were read in full.
    pub fn count(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

fn serve(stream: impl Read + Write, handler: &dyn Fn(&Request) -> Response, requests: &AtomicUsize) {
    let mut reader = BufReader::new(stream);
    let Some(request) = read_request(&mut reader) else { return };
    requests.fetch_add(1, Ordering::SeqCst);
    let response = handler(&request);
    let _ = write_response(reader.get_mut(), &response);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(port: u16, request: &str) -> String {
        let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    }

    #[test]
    fn answers_counts_and_closes_when_dropped() {
        let server = Server::start(|req| {
            let body = format!("{} {} {:?} {}", req.method, req.path, req.bearer(), String::from_utf8_lossy(&req.body));
            Response::json(201, &body)
        })
        .unwrap();
        let answer =
            ask(server.port(), "POST /x?y HTTP/1.1\r\nAuthorization: Bearer t1\r\nContent-Length: 3\r\n\r\nabc");
        assert!(answer.starts_with("HTTP/1.1 201 "), "{answer}");
        assert!(answer.contains("Content-Length: 24\r\n"), "{answer}");
        assert!(answer.ends_with("\r\n\r\nPOST /x?y Some(\"t1\") abc"), "{answer}");
        assert_eq!(server.count(), 1);
        let port = server.port();
        drop(server);
        assert!(TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err(), "a dropped server's port is closed");
    }

    #[test]
    fn reads_forms_and_skips_malformed_headers() {
        let mut input = &b"POST /t HTTP/1.1\r\nno colon\r\nContent-Length: 13\r\n\r\na=1&b=x+y%21"[..];
        let mut input = BufReader::new(&mut input);
        assert!(read_request(&mut input).is_none(), "a body shorter than its Content-Length is no request");
        let mut input = &b"POST /t HTTP/1.1\r\nno colon\r\nContent-Length: 12\r\n\r\na=1&b=x+y%21"[..];
        let req = read_request(&mut BufReader::new(&mut input)).unwrap();
        assert_eq!(req.headers.len(), 1);
        assert_eq!(req.form()["b"], "x y!");
        let mut input =
            &b"POST /t HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\na=1&\r\n8\r\nb=x+y%21\r\n0\r\n\r\n"[..];
        let req = read_request(&mut BufReader::new(&mut input)).unwrap();
        assert_eq!(req.body, b"a=1&b=x+y%21");
        let mut input = &b"POST /t HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"[..];
        assert!(read_request(&mut BufReader::new(&mut input)).is_none(), "a malformed chunk size is no request");
    }
}
