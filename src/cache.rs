//! The token cache: one JSON file per profile, written atomically, renewed under a lock.
//!
//! Readers never lock: a writer replaces `<profile>.json` by writing a temp file (created with O_EXCL and mode 0600,
//! under an unpredictable name), fsyncing it and renaming it over the old one, so a reader sees the old entry or the
//! new one, never half. Renewal takes an exclusive `flock` on the sibling `<profile>.lock` (never on the data file),
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

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
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

/// The configuration file an entry was made with: its path, its mode (the configuration's warnings depend on it) and
/// the SHA-256 of its bytes. The cache-hit shortcut compares it with the file as it is now, so any edit is seen,
/// even one that keeps the size and the modification time (issue #10).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigStamp {
    path: String,
    mode: u32,
    /// Absent in entries written before the hash (then the stamp never matches, and the entry is re-stamped at the
    /// next renewal).
    #[serde(default)]
    sha256: String,
}

/// The largest configuration file read (a real one is a few KiB).
pub const MAX_CONFIG: u64 = 1 << 20;

impl ConfigStamp {
    /// The stamp of the file at `path` as it is now (read and hashed, never parsed), if it can be read.
    pub fn of(path: &Path) -> Option<ConfigStamp> {
        let (bytes, meta) = crate::paths::read_regular(path, MAX_CONFIG).ok()?;
        ConfigStamp::new(path, &meta, &bytes)
    }

    /// The stamp of `bytes`, read from `path` whose metadata is `meta`.
    pub fn new(path: &Path, meta: &fs::Metadata, bytes: &[u8]) -> Option<ConfigStamp> {
        use std::os::unix::fs::MetadataExt;
        let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut sha256 = String::with_capacity(64);
        for b in digest.as_ref() {
            sha256.push(char::from(HEX[usize::from(b >> 4)]));
            sha256.push(char::from(HEX[usize::from(b & 15)]));
        }
        Some(ConfigStamp { path: path.to_str()?.to_owned(), mode: meta.mode(), sha256 })
    }
}

/// The configuration's stamp as a long-lived process (`tokenfob protocol`) sees it before every request, cheaply:
/// it `stat`s the file and hashes it again only when what `stat` says changed since the last hash, or when that
/// hash was racy. This is git's "racily clean" rule: a file changed within one timestamp tick of being hashed can
/// be changed again in the same tick, keeping its size and every timestamp, so such a hash proves nothing about
/// the next look, and the file is hashed again until it has been quiet for longer than a tick. Every write and
/// every `chmod` sets the change time (ctime), which no user can set back, so a same-size in-place edit is seen
/// even when the modification time is set back with `touch -d`. A fresh process has no earlier hash to trust:
/// the one-shot cache hit (`hit.rs`) always hashes, with [`ConfigStamp::of`].
#[derive(Debug, Default)]
pub(crate) struct ConfigWatch {
    /// The identity at the last hash, whether that hash may be trusted while the identity holds, and the stamp.
    last: Option<(ConfigIdentity, bool, Option<ConfigStamp>)>,
}

/// How long after a file's modification or change time a hash of it may still be racy. Wider than any file
/// system's timestamp granularity (FAT's 2 s; ext4, XFS, btrfs and tmpfs keep nanoseconds, but the kernel stamps
/// files from a clock that advances once per jiffy, up to 10 ms) and than the lag of that clock behind the one read
/// here. The only cost of a wide window is hashing on every request in the seconds after an edit.
const RACY_WINDOW: Duration = Duration::from_secs(3);

/// What `stat` says about a configuration file; any change to it (or a racy hash) means hashing again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ConfigIdentity {
    dev: u64,
    ino: u64,
    size: u64,
    /// Modification and change times in nanoseconds since the epoch.
    mtime: i128,
    ctime: i128,
    mode: u32,
}

impl ConfigIdentity {
    fn of(meta: &fs::Metadata) -> ConfigIdentity {
        let nanos = |secs: i64, nsec: i64| i128::from(secs) * 1_000_000_000 + i128::from(nsec);
        ConfigIdentity {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: nanos(meta.mtime(), meta.mtime_nsec()),
            ctime: nanos(meta.ctime(), meta.ctime_nsec()),
            mode: meta.mode(),
        }
    }

    /// True when a hash whose reading began at `hashed_at` (nanoseconds since the epoch, `None` if the clock is
    /// before it) may be trusted while this identity holds: the file's last modification and change both lie more
    /// than [`RACY_WINDOW`] before it, so no later write can carry the same timestamps. A timestamp in the future
    /// (a skewed clock, `touch -d`) is racy too.
    fn clean_at(&self, hashed_at: Option<i128>) -> bool {
        let window = i128::try_from(RACY_WINDOW.as_nanos()).unwrap_or(i128::MAX);
        hashed_at.is_some_and(|at| self.mtime.max(self.ctime) < at.saturating_sub(window))
    }
}

impl ConfigWatch {
    /// The stamp of the file at `path` as it is now, as [`ConfigStamp::of`] would give it; `None` if it cannot be
    /// read. A `stat` when the file is as it was at the last trusted hash; otherwise a read and a hash.
    pub(crate) fn current(&mut self, path: &Path) -> Option<&ConfigStamp> {
        let now = fs::metadata(path).ok().map(|m| ConfigIdentity::of(&m));
        let trusted = matches!(&self.last, Some((identity, true, _)) if Some(*identity) == now);
        if !trusted {
            self.last = Self::hash(path);
        }
        self.last.as_ref().and_then(|(_, _, stamp)| stamp.as_ref())
    }

    /// Reads and hashes the file, noting when the reading began (before the open: a write after that instant
    /// could be missed by this hash, so it is the instant the racy rule compares with).
    fn hash(path: &Path) -> Option<(ConfigIdentity, bool, Option<ConfigStamp>)> {
        let began = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok();
        let began = began.and_then(|d| i128::try_from(d.as_nanos()).ok());
        let (bytes, meta) = crate::paths::read_regular(path, MAX_CONFIG).ok()?;
        let identity = ConfigIdentity::of(&meta);
        Some((identity, identity.clean_at(began), ConfigStamp::new(path, &meta, &bytes)))
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
    let printable = |e: &Entry| e.token.as_ref().is_none_or(|t| crate::token::is_valid_token(t.expose()));
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

/// What tells two versions of a cache file apart without reading it: device, inode, size, modification time and
/// mode. Only this code writes cache files, and every write is a rename (a new inode); `chmod` changes the mode.
/// (The configuration, which people edit in place, is stamped by content instead: [`ConfigStamp`].)
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
    /// The profile's byte of [`GUARD`], locked shared while this one is held (see the module comment); `None` where
    /// the file system has no byte-range locks.
    _guard: Option<File>,
    profile: String,
}

/// The file whose bytes guard against a deleted lock file (see the module comment); it holds no data.
const GUARD: &str = ".guard";

/// The random part of a temp file's name: this many bytes, as twice as many hex digits.
const TEMP_RANDOM_BYTES: usize = 8;

/// The largest cache entry read; a bigger file is a corrupt entry (a miss), not an allocation.
const MAX_ENTRY: u64 = 8 << 20;

impl Cache {
    /// The cache in `dir` (nothing is created until a write).
    pub fn new(dir: PathBuf) -> Cache {
        Cache { dir: crate::paths::normalize(&dir), memo: RefCell::new(BTreeMap::new()) }
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

    /// Reads the entry of `profile`; a missing or corrupt file is `None`. A directory or file that others could
    /// tamper with, or that is not a regular file, is an error.
    pub fn read(&self, profile: &str) -> Result<Option<Entry>> {
        // The directory first: what is in a directory that is not ours is not opened at all.
        if !self.check_dir()? {
            return Ok(None);
        }
        let path = self.entry_path(profile);
        if let Some((identity, entry)) = self.memo.borrow().get(profile)
            && fs::symlink_metadata(&path).is_ok_and(|m| Identity::of(&m) == *identity)
        {
            return Ok(Some(entry.clone()));
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
            let kind = crate::paths::kind(&meta);
            return Err(Error::Config(format!(
                "refusing cache directory {}: it is a {kind}, not a directory (remove it, or point {} elsewhere)",
                self.dir.display(),
                crate::environment::CACHE_DIR
            )));
        }
        check_private(&self.dir, &meta, true).map_err(refused)?;
        if meta.mode() & 0o077 != 0 {
            let dir =
                crate::paths::open_dir(&self.dir).map_err(|e| Error::io("opening cache directory", &self.dir, e))?;
            make_private(&self.dir, &dir, true).map_err(refused)?;
        }
        Ok(true)
    }

    /// Takes the lock of `profile`, waiting at most `timeout` for another holder.
    pub fn lock(&self, profile: &str, timeout: Duration) -> Result<Lock> {
        self.check_dir()?;
        self.ensure_dir()?;
        self.check_dir()?;
        let path = self.lock_path(profile);
        let started = Instant::now();
        loop {
            let file = open_lock(&path)?;
            wait(|| file.try_lock(), started, timeout).map_err(|e| e.into_error(&path, timeout))?;
            let guard = self.hold_guard(profile, started, timeout)?;
            // Deleted (and perhaps created again by another process) between our open and our lock: the lock we
            // hold is on a file nobody else will ever open. Start over on the file the path names now.
            if still_names(&path, &file).map_err(|e| Error::io("checking lock file", &path, e))? {
                return Ok(Lock { _file: file, _guard: guard, profile: profile.to_owned() });
            }
            crate::log::debug(format_args!("{} was replaced while we locked it; locking it again", path.display()));
        }
    }

    /// The shared guard byte a lock holder keeps, taken after the profile's lock. It is first taken exclusively:
    /// whoever else holds it then holds a lock file that was deleted (we hold the current one), and is waited for
    /// (see the module comment). In normal use nobody else holds it, so this never waits.
    fn hold_guard(&self, profile: &str, started: Instant, timeout: Duration) -> Result<Option<File>> {
        let path = self.dir.join(GUARD);
        let guard = open_lock(&path)?;
        let at = guard_byte(profile);
        for mode in [Mode::Exclusive, Mode::Shared] {
            // Taking the shared lock over the exclusive one converts it, with no moment unlocked in between.
            match wait(|| lock_byte(&guard, at, mode), started, timeout) {
                Ok(()) => {}
                Err(Waited::Failed(e)) => {
                    // A file system without byte-range locks (some network ones): the profile's lock still works,
                    // only the guard against a deleted lock file is gone.
                    crate::log::debug(format_args!("cannot lock {}: {e}; going on", path.display()));
                    return Ok(None);
                }
                Err(e) => return Err(e.into_error(&self.lock_path(profile), timeout)),
            }
        }
        Ok(Some(guard))
    }

    /// Replaces the entry of the locked profile atomically.
    pub fn write(&self, lock: &Lock, entry: &Entry) -> Result<()> {
        self.remove_stale_temps(lock);
        let path = self.entry_path(&lock.profile);
        let json = serde_json::to_vec_pretty(entry).map_err(|e| Error::Other(format!("encoding cache entry: {e}")))?;
        let random = crate::sys::random_hex(TEMP_RANDOM_BYTES)?;
        let temp = self.dir.join(format!(".{}.{random}.tmp", lock.profile));
        let result = write_new(&temp, &json).and_then(|()| fs::rename(&temp, &path));
        if let Err(e) = result {
            let _ = fs::remove_file(&temp);
            return Err(Error::io("writing cache entry", &path, e));
        }
        // Make the rename itself durable; a failure here loses nothing that is not already on its way to disk.
        if let Ok(dir) = crate::paths::open_dir(&self.dir) {
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
    /// while we hold the lock every temp file of this profile is a leftover. Only names exactly of the form this
    /// code writes count: profile `x` must not take `.x.y.<random>.tmp`, a write of profile `x.y` under way.
    fn remove_stale_temps(&self, lock: &Lock) {
        let Ok(dir) = fs::read_dir(&self.dir) else { return };
        for entry in dir.flatten() {
            if is_temp_of(&entry.file_name().to_string_lossy(), &lock.profile) {
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

/// True when `name` is a temp file of `profile`: `.<profile>.<16 hex digits>.tmp`, nothing else.
fn is_temp_of(name: &str, profile: &str) -> bool {
    let random = name
        .strip_prefix('.')
        .and_then(|n| n.strip_prefix(profile))
        .and_then(|n| n.strip_prefix('.'))
        .and_then(|n| n.strip_suffix(".tmp"));
    random.is_some_and(|r| r.len() == 2 * TEMP_RANDOM_BYTES && r.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Opens (creating it if needed) the lock file at `path`, which must be a regular file of ours. Never blocks: a
/// FIFO there is refused, not waited on.
fn open_lock(path: &Path) -> Result<File> {
    // Look first: opening a FIFO or a device can itself have effects (O_NONBLOCK and the check below catch one
    // that appears in between).
    match fs::symlink_metadata(path) {
        Ok(meta) if !meta.is_file() => return Err(refuse_odd(path, &meta)),
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io("checking lock file", path, e)),
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| Error::io("opening lock file", path, e))?;
    let meta = file.metadata().map_err(|e| Error::io("checking lock file", path, e))?;
    if !meta.is_file() {
        return Err(refuse_odd(path, &meta));
    }
    check_private(path, &meta, false).map_err(|e| Error::Config(e.to_string()))?;
    Ok(file)
}

/// The error for something other than a regular file where a cache file belongs.
fn refuse_odd(path: &Path, meta: &fs::Metadata) -> Error {
    Error::Config(format!("refusing cache file {}: {} (remove it)", path.display(), crate::paths::not_regular(meta)))
}

/// True when `path` still names the open `file` (same device and inode).
fn still_names(path: &Path, file: &File) -> std::io::Result<bool> {
    let held = file.metadata()?;
    match fs::symlink_metadata(path) {
        Ok(now) => Ok(now.dev() == held.dev() && now.ino() == held.ino()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Exclusive,
    Shared,
}

/// Why [`wait`] gave up.
enum Waited {
    TimedOut,
    Failed(std::io::Error),
}

impl Waited {
    fn into_error(self, path: &Path, timeout: Duration) -> Error {
        match self {
            Waited::TimedOut => Error::LockTimeout { path: path.to_owned(), seconds: timeout.as_secs() },
            Waited::Failed(e) => Error::io("locking", path, e),
        }
    }
}

/// Calls `try_lock` until it succeeds, polling until `timeout` has passed since `started`.
fn wait(
    try_lock: impl Fn() -> std::result::Result<(), fs::TryLockError>,
    started: Instant,
    timeout: Duration,
) -> std::result::Result<(), Waited> {
    let mut pause = Duration::from_millis(1);
    loop {
        match try_lock() {
            Ok(()) => return Ok(()),
            Err(fs::TryLockError::WouldBlock) if started.elapsed() < timeout => {
                std::thread::sleep(pause.min(timeout.saturating_sub(started.elapsed())));
                // A short cap: when the holder finishes, a herd of waiters should see it within milliseconds.
                pause = (pause * 2).min(Duration::from_millis(5));
            }
            Err(fs::TryLockError::WouldBlock) => return Err(Waited::TimedOut),
            Err(fs::TryLockError::Error(e)) => return Err(Waited::Failed(e)),
        }
    }
}

/// The byte of [`GUARD`] that stands for `profile`: FNV-1a of its name, within the first 2^40 bytes (a file's
/// size does not matter to a byte-range lock), so two profiles share one only by a 1 in 2^40 chance.
fn guard_byte(profile: &str) -> i64 {
    let hash =
        profile.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    i64::try_from(hash >> 24).expect("a 40-bit value fits")
}

/// Tries to lock byte `at` of `file` in `mode` without waiting. Linux's open-file-description locks belong to the
/// open file, like `flock`; elsewhere POSIX record locks belong to the process, which holds one guard at a time.
fn lock_byte(file: &File, at: i64, mode: Mode) -> std::result::Result<(), fs::TryLockError> {
    use std::os::fd::AsRawFd;
    #[cfg(target_os = "linux")]
    const SET: libc::c_int = libc::F_OFD_SETLK;
    #[cfg(not(target_os = "linux"))]
    const SET: libc::c_int = libc::F_SETLK;
    // SAFETY: flock is plain data; fcntl reads it for a descriptor we own.
    let mut range: libc::flock = unsafe { std::mem::zeroed() };
    range.l_type = match mode {
        Mode::Exclusive => libc::F_WRLCK,
        Mode::Shared => libc::F_RDLCK,
    } as _;
    range.l_whence = libc::SEEK_SET as _;
    range.l_start = at as _;
    range.l_len = 1;
    // SAFETY: as above.
    if unsafe { libc::fcntl(file.as_raw_fd(), SET, &range) } == 0 {
        return Ok(());
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EAGAIN | libc::EACCES) => Err(fs::TryLockError::WouldBlock),
        _ => Err(fs::TryLockError::Error(e)),
    }
}

/// Reads a cache file that must be a regular file of ours, not writable by others (never following a symlink, never
/// blocking on a FIFO, never reading more than [`MAX_ENTRY`]).
fn open_private(path: &Path) -> std::io::Result<(Vec<u8>, Identity)> {
    use std::io::Read;
    let refused = |why: String| {
        std::io::Error::new(ErrorKind::PermissionDenied, format!("refusing cache file {}: {why}", path.display()))
    };
    let flags = libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY;
    let mut file = OpenOptions::new().read(true).custom_flags(flags).open(path).map_err(|e| {
        match e.raw_os_error() {
            Some(libc::ELOOP) => refused("it is a symlink (remove it)".into()),
            // A socket cannot be opened at all; say what it is rather than "no such device".
            Some(libc::ENXIO) => fs::symlink_metadata(path)
                .map_or(e, |m| refused(format!("{} (remove it)", crate::paths::not_regular(&m)))),
            _ => e,
        }
    })?;
    let mut meta = file.metadata()?;
    if !meta.is_file() {
        return Err(refused(format!("{} (remove it)", crate::paths::not_regular(&meta))));
    }
    check_private(path, &meta, false)?;
    if meta.mode() & 0o077 != 0 {
        make_private(path, &file, false)?;
        meta = file.metadata()?;
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len().min(MAX_ENTRY)).unwrap_or(0) + 1);
    Read::by_ref(&mut file).take(MAX_ENTRY + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_ENTRY {
        // Not a cache entry this code wrote: a miss, and replaced at the next write.
        bytes.clear();
    }
    Ok((bytes, Identity::of(&meta)))
}

/// Refuses what is not ours, a symlink, or writable by group or others (as ssh does with `~/.ssh`).
fn check_private(path: &Path, meta: &fs::Metadata, dir: bool) -> std::io::Result<()> {
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

/// Takes group and other permissions off an open cache file or directory that others can read, with a warning:
/// the tokens may have been read already, and only renewing them helps with that.
fn make_private(path: &Path, file: &File, dir: bool) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let before = file.metadata()?.mode() & 0o777;
    let after = if dir { 0o700 } else { 0o600 };
    file.set_permissions(fs::Permissions::from_mode(after))?;
    let holds = if dir { "the tokens in it" } else { "its tokens" };
    crate::log::warn(format_args!(
        "{} was readable by group or others (mode {before:04o}); made it {after:04o}. {holds} may have leaked: \
         run `tokenfob logout PROFILE` then `tokenfob login PROFILE` to replace them",
        path.display(),
    ));
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
        let cache = Cache::new(dir.path().to_owned());
        let _held = cache.lock("p", Duration::from_secs(1)).unwrap();
        let err = cache.lock("p", Duration::from_millis(100)).unwrap_err();
        assert_eq!(err.code(), "lock_timeout");
        assert!(err.to_string().contains("p.lock"), "{err}");
    }

    #[test]
    fn a_config_hash_is_trusted_only_when_the_file_was_quiet_for_longer_than_a_tick() {
        let second = 1_000_000_000_i128;
        let at = |mtime: i128, ctime: i128| ConfigIdentity { dev: 1, ino: 2, size: 3, mtime, ctime, mode: 0o600 };
        let hashed_at = Some(1_000 * second);
        assert!(at(900 * second, 900 * second).clean_at(hashed_at));
        // Changed within the window before the hash (by a write, or a chmod: ctime), or "in the future".
        assert!(!at(900 * second, 999 * second).clean_at(hashed_at));
        assert!(!at(999 * second, 999 * second).clean_at(hashed_at));
        assert!(!at(1_000 * second, 900 * second).clean_at(hashed_at));
        assert!(!at(2_000 * second, 2_000 * second).clean_at(hashed_at));
        // A clock before 1970 proves nothing.
        assert!(!at(900 * second, 900 * second).clean_at(None));
    }

    #[test]
    fn the_config_watch_stats_while_trusted_and_hashes_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        fs::write(&path, "a = 1\n").unwrap();
        let mut watch = ConfigWatch::default();
        assert_eq!(watch.current(&path), ConfigStamp::of(&path).as_ref());
        // Just written: racy, so not trusted; an in-place edit that keeps the size and the mtime is seen.
        assert!(matches!(watch.last, Some((_, false, _))));
        let mtime = fs::metadata(&path).unwrap().modified().unwrap();
        fs::write(&path, "a = 2\n").unwrap();
        File::options().write(true).open(&path).unwrap().set_modified(mtime).unwrap();
        let edited = ConfigStamp::of(&path);
        assert_eq!(watch.current(&path), edited.as_ref());
        // A trusted hash with the same identity is not redone (the planted stamp proves no read happened)...
        let identity = ConfigIdentity::of(&fs::metadata(&path).unwrap());
        let planted = ConfigStamp { path: "planted".into(), mode: 0, sha256: String::new() };
        watch.last = Some((identity, true, Some(planted.clone())));
        assert_eq!(watch.current(&path), Some(&planted));
        // ...until the identity changes: a chmod sets ctime and mode.
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        assert_eq!(watch.current(&path), ConfigStamp::of(&path).as_ref());
        fs::remove_file(&path).unwrap();
        assert_eq!(watch.current(&path), None);
    }
}
