//! Every path tokenfob uses: the configuration file and the cache directory.
//!
//! `--config`, else `$TOKENFOB_CONFIG`, else `<user config dir>/tokenfob/config.toml`; the cache is
//! `$TOKENFOB_CACHE_DIR`, else `<user cache dir>/tokenfob/`. The user directories follow the XDG base directory
//! rules (`$XDG_CONFIG_HOME`, else `~/.config`; `$XDG_CACHE_HOME`, else `~/.cache`; a relative value is ignored),
//! and macOS's own places (`~/Library/Application Support`, `~/Library/Caches`), the same ones the `directories`
//! crate gives. On Windows the configuration is `%APPDATA%\tokenfob\config.toml` (the roaming profile, as git and
//! kubectl keep theirs) and the cache `%LOCALAPPDATA%\tokenfob\cache` (never roamed to another machine). They are worked out here from the [`Env`] snapshot, so tests can set them and a cache hit computes
//! only the two it needs. tokenfob runs in whatever directory its caller is in (git runs helpers inside work trees),
//! so a relative `TOKENFOB_*` path is refused rather than resolved there, and every path is normalized (no trailing
//! `/` or `.`), so that a check of "the last component is not a symlink" means what it says (issue #10).

use std::path::{Component, Path, PathBuf};

use crate::environment::{self, Env};
use crate::error::{Error, Result};

/// The configuration file to read.
pub(crate) fn config_file(flag: Option<&Path>, env: &Env) -> Result<PathBuf> {
    if let Some(path) = flag {
        // Typed by the user where it applies (a relative one names a file in the directory it was typed in).
        return Ok(normalize(path));
    }
    if let Some(path) = env.get(environment::CONFIG) {
        return absolute(environment::CONFIG, path);
    }
    platform::config_file(env)
}

/// The cache directory.
pub(crate) fn cache_dir(env: &Env) -> Result<PathBuf> {
    if let Some(path) = env.get(environment::CACHE_DIR) {
        return absolute(environment::CACHE_DIR, path);
    }
    platform::cache_dir(env)
}

/// The default places: the user profile's on Windows, the XDG or macOS ones elsewhere.
#[cfg(windows)]
mod platform {
    use super::*;

    pub(super) fn config_file(env: &Env) -> Result<PathBuf> {
        Ok(windows_dir(env, "APPDATA")?.join("tokenfob").join("config.toml"))
    }

    pub(super) fn cache_dir(env: &Env) -> Result<PathBuf> {
        Ok(windows_dir(env, "LOCALAPPDATA")?.join("tokenfob").join("cache"))
    }
}

/// The default places: the user profile's on Windows, the XDG or macOS ones elsewhere.
#[cfg(not(windows))]
mod platform {
    use super::*;

    pub(super) fn config_file(env: &Env) -> Result<PathBuf> {
        Ok(user_dir(env, "XDG_CONFIG_HOME", ".config", "Library/Application Support")?.join("tokenfob/config.toml"))
    }

    pub(super) fn cache_dir(env: &Env) -> Result<PathBuf> {
        Ok(user_dir(env, "XDG_CACHE_HOME", ".cache", "Library/Caches")?.join("tokenfob"))
    }
}

/// A Windows profile directory from `%<variable>%` (`APPDATA`, `LOCALAPPDATA`), which must be an absolute path.
#[cfg_attr(not(windows), allow(dead_code))]
fn windows_dir(env: &Env, variable: &str) -> Result<PathBuf> {
    match env.get(variable).map(Path::new) {
        Some(dir) if dir.is_absolute() => Ok(normalize(dir)),
        _ => Err(Error::Config(format!(
            "finding the user profile: %{variable}% is not set to an absolute path (set it, or {} and {})",
            environment::CONFIG,
            environment::CACHE_DIR
        ))),
    }
}

/// A user directory: on macOS `~/<macos>`; elsewhere `$<xdg_variable>` when it is an absolute path (the XDG rule: a
/// relative one is ignored), else `~/<xdg_default>`.
#[cfg_attr(windows, allow(dead_code))]
fn user_dir(env: &Env, xdg_variable: &str, xdg_default: &str, macos: &str) -> Result<PathBuf> {
    if cfg!(target_os = "macos") {
        return Ok(home(env)?.join(macos));
    }
    match env.get(xdg_variable).map(Path::new) {
        Some(dir) if dir.is_absolute() => Ok(normalize(dir)),
        _ => Ok(home(env)?.join(xdg_default)),
    }
}

/// `$HOME`, which must be an absolute path.
#[cfg_attr(windows, allow(dead_code))]
fn home(env: &Env) -> Result<PathBuf> {
    match env.get("HOME").map(Path::new) {
        Some(home) if home.is_absolute() => Ok(normalize(home)),
        _ => Err(Error::Config(format!(
            "finding the home directory: $HOME is not set to an absolute path (set HOME, or {} and {})",
            environment::CONFIG,
            environment::CACHE_DIR
        ))),
    }
}

/// The value of a path variable, which must be absolute: an inherited variable is used in whatever directory the
/// caller runs tokenfob, and a relative cache there would put tokens into a git work tree.
fn absolute(variable: &str, value: &str) -> Result<PathBuf> {
    let path = Path::new(value);
    if path.is_absolute() {
        return Ok(normalize(path));
    }
    Err(Error::Config(format!(
        "{variable}={value:?} is not an absolute path (set it to one: tokenfob runs in its caller's current \
         directory, and git runs helpers inside work trees)"
    )))
}

/// `path` without `.` components and trailing slashes: `dir/` resolves a symlink `dir` even under `lstat` and
/// `O_NOFOLLOW`, `dir` does not.
pub(super) fn normalize(path: &Path) -> PathBuf {
    let mut out: PathBuf = path.components().filter(|c| !matches!(c, Component::CurDir)).collect();
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(all(unix, not(target_os = "macos")))]
    fn follows_the_xdg_rules() {
        let env = Env::from_pairs([("HOME", "/home/u")]);
        assert_eq!(config_file(None, &env).unwrap(), Path::new("/home/u/.config/tokenfob/config.toml"));
        assert_eq!(cache_dir(&env).unwrap(), Path::new("/home/u/.cache/tokenfob"));
        let env = Env::from_pairs([("HOME", "/home/u"), ("XDG_CONFIG_HOME", "/cfg"), ("XDG_CACHE_HOME", "/c")]);
        assert_eq!(config_file(None, &env).unwrap(), Path::new("/cfg/tokenfob/config.toml"));
        assert_eq!(cache_dir(&env).unwrap(), Path::new("/c/tokenfob"));
        let relative = Env::from_pairs([("HOME", "/home/u"), ("XDG_CACHE_HOME", "c")]);
        assert_eq!(cache_dir(&relative).unwrap(), Path::new("/home/u/.cache/tokenfob"));
        let slashes = Env::from_pairs([("HOME", "/home/u/"), ("XDG_CACHE_HOME", "/c/./")]);
        assert_eq!(cache_dir(&slashes).unwrap(), Path::new("/c/tokenfob"));
    }

    #[test]
    #[cfg(unix)]
    fn own_variables_must_be_absolute_and_lose_trailing_slashes() {
        let env = Env::from_pairs([("TOKENFOB_CONFIG", "/x/./c.toml"), ("TOKENFOB_CACHE_DIR", "/cache/link/")]);
        assert_eq!(config_file(None, &env).unwrap().as_os_str(), "/x/c.toml");
        assert_eq!(cache_dir(&env).unwrap().as_os_str(), "/cache/link");
        let env = Env::from_pairs([("TOKENFOB_CONFIG", "c.toml"), ("TOKENFOB_CACHE_DIR", "cache")]);
        assert!(config_file(None, &env).unwrap_err().to_string().contains("TOKENFOB_CONFIG=\"c.toml\" is not an"));
        assert!(cache_dir(&env).unwrap_err().to_string().contains("TOKENFOB_CACHE_DIR=\"cache\" is not an"));
        assert_eq!(config_file(Some(Path::new("./c.toml")), &env).unwrap().as_os_str(), "c.toml");
    }

    #[test]
    #[cfg(unix)]
    fn own_variables_and_the_flag_come_first_and_home_is_needed_otherwise() {
        let env = Env::from_pairs([("TOKENFOB_CONFIG", "/x.toml"), ("TOKENFOB_CACHE_DIR", "/cache")]);
        assert_eq!(config_file(None, &env).unwrap(), Path::new("/x.toml"));
        assert_eq!(config_file(Some(Path::new("/y.toml")), &env).unwrap(), Path::new("/y.toml"));
        assert_eq!(cache_dir(&env).unwrap(), Path::new("/cache"));
        for env in [Env::default(), Env::from_pairs([("HOME", "relative")])] {
            let e = cache_dir(&env).unwrap_err().to_string();
            assert!(e.contains("HOME") && e.contains("TOKENFOB_CACHE_DIR"), "{e}");
        }
    }

    #[test]
    fn the_windows_profile_directories_must_be_absolute() {
        // Absolute on the platform the test runs on (this also runs in the Windows unit tests).
        let (roaming, normalized) =
            if cfg!(windows) { ("C:\\p\\Roaming\\", "C:\\p\\Roaming") } else { ("/p/Roaming/", "/p/Roaming") };
        let env = Env::from_pairs([("APPDATA", roaming), ("LOCALAPPDATA", "relative")]);
        assert_eq!(windows_dir(&env, "APPDATA").unwrap(), Path::new(normalized));
        let e = windows_dir(&env, "LOCALAPPDATA").unwrap_err().to_string();
        assert!(e.contains("%LOCALAPPDATA% is not set to an absolute path") && e.contains("TOKENFOB_CACHE_DIR"), "{e}");
    }

    #[test]
    #[cfg(windows)]
    fn on_windows_the_defaults_are_under_appdata_and_localappdata() {
        let env = Env::from_pairs([("APPDATA", "C:\\p\\Roaming"), ("LOCALAPPDATA", "C:\\p\\Local"), ("HOME", "/h")]);
        assert_eq!(config_file(None, &env).unwrap(), Path::new("C:\\p\\Roaming\\tokenfob\\config.toml"));
        assert_eq!(cache_dir(&env).unwrap(), Path::new("C:\\p\\Local\\tokenfob\\cache"));
        let env = Env::from_pairs([("TOKENFOB_CACHE_DIR", "C:\\c\\"), ("TOKENFOB_CONFIG", "c.toml")]);
        assert_eq!(cache_dir(&env).unwrap(), Path::new("C:\\c"));
        assert!(config_file(None, &env).unwrap_err().to_string().contains("is not an absolute path"));
    }
}
