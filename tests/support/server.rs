//! A small HTTP/1.1 server for the integration tests, plain or TLS, one request per connection.
//!
//! The handler sees each request and answers it; the server counts requests. The TLS variant makes its own CA
//! (rcgen) so that real clients (kubectl) verify a real chain to 127.0.0.1.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// A request as the handler sees it.
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Request {
    /// The bearer token, if one was sent.
    pub fn bearer(&self) -> Option<&str> {
        self.headers.get("authorization")?.strip_prefix("Bearer ")
    }

    /// The form fields of an `application/x-www-form-urlencoded` body.
    pub fn form(&self) -> HashMap<String, String> {
        form_urlencoded::parse(&self.body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
    }
}

/// A response from the handler.
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(status: u16, body: &str) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.as_bytes().to_vec(),
        }
    }
}

pub type Handler = Arc<dyn Fn(Request) -> Response + Send + Sync>;

/// A running server; it stops accepting when dropped.
pub struct Server {
    pub port: u16,
    pub requests: Arc<AtomicUsize>,
}

/// A CA and a certificate for 127.0.0.1 signed by it.
pub struct Tls {
    pub ca_pem: String,
    pub config: Arc<rustls::ServerConfig>,
}

impl Tls {
    pub fn new() -> Tls {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(rcgen::DnType::CommonName, "tokenfob test CA");
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf_params = rcgen::CertificateParams::new(vec![
            "127.0.0.1".to_string(),
            "localhost".to_string(),
            "proxied.tokenfob.test".to_string(),
        ])
        .unwrap();
        let leaf = leaf_params.signed_by(&leaf_key, &ca).unwrap();
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![leaf.der().clone()], key)
            .unwrap();
        Tls { ca_pem: ca.pem(), config: Arc::new(config) }
    }
}

impl Server {
    pub fn start(tls: Option<Arc<rustls::ServerConfig>>, handler: Handler) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&requests);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (handler, counter, tls) = (Arc::clone(&handler), Arc::clone(&counter), tls.clone());
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(20)));
                    match tls {
                        Some(config) => {
                            let Ok(conn) = rustls::ServerConnection::new(config) else { return };
                            serve(rustls::StreamOwned::new(conn, stream), &handler, &counter);
                        }
                        None => serve(stream, &handler, &counter),
                    }
                });
            }
        });
        Server { port, requests }
    }

    pub fn count(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// Lines a test server or proxy records, shared with the test that reads them.
pub type Log = Arc<Mutex<Vec<String>>>;

/// A plain stub server; `answer` decides, given the request and its number (from 1), and every request is logged
/// as "METHOD path body".
pub fn stub(answer: impl Fn(&Request, usize) -> Response + Send + Sync + 'static) -> (Server, Log) {
    let log: Log = Arc::default();
    let seen = Arc::clone(&log);
    let server = Server::start(
        None,
        Arc::new(move |req: Request| {
            let mut log = seen.lock().unwrap();
            log.push(format!("{} {} {}", req.method, req.path, String::from_utf8_lossy(&req.body)));
            let n = log.len();
            drop(log);
            answer(&req, n)
        }),
    );
    (server, log)
}

/// A forward proxy that only tunnels: it reads the CONNECT head, dials the target (knowing the name
/// `proxied.tokenfob.test` as 127.0.0.1), and copies bytes both ways, so it sees the target's name and nothing of
/// the login (TLS runs end to end through it). Returns its port and the request line of every connection.
pub fn tunnel_proxy() -> (u16, Log) {
    let proxy = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = proxy.local_addr().unwrap().port();
    let lines: Log = Arc::default();
    let seen = Arc::clone(&lines);
    std::thread::spawn(move || {
        for client in proxy.incoming().flatten() {
            let mut reader = BufReader::new(client.try_clone().unwrap());
            let mut head = String::new();
            while reader.read_line(&mut head).unwrap_or(0) > 2 {} // up to the blank line
            seen.lock().unwrap().push(head.lines().next().unwrap_or_default().to_owned());
            let target =
                head.split_whitespace().nth(1).unwrap_or_default().replace("proxied.tokenfob.test", "127.0.0.1");
            let Ok(upstream) = TcpStream::connect(&target) else { continue };
            let mut client = client;
            client.write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n").unwrap();
            let (mut up_read, mut up_write) = (upstream.try_clone().unwrap(), upstream);
            let mut down = client.try_clone().unwrap();
            std::thread::spawn(move || std::io::copy(&mut reader, &mut up_write));
            std::thread::spawn(move || std::io::copy(&mut up_read, &mut down));
        }
    });
    (port, lines)
}

fn serve<S: Read + Write>(stream: S, handler: &Handler, counter: &AtomicUsize) {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(path)) = (parts.next(), parts.next()) else { return };
    let (method, path) = (method.to_owned(), path.to_owned());
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let len: usize = headers.get("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
    let mut body = vec![0; len];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    counter.fetch_add(1, Ordering::SeqCst);
    let response = handler(Request { method, path, headers, body });
    let mut head =
        format!("HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n", response.status, response.body.len());
    for (n, v) in &response.headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let stream = reader.get_mut();
    let _ =
        stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(&response.body)).and_then(|()| stream.flush());
}

/// True when `TOKENFOB_REQUIRE_TOOLS=1`: a missing tool fails its test instead of skipping it (CI sets it).
#[allow(clippy::disallowed_methods)] // the test process's own environment
pub fn tools_required() -> bool {
    std::env::var("TOKENFOB_REQUIRE_TOOLS").is_ok_and(|v| v == "1")
}

/// The path of a real tool, or `None` (with a printed reason) when it is missing and `TOKENFOB_REQUIRE_TOOLS` is
/// not set; with it set, a missing tool fails the test.
#[allow(clippy::disallowed_methods)] // the test process's own environment
pub fn tool(name: &str) -> Option<std::path::PathBuf> {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|p| p.is_file());
    if found.is_none() {
        assert!(!tools_required(), "{name} is not on PATH and TOKENFOB_REQUIRE_TOOLS=1");
        eprintln!("skipping: {name} is not on PATH (set TOKENFOB_REQUIRE_TOOLS=1 to make this a failure)");
    }
    found
}
