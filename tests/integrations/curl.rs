//! Real curl through each documented form, and the tokenfob-curl wrapper.

use crate::support::Sandbox;
use crate::support::server::tool;

fn bash(s: &Sandbox, script: &str) -> crate::support::Run {
    let mut cmd = s.tool_command("bash");
    cmd.args(["-c", script]);
    s.check(cmd.output().unwrap())
}

#[test]
fn curl_takes_the_token_from_config_and_header_pipes() {
    if tool("curl").is_none() {
        return;
    }
    let s = Sandbox::new();
    let url = format!("{}/whoami", s.emu.url());
    for script in [
        format!("tokenfob get od -o curl | curl -sS --fail -K - {url}"),
        format!("curl -sS --fail -K <(tokenfob get od -o curl) {url}"),
        format!("curl -sS --fail -H @<(tokenfob get od -o header) {url}"),
    ] {
        assert_eq!(bash(&s, &script).ok(), r#"{"ok":true}"#, "{script}");
    }
    assert_eq!(s.emu.count("od.login"), 1);
    assert_eq!(s.emu.count("whoami"), 3);
}

#[test]
fn the_curl_wrapper_retries_once_after_a_401() {
    if tool("curl").is_none() {
        return;
    }
    let s = Sandbox::new();
    let wrapper = concat!(env!("CARGO_MANIFEST_DIR"), "/integrations/curl/tokenfob-curl");
    let url = format!("{}/whoami", s.emu.url());
    assert_eq!(bash(&s, &format!("{wrapper} od {url}")).ok(), r#"{"ok":true}"#);
    let token = s.entry("od")["token"].as_str().unwrap().to_owned();
    s.emu.state().valid.remove(&token);
    assert_eq!(bash(&s, &format!("{wrapper} od {url}")).ok(), r#"{"ok":true}"#);
    assert_eq!(s.emu.count("od.login"), 2);
    assert_eq!(s.emu.count("whoami"), 3, "one, then a 401 and one retry");
    s.emu.state().od_password = "changed-on-the-server".into();
    s.secret("changed-on-the-server");
    let token = s.entry("od")["token"].as_str().unwrap().to_owned();
    s.emu.state().valid.remove(&token);
    let failed = bash(&s, &format!("{wrapper} od {url}"));
    assert_ne!(failed.code, 0, "{failed:#?}");
}
