//! File protection: who may read and write the cache (and the configuration), with the same functions on each
//! system. Unix (`protect/unix.rs`) judges by owner uid and mode bits and creates with mode 0600/0700; Windows
//! (`protect/windows.rs`) judges by the owner SID and the access list (DACL) and creates with an explicit,
//! protected DACL that grants the current user alone. The cache's policy (what is refused, what is repaired with a
//! warning) is `store::private`'s; this module only answers and acts.

#[cfg_attr(unix, path = "protect/unix.rs")]
#[cfg_attr(windows, path = "protect/windows.rs")]
mod platform;

pub(crate) use platform::{
    MAKE_PRIVATE, OTHERS, PRIVATE_DIR, check, config_readable_by_others, create_dir, create_dir_all, create_new,
    exposure, fix, keep_access, keep_access_private, make_private, open_entry, open_lock, write_new,
};

/// Who besides the current user may get at a file or directory, as `tokenfob check` reports it (the cache's own
/// policy is [`check`]'s).
pub(crate) struct Exposure {
    /// Its permissions in words, for messages: `mode 0644` on Unix, who its access list lets in on Windows.
    pub(crate) shown: String,
    /// Another account may change it.
    pub(crate) write: bool,
    /// Another account may read it.
    pub(crate) read: bool,
    /// Another account has any access at all.
    pub(crate) any: bool,
    /// It is a directory others may add to but not take our files out of (Unix's sticky bit).
    pub(crate) sticky: bool,
    /// When another account owns it: that owner and the current user, in words (`uid 1000`, `uid 501`).
    pub(crate) stranger: Option<(String, String)>,
}
