//! Sending one HTTP request: rustls with the system trust store, bounded time and size, no cross-origin redirects.
//!
//! The client (and with it reqwest's runtime thread and TLS context) is built on the first request only, so a cache
//! hit never pays for it. Loading the system trust store costs milliseconds (every certificate in /etc/ssl/certs), so
//! a client for plain-http URLs (loopback) gets a TLS configuration with no roots, and the store is loaded only when a
//! request is really https. Every answer is read to at most 1 MiB. A redirect is followed only within the same
//! origin, so a password posted to a login URL is never re-sent to another host. Plain `http://` is refused unless
//! the host is loopback or the profile sets `allow_http`.
//!
//! `timeout` bounds the whole exchange, body included: a server that trickles its answer a byte at a time must not
//! hold the profile's lock forever (issue #10). Proxies come from the usual variables (read here, from [`Env`], not
//! behind our back by reqwest): a loopback target never goes through a proxy (a proxy cannot reach our loopback, and
//! it would see a plain-http login in clear), and a request that carries a secret over plain http is refused rather
//! than sent to a proxy over a plain-http hop. https through any proxy is a `CONNECT` tunnel, so TLS runs end to end.

use std::io::Read;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use reqwest::Url;
use reqwest::blocking::Client;
use time::OffsetDateTime;

use crate::environment::Env;
use crate::error::{Error, Result};
use crate::secret::Secret;

/// Network settings of one profile.
#[derive(Debug, Clone, Default)]
pub(crate) struct NetOptions {
    /// Extra PEM roots trusted besides the operating system's.
    pub(crate) ca_file: Option<PathBuf>,
    /// Allow `http://` to non-loopback hosts.
    pub(crate) allow_http: bool,
    /// Connect timeout (default 10 s).
    pub(crate) connect_timeout: Duration,
    /// Whole-request timeout (default 30 s).
    pub(crate) timeout: Duration,
}

/// An HTTP answer, stripped of transport details.
#[derive(Debug, Clone, Default)]
pub(crate) struct Answer {
    /// The status code.
    pub(crate) status: u16,
    /// Headers with lower-case names (values that are not UTF-8 are dropped).
    pub(crate) headers: Vec<(String, String)>,
    /// The body (at most 1 MiB; longer bodies are refused before this point).
    pub(crate) body: Vec<u8>,
}

impl Answer {
    /// The first value of header `name` (case-insensitive).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body as JSON, if it is JSON.
    pub(crate) fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// The largest answer body read; longer ones are a server error.
pub(crate) const MAX_BODY: usize = 1 << 20;

/// One request to send; header values and the body may hold secrets.
pub(crate) struct Outgoing {
    /// GET, POST, DELETE, ...
    pub(crate) method: reqwest::Method,
    /// Where to.
    pub(crate) url: Url,
    /// Header names and values.
    pub(crate) headers: Vec<(String, Secret)>,
    /// The body, if any.
    pub(crate) body: Option<Secret>,
    /// Whether a header or the body holds a secret (then no plain-http hop to a proxy is allowed).
    pub(crate) carries_secret: bool,
}

/// Lazily built HTTP clients for one profile's settings, one per route (https or not, which proxy).
pub(crate) struct Http<'a> {
    net: &'a NetOptions,
    proxies: Proxies,
    clients: Vec<(Route, Client)>,
}

/// How a request travels: over TLS or not, and through which proxy (its URL), if any.
#[derive(Clone, PartialEq)]
struct Route {
    https: bool,
    proxy: Option<String>,
}

impl<'a> Http<'a> {
    /// A client that does nothing until the first request; proxies come from `env`.
    pub(crate) fn new(net: &'a NetOptions, env: &Env) -> Http<'a> {
        Http { net, proxies: Proxies::from_env(env), clients: Vec::new() }
    }

    /// Sends `req`; `what` names the step in errors ("logging in to profile od"). Returns the answer and when the
    /// request was sent.
    pub(crate) fn send(&mut self, req: Outgoing, what: &str) -> Result<(Answer, OffsetDateTime)> {
        check_scheme(&req.url, self.net.allow_http)?;
        let url_text = redacted(&req.url);
        let route = self.route(&req, what)?;
        let client = self.client(route)?;
        let mut builder = client.request(req.method.clone(), req.url.clone()).timeout(self.net.timeout);
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
        let body = read_body(&mut response, started + self.net.timeout).map_err(|e| net_error(&e))?;
        crate::log::debug(format_args!("{} {url_text} -> {status} in {:?}", req.method, started.elapsed()));
        if body.len() > MAX_BODY {
            return Err(Error::Server { what: what.into(), url: url_text, why: "a body over 1 MiB (cut off)".into() });
        }
        Ok((Answer { status, headers, body }, sent_at))
    }

    /// The route of `req`: direct for loopback and for hosts in `NO_PROXY`, else the proxy of its scheme; an error
    /// when that would put a secret on a plain-http hop to a proxy.
    fn route(&self, req: &Outgoing, what: &str) -> Result<Route> {
        let https = req.url.scheme() == "https";
        let proxy = if is_loopback(&req.url) { None } else { self.proxies.for_url(&req.url) };
        if let Some((var, proxy)) = proxy
            && !https
            && req.carries_secret
            && !proxy.get(..8).is_some_and(|p| p.eq_ignore_ascii_case("https://"))
        {
            return Err(Error::Config(format!(
                "{what}: refusing to send credentials to {} through the proxy {} (from {var}) over plain http, where \
                 the proxy and the network would see them (use https, or exempt the host in NO_PROXY)",
                redacted(&req.url),
                redacted_text(proxy)
            )));
        }
        Ok(Route { https, proxy: proxy.map(|(_, p)| p.to_owned()) })
    }

    fn client(&mut self, route: Route) -> Result<Client> {
        if let Some((_, client)) = self.clients.iter().find(|(r, _)| *r == route) {
            return Ok(client.clone());
        }
        let client = build_client(self.net, &route)?;
        self.clients.push((route, client.clone()));
        Ok(client)
    }
}

/// Reads a body of at most `MAX_BODY` + 1 bytes, failing with a time-out once `deadline` has passed.
fn read_body(response: &mut impl Read, deadline: Instant) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    while body.len() <= MAX_BODY {
        if Instant::now() > deadline {
            return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out"));
        }
        match response.read(&mut chunk)? {
            0 => break,
            n => body.extend_from_slice(&chunk[..n]),
        }
    }
    Ok(body)
}

/// The proxy variables, read the way curl and reqwest read them.
struct Proxies {
    http: Option<(&'static str, String)>,
    https: Option<(&'static str, String)>,
    no: String,
}

impl Proxies {
    fn from_env(env: &Env) -> Proxies {
        let first = |names: [&'static str; 4]| names.into_iter().find_map(|n| Some((n, env.get(n)?.to_owned())));
        // Under CGI, HTTP_PROXY may come from a request header ("httpoxy"); hyper-util ignores proxies there.
        if env.get("REQUEST_METHOD").is_some() {
            return Proxies { http: None, https: None, no: String::new() };
        }
        Proxies {
            http: first(["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]),
            https: first(["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]),
            no: env.get("NO_PROXY").or_else(|| env.get("no_proxy")).unwrap_or_default().to_owned(),
        }
    }

    /// The variable and proxy URL for `url`, or `None` to go direct.
    fn for_url(&self, url: &Url) -> Option<(&'static str, &str)> {
        let (var, proxy) = if url.scheme() == "https" { self.https.as_ref()? } else { self.http.as_ref()? };
        // NO_PROXY is matched by hyper-util's own rules (domains and their subdomains, IPs, CIDR ranges, `*`).
        let matcher = hyper_util::client::proxy::matcher::Matcher::builder().all("http://proxy").no(self.no.as_str());
        let uri: http::Uri = url.as_str().parse().ok()?;
        matcher.build().intercept(&uri)?;
        Some((var, proxy.as_str()))
    }
}

fn build_client(net: &NetOptions, route: &Route) -> Result<Client> {
    let https = route.https;
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
        }))
        // Proxies are chosen here, per route, never by reqwest from the environment.
        .no_proxy();
    if let Some(proxy) = &route.proxy {
        let proxy = reqwest::Proxy::all(proxy.as_str()).map_err(|e| {
            Error::Config(format!("the proxy {} is not a usable proxy URL: {}", redacted_text(proxy), root_cause(&e)))
        })?;
        builder = builder.proxy(proxy);
    }
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
        let (pem, _) = crate::sys::fs::read_regular(path, 16 << 20)
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
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// The URL without user info or query (which may carry secrets), for messages.
pub(crate) fn redacted(url: &Url) -> String {
    let mut url = url.clone();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_query(None);
    url.set_fragment(None);
    url.to_string()
}

/// A proxy URL from the environment without its user info, for messages.
fn redacted_text(url: &str) -> String {
    match Url::parse(url) {
        Ok(u) => redacted(&u),
        Err(_) => url.rsplit('@').next().unwrap_or_default().to_owned(),
    }
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
