//! Windows: there are no FIFOs or devices in the file name space a user points tokenfob at (named pipes live under
//! `\\.\pipe\`, and `read_regular` refuses whatever is not a regular file before reading), so a plain open is the
//! non-blocking one. A directory is opened with `FILE_FLAG_BACKUP_SEMANTICS` (required for a directory handle) and
//! `FILE_FLAG_OPEN_REPARSE_POINT` (the counterpart of `O_NOFOLLOW`), and refused if it is a reparse point.

use std::fs::{File, FileType, OpenOptions};
use std::io::ErrorKind;
use std::os::windows::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use windows_sys::Win32::Foundation::{ERROR_ACCESS_DENIED, ERROR_SHARING_VIOLATION};
use windows_sys::Win32::Storage::FileSystem::{
    FILE_ATTRIBUTE_DIRECTORY, FILE_ATTRIBUTE_REPARSE_POINT, FILE_FLAG_BACKUP_SEMANTICS, FILE_FLAG_OPEN_REPARSE_POINT,
};

/// Opens `path` for reading (following reparse points, as Unix follows symlinks here).
pub(crate) fn open_read(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().read(true).open(path)
}

/// Windows has no special file types beyond directories and reparse points in std's view.
pub(super) fn special_kind(_: &FileType) -> Option<&'static str> {
    None
}

/// Opens `dir` as a directory, never following a reparse point (symlink, junction) in its last component.
pub(crate) fn open_dir(dir: &Path) -> std::io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT)
        .open(dir)?;
    let attributes = file.metadata()?.file_attributes();
    if attributes & FILE_ATTRIBUTE_REPARSE_POINT != 0 {
        return Err(std::io::Error::new(ErrorKind::InvalidInput, "it is a symlink or another reparse point"));
    }
    if attributes & FILE_ATTRIBUTE_DIRECTORY == 0 {
        return Err(std::io::Error::new(ErrorKind::NotADirectory, "it is not a directory"));
    }
    Ok(file)
}

/// How long [`replace`] retries a rename that another process's open handle holds up.
const REPLACE_PATIENCE: Duration = Duration::from_secs(2);

/// Renames `from` over `to` atomically. std renames with POSIX semantics where Windows has them (Windows 10 1709
/// and later on NTFS), so an open reader does not stand in the way; elsewhere, and when another process opened `to`
/// without `FILE_SHARE_DELETE` (an antivirus scanner, an indexer), the rename fails with "access denied" or "sharing
/// violation" for a moment, so it is retried for up to [`REPLACE_PATIENCE`].
pub(crate) fn replace(from: &Path, to: &Path) -> std::io::Result<()> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(2);
    loop {
        match std::fs::rename(from, to) {
            Err(e) if busy(&e) && !stuck(to) && started.elapsed() < REPLACE_PATIENCE => std::thread::sleep(pause),
            other => return other,
        }
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// True for the errors of a file that another process holds open.
fn busy(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(c) if c == ERROR_ACCESS_DENIED as i32 || c == ERROR_SHARING_VIOLATION as i32)
}

/// True when `to` is what no retry gets past: a directory or a read-only file (both "access denied" too).
fn stuck(to: &Path) -> bool {
    std::fs::symlink_metadata(to).is_ok_and(|m| m.is_dir() || m.permissions().readonly())
}

/// What `cmd` runs for `path`: the file itself when it names one, else the first of `path` with an extension from
/// `pathext` (`%PATHEXT%`; default `.COM;.EXE;.BAT;.CMD`) added that is a file.
pub(crate) fn executable(path: &Path, pathext: Option<&str>) -> Option<PathBuf> {
    if path.extension().is_some() && path.is_file() {
        return Some(path.to_owned());
    }
    pathext.unwrap_or(".COM;.EXE;.BAT;.CMD").split(';').filter(|e| e.starts_with('.')).find_map(|ext| {
        let mut name = path.as_os_str().to_owned();
        name.push(ext.to_ascii_lowercase());
        let candidate = PathBuf::from(name);
        candidate.is_file().then_some(candidate)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rename_over_a_directory_or_a_read_only_file_is_not_retried() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("new");
        std::fs::write(&from, b"new").unwrap();
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        let read_only = dir.path().join("ro");
        std::fs::write(&read_only, b"old").unwrap();
        let mut permissions = std::fs::metadata(&read_only).unwrap().permissions();
        permissions.set_readonly(true);
        std::fs::set_permissions(&read_only, permissions).unwrap();
        let plain = dir.path().join("plain");
        std::fs::write(&plain, b"old").unwrap();
        assert!(stuck(&sub) && stuck(&read_only));
        assert!(!stuck(&plain) && !stuck(&dir.path().join("missing")));
        assert!(replace(&from, &sub).is_err());
        replace(&from, &plain).unwrap();
        assert_eq!(std::fs::read(&plain).unwrap(), b"new");
    }
}
