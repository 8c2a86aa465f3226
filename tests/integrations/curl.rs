//! Real curl through each documented form, and the tokenfob-curl wrapper.

use crate::support::server::tool;
use crate::support::{CURL_WRAPPER, Sandbox};

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
        assert_eq!(s.bash(&script).ok(), r#"{"ok":true}"#, "{script}");
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
    let url = format!("{}/whoami", s.emu.url());
    assert_eq!(s.bash(&format!("{CURL_WRAPPER} od {url}")).ok(), r#"{"ok":true}"#);
    let token = s.entry("od")["token"].as_str().unwrap().to_owned();
    s.emu.state().valid.remove(&token);
    assert_eq!(s.bash(&format!("{CURL_WRAPPER} od {url}")).ok(), r#"{"ok":true}"#);
    assert_eq!(s.emu.count("od.login"), 2);
    assert_eq!(s.emu.count("whoami"), 3, "one, then a 401 and one retry");
    s.emu.state().od_password = "changed-on-the-server".into();
    s.secret("changed-on-the-server");
    let token = s.entry("od")["token"].as_str().unwrap().to_owned();
    s.emu.state().valid.remove(&token);
    let failed = s.bash(&format!("{CURL_WRAPPER} od {url}"));
    assert_ne!(failed.code, 0, "{failed:#?}");
}
