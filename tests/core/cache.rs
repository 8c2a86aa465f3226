//! The cache and its lock: corruption, edited profiles, erase, concurrency, permissions, lock timeout.

use std::process::Stdio;

use crate::support::{Sandbox, mode};

#[test]
fn cache_files_are_private() {
    let s = Sandbox::new();
    s.get(&["od"]);
    assert_eq!(mode(&s.cache_dir()), 0o700);
    assert_eq!(mode(&s.entry_path("od")), 0o600);
    assert_eq!(mode(&s.cache_dir().join("od.lock")), 0o600);
}

#[test]
fn a_corrupt_cache_file_is_a_miss_and_is_replaced() {
    let s = Sandbox::new();
    s.get(&["od"]);
    for junk in [&b"{\"v\":1,\"profile\":\"od\",\"tok"[..], b"", b"\xff\xfe garbage", b"[]"] {
        std::fs::write(s.entry_path("od"), junk).unwrap();
        let run = s.run(&["get", "od"]);
        run.ok();
        assert!(run.stderr.contains("not a valid cache entry"), "{run:#?}");
        assert!(s.entry("od")["token"].is_string(), "replaced with a good entry");
    }
    assert_eq!(s.emu.count("od.login"), 5);
}

#[test]
fn an_edited_profile_never_serves_the_old_token() {
    let s = Sandbox::new();
    let first = s.get(&["acme"]);
    s.write_config(&s.seed_config().replace("account_id = 42", "account_id = 7"));
    let second = s.get(&["acme"]);
    assert_ne!(first, second);
    assert_eq!(s.emu.count("session.login"), 2);
    assert_eq!(s.emu.count("session.refresh"), 0, "the old refresh token is not used either");
    assert_eq!(s.emu.state().account_ids, vec![serde_json::json!(42), serde_json::json!(7)]);
}

#[test]
fn erase_with_a_stale_token_keeps_the_newer_one() {
    let s = Sandbox::new();
    let old = s.get(&["od"]);
    s.run(&["login", "od"]).ok();
    let new = s.get(&["od"]);
    assert_ne!(old, new);
    assert!(s.run(&["erase", "od", "--token", &old]).ok().contains("nothing to erase"));
    assert_eq!(s.get(&["od"]), new);
    assert!(s.run(&["erase", "od", "--token", &new]).ok().contains("erased"));
    assert!(!s.entry_path("od").exists());
    assert_ne!(s.get(&["od"]), new);
    assert_eq!(s.emu.count("od.login"), 3);
}

#[test]
fn erase_token_keeps_the_refresh_token_and_plain_erase_drops_all() {
    let s = Sandbox::new();
    let token = s.get(&["acme"]);
    s.run(&["erase", "acme", "--token", &token]).ok();
    assert!(s.entry("acme")["refresh_token"].is_string());
    s.get(&["acme"]);
    assert_eq!((s.emu.count("session.login"), s.emu.count("session.refresh")), (1, 1));
    s.run(&["erase", "acme"]).ok();
    s.get(&["acme"]);
    assert_eq!(s.emu.count("session.login"), 2);
}

#[test]
fn fifty_parallel_gets_on_a_cold_cache_cause_one_login() {
    let s = Sandbox::new();
    s.emu.state().delay = std::time::Duration::from_millis(200); // keep the window wide open
    for (profile, counter) in [("od", "od.login"), ("acme", "session.login"), ("gd", "gd.mint")] {
        let children: Vec<_> = (0..50)
            .map(|_| s.command(&["get", profile]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap())
            .collect();
        let tokens: Vec<String> =
            children.into_iter().map(|c| s.check(c.wait_with_output().unwrap()).ok().to_owned()).collect();
        assert_eq!(s.emu.count(counter), 1, "{profile}: one login for 50 processes");
        assert!(tokens.iter().all(|t| t == &tokens[0]), "{profile}: everyone got the same token");
    }
}

#[test]
fn a_held_lock_times_out_with_exit_6_naming_the_lock_file() {
    let s = Sandbox::new();
    std::fs::create_dir_all(s.cache_dir()).unwrap();
    let lock = std::fs::File::create(s.cache_dir().join("od.lock")).unwrap();
    lock.lock().unwrap();
    s.set_env("TOKENFOB_LOCK_TIMEOUT", "0.3");
    s.run(&["get", "od"]).fails(6, "od.lock").fails(6, "TOKENFOB_LOCK_TIMEOUT");
    assert_eq!(s.emu.count("od.login"), 0);
    drop(lock);
    s.get(&["od"]);
}

#[test]
fn a_cache_hit_does_not_need_the_lock() {
    let s = Sandbox::new();
    let token = s.get(&["od"]);
    let lock = std::fs::File::create(s.cache_dir().join("od.lock")).unwrap();
    lock.lock().unwrap();
    s.set_env("TOKENFOB_LOCK_TIMEOUT", "0.1");
    assert_eq!(s.get(&["od"]), token);
}

#[test]
fn a_lock_timeout_still_serves_a_token_inside_its_margin() {
    let s = Sandbox::new();
    let token = s.get(&["acme"]);
    s.expire_soon("acme");
    let lock = std::fs::File::create(s.cache_dir().join("acme.lock")).unwrap();
    lock.lock().unwrap();
    s.set_env("TOKENFOB_LOCK_TIMEOUT", "0.2");
    let run = s.run(&["get", "acme"]);
    assert_eq!(run.ok(), token);
    assert!(run.stderr.contains("acme.lock") && run.stderr.contains("serving the cached token"), "{run:#?}");
    s.expire("acme");
    s.run(&["get", "acme"]).fails(6, "acme.lock");
}

/// Sets the modification time of `path` (to forge an unchanged-looking file).
fn set_mtime(path: &std::path::Path, to: std::time::SystemTime) {
    std::fs::File::options().write(true).open(path).unwrap().set_modified(to).unwrap();
}

#[test]
fn the_cache_hit_shortcut_trusts_an_entry_only_while_the_config_file_is_unchanged() {
    let s = Sandbox::new();
    let token = s.get(&["od"]);
    let entry = s.entry("od");
    assert_eq!(entry["config"]["path"], s.config_path().to_str().unwrap());
    assert_eq!(entry["config"]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(entry["margin_ms"], 60_000);
    // A lock timeout that only the full path reads (and refuses): the plain forms are answered by the shortcut.
    s.set_env("TOKENFOB_LOCK_TIMEOUT", "soon");
    assert_eq!(s.get(&["od"]), token, "the plain form was answered by the shortcut");
    assert_eq!(s.run(&["get", "od", "-o", "header"]).ok(), format!("Authorization: Bearer {token}"));
    s.run(&["get", "od", "--min-valid", "1s"]).fails(2, "TOKENFOB_LOCK_TIMEOUT");
    // Any edit sends every call down the full path again, even one that keeps the file's size, inode and
    // modification time (tests/hardening/files.rs has the same-size edit that changes the answer).
    let text = std::fs::read_to_string(s.config_path()).unwrap();
    let mtime = std::fs::metadata(s.config_path()).unwrap().modified().unwrap();
    std::fs::write(s.config_path(), text.replacen("[profiles.od]", "[profiles.od] ", 1).replacen("\n\n", "\n", 1))
        .unwrap();
    set_mtime(&s.config_path(), mtime);
    s.run(&["get", "od"]).fails(2, "TOKENFOB_LOCK_TIMEOUT");
    // And touching the file without changing it does not.
    std::fs::write(s.config_path(), &text).unwrap();
    set_mtime(&s.config_path(), mtime + std::time::Duration::from_secs(1));
    assert_eq!(s.get(&["od"]), token);
    assert_eq!(s.emu.count("od.login"), 1);
}

#[test]
fn default_paths_follow_home_and_the_xdg_variables() {
    let s = Sandbox::new();
    let home = s.dir.path();
    // As a user's tool runs it: no TOKENFOB_CONFIG or TOKENFOB_CACHE_DIR, so the paths come from HOME and XDG.
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = s.command(args);
        cmd.env_remove("TOKENFOB_CONFIG").env_remove("TOKENFOB_CACHE_DIR").envs(env.iter().copied());
        s.check(cmd.output().unwrap())
    };
    std::fs::create_dir_all(home.join(".config/tokenfob")).unwrap();
    std::fs::rename(s.config_path(), home.join(".config/tokenfob/config.toml")).unwrap();
    let token = run(&["get", "od"], &[]).ok().to_owned();
    s.secret(&token);
    assert_eq!(mode(&home.join(".cache/tokenfob")), 0o700);
    assert_eq!(mode(&home.join(".cache/tokenfob/od.json")), 0o600);
    // The cache-hit shortcut finds the same places.
    assert_eq!(run(&["get", "od"], &[]).ok(), token);
    assert_eq!(s.emu.count("od.login"), 1);

    let (xdg_config, xdg_cache) = (home.join("xdg-config"), home.join("xdg-cache"));
    std::fs::create_dir_all(xdg_config.join("tokenfob")).unwrap();
    std::fs::rename(home.join(".config/tokenfob/config.toml"), xdg_config.join("tokenfob/config.toml")).unwrap();
    let xdg = [("XDG_CONFIG_HOME", xdg_config.to_str().unwrap()), ("XDG_CACHE_HOME", xdg_cache.to_str().unwrap())];
    let in_xdg = run(&["get", "od"], &xdg).ok().to_owned();
    s.secret(&in_xdg);
    assert_eq!(s.emu.count("od.login"), 2, "the XDG cache started empty");
    assert_eq!(mode(&xdg_cache.join("tokenfob/od.json")), 0o600);
    assert_eq!(run(&["get", "od"], &xdg).ok(), in_xdg);

    let mut homeless = s.command(&["get", "od"]);
    homeless.env_remove("TOKENFOB_CONFIG").env_remove("TOKENFOB_CACHE_DIR").env_remove("HOME");
    s.check(homeless.output().unwrap()).fails(2, "set HOME, or TOKENFOB_CONFIG and TOKENFOB_CACHE_DIR");
}
