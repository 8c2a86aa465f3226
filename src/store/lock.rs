//! The renewal lock: an exclusive lock on `<profile>.lock`, plus a shared byte of `.guard` held beside it, so a
//! lock file deleted while held cannot let a second renewal in (see `store`'s module comment). Waits are bounded.
//! The profile's lock is std's `File::try_lock` (`flock` on Unix, `LockFileEx` on Windows); the guard's byte-range
//! lock has no std call, so it is `lock/unix.rs` (`fcntl`) or `lock/windows.rs` (`LockFileEx` on one byte).

use std::fs::{self, File};
use std::io::ErrorKind;
use std::path::Path;
use std::time::{Duration, Instant};

use super::private::{check_private, refuse_odd};
use crate::error::{Error, Result};
use crate::fileid::Identity;

#[cfg_attr(unix, path = "lock/unix.rs")]
#[cfg_attr(windows, path = "lock/windows.rs")]
mod platform;

/// An exclusive lock on one profile; released on drop (or by the kernel when the process dies).
#[derive(Debug)]
pub(crate) struct Lock {
    _file: File,
    /// The profile's byte of [`GUARD`], locked shared while this one is held (see the module comment); `None` where
    /// the file system has no byte-range locks.
    _guard: Option<File>,
    profile: String,
}

/// The file whose bytes guard against a deleted lock file (see the module comment); it holds no data.
const GUARD: &str = ".guard";

impl Lock {
    /// Locks `path`, the lock file of `profile` in `dir`, waiting at most `timeout` for another holder.
    pub(super) fn take(dir: &Path, path: &Path, profile: &str, timeout: Duration) -> Result<Lock> {
        let started = Instant::now();
        loop {
            let file = open_lock(path)?;
            wait(|| file.try_lock(), started, timeout).map_err(|e| e.into_error(path, timeout))?;
            let guard = hold_guard(dir, path, profile, started, timeout)?;
            // Deleted (and perhaps created again by another process) between our open and our lock: the lock we
            // hold is on a file nobody else will ever open. Start over on the file the path names now.
            if still_names(path, &file).map_err(|e| Error::io("checking lock file", path, e))? {
                return Ok(Lock { _file: file, _guard: guard, profile: profile.to_owned() });
            }
            crate::log::debug(format_args!("{} was replaced while we locked it; locking it again", path.display()));
        }
    }

    /// The profile this lock is for.
    pub(super) fn profile(&self) -> &str {
        &self.profile
    }
}

/// The shared guard byte a lock holder keeps, taken after the profile's lock on `lock_path`. It is first taken
/// exclusively: whoever else holds it then holds a lock file that was deleted (we hold the current one), and is
/// waited for (see the module comment). In normal use nobody else holds it, so this never waits.
fn hold_guard(
    dir: &Path,
    lock_path: &Path,
    profile: &str,
    started: Instant,
    timeout: Duration,
) -> Result<Option<File>> {
    let path = dir.join(GUARD);
    let guard = open_lock(&path)?;
    let at = guard_byte(profile);
    for mode in [Mode::Exclusive, Mode::Shared] {
        // Taking the shared lock over the exclusive one converts it, with no moment unlocked in between.
        match wait(|| platform::lock_byte(&guard, at, mode), started, timeout) {
            Ok(()) => {}
            Err(Waited::Failed(e)) => {
                // A file system without byte-range locks (some network ones): the profile's lock still works,
                // only the guard against a deleted lock file is gone.
                crate::log::debug(format_args!("cannot lock {}: {e}; going on", path.display()));
                return Ok(None);
            }
            Err(e) => return Err(e.into_error(lock_path, timeout)),
        }
    }
    Ok(Some(guard))
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
    let file = crate::sys::protect::open_lock(path).map_err(|e| Error::io("opening lock file", path, e))?;
    let meta = file.metadata().map_err(|e| Error::io("checking lock file", path, e))?;
    if !meta.is_file() {
        return Err(refuse_odd(path, &meta));
    }
    check_private(path, &meta, Some(&file), false).map_err(|e| Error::Config(e.to_string()))?;
    Ok(file)
}

/// True when `path` still names the open `file` (same device and inode, or volume and file index).
fn still_names(path: &Path, file: &File) -> std::io::Result<bool> {
    let held = Identity::of(file, &file.metadata()?)?;
    match Identity::at(path) {
        Ok(now) => Ok(now.same_file(&held)),
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
