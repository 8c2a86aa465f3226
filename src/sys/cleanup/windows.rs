//! Windows: what must be undone when Ctrl+C, Ctrl+Break or closing the console window ends tokenfob: the console's
//! echo, while a secret is typed. A console control handler (`SetConsoleCtrlHandler`) puts the saved input mode
//! back and then lets the next handler, the default one, end the process.
//!
//! The running child needs no handler here: `child` puts it in a job object that kills it, and whatever it started,
//! when tokenfob's handle to the job closes, which Windows does however tokenfob ends. (The console also delivers
//! Ctrl+C to the child itself.)

use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicU32, Ordering};

use windows_sys::Win32::Foundation::HANDLE;
use windows_sys::Win32::System::Console::{SetConsoleCtrlHandler, SetConsoleMode};
use windows_sys::core::BOOL;

/// The console input handle whose mode [`SAVED`] holds, 0 for none.
static CONSOLE: AtomicIsize = AtomicIsize::new(0);
/// The console input mode to restore.
static SAVED: AtomicU32 = AtomicU32::new(0);

/// Records that the console input `handle`'s mode is `saved` until [`release_console`] (echo is off meanwhile).
pub(super) fn guard_console(handle: isize, saved: u32) {
    install();
    SAVED.store(saved, Ordering::SeqCst);
    CONSOLE.store(handle, Ordering::SeqCst);
}

/// The console's mode was restored.
pub(super) fn release_console() {
    CONSOLE.store(0, Ordering::SeqCst);
}

/// Restores the console's mode, if echo is off, and passes the event on (FALSE), so the process ends as usual.
unsafe extern "system" fn on_ctrl(_event: u32) -> BOOL {
    let handle = CONSOLE.swap(0, Ordering::SeqCst);
    if handle != 0 {
        // SAFETY: the handle stays open while it is recorded (the prompt that owns it has not returned).
        unsafe { SetConsoleMode(handle as HANDLE, SAVED.load(Ordering::SeqCst)) };
    }
    0
}

/// Installs [`on_ctrl`] once.
fn install() {
    static DONE: AtomicBool = AtomicBool::new(false);
    if !DONE.swap(true, Ordering::SeqCst) {
        // SAFETY: the handler only touches atomics and the console mode.
        unsafe { SetConsoleCtrlHandler(Some(on_ctrl), 1) };
    }
}
