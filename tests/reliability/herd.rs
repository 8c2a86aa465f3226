//! 64 processes at once, 20 rounds, for each seed kind and each reason to renew: exactly one login or refresh per
//! round, the same token for everyone, no failure.

use std::process::Stdio;
use std::time::Duration;

use crate::support::Sandbox;

const PROCESSES: usize = 64;
const ROUNDS: usize = 20;

#[derive(Clone, Copy, Debug)]
enum Start {
    /// No cache file.
    Cold,
    /// The token has expired (a session profile still holds a valid refresh token).
    Expired,
    /// The token expires in 30 s, inside the 60 s margin.
    InsideMargin,
}

fn prepare(s: &Sandbox, profile: &str, start: Start) {
    match start {
        Start::Cold => {
            let _ = std::fs::remove_file(s.entry_path(profile));
        }
        Start::Expired => s.expire(profile),
        Start::InsideMargin => s.expire_soon(profile),
    }
}

/// Runs one round: `PROCESSES` gets at once; returns the token they all printed.
fn round(s: &Sandbox, profile: &str) -> String {
    let children: Vec<_> = (0..PROCESSES)
        .map(|_| s.command(&["get", profile]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap())
        .collect();
    let tokens: Vec<String> =
        children.into_iter().map(|c| s.check(c.wait_with_output().unwrap()).ok().to_owned()).collect();
    assert!(tokens.iter().all(|t| t == &tokens[0]), "{profile}: everyone gets the same token");
    s.secret(&tokens[0]);
    tokens[0].clone()
}

/// The herd for one profile; `renewals` reads (logins, refreshes) from the emulator.
fn herd(profile: &str, renewals: fn(&Sandbox) -> (usize, usize), expect_refresh_when_expired: bool) {
    let s = Sandbox::new();
    s.emu.state().delay = Duration::from_millis(30);
    let mut passed = 0;
    for start in [Start::Cold, Start::Expired, Start::InsideMargin] {
        if !matches!(start, Start::Cold) {
            s.get(&[profile]);
        }
        for r in 0..ROUNDS {
            prepare(&s, profile, start);
            let before = renewals(&s);
            round(&s, profile);
            let after = renewals(&s);
            let (logins, refreshes) = (after.0 - before.0, after.1 - before.1);
            assert_eq!(logins + refreshes, 1, "{profile} {start:?} round {r}: exactly one renewal");
            if expect_refresh_when_expired && !matches!(start, Start::Cold) {
                assert_eq!(refreshes, 1, "{profile} {start:?} round {r}: a refresh, not a password login");
            }
            passed += 1;
        }
    }
    eprintln!("figure: herd {profile}: {passed} rounds of {PROCESSES} processes passed");
}

#[test]
fn herd_onedata() {
    herd("od", |s| (s.emu.count("od.login"), 0), false);
}

#[test]
fn herd_session_refreshes_once_and_never_falls_back_to_the_password() {
    // The emulator rotates refresh tokens and rejects a reused one, so this is also the rotation race: a lost
    // rotated token would show as a refresh rejection and a password login.
    herd("acme", |s| (s.emu.count("session.login"), s.emu.count("session.refresh")), true);
}

#[test]
fn herd_gooddata() {
    herd("gd", |s| (s.emu.count("gd.mint"), 0), false);
}
