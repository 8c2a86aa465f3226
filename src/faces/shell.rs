//! The shell face: `get`, `login`, `erase`, `logout` and `status` as plain text, and `exec`. It never reads stdin.

use std::io::Write;
use std::time::Duration;

use super::{App, write_out as write};
use crate::broker::Served;
use crate::cli::Format;
use crate::error::{Error, Result};
use crate::secret::Secret;

/// `tokenfob get`.
pub(crate) fn get(
    app: &App,
    profile: Option<&str>,
    url: Option<&str>,
    format: Format,
    min_valid: Option<Duration>,
    out: &mut dyn Write,
) -> Result<()> {
    let (broker, profile) = app.open_profile(profile, url)?;
    let served = broker.get(&profile, min_valid, crate::clock::now())?;
    print(format, &served, out)
}

/// Prints `served` in `format` (also the fast path's answer).
pub(crate) fn print(format: Format, served: &Served, out: &mut dyn Write) -> Result<()> {
    write(out, &super::render(format, served))
}

/// `tokenfob login`.
pub(crate) fn login(app: &App, profile: Option<&str>, out: &mut dyn Write) -> Result<()> {
    let (broker, profile) = app.open_profile(profile, None)?;
    let served = broker.login(&profile, crate::clock::now())?;
    let until =
        served.expires_at().map_or("does not expire".into(), |t| format!("expires {}", crate::clock::rfc3339(t)));
    write(out, &format!("logged in to profile {} (the token {until})\n", served.profile()))
}

/// `tokenfob erase`.
pub(crate) fn erase(app: &App, profile: Option<&str>, token: Option<String>, out: &mut dyn Write) -> Result<()> {
    let (broker, profile) = app.open_profile(profile, None)?;
    let only = token.map(Secret::new);
    let erased = broker.erase(&profile, only.as_ref())?;
    let what = if erased { "erased the cached token" } else { "nothing to erase" };
    write(out, &format!("profile {}: {what}\n", profile.name))
}

/// `tokenfob logout`.
pub(crate) fn logout(app: &App, profile: Option<&str>, out: &mut dyn Write) -> Result<()> {
    let (broker, profile) = app.open_profile(profile, None)?;
    let (revoked, erased) = broker.logout(&profile)?;
    let what = match (revoked, erased) {
        (true, _) => "revoked the token on the server and erased it",
        (false, true) => "erased the cached token (this kind has no server-side logout)",
        (false, false) => "nothing cached",
    };
    write(out, &format!("profile {}: {what}\n", profile.name))
}

/// `tokenfob status`.
pub(crate) fn status(app: &App, profile: Option<&str>, json: bool, out: &mut dyn Write) -> Result<()> {
    let statuses = app.open()?.statuses(profile, None)?;
    if json {
        return write(out, &format!("{}\n", serde_json::json!({ "profiles": statuses })));
    }
    let mut text = format!("{:<20} {:<9} {:<9} {:<12} {}\n", "PROFILE", "KIND", "CACHED", "EXPIRES IN", "REFRESHABLE");
    for s in &statuses {
        let state = match (s.cached, s.fresh) {
            (false, _) => "no",
            (true, true) => "fresh",
            (true, false) => "stale",
        };
        let expires = match (s.cached, s.expires_in) {
            (false, _) => "-".to_owned(),
            (true, None) => "never".to_owned(),
            (true, Some(secs)) => human(secs),
        };
        let refreshable = if s.refreshable { "yes" } else { "no" };
        text.push_str(&format!("{:<20} {:<9} {:<9} {:<12} {refreshable}\n", s.profile, s.kind, state, expires));
    }
    write(out, &text)
}

/// `tokenfob exec`: replaces this process with `command`, the token in `$var` (never in argv). Windows cannot
/// replace a process: there tokenfob waits for the command and exits with its exit code.
pub(crate) fn exec(app: &App, profile: &str, var: &str, command: &[String]) -> Result<()> {
    // An empty name, or one with `=`, would run the command without the token, or with it under another name.
    if var.is_empty() || var.contains(['=', '\0']) {
        return Err(Error::Config(format!("--env {var:?} is not an environment variable name")));
    }
    let (broker, profile) = app.open_profile(Some(profile), None)?;
    let served = broker.get(&profile, None, crate::clock::now())?;
    let mut child = std::process::Command::new(&command[0]);
    child.args(&command[1..]).env(var, served.token().expose());
    let err = crate::sys::child::exec(child);
    Err(Error::system(format!("running {}", command[0]), err))
}

/// `3723` -> `1h2m`; zero or negative -> `expired`.
fn human(secs: i64) -> String {
    match u64::try_from(secs) {
        Ok(secs) if secs > 0 => crate::duration::human(std::time::Duration::from_secs(secs)),
        _ => "expired".into(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn human_durations() {
        assert_eq!(super::human(-5), "expired");
        assert_eq!(super::human(59), "59s");
        assert_eq!(super::human(3723), "1h2m");
        assert_eq!(super::human(90_000), "1d1h");
    }
}
