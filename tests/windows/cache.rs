//! Logins, cache hits, refreshes, erase, a herd of processes and the lock timeout, under Wine.

use std::process::Stdio;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::support::Sandbox;
use crate::support::server::{Response, stub};

#[test]
fn logs_in_once_then_serves_the_cache_then_refreshes() {
    let Some(s) = Sandbox::windows() else { return };
    let token = s.get(&["od"]);
    assert_eq!(s.emu.count("od.login"), 1);
    assert_eq!(s.entry("od")["token"], token.as_str(), "the cache file is where TOKENFOB_CACHE_DIR says");
    assert_eq!(s.get(&["od"]), token, "a cache hit");
    assert_eq!(s.emu.count("od.login"), 1, "no second login");

    let session = s.get(&["acme"]);
    s.expire_soon("acme");
    let refreshed = s.get(&["acme"]);
    assert_ne!(refreshed, session, "inside the margin the token is renewed");
    assert_eq!((s.emu.count("session.login"), s.emu.count("session.refresh")), (1, 1), "by a refresh");
    s.expire("acme");
    let again = s.get(&["acme"]);
    assert_ne!(again, refreshed);
    assert_eq!((s.emu.count("session.login"), s.emu.count("session.refresh")), (1, 2));
}

#[test]
fn erase_token_removes_only_the_token_it_names() {
    let Some(s) = Sandbox::windows() else { return };
    let token = s.get(&["od"]);
    s.run(&["erase", "od", "--token", "not-the-cached-one"]).ok();
    assert_eq!(s.get(&["od"]), token, "another token's erase leaves the cache alone");
    s.run(&["erase", "od", "--token", &token]).ok();
    assert!(!s.entry_path("od").exists(), "the entry is gone");
    assert_ne!(s.get(&["od"]), token);
    assert_eq!(s.emu.count("od.login"), 2);
}

#[test]
fn a_herd_of_processes_logs_in_once_per_round() {
    const PROCESSES: usize = 12;
    let Some(s) = Sandbox::windows() else { return };
    s.emu.state().delay = Duration::from_millis(200);
    for round in 0..3 {
        match round {
            0 => {}
            1 => s.expire("acme"),
            _ => s.expire_soon("acme"),
        }
        let before = s.emu.count("session.login") + s.emu.count("session.refresh");
        let children: Vec<_> = (0..PROCESSES)
            .map(|_| s.command(&["get", "acme"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap())
            .collect();
        let tokens: Vec<String> =
            children.into_iter().map(|c| s.check(c.wait_with_output().unwrap()).ok().to_owned()).collect();
        assert!(tokens.iter().all(|t| t == &tokens[0]), "round {round}: everyone gets the same token");
        s.secret(&tokens[0]);
        let after = s.emu.count("session.login") + s.emu.count("session.refresh");
        assert_eq!(after - before, 1, "round {round}: exactly one renewal for {PROCESSES} processes");
    }
    assert_eq!(s.emu.count("session.login"), 1, "the later rounds refreshed");
}

#[test]
fn a_held_lock_times_out_with_exit_6_naming_the_lock_file() {
    let Some(s) = Sandbox::windows() else { return };
    // A login that waits for the test holds the profile's lock (LockFileEx on slow.lock) meanwhile.
    let gate = Arc::new((Mutex::new(false), Condvar::new()));
    let held = Arc::clone(&gate);
    let (server, log) = stub(move |_, n| {
        let (open, opened) = &*held;
        let _ = opened.wait_timeout_while(open.lock().unwrap(), Duration::from_secs(60), |open| !*open);
        Response::json(200, &format!(r#"{{"token":"tok-slow-{n}","expires_in":3600}}"#))
    });
    s.write_config(&format!(
        "[profiles.slow]\nkind = \"http\"\n[profiles.slow.login]\nurl = \"{}/login\"\n\
         [profiles.slow.reply]\ntoken_pointer = \"/token\"\nexpires_in_pointer = \"/expires_in\"\n",
        server.url()
    ));
    let holder = s.command(&["get", "slow"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    while log.lock().unwrap().is_empty() {
        std::thread::sleep(Duration::from_millis(20));
    }
    let waiter = s.command(&["get", "slow"]).env("TOKENFOB_LOCK_TIMEOUT", "0.3").output().unwrap();
    s.check(waiter).fails(6, "slow.lock").fails(6, "TOKENFOB_LOCK_TIMEOUT");
    *gate.0.lock().unwrap() = true;
    gate.1.notify_all();
    assert_eq!(s.check(holder.wait_with_output().unwrap()).ok(), "tok-slow-1");
    assert_eq!(s.get(&["slow"]), "tok-slow-1", "the next try is a cache hit");
    assert_eq!(log.lock().unwrap().len(), 1, "one login");
}
