//! Unix: a helper name is a symlink to tokenfob, and a file written keeps (or gets) its permission bits.

use std::fs::{File, Metadata, OpenOptions};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::environment::Env;

/// The home directory the tools keep their configuration in: `$HOME`, when it is an absolute path.
pub(super) fn home(env: &Env) -> Option<PathBuf> {
    env.get("HOME").map(PathBuf::from).filter(|h| h.is_absolute())
}

/// What must be set for [`home`], in messages.
pub(super) const HOME: &str = "$HOME";

/// `path` with every symlink resolved.
pub(super) fn canonical(path: &Path) -> std::io::Result<PathBuf> {
    std::fs::canonicalize(path)
}

/// True when `path` (whose metadata is `meta`) is a symlink to `program`.
pub(super) fn links_to(path: &Path, meta: &Metadata, program: &Path) -> bool {
    let same = |a: &Path, b: &Path| canonical(a).is_ok_and(|a| canonical(b).is_ok_and(|b| a == b));
    meta.file_type().is_symlink() && same(path, program)
}

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
