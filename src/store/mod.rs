//! The token cache: one JSON file per profile, written atomically, renewed under a lock.
//!
//! Readers never lock: a writer replaces `<profile>.json` by writing a temp file (created exclusively and private:
//! mode 0600, or an owner-only DACL on Windows; under an unpredictable name), fsyncing it and renaming it over the
//! old one, so a reader sees the old entry or the new one, never half. Renewal takes an exclusive lock (`flock`, or
//! `LockFileEx` on Windows) on the sibling `<profile>.lock` (never on the data file),
//! and [`Cache::write`] takes the [`Lock`] as an argument so nobody writes unlocked. The kernel drops the lock when
//! its holder dies, so a killed process never wedges the others.
//!
//! Like ssh with `~/.ssh`, the cache refuses a directory or file that is a symlink, owned by another user, or
//! writable by group or others (issue #4): someone who can write there could plant a token or read ours. One that is
//! only readable by group or others is made private (`chmod 700`/`600`) with a warning that its tokens may have
//! leaked, since refusing would not un-leak them. The directory is checked before any file in it is opened, and
//! every file is opened without following a symlink and without blocking: a FIFO, socket, device or directory where
//! a cache file belongs is an error naming it, never a hang (issue #10).
//!
//! A lock file deleted while held would let a second process lock a new file of the same name and renew at the
//! same time. So a lock holder also holds a shared byte-range lock on one byte of `.guard`, a file beside the locks
//! (the byte is chosen by a hash of the profile name), taken after the profile's lock and first exclusively: so a
//! process that locked a new lock file of the same name waits until a renewal under the deleted one has finished.
//! Everyone also checks after locking that the path still names the file it locked. Other profiles' renewals never
//! hold it up (one profile's command may run `tokenfob get` for another). Limit: deleting `.guard` too (or the whole
//! directory) while a renewal runs lets a second one start.

mod entry;
mod lock;
pub(crate) mod paths;
mod private;
mod vault;

pub(crate) use entry::{Entry, parse_entry};
pub(crate) use lock::Lock;
pub(crate) use vault::{Store, Vault};

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fs;
use std::io::ErrorKind;
use std::path::PathBuf;
use std::time::Duration;

use self::private::{check_private, make_private, open_private, write_new};
use crate::error::{Error, Result};
use crate::fileid::Identity;

/// The cache directory.
#[derive(Debug)]
pub(crate) struct Cache {
    dir: PathBuf,
    /// Entries already parsed (`None`: not a valid entry), by the identity of the file they came from. A long-lived
    /// `tokenfob protocol` then answers a hit with one `lstat`, and still notices a renewal by another process: a
    /// write is a rename, so a new entry is a new inode (issue #5). A corrupt file is warned about once.
    memo: RefCell<BTreeMap<String, (Identity, Option<Entry>)>>,
}

/// The random part of a temp file's name: this many bytes, as twice as many hex digits.
const TEMP_RANDOM_BYTES: usize = 8;

impl Cache {
    /// The cache in `dir` (nothing is created until a write).
    pub(crate) fn new(dir: PathBuf) -> Cache {
        Cache { dir: crate::store::paths::normalize(&dir), memo: RefCell::new(BTreeMap::new()) }
    }

    fn entry_path(&self, profile: &str) -> PathBuf {
        self.dir.join(format!("{profile}.json"))
    }

    /// The lock file of `profile`.
    fn lock_path(&self, profile: &str) -> PathBuf {
        self.dir.join(format!("{profile}.lock"))
    }

    /// Reads the entry of `profile`; a missing or corrupt file is `None`. A directory or file that others could
    /// tamper with, or that is not a regular file, is an error.
    pub(crate) fn read(&self, profile: &str) -> Result<Option<Entry>> {
        // The directory first: what is in a directory that is not ours is not opened at all.
        if !self.check_dir()? {
            return Ok(None);
        }
        let path = self.entry_path(profile);
        if let Some((identity, entry)) = self.memo.borrow().get(profile)
            && Identity::at(&path).is_ok_and(|now| now == *identity)
        {
            return Ok(entry.clone());
        }
        self.memo.borrow_mut().remove(profile);
        let (bytes, identity) = match open_private(&path) {
            Ok(read) => read,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) if e.kind() == ErrorKind::PermissionDenied => return Err(Error::Config(e.to_string())),
            Err(e) => {
                crate::log::warn(format_args!("cannot read {}: {e}; treating it as empty", path.display()));
                return Ok(None);
            }
        };
        let entry = parse_entry(&bytes).filter(|e| e.profile == profile);
        if entry.is_none() {
            crate::log::warn(format_args!("{} is not a valid cache entry; it will be replaced", path.display()));
        }
        self.memo.borrow_mut().insert(profile.to_owned(), (identity, entry.clone()));
        Ok(entry)
    }

    /// Refuses a cache directory that is a symlink, not a directory, not ours, or writable by others, and makes one
    /// that others can read private. False when it does not exist.
    fn check_dir(&self) -> Result<bool> {
        let refused = |e: std::io::Error| Error::Config(e.to_string());
        let meta = match fs::symlink_metadata(&self.dir) {
            Ok(meta) => meta,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(Error::io("checking cache directory", &self.dir, e)),
        };
        if !meta.is_dir() && !meta.file_type().is_symlink() {
            let kind = crate::sys::fs::kind(&meta);
            return Err(Error::Config(format!(
                "refusing cache directory {}: it is a {kind}, not a directory (remove it, or point {} elsewhere)",
                self.dir.display(),
                crate::environment::CACHE_DIR
            )));
        }
        if check_private(&self.dir, &meta, None, true).map_err(refused)? {
            let dir =
                crate::sys::fs::open_dir(&self.dir).map_err(|e| Error::io("opening cache directory", &self.dir, e))?;
            make_private(&self.dir, &dir, true).map_err(refused)?;
        }
        Ok(true)
    }

    /// The keyring item that holds the tokens of `profile` with `store = "keyring"`: one per profile and cache
    /// directory, so that two cache directories never share one.
    pub(crate) fn keyring_item(&self, profile: &str) -> crate::sys::keyring::Item {
        crate::sys::keyring::Item {
            service: vault::CACHE_SERVICE.to_owned(),
            user: format!("{profile}@{}", self.dir.display()),
        }
    }

    /// Takes the lock of `profile`, waiting at most `timeout` for another holder.
    pub(crate) fn lock(&self, profile: &str, timeout: Duration) -> Result<Lock> {
        self.check_dir()?;
        self.ensure_dir()?;
        self.check_dir()?;
        Lock::take(&self.dir, &self.lock_path(profile), profile, timeout)
    }

    /// Replaces the entry of the locked profile atomically.
    pub(crate) fn write(&self, lock: &Lock, entry: &Entry) -> Result<()> {
        self.remove_stale_temps(lock);
        let path = self.entry_path(lock.profile());
        let json = serde_json::to_vec_pretty(entry).map_err(|e| Error::Other(format!("encoding cache entry: {e}")))?;
        let random = crate::sys::random_hex(TEMP_RANDOM_BYTES)?;
        let temp = self.dir.join(format!(".{}.{random}.tmp", lock.profile()));
        let result = write_new(&temp, &json).and_then(|()| crate::sys::fs::replace(&temp, &path));
        if let Err(e) = result {
            let _ = fs::remove_file(&temp);
            return Err(Error::io("writing cache entry", &path, e));
        }
        // Make the rename itself durable; a failure here loses nothing that is not already on its way to disk.
        if let Ok(dir) = crate::sys::fs::open_dir(&self.dir) {
            let _ = dir.sync_all();
        }
        Ok(())
    }

    /// Removes the entry of the locked profile; true when there was one.
    pub(crate) fn remove(&self, lock: &Lock) -> Result<bool> {
        let path = self.entry_path(lock.profile());
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Error::io("removing cache entry", &path, e)),
        }
    }

    /// Removes temp files a killed writer left behind. Only the lock holder writes temps for a profile, so
    /// while we hold the lock every temp file of this profile is a leftover. Only names exactly of the form this
    /// code writes count: profile `x` must not take `.x.y.<random>.tmp`, a write of profile `x.y` under way.
    fn remove_stale_temps(&self, lock: &Lock) {
        let Ok(dir) = fs::read_dir(&self.dir) else { return };
        for entry in dir.flatten() {
            if is_temp_of(&entry.file_name().to_string_lossy(), lock.profile()) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }

    fn ensure_dir(&self) -> Result<()> {
        crate::sys::protect::create_dir_all(&self.dir).map_err(|e| Error::io("creating cache directory", &self.dir, e))
    }
}

/// Checks a profile name: it names files in the cache directory, so it must be a plain file name; and it is an
/// argument in the commands tokenfob prints and writes (`tokenfob login NAME`, a tool's helper line), so it must
/// not start with `-`, which every program would read as an option.
pub(crate) fn check_name(name: &str) -> std::result::Result<(), String> {
    refuse_device_name(name)?;
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with(['.', '-'])
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err("a profile name is 1-64 letters, digits, '-', '_' or '.', not starting with '.' or '-'".into())
    }
}

/// Refuses a name whose part before the first '.' is a Windows device name in any case (`nul`, `CON.json`,
/// `com1.x`): there it names the device, not a file in the cache directory. Refused on every platform, so that a
/// configuration works the same everywhere.
fn refuse_device_name(name: &str) -> std::result::Result<(), String> {
    let stem = name.split('.').next().unwrap_or(name).to_ascii_lowercase();
    let numbered =
        |prefix: &str| stem.strip_prefix(prefix).is_some_and(|n| n.len() == 1 && n.bytes().all(|b| b.is_ascii_digit()));
    if matches!(stem.as_str(), "con" | "prn" | "aux" | "nul") || numbered("com") || numbered("lpt") {
        return Err(format!(
            "{stem:?} is a device name on Windows (CON, PRN, AUX, NUL, COM0-9, LPT0-9, in any case, also before a \
             '.'), so it cannot name a cache file: pick another profile name"
        ));
    }
    Ok(())
}

/// True when `name` is a temp file of `profile`: `.<profile>.<16 hex digits>.tmp`, nothing else.
fn is_temp_of(name: &str, profile: &str) -> bool {
    let random = name
        .strip_prefix('.')
        .and_then(|n| n.strip_prefix(profile))
        .and_then(|n| n.strip_prefix('.'))
        .and_then(|n| n.strip_suffix(".tmp"));
    random.is_some_and(|r| r.len() == 2 * TEMP_RANDOM_BYTES && r.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;
    use time::OffsetDateTime;

    fn entry(profile: &str, token: &str) -> Entry {
        let mut e = Entry::new(profile, "f".into(), OffsetDateTime::from_unix_timestamp(0).unwrap());
        e.token = Some(Secret::new(token.into()));
        e
    }

    #[test]
    fn windows_device_names_are_refused_in_any_case_and_before_a_dot() {
        for name in ["nul", "NUL", "con", "Con.json", "aux", "prn.x.y", "com1", "COM9", "lpt0", "Lpt5.a"] {
            let why = check_name(name).unwrap_err();
            assert!(why.contains("device name on Windows"), "{name}: {why}");
        }
        for name in ["null", "console", "com", "com10", "lpt", "x.nul", "auxiliary", "con-work", "nul_"] {
            assert_eq!(check_name(name), Ok(()), "{name}");
        }
    }

    #[test]
    #[cfg(unix)]
    fn writes_private_files_and_reads_them_back() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().join("c"));
        let lock = cache.lock("p", Duration::from_secs(1)).unwrap();
        cache.write(&lock, &entry("p", "tok")).unwrap();
        assert_eq!(cache.read("p").unwrap().unwrap().token.unwrap().expose(), "tok");
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.path().join("c")), 0o700);
        assert_eq!(mode(&dir.path().join("c/p.json")), 0o600);
        let leftovers: Vec<_> = fs::read_dir(dir.path().join("c"))
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
        assert!(cache.remove(&lock).unwrap());
        assert!(cache.read("p").unwrap().is_none());
    }

    #[test]
    fn corrupt_or_foreign_entries_are_misses() {
        let dir = tempfile::tempdir().unwrap();
        // Made by tokenfob: a directory made beforehand, readable by others, is refused under Wine (see protect).
        let cache = Cache::new(dir.path().join("c"));
        let _lock = cache.lock("q", Duration::from_secs(1)).unwrap();
        fs::write(dir.path().join("c").join("p.json"), b"{\"v\":1,\"prof").unwrap();
        assert!(cache.read("p").unwrap().is_none());
        let other = serde_json::to_vec(&entry("q", "t")).unwrap();
        fs::write(dir.path().join("c").join("p.json"), other).unwrap();
        assert!(cache.read("p").unwrap().is_none());
    }

    #[test]
    fn temp_files_are_matched_by_their_exact_name() {
        assert!(is_temp_of(".x.0123456789abcdef.tmp", "x"));
        assert!(is_temp_of(".x.y.0123456789abcdef.tmp", "x.y"));
        for (name, profile) in [
            (".x.y.0123456789abcdef.tmp", "x"),
            (".x.0123456789abcdef.tmp", "x.y"),
            (".x.y.tmp", "x"),
            (".x.0123456789abcdeg.tmp", "x"),
            (".x.0123456789abcdef0.tmp", "x"),
            ("x.0123456789abcdef.tmp", "x"),
            (".x.0123456789abcdef.json", "x"),
        ] {
            assert!(!is_temp_of(name, profile), "{name} for {profile}");
        }
    }

    #[test]
    fn a_lock_file_replaced_while_held_makes_the_next_locker_wait_for_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().join("c"));
        let held = cache.lock("p", Duration::from_secs(1)).unwrap();
        fs::remove_file(cache.lock_path("p")).unwrap();
        let err = cache.lock("p", Duration::from_millis(100)).unwrap_err();
        assert_eq!(err.code(), "lock_timeout", "{err}");
        drop(held);
        cache.lock("p", Duration::from_millis(100)).unwrap();
    }

    #[test]
    fn a_held_lock_times_out_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().join("c"));
        let _held = cache.lock("p", Duration::from_secs(1)).unwrap();
        let err = cache.lock("p", Duration::from_millis(100)).unwrap_err();
        assert_eq!(err.code(), "lock_timeout");
        assert!(err.to_string().contains("p.lock"), "{err}");
    }
}
