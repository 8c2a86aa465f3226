//! Cache files that only we can touch: read without following a symlink (or reparse point) or blocking on a FIFO,
//! refused when another user owns them or can write them, made private (with a warning) when others could read
//! them, and written exclusively, readable by us alone. The system calls behind each of these are
//! `sys::protect`'s; this module is the cache's policy.

use std::fs::{self, File};
use std::io::ErrorKind;
use std::path::Path;

use crate::error::Error;
use crate::fileid::Identity;
pub(super) use crate::sys::protect::write_new;

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
    let mut file = crate::sys::protect::open_entry(path, refused)?;
    let mut meta = file.metadata()?;
    if !meta.is_file() {
        return Err(refused(format!("{} (remove it)", crate::sys::fs::not_regular(&meta))));
    }
    if check_private(path, &meta, Some(&file), false)? {
        make_private(path, &file, false)?;
        meta = file.metadata()?;
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len().min(MAX_ENTRY)).unwrap_or(0) + 1);
    Read::by_ref(&mut file).take(MAX_ENTRY + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_ENTRY {
        // Not a cache entry this code wrote: a miss, and replaced at the next write.
        bytes.clear();
    }
    Ok((bytes, Identity::of(&file, &meta)?))
}

/// Refuses what is not ours, a symlink, or writable by others (as ssh does with `~/.ssh`); true when others may
/// read it, which [`make_private`] repairs. `file` is the open file or directory, when there is one.
pub(super) fn check_private(path: &Path, meta: &fs::Metadata, file: Option<&File>, dir: bool) -> std::io::Result<bool> {
    let what = if dir { "cache directory" } else { "cache file" };
    crate::sys::protect::check(path, meta, file, dir).map_err(|why| {
        std::io::Error::new(ErrorKind::PermissionDenied, format!("refusing {what} {}: {why}", path.display()))
    })
}

/// Takes away the access of others to an open cache file or directory, with a warning: the tokens may have been
/// read already, and only renewing them helps with that.
pub(super) fn make_private(path: &Path, file: &File, dir: bool) -> std::io::Result<()> {
    crate::sys::protect::make_private(path, file, dir)
}
