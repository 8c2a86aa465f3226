//! The `tokenfob` executable: everything it does is [`tokenfob::main`], which returns the exit code.
//!
//! Everywhere but glibc Linux this is std's `fn main() -> ExitCode`. On glibc Linux `main` is the C entry point
//! (`#![no_main]`): std's start-up places a stack-overflow guard, which reads /proc/self/maps and sets up an
//! alternate signal stack, and that measured 0.1x of the floor on a static PIE's cache hit and 0.2x on the dynamic
//! build's, and a hit is the whole run (docs/performance.md). It is correct only there: glibc passes the arguments
//! to std's `.init_array` hook, so `std::env::args` still works, while on musl and the BSDs std's arguments would be
//! empty. What the C entry gives up is std's "has overflowed its stack" message (an overflow is a plain SIGSEGV);
//! what std's start-up does that tokenfob needs (SIGPIPE ignored, descriptors 0 to 2 open), `tokenfob::main` does
//! itself.
#![cfg_attr(all(target_os = "linux", target_env = "gnu"), no_main)]

/// The process entry point on glibc Linux, called by the C runtime.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[unsafe(no_mangle)]
pub extern "C" fn main(_argc: std::ffi::c_int, _argv: *const *const std::ffi::c_char) -> std::ffi::c_int {
    tokenfob::main().into()
}

/// std's entry point, where a C entry point would not be correct or has not been measured.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn main() -> std::process::ExitCode {
    tokenfob::main().into()
}
