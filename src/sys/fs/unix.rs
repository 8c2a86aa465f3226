//! Unix: files opened with `O_NONBLOCK` (a FIFO never blocks the open; it changes nothing for a regular file, so
//! it is left set) and `O_NOCTTY`, directories with `O_NOFOLLOW`.

use std::fs::{File, FileType, OpenOptions};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// Opens `path` for reading (following symlinks) without blocking and without taking a controlling terminal.
pub(super) fn open_read(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY).open(path)
}

/// The name of a Unix special file type, if `t` is one.
pub(super) fn special_kind(t: &FileType) -> Option<&'static str> {
    let kinds = [
        (t.is_fifo(), "fifo"),
        (t.is_socket(), "socket"),
        (t.is_char_device(), "character device"),
        (t.is_block_device(), "block device"),
    ];
    kinds.iter().find(|(is, _)| *is).map(|(_, name)| *name)
}

/// Opens `dir` as a directory, never following a symlink in its last component and never blocking.
pub(crate) fn open_dir(dir: &Path) -> std::io::Result<File> {
    OpenOptions::new().read(true).custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_NONBLOCK).open(dir)
}

/// Renames `from` over `to` atomically (readers see the old file or the new one, never neither).
pub(crate) fn replace(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::rename(from, to)
}
