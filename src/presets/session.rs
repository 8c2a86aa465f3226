//! A login + refresh-token session API: token, lifetime and a rotating refresh token in a JSON answer.

use serde_json::json;

use crate::config::{RawProfile, require};
use crate::recipe::{Recipe, ReplySpec, bare, call};

/// A session API: token, lifetime and a rotating refresh token in a JSON answer.
pub(super) fn preset(raw: &RawProfile) -> Result<Recipe, String> {
    require(&raw.login_url, "session", "login_url")?;
    require(&raw.username, "session", "username")?;
    require(&raw.password, "session", "password")?;
    let body = json!({"username": "{username}", "password": "{password}", "account_id": "{account_id?}"});
    let reply = ReplySpec {
        token_pointer: Some("/token".into()),
        refresh_token_pointer: Some("/refreshToken".into()),
        refresh_expires_at_pointer: Some("/refreshTokenExpiration".into()),
        expires_in_pointer: Some("/tokenLifetime".into()),
        expires_at_pointer: Some("/tokenExpiration".into()),
        success_pointer: Some("/success".into()),
        message_pointer: Some("/message".into()),
        ..ReplySpec::default()
    };
    let mut recipe = bare(call("POST", "{login_url}", Some(body)), reply, raw.lifetime.and_then(|l| l.0));
    if raw.refresh_url.is_some() {
        recipe.refresh = Some(call("POST", "{refresh_url}", Some(json!({"refreshToken": "{refresh_token}"}))));
    }
    Ok(recipe)
}
