//! Telling versions of a file apart: [`Identity`] for the cache files only tokenfob writes (a rename makes a new
//! inode), and [`ConfigStamp`] for the configuration, which people edit in place, so it is stamped by content.
//! [`ConfigWatch`] re-checks a stamp cheaply in a long-lived process. What a file's metadata offers for this
//! differs per system (`fileid/unix.rs`: device, inode and `stat` times; `fileid/windows.rs`: volume serial number
//! and file index, as `GetFileInformationByHandle` gives them).

use std::fs;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::sys::fs::read_regular;

#[cfg_attr(unix, path = "fileid/unix.rs")]
#[cfg_attr(windows, path = "fileid/windows.rs")]
mod platform;

pub(crate) use platform::Identity;

/// The configuration file an entry was made with: its path, its mode (the configuration's warnings depend on it) and
/// the SHA-256 of its bytes. The cache-hit shortcut compares it with the file as it is now, so any edit is seen,
/// even one that keeps the size and the modification time (issue #10).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ConfigStamp {
    path: String,
    mode: u32,
    /// Absent in entries written before the hash (then the stamp never matches, and the entry is re-stamped at the
    /// next renewal).
    #[serde(default)]
    sha256: String,
}

/// The largest configuration file read (a real one is a few KiB).
pub(crate) const MAX_CONFIG: u64 = 1 << 20;

impl ConfigStamp {
    /// The stamp of the file at `path` as it is now (read and hashed, never parsed), if it can be read.
    pub(crate) fn of(path: &Path) -> Option<ConfigStamp> {
        let (bytes, meta) = read_regular(path, MAX_CONFIG).ok()?;
        ConfigStamp::new(path, &meta, &bytes)
    }

    /// The stamp of `bytes`, read from `path` whose metadata is `meta`.
    pub(crate) fn new(path: &Path, meta: &fs::Metadata, bytes: &[u8]) -> Option<ConfigStamp> {
        let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut sha256 = String::with_capacity(64);
        for b in digest.as_ref() {
            sha256.push(char::from(HEX[usize::from(b >> 4)]));
            sha256.push(char::from(HEX[usize::from(b & 15)]));
        }
        Some(ConfigStamp { path: path.to_str()?.to_owned(), mode: platform::mode(meta), sha256 })
    }
}

/// The configuration's stamp as a long-lived process (`tokenfob protocol`) sees it before every request, cheaply:
/// it `stat`s the file and hashes it again only when what `stat` says changed since the last hash, or when that
/// hash was racy. This is git's "racily clean" rule: a file changed within one timestamp tick of being hashed can
/// be changed again in the same tick, keeping its size and every timestamp, so such a hash proves nothing about
/// the next look, and the file is hashed again until it has been quiet for longer than a tick. Every write and
/// every `chmod` sets the change time (ctime), which no user can set back, so a same-size in-place edit is seen
/// even when the modification time is set back with `touch -d`. A fresh process has no earlier hash to trust:
/// the one-shot cache hit (`broker::peek`) always hashes, with [`ConfigStamp::of`].
#[derive(Debug, Default)]
pub(crate) struct ConfigWatch {
    /// The identity at the last hash, whether that hash may be trusted while the identity holds, and the stamp.
    last: Option<(ConfigIdentity, bool, Option<ConfigStamp>)>,
}

/// How long after a file's modification or change time a hash of it may still be racy. Wider than any file
/// system's timestamp granularity (FAT's 2 s; ext4, XFS, btrfs and tmpfs keep nanoseconds, but the kernel stamps
/// files from a clock that advances once per jiffy, up to 10 ms) and than the lag of that clock behind the one read
/// here. The only cost of a wide window is hashing on every request in the seconds after an edit.
const RACY_WINDOW: Duration = Duration::from_secs(3);

/// What `stat` says about a configuration file; any change to it (or a racy hash) means hashing again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ConfigIdentity {
    dev: u64,
    ino: u64,
    size: u64,
    /// Modification and change times in nanoseconds since the epoch.
    mtime: i128,
    ctime: i128,
    mode: u32,
}

impl ConfigIdentity {
    /// True when a hash whose reading began at `hashed_at` (nanoseconds since the epoch, `None` if the clock is
    /// before it) may be trusted while this identity holds: the file's last modification and change both lie more
    /// than [`RACY_WINDOW`] before it, so no later write can carry the same timestamps. A timestamp in the future
    /// (a skewed clock, `touch -d`) is racy too.
    fn clean_at(&self, hashed_at: Option<i128>) -> bool {
        let window = i128::try_from(RACY_WINDOW.as_nanos()).unwrap_or(i128::MAX);
        hashed_at.is_some_and(|at| self.mtime.max(self.ctime) < at.saturating_sub(window))
    }
}

impl ConfigWatch {
    /// The stamp of the file at `path` as it is now, as [`ConfigStamp::of`] would give it; `None` if it cannot be
    /// read. A `stat` when the file is as it was at the last trusted hash; otherwise a read and a hash.
    pub(crate) fn current(&mut self, path: &Path) -> Option<&ConfigStamp> {
        let now = fs::metadata(path).ok().map(|m| platform::config_identity(&m));
        let trusted = matches!(&self.last, Some((identity, true, _)) if Some(*identity) == now);
        if !trusted {
            self.last = Self::hash(path);
        }
        self.last.as_ref().and_then(|(_, _, stamp)| stamp.as_ref())
    }

    /// Reads and hashes the file, noting when the reading began (before the open: a write after that instant
    /// could be missed by this hash, so it is the instant the racy rule compares with).
    fn hash(path: &Path) -> Option<(ConfigIdentity, bool, Option<ConfigStamp>)> {
        let began = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok();
        let began = began.and_then(|d| i128::try_from(d.as_nanos()).ok());
        let (bytes, meta) = read_regular(path, MAX_CONFIG).ok()?;
        let identity = platform::config_identity(&meta);
        Some((identity, identity.clean_at(began), ConfigStamp::new(path, &meta, &bytes)))
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::fs::File;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_config_hash_is_trusted_only_when_the_file_was_quiet_for_longer_than_a_tick() {
        let second = 1_000_000_000_i128;
        let at = |mtime: i128, ctime: i128| ConfigIdentity { dev: 1, ino: 2, size: 3, mtime, ctime, mode: 0o600 };
        let hashed_at = Some(1_000 * second);
        assert!(at(900 * second, 900 * second).clean_at(hashed_at));
        // Changed within the window before the hash (by a write, or a chmod: ctime), or "in the future".
        assert!(!at(900 * second, 999 * second).clean_at(hashed_at));
        assert!(!at(999 * second, 999 * second).clean_at(hashed_at));
        assert!(!at(1_000 * second, 900 * second).clean_at(hashed_at));
        assert!(!at(2_000 * second, 2_000 * second).clean_at(hashed_at));
        // A clock before 1970 proves nothing.
        assert!(!at(900 * second, 900 * second).clean_at(None));
    }

    #[test]
    fn the_config_watch_stats_while_trusted_and_hashes_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        fs::write(&path, "a = 1\n").unwrap();
        let mut watch = ConfigWatch::default();
        assert_eq!(watch.current(&path), ConfigStamp::of(&path).as_ref());
        // Just written: racy, so not trusted; an in-place edit that keeps the size and the mtime is seen.
        assert!(matches!(watch.last, Some((_, false, _))));
        let mtime = fs::metadata(&path).unwrap().modified().unwrap();
        fs::write(&path, "a = 2\n").unwrap();
        File::options().write(true).open(&path).unwrap().set_modified(mtime).unwrap();
        let edited = ConfigStamp::of(&path);
        assert_eq!(watch.current(&path), edited.as_ref());
        // A trusted hash with the same identity is not redone (the planted stamp proves no read happened)...
        let identity = platform::config_identity(&fs::metadata(&path).unwrap());
        let planted = ConfigStamp { path: "planted".into(), mode: 0, sha256: String::new() };
        watch.last = Some((identity, true, Some(planted.clone())));
        assert_eq!(watch.current(&path), Some(&planted));
        // ...until the identity changes: a chmod sets ctime and mode.
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        assert_eq!(watch.current(&path), ConfigStamp::of(&path).as_ref());
        fs::remove_file(&path).unwrap();
        assert_eq!(watch.current(&path), None);
    }
}
