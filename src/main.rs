//! The `tokenfob` executable: parse, run, turn the result into an exit code.
//!
//! Everywhere but glibc Linux this is std's `fn main() -> ExitCode`. On glibc Linux `main` is the C entry point
//! (`#![no_main]`): std's start-up places a stack-overflow guard, which reads /proc/self/maps and sets up an
//! alternate signal stack, and that measured 0.1x of the floor on a static PIE's cache hit and 0.2x on the dynamic
//! build's, and a hit is the whole run (docs/performance.md). It is correct only there: glibc passes the arguments
//! to std's `.init_array` hook, so `std::env::args` still works, while on musl and the BSDs std's arguments would be
//! empty. What the C entry gives up is std's "has overflowed its stack" message (an overflow is a plain SIGSEGV);
//! what std's start-up does that tokenfob needs, it does itself: SIGPIPE ignored and descriptors 0 to 2 open.
#![cfg_attr(all(target_os = "linux", target_env = "gnu"), no_main)]

use clap::Parser;

/// The process entry point on glibc Linux, called by the C runtime.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[unsafe(no_mangle)]
pub extern "C" fn main(_argc: std::ffi::c_int, _argv: *const *const std::ffi::c_char) -> std::ffi::c_int {
    // A reader that goes away (`| head`) must give EPIPE, not kill the process mid-write of the cache; std's entry
    // sets this too.
    // SAFETY: setting a signal disposition to SIG_IGN has no preconditions.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    open_standard_descriptors();
    run().into()
}

/// std's entry point, where a C entry point would not be correct or has not been measured. std ignores SIGPIPE
/// before `main`, so a closed stdout gives EPIPE here too, and it opens /dev/null on any of 0 to 2 that is closed.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn main() -> std::process::ExitCode {
    run().into()
}

/// Puts /dev/null on whichever of descriptors 0, 1 and 2 is closed, as std's start-up does: otherwise the next
/// files opened (the configuration, the lock, the cache entry) take those numbers, and the token or a log line is
/// written into one of them.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn open_standard_descriptors() {
    let mut fds = [0, 1, 2].map(|fd| libc::pollfd { fd, events: 0, revents: 0 });
    // SAFETY: poll reads and writes only the three entries of the array it is given.
    let polled = unsafe { libc::poll(fds.as_mut_ptr(), 3, 0) };
    for pollfd in fds {
        let closed = if polled >= 0 {
            pollfd.revents & libc::POLLNVAL != 0
        } else {
            // SAFETY: F_GETFD only reads the descriptor's flags.
            let failed = unsafe { libc::fcntl(pollfd.fd, libc::F_GETFD) } == -1;
            failed && std::io::Error::last_os_error().raw_os_error() == Some(libc::EBADF)
        };
        // open takes the lowest free number: this one, since the lower ones are open by now. Without it, abort.
        // SAFETY: the path is a NUL-terminated literal.
        if closed && unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) } == -1 {
            std::process::abort();
        }
    }
}

/// Parses the arguments, answers, and returns the exit code.
fn run() -> u8 {
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
            e.exit_code()
        }
    }
}
