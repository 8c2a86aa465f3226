//! GoodData.CN personal API tokens: minted once with a bootstrap bearer token, never readable again, kept until
//! logout deletes them.

use std::collections::BTreeMap;

use serde_json::json;

use crate::config::{RawProfile, require};
use crate::recipe::{LookupSpec, Recipe, ReplySpec, VarSpec, bare, call};

/// GoodData.CN: mint a personal API token once with a bootstrap token, keep it, delete it on logout.
pub(super) fn preset(raw: &RawProfile, vars: &mut BTreeMap<String, VarSpec>) -> Result<Recipe, String> {
    require(&raw.url, "gooddata", "url")?;
    require(&raw.bootstrap_token, "gooddata", "bootstrap_token")?;
    vars.entry("token_id".into()).or_insert_with(|| VarSpec::Plain("tokenfob-{hostname}-{nonce}".into()));
    let mut headers = BTreeMap::new();
    headers.insert("Authorization".to_owned(), "Bearer {bootstrap_token}".to_owned());
    let path = "/entities/users/{user_id}/apiTokens";
    let mut mint =
        call("POST", &format!("{{url}}/api/v1{path}"), Some(json!({"data": {"id": "{token_id}", "type": "apiToken"}})));
    // GoodData.CN 1.x served the same resource without the /v1.
    mint.fallback_urls = vec![format!("{{url}}/api{path}")];
    mint.retry_on_conflict = true;
    mint.headers = headers.clone();
    mint.headers.insert("Content-Type".into(), "application/vnd.gooddata.api+json".into());
    let mut logout = call("DELETE", &format!("{{url}}/api/v1{path}/{{token_id}}"), None);
    logout.fallback_urls = vec![format!("{{url}}/api{path}/{{token_id}}")];
    logout.headers = headers.clone();
    let profile = LookupSpec {
        method: None,
        url: "{url}/api/v1/profile".into(),
        headers,
        pointer: "/userId".into(),
        fallback_urls: Vec::new(),
    };
    let reply = ReplySpec {
        token_pointer: Some("/data/attributes/bearerToken".into()),
        jwt_exp: Some(false),
        message_pointer: Some("/detail".into()),
        ..ReplySpec::default()
    };
    let mut recipe = bare(mint, reply, None);
    recipe.logout = Some(logout);
    recipe.lookups.insert("user_id".into(), profile);
    Ok(recipe)
}
