//! Windows: a symlink needs a privilege most users lack, so a helper name is a copy of tokenfob.exe (as
//! docs/integrations.md says for Terraform and Docker); files have no permission bits to keep. Untested.

use std::fs::{File, Metadata, OpenOptions};
use std::path::Path;

/// Makes `at` a copy of `target`.
pub(super) fn link(target: &Path, at: &Path) -> std::io::Result<()> {
    std::fs::copy(target, at).map(|_| ())
}

/// Windows files have no permission bits.
pub(super) fn mode(_meta: &Metadata) -> u32 {
    0
}

/// Creates `path`, which must not exist.
pub(super) fn create_new(path: &Path, _mode: u32) -> std::io::Result<File> {
    OpenOptions::new().write(true).create_new(true).open(path)
}

/// Nothing to set.
pub(super) fn set_mode(_path: &Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}
