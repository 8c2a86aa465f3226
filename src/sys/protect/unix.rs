//! Unix: a file is ours when our effective uid owns it; others may write it when its mode has a group or other
//! write bit, read it when it has any group or other bit. Files are created with mode 0600, directories 0700, and
//! opened with `O_NOFOLLOW` (a symlink is refused) and `O_NONBLOCK` (a FIFO is never waited on).

use std::fs::{self, DirBuilder, File, Metadata, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Who "others" are, in messages.
pub(crate) const OTHERS: &str = "group or others";
/// How a user makes a file readable by them alone, in messages.
pub(crate) const MAKE_PRIVATE: &str = "chmod 600 it";

/// Checks that `meta` (of `path`, a directory when `dir`) is not a symlink, is ours, and is not writable by group
/// or others; `Err` says why not. `Ok(true)` when group or others have any other access, which
/// [`make_private`] takes away. (`_file` is for systems whose check needs an open handle.)
pub(crate) fn check(path: &Path, meta: &Metadata, _file: Option<&File>, dir: bool) -> Result<bool, String> {
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if meta.file_type().is_symlink() {
        return Err("it is a symlink (point TOKENFOB_CACHE_DIR at the real directory)".into());
    }
    if meta.uid() != me {
        return Err(format!("it is owned by uid {}, not by you (uid {me}); remove it or fix its owner", meta.uid()));
    }
    if meta.mode() & 0o022 != 0 {
        let fix = if dir { "chmod 700" } else { "chmod 600" };
        return Err(format!("it is writable by group or others ({fix} {})", path.display()));
    }
    Ok(meta.mode() & 0o077 != 0)
}

/// Takes group and other permissions off an open cache file or directory that others can read, with a warning:
/// the tokens may have been read already, and only renewing them helps with that.
pub(crate) fn make_private(path: &Path, file: &File, dir: bool) -> std::io::Result<()> {
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

/// True when a configuration file with metadata `meta` is readable by group or others.
pub(crate) fn config_readable_by_others(_path: &Path, meta: &Metadata) -> bool {
    meta.mode() & 0o044 != 0
}

/// Opens a cache entry for reading, never following a symlink and never blocking; `refused` makes the error for a
/// symlink or a socket there.
pub(crate) fn open_entry(path: &Path, refused: impl Fn(String) -> std::io::Error) -> std::io::Result<File> {
    let flags = libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY;
    OpenOptions::new().read(true).custom_flags(flags).open(path).map_err(|e| match e.raw_os_error() {
        Some(libc::ELOOP) => refused("it is a symlink (remove it)".into()),
        // A socket cannot be opened at all; say what it is rather than "no such device".
        Some(libc::ENXIO) => fs::symlink_metadata(path)
            .map_or(e, |m| refused(format!("{} (remove it)", crate::sys::fs::not_regular(&m)))),
        _ => e,
    })
}

/// Opens (creating it with mode 0600 if needed) a lock file for reading and writing, never following a symlink and
/// never blocking.
pub(crate) fn open_lock(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
}

/// Creates `path` exclusively with mode 0600, writes `bytes` and fsyncs.
pub(crate) fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file =
        OpenOptions::new().write(true).create_new(true).mode(0o600).custom_flags(libc::O_NOFOLLOW).open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Creates the directory `path` and any missing parents; the new ones get mode 0700.
pub(crate) fn create_dir_all(path: &Path) -> std::io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(path)
}

/// Creates the directory `path`, which must not exist yet, with mode 0700.
pub(crate) fn create_dir(path: &Path) -> std::io::Result<()> {
    DirBuilder::new().mode(0o700).create(path)
}
