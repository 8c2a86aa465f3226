//! Windows: a file is its volume serial number and file index (`GetFileInformationByHandle`, on a handle opened
//! without following a reparse point); versions differ in size, last write time and attributes. std's `Metadata`
//! does not offer the file index on stable Rust, hence the handle.
//!
//! The configuration's quick check ([`super::ConfigWatch`]) has only std's metadata: size, last write time and
//! attributes, without the change time that Unix's `ctime` gives. So in a long-lived `tokenfob protocol`, an edit
//! that keeps the size and sets the last write time back within the racy window is seen only after the next
//! renewal; one-shot runs always hash the file.

use std::fs::{File, Metadata, OpenOptions};
use std::os::windows::fs::{MetadataExt, OpenOptionsExt};
use std::os::windows::io::AsRawHandle;
use std::path::Path;

use windows_sys::Win32::Storage::FileSystem::{
    BY_HANDLE_FILE_INFORMATION, FILE_FLAG_BACKUP_SEMANTICS, FILE_FLAG_OPEN_REPARSE_POINT, GetFileInformationByHandle,
};

use super::ConfigIdentity;

/// What tells two versions of a cache file apart without reading it: volume, file index, size, last write time and
/// attributes. Only this code writes cache files, and every write is a rename (a new file index).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Identity {
    volume: u32,
    index: u64,
    size: u64,
    written: u64,
    attributes: u32,
}

impl Identity {
    /// The identity of the open `file`.
    pub(crate) fn of(file: &File, _meta: &Metadata) -> std::io::Result<Identity> {
        // SAFETY: a zeroed BY_HANDLE_FILE_INFORMATION is valid; the call fills it for a handle we own.
        let mut info: BY_HANDLE_FILE_INFORMATION = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        if unsafe { GetFileInformationByHandle(file.as_raw_handle(), &mut info) } == 0 {
            return Err(std::io::Error::last_os_error());
        }
        let join = |high: u32, low: u32| (u64::from(high) << 32) | u64::from(low);
        Ok(Identity {
            volume: info.dwVolumeSerialNumber,
            index: join(info.nFileIndexHigh, info.nFileIndexLow),
            size: join(info.nFileSizeHigh, info.nFileSizeLow),
            written: join(info.ftLastWriteTime.dwHighDateTime, info.ftLastWriteTime.dwLowDateTime),
            attributes: info.dwFileAttributes,
        })
    }

    /// The identity of what `path` names, not following a reparse point (opened for no access at all).
    pub(crate) fn at(path: &Path) -> std::io::Result<Identity> {
        let file = OpenOptions::new()
            .access_mode(0)
            .custom_flags(FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT)
            .open(path)?;
        let meta = file.metadata()?;
        Identity::of(&file, &meta)
    }

    /// True when both are the same file (perhaps in different versions).
    pub(crate) fn same_file(&self, other: &Identity) -> bool {
        self.volume == other.volume && self.index == other.index
    }
}

/// The file's attributes, which stand in for the Unix mode in its configuration stamp.
pub(super) fn mode(meta: &Metadata) -> u32 {
    meta.file_attributes()
}

/// What std's metadata says about a configuration file (see the module comment for what it lacks).
pub(super) fn config_identity(meta: &Metadata) -> ConfigIdentity {
    // 100 ns ticks since 1601 to nanoseconds since 1970.
    let nanos = |ticks: u64| (i128::from(ticks) - 116_444_736_000_000_000) * 100;
    let written = nanos(meta.last_write_time());
    ConfigIdentity {
        dev: 0,
        ino: 0,
        size: meta.file_size(),
        mtime: written,
        ctime: written.max(nanos(meta.creation_time())),
        mode: meta.file_attributes(),
    }
}
