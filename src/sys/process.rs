//! This process: what it needs at start-up, whichever entry point ran, and how it is hardened against other
//! processes of the same user reading its memory (`process/unix.rs`, `process/windows.rs`).

#[cfg_attr(unix, path = "process/unix.rs")]
#[cfg_attr(windows, path = "process/windows.rs")]
mod platform;

pub(super) use platform::{hostname, start};
