//! Lines on stderr: warnings, the final error, and debug lines under `TOKENFOB_LOG=debug`.
//!
//! Callers pass names, URLs, statuses and timings, never a secret; the redaction test runs the suite with debug
//! logging on and checks stderr for every secret it used. A stderr that cannot be written (full, or a pipe nobody
//! reads) loses the line and nothing else: `eprintln!` would panic, and a panic here could end a renewal between
//! minting a token and caching it.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Turns debug lines on.
pub(crate) fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

/// Prints one debug line when enabled.
pub(crate) fn debug(args: std::fmt::Arguments<'_>) {
    if ENABLED.load(Ordering::Relaxed) {
        line(format_args!("debug: {args}"));
    }
}

/// Prints a warning: something went wrong but the command still succeeds.
pub(crate) fn warn(args: std::fmt::Arguments<'_>) {
    line(format_args!("warning: {args}"));
}

/// Prints the error that ends the run.
pub(crate) fn error(args: std::fmt::Arguments<'_>) {
    line(args);
}

/// `tokenfob: ARGS` and a newline on stderr, or nothing when stderr cannot take it.
fn line(args: std::fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr().lock(), "tokenfob: {args}");
}
