//! Unix: a file is its device and inode; versions differ in size, `stat` times and mode.

use std::fs::{self, File, Metadata};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::ConfigIdentity;

/// What tells two versions of a cache file apart without reading it: device, inode, size, modification time and
/// mode. Only this code writes cache files, and every write is a rename (a new inode); `chmod` changes the mode.
/// (The configuration, which people edit in place, is stamped by content instead: [`super::ConfigStamp`].)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Identity {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: i64,
    mtime_nsec: i64,
    mode: u32,
}

impl Identity {
    /// The identity of the open `file`, whose metadata is `meta` (all Unix needs).
    pub(crate) fn of(_file: &File, meta: &Metadata) -> std::io::Result<Identity> {
        Ok(Identity::from(meta))
    }

    /// The identity of what `path` names, not following a symlink (one `lstat`).
    pub(crate) fn at(path: &Path) -> std::io::Result<Identity> {
        Ok(Identity::from(&fs::symlink_metadata(path)?))
    }

    /// True when both are the same file (perhaps in different versions).
    pub(crate) fn same_file(&self, other: &Identity) -> bool {
        self.dev == other.dev && self.ino == other.ino
    }

    fn from(meta: &Metadata) -> Identity {
        Identity {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: meta.mtime(),
            mtime_nsec: meta.mtime_nsec(),
            mode: meta.mode(),
        }
    }
}

/// The permission bits and type of a file, as its configuration stamp records them.
pub(super) fn mode(meta: &Metadata) -> u32 {
    meta.mode()
}

/// What `stat` says about a configuration file.
pub(super) fn config_identity(meta: &Metadata) -> ConfigIdentity {
    let nanos = |secs: i64, nsec: i64| i128::from(secs) * 1_000_000_000 + i128::from(nsec);
    ConfigIdentity {
        dev: meta.dev(),
        ino: meta.ino(),
        size: meta.size(),
        mtime: nanos(meta.mtime(), meta.mtime_nsec()),
        ctime: nanos(meta.ctime(), meta.ctime_nsec()),
        mode: meta.mode(),
    }
}
