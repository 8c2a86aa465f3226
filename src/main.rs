//! The `tokenfob` executable: parse, run, turn the result into an exit code.
//!
//! `main` is the C entry point rather than Rust's: std's start-up (stack-overflow guard setup, which parses
//! /proc/self/maps, and SIGPIPE handling) costs a measurable share of a cache hit, which is the whole run
//! (docs/performance.md). glibc still hands std the arguments, and a closed stdout is handled where we write.
#![no_main]

use clap::Parser;

/// The process entry point, called by the C runtime.
#[unsafe(no_mangle)]
pub extern "C" fn main(_argc: std::ffi::c_int, _argv: *const *const std::ffi::c_char) -> std::ffi::c_int {
    // A reader that goes away (`| head`) must give EPIPE, not kill the process mid-write of the cache.
    // SAFETY: setting a signal disposition to SIG_IGN has no preconditions.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    tokenfob::sys::harden();
    let env = tokenfob::environment::Env::from_process();
    // The cache-hit shortcut first; arguments that are not all UTF-8 are for clap to judge.
    let args: Option<Vec<String>> = std::env::args_os().skip(1).map(|a| a.into_string().ok()).collect();
    if args.is_some_and(|args| tokenfob::hit::answer(&args, &env, &mut std::io::stdout().lock())) {
        return 0;
    }
    let cli = match tokenfob::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    match tokenfob::run(cli, env, &mut std::io::stdout().lock()) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("tokenfob: {e}");
            e.exit_code().into()
        }
    }
}
