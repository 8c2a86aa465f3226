//! The terminal, for prompts that must never touch stdout: `/dev/tty` on Unix (`tty/unix.rs`), the console's
//! `CONIN$` and `CONOUT$` on Windows (`tty/windows.rs`). Both offer [`Tty::open`], which is `None` when there is no
//! terminal to ask (then tokenfob must not prompt), and [`Tty::read_hidden`], which reads a line with echo off.

use std::io::Write;

#[cfg_attr(unix, path = "tty/unix.rs")]
#[cfg_attr(windows, path = "tty/windows.rs")]
mod platform;

pub(crate) use platform::{NAME, Tty};

/// Writes `text` to the terminal (never stdout); used for prompts and device-code instructions.
pub(crate) fn say_on_tty(text: &str) -> bool {
    match Tty::open() {
        Some(mut tty) => tty.write_all(text.as_bytes()).is_ok(),
        None => false,
    }
}
