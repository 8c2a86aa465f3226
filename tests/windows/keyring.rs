//! The system keyring on Windows (issue #14): the Credential Manager, as Wine implements it, written and read by the
//! Windows build. Wine keeps each credential under `HKCU\Software\Wine\Credential Manager`, keyed by its target
//! name, so the test can see an item appear and go without asking tokenfob.

use crate::support::Sandbox;

/// The Credential Manager's target names, read from Wine's registry (`wine reg query`).
fn credentials(s: &Sandbox) -> String {
    let wine = s.wine().expect("a Windows sandbox");
    let out = std::process::Command::new(&wine.loader)
        .args(["reg", "query", r"HKCU\Software\Wine\Credential Manager"])
        .envs(wine.env())
        .output()
        .unwrap();
    // No key yet (nothing stored) is an error of `reg`; it reads as "no credentials".
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn refresh_tokens_live_in_the_credential_manager_and_logout_removes_them() {
    let Some(s) = Sandbox::windows() else { return };
    s.write_config(&format!("store = \"keyring\"\n{}", s.seed_config()));
    let token = s.get(&["acme"]);
    let entry = s.entry("acme");
    assert!(entry.get("refresh_token").is_none() && entry.get("keyring").is_some(), "the file only points: {entry}");
    assert!(!std::fs::read_to_string(s.entry_path("acme")).unwrap().contains(&token), "no token in the file");
    assert!(credentials(&s).contains("acme@"), "an item named for the profile: {}", credentials(&s));
    assert_eq!(s.get(&["acme"]), token, "a cache hit reads the token back from the keyring");

    s.expire("acme");
    let refreshed = s.get(&["acme"]);
    assert_ne!(refreshed, token);
    assert_eq!(s.emu.count("session.refresh"), 1, "the refresh token came back out of the Credential Manager");
    assert_eq!(s.emu.count("session.login"), 1);

    s.run(&["logout", "acme"]).ok();
    assert!(!credentials(&s).contains("acme@"), "logout removes the item: {}", credentials(&s));
}

#[test]
fn a_secret_set_from_stdin_is_the_keyring_source_of_a_login() {
    let Some(s) = Sandbox::windows() else { return };
    let token = "kr-win-7f3a9c";
    s.secret(token);
    s.write_config("[profiles.st]\nkind = \"static\"\ntoken = { keyring = \"tokenfob-test\", user = \"st-token\" }\n");
    s.feed(s.command(&["secret", "set", "st", "token"]), format!("{token}\n")).ok();
    assert!(credentials(&s).contains("st-token"), "stored: {}", credentials(&s));
    assert_eq!(s.get(&["st"]), token);
    s.run(&["secret", "delete", "st", "token"]).ok();
    assert!(!credentials(&s).contains("st-token"));
    s.run(&["logout", "st"]).ok();
    s.run(&["get", "st"]).fails(2, "secret set st token");
}
