//! What `check` learns from files alone: the configuration's permissions and content, the cache directory's
//! permissions, and whether each secret source could be read (set, readable, on PATH), never reading it.

use std::path::Path;

use super::{Level, Report};
use crate::config::keys;
use crate::environment::Env;
use crate::fileid::MAX_CONFIG;
use crate::profile::Profile;
use crate::secret::SecretSource;
use crate::sys::protect::{self, MAKE_PRIVATE, OTHERS, PRIVATE_DIR};

/// Checks the configuration file at `path`; returns the profiles that check out, or `None` when the file cannot
/// be read as TOML at all.
pub(super) fn config(path: &Path, only: Option<&str>, report: &mut Report) -> Option<Vec<Profile>> {
    let shown = path.display();
    let (bytes, meta) = match crate::sys::fs::read_regular(path, MAX_CONFIG) {
        Ok(read) => read,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            report.add(Level::Error, format!("{shown}: there is no configuration here (run `tokenfob setup`)"));
            return None;
        }
        Err(e) => {
            report.add(Level::Error, format!("{shown}: {e}"));
            return None;
        }
    };
    let Ok(text) = String::from_utf8(bytes) else {
        report.add(Level::Error, format!("{shown}: it is not UTF-8 text"));
        return None;
    };
    permissions(path, &meta, "configuration file", report);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && let Ok(meta) = std::fs::metadata(dir)
    {
        permissions(dir, &meta, "configuration directory", report);
    }
    let unknown = match keys::unknown_keys(&text) {
        Ok(unknown) => unknown,
        Err(why) => {
            report.add(Level::Error, format!("{shown}:{why} (it is not TOML)"));
            return None;
        }
    };
    for u in &unknown {
        let hint = u.suggestion.map_or("remove it".to_owned(), |s| format!("did you mean `{s}`?"));
        report.add(Level::Error, format!("{shown}:{}: unknown key `{}` ({hint})", u.line, u.path));
    }
    let profiles = profiles(&text, path, &unknown, only, report);
    if profiles.iter().any(|p| p.literal_secret) && protect::config_readable_by_others(path, &meta) {
        let fix = protect::fix(path, false);
        report.add(Level::Error, format!("{shown} holds a secret as text and others can read it ({fix})"));
    }
    Some(profiles)
}

/// Each profile checked on its own (unknown keys left out, they are reported already), so that every broken
/// profile is named; then `default_profile`.
fn profiles(
    text: &str,
    path: &Path,
    unknown: &[keys::Unknown],
    only: Option<&str>,
    report: &mut Report,
) -> Vec<Profile> {
    let mut good = Vec::new();
    let Ok(doc) = text.parse::<toml_edit::DocumentMut>() else { return good };
    let names: Vec<String> = doc
        .get("profiles")
        .and_then(toml_edit::Item::as_table_like)
        .map(|t| t.iter().map(|(k, _)| k.to_owned()).collect())
        .unwrap_or_default();
    for name in &names {
        if only.is_some_and(|o| o != name) {
            continue;
        }
        let alone = keys::profile_alone(&doc, name, unknown);
        let label = path.display().to_string();
        match crate::profile::parse(&alone, path) {
            Ok(mut config) => {
                if let Some(p) = config.profiles.remove(name) {
                    report.add(Level::Ok, format!("{name}: a {} profile", p.kind.name()));
                    good.push(p);
                }
            }
            Err(e) => report.add(Level::Error, keys::unlocated(&e.to_string(), &label)),
        }
    }
    if let Some(default) = doc.get("default_profile").and_then(toml_edit::Item::as_str)
        && !names.iter().any(|n| n == default)
    {
        report.add(Level::Error, format!("{}: default_profile {default:?} names no profile", path.display()));
    }
    good
}

/// Permissions of a configuration file or its directory: writable by others is an error (they could send the
/// tokens elsewhere, or run commands as you), readable by others a warning, another owner a warning.
fn permissions(path: &Path, meta: &std::fs::Metadata, what: &str, report: &mut Report) {
    let exposure = protect::exposure(path, meta);
    let (shown, mode) = (path.display(), &exposure.shown);
    let fix = protect::fix(path, meta.is_dir());
    if exposure.write && !exposure.sticky {
        report.add(
            Level::Error,
            format!(
                "{what} {shown} is writable by {OTHERS} ({mode}): they could send your tokens elsewhere or run \
                 commands as you ({fix})"
            ),
        );
    } else if meta.is_file() && exposure.read {
        report.add(Level::Warning, format!("{what} {shown} is readable by {OTHERS} ({mode}; {fix})"));
    } else {
        report.add(Level::Ok, format!("{what} {shown} ({mode})"));
    }
    if let Some((owner, me)) = exposure.stranger {
        report.add(Level::Warning, format!("{what} {shown} belongs to {owner}, not to you ({me})"));
    }
}

/// The cache directory: tokenfob refuses one that others can write and repairs one that others can read.
pub(super) fn cache(dir: &Path, report: &mut Report) {
    let shown = dir.display();
    let meta = match std::fs::symlink_metadata(dir) {
        Ok(meta) => meta,
        Err(_) => {
            let made = format!("cache directory {shown} does not exist yet (made {PRIVATE_DIR} when needed)");
            return report.add(Level::Ok, made);
        }
    };
    let (level, why) = if meta.file_type().is_symlink() {
        (Level::Error, "is a symlink (point TOKENFOB_CACHE_DIR at the real directory)".to_owned())
    } else if !meta.is_dir() {
        (Level::Error, "is not a directory (remove it)".to_owned())
    } else {
        cache_exposure(dir, &meta)
    };
    report.add(level, format!("cache directory {shown} {why}"));
    let loose = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.metadata().is_ok_and(|m| m.is_file() && protect::exposure(&e.path(), &m).any));
    for entry in loose {
        let shown = entry.path().display().to_string();
        report.add(Level::Warning, format!("cache file {shown} is readable by others ({MAKE_PRIVATE})"));
    }
}

/// How the cache directory `dir` stands: another owner or writers are errors, readers a warning.
fn cache_exposure(dir: &Path, meta: &std::fs::Metadata) -> (Level, String) {
    let exposure = protect::exposure(dir, meta);
    let mode = &exposure.shown;
    if let Some((owner, _)) = &exposure.stranger {
        (Level::Error, format!("belongs to {owner}, not to you (remove it or fix its owner)"))
    } else if exposure.write {
        (Level::Error, format!("is writable by {OTHERS} ({mode}; {})", protect::fix(dir, true)))
    } else if exposure.read {
        (
            Level::Warning,
            format!(
                "is readable by {OTHERS} ({mode}): tokenfob makes it {PRIVATE_DIR} on next use, but tokens in it may \
                 have leaked"
            ),
        )
    } else {
        (Level::Ok, format!("({mode})"))
    }
}

/// Whether `source` could be read, without reading it: a variable set, a file readable, a command on PATH.
pub(super) fn source(source: &SecretSource, env: &Env) -> (Level, String) {
    match source {
        SecretSource::Literal(_) => (Level::Note, "written in the file as text".into()),
        SecretSource::Env(var) if env.get(var).is_some() => (Level::Ok, format!("environment variable {var} is set")),
        SecretSource::Env(var) => {
            (Level::Error, format!("environment variable {var} is not set (export it, or change the source)"))
        }
        SecretSource::File(file) => secret_file(&crate::engine::secrets::expand_home(file, env)),
        SecretSource::Command(line) => program(line, env),
        SecretSource::Prompt(_) => (Level::Note, "typed on the terminal at each login (check asks nothing)".into()),
        SecretSource::Keyring { service, user } => keyring_item(service, user),
    }
}

/// Whether the keyring holds the item, never unlocking it (a locked keyring is a warning, not a prompt) and never
/// keeping the value: it is dropped, zeroed, as soon as it is known to be there.
fn keyring_item(service: &str, user: &str) -> (Level, String) {
    use crate::sys::keyring::{Item, KeyringError};
    let item = Item { service: service.to_owned(), user: user.to_owned() };
    let named = format!("keyring item {service} / {user}");
    match item.get(std::time::Duration::from_secs(5), false) {
        Ok(Some(_)) => (Level::Ok, format!("{named} is there")),
        Ok(None) => (Level::Error, format!("{named} is not there (tokenfob secret set PROFILE FIELD puts it there)")),
        Err(KeyringError::Locked) => (Level::Warning, format!("{named}: the keyring is locked (unlock it to check)")),
        Err(e) => (Level::Error, format!("{named}: {e}")),
    }
}

fn secret_file(file: &str) -> (Level, String) {
    let meta = match crate::sys::fs::open_read(Path::new(file)).and_then(|f| f.metadata()) {
        Ok(meta) => meta,
        Err(e) => return (Level::Error, format!("file {file} cannot be read: {e}")),
    };
    if !meta.is_file() {
        return (Level::Error, format!("file {file}: {}", crate::sys::fs::not_regular(&meta)));
    }
    let exposure = protect::exposure(Path::new(file), &meta);
    if exposure.any {
        let fix = protect::fix(Path::new(file), false);
        return (
            Level::Warning,
            format!("file {file} is readable ({}), but others can read it too ({fix})", exposure.shown),
        );
    }
    (Level::Ok, format!("file {file} is readable"))
}

/// Shell builtins a command may start with: nothing to find on PATH.
const BUILTINS: &[&str] = &[":", ".", "echo", "printf", "test", "[", "eval", "exec", "cd", "true", "read", "set"];

/// Whether the program a command line starts with can be found (the line is never run).
pub(super) fn program(line: &str, env: &Env) -> (Level, String) {
    let word = line.split_whitespace().find(|w| !w.contains('=') || w.starts_with(['\'', '"']));
    let Some(word) = word.map(|w| w.trim_matches(['\'', '"'])) else {
        return (Level::Error, "the command is empty".into());
    };
    if BUILTINS.contains(&word) {
        return (Level::Ok, format!("`{word}` is a shell builtin"));
    }
    if !word.chars().all(|c| c.is_ascii_alphanumeric() || "-_./~+".contains(c)) {
        return (Level::Note, format!("starts with shell syntax ({word}); not checked"));
    }
    if word.contains('/') {
        let path = crate::engine::secrets::expand_home(word, env);
        return if crate::sys::fs::executable(Path::new(&path), env.get("PATHEXT")).is_some() {
            (Level::Ok, format!("program {path} exists"))
        } else {
            (Level::Error, format!("program {path} is not an executable file"))
        };
    }
    let path = env.get("PATH").unwrap_or_default();
    match std::env::split_paths(path).find_map(|d| crate::sys::fs::executable(&d.join(word), env.get("PATHEXT"))) {
        Some(found) => (Level::Ok, format!("program {word} is {}", found.display())),
        None => (Level::Error, format!("program {word} is not on PATH (install it, or give its full path)")),
    }
}
