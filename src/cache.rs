//! The token cache: one JSON file per profile, written atomically, renewed under a lock.
//!
//! Readers never lock: a writer replaces `<profile>.json` by writing a temp file (created with O_EXCL and mode 0600,
//! under an unpredictable name), fsyncing it and renaming it over the old one, so a reader sees the old entry or the
//! new one, never half. Renewal takes an exclusive `flock` on the sibling `<profile>.lock` (never on the data file),
//! and [`Cache::write`] takes the [`Lock`] as an argument so nobody writes unlocked. The kernel drops the lock when
//! its holder dies, so a killed process never wedges the others.
//!
//! Like ssh with `~/.ssh`, the cache refuses a directory or file that is a symlink, owned by another user, or
//! writable by group or others (issue #4): someone who can write there could plant a token or read ours.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::{Error, Result};
use crate::secret::{Secret, exposed};

/// The cache file format version.
const VERSION: u32 = 1;

/// One profile's cached state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// Format version.
    pub v: u32,
    /// The profile it belongs to.
    pub profile: String,
    /// Digest of the profile settings that produced it; a mismatch makes the entry a miss.
    pub fingerprint: String,
    /// The bearer token; absent after `erase --token` when a refresh token is kept.
    #[serde(default, with = "exposed::option", skip_serializing_if = "Option::is_none")]
    pub token: Option<Secret>,
    /// When the token expires; absent for never.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// When tokenfob obtained it.
    #[serde(with = "time::serde::rfc3339")]
    pub obtained_at: OffsetDateTime,
    /// A refresh token, when the login kind has one.
    #[serde(default, with = "exposed::option", skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<Secret>,
    /// When the refresh token expires, if known.
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub refresh_expires_at: Option<OffsetDateTime>,
    /// Non-secret values the login used that logout needs again (GoodData's token id).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub vars: BTreeMap<String, String>,
    /// The configuration file this entry was made with, so the cache-hit shortcut (`hit`) can trust the entry
    /// without parsing the configuration while that file is unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ConfigStamp>,
    /// The profile's refresh margin in milliseconds, for the same shortcut.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub margin_ms: Option<u64>,
}

/// The configuration file an entry was made with: its path and [`Identity`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigStamp {
    path: String,
    #[serde(flatten)]
    identity: Identity,
}

impl ConfigStamp {
    /// The stamp of the file at `path` now, if it exists.
    pub fn of(path: &Path) -> Option<ConfigStamp> {
        Some(ConfigStamp { path: path.to_str()?.to_owned(), identity: Identity::of(&fs::metadata(path).ok()?) })
    }
}

impl Entry {
    /// A new entry for `profile`.
    pub fn new(profile: &str, fingerprint: String, obtained_at: OffsetDateTime) -> Entry {
        Entry {
            v: VERSION,
            profile: profile.to_owned(),
            fingerprint,
            token: None,
            expires_at: None,
            obtained_at,
            refresh_token: None,
            refresh_expires_at: None,
            vars: BTreeMap::new(),
            config: None,
            margin_ms: None,
        }
    }

    /// True when the refresh token exists and has not expired at `now`.
    pub fn can_refresh(&self, now: OffsetDateTime) -> bool {
        self.refresh_token.is_some() && self.refresh_expires_at.is_none_or(|at| at > now)
    }
}

/// Parses an entry; anything malformed is `None` (a miss), never an error. A token that no face may print (a file
/// edited to hold CR/LF, issue #10) makes the entry malformed too.
pub fn parse_entry(bytes: &[u8]) -> Option<Entry> {
    let printable = |e: &Entry| e.token.as_ref().is_none_or(|t| crate::reply::is_valid_token(t.expose()));
    serde_json::from_slice::<Entry>(bytes).ok().filter(|e| e.v == VERSION && printable(e))
}

/// The cache directory.
#[derive(Debug)]
pub struct Cache {
    dir: PathBuf,
    /// Entries already parsed, by the identity of the file they came from. A long-lived `tokenfob protocol` then
    /// answers a hit with one `lstat`, and still notices a renewal by another process: a write is a rename, so a
    /// new entry is a new inode (issue #5).
    memo: RefCell<BTreeMap<String, (Identity, Entry)>>,
}

/// What tells two versions of a file apart without reading it: device, inode, size, modification time and mode.
/// Editors and `mv` change at least one of them on every edit, a cache write (a rename) changes the inode, and
/// `chmod` changes the mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Identity {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: i64,
    mtime_nsec: i64,
    mode: u32,
}

impl Identity {
    fn of(meta: &fs::Metadata) -> Identity {
        use std::os::unix::fs::MetadataExt;
        Identity {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: meta.mtime(),
            mtime_nsec: meta.mtime_nsec(),
            mode: meta.mode(),
        }
    }
}

/// An exclusive lock on one profile; released on drop (or by the kernel when the process dies).
#[derive(Debug)]
pub struct Lock {
    _file: File,
    profile: String,
}

impl Cache {
    /// The cache in `dir` (nothing is created until a write).
    pub fn new(dir: PathBuf) -> Cache {
        Cache { dir, memo: RefCell::new(BTreeMap::new()) }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn entry_path(&self, profile: &str) -> PathBuf {
        self.dir.join(format!("{profile}.json"))
    }

    /// The lock file of `profile`.
    pub fn lock_path(&self, profile: &str) -> PathBuf {
        self.dir.join(format!("{profile}.lock"))
    }

    /// Reads the entry of `profile`; a missing, unreadable or corrupt file is `None`. A directory or file that
    /// others could tamper with is an error.
    pub fn read(&self, profile: &str) -> Result<Option<Entry>> {
        let path = self.entry_path(profile);
        if let Some((identity, entry)) = self.memo.borrow().get(profile)
            && fs::symlink_metadata(&path).is_ok_and(|m| Identity::of(&m) == *identity)
        {
            return Ok(Some(entry.clone()));
        }
        self.memo.borrow_mut().remove(profile);
        let (bytes, identity) = match open_private(&path) {
            Ok(read) => read,
            Err(e) if e.kind() == ErrorKind::NotFound => return self.check_dir().map(|()| None),
            Err(e) if e.kind() == ErrorKind::PermissionDenied => return Err(Error::Config(e.to_string())),
            Err(e) => {
                crate::log::warn(format_args!("cannot read {}: {e}; treating it as empty", path.display()));
                return Ok(None);
            }
        };
        self.check_dir()?;
        let entry = parse_entry(&bytes).filter(|e| e.profile == profile);
        match &entry {
            Some(e) => {
                self.memo.borrow_mut().insert(profile.to_owned(), (identity, e.clone()));
            }
            None => {
                crate::log::warn(format_args!("{} is not a valid cache entry; it will be replaced", path.display()))
            }
        }
        Ok(entry)
    }

    /// Refuses a cache directory that is a symlink, not ours, or writable by others.
    fn check_dir(&self) -> Result<()> {
        match fs::symlink_metadata(&self.dir) {
            Ok(meta) => check_private(&self.dir, &meta, true).map_err(|e| Error::Config(e.to_string())),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io("checking cache directory", &self.dir, e)),
        }
    }

    /// Takes the lock of `profile`, waiting at most `timeout` for another holder.
    pub fn lock(&self, profile: &str, timeout: Duration) -> Result<Lock> {
        self.ensure_dir()?;
        self.check_dir()?;
        let path = self.lock_path(profile);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(|e| Error::io("opening lock file", &path, e))?;
        let started = Instant::now();
        let mut pause = Duration::from_millis(1);
        loop {
            match file.try_lock() {
                Ok(()) => {
                    return Ok(Lock { _file: file, profile: profile.to_owned() });
                }
                Err(fs::TryLockError::WouldBlock) if started.elapsed() < timeout => {
                    std::thread::sleep(pause.min(timeout.saturating_sub(started.elapsed())));
                    // A short cap: when the holder finishes, a herd of waiters should see it within milliseconds.
                    pause = (pause * 2).min(Duration::from_millis(5));
                }
                Err(fs::TryLockError::WouldBlock) => {
                    return Err(Error::LockTimeout { path, seconds: timeout.as_secs() });
                }
                Err(fs::TryLockError::Error(e)) => return Err(Error::io("locking", &path, e)),
            }
        }
    }

    /// Replaces the entry of the locked profile atomically.
    pub fn write(&self, lock: &Lock, entry: &Entry) -> Result<()> {
        self.remove_stale_temps(lock);
        let path = self.entry_path(&lock.profile);
        let json = serde_json::to_vec_pretty(entry).map_err(|e| Error::Other(format!("encoding cache entry: {e}")))?;
        let temp = self.dir.join(format!(".{}.{}.tmp", lock.profile, crate::sys::random_hex(8)?));
        let result = write_new(&temp, &json).and_then(|()| fs::rename(&temp, &path));
        if let Err(e) = result {
            let _ = fs::remove_file(&temp);
            return Err(Error::io("writing cache entry", &path, e));
        }
        // Make the rename itself durable; a failure here loses nothing that is not already on its way to disk.
        if let Ok(dir) = File::open(&self.dir) {
            let _ = dir.sync_all();
        }
        Ok(())
    }

    /// Removes the entry of the locked profile; true when there was one.
    pub fn remove(&self, lock: &Lock) -> Result<bool> {
        let path = self.entry_path(&lock.profile);
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Error::io("removing cache entry", &path, e)),
        }
    }

    /// Removes temp files a killed writer left behind. Only the lock holder writes temps for a profile, so
    /// while we hold the lock every temp file of this profile is a leftover.
    fn remove_stale_temps(&self, lock: &Lock) {
        let prefix = format!(".{}.", lock.profile);
        let Ok(dir) = fs::read_dir(&self.dir) else { return };
        for entry in dir.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(&prefix) && name.ends_with(".tmp") {
                let _ = fs::remove_file(entry.path());
            }
        }
    }

    fn ensure_dir(&self) -> Result<()> {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(|e| Error::io("creating cache directory", &self.dir, e))
    }
}

/// Reads a cache file that must be a regular file of ours, not writable by others (never following a symlink).
fn open_private(path: &Path) -> std::io::Result<(Vec<u8>, Identity)> {
    use std::io::Read;
    let mut file = OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW).open(path).map_err(|e| {
        if e.raw_os_error() == Some(libc::ELOOP) {
            std::io::Error::new(
                ErrorKind::PermissionDenied,
                format!("refusing cache file {}: it is a symlink (remove it)", path.display()),
            )
        } else {
            e
        }
    })?;
    let meta = file.metadata()?;
    check_private(path, &meta, false)?;
    let mut bytes = Vec::with_capacity(meta.len() as usize + 1);
    file.read_to_end(&mut bytes)?;
    Ok((bytes, Identity::of(&meta)))
}

/// Refuses what is not ours, a symlink, or writable by group or others (as ssh does with `~/.ssh`).
fn check_private(path: &Path, meta: &fs::Metadata, dir: bool) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let what = if dir { "cache directory" } else { "cache file" };
    let refuse = |why: String| {
        Err(std::io::Error::new(ErrorKind::PermissionDenied, format!("refusing {what} {}: {why}", path.display())))
    };
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if meta.file_type().is_symlink() {
        return refuse("it is a symlink (point TOKENFOB_CACHE_DIR at the real directory)".into());
    }
    if meta.uid() != me {
        return refuse(format!("it is owned by uid {}, not by you (uid {me}); remove it or fix its owner", meta.uid()));
    }
    if meta.mode() & 0o022 != 0 {
        let fix = if dir { "chmod 700" } else { "chmod 600" };
        return refuse(format!("it is writable by group or others ({fix} {})", path.display()));
    }
    Ok(())
}

/// Creates `path` exclusively with mode 0600, writes `bytes` and fsyncs.
fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file =
        OpenOptions::new().write(true).create_new(true).mode(0o600).custom_flags(libc::O_NOFOLLOW).open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn entry(profile: &str, token: &str) -> Entry {
        let mut e = Entry::new(profile, "f".into(), OffsetDateTime::from_unix_timestamp(0).unwrap());
        e.token = Some(Secret::new(token.into()));
        e
    }

    #[test]
    fn writes_private_files_and_reads_them_back() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().join("c"));
        let lock = cache.lock("p", Duration::from_secs(1)).unwrap();
        cache.write(&lock, &entry("p", "tok")).unwrap();
        assert_eq!(cache.read("p").unwrap().unwrap().token.unwrap().expose(), "tok");
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
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
        let cache = Cache::new(dir.path().to_owned());
        fs::write(dir.path().join("p.json"), b"{\"v\":1,\"prof").unwrap();
        assert!(cache.read("p").unwrap().is_none());
        let other = serde_json::to_vec(&entry("q", "t")).unwrap();
        fs::write(dir.path().join("p.json"), other).unwrap();
        assert!(cache.read("p").unwrap().is_none());
    }

    #[test]
    fn a_held_lock_times_out_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().to_owned());
        let _held = cache.lock("p", Duration::from_secs(1)).unwrap();
        let err = cache.lock("p", Duration::from_millis(100)).unwrap_err();
        assert_eq!(err.code(), "lock_timeout");
        assert!(err.to_string().contains("p.lock"), "{err}");
    }
}
