//! Review of issue #14 (rev14): ways the keyring store was tried and what was found. Each test asserts the behaviour
//! the design promises; a failing one is a finding of the review.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Sandbox, server};

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

fn config_with_store(s: &Sandbox, store: &str) -> String {
    format!("store = \"{store}\"\n{}", s.seed_config())
}

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
