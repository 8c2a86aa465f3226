//! A lock holder that is killed or stopped, and 200 renewals killed at random moments.

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokenfob_emulator::util;

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
    u64::from_str_radix(&util::random_hex(8), 16).unwrap() % n
}

/// Asserts that `bytes` is a cache entry tokenfob reads as one (not a miss): JSON with format version 1, the
/// profile, a fingerprint and when it was obtained; any expiry an RFC 3339 time; any refresh token a string, and any
/// token printable (ASCII 0x21 to 0x7e, 1 to 16384 bytes).
fn assert_whole_entry(bytes: &[u8], profile: &str, run: usize) {
    let entry: serde_json::Value =
        serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("run {run}: the cache file always parses: {e}"));
    let time = |key: &str| entry[key].as_str().and_then(util::parse_rfc3339).is_some();
    let printable = |t: &str| (1..=16_384).contains(&t.len()) && t.bytes().all(|b| (0x21..=0x7e).contains(&b));
    assert_eq!((&entry["v"], &entry["profile"]), (&1.into(), &profile.into()), "run {run}");
    assert!(entry["fingerprint"].is_string() && time("obtained_at"), "run {run}: fingerprint and obtained_at");
    for key in ["expires_at", "refresh_expires_at"] {
        assert!(entry[key].is_null() || time(key), "run {run}: {key} is a time");
    }
    assert!(entry["refresh_token"].is_null() || entry["refresh_token"].is_string(), "run {run}: refresh_token");
    assert!(entry["token"].is_null() || entry["token"].as_str().is_some_and(printable), "run {run}: a printable token");
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
            assert_whole_entry(&bytes, "acme", i);
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
