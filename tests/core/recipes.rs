//! Each seed system written out as a `kind = "http"` recipe behaves as its preset does (docs/configuration.md
//! shows the same recipes).

use tokenfob_emulator::util;

use crate::support::Sandbox;

fn recipes(url: &str) -> String {
    format!(
        r#"
[profiles.od]
kind = "http"
match = ["{url}"]
username = "bot@example.com"
password = {{ env = "OD_PASSWORD" }}
lifetime = "24h"
[profiles.od.login]
url = "{url}/api/v1/users/login"
json = {{ username = "{{username}}", password = "{{password}}" }}
[profiles.od.reply]
token_header = ["Authorization", "X-Auth-Token"]

[profiles.acme]
kind = "http"
username = "alice"
password = {{ env = "ACME_PASSWORD" }}
vars = {{ account_id = 42 }}
[profiles.acme.login]
url = "{url}/rest/v1/login"
json = {{ username = "{{username}}", password = "{{password}}", account_id = "{{account_id?}}" }}
[profiles.acme.refresh]
url = "{url}/rest/v1/refresh"
json = {{ refreshToken = "{{refresh_token}}" }}
[profiles.acme.reply]
token_pointer = "/token"
expires_in_pointer = "/tokenLifetime"
expires_at_pointer = "/tokenExpiration"
refresh_token_pointer = "/refreshToken"
refresh_expires_at_pointer = "/refreshTokenExpiration"
success_pointer = "/success"
message_pointer = "/message"

[profiles.gd]
kind = "http"
vars = {{ base = "{url}", bootstrap_token = {{ env = "GDC_API_TOKEN" }}, token_id = "tokenfob-{{hostname}}-{{nonce}}" }}
[profiles.gd.lookup.user_id]
url = "{{base}}/api/v1/profile"
headers = {{ Authorization = "Bearer {{bootstrap_token}}" }}
pointer = "/userId"
[profiles.gd.login]
url = "{{base}}/api/v1/entities/users/{{user_id}}/apiTokens"
fallback_urls = ["{{base}}/api/entities/users/{{user_id}}/apiTokens"]
retry_on_conflict = true
headers = {{ Authorization = "Bearer {{bootstrap_token}}", Content-Type = "application/vnd.gooddata.api+json" }}
json = {{ data = {{ id = "{{token_id}}", type = "apiToken" }} }}
[profiles.gd.logout]
method = "DELETE"
url = "{{base}}/api/v1/entities/users/{{user_id}}/apiTokens/{{token_id}}"
fallback_urls = ["{{base}}/api/entities/users/{{user_id}}/apiTokens/{{token_id}}"]
headers = {{ Authorization = "Bearer {{bootstrap_token}}" }}
[profiles.gd.reply]
token_pointer = "/data/attributes/bearerToken"
jwt_exp = false
"#
    )
}

fn sandbox() -> Sandbox {
    let s = Sandbox::new();
    s.write_config(&recipes(&s.emu.url()));
    s
}

#[test]
fn onedata_as_a_recipe() {
    let s = sandbox();
    let token = s.get(&["od"]);
    assert_eq!(s.get(&["od"]), token);
    assert_eq!(s.emu.count("od.login"), 1);
    let exp = util::jwt_exp(&token).unwrap();
    assert_eq!(util::parse_rfc3339(s.entry("od")["expires_at"].as_str().unwrap()).unwrap().unix_timestamp(), exp);
    s.set_env("OD_PASSWORD", "bad-password-x");
    s.secret("bad-password-x");
    s.run(&["login", "od"]).fails(3, "Invalid username or password");
}

#[test]
fn session_as_a_recipe() {
    let s = sandbox();
    let first = s.get(&["acme"]);
    assert_eq!(s.emu.state().account_ids, vec![serde_json::json!(42)]);
    s.expire("acme");
    assert_ne!(s.get(&["acme"]), first);
    assert_eq!((s.emu.count("session.login"), s.emu.count("session.refresh")), (1, 1));
    s.edit_entry("acme", |e| {
        e["expires_at"] = "2000-01-01T00:00:00Z".into();
        e["refresh_token"] = "rejected".into();
    });
    s.get(&["acme"]);
    assert_eq!((s.emu.count("session.login"), s.emu.count("session.refresh")), (2, 2));
}

#[test]
fn gooddata_as_a_recipe() {
    let s = sandbox();
    s.emu.state().gd_conflicts = 1;
    s.emu.state().gd_legacy = true;
    let token = s.get(&["gd"]);
    assert_eq!(s.get(&["gd"]), token);
    assert_eq!((s.emu.count("gd.profile"), s.emu.count("gd.mint")), (1, 2));
    assert!(s.entry("gd")["expires_at"].is_null());
    s.run(&["logout", "gd"]).ok();
    assert!(!s.emu.state().valid.contains(&token));
}
