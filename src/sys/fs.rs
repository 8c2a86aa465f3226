//! Opening files without surprises: [`read_regular`] is the one way a file the user names (the configuration, a
//! `{ file = ... }` secret, a `ca_file`) is read: never blocking on a FIFO, only a regular file, at most a given
//! size. [`open_dir`] opens a directory without following a symlink.

use std::fs::{File, Metadata, OpenOptions};
use std::io::{ErrorKind, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Reads the regular file at `path` (following symlinks), at most `limit` bytes, with its metadata. It is opened
/// without blocking, so a FIFO or device there is an error naming what it is, never a hang, and a device such as
/// `/dev/zero` is never read. `O_NONBLOCK` changes nothing for a regular file, so it is left set.
pub(crate) fn read_regular(path: &Path, limit: u64) -> std::io::Result<(Vec<u8>, Metadata)> {
    let mut file = OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY).open(path)?;
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
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    let kinds = [
        (t.is_file(), "regular file"),
        (t.is_dir(), "directory"),
        (t.is_symlink(), "symlink"),
        (t.is_fifo(), "fifo"),
        (t.is_socket(), "socket"),
        (t.is_char_device(), "character device"),
        (t.is_block_device(), "block device"),
    ];
    kinds.iter().find(|(is, _)| *is).map_or("special file", |(_, name)| name)
}

/// Opens `dir` as a directory, never following a symlink in its last component and never blocking.
pub(crate) fn open_dir(dir: &Path) -> std::io::Result<File> {
    OpenOptions::new().read(true).custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_NONBLOCK).open(dir)
}

#[cfg(test)]
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
