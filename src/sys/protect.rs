//! File protection: who may read and write the cache (and the configuration), with the same functions on each
//! system. Unix (`protect/unix.rs`) judges by owner uid and mode bits and creates with mode 0600/0700; Windows
//! (`protect/windows.rs`) judges by the owner SID and the access list (DACL) and creates with an explicit,
//! protected DACL that grants the current user alone. The cache's policy (what is refused, what is repaired with a
//! warning) is `store::private`'s; this module only answers and acts.

#[cfg_attr(unix, path = "protect/unix.rs")]
#[cfg_attr(windows, path = "protect/windows.rs")]
mod platform;

pub(crate) use platform::{
    MAKE_PRIVATE, OTHERS, check, config_readable_by_others, create_dir, create_dir_all, make_private, open_entry,
    open_lock, write_new,
};
