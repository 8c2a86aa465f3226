//! Cache files that only we can touch: read without following a symlink or blocking on a FIFO, refused when
//! another user owns them or can write them, made private (with a warning) when others could read them, and written
//! exclusively with mode 0600.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use crate::error::Error;
use crate::fileid::Identity;

/// The largest cache entry read; a bigger file is a corrupt entry (a miss), not an allocation.
const MAX_ENTRY: u64 = 8 << 20;

/// The error for something other than a regular file where a cache file belongs.
pub(super) fn refuse_odd(path: &Path, meta: &fs::Metadata) -> Error {
    Error::Config(format!("refusing cache file {}: {} (remove it)", path.display(), crate::sys::fs::not_regular(meta)))
}

/// Reads a cache file that must be a regular file of ours, not writable by others (never following a symlink, never
/// blocking on a FIFO, never reading more than [`MAX_ENTRY`]).
pub(super) fn open_private(path: &Path) -> std::io::Result<(Vec<u8>, Identity)> {
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
                .map_or(e, |m| refused(format!("{} (remove it)", crate::sys::fs::not_regular(&m)))),
            _ => e,
        }
    })?;
    let mut meta = file.metadata()?;
    if !meta.is_file() {
        return Err(refused(format!("{} (remove it)", crate::sys::fs::not_regular(&meta))));
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
pub(super) fn check_private(path: &Path, meta: &fs::Metadata, dir: bool) -> std::io::Result<()> {
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
pub(super) fn make_private(path: &Path, file: &File, dir: bool) -> std::io::Result<()> {
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
pub(super) fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file =
        OpenOptions::new().write(true).create_new(true).mode(0o600).custom_flags(libc::O_NOFOLLOW).open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}
