//! ONE DATA: a JWT in the `Authorization` header of the login answer, 24 h, no refresh.

use std::time::Duration;

use serde_json::json;

use crate::config::{RawProfile, require};
use crate::recipe::{Recipe, ReplySpec, bare, call};

/// ONE DATA: the JWT comes back in the `Authorization` header and lives 24 h; there is no refresh.
pub(super) fn preset(raw: &RawProfile) -> Result<Recipe, String> {
    require(&raw.url, "onedata", "url")?;
    require(&raw.username, "onedata", "username")?;
    require(&raw.password, "onedata", "password")?;
    let login =
        call("POST", "{url}/api/v1/users/login", Some(json!({"username": "{username}", "password": "{password}"})));
    let reply = ReplySpec {
        token_header: vec!["Authorization".into(), "X-Auth-Token".into()],
        message_pointer: Some("/message".into()),
        ..ReplySpec::default()
    };
    let lifetime = raw.lifetime.map_or(Some(Duration::from_secs(24 * 3600)), |l| l.0);
    Ok(bare(login, reply, lifetime))
}
