//! Unix: a helper name is a symlink to tokenfob, and a file written keeps (or gets) its permission bits.

use std::fs::{File, Metadata, OpenOptions};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Makes `at` a symlink to `target`.
pub(super) fn link(target: &Path, at: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, at)
}

/// The permission bits of a file.
pub(super) fn mode(meta: &Metadata) -> u32 {
    meta.permissions().mode() & 0o7777
}

/// Creates `path`, which must not exist, with `mode` (whatever the umask takes away is put back after writing).
pub(super) fn create_new(path: &Path, mode: u32) -> std::io::Result<File> {
    OpenOptions::new().write(true).create_new(true).mode(mode).open(path)
}

/// Sets `path`'s permission bits to `mode`.
pub(super) fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}
