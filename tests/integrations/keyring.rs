//! Issue #14: the system keyring, against a real Secret Service: Debian's gnome-keyring on a private session bus
//! (`dbus-run-session`), its login keyring created and unlocked by the test, in the sandbox's own HOME and
//! XDG_DATA_HOME. Tokens and secrets go to it and come back; the JSON cache file never holds them.

use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Sandbox, files_containing, server};

/// The password of the test's login keyring.
const KEYRING_PASSWORD: &str = "keyring-test-password";

/// A private session bus with gnome-keyring's Secret Service on it, for as long as this lives.
struct Bus {
    holder: Child,
}

impl Bus {
    /// Starts a bus with gnome-keyring for `s` (and points `s`'s later runs at it). With `unlock`, the login
    /// keyring is created if needed and unlocked; without, the daemon starts with the keyring left locked. `None`
    /// (the test skips) when the tools are missing, unless TOKENFOB_REQUIRE_TOOLS=1.
    fn start(s: &Sandbox, unlock: bool) -> Option<Bus> {
        for tool in ["dbus-run-session", "gnome-keyring-daemon", "secret-tool"] {
            server::tool(tool)?;
        }
        // A runtime directory of its own for each start: a daemon of an earlier session that has not exited yet
        // must not be found through its control socket there.
        let run = s.dir.path().join(format!("run-{}", tokenfob_emulator::util::random_hex(4)));
        std::fs::create_dir_all(&run).unwrap();
        std::fs::set_permissions(&run, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
        let address = s.dir.path().join("bus-address");
        let _ = std::fs::remove_file(&address);
        let script = r#"
            set -e
            if [ "$1" = unlock ]; then
                printf '%s' "$KEYRING_PASSWORD" | gnome-keyring-daemon --unlock --components=secrets >/dev/null
            else
                gnome-keyring-daemon --start --components=secrets >/dev/null
            fi
            printf '%s' "$DBUS_SESSION_BUS_ADDRESS" > "$2.tmp"
            mv "$2.tmp" "$2"
            exec cat >/dev/null
        "#;
        let mode = if unlock { "unlock" } else { "start" };
        let log = std::fs::File::create(s.dir.path().join("bus.log")).unwrap();
        let holder = s
            .tool_command("dbus-run-session")
            .args(["--", "sh", "-c", script, "sh", mode])
            .arg(&address)
            .env("XDG_DATA_HOME", s.dir.path().join("data"))
            .env("XDG_RUNTIME_DIR", &run)
            .env("KEYRING_PASSWORD", KEYRING_PASSWORD)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let bus = Bus { holder };
        // Not a timing assertion: a bound on waiting for a daemon that failed to start, so the test fails instead of
        // hanging.
        let until = Instant::now() + Duration::from_secs(60);
        while !address.exists() {
            let log = std::fs::read_to_string(s.dir.path().join("bus.log")).unwrap_or_default();
            assert!(Instant::now() < until, "the session bus and gnome-keyring did not start: {log}");
            std::thread::sleep(Duration::from_millis(20));
        }
        s.set_env("DBUS_SESSION_BUS_ADDRESS", &std::fs::read_to_string(&address).unwrap());
        Some(bus)
    }
}

impl Drop for Bus {
    /// Closing the holder's stdin ends `cat`, and with it the session: the bus goes, and gnome-keyring with it.
    fn drop(&mut self) {
        drop(self.holder.stdin.take());
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.holder.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

/// The seed configuration with `store` set for every profile.
fn config_with_store(s: &Sandbox, store: &str) -> String {
    format!("store = \"{store}\"\n{}", s.seed_config())
}

/// `secret-tool lookup service SERVICE username USER`: the item's text, or `None` when there is none.
fn lookup(s: &Sandbox, service: &str, user: &str) -> Option<String> {
    let out = s.tool_command("secret-tool").args(["lookup", "service", service, "username", user]).output().unwrap();
    out.status.success().then(|| String::from_utf8(out.stdout).unwrap())
}

/// The keyring item of a profile's cached tokens, as JSON; its tokens become secrets of the sandbox.
fn cached_item(s: &Sandbox, profile: &str) -> Option<serde_json::Value> {
    let user = format!("{profile}@{}", s.cache_dir().display());
    let item: serde_json::Value = serde_json::from_str(&lookup(s, "tokenfob", &user)?).unwrap();
    for key in ["token", "refresh_token"] {
        if let Some(t) = item[key].as_str() {
            s.secret(t);
        }
    }
    Some(item)
}

/// Asserts that no file under the sandbox (the JSON cache, the config, the keyring's own files) holds `secret`.
fn nowhere_on_disk(s: &Sandbox, secret: &str) {
    let found: Vec<PathBuf> = files_containing(s.dir.path(), secret);
    assert!(found.is_empty(), "a secret was written to {found:?}");
}

#[test]
fn tokens_live_in_the_keyring_through_get_refresh_and_logout() {
    let s = Sandbox::new();
    s.write_config(&config_with_store(&s, "keyring"));
    let Some(_bus) = Bus::start(&s, true) else { return };
    let token = s.get(&["acme"]);
    let item = cached_item(&s, "acme").expect("the tokens are in the keyring");
    assert_eq!(item["token"], token.as_str());
    let refresh = item["refresh_token"].as_str().expect("the refresh token is in the keyring").to_owned();
    let entry = s.entry("acme");
    assert!(entry.get("token").is_none() && entry.get("refresh_token").is_none(), "{entry}");
    assert_eq!(entry["keyring"], serde_json::json!({"token": true, "refresh_token": true}));
    nowhere_on_disk(&s, &token);
    nowhere_on_disk(&s, &refresh);

    // A hit comes from the keyring, without a login; status reads only the file.
    assert_eq!(s.get(&["acme"]), token);
    assert_eq!(s.emu.count("session.login"), 1);
    let status = s.run(&["status", "acme", "--json"]);
    assert!(status.ok().contains("\"cached\":true"), "{status:?}");

    // Two refreshes: the emulator rotates refresh tokens and refuses a reused one, so the second works only if the
    // rotated token of the first landed in the keyring.
    for round in 1..=2 {
        s.expire("acme");
        let renewed = s.get(&["acme"]);
        assert_ne!(renewed, token);
        let item = cached_item(&s, "acme").unwrap();
        assert_eq!(item["token"], renewed.as_str());
        assert_ne!(item["refresh_token"], refresh.as_str(), "round {round}: the rotated refresh token is kept");
        nowhere_on_disk(&s, &renewed);
        nowhere_on_disk(&s, item["refresh_token"].as_str().unwrap());
    }
    assert_eq!((s.emu.count("session.login"), s.emu.count("session.refresh")), (1, 2));

    s.run(&["logout", "acme"]).ok();
    assert!(cached_item(&s, "acme").is_none(), "logout deletes the keyring item");
    assert!(!s.entry_path("acme").exists());
}

#[test]
fn a_herd_renews_once_through_the_keyring() {
    let s = Sandbox::new();
    s.write_config(&config_with_store(&s, "keyring"));
    let Some(_bus) = Bus::start(&s, true) else { return };
    s.get(&["acme"]);
    s.expire("acme");
    let children: Vec<_> = (0..16)
        .map(|_| s.command(&["get", "acme"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap())
        .collect();
    let tokens: Vec<String> =
        children.into_iter().map(|c| s.check(c.wait_with_output().unwrap()).ok().to_owned()).collect();
    assert!(tokens.iter().all(|t| t == &tokens[0]), "everyone gets the same token: {tokens:?}");
    s.secret(&tokens[0]);
    assert_eq!((s.emu.count("session.login"), s.emu.count("session.refresh")), (1, 1), "exactly one renewal");
    assert_eq!(cached_item(&s, "acme").unwrap()["token"], tokens[0].as_str());
}

#[test]
fn a_locked_keyring_without_a_terminal_asks_for_tokenfob_login() {
    let s = Sandbox::new();
    s.write_config(&config_with_store(&s, "keyring"));
    // Create the login keyring, then start a new session where it is locked (as after a login without PAM).
    drop(Bus::start(&s, true));
    let Some(_bus) = Bus::start(&s, false) else { return };
    s.set_env("TOKENFOB_NO_INPUT", "1");
    s.run(&["get", "acme"]).fails(5, "tokenfob login acme");
    assert_eq!(s.emu.count("session.login"), 0, "no login for a token that could not be kept");
}

#[test]
fn without_a_session_bus_keyring_fails_naming_the_file_and_auto_falls_back() {
    let s = Sandbox::new();
    // A bus address where nothing listens: no D-Bus session (and no hang).
    let nowhere = format!("unix:path={}", s.dir.path().join("no-bus").display());
    s.set_env("DBUS_SESSION_BUS_ADDRESS", &nowhere);
    s.write_config(&config_with_store(&s, "keyring"));
    s.run(&["get", "acme"]).fails(1, "store = \"file\"");
    assert!(!s.entry_path("acme").exists());

    s.write_config(&s.seed_config().replace("account_id = 42", "account_id = 42\nstore = \"auto\""));
    let run = s.run(&["get", "acme"]);
    let token = run.ok().to_owned();
    s.secret(&token);
    assert!(run.stderr.contains("store = \"auto\""), "a warning names the fallback: {run:?}");
    assert_eq!(s.entry("acme")["token"], token.as_str(), "auto keeps the token in the file");
    assert!(s.entry("acme").get("keyring").is_none());
}

#[test]
fn secret_set_stores_a_password_that_a_login_then_uses() {
    let s = Sandbox::new();
    let config = s.seed_config().replace(
        "password = { env = \"OD_PASSWORD\" }",
        "password = { keyring = \"tokenfob-test\", user = \"od-user\" }",
    );
    assert_ne!(config, s.seed_config());
    s.write_config(&config);
    let Some(_bus) = Bus::start(&s, true) else { return };

    // Not a keyring source, or no secret at all: refused, nothing stored.
    s.feed(s.command(&["secret", "set", "acme", "password"]), "x\n").fails(2, "not from the keyring");
    s.feed(s.command(&["secret", "set", "od", "colour"]), "x\n").fails(2, "no secret named");

    let set = s.feed(s.command(&["secret", "set", "od", "password"]), format!("{}\n", s.od_password));
    assert!(set.ok().contains("stored the password of profile od"), "{set:?}");
    assert_eq!(lookup(&s, "tokenfob-test", "od-user").as_deref(), Some(s.od_password.as_str()));
    s.get(&["od"]);
    assert_eq!(s.emu.count("od.login"), 1);
    nowhere_on_disk(&s, &s.od_password);

    s.run(&["secret", "delete", "od", "password"]).ok();
    assert!(lookup(&s, "tokenfob-test", "od-user").is_none());
    s.run(&["erase", "od"]).ok();
    s.run(&["get", "od"]).fails(2, "tokenfob secret set od password");
}

#[test]
fn secret_set_on_a_terminal_reads_a_prompt_without_echo() {
    // util-linux's `script` gives `secret set` a terminal.
    let Some(script) = server::tool("script") else { return };
    let s = Sandbox::new();
    s.write_config(&s.seed_config().replace(
        "password = { env = \"OD_PASSWORD\" }",
        "password = { keyring = \"tokenfob-test\", user = \"od-user\" }",
    ));
    let Some(_bus) = Bus::start(&s, true) else { return };
    let line = format!("{} secret set od password", env!("CARGO_BIN_EXE_tokenfob"));
    let mut cmd = s.tool_command(&script);
    cmd.args(["-qec", &line, "/dev/null"]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // Typed once the prompt shows (as a person would): what is typed before is discarded with the echo turned off.
    let mut stdout = child.stdout.take().unwrap();
    let seen = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut buf = [0u8; 256];
        while !String::from_utf8_lossy(&seen).contains("profile od: ") {
            match std::io::Read::read(&mut stdout, &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
        (seen, stdout)
    });
    let (mut seen, mut stdout) = seen.join().unwrap();
    std::io::Write::write_all(&mut stdin, format!("{}\n", s.od_password).as_bytes()).unwrap();
    // A bound on a run that went wrong, not a timing assertion.
    let until = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > until {
            let _ = child.kill();
            panic!("secret set still runs after 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(stdin);
    std::io::Read::read_to_end(&mut stdout, &mut seen).unwrap();
    let mut output = child.wait_with_output().unwrap();
    output.stdout = seen;
    let out = s.check(output);
    assert_eq!(out.code, 0, "{out:#?}");
    assert!(out.stdout.contains("The password of profile od: "), "the prompt: {out:#?}");
    assert!(!out.stdout.contains(&s.od_password), "the typed password was echoed: {out:#?}");
    assert_eq!(lookup(&s, "tokenfob-test", "od-user").as_deref(), Some(s.od_password.as_str()));
    s.get(&["od"]);
}

/// Tokens GoodData has live on the server.
fn live_gd_tokens(s: &Sandbox) -> usize {
    s.emu.state().gd_tokens.len()
}

/// Issue #10's rule (a token that never expires is never forgotten while valid) with store = "auto": a keyring that
/// is locked for one call (cron, before the user logged in) must not make tokenfob mint a second GoodData token and
/// leave the first one valid on the server, unrevoked, in the keyring.
#[test]
fn auto_with_a_locked_keyring_does_not_mint_a_second_lasting_token() {
    let s = Sandbox::new();
    s.write_config(&config_with_store(&s, "auto"));
    let Some(bus) = Bus::start(&s, true) else { return };
    s.get(&["gd"]);
    assert!(s.entry("gd").get("keyring").is_some(), "the token went to the keyring");
    assert_eq!(live_gd_tokens(&s), 1);
    drop(bus);
    let Some(_bus) = Bus::start(&s, false) else { return };
    s.set_env("TOKENFOB_NO_INPUT", "1");
    let run = s.run(&["get", "gd"]);
    eprintln!("{run:#?}");
    assert_eq!(
        (s.emu.count("gd.mint"), live_gd_tokens(&s)),
        (1, 1),
        "a second never-expiring token was minted while the first stays valid, orphaned in the keyring"
    );
}

/// The same rule for `logout`: with store = "auto" and the keyring locked, logout must not report success while the
/// token it could not read stays valid on the server and its keyring item stays behind.
#[test]
fn logout_with_auto_and_a_locked_keyring_does_not_drop_the_marker_silently() {
    let s = Sandbox::new();
    s.write_config(&config_with_store(&s, "auto"));
    let Some(bus) = Bus::start(&s, true) else { return };
    s.get(&["gd"]);
    drop(bus);
    let Some(_bus) = Bus::start(&s, false) else { return };
    s.set_env("TOKENFOB_NO_INPUT", "1");
    let run = s.run(&["logout", "gd"]);
    eprintln!("{run:#?}");
    let live = live_gd_tokens(&s);
    assert!(
        !(run.code == 0 && live == 1 && !s.entry_path("gd").exists()),
        "logout succeeded, the token is still valid on the server ({live} live) and the file's marker is gone"
    );
    // It fails as a locked keyring does without a terminal, naming the command to run, and keeps the file.
    run.fails(5, "tokenfob logout gd");
    assert!(s.entry("gd").get("keyring").is_some(), "the file still points at the keyring item");
}

/// The warning of a changed profile whose never-expiring token is replaced without being revoked (issue #10,
/// tests/hardening/renewal.rs) must not be lost when the token sits in the keyring.
#[test]
fn a_changed_gooddata_profile_warns_about_its_keyring_token() {
    let s = Sandbox::new();
    s.write_config(&config_with_store(&s, "keyring"));
    let Some(_bus) = Bus::start(&s, true) else { return };
    s.get(&["gd"]);
    s.set_env("GD_OTHER", &s.gd_bootstrap.clone());
    s.write_config(&config_with_store(&s, "keyring").replace("GDC_API_TOKEN", "GD_OTHER"));
    let run = s.run(&["get", "gd"]);
    run.ok();
    assert!(run.stderr.contains("without being revoked"), "{run:#?}");
}

/// Switching a profile from the file to the keyring: its refresh token (or a never-expiring token) should leave the
/// 0600 file, not stay there until the next renewal (for GoodData: forever).
#[test]
fn switching_to_the_keyring_moves_a_lasting_token_out_of_the_file() {
    let s = Sandbox::new();
    let token = s.get(&["gd"]);
    s.write_config(&config_with_store(&s, "keyring"));
    let Some(_bus) = Bus::start(&s, true) else { return };
    assert_eq!(s.get(&["gd"]), token);
    let entry = s.entry("gd");
    assert!(entry.get("token").is_none(), "the never-expiring token is still in the file after the switch: {entry}");
}

/// `secret-tool store` of a second item under a profile's cached-token attributes, in the session collection.
fn store_beside(s: &Sandbox, user: &str) {
    let mut cmd = s.tool_command("secret-tool");
    cmd.args(["store", "--label", "beside", "--collection=session", "service", "tokenfob", "username", user]);
    cmd.args(["target", "default"]);
    s.feed(cmd, "junk").ok();
}

/// A second item under the same attributes: the error names the command that clears them (not a Debug dump), and
/// logout deletes them all.
#[test]
fn several_items_for_a_profile_are_named_and_logout_deletes_them_all() {
    let s = Sandbox::new();
    s.write_config(&config_with_store(&s, "keyring"));
    let Some(_bus) = Bus::start(&s, true) else { return };
    s.get(&["acme"]);
    let user = format!("acme@{}", s.cache_dir().display());
    store_beside(&s, &user);
    let run = s.run(&["get", "acme"]);
    run.fails(1, "secret-tool clear service tokenfob username");
    assert!(!run.stderr.contains("Credential"), "{run:#?}");
    s.run(&["logout", "acme"]).ok();
    assert!(lookup(&s, "tokenfob", &user).is_none(), "every item is deleted");
    assert!(!s.entry_path("acme").exists());
}

/// `docker-credential list` lists the profiles it can read: one whose keyring is locked is not the failure of all.
#[test]
fn docker_list_is_not_failed_by_a_locked_keyring_profile() {
    let s = Sandbox::new();
    let od_url = format!("url = \"{}\"\n", s.emu.url());
    let od = format!("{od_url}match = [\"https://127.0.0.1:5000/\"]\nstore = \"file\"\n");
    s.write_config(&config_with_store(&s, "keyring").replacen(&od_url, &od, 1));
    let Some(bus) = Bus::start(&s, true) else { return };
    s.get(&["gd"]);
    s.get(&["od"]);
    drop(bus);
    let Some(_bus) = Bus::start(&s, false) else { return };
    s.set_env("TOKENFOB_NO_INPUT", "1");
    let list = s.feed(s.command(&["docker-credential", "list"]), "");
    assert_eq!(list.ok(), "{\"https://127.0.0.1:5000/\":\"oauth2\"}");
}

/// A locked keyring and no terminal: `secret set` names itself as the command to run in one, not `tokenfob login`.
#[test]
fn secret_set_with_a_locked_keyring_names_secret_set() {
    let s = Sandbox::new();
    let config = s.seed_config().replace(
        "password = { env = \"OD_PASSWORD\" }",
        "password = { keyring = \"tokenfob-test\", user = \"od-user\" }",
    );
    s.write_config(&config);
    drop(Bus::start(&s, true));
    let Some(_bus) = Bus::start(&s, false) else { return };
    s.set_env("TOKENFOB_NO_INPUT", "1");
    let run = s.feed(s.command(&["secret", "set", "od", "password"]), "x\n");
    run.fails(5, "tokenfob secret set od password");
    assert!(!run.stderr.contains("tokenfob login"), "{run:#?}");
    // Several lines are refused before the keyring is asked.
    s.feed(s.command(&["secret", "set", "od", "password"]), "x\ny\n").fails(2, "more than one line");
}

/// A Secret Service that hangs (a bus socket that takes connections and never answers), with store = "auto" and a
/// marked entry: `get` waits for it once, warns once, and goes on with the file.
#[test]
fn auto_with_a_hung_keyring_waits_once_and_warns_once() {
    let s = Sandbox::new();
    let config = config_with_store(&s, "auto").replace("account_id = 42", "account_id = 42\ntimeout = \"2s\"");
    s.write_config(&config);
    let Some(bus) = Bus::start(&s, true) else { return };
    s.get(&["acme"]);
    assert!(s.entry("acme").get("keyring").is_some());
    drop(bus);
    let socket = s.dir.path().join("hung-bus");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    s.set_env("DBUS_SESSION_BUS_ADDRESS", &format!("unix:path={}", socket.display()));
    let run = s.run(&["get", "acme"]);
    let token = run.ok().to_owned();
    s.secret(&token);
    assert_eq!(run.stderr.matches("cannot be read").count(), 1, "{run:#?}");
    assert_eq!(run.stderr.matches("did not answer within").count(), 1, "one wait: {run:#?}");
    assert_eq!(s.entry("acme")["token"], token.as_str(), "auto keeps the new token in the file");
}
