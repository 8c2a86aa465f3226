//! Debug lines on stderr under `TOKENFOB_LOG=debug`.
//!
//! Callers pass names, URLs, statuses and timings, never a secret; the redaction test runs the suite with debug
//! logging on and checks stderr for every secret it used.

use std::sync::atomic::{AtomicBool, Ordering};

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Turns debug lines on.
pub(crate) fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

/// Prints one debug line when enabled.
pub(crate) fn debug(args: std::fmt::Arguments<'_>) {
    if ENABLED.load(Ordering::Relaxed) {
        eprintln!("tokenfob: debug: {args}");
    }
}

/// Prints a warning: something went wrong but the command still succeeds.
pub(crate) fn warn(args: std::fmt::Arguments<'_>) {
    eprintln!("tokenfob: warning: {args}");
}
