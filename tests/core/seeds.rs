//! The three seed login systems end to end: login, cache hit, refresh, fallbacks, logout.

use tokenfob_emulator::util;

use crate::support::Sandbox;

#[test]
fn onedata_logs_in_once_then_serves_the_cache() {
    let s = Sandbox::new();
    let token = s.get(&["od"]);
    assert_eq!(s.emu.count("od.login"), 1);
    assert!(s.emu.state().valid.contains(&token), "the printed token is the one the server issued");
    let exp = util::jwt_exp(&token).unwrap();
    let cached_at = util::parse_rfc3339(s.entry("od")["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!(cached_at.unix_timestamp(), exp, "expiry comes from the JWT exp claim");
    assert_eq!(s.get(&["od"]), token);
    assert_eq!(s.emu.count("od.login"), 1, "the second get made no request");
    assert_eq!(s.emu.state().counts.values().sum::<usize>(), 1);
}

#[test]
fn onedata_logs_in_again_when_the_token_expires() {
    let s = Sandbox::new();
    let first = s.get(&["od"]);
    s.expire("od");
    let second = s.get(&["od"]);
    assert_ne!(first, second);
    assert_eq!(s.emu.count("od.login"), 2);
    // ONE DATA's logout does not invalidate a token, so tokenfob's logout only forgets it.
    assert!(s.run(&["logout", "od"]).ok().contains("no server-side logout"));
    assert!(!s.entry_path("od").exists());
    assert!(s.run(&["logout", "od"]).ok().contains("nothing cached"));
}

#[test]
fn session_refreshes_an_expired_token_and_keeps_the_rotated_refresh_token() {
    let s = Sandbox::new();
    let first = s.get(&["acme"]);
    assert_eq!(s.emu.state().account_ids, vec![serde_json::json!(42)], "account_id is sent as a number");
    let refresh1 = s.entry("acme")["refresh_token"].as_str().unwrap().to_owned();
    s.expire("acme");
    let second = s.get(&["acme"]);
    assert_ne!(first, second);
    assert_eq!((s.emu.count("session.login"), s.emu.count("session.refresh")), (1, 1));
    let refresh2 = s.entry("acme")["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(refresh1, refresh2, "the rotated refresh token was kept");
    s.expire("acme");
    s.get(&["acme"]);
    assert_eq!((s.emu.count("session.login"), s.emu.count("session.refresh")), (1, 2), "the rotated one works");
}

#[test]
fn session_falls_back_to_login_when_the_refresh_is_rejected_or_expired() {
    let s = Sandbox::new();
    s.get(&["acme"]);
    s.edit_entry("acme", |e| {
        e["expires_at"] = "2000-01-01T00:00:00Z".into();
        e["refresh_token"] = "revoked-by-server".into();
    });
    s.get(&["acme"]);
    assert_eq!((s.emu.count("session.login"), s.emu.count("session.refresh")), (2, 1));
    s.edit_entry("acme", |e| {
        e["expires_at"] = "2000-01-01T00:00:00Z".into();
        e["refresh_expires_at"] = "2000-01-02T00:00:00Z".into();
    });
    s.get(&["acme"]);
    assert_eq!((s.emu.count("session.login"), s.emu.count("session.refresh")), (3, 1), "expired refresh: no call");
}

#[test]
fn session_refreshes_inside_the_margin_and_with_min_valid() {
    let s = Sandbox::new();
    // Shorter than the default 60 s margin: renewed after half its lifetime, not on every call (issue #10).
    s.emu.state().session_lifetime = 30;
    s.get(&["acme"]);
    s.get(&["acme"]);
    assert_eq!((s.emu.count("session.login"), s.emu.count("session.refresh")), (1, 0));
    s.emu.state().session_lifetime = 3600;
    s.expire_soon("acme");
    s.get(&["acme"]);
    assert_eq!(s.emu.count("session.refresh"), 1, "inside the margin");
    // 20 minutes left of an hour: fresh for the 60 s margin, not for --min-valid 25m.
    let now = time::OffsetDateTime::now_utc();
    s.edit_entry("acme", |e| {
        e["expires_at"] = util::rfc3339(now + time::Duration::minutes(20)).into();
        e["obtained_at"] = util::rfc3339(now - time::Duration::minutes(40)).into();
    });
    s.get(&["acme"]);
    assert_eq!(s.emu.count("session.refresh"), 1);
    s.get(&["acme", "--min-valid", "25m"]);
    assert_eq!(s.emu.count("session.refresh"), 2);
}

#[test]
fn session_rejection_carries_the_server_message() {
    let s = Sandbox::new();
    s.set_env("ACME_PASSWORD", "wrong-password-123");
    s.secret("wrong-password-123");
    s.run(&["get", "acme"]).fails(3, "Invalid credentials").fails(3, "tokenfob login acme");
}

#[test]
fn gooddata_mints_once_keeps_it_and_deletes_it_on_logout() {
    let s = Sandbox::new();
    let token = s.get(&["gd"]);
    assert_eq!(s.get(&["gd"]), token);
    assert_eq!(s.emu.count("gd.mint"), 1);
    let entry = s.entry("gd");
    assert!(entry["expires_at"].is_null(), "API tokens never expire");
    let id = entry["vars"]["token_id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("tokenfob-"), "{id}");
    assert_eq!(s.emu.state().gd_tokens[&id], token);
    assert!(s.run(&["logout", "gd"]).ok().contains("revoked"));
    assert_eq!(s.emu.count("gd.delete"), 1);
    assert!(!s.emu.state().valid.contains(&token), "the server no longer accepts it");
    assert!(!s.entry_path("gd").exists());
}

#[test]
fn gooddata_picks_another_id_on_409_and_uses_the_1x_path_on_404() {
    let s = Sandbox::new();
    s.emu.state().gd_conflicts = 2;
    s.get(&["gd"]);
    assert_eq!(s.emu.count("gd.mint"), 3);
    let s = Sandbox::new();
    s.emu.state().gd_legacy = true;
    let token = s.get(&["gd"]);
    assert!(s.emu.state().valid.contains(&token));
    assert_eq!(s.emu.count("gd.mint"), 1, "the /api/v1 404 is not counted as a mint");
    s.run(&["logout", "gd"]).ok();
    assert_eq!(s.emu.count("gd.delete"), 1, "logout found the 1.x path too");
}

#[test]
fn gooddata_looks_up_the_user_id_when_not_configured() {
    let s = Sandbox::new();
    s.write_config(&s.seed_config().replace("user_id = \"john.doe\"\n", ""));
    s.get(&["gd"]);
    assert_eq!((s.emu.count("gd.profile"), s.emu.count("gd.mint")), (1, 1));
    assert_eq!(s.entry("gd")["vars"]["user_id"], "john.doe");
    s.run(&["logout", "gd"]).ok();
    assert_eq!((s.emu.count("gd.profile"), s.emu.count("gd.delete")), (1, 1), "logout reused the looked-up id");
}

#[test]
fn gooddata_bad_bootstrap_token_is_rejected() {
    let s = Sandbox::new();
    s.set_env("GDC_API_TOKEN", "not-the-bootstrap-token");
    s.secret("not-the-bootstrap-token");
    s.run(&["get", "gd"]).fails(3, "rejected the credentials");
}
