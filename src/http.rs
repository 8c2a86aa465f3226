//! Sending one HTTP request: rustls with the system trust store, bounded time and size, no cross-origin redirects.
//!
//! The client (and with it reqwest's runtime thread and TLS context) is built on the first request only, so a cache
//! hit never pays for it. Loading the system trust store costs milliseconds (every certificate in /etc/ssl/certs), so
//! a client for plain-http URLs (loopback) gets a TLS configuration with no roots, and the store is loaded only when a
//! request is really https. Every answer is read to at most 1 MiB. A redirect is followed only within the same
//! origin, so a password posted to a login URL is never re-sent to another host. Plain `http://` is refused unless
//! the host is loopback or the profile sets `allow_http`.

use std::io::Read;
use std::net::IpAddr;
use std::time::Instant;

use reqwest::Url;
use reqwest::blocking::Client;
use time::OffsetDateTime;

use crate::config::NetOptions;
use crate::error::{Error, Result};
use crate::reply::Answer;
use crate::secret::Secret;

/// The largest answer body read; longer ones are a server error.
pub const MAX_BODY: usize = 1 << 20;

/// One request to send; header values and the body may hold secrets.
pub struct Outgoing {
    /// GET, POST, DELETE, ...
    pub method: reqwest::Method,
    /// Where to.
    pub url: Url,
    /// Header names and values.
    pub headers: Vec<(String, Secret)>,
    /// The body, if any.
    pub body: Option<Secret>,
}

/// Lazily built HTTP clients for one profile's settings: one for https, one for plain http.
pub struct Http<'a> {
    net: &'a NetOptions,
    https: Option<Client>,
    plain: Option<Client>,
}

impl<'a> Http<'a> {
    /// A client that does nothing until the first request.
    pub fn new(net: &'a NetOptions) -> Http<'a> {
        Http { net, https: None, plain: None }
    }

    /// Sends `req`; `what` names the step in errors ("logging in to profile od"). Returns the answer and when the
    /// request was sent.
    pub fn send(&mut self, req: Outgoing, what: &str) -> Result<(Answer, OffsetDateTime)> {
        check_scheme(&req.url, self.net.allow_http)?;
        let client = self.client(req.url.scheme() == "https")?;
        let url_text = redacted(&req.url);
        let mut builder = client.request(req.method.clone(), req.url.clone());
        for (name, value) in &req.headers {
            builder = builder.header(name.as_str(), value.expose());
        }
        if let Some(body) = &req.body {
            builder = builder.body(body.expose().as_bytes().to_vec());
        }
        let sent_at = crate::clock::now();
        let started = Instant::now();
        let net_error =
            |e: &dyn std::error::Error| Error::Network { what: what.into(), url: url_text.clone(), why: root_cause(e) };
        let mut response = builder.send().map_err(|e| net_error(&e))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let mut body = Vec::new();
        (&mut response).take(MAX_BODY as u64 + 1).read_to_end(&mut body).map_err(|e| net_error(&e))?;
        crate::log::debug(format_args!("{} {url_text} -> {status} in {:?}", req.method, started.elapsed()));
        if body.len() > MAX_BODY {
            return Err(Error::Server { what: what.into(), url: url_text, why: "a body over 1 MiB (cut off)".into() });
        }
        Ok((Answer { status, headers, body }, sent_at))
    }

    fn client(&mut self, https: bool) -> Result<&Client> {
        let slot = if https { &mut self.https } else { &mut self.plain };
        if slot.is_none() {
            *slot = Some(build_client(self.net, https)?);
        }
        Ok(slot.as_ref().expect("built above"))
    }
}

fn build_client(net: &NetOptions, https: bool) -> Result<Client> {
    // reqwest is built without a crypto provider (to keep aws-lc out of the build); ring is ours. Err means one is
    // already installed, which is fine.
    let provider = rustls::crypto::ring::default_provider();
    let _ = provider.clone().install_default();
    let mut builder = Client::builder()
        .connect_timeout(net.connect_timeout)
        .timeout(net.timeout)
        .user_agent(concat!("tokenfob/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::custom(|attempt| {
            let same_origin = attempt.previous().last().is_some_and(|prev| prev.origin() == attempt.url().origin());
            if same_origin && attempt.previous().len() < 5 { attempt.follow() } else { attempt.stop() }
        }));
    if !https {
        // Never used for a handshake (this client only sends plain-http requests), so it needs no roots.
        let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Other(format!("setting up TLS: {e}")))?
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        builder = builder.tls_backend_preconfigured(tls);
    } else if let Some(path) = &net.ca_file {
        // A regular file only (a FIFO would hang, a device would be read forever), of a bundle's size at most.
        let (pem, _) = crate::paths::read_regular(path, 16 << 20)
            .map_err(|e| Error::Config(format!("reading ca_file {}: {e}", path.display())))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| Error::Config(format!("ca_file {}: not a PEM certificate bundle: {e}", path.display())))?;
        builder = builder.tls_certs_merge(certs);
    }
    builder.build().map_err(|e| Error::Other(format!("setting up HTTPS: {}", root_cause(&e))))
}

/// Refuses `http://` to a host that is not loopback, unless allowed.
fn check_scheme(url: &Url, allow_http: bool) -> Result<()> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if allow_http || is_loopback(url) => Ok(()),
        "http" => Err(Error::Config(format!(
            "refusing to send credentials to {} over plain http (use https, or set allow_http = true in the profile)",
            redacted(url)
        ))),
        other => Err(Error::Config(format!("unsupported URL scheme {other:?} in {}", redacted(url)))),
    }
}

/// True for `localhost`, 127.0.0.0/8 and ::1.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// The URL without user info or query (which may carry secrets), for messages.
pub fn redacted(url: &Url) -> String {
    let mut url = url.clone();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_query(None);
    url.set_fragment(None);
    url.to_string()
}

/// The innermost cause of an error, which is the one that says what happened ("connection refused").
fn root_cause(err: &dyn std::error::Error) -> String {
    let mut cause = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    let text = cause.to_string();
    if text.contains("timed out") || text.contains("deadline") { "timed out".into() } else { text }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_loopback_or_when_allowed() {
        let u = |s: &str| Url::parse(s).unwrap();
        assert!(check_scheme(&u("http://127.0.0.1:8080/x"), false).is_ok());
        assert!(check_scheme(&u("http://localhost/x"), false).is_ok());
        assert!(check_scheme(&u("http://[::1]/x"), false).is_ok());
        assert!(check_scheme(&u("https://example.com/x"), false).is_ok());
        let e = check_scheme(&u("http://example.com/x"), false).unwrap_err();
        assert!(e.to_string().contains("allow_http"), "{e}");
        assert!(check_scheme(&u("http://example.com/x"), true).is_ok());
        assert!(check_scheme(&u("ftp://example.com/x"), true).is_err());
    }

    #[test]
    fn redaction_drops_userinfo_and_query() {
        let url = Url::parse("https://u:p@h.example/a?token=x#f").unwrap();
        assert_eq!(redacted(&url), "https://h.example/a");
    }
}
