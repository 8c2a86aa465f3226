//! Tokens that never expire and can be revoked (GoodData's API tokens, or an `http` recipe written the same way):
//! forgotten while still valid on the server, they would stay valid forever, so the broker revokes them before it
//! forgets them and never mints one it cannot keep (issue #10).

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
/// [`mints_lasting`] (an OAuth token that merely came without `expires_in` is not one of them).
pub(super) fn lasting(profile: &Profile, entry: &Entry) -> bool {
    mints_lasting(profile) && entry.token.is_some() && entry.expires_at.is_none()
}
