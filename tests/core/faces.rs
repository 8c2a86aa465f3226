//! The shell face's formats and profile choice, `status`, and the JSON face.

use std::io::Write;
use std::process::Stdio;

use serde_json::{Value, json};
use tokenfob_emulator::util;

use crate::support::{Protocol, Sandbox};

#[test]
fn get_prints_every_output_format() {
    let s = Sandbox::new();
    let token = s.get(&["acme"]);
    assert_eq!(s.run(&["get", "acme", "-o", "header"]).ok(), format!("Authorization: Bearer {token}"));
    assert_eq!(s.run(&["get", "acme", "-o", "curl"]).ok(), format!("header = \"Authorization: Bearer {token}\""));
    let json: Value = serde_json::from_str(s.run(&["get", "acme", "-o", "json"]).ok()).unwrap();
    let expires = s.entry("acme")["expires_at"].clone();
    assert_eq!(
        json,
        json!({"profile": "acme", "token": token, "token_type": "Bearer", "expires_at": expires,
               "header": format!("Authorization: Bearer {token}")})
    );
    let gd: Value = serde_json::from_str(s.run(&["get", "gd", "-o", "json"]).ok()).unwrap();
    assert_eq!(gd["expires_at"], Value::Null);
    assert_eq!(s.emu.count("session.login"), 1);
}

#[test]
fn profiles_are_chosen_by_argument_url_environment_default_and_uniqueness() {
    let s = Sandbox::new();
    let url = s.emu.url();
    s.write_config(&format!(
        "{}\n[profiles.acme2]\nkind = \"static\"\ntoken = {{ env = \"T2\" }}\nmatch = [\"{url}/rest/v1/special/\"]\n",
        s.seed_config()
    ));
    s.set_env("T2", "static-token-two");
    s.secret("static-token-two");
    assert_eq!(s.get(&["--url", &format!("{url}/rest/v1/special/x")]), "static-token-two", "longest match wins");
    // acme and od both default to the emulator's origin: the tie goes to the first by name.
    let acme = s.get(&["--url", &format!("{url}/rest/v1/other")]);
    assert!(acme.starts_with("sess"), "{acme}");
    s.run(&["get", "--url", "https://nowhere.example/"]).fails(2, "no profile's `match` covers");
    let od = s.get(&[]);
    assert!(s.emu.state().valid.contains(&od) && util::jwt_exp(&od).is_some(), "default_profile is od");
    s.set_env("TOKENFOB_PROFILE", "acme2");
    assert_eq!(s.get(&[]), "static-token-two");
    s.run(&["get", "nope"]).fails(2, "acme, acme2, gd, od");
    let lone = Sandbox::new();
    lone.write_config("[profiles.only]\nkind = \"static\"\ntoken = \"t-only-1\"\n");
    assert_eq!(lone.get(&[]), "t-only-1");
    let two = Sandbox::new();
    two.write_config(
        "[profiles.a]\nkind = \"static\"\ntoken = \"a1\"\n[profiles.b]\nkind = \"static\"\ntoken = \"b1\"\n",
    );
    two.run(&["get"]).fails(2, "none chosen");
}

#[test]
fn status_reports_without_tokens() {
    let s = Sandbox::new();
    let token = s.get(&["acme"]);
    let table = s.run(&["status"]).ok().to_owned();
    assert!(table.contains("acme") && table.contains("fresh") && table.contains("yes"), "{table}");
    assert!(!table.contains(&token));
    let json: Value = serde_json::from_str(s.run(&["status", "--json"]).ok()).unwrap();
    let acme = json["profiles"].as_array().unwrap().iter().find(|p| p["profile"] == "acme").unwrap().clone();
    assert_eq!(
        (acme["cached"].clone(), acme["refreshable"].clone(), acme["kind"].clone()),
        (json!(true), json!(true), json!("session"))
    );
    assert!(acme["expires_in"].as_i64().unwrap() > 3500);
    let od = json["profiles"].as_array().unwrap().iter().find(|p| p["profile"] == "od").unwrap().clone();
    assert_eq!(od["cached"], json!(false));
    assert!(!json.to_string().contains(&token));
}

/// Runs `tokenfob protocol` with `input` and returns one parsed JSON answer per line.
fn protocol(s: &Sandbox, input: &str) -> Vec<Value> {
    let mut child =
        s.command(&["protocol"]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let run = s.check(child.wait_with_output().unwrap());
    assert_eq!(run.code, 0, "{run:#?}");
    run.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn the_json_face_answers_every_line_and_survives_bad_ones() {
    let s = Sandbox::new();
    let input = [
        r#"{"v":1,"op":"get","profile":"acme"}"#,
        "this is not json",
        r#"{"v":2,"op":"get"}"#,
        r#"{"op":"get"}"#,
        r#"{"v":1,"op":"fly"}"#,
        r#"{"v":1,"op":"get","profile":"ghost"}"#,
        "",
        r#"{"v":1,"op":"get","url":"URL/rest/v1/x","future_field":[1,2]}"#,
        r#"{"v":1,"op":"status","profile":"acme"}"#,
        r#"{"v":1,"op":"get","profile":"acme","min_valid":"soon"}"#,
    ]
    .join("\n")
    .replace("URL", &s.emu.url());
    let answers = protocol(&s, &format!("{input}\n"));
    assert_eq!(answers.len(), 10);
    let token = answers[0]["token"].as_str().unwrap().to_owned();
    s.secret(&token);
    assert_eq!(answers[0]["ok"], json!(true));
    assert_eq!(answers[0]["v"], json!(1));
    assert_eq!(answers[0]["header"], json!(format!("Authorization: Bearer {token}")));
    let codes: Vec<_> = answers.iter().map(|a| a["error"]["code"].as_str().unwrap_or("ok")).collect();
    assert_eq!(
        codes,
        [
            "ok",
            "bad_request",
            "unsupported_version",
            "bad_request",
            "bad_request",
            "unknown_profile",
            "bad_request",
            "ok",
            "ok",
            "bad_request"
        ]
    );
    assert_eq!(answers[7]["token"], json!(token), "chosen by url, served from cache");
    assert_eq!(answers[8]["profiles"][0]["cached"], json!(true));
    assert!(answers.iter().all(|a| a["ok"] == json!(a["error"].is_null())));
    assert_eq!(s.emu.count("session.login"), 1);
}

#[test]
fn the_json_face_erases_only_the_token_it_is_told() {
    let s = Sandbox::new();
    let token = s.get(&["od"]);
    let answers = protocol(
        &s,
        &format!(
            "{{\"v\":1,\"op\":\"erase\",\"profile\":\"od\",\"token\":\"stale\"}}\n{{\"v\":1,\"op\":\"erase\",\"profile\":\"od\",\"token\":\"{token}\"}}\n{{\"v\":1,\"op\":\"get\",\"profile\":\"od\"}}\n"
        ),
    );
    assert_eq!(answers[0]["erased"], json!(false));
    assert_eq!(answers[1]["erased"], json!(true));
    assert_ne!(answers[2]["token"], json!(token));
    s.secret(answers[2]["token"].as_str().unwrap());
    assert_eq!(s.emu.count("od.login"), 2);
}

#[test]
fn the_shell_face_never_reads_stdin() {
    let s = Sandbox::new();
    let mut child =
        s.command(&["get", "od"]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    // Keep stdin open and silent: a get that read it would wait forever, so give it a deadline instead of hanging.
    let _stdin = child.stdin.take();
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > std::time::Duration::from_secs(20) {
            let _ = child.kill();
            panic!("tokenfob get waited on stdin");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    s.check(child.wait_with_output().unwrap()).ok();
}

#[test]
fn a_long_lived_protocol_process_notices_a_renewal_by_another_process() {
    let s = Sandbox::new();
    let mut protocol = Protocol::spawn(&s);
    let mut ask = || protocol.get("od")["token"].as_str().unwrap().to_owned();
    let first = ask();
    assert_eq!(ask(), first, "a cache hit");
    s.secret(&first);
    s.run(&["login", "od"]).ok();
    let renewed = s.entry("od")["token"].as_str().unwrap().to_owned();
    assert_ne!(renewed, first);
    assert_eq!(ask(), renewed, "the protocol process sees the entry another process wrote");
    std::fs::remove_file(s.entry_path("od")).unwrap();
    let again = ask();
    assert_ne!(again, renewed, "an erased entry is not served from memory");
    s.secret(&again);
    protocol.finish();
    assert_eq!(s.emu.count("od.login"), 3);
}
