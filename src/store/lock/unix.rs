//! Unix: the guard byte is locked with `fcntl`.

use std::fs::{self, File};

use super::Mode;

/// Tries to lock byte `at` of `file` in `mode` without waiting. Linux's open-file-description locks belong to the
/// open file, like `flock`; elsewhere POSIX record locks belong to the process, which holds one guard at a time.
pub(super) fn lock_byte(file: &File, at: i64, mode: Mode) -> std::result::Result<(), fs::TryLockError> {
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
