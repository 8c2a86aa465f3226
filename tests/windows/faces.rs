//! The faces under Wine: `status`, the JSON-lines protocol, kubectl's ExecCredential (from real kubectl running
//! `wine64 tokenfob.exe` as its exec plugin), `exec` and command sources through `cmd /C`.

use serde_json::{Value, json};

use crate::integrations::kubectl::cache_hit_401_and_erase;
use crate::support::server::tool;
use crate::support::{Protocol, Sandbox};

#[test]
fn status_shows_a_table_without_tokens() {
    let Some(s) = Sandbox::windows() else { return };
    let token = s.get(&["acme"]);
    let table = s.run(&["status"]).ok().to_owned();
    assert!(table.contains("acme") && table.contains("fresh") && table.contains("yes"), "{table}");
    assert!(!table.contains(&token));
    let json: Value = serde_json::from_str(s.run(&["status", "--json"]).ok()).unwrap();
    let acme = json["profiles"].as_array().unwrap().iter().find(|p| p["profile"] == "acme").unwrap().clone();
    assert_eq!((acme["cached"].clone(), acme["kind"].clone()), (json!(true), json!("session")));
}

#[test]
fn the_protocol_answers_line_by_line_from_one_process() {
    let Some(s) = Sandbox::windows() else { return };
    let mut protocol = Protocol::spawn(&s);
    let first = protocol.get("od");
    let token = first["token"].as_str().unwrap().to_owned();
    s.secret(&token);
    assert_eq!(protocol.get("od")["token"], token.as_str(), "a cache hit");
    assert_eq!(protocol.get("nope")["error"]["code"], "unknown_profile");
    protocol.finish().ok();
    assert_eq!(s.emu.count("od.login"), 1);
}

#[test]
fn kubectl_runs_the_windows_exe_as_its_exec_plugin() {
    let Some(s) = Sandbox::windows() else { return };
    let Some(kubectl) = tool("kubectl") else { return };
    cache_hit_401_and_erase(&s, &kubectl);
}

#[test]
fn exec_credential_follows_the_requested_version() {
    let Some(s) = Sandbox::windows() else { return };
    s.set_env(
        "KUBERNETES_EXEC_INFO",
        r#"{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","spec":{"interactive":false}}"#,
    );
    let out: Value = serde_json::from_str(s.run(&["kubectl", "acme"]).ok()).unwrap();
    assert_eq!(
        (out["apiVersion"].clone(), out["kind"].clone()),
        (json!("client.authentication.k8s.io/v1beta1"), json!("ExecCredential"))
    );
    let token = out["status"]["token"].as_str().unwrap();
    s.secret(token);
    assert_eq!(s.entry("acme")["token"], token);
    assert!(out["status"]["expirationTimestamp"].is_string(), "{out}");
}

#[test]
fn exec_puts_the_token_in_the_child_environment_and_returns_its_exit_code() {
    let Some(s) = Sandbox::windows() else { return };
    let token = s.get(&["acme"]);
    let shown = s.run(&["exec", "acme", "--env", "GDC_API_TOKEN", "--", "cmd", "/C", "set", "GDC_API_TOKEN"]);
    assert_eq!(shown.ok().trim_end(), format!("GDC_API_TOKEN={token}"));
    let code = s.run(&["exec", "acme", "--", "cmd", "/C", "exit", "7"]);
    assert_eq!(code.code, 7, "{code:#?}");
    s.run(&["exec", "acme", "--", "Z:\\no\\such\\program.exe"]).fails(1, "program.exe");
}

#[test]
fn command_sources_run_through_cmd() {
    let Some(s) = Sandbox::windows() else { return };
    let seeds = s.seed_config().replace(r#"{ env = "OD_PASSWORD" }"#, r#"{ command = "echo %OD_PASSWORD%" }"#);
    s.write_config(&format!(
        "{seeds}\n[profiles.c]\nkind = \"command\"\ncommand = \"echo tok-c-1\"\nlifetime = \"1h\"\n"
    ));
    assert_eq!(s.get(&["c"]), "tok-c-1", "cmd's echo, without its carriage return");
    s.get(&["od"]);
    assert_eq!(s.emu.count("od.login"), 1, "the password came from cmd's %OD_PASSWORD%");
}
