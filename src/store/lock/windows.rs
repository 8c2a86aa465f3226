//! Windows: the guard byte is locked with `LockFileEx` on one byte at the given offset. `LockFileEx` does not
//! convert an exclusive lock into a shared one (a second call would stack a second lock), so the shared step keeps
//! the exclusive lock taken just before: that has the same effect here, since the guard byte of a profile is only
//! ever taken by a process that holds the profile's lock, and a second holder appears only after a lock file was
//! deleted, which is exactly when it must wait. Windows releases the lock when the handle closes or the process dies.

use std::fs::{self, File};
use std::os::windows::io::AsRawHandle;

use windows_sys::Win32::Foundation::{ERROR_IO_PENDING, ERROR_LOCK_VIOLATION};
use windows_sys::Win32::Storage::FileSystem::{LOCKFILE_EXCLUSIVE_LOCK, LOCKFILE_FAIL_IMMEDIATELY, LockFileEx};
use windows_sys::Win32::System::IO::OVERLAPPED;

use super::Mode;

/// Tries to lock byte `at` of `file` in `mode` without waiting (see the module comment for the shared mode).
pub(super) fn lock_byte(file: &File, at: i64, mode: Mode) -> std::result::Result<(), fs::TryLockError> {
    if mode == Mode::Shared {
        return Ok(());
    }
    let at = u64::try_from(at).map_err(|_| fs::TryLockError::Error(std::io::ErrorKind::InvalidInput.into()))?;
    // SAFETY: a zeroed OVERLAPPED is valid; the offset goes into its union.
    let mut overlapped: OVERLAPPED = unsafe { std::mem::zeroed() };
    overlapped.Anonymous.Anonymous.Offset = at as u32;
    overlapped.Anonymous.Anonymous.OffsetHigh = (at >> 32) as u32;
    let flags = LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY;
    // SAFETY: the handle is ours and open; `overlapped` lives across the call, which does not wait.
    if unsafe { LockFileEx(file.as_raw_handle(), flags, 0, 1, 0, &mut overlapped) } != 0 {
        return Ok(());
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(c) if c == ERROR_LOCK_VIOLATION as i32 || c == ERROR_IO_PENDING as i32 => {
            Err(fs::TryLockError::WouldBlock)
        }
        _ => Err(fs::TryLockError::Error(e)),
    }
}
