//! `tokenfob wire TOOL [PROFILE]`: the configuration a tool needs to get its tokens from tokenfob. Without
//! `--apply` it prints the snippet; with it, it writes the same entries where the tool reads them and makes the
//! links the tool runs (`steps`), showing each change. What each tool needs is in `tools`; what is here is shared:
//! the profile and the URL to wire ([`Ask`], [`target_url`]), and how tools are to run tokenfob ([`Place`]).
//!
//! Never a silent overwrite: every entry is read first; one that is already tokenfob's is "already wired", another
//! is a conflict (exit 7) unless `--force`, and with a conflict nothing at all is written.

mod cargo_config;
#[cfg_attr(unix, path = "platform/unix.rs")]
#[cfg_attr(windows, path = "platform/windows.rs")]
mod platform;
mod steps;
mod tools;

use std::env::consts::EXE_SUFFIX;
use std::io::Write;
use std::path::{MAIN_SEPARATOR, Path, PathBuf};

use crate::cli::WireTool;
use crate::environment::Env;
use crate::error::{Error, Result};
use crate::faces::{App, write_out};
use crate::profile::Profile;

pub(crate) use steps::Step;

/// The exec credential API version written into a kubeconfig.
pub(crate) const KUBE_API: &str = "client.authentication.k8s.io/v1";

/// What `wire` was asked.
pub(crate) struct Ask<'a> {
    /// The tool.
    pub(crate) tool: WireTool,
    /// `--apply`.
    pub(crate) apply: bool,
    /// `--force`.
    pub(crate) force: bool,
    /// `--url` / `--host`.
    pub(crate) url: Option<&'a str>,
    /// `--registry`.
    pub(crate) registry: Option<&'a str>,
}

/// Where things are: the home directory, how a tool's configuration names tokenfob, and where links go.
pub(crate) struct Place {
    /// `$HOME`.
    pub(crate) home: PathBuf,
    /// The tokenfob a link points at: the one PATH finds when that is this program, else this program.
    pub(crate) program: PathBuf,
    /// How a configuration names tokenfob: `tokenfob` when PATH finds this program under that name, else its path.
    pub(crate) command: String,
    /// Where links and scripts go (`--bin-dir`, else beside [`Place::program`]).
    pub(crate) bin_dir: PathBuf,
    /// True when [`Place::bin_dir`] is on PATH (docker looks for its helper there).
    pub(crate) bin_on_path: bool,
}

/// Runs `wire`.
pub(crate) fn run(
    app: &App,
    profile: Option<&str>,
    ask: &Ask,
    bin_dir: Option<&Path>,
    out: &mut dyn Write,
) -> Result<()> {
    let config = app.load()?;
    let profile = config.choose(profile, None, &app.env)?;
    let place = Place::find(&app.env, bin_dir)?;
    let plan = tools::plan(ask, profile, &place, &app.env)?;
    if !ask.apply {
        return write_out(out, &plan.snippet);
    }
    if plan.steps.is_empty() {
        let tool = tools::name(ask.tool);
        return Err(Error::Config(format!(
            "wire {tool} --apply: nothing to write, {} (`tokenfob wire {tool}` prints what to run)",
            plan.manual_reason
        )));
    }
    steps::apply(&plan.steps, ask.force, &place, out)
}

/// The URL to wire: `--url` (a bare `host[:port]` is read as `https://HOST/`), else the profile's first `http(s)`
/// `match` prefix. Either way the profile's `match` must cover it, as the tool faces choose by it.
pub(crate) fn target_url(profile: &Profile, given: Option<&str>) -> Result<url::Url> {
    let url = match given {
        Some(text) if text.contains("://") => parse(text)?,
        Some(host) => parse(&format!("https://{host}/"))?,
        None => {
            let first = profile.matches.iter().find(|m| m.starts_with("https://") || m.starts_with("http://"));
            let first = first.ok_or_else(|| {
                Error::Config(format!(
                    "profile {:?} has no http(s) `match` prefix to wire (add one, or pass --url)",
                    profile.name
                ))
            })?;
            parse(first)?
        }
    };
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(Error::Config(format!(
            "--url {}: not an http(s) URL with a host",
            crate::net::http::redacted(&url)
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::Config("--url: a URL with user info cannot be wired (leave the user name out)".into()));
    }
    if !profile.covers(url.as_str()) {
        return Err(Error::Config(format!(
            "profile {:?}'s `match` does not cover {url}, so tokenfob would answer nothing there (add it to `match`, or pass another --url)",
            profile.name
        )));
    }
    Ok(url)
}

fn parse(text: &str) -> Result<url::Url> {
    url::Url::parse(text).map_err(|e| Error::Config(format!("--url {text:?}: {e} (give a URL or a host[:port])")))
}

/// `host[:port]` of `url`, the port only when it is not the scheme's default.
pub(crate) fn host_port(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

impl Place {
    /// Works out the place from the environment and `--bin-dir`.
    fn find(env: &Env, bin_dir: Option<&Path>) -> Result<Place> {
        let home = platform::home(env).ok_or_else(|| {
            Error::Config(format!(
                "wire: {} is not set to an absolute path (the tools' configuration lives there)",
                platform::HOME
            ))
        })?;
        let exe = std::env::current_exe().map_err(|e| Error::system("finding tokenfob's own path", e))?;
        let exe = platform::canonical(&exe).unwrap_or(exe);
        let path_dirs: Vec<PathBuf> = env.get("PATH").map(|p| std::env::split_paths(p).collect()).unwrap_or_default();
        let on_path = path_dirs
            .iter()
            .map(|d| d.join(format!("tokenfob{EXE_SUFFIX}")))
            .find(|p| p.is_file())
            .filter(|p| platform::canonical(p).is_ok_and(|c| c == exe));
        let command = match &on_path {
            Some(_) => "tokenfob".to_owned(),
            None => exe.to_str().map(str::to_owned).ok_or_else(|| {
                Error::Config(format!("tokenfob's path {} is not UTF-8 (install it elsewhere)", exe.display()))
            })?,
        };
        let program = on_path.unwrap_or(exe);
        let bin_dir = match bin_dir {
            Some(dir) => std::path::absolute(dir).map_err(|e| Error::io("resolving --bin-dir", dir, e))?,
            None => program.parent().map(Path::to_owned).unwrap_or_default(),
        };
        let bin_on_path = path_dirs.iter().any(|d| same_dir(d, &bin_dir));
        Ok(Place { home, program, command, bin_dir, bin_on_path })
    }

    /// `path` with the home directory shown as `~`, for messages.
    pub(crate) fn show(&self, path: &Path) -> String {
        match path.strip_prefix(&self.home) {
            Ok(rest) => format!("~{MAIN_SEPARATOR}{}", rest.display()),
            Err(_) => path.display().to_string(),
        }
    }

    /// A link in the bin directory.
    pub(crate) fn link(&self, name: &str) -> PathBuf {
        self.bin_dir.join(name)
    }
}

/// `word` as one POSIX shell word (quoted only when it needs to be): how git runs a `!` helper on every system.
pub(crate) fn posix_word(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+:=@%,".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

fn same_dir(a: &Path, b: &Path) -> bool {
    a == b || platform::canonical(a).is_ok_and(|a| platform::canonical(b).is_ok_and(|b| a == b))
}
