//! Reaching a profile's login server as its login would (same TLS roots, `ca_file`, proxy and timeouts), with a
//! plain `GET` that carries no credentials: any HTTP answer proves DNS, TCP, the proxy and TLS. The answer's `Date`
//! is compared with this machine's clock: token expiry is judged by the local clock, so a skew of more than
//! [`MAX_SKEW`] makes tokens look fresh when they are not (or the other way round).

use reqwest::Url;
use time::OffsetDateTime;

use super::{Level, Report};
use crate::environment::Env;
use crate::error::Error;
use crate::net::http::{Http, Outgoing, redacted};
use crate::profile::{Profile, Source};
use crate::recipe::VarSpec;
use crate::template::{self, Piece};

/// The largest clock difference with a server that is not worth a warning.
const MAX_SKEW: i64 = 30;

/// Reaches each distinct login URL of `profile`.
pub(super) fn profile(profile: &Profile, env: &Env, report: &mut Report) {
    let Source::Recipe(recipe) = &profile.source else { return };
    let mut urls: Vec<String> = Vec::new();
    // An issuer's discovery comes first: the token endpoint is only known from it.
    let mut templates: Vec<&str> = recipe.lookups.values().map(|l| l.url.as_str()).collect();
    templates.push(&recipe.login.url);
    for t in &templates {
        if let Some(url) = reachable_part(t, &recipe.vars).filter(|u| !urls.contains(u)) {
            urls.push(url);
        }
    }
    if urls.is_empty() {
        let login = &recipe.login.url;
        report.add(Level::Note, format!("{}: {login} needs values only a login has; not reached", profile.name));
    }
    let mut http = Http::new(&profile.net, env);
    for url in urls {
        one(&mut http, &profile.name, &url, report);
    }
}

/// The URL `template` names, its plain variables filled in; when a later part needs a value only a login has
/// (a looked-up user id), the part before it.
fn reachable_part(template: &str, vars: &std::collections::BTreeMap<String, VarSpec>) -> Option<String> {
    let mut url = String::new();
    for piece in template::parse(template).ok()? {
        match piece {
            Piece::Text(text) => url.push_str(&text),
            Piece::Var { name, .. } => match vars.get(name) {
                Some(VarSpec::Plain(serde_json::Value::String(s))) => url.push_str(s),
                Some(VarSpec::Plain(v)) => url.push_str(&v.to_string()),
                _ => break,
            },
        }
    }
    Url::parse(&url).ok().filter(|u| u.host().is_some()).map(|u| u.to_string())
}

fn one(http: &mut Http<'_>, name: &str, url: &str, report: &mut Report) {
    let Ok(parsed) = Url::parse(url) else { return };
    let shown = redacted(&parsed);
    let request =
        Outgoing { method: reqwest::Method::GET, url: parsed, headers: Vec::new(), body: None, carries_secret: false };
    let sent = crate::clock::now();
    match http.send(request, &format!("reaching {shown}")) {
        Ok((answer, _)) => {
            let back = crate::clock::now();
            report.add(Level::Ok, format!("{name}: reached {shown} (HTTP {})", answer.status));
            skew(name, &shown, answer.header("date"), sent + (back - sent) / 2, report);
        }
        Err(Error::Network { why, .. }) => {
            report.add(Level::Unreachable, format!("{name}: cannot reach {shown}: {why} ({})", hint(&why)));
        }
        Err(e) => report.add(Level::Error, format!("{name}: {e}")),
    }
}

/// What to do about a network failure, by its innermost cause.
fn hint(why: &str) -> &'static str {
    let why = why.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| why.contains(w));
    if has(&["dns", "lookup", "name or service", "resolve"]) {
        "the host name does not resolve: check its spelling, your DNS or VPN"
    } else if has(&["certificate", "unknownissuer", "tls", "handshake"]) {
        "TLS failed: if the server uses a private CA, set ca_file to its PEM bundle; check the host name too"
    } else if has(&["refused"]) {
        "nothing listens there: check the URL's host and port, and that the server runs"
    } else if has(&["proxy", "tunnel"]) {
        "the proxy failed: check HTTPS_PROXY / HTTP_PROXY, or exempt the host in NO_PROXY"
    } else if has(&["timed out"]) {
        "no answer in time: check the network, a firewall or the proxy (HTTPS_PROXY); the profile's connect_timeout \
         bounds connecting, its timeout the whole exchange: raise the one that ran out"
    } else {
        "check the network, the proxy and the URL"
    }
}

/// Compares the server's `Date` with `local` (the middle of the exchange).
fn skew(name: &str, shown: &str, date: Option<&str>, local: OffsetDateTime, report: &mut Report) {
    let Some(date) = date else {
        return report.add(Level::Note, format!("{name}: {shown} sent no Date header; the clock was not compared"));
    };
    let Some(server) = parse_http_date(date) else {
        return report.add(
            Level::Note,
            format!("{name}: {shown} sent a Date header that is not an HTTP date; the clock was not compared"),
        );
    };
    let secs = (server - local).whole_seconds();
    if secs.abs() <= MAX_SKEW {
        return report.add(Level::Ok, format!("{name}: this clock and {shown}'s agree within {MAX_SKEW}s"));
    }
    let way = if secs > 0 { "ahead of" } else { "behind" };
    let by = crate::duration::human(std::time::Duration::from_secs(secs.unsigned_abs()));
    report.add(
        Level::Warning,
        format!(
            "{name}: {shown}'s clock is {by} {way} this machine's: token lifetimes are judged by this clock, so \
             tokens may be served expired or renewed too often (synchronize the clock, e.g. with NTP)"
        ),
    );
}

/// An HTTP date (RFC 9110 IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`).
fn parse_http_date(text: &str) -> Option<OffsetDateTime> {
    let format = time::format_description::parse_borrowed::<2>(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT",
    )
    .ok()?;
    time::PrimitiveDateTime::parse(text.trim(), &format).ok().map(time::PrimitiveDateTime::assume_utc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_http_dates_and_fills_what_it_can() {
        let t = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(t.unix_timestamp(), 784_111_777);
        assert!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT").is_none());
        let vars = [("url".to_owned(), VarSpec::Plain("https://h.example".into()))].into_iter().collect();
        assert_eq!(reachable_part("{url}/api/v1/users/{user_id}/x", &vars).unwrap(), "https://h.example/api/v1/users/");
        assert!(reachable_part("{base}/x", &vars).is_none());
    }

    #[test]
    fn hints_name_the_fix() {
        assert!(hint("dns error: failed to lookup address information").contains("resolve"));
        assert!(hint("invalid peer certificate: UnknownIssuer").contains("ca_file"));
        assert!(hint("Connection refused (os error 111)").contains("listens"));
    }
}
