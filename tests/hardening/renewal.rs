//! Renewal: durations that overflow, answers that cannot be right, GoodData tokens that must be revoked, and
//! short-lived tokens.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokenfob_emulator::util;

use crate::support::Sandbox;
use crate::support::server::{Response, Server};

/// Extra headers and a body: what [`Canned`] answers with, status 200.
type Answer = (Vec<(String, String)>, String);

/// A server whose every answer is the one set last.
struct Canned {
    server: Server,
    answer: Arc<Mutex<Answer>>,
}

impl Canned {
    fn start() -> Canned {
        let answer = Arc::new(Mutex::new((Vec::new(), "{}".to_owned())));
        let shared = Arc::clone(&answer);
        let server = Server::start(move |_req| {
            let (headers, body) = shared.lock().unwrap().clone();
            let mut r = Response::json(200, &body);
            r.headers.extend(headers);
            r
        })
        .unwrap();
        Canned { server, answer }
    }

    fn url(&self) -> String {
        self.server.url()
    }

    fn set(&self, headers: &[(&str, &str)], body: &str) {
        let headers = headers.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        *self.answer.lock().unwrap() = (headers, body.to_owned());
    }
}

/// Item 8: a duration too large for the clock is a clear error (exit 2, or `bad_request` with the loop going on),
/// never an abort; an absurd cache entry is a miss.
#[test]
fn huge_durations_are_clear_errors_not_aborts() {
    let s = Sandbox::new();
    let token = s.get(&["od"]);
    s.run(&["get", "od", "--min-valid", "4294967295d"]).fails(2, "maximum");
    s.run(&["status", "od"]).ok();
    // --min-valid takes the full path (the shortcut would answer before the variable is read).
    let lock = s.command(&["get", "od", "--min-valid", "1s"]).env("TOKENFOB_LOCK_TIMEOUT", "1e30").output().unwrap();
    s.check(lock).fails(2, "TOKENFOB_LOCK_TIMEOUT");
    s.edit_entry("od", |e| e["margin_ms"] = u64::MAX.into());
    assert_eq!(s.get(&["od"]), token, "an absurd margin in the cache is a miss for the shortcut, not a crash");
    let input = "{\"v\":1,\"op\":\"get\",\"profile\":\"od\",\"min_valid\":\"4294967295d\"}\n\
                 {\"v\":1,\"op\":\"get\",\"profile\":\"od\"}\n";
    let run = s.feed(s.command(&["protocol"]), input);
    let lines: Vec<serde_json::Value> = run.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(lines.len(), 2, "{run:#?}");
    assert_eq!(lines[0]["error"]["code"], "bad_request", "{run:#?}");
    assert_eq!(lines[1]["token"], token.as_str(), "the loop goes on: {run:#?}");
    let config = s.seed_config();
    for (key, value) in [("refresh_margin", "4294967295d"), ("timeout", "4294967295d"), ("lifetime", "3000000d")] {
        s.write_config(&config.replace("[profiles.od]\n", &format!("[profiles.od]\n{key} = \"{value}\"\n")));
        s.run(&["get", "od"]).fails(2, "maximum");
    }
    s.write_config("[profiles.c]\nkind = \"command\"\ncommand = \"echo tok-c-1\"\nlifetime = \"3000000d\"\n");
    s.run(&["get", "c"]).fails(2, "maximum");
}

/// Item 8: a JWT `exp` at the far end of the calendar reaches kubectl's `expiry - margin` without a crash.
#[test]
fn a_far_past_jwt_exp_is_refused_not_a_crash() {
    let s = Sandbox::new();
    let canned = Canned::start();
    s.write_config(&format!(
        "[profiles.od]\nkind = \"onedata\"\nurl = \"{}\"\nusername = \"u\"\npassword = {{ env = \"OD_PASSWORD\" }}\n",
        canned.url()
    ));
    let payload = util::base64url_encode(br#"{"exp":-377705116800}"#);
    let jwt = format!("eyJhbGciOiJIUzI1NiJ9.{payload}.c2ln");
    s.secret(&jwt);
    canned.set(&[("Authorization", &format!("Bearer {jwt}"))], "{}");
    s.run(&["kubectl", "od"]).fails(4, "expiry");
    s.run(&["get", "od"]).fails(4, "expiry");
}

/// Item 14: each answer that cannot be right, for the session kind, the onedata header kind and oauth2
/// `expires_in`: an error, never a token valid forever.
#[test]
fn answers_that_cannot_be_right_are_errors_not_eternal_tokens() {
    let s = Sandbox::new();
    let canned = Canned::start();
    let url = canned.url();
    s.write_config(&format!(
        "[profiles.sess]\nkind = \"session\"\nlogin_url = \"{url}/login\"\nusername = \"u\"\npassword = {{ env = \"OD_PASSWORD\" }}\n\
         [profiles.od]\nkind = \"onedata\"\nurl = \"{url}\"\nusername = \"u\"\npassword = {{ env = \"OD_PASSWORD\" }}\n\
         [profiles.oa]\nkind = \"oauth2\"\ngrant = \"client_credentials\"\ntoken_url = \"{url}/token\"\nclient_id = \"c\"\n"
    ));
    /// Profile, answer headers, answer body, expected exit code, and what the message names.
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str, i32, &'a str);
    let cases: &[Case] = &[
        ("sess", &[], r#"{"success":true,"token":"tok-neg-1","tokenLifetime":-100}"#, 4, "tokenLifetime"),
        ("sess", &[], r#"{"success":true,"token":"tok-soon-1","tokenLifetime":"soon"}"#, 4, "tokenLifetime"),
        (
            "sess",
            &[],
            r#"{"success":true,"token":"tok-y10k-1","tokenExpiration":"10000-01-01T00:00:00Z"}"#,
            4,
            "tokenExpiration",
        ),
        (
            "sess",
            &[],
            r#"{"success":true,"token":"tok-y10k-2","tokenExpiration":253402300800000}"#,
            4,
            "tokenExpiration",
        ),
        ("sess", &[], r#"{"success":"false","token":"tok-str-1","tokenLifetime":3600}"#, 3, "success"),
        ("sess", &[], r#"{"success":null,"token":"tok-null-1","tokenLifetime":3600}"#, 4, "success"),
        ("od", &[("Authorization", "Bearer")], "{}", 4, "without a token"),
        ("od", &[("Authorization", "Bearer   ")], "{}", 4, "without a token"),
        ("oa", &[], r#"{"access_token":"tok-oa-1","token_type":"Bearer","expires_in":-100}"#, 4, "expires_in"),
        ("oa", &[], r#"{"access_token":"tok-oa-2","token_type":"Bearer","expires_in":"never"}"#, 4, "expires_in"),
        ("oa", &[], r#"{"access_token":"tok-oa-3","token_type":"Bearer","expires_in":1e300}"#, 4, "expires_in"),
        // A JWT whose exp is a string (base64url of {"exp":"1796226760"}): found by the review.
        ("od", &[("Authorization", "Bearer h.eyJleHAiOiIxNzk2MjI2NzYwIn0.s")], "{}", 4, "exp claim"),
    ];
    for (profile, headers, body, code, needle) in cases {
        canned.set(headers, body);
        s.run(&["get", profile]).fails(*code, needle);
        assert!(!s.entry_path(profile).exists(), "{profile} {body}: nothing cached");
    }
    // The same fields, usable, still work.
    canned.set(&[], r#"{"success":true,"token":"tok-good-1","tokenLifetime":3600}"#);
    assert_eq!(s.get(&["sess"]), "tok-good-1");
    assert!(s.entry("sess")["expires_at"].is_string());
}

/// Item 9: a GoodData API token never expires, so each one is revoked before tokenfob forgets it.
#[test]
fn gooddata_tokens_are_revoked_before_they_are_forgotten() {
    let s = Sandbox::new();
    let live = || s.emu.state().gd_tokens.len();
    s.get(&["gd"]);
    assert!(s.run(&["login", "gd"]).ok().contains("logged in"));
    assert_eq!(live(), 1, "login revoked the token it replaced");
    s.run(&["erase", "gd"]).ok();
    assert_eq!(live(), 0, "erase revoked the token it forgot");
    let token = s.get(&["gd"]);
    s.run(&["logout", "gd"]).ok();
    assert_eq!(live(), 0, "after get, login, erase, get, logout nothing is left on the server");
    let token2 = s.get(&["gd"]);
    assert_ne!(token, token2);
    s.run(&["erase", "gd", "--token", &token]).ok();
    assert_eq!(live(), 1, "erase --token with another token forgets nothing");
    s.run(&["erase", "gd", "--token", &token2]).ok();
    assert_eq!(live(), 0, "erase --token revoked it by its id");
    let input = "{\"v\":1,\"op\":\"get\",\"profile\":\"gd\"}\n{\"v\":1,\"op\":\"erase\",\"profile\":\"gd\"}\n";
    let run = s.feed(s.command(&["protocol"]), input);
    assert_eq!(run.stdout.lines().count(), 2, "{run:#?}");
    assert_eq!(live(), 0, "the JSON face's erase revokes too");
}

/// Item 9: when the token cannot be kept, none is minted (or the one minted is revoked at once).
#[test]
fn gooddata_mints_nothing_it_cannot_keep() {
    let s = Sandbox::new();
    let blocker = s.dir.path().join("not-a-dir");
    std::fs::write(&blocker, "x").unwrap();
    let run = s.command(&["get", "gd"]).env("TOKENFOB_CACHE_DIR", blocker.join("cache")).output().unwrap();
    // Refused before anything is sent: either as a cache directory that cannot be checked, or, if it could be
    // read but not locked, as a token that would never expire and could not be kept.
    let run = s.check(run);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(run.stderr.contains("not-a-dir/cache") || run.stderr.contains("never expire"), "{run:#?}");
    assert!(run.stdout.is_empty(), "{run:#?}");
    assert_eq!(s.emu.count("gd.mint"), 0, "nothing minted without a cache to keep it in");
    // The entry's path is a directory: refused when the cache is read, before anything is minted. (A token minted
    // and then not written, which must be revoked at once, is reliability::disk's full-cache test.)
    std::fs::create_dir_all(s.entry_path("gd").join("x")).unwrap();
    let run = s.run(&["get", "gd"]);
    assert_ne!(run.code, 0, "{run:#?}");
    assert!(run.stdout.is_empty(), "{run:#?}");
    assert_eq!(s.emu.count("gd.mint"), 0, "nothing minted for a cache entry that cannot be written");
    assert_eq!(s.emu.state().gd_tokens.len(), 0, "no token left live on the server");
}

/// Item 18: tokens that live shorter than the margin: 20 parallel callers cause one renewal, and sequential calls
/// within a few seconds none; the warning comes once, with the renewal.
#[test]
fn short_lived_tokens_renew_once_per_half_lifetime() {
    let s = Sandbox::new();
    s.emu.state().session_lifetime = 30; // the default margin is 60 s
    s.emu.state().delay = Duration::from_millis(30);
    let renewals = || s.emu.count("session.login") + s.emu.count("session.refresh");
    let children: Vec<_> = (0..20)
        .map(|_| s.command(&["get", "acme"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap())
        .collect();
    let runs: Vec<_> = children.into_iter().map(|c| s.check(c.wait_with_output().unwrap())).collect();
    let tokens: Vec<&str> = runs.iter().map(|r| r.ok()).collect();
    assert!(tokens.iter().all(|t| *t == tokens[0]), "everyone got the same token");
    assert_eq!(renewals(), 1, "20 parallel callers, one renewal");
    let warned = runs.iter().filter(|r| r.stderr.contains("refresh margin")).count();
    assert_eq!(warned, 1, "the margin warning comes once, with the renewal: {runs:#?}");
    for _ in 0..3 {
        let run = s.run(&["get", "acme"]);
        assert_eq!(run.ok(), tokens[0]);
        assert!(!run.stderr.contains("refresh margin"), "no warning without a renewal: {run:#?}");
    }
    let input = "{\"v\":1,\"op\":\"get\",\"profile\":\"acme\"}\n".repeat(3);
    let run = s.feed(s.command(&["protocol"]), &input);
    assert_eq!(run.stdout.matches(tokens[0]).count(), 6, "{run:#?}");
    assert_eq!(renewals(), 1, "sequential calls within seconds renew nothing");
    let status: serde_json::Value = serde_json::from_str(s.run(&["status", "acme", "--json"]).ok()).unwrap();
    assert_eq!(status["profiles"][0]["fresh"], true, "status uses the same rule");
}

/// Item 19: `--min-valid` that a failed renewal cannot meet is an error; one that the server's tokens cannot meet
/// is served with a warning, without renewing on every call.
#[test]
fn min_valid_that_cannot_be_met() {
    let s = Sandbox::new();
    s.get(&["acme"]);
    s.expire_soon("acme");
    s.emu.state().fault = Some(tokenfob_emulator::Fault {
        status: 500,
        content_type: "text/html".into(),
        body: "<html>down</html>".into(),
        times: 100,
    });
    s.run(&["get", "acme", "--min-valid", "10m"]).fails(4, "--min-valid");
    let run = s.feed(s.command(&["protocol"]), "{\"v\":1,\"op\":\"get\",\"profile\":\"acme\",\"min_valid\":\"10m\"}\n");
    let answer: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(answer["error"]["code"], "server", "{run:#?}");
    assert!(run.stderr.contains("min_valid"), "{run:#?}");
    let served = s.run(&["get", "acme"]);
    assert!(served.stderr.contains("serving the cached token"), "without a guarantee, it is served: {served:#?}");
    served.ok();
    s.emu.state().fault = None;
    s.emu.state().session_lifetime = 300;
    let renewals = || s.emu.count("session.login") + s.emu.count("session.refresh");
    let before = renewals();
    let run = s.run(&["get", "acme", "--min-valid", "10m"]);
    run.ok();
    assert!(run.stderr.contains("sooner than --min-valid"), "{run:#?}");
    s.run(&["get", "acme", "--min-valid", "10m"]).ok();
    let input = "{\"v\":1,\"op\":\"get\",\"profile\":\"acme\",\"min_valid\":\"10m\"}\n".repeat(2);
    let run = s.feed(s.command(&["protocol"]), &input);
    assert_eq!(run.stdout.matches("\"ok\":true").count(), 2, "{run:#?}");
    assert_eq!(renewals(), before + 1, "one renewal, not one per call");
}

/// Item 19, as the review found it: `--min-valid` is met as asked when the server's tokens live long enough for a
/// renewal to meet it (20 s tokens, 12 s left, 15 s asked: renewed), and capped only when they do not.
#[test]
fn min_valid_is_met_when_a_renewal_can_meet_it() {
    let s = Sandbox::new();
    s.write_config(
        "[profiles.c]\nkind = \"command\"\ncommand = [\"sh\", \"-c\", \"echo tok-$(date +%s%N)\"]\nlifetime = \"20s\"\n\
         refresh_margin = \"1s\"\n",
    );
    let first = s.get(&["c"]);
    let age = |obtained: i64, left: i64| {
        let now = time::OffsetDateTime::now_utc();
        s.edit_entry("c", |e| {
            e["obtained_at"] = util::rfc3339(now - time::Duration::seconds(obtained)).into();
            e["expires_at"] = util::rfc3339(now + time::Duration::seconds(left)).into();
        });
    };
    age(8, 12);
    assert_eq!(s.get(&["c", "--min-valid", "10s"]), first, "12 s left meets 10 s");
    let second = s.get(&["c", "--min-valid", "15s"]);
    assert_ne!(second, first, "12 s left does not meet 15 s, and a 20 s token would: renewed");
    // 40 s asked of 20 s tokens: capped at half their lifetime, so a token with 12 s left is served, with a warning.
    age(8, 12);
    let run = s.run(&["get", "c", "--min-valid", "40s"]);
    assert_eq!(run.ok(), second);
    assert!(run.stderr.contains("sooner than --min-valid"), "{run:#?}");
}

/// Item 9, as the review found it: a never-expiring token made with other settings cannot be revoked safely (its
/// server may differ), so replacing it says so instead of forgetting it in silence.
#[test]
fn a_gooddata_token_made_with_other_settings_is_not_forgotten_in_silence() {
    let s = Sandbox::new();
    s.get(&["gd"]);
    s.set_env("GD_OTHER", &s.gd_bootstrap.clone());
    s.write_config(&s.seed_config().replace("GDC_API_TOKEN", "GD_OTHER"));
    let run = s.run(&["get", "gd"]);
    run.ok();
    assert!(run.stderr.contains("without being revoked"), "{run:#?}");
}

/// Item 18 on the kubectl face (found by review): kubectl is told the moment tokenfob would renew, by the same rule
/// as `get` (half the lifetime of a 30 s token under a 60 s margin), not the expiry less the raw margin.
#[test]
fn kubectl_is_told_when_the_one_freshness_rule_renews() {
    let s = Sandbox::new();
    s.emu.state().session_lifetime = 30;
    let info =
        r#"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","spec":{"interactive":false}}"#;
    let out = s.command(&["kubectl", "acme"]).env("KUBERNETES_EXEC_INFO", info).output().unwrap();
    let answer: serde_json::Value = serde_json::from_str(s.check(out).ok()).unwrap();
    let at = |v: &serde_json::Value| util::parse_rfc3339(v.as_str().unwrap()).unwrap();
    let reported = at(&answer["status"]["expirationTimestamp"]);
    let entry = s.entry("acme");
    let (obtained, expires) = (at(&entry["obtained_at"]), at(&entry["expires_at"]));
    let expected: time::OffsetDateTime = obtained + (expires - obtained) / 2;
    let off: time::Duration = reported - expected;
    assert!(off.abs() <= time::Duration::seconds(1), "{reported} vs {expected}");
    // The cache-hit shortcut answers by the same rule.
    let out = s.command(&["kubectl", "acme"]).env("KUBERNETES_EXEC_INFO", info).output().unwrap();
    let again: serde_json::Value = serde_json::from_str(s.check(out).ok()).unwrap();
    assert_eq!(again["status"], answer["status"]);
}

/// Found by review: `logout` after the settings changed must not send the old token and its ids to the server the
/// settings name now (here a port where nothing listens); it warns and forgets, as `erase` does.
#[test]
fn logout_never_sends_a_token_made_with_other_settings_to_the_new_server() {
    let s = Sandbox::new();
    s.get(&["gd"]);
    let elsewhere = format!("http://127.0.0.1:{}", crate::support::closed_port());
    s.write_config(&s.seed_config().replace(&s.emu.url(), &elsewhere));
    let run = s.run(&["logout", "gd"]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(run.stderr.contains("made with other settings, so it is not revoked"), "{run:#?}");
    assert!(!s.entry_path("gd").exists(), "forgotten");
}

/// A token that arrives already expired (found by the second review) is served, since only the server knows, but
/// with a warning that says so, not one about its lifetime.
#[test]
fn a_token_that_arrives_expired_is_served_with_a_warning_that_says_so() {
    let s = Sandbox::new();
    s.write_config("[profiles.c]\nkind = \"command\"\ncommand = [\"sh\", \"-c\", \"echo '{\\\"token\\\":\\\"tok-old\\\",\\\"expires_at\\\":1000000000}'\"]\n");
    let run = s.run(&["get", "c"]);
    assert_eq!(run.ok(), "tok-old");
    assert!(run.stderr.contains("already expired when it arrived"), "{run:#?}");
    assert!(!run.stderr.contains("live 0s"), "{run:#?}");
}
