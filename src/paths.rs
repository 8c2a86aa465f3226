//! Every path tokenfob uses (the configuration file and the cache directory), and how a file named by the user is
//! read.
//!
//! `--config`, else `$TOKENFOB_CONFIG`, else `<user config dir>/tokenfob/config.toml`; the cache is
//! `$TOKENFOB_CACHE_DIR`, else `<user cache dir>/tokenfob/`. The user directories follow the XDG base directory
//! rules (`$XDG_CONFIG_HOME`, else `~/.config`; `$XDG_CACHE_HOME`, else `~/.cache`; a relative value is ignored),
//! and macOS's own places (`~/Library/Application Support`, `~/Library/Caches`), the same ones the `directories`
//! crate gives. They are worked out here from the [`Env`] snapshot, so tests can set them and a cache hit computes
//! only the two it needs. tokenfob runs in whatever directory its caller is in (git runs helpers inside work trees),
//! so a relative `TOKENFOB_*` path is refused rather than resolved there, and every path is normalized (no trailing
//! `/` or `.`), so that a check of "the last component is not a symlink" means what it says (issue #10).
//!
//! [`read_regular`] is the one way a file the user names (the configuration, a `{ file = ... }` secret, a
//! `ca_file`) is read: never blocking on a FIFO, only a regular file, at most a given size.

use std::fs::{File, Metadata, OpenOptions};
use std::io::{ErrorKind, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

use crate::environment::{self, Env};
use crate::error::{Error, Result};

/// The configuration file to read.
pub fn config_file(flag: Option<&Path>, env: &Env) -> Result<PathBuf> {
    if let Some(path) = flag {
        // Typed by the user where it applies (a relative one names a file in the directory it was typed in).
        return Ok(normalize(path));
    }
    if let Some(path) = env.get(environment::CONFIG) {
        return absolute(environment::CONFIG, path);
    }
    Ok(user_dir(env, "XDG_CONFIG_HOME", ".config", "Library/Application Support")?.join("tokenfob/config.toml"))
}

/// The cache directory.
pub fn cache_dir(env: &Env) -> Result<PathBuf> {
    if let Some(path) = env.get(environment::CACHE_DIR) {
        return absolute(environment::CACHE_DIR, path);
    }
    Ok(user_dir(env, "XDG_CACHE_HOME", ".cache", "Library/Caches")?.join("tokenfob"))
}

/// A user directory: on macOS `~/<macos>`; elsewhere `$<xdg_variable>` when it is an absolute path (the XDG rule: a
/// relative one is ignored), else `~/<xdg_default>`.
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
pub(crate) fn normalize(path: &Path) -> PathBuf {
    let mut out: PathBuf = path.components().filter(|c| !matches!(c, Component::CurDir)).collect();
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// Reads the regular file at `path` (following symlinks), at most `limit` bytes, with its metadata. It is opened
/// without blocking, so a FIFO or device there is an error naming what it is, never a hang, and a device such as
/// `/dev/zero` is never read. `O_NONBLOCK` changes nothing for a regular file, so it is left set.
pub fn read_regular(path: &Path, limit: u64) -> std::io::Result<(Vec<u8>, Metadata)> {
    let mut file = OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY).open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(not_regular(&meta));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len().min(limit)).unwrap_or(0).saturating_add(1));
    Read::by_ref(&mut file).take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::new(ErrorKind::InvalidData, format!("it is larger than {limit} bytes")));
    }
    Ok((bytes, meta))
}

/// The error for a file that should be a regular file and is not.
pub(crate) fn not_regular(meta: &Metadata) -> std::io::Error {
    std::io::Error::new(ErrorKind::InvalidInput, format!("it is a {}, not a regular file", kind(meta)))
}

/// What kind of file `meta` describes, in words.
pub(crate) fn kind(meta: &Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    let kinds = [
        (t.is_file(), "regular file"),
        (t.is_dir(), "directory"),
        (t.is_symlink(), "symlink"),
        (t.is_fifo(), "fifo"),
        (t.is_socket(), "socket"),
        (t.is_char_device(), "character device"),
        (t.is_block_device(), "block device"),
    ];
    kinds.iter().find(|(is, _)| *is).map_or("special file", |(_, name)| name)
}

/// Opens `dir` as a directory, never following a symlink in its last component and never blocking.
pub(crate) fn open_dir(dir: &Path) -> std::io::Result<File> {
    OpenOptions::new().read(true).custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_NONBLOCK).open(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(not(target_os = "macos"))]
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
    fn read_regular_refuses_what_is_not_a_regular_file_and_bounds_the_size() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"12345").unwrap();
        assert_eq!(read_regular(&file, 5).unwrap().0, b"12345");
        assert!(read_regular(&file, 4).unwrap_err().to_string().contains("larger than 4 bytes"));
        for (odd, what) in [("/dev/zero", "character device"), ("/", "directory")] {
            assert_eq!(
                read_regular(Path::new(odd), 10).unwrap_err().to_string(),
                format!("it is a {what}, not a regular file")
            );
        }
    }

    #[test]
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
}
