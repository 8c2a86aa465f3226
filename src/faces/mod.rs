//! The faces: what callers see. `shell` prints plain text, `protocol` speaks JSON lines; `kubectl`, `git`,
//! `cargo`, `docker`, `goauth` (Go), `terraform` and `bazel` speak those tools' helper protocols; `setup` writes a profile and
//! `check` checks the configuration.
//!
//! Each face is a thin adapter over the broker, and they share what is here: [`App`], whose openings load the
//! configuration, choose the profile and make the broker (`open_profile` by name or the defaults; `open_for_url`
//! for tools that name a URL or host, whose `None` a face answers with its tool's own "no credentials"; `open` for
//! faces that choose themselves, as `status`, `protocol` and git do); [`is_plain_host`], [`cleartext_allowed`] and
//! [`read_request`], the checks every tool face makes of what a tool sends; [`render`] and [`token_json`], so
//! `get -o json` and the protocol's answer carry the same fields; and [`write_out`], the one way to stdout. The fast
//! path of a cache hit is `quick`.

pub(crate) mod bazel;
pub(crate) mod cargo;
pub(crate) mod check;
pub(crate) mod docker;
pub(crate) mod git;
pub(crate) mod goauth;
pub(crate) mod kubectl;
pub(crate) mod protocol;
pub(crate) mod quick;
pub(crate) mod secret;
pub(crate) mod setup;
pub(crate) mod shell;
pub(crate) mod terraform;

use std::io::{BufRead, Read, Write};
use std::path::PathBuf;

use reqwest::Url;
use serde_json::{Value, json};

use crate::broker::{Broker, Served, Status};
use crate::cli::Format;
use crate::environment::{self, Env};
use crate::error::{Error, Result};
use crate::profile::{self, Config, Profile};
use crate::store::Cache;

/// What every command needs: the environment and the global flags.
pub(crate) struct App {
    /// The process environment.
    pub(crate) env: Env,
    /// `--config`.
    pub(crate) config_flag: Option<PathBuf>,
    /// `--no-input`.
    pub(crate) no_input: bool,
}

/// A loaded configuration and a broker for its profiles.
struct Opened<'a> {
    /// The configuration.
    pub(crate) config: Config,
    /// The broker.
    pub(crate) broker: Broker<'a>,
    env: &'a Env,
}

impl Opened<'_> {
    /// The profile named, or matched by `url`, or the default one ([`Config::choose`]).
    pub(crate) fn choose(&self, name: Option<&str>, url: Option<&str>) -> Result<&Profile> {
        self.config.choose(name, url, self.env)
    }

    /// What `status` reports: the profile named or matched by `url`, else every profile.
    pub(crate) fn statuses(&self, name: Option<&str>, url: Option<&str>) -> Result<Vec<Status>> {
        let chosen = match (name, url) {
            (None, None) => self.config.profiles.values().collect(),
            (name, url) => vec![self.choose(name, url)?],
        };
        let now = crate::clock::now();
        chosen.into_iter().map(|p| self.broker.status(p, now)).collect()
    }
}

impl App {
    /// Loads the configuration (printing its warnings) and makes a broker on the cache directory for it.
    fn open(&self) -> Result<Opened<'_>> {
        let config = self.load()?;
        let broker = self.broker(&config)?;
        Ok(Opened { config, broker, env: &self.env })
    }

    /// Loads the configuration, printing its warnings.
    pub(crate) fn load(&self) -> Result<Config> {
        let path = crate::store::paths::config_file(self.config_flag.as_deref(), &self.env)?;
        let config = profile::load(&path)?;
        for warning in &config.warnings {
            crate::log::warn(format_args!("{warning}"));
        }
        Ok(config)
    }

    /// A broker on the cache directory, for the profiles of `config`. Made only once a profile was chosen, by the
    /// faces that may choose none: a host no profile covers needs no cache, and so fails on none of its settings.
    fn broker(&self, config: &Config) -> Result<Broker<'_>> {
        Ok(Broker {
            env: &self.env,
            cache: Cache::new(crate::store::paths::cache_dir(&self.env)?),
            may_prompt: !self.no_input && !self.env.flag(environment::NO_INPUT),
            lock_timeout: self.env.lock_timeout().map_err(Error::Config)?,
            // A configuration that deserves a warning is never stamped: it always takes the full path, so the
            // warning is printed on every call, cache hits included.
            config_stamp: config.stamp.clone().filter(|_| config.warnings.is_empty()),
        })
    }

    /// The shared opening of a face that serves one profile: [`App::open`], then the profile chosen by `name`,
    /// `url`, or the defaults.
    fn open_profile(&self, name: Option<&str>, url: Option<&str>) -> Result<(Broker<'_>, Profile)> {
        let opened = self.open()?;
        let profile = opened.choose(name, url)?.clone();
        Ok((opened.broker, profile))
    }

    /// [`App::open_for_url`], or, with `name`, that profile (an unknown name is an error) but only when its `match`
    /// covers `url` too: an explicit profile chooses among the profiles for a URL, never where a token may go. A
    /// named profile that does not cover `url` is the tool's "no credentials" too, with a warning saying what to add
    /// (the tool faces agree on this; git, whose `--profile` predates them, refuses with an error instead).
    pub(crate) fn open_named_for_url(&self, name: Option<&str>, url: &Url) -> Result<Option<(Broker<'_>, Profile)>> {
        let shown = crate::net::http::redacted(url);
        let Some(name) = name else {
            let found = self.open_for_url(url.as_str())?;
            if found.is_none() {
                crate::log::debug(format_args!("no profile's `match` covers {shown}"));
            }
            return Ok(found);
        };
        let config = self.load()?;
        let profile = config.choose(Some(name), None, &self.env)?;
        if !profile.covers(url.as_str()) {
            let matches = if profile.matches.is_empty() { "none".to_owned() } else { profile.matches.join(", ") };
            crate::log::warn(format_args!(
                "profile {name:?} does not cover {shown} (its `match`: {matches}), so it gets no token there; add that \
                 URL to the profile's `match` to give it one"
            ));
            return Ok(None);
        }
        Ok(Some((self.broker(&config)?, profile.clone())))
    }

    /// The opening of a face for a tool that names the URL (or host) it wants credentials for: the profile whose
    /// `match` covers `url` most specifically, as `--url` chooses. `None` when no profile covers it, which such a
    /// face answers with its tool's own "no credentials", never with another profile's token.
    pub(crate) fn open_for_url(&self, url: &str) -> Result<Option<(Broker<'_>, Profile)>> {
        let config = self.load()?;
        let Some(profile) = config.by_url(url).cloned() else { return Ok(None) };
        Ok(Some((self.broker(&config)?, profile)))
    }
}

/// Writes `text` to stdout and flushes; a failure is [`Error::Output`], which `main` reports once (a reader that
/// went away, `| head`, is no error there).
pub(crate) fn write_out(out: &mut dyn Write, text: &str) -> Result<()> {
    write_bytes(out, text.as_bytes())
}

/// [`write_out`] for bytes.
pub(crate) fn write_bytes(out: &mut dyn Write, bytes: &[u8]) -> Result<()> {
    out.write_all(bytes).and_then(|()| out.flush()).map_err(Error::Output)
}

/// True when `host`, a `host[:port]` a tool named, is exactly what `url` (made from it) gives back: letters, digits
/// and `.-_:[]` only, and the same host and port once the parser has lowercased it and dropped the scheme's default
/// port. So no user, path or second host can hide in it.
pub(crate) fn is_plain_host(host: &str, url: &Url) -> bool {
    let allowed = |c: char| c.is_ascii_alphanumeric() || ".-_:[]".contains(c);
    let authority = match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        (None, _) => return false,
    };
    let default_port = match url.scheme() {
        "https" => ":443",
        "http" => ":80",
        _ => ":",
    };
    let same = authority.eq_ignore_ascii_case(host)
        || host.strip_suffix(default_port).is_some_and(|h| h.eq_ignore_ascii_case(&authority));
    !host.is_empty() && host.chars().all(allowed) && same
}

/// Refuses to hand `profile`'s token for `url` when the tool would send it in clear (any scheme but https and
/// grpcs) to a host that is not loopback, unless the profile sets `allow_http`: the rule of tokenfob's own requests,
/// and Git Credential Manager's. A token sent in clear is a token given away.
pub(crate) fn cleartext_allowed(profile: &Profile, url: &Url) -> Result<()> {
    let encrypted = matches!(url.scheme(), "https" | "grpcs");
    if encrypted || profile.net.allow_http || crate::net::http::is_loopback(url) {
        return Ok(());
    }
    let scheme = url.scheme();
    Err(Error::Config(format!(
        "refusing to give the token of profile {:?} to {} over an unencrypted {scheme} connection (plain {scheme}: use \
         https, or set allow_http = true in the profile)",
        profile.name,
        crate::net::http::redacted(url)
    )))
}

/// The longest request line accepted by the faces that read lines (`protocol`, `cargo`).
pub(crate) const MAX_LINE: usize = 64 * 1024;

/// Reads one line without its newline; `Some(true)` when it was longer than the cap (the rest is skipped).
pub(crate) fn read_line(input: &mut dyn BufRead, line: &mut Vec<u8>) -> std::io::Result<Option<bool>> {
    let mut too_long = false;
    let mut any = false;
    loop {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            return Ok(any.then_some(too_long));
        }
        any = true;
        let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], Some(i + 1)),
            None => (buf, None),
        };
        if line.len() + chunk.len() > MAX_LINE {
            too_long = true;
        } else {
            line.extend_from_slice(chunk);
        }
        let used = done.unwrap_or(buf.len());
        input.consume(used);
        if done.is_some() {
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return Ok(Some(too_long));
        }
    }
}

/// All of `input` up to its end, for a face whose tool writes one request and closes the pipe; more than `max`
/// bytes is [`Error::BadRequest`] (nothing past the cap is read, so a runaway writer cannot exhaust memory).
pub(crate) fn read_request(input: &mut dyn Read, max: usize, what: &str) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let cap = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    input.take(cap).read_to_end(&mut bytes).map_err(Error::Input)?;
    if bytes.len() > max {
        zeroize::Zeroize::zeroize(&mut bytes);
        return Err(Error::BadRequest(format!("{what} on stdin is more than {max} bytes")));
    }
    Ok(bytes)
}

/// The `Authorization` header line for `token`.
fn header_line(token: &str) -> String {
    format!("Authorization: Bearer {token}")
}

/// The token in `format`, with a trailing newline.
fn render(format: Format, served: &Served) -> String {
    let token = served.token().expose();
    match format {
        Format::Token => format!("{token}\n"),
        Format::Header => format!("{}\n", header_line(token)),
        Format::Bearer => format!("Bearer {token}\n"),
        Format::Json => format!("{}\n", Value::Object(token_json(served))),
        // curl's config syntax: inside double quotes, backslash and quote are escaped.
        Format::Curl => format!("header = \"{}\"\n", header_line(token).replace('\\', "\\\\").replace('"', "\\\"")),
    }
}

/// `{"profile","token","token_type","expires_at","header"}`.
fn token_json(served: &Served) -> serde_json::Map<String, Value> {
    let token = served.token().expose();
    let object = json!({
        "profile": served.profile(),
        "token": token,
        "token_type": "Bearer",
        "expires_at": served.expires_at().map(crate::clock::rfc3339),
        "header": header_line(token),
    });
    match object {
        Value::Object(map) => map,
        _ => unreachable!("json! of an object literal"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn served() -> Served {
        Served::new("od", Secret::new("a\"b\\c".into()), crate::clock::parse_rfc3339("2026-01-01T00:00:00Z")).unwrap()
    }

    #[test]
    fn renders_every_format_exactly() {
        let s = served();
        assert_eq!(render(Format::Token, &s), "a\"b\\c\n");
        assert_eq!(render(Format::Header, &s), "Authorization: Bearer a\"b\\c\n");
        assert_eq!(render(Format::Bearer, &s), "Bearer a\"b\\c\n");
        assert_eq!(render(Format::Curl, &s), "header = \"Authorization: Bearer a\\\"b\\\\c\"\n");
        assert_eq!(
            render(Format::Json, &s),
            "{\"expires_at\":\"2026-01-01T00:00:00Z\",\"header\":\"Authorization: Bearer a\\\"b\\\\c\",\
             \"profile\":\"od\",\"token\":\"a\\\"b\\\\c\",\"token_type\":\"Bearer\"}\n"
        );
    }
}
