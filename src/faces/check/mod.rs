//! `tokenfob check`: everything that can be known about a configuration before a login fails, one line per finding.
//!
//! The file (`files`: permissions of the configuration, its directory and the cache; unknown keys with a "did you
//! mean"; each profile checked on its own, so one broken profile does not hide another's problems), the secret
//! sources (set, readable, on PATH: never resolved, so no secret is read, printed or prompted for, and no command
//! runs), `match` prefixes that overlap between profiles, and each login server (`reach`: DNS, TLS, proxy, and the
//! clock against its `Date`). The exit code is the worst finding: 0 all well, 1 warnings, 4 a server not reached,
//! 2 a configuration error.

mod files;
mod reach;

use std::io::Write;

use super::{App, write_out};
use crate::error::{Error, Result};
use crate::profile::{Profile, Source};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Level {
    /// Fine.
    Ok,
    /// Worth knowing, not wrong.
    Note,
    /// Works, but deserves attention (exit 1).
    Warning,
    /// A server could not be reached (exit 4).
    Unreachable,
    /// The configuration will not work as it is (exit 2).
    Error,
}

/// The findings so far.
#[derive(Default)]
pub(super) struct Report {
    lines: Vec<(Level, String)>,
}

impl Report {
    /// Adds a finding.
    pub(super) fn add(&mut self, level: Level, text: impl Into<String>) {
        self.lines.push((level, text.into()));
    }

    fn worst(&self) -> Level {
        self.lines.iter().map(|(l, _)| *l).max().unwrap_or(Level::Ok)
    }

    fn render(&self) -> String {
        let mut text = String::new();
        for (level, line) in &self.lines {
            let label = match level {
                Level::Ok => "ok",
                Level::Note => "note",
                Level::Warning => "warning",
                Level::Unreachable | Level::Error => "error",
            };
            text.push_str(&format!("{label:<8} {line}\n"));
        }
        text
    }

    fn count(&self, levels: &[Level]) -> usize {
        self.lines.iter().filter(|(l, _)| levels.contains(l)).count()
    }
}

/// `tokenfob check`.
pub(crate) fn run(app: &App, only: Option<&str>, offline: bool, out: &mut dyn Write) -> Result<()> {
    let mut report = Report::default();
    let path = crate::store::paths::config_file(app.config_flag.as_deref(), &app.env)?;
    let mut profiles = files::config(&path, only, &mut report);
    // By name, as `--url` breaks ties.
    if let Some(list) = &mut profiles {
        list.sort_by(|a, b| a.name.cmp(&b.name));
    }
    if let Ok(dir) = crate::store::paths::cache_dir(&app.env) {
        files::cache(&dir, &mut report);
    }
    if let Some(profiles) = &profiles {
        overlaps(profiles, only, &mut report);
        let chosen: Vec<&Profile> = profiles.iter().filter(|p| only.is_none_or(|o| o == p.name)).collect();
        if let Some(name) = only.filter(|_| chosen.is_empty()) {
            report.add(Level::Error, format!("no profile named {name:?} checks out (see above)"));
        }
        for profile in chosen {
            sources(profile, &app.env, &mut report);
            if !offline {
                reach::profile(profile, &app.env, &mut report);
            }
        }
    }
    write_out(out, &report.render())?;
    verdict(&report)
}

/// Turns the worst finding into the run's result: errors and warnings are counted on stderr with the exit code.
fn verdict(report: &Report) -> Result<()> {
    let (errors, unreachable, warnings) =
        (report.count(&[Level::Error]), report.count(&[Level::Unreachable]), report.count(&[Level::Warning]));
    let code = match report.worst() {
        Level::Ok | Level::Note => return Ok(()),
        Level::Warning => 1,
        Level::Unreachable => 4,
        Level::Error => 2,
    };
    let summary =
        format!("check found {} error(s), {} unreachable server(s) and {} warning(s)", errors, unreachable, warnings);
    Err(Error::Findings { code, summary })
}

/// Warns about `match` prefixes of two profiles where one covers the other: the more specific one wins a URL, and
/// equal ones go to the first profile by name, which is seldom what was meant.
fn overlaps(profiles: &[Profile], only: Option<&str>, report: &mut Report) {
    for (i, a) in profiles.iter().enumerate() {
        for b in &profiles[i + 1..] {
            if only.is_some_and(|o| o != a.name && o != b.name) {
                continue;
            }
            for pa in &a.matches {
                for pb in &b.matches {
                    let (ab, ba) = (crate::profile::prefix_covers(pa, pb), crate::profile::prefix_covers(pb, pa));
                    let text = match (ab, ba) {
                        (true, true) => format!(
                            "profiles {} and {} both match {pa}: URLs under it go to {} (the first by name), never \
                             to {} (give one of them a `match` of its own)",
                            a.name, b.name, a.name, b.name
                        ),
                        (true, false) => nested(a, pa, b, pb),
                        (false, true) => nested(b, pb, a, pa),
                        (false, false) => continue,
                    };
                    report.add(Level::Warning, text);
                }
            }
        }
    }
}

fn nested(wide: &Profile, wide_prefix: &str, narrow: &Profile, narrow_prefix: &str) -> String {
    format!(
        "the `match` of profile {} ({wide_prefix}) covers that of profile {} ({narrow_prefix}): URLs under \
         {narrow_prefix} go to {}, the rest to {} (if that is meant, all is well)",
        wide.name, narrow.name, narrow.name, wide.name
    )
}

/// Checks each secret source of `profile` and its command, without resolving any.
fn sources(profile: &Profile, env: &crate::environment::Env, report: &mut Report) {
    let name = &profile.name;
    match &profile.source {
        Source::Recipe(recipe) => {
            for (var, spec) in &recipe.vars {
                if let crate::recipe::VarSpec::Secret(source) = spec {
                    let (level, text) = files::source(source, env);
                    report.add(level, format!("{name}: {}: {text}", var.replace('_', " ")));
                }
            }
        }
        Source::Static(source) => {
            let (level, text) = files::source(source, env);
            report.add(level, format!("{name}: token: {text}"));
        }
        Source::Command { argv, .. } => {
            // A shell line (`sh -c LINE`, `cmd /D /S /C LINE` on Windows) is checked by the program it starts.
            let shell = crate::sys::child::SHELL;
            let line = match argv.split_last() {
                Some((line, start)) if start.len() == shell.len() && start.iter().zip(shell).all(|(a, b)| a == b) => {
                    line.clone()
                }
                _ => argv.first().cloned().unwrap_or_default(),
            };
            let (level, text) = files::program(&line, env);
            report.add(level, format!("{name}: command: {text}"));
        }
    }
}
