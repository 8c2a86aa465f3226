//! `kind = "http"`: the recipe as the profile writes it out, checked for the parts every recipe needs.

use crate::config::{RawProfile, require};
use crate::recipe::{Recipe, bare};

/// A recipe written out in full.
pub(super) fn preset(raw: &RawProfile) -> Result<Recipe, String> {
    let login = require(&raw.login, "http", "login")?.clone();
    let reply = require(&raw.reply, "http", "reply")?.clone();
    if reply.token_header.is_empty() && reply.token_pointer.is_none() {
        return Err("[reply] needs `token_header` or `token_pointer`".into());
    }
    if raw.refresh.is_some() && reply.refresh_token_pointer.is_none() {
        return Err("[refresh] needs [reply] `refresh_token_pointer`".into());
    }
    let mut recipe = bare(login, reply, raw.lifetime.and_then(|l| l.0));
    recipe.refresh = raw.refresh.clone();
    recipe.logout = raw.logout.clone();
    recipe.lookups = raw.lookup.clone();
    Ok(recipe)
}
