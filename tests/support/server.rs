//! The test servers, on the one loopback server of `tokenfob-emulator`: a logging stub, a TLS certificate chain for
//! HTTPS servers, and a forward proxy that only tunnels; and finding the real tools the tests drive.
//!
//! [`Tls`] makes its own CA (rcgen) so that real clients (kubectl) verify a real chain to 127.0.0.1.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};

pub use tokenfob_emulator::server::{Listener, Request, Response, Server, read_request, write_response};

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

/// Lines a test server or proxy records, shared with the test that reads them.
pub type Log = Arc<Mutex<Vec<String>>>;

/// A plain stub server; `answer` decides, given the request and its number (from 1), and every request is logged
/// as "METHOD path body".
pub fn stub(answer: impl Fn(&Request, usize) -> Response + Send + Sync + 'static) -> (Server, Log) {
    let log: Log = Arc::default();
    let seen = Arc::clone(&log);
    let server = Server::start(move |req| {
        let mut log = seen.lock().unwrap();
        log.push(format!("{} {} {}", req.method, req.path, String::from_utf8_lossy(&req.body)));
        let n = log.len();
        drop(log);
        answer(req, n)
    })
    .unwrap();
    (server, log)
}

/// A forward proxy that only tunnels: it reads the CONNECT head, dials the target (knowing the name
/// `proxied.tokenfob.test` as 127.0.0.1), and copies bytes both ways, so it sees the target's name and nothing of
/// the login (TLS runs end to end through it). Returns it (its port closes when it is dropped) and the request line
/// of every connection.
pub fn tunnel_proxy() -> (Listener, Log) {
    let lines: Log = Arc::default();
    let seen = Arc::clone(&lines);
    let proxy = Listener::start(move |client| {
        let mut reader = BufReader::new(client.try_clone().unwrap());
        let mut head = String::new();
        while reader.read_line(&mut head).unwrap_or(0) > 2 {} // up to the blank line
        seen.lock().unwrap().push(head.lines().next().unwrap_or_default().to_owned());
        let target = head.split_whitespace().nth(1).unwrap_or_default().replace("proxied.tokenfob.test", "127.0.0.1");
        let Ok(upstream) = TcpStream::connect(&target) else { return };
        let mut client = client;
        client.write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n").unwrap();
        let (mut up_read, mut up_write) = (upstream.try_clone().unwrap(), upstream);
        std::thread::spawn(move || std::io::copy(&mut reader, &mut up_write));
        let _ = std::io::copy(&mut up_read, &mut client);
    })
    .unwrap();
    (proxy, lines)
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
