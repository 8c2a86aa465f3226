//! Changing the configuration file as text: add or replace one profile and keep every other byte (comments, order,
//! spacing, other profiles) as it was, then write the file back atomically, private to its owner when new.
//!
//! `tokenfob setup` is the one writer. toml_edit keeps what it did not touch byte for byte (cargo's own `cargo add`
//! relies on it). Only this module and `keys` (which `check` uses for line numbers) link it: a cache hit never
//! reaches either.

use std::io::Write;
use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, InlineTable, Item, Table, Value};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::fileid::MAX_CONFIG;
use crate::secret::Secret;
use crate::sys::protect;

/// A value setup writes into a profile.
pub(crate) enum Field {
    /// A string.
    Text(String),
    /// An integer (`account_id = 42`).
    Integer(i64),
    /// A list of strings (`scopes`).
    List(Vec<String>),
    /// A secret source as an inline table (`{ env = "OD_PASSWORD" }`).
    Source(Vec<(&'static str, String)>),
    /// Any other inline table (`login = { url = "...", json = { ... } }`).
    Inline(Vec<(&'static str, Field)>),
    /// A secret written as text, when the user insisted.
    Literal(Secret),
}

/// A profile to write: its name and its keys, in the order they are written.
pub(crate) struct NewProfile {
    /// The table's name under `profiles`.
    pub(crate) name: String,
    /// Its keys.
    pub(crate) fields: Vec<(&'static str, Field)>,
}

/// Why a profile could not be put into the text.
#[derive(Debug)]
pub(crate) enum EditError {
    /// A profile of that name exists, and replacing it was not asked for.
    Exists,
    /// The text is not TOML, or has `profiles` in a form a table cannot go into; the message says which.
    Invalid(String),
}

/// True when `text` (TOML) has a profile called `name`.
pub(crate) fn has_profile(text: &str, name: &str) -> Result<bool, EditError> {
    let doc: DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| EditError::Invalid(flat(&e, text)))?;
    Ok(doc.get("profiles").and_then(Item::as_table_like).is_some_and(|p| p.contains_key(name)))
}

/// Where and why `text` is not TOML, as `not TOML at line:col: message`: never the quoted line (it may hold a
/// secret).
fn flat(e: &toml_edit::TomlError, text: &str) -> String {
    format!("not TOML at {}", super::edit_error_located(e, text).trim_start())
}

/// `text` with `profile` added at its end (or, with `replace`, put in place of the profile of that name, keeping the
/// comment above it and its place in the file); everything else stays byte for byte.
pub(crate) fn with_profile(text: &str, profile: &NewProfile, replace: bool) -> Result<Zeroizing<String>, EditError> {
    let edited = edited(text, profile, replace)?;
    if replace || text.trim().is_empty() {
        return Ok(edited);
    }
    // A new profile goes after everything, the file's last comments included, so the old text is a prefix of the
    // new one; toml_edit would put it before a trailing comment. Where that would not be TOML (`profiles` written
    // as one inline table), toml_edit's placement stands.
    let alone = edited_alone(profile)?;
    let separator = if text.ends_with('\n') { "\n" } else { "\n\n" };
    let appended = Zeroizing::new(format!("{text}{separator}{}", alone.as_str()));
    Ok(if appended.parse::<DocumentMut>().is_ok() { appended } else { edited })
}

/// The profile as a file of its own.
fn edited_alone(profile: &NewProfile) -> Result<Zeroizing<String>, EditError> {
    edited("", profile, false)
}

fn edited(text: &str, profile: &NewProfile, replace: bool) -> Result<Zeroizing<String>, EditError> {
    let mut doc: DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| EditError::Invalid(flat(&e, text)))?;
    let fresh = doc.as_table().is_empty();
    let profiles = doc.entry("profiles").or_insert_with(|| {
        let mut table = Table::new();
        table.set_implicit(true);
        Item::Table(table)
    });
    let Some(profiles) = profiles.as_table_mut() else {
        return Err(EditError::Invalid(
            "`profiles` is not written as a table (write each profile as a [profiles.NAME] table)".into(),
        ));
    };
    let mut table = Table::new();
    for (key, field) in &profile.fields {
        table.insert(key, Item::Value(value(field)));
    }
    match profiles.get(&profile.name) {
        Some(_) if !replace => return Err(EditError::Exists),
        // Written as dotted keys (`profiles.NAME.kind = ...`), its comments hang on keys a new table would not
        // keep: refused rather than lose them.
        Some(Item::Table(old)) if old.is_dotted() => {
            return Err(EditError::Invalid(format!(
                "profile {:?} is written as dotted keys (profiles.{0}.KEY = ...), which setup cannot replace keeping \
                 their comments; delete those lines, or write them as a [profiles.{0}] table, and run setup again",
                profile.name
            )));
        }
        Some(Item::Table(old)) => {
            *table.decor_mut() = old.decor().clone();
            if let Some(at) = old.position() {
                table.set_position(Some(at));
            }
        }
        _ if !fresh => table.decor_mut().set_prefix("\n"),
        _ => {}
    }
    profiles.insert(&profile.name, Item::Table(table));
    Ok(Zeroizing::new(doc.to_string()))
}

fn value(field: &Field) -> Value {
    match field {
        Field::Text(s) => Value::from(s.as_str()),
        Field::Integer(n) => Value::from(*n),
        Field::List(items) => Value::Array(items.iter().map(String::as_str).collect()),
        Field::Source(pairs) => {
            let mut inline = InlineTable::new();
            for (k, v) in pairs {
                inline.insert(*k, Value::from(v.as_str()));
            }
            Value::InlineTable(inline)
        }
        Field::Inline(fields) => {
            let mut inline = InlineTable::new();
            for (k, v) in fields {
                inline.insert(*k, value(v));
            }
            Value::InlineTable(inline)
        }
        Field::Literal(secret) => Value::from(secret.expose()),
    }
}

/// The text of the configuration at `path` (empty when there is none yet), and the file that is really written:
/// the target of a symlink, so that a configuration kept elsewhere (a dotfiles repository) stays a link, even when
/// that target does not exist yet. What cannot be read as a configuration (a FIFO, a directory, more than 1 MiB)
/// is a configuration error, exit 2, as for `get`.
pub(crate) fn read(path: &Path) -> Result<(String, PathBuf)> {
    let unreadable =
        |why: String| Error::Config(format!("reading configuration {}: {why} (fix or move it first)", path.display()));
    let target = match std::fs::canonicalize(path) {
        Ok(real) => real,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok((String::new(), crate::sys::fs::dangling_target(path)));
        }
        Err(e) => return Err(unreadable(e.to_string())),
    };
    let (bytes, _) = crate::sys::fs::read_regular(&target, MAX_CONFIG).map_err(|e| unreadable(e.to_string()))?;
    let text = String::from_utf8(bytes).map_err(|_| unreadable("it is not UTF-8 text".into()))?;
    Ok((text, target))
}

/// An exclusive lock on the configuration `target`, held from reading it to renaming the new text over it, so that
/// two setups at once both land (the second reads what the first wrote). It is `.<name>.lock` beside the file, left
/// in place (removing it would let a third run lock a file the second no longer sees). The wait is bounded.
pub(crate) struct EditLock(#[allow(dead_code)] std::fs::File);

/// Takes the [`EditLock`] of `target`, waiting at most `timeout` for another setup.
pub(crate) fn lock(target: &Path, timeout: std::time::Duration) -> Result<EditLock> {
    let dir = target.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    protect::create_dir_all(dir).map_err(|e| Error::io("creating configuration directory", dir, e))?;
    let name = target.file_name().map_or("config.toml".into(), |n| n.to_string_lossy().into_owned());
    let path = dir.join(format!(".{name}.lock"));
    let file = protect::open_lock(&path).map_err(|e| Error::io("opening configuration lock", &path, e))?;
    let started = std::time::Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(EditLock(file)),
            Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < timeout => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(Error::Config(format!(
                    "another tokenfob setup has held {} for {}s: wait for it to finish, or remove the lock file if                      no setup is running",
                    path.display(),
                    timeout.as_secs()
                )));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io("locking configuration", &path, e)),
        }
    }
}

/// Writes `text` to `path` atomically (a new file beside it, renamed over it): with the old file's permissions, or
/// private for a new file (0600; on Windows an access list for the user alone, as the cache's), in a directory
/// created private (0700) when missing. With `secret` (the text holds one), the file is made private to its owner
/// whatever the old one allowed; the answer says what was taken away, when anything was.
pub(crate) fn write(path: &Path, text: &str, secret: bool) -> Result<Option<String>> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    protect::create_dir_all(dir).map_err(|e| Error::io("creating configuration directory", dir, e))?;
    let old = std::fs::metadata(path).is_ok().then_some(path);
    let name = path.file_name().map_or("config.toml".into(), |n| n.to_string_lossy().into_owned());
    let temp = dir.join(format!(".{name}.{}.tmp", crate::sys::random_hex(8)?));
    let mut tightened = None;
    let result = protect::create_new(&temp)
        .and_then(|mut file| {
            // What the umask took from a new file is put back; an existing file's permissions are kept exactly,
            // unless the text now holds a secret others could read.
            if secret {
                tightened = protect::keep_access_private(&file, old)?;
            } else {
                protect::keep_access(&file, old)?;
            }
            file.write_all(text.as_bytes())?;
            file.sync_all()
        })
        .and_then(|()| crate::sys::fs::replace(&temp, path));
    if let Err(e) = result {
        let _ = std::fs::remove_file(&temp);
        return Err(Error::io("writing configuration", path, e));
    }
    if let Ok(dir) = crate::sys::fs::open_dir(dir) {
        let _ = dir.sync_all();
    }
    Ok(tightened)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn od() -> NewProfile {
        NewProfile {
            name: "od2".into(),
            fields: vec![
                ("kind", Field::Text("onedata".into())),
                ("url", Field::Text("https://od.example.com".into())),
                ("password", Field::Source(vec![("env", "OD_PASSWORD".into())])),
            ],
        }
    }

    const EXISTING: &str = "# my tokens\ndefault_profile = \"a\"   # the usual one\n\n[profiles.a]\nkind = \"static\"\n\
                            token = { env = \"A\" }  # keep me\n\n[profiles.b.login]\nurl = \"x\"\n";

    #[test]
    fn adds_a_profile_after_everything_else_untouched() {
        let out = with_profile(EXISTING, &od(), false).unwrap();
        assert_eq!(
            out.as_str(),
            format!(
                "{EXISTING}\n[profiles.od2]\nkind = \"onedata\"\nurl = \"https://od.example.com\"\n\
                 password = {{ env = \"OD_PASSWORD\" }}\n"
            )
        );
        let fresh = with_profile("", &od(), false).unwrap();
        assert!(fresh.starts_with("[profiles.od2]\nkind"), "{}", fresh.as_str());
    }

    #[test]
    fn replaces_only_when_asked_and_in_place() {
        let text = format!(
            "[profiles.od2]  # mine\nkind = \"static\"\ntoken = \"x\"\n[profiles.od2.reply]\n\n{}",
            "[profiles.z]\nkind = \"static\"\n"
        );
        assert!(matches!(with_profile(&text, &od(), false), Err(EditError::Exists)));
        let out = with_profile(&text, &od(), true).unwrap();
        assert!(out.starts_with("[profiles.od2]  # mine\nkind = \"onedata\"\n"), "{}", out.as_str());
        assert!(!out.contains("reply") && !out.contains("token = \"x\""), "{}", out.as_str());
        assert!(out.ends_with("[profiles.z]\nkind = \"static\"\n"), "{}", out.as_str());
    }

    #[test]
    fn a_profile_of_dotted_keys_is_not_replaced() {
        let text = "[profiles]\n# the old one\nod2.kind = \"static\"\nod2.token = \"x\"\n";
        assert!(matches!(with_profile(text, &od(), true), Err(EditError::Invalid(why)) if why.contains("dotted")));
        let root = "# the old one\nprofiles.od2.kind = \"static\"\n";
        assert!(matches!(with_profile(root, &od(), true), Err(EditError::Invalid(why)) if why.contains("dotted")));
    }

    #[test]
    fn refuses_what_is_not_toml_or_has_no_room_for_a_table() {
        assert!(matches!(with_profile("a = ", &od(), false), Err(EditError::Invalid(_))));
        assert!(matches!(with_profile("profiles = 3\n", &od(), false), Err(EditError::Invalid(_))));
    }
}
