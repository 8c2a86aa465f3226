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
/// What a private directory is, in messages ("made 0700 when needed").
pub(crate) const PRIVATE_DIR: &str = "0700";

/// The command that makes `path` (a directory when `dir`) its owner's alone, for messages.
pub(crate) fn fix(path: &Path, dir: bool) -> String {
    format!("chmod {} {}", if dir { "700" } else { "600" }, path.display())
}

/// What the mode bits of `meta` let group and others do.
pub(crate) fn exposure(_path: &Path, meta: &Metadata) -> super::Exposure {
    let mode = meta.mode() & 0o7777;
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    super::Exposure {
        shown: format!("mode {mode:04o}"),
        write: mode & 0o022 != 0,
        read: mode & 0o044 != 0,
        any: mode & 0o077 != 0,
        sticky: meta.is_dir() && mode & 0o1000 != 0,
        stranger: (meta.uid() != me).then(|| (format!("uid {}", meta.uid()), format!("uid {me}"))),
    }
}

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

/// Creates `path` exclusively with mode 0600 (less what the umask takes), never following a symlink, for writing.
pub(crate) fn create_new(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().write(true).create_new(true).mode(0o600).custom_flags(libc::O_NOFOLLOW).open(path)
}

/// Gives `file` (made by [`create_new`]) the mode of the file at `like`, or exactly 0600 when there is none.
pub(crate) fn keep_access(file: &File, like: Option<&Path>) -> std::io::Result<()> {
    let mode = like.and_then(|p| fs::metadata(p).ok()).map_or(0o600, |m| m.mode() & 0o7777);
    file.set_permissions(fs::Permissions::from_mode(mode))
}

/// As [`keep_access`], but private to the owner whatever `like` allowed (its mode less group and other bits): for
/// a file about to hold a secret. Says what was taken away, when anything was.
pub(crate) fn keep_access_private(file: &File, like: Option<&Path>) -> std::io::Result<Option<String>> {
    let old = like.and_then(|p| fs::metadata(p).ok()).map_or(0o600, |m| m.mode() & 0o7777);
    let new = old & !0o077;
    file.set_permissions(fs::Permissions::from_mode(new))?;
    Ok((new != old).then(|| format!("made it mode {new:04o} (it was {old:04o})")))
}

/// Creates `path` exclusively with mode 0600, writes `bytes` and fsyncs.
pub(crate) fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = create_new(path)?;
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
