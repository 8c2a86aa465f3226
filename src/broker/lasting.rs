//! Tokens that never expire and can be revoked (GoodData's API tokens, or an `http` recipe written the same way):
//! forgotten while still valid on the server, they would stay valid forever, so the broker revokes them before it
//! forgets them ([`revoke`]) and never mints one it cannot keep (issue #10).

use crate::engine::Engine;
use crate::engine::secrets::Resolver;
use crate::error::Result;
use crate::profile::{Profile, Source};
use crate::store::Entry;

/// True when the profile's recipe mints tokens that never expire and can be revoked (GoodData's API tokens, or an
/// `http` recipe written the same way): nothing in its answers gives an expiry, and it has a logout call.
pub(super) fn mints_lasting(profile: &Profile) -> bool {
    match &profile.source {
        Source::Recipe(recipe) => {
            let reply = &recipe.reply;
            recipe.logout.is_some()
                && recipe.lifetime.is_none()
                && reply.expires_in_pointer.is_none()
                && reply.expires_at_pointer.is_none()
                && reply.jwt_exp == Some(false)
        }
        _ => false,
    }
}

/// True when `entry` holds a token that never expires and the profile's recipe can revoke it: the same rule as
/// [`mints_lasting`] (an OAuth token that merely came without `expires_in` is not one of them). The token may be in
/// the keyring (the file's marker says so): it is held all the same.
pub(super) fn lasting(profile: &Profile, entry: &Entry) -> bool {
    mints_lasting(profile) && entry.has_token() && entry.expires_at.is_none()
}

/// How a lasting token is named in messages: by the id the server knows it by, when the login kept one (` (id X)`).
pub(super) fn lasting_id(entry: &Entry) -> String {
    entry.vars.get("token_id").map(|id| format!(" (id {id})")).unwrap_or_default()
}

/// Revokes `entry`'s token server-side when it never expires and the recipe can revoke it: a token forgotten
/// while still valid on the server would stay valid forever. True when it was revoked. An entry made with other
/// settings is left alone (its server may not be the one the settings name now).
pub(super) fn revoke(profile: &Profile, entry: &Entry, with_refresh: bool, resolver: Resolver<'_>) -> Result<bool> {
    let Source::Recipe(recipe) = &profile.source else { return Ok(false) };
    if !lasting(profile, entry) || entry.fingerprint != profile.fingerprint() {
        return Ok(false);
    }
    crate::log::debug(format_args!("profile {}: revoking the token before forgetting it", profile.name));
    let refresh = entry.refresh_token.as_ref().filter(|_| with_refresh);
    let revoked =
        Engine::new(recipe, profile, resolver).with_saved(&entry.vars).logout(entry.token.as_ref(), refresh)?;
    if !revoked {
        crate::log::warn(format_args!(
            "profile {}: a token that never expires could not be revoked (its logout call has no value to use)",
            profile.name
        ));
    }
    Ok(revoked)
}
