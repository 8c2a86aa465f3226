//! A lock holder that is killed or stopped, and 200 renewals killed at random moments.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::Sandbox;

/// Waits until the emulator has seen `n` logins, refreshes or mints arrive.
fn wait_for_arrivals(s: &Sandbox, n: usize) {
    let started = Instant::now();
    while s.emu.state().arrivals < n {
        assert!(started.elapsed() < Duration::from_secs(20), "no renewal arrived");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_killed_lock_holder_frees_the_lock_at_once() {
    let s = Sandbox::new();
    s.emu.state().delay = Duration::from_secs(5);
    let mut holder = s.command(&["get", "od"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    wait_for_arrivals(&s, 1);
    holder.kill().unwrap();
    holder.wait().unwrap();
    s.emu.state().delay = Duration::ZERO;
    // A lock that outlived its holder would make this wait the full 30 s and fail with exit 6.
    s.set_env("TOKENFOB_LOCK_TIMEOUT", "30");
    let started = Instant::now();
    s.get(&["od"]);
    eprintln!("figure: after SIGKILL of the lock holder, the next get finished in {:?}", started.elapsed());
}

#[test]
fn a_stopped_lock_holder_makes_waiters_time_out_with_exit_6() {
    let s = Sandbox::new();
    s.emu.state().delay = Duration::from_secs(1);
    let holder = s.command(&["get", "od"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    wait_for_arrivals(&s, 1);
    let pid = holder.id() as i32;
    // SAFETY: signals to our own child.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    s.set_env("TOKENFOB_LOCK_TIMEOUT", "0.5");
    s.run(&["get", "od"]).fails(6, "od.lock");
    unsafe { libc::kill(pid, libc::SIGCONT) };
    s.check(holder.wait_with_output().unwrap()).ok();
    assert_eq!(s.emu.count("od.login"), 1);
}

/// A random number below `n`, from the kernel.
fn below(n: u64) -> u64 {
    u64::from_str_radix(&tokenfob::sys::random_hex(8).unwrap(), 16).unwrap() % n
}

#[test]
fn two_hundred_renewals_killed_at_random_moments_lose_nothing() {
    let s = Sandbox::new();
    s.emu.state().delay = Duration::from_millis(20);
    s.get(&["acme"]);
    let mut survived = 0;
    for i in 0..200 {
        // Alternate refreshes and cold logins, so kills land in both paths and in the write that follows.
        if i % 2 == 0 {
            s.expire("acme");
        } else {
            let _ = std::fs::remove_file(s.entry_path("acme"));
        }
        let mut child = s.command(&["get", "acme"]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
        std::thread::sleep(Duration::from_micros(below(60_000)));
        let _ = child.kill();
        let _ = child.wait();
        if let Ok(bytes) = std::fs::read(s.entry_path("acme")) {
            assert!(tokenfob::cache::parse_entry(&bytes).is_some(), "run {i}: the cache file always parses");
        }
        let token = s.get(&["acme"]);
        assert!(s.emu.state().valid.contains(&token), "run {i}: the next run succeeds with a good token");
        let temps = std::fs::read_dir(s.cache_dir())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .count();
        assert_eq!(temps, 0, "run {i}: leftover temp files are cleaned up by the next writer");
        survived += 1;
    }
    eprintln!("figure: kills survived: {survived} of 200");
}
