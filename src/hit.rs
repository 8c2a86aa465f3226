//! The cache-hit shortcut: `tokenfob get PROFILE [-o FORMAT]` and `tokenfob kubectl PROFILE` answered from the
//! cache without clap or the TOML parser.
//!
//! A cache hit is the whole run for most calls, and paging in the argument and config parsers was most of its cost
//! (docs/performance.md). Every entry records the configuration file it was made with (path, mode, and the SHA-256
//! of the bytes that were parsed) and the profile's refresh margin; a configuration that draws a warning is never
//! stamped, so its warning is never skipped. When the command line is one of the plain forms above, the
//! configuration file still hashes the same (it is read and hashed, never parsed), and the token is fresh, the
//! answer is printed from the entry alone; the cache's ownership and permission checks still apply. Anything else
//! (another form, another flag, an edited configuration, a stale token, any doubt) returns `false`, and the full
//! path runs.

use std::io::Write;
use std::time::Duration;

use time::OffsetDateTime;

use crate::broker::Served;
use crate::cache::{Cache, ConfigStamp};
use crate::cli::Format;
use crate::environment::Env;

/// What the shortcut can answer.
enum Ask<'a> {
    Get { profile: &'a str, format: Format },
    Kubectl { profile: &'a str },
}

/// Answers a plain `get` or `kubectl` from a fresh cache entry; false when the full path must run.
pub fn answer(args: &[String], env: &Env, out: &mut dyn Write) -> bool {
    let Some(ask) = parse(args) else { return false };
    let (Ask::Get { profile, .. } | Ask::Kubectl { profile }) = ask;
    let now = crate::clock::now();
    let Some(served) = fresh(profile, env, now) else { return false };
    let text = match ask {
        Ask::Get { format, .. } => crate::faces::render(format, &served),
        Ask::Kubectl { .. } => match crate::faces::kubectl::exec_info(env.get("KUBERNETES_EXEC_INFO")) {
            Ok(info) => format!("{}\n", crate::faces::kubectl::credential(&info, &served, now)),
            Err(_) => return false,
        },
    };
    // A reader that went away is still an answer given; the full path would fare no better.
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    true
}

/// The plain forms, and nothing else.
fn parse(args: &[String]) -> Option<Ask<'_>> {
    let format = |name: &str| match name {
        "token" => Some(Format::Token),
        "header" => Some(Format::Header),
        "json" => Some(Format::Json),
        "curl" => Some(Format::Curl),
        _ => None,
    };
    // A profile name becomes a file name in the cache directory: only names the configuration could hold.
    let plain = |p: &str| !p.starts_with('-') && crate::config::check_name(p).is_ok();
    match args {
        [cmd, p] if cmd == "get" && plain(p) => Some(Ask::Get { profile: p, format: Format::Token }),
        [cmd, p, flag, f] if cmd == "get" && plain(p) && (flag == "-o" || flag == "--output") => {
            Some(Ask::Get { profile: p, format: format(f)? })
        }
        [cmd, p] if cmd == "kubectl" && plain(p) => Some(Ask::Kubectl { profile: p }),
        _ => None,
    }
}

/// The cached token of `profile`, if the entry was made with the configuration file as it is now
/// (the same bytes, not only the same inode, size and time: issue #10) and the token is fresh at `now`.
fn fresh(profile: &str, env: &Env, now: OffsetDateTime) -> Option<Served> {
    let config = crate::paths::config_file(None, env).ok()?;
    let stamp = ConfigStamp::of(&config)?;
    let entry = Cache::new(crate::paths::cache_dir(env).ok()?).read(profile).ok()??;
    if entry.config.as_ref() != Some(&stamp) {
        return None;
    }
    // An absurd margin (a damaged or forged entry) is a miss: the full path uses the configuration's own.
    let margin = Some(Duration::from_millis(entry.margin_ms?)).filter(|m| *m <= crate::duration::MAX)?;
    let need = crate::token::Need::margin(margin);
    crate::token::check(entry.token.is_some(), entry.obtained_at, entry.expires_at, now, need).ok()?;
    let renew_at = entry.expires_at.and_then(|at| crate::token::renew_at(entry.obtained_at, at, need));
    Some(Served::new(profile, entry.token?, entry.expires_at).ok()?.renewing_at(renew_at))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn only_the_plain_forms_take_the_shortcut() {
        assert!(matches!(parse(&args(&["get", "od"])), Some(Ask::Get { profile: "od", format: Format::Token })));
        assert!(matches!(parse(&args(&["get", "od", "-o", "json"])), Some(Ask::Get { format: Format::Json, .. })));
        assert!(matches!(parse(&args(&["kubectl", "od"])), Some(Ask::Kubectl { profile: "od" })));
        for other in [
            &["get"][..],
            &["get", "--url", "https://x"],
            &["get", "od", "--min-valid", "10m"],
            &["get", "od", "-o", "yaml"],
            &["--config", "c.toml", "get", "od"],
            &["get", "-o", "json"],
            &["login", "od"],
            &["kubectl"],
            &["get", "../elsewhere"],
            &["kubectl", ".hidden"],
        ] {
            assert!(parse(&args(other)).is_none(), "{other:?}");
        }
    }
}
