//! Opening files without surprises: [`read_regular`] is the one way a file the user names (the configuration, a
//! `{ file = ... }` secret, a `ca_file`) is read: never blocking on a FIFO, only a regular file, at most a given
//! size, and [`open_read`] opens one the same way for a look at its metadata. [`executable`] finds the program a
//! path names. [`open_dir`] opens a directory without following a symlink (or, on Windows, a reparse point). The open
//! flags that make this so differ per system and live in `fs/unix.rs` and `fs/windows.rs`.

use std::fs::Metadata;
use std::io::{ErrorKind, Read};
use std::path::Path;

#[cfg_attr(unix, path = "fs/unix.rs")]
#[cfg_attr(windows, path = "fs/windows.rs")]
mod platform;

pub(crate) use platform::{executable, open_dir, open_read, replace};

/// Where a file that does not exist yet is written: `path` itself, or, when it is a symlink to nothing, the link's
/// target (relative to the link's directory), so that the link stays (a dotfile kept in a dotfiles repository).
pub(crate) fn dangling_target(path: &Path) -> std::path::PathBuf {
    let link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    match std::fs::read_link(path) {
        Ok(to) if link => path.parent().map_or(to.clone(), |dir| dir.join(&to)),
        _ => path.to_owned(),
    }
}

/// Reads the regular file at `path` (following symlinks), at most `limit` bytes, with its metadata. It is opened
/// without blocking, so a FIFO or device there is an error naming what it is, never a hang, and a device such as
/// `/dev/zero` is never read.
pub(crate) fn read_regular(path: &Path, limit: u64) -> std::io::Result<(Vec<u8>, Metadata)> {
    let mut file = platform::open_read(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(not_regular(&meta));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len().min(limit)).unwrap_or(0).saturating_add(1));
    Read::by_ref(&mut file).take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::new(ErrorKind::InvalidData, format!("it is larger than {limit} bytes")));
    }
    Ok((bytes, meta))
}

/// The error for a file that should be a regular file and is not.
pub(crate) fn not_regular(meta: &Metadata) -> std::io::Error {
    std::io::Error::new(ErrorKind::InvalidInput, format!("it is a {}, not a regular file", kind(meta)))
}

/// What kind of file `meta` describes, in words.
pub(crate) fn kind(meta: &Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_file() {
        "regular file"
    } else if t.is_dir() {
        "directory"
    } else if t.is_symlink() {
        "symlink"
    } else {
        platform::special_kind(&t).unwrap_or("special file")
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn read_regular_refuses_what_is_not_a_regular_file_and_bounds_the_size() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"12345").unwrap();
        assert_eq!(read_regular(&file, 5).unwrap().0, b"12345");
        assert!(read_regular(&file, 4).unwrap_err().to_string().contains("larger than 4 bytes"));
        for (odd, what) in [("/dev/zero", "character device"), ("/", "directory")] {
            assert_eq!(
                read_regular(Path::new(odd), 10).unwrap_err().to_string(),
                format!("it is a {what}, not a regular file")
            );
        }
    }
}
