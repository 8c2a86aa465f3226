//! Renewing a profile's token under its lock: refresh when a refresh token is held (a refused one falls back to a
//! login), else log in; then keep the new entry in the cache, or, when the cache cannot keep a token that never
//! expires, revoke it.

use std::time::Duration;

use time::OffsetDateTime;

use super::lasting::{self, lasting, lasting_id};
use super::served::Served;
use super::{Broker, later, ride_out, warn_short};
use crate::engine::{Engine, Outcome};
use crate::error::{Error, Result};
use crate::profile::{Profile, Source};
use crate::store::{Entry, Lock, Store};
use crate::token;

impl Broker<'_> {
    /// Refreshes or logs in for `get`; a failure serves the cached token if it can (see [`ride_out`]).
    pub(super) fn renew(
        &self,
        profile: &Profile,
        fingerprint: String,
        current: Option<Entry>,
        lock: Option<&Lock>,
        min_valid: Option<Duration>,
        now: OffsetDateTime,
    ) -> Result<Served> {
        match self.obtain(profile, fingerprint, current.as_ref(), lock, now) {
            Ok(entry) => {
                let served = self.keep(profile, entry, lock)?;
                warn_short(profile, &served, min_valid, later(now));
                Ok(served)
            }
            // A failed renewal can take up to the profile's timeout: the cached token is judged at its end.
            Err(e) => ride_out(profile, current, e, min_valid, later(now)),
        }
    }

    /// Caches a new entry and hands its token out. Warns (once per renewal) when the server's tokens live no longer
    /// than the refresh margin. A token that never expires and cannot be cached is revoked at once.
    pub(super) fn keep(&self, profile: &Profile, mut entry: Entry, lock: Option<&Lock>) -> Result<Served> {
        entry.config = self.config_stamp.clone();
        entry.margin_ms = Some(profile.refresh_margin.as_millis().try_into().unwrap_or(u64::MAX));
        if entry.expires_at.is_some_and(|at| at <= entry.obtained_at) {
            crate::log::warn(format_args!(
                "profile {}: the new token had already expired when it arrived (is one of the two clocks wrong?); it \
                 is served, and renewed on the next call",
                profile.name
            ));
        } else if let Some(life) = token::outlived_by(profile.refresh_margin, entry.obtained_at, entry.expires_at) {
            crate::log::warn(format_args!(
                "profile {}: the server's tokens live {}, no longer than the refresh margin of {}; renewing after \
                 half their lifetime instead (lower refresh_margin to silence this)",
                profile.name,
                crate::duration::human(life),
                crate::duration::human(profile.refresh_margin)
            ));
        }
        if let Some(lock) = lock
            && let Err(e) = self.save(profile, lock, &entry)
        {
            // With `store = "keyring"` a token that cannot be kept there is an error (issue #14): the user chose the
            // keyring, and a login per call would go unnoticed.
            if !lasting(profile, &entry) && profile.store != Store::Keyring {
                crate::log::warn(format_args!("{e}; the token is served but not cached"));
                return Served::from_entry(&profile.name, entry, profile.refresh_margin);
            }
            if !lasting(profile, &entry) {
                return Err(e);
            }
            let what = match lasting::revoke(profile, &entry, true, self.resolver(profile)) {
                Ok(true) => "so it was revoked".to_owned(),
                Ok(false) => "and it cannot be revoked: delete it on the server by hand".to_owned(),
                Err(r) => format!("and revoking it failed too ({r}): delete it on the server by hand"),
            };
            let id = lasting_id(&entry);
            return Err(Error::Other(format!(
                "{e}; the new token{id} of profile {:?} never expires and cannot be cached, {what} (fix the cache \
                 directory)",
                profile.name
            )));
        }
        Served::from_entry(&profile.name, entry, profile.refresh_margin)
    }

    /// Refreshes when a refresh token is held (falling back to a login when it is rejected), else logs in.
    pub(super) fn obtain(
        &self,
        profile: &Profile,
        fingerprint: String,
        current: Option<&Entry>,
        lock: Option<&Lock>,
        now: OffsetDateTime,
    ) -> Result<Entry> {
        let recipe = match &profile.source {
            Source::Recipe(recipe) => recipe,
            Source::Command { argv, lifetime } => {
                let issued =
                    crate::engine::command::run_command(&profile.name, argv, *lifetime, profile.net.timeout, now)?;
                return Ok(new_entry(profile, fingerprint, now, Outcome { issued, vars: Default::default() }, None));
            }
            Source::Static(_) => {
                return Err(Error::Other(format!("profile {:?} is static: nothing to renew", profile.name)));
            }
        };
        let refreshable = current.filter(|e| e.can_refresh(now) && recipe.refresh.is_some());
        if let Some((entry, old)) = refreshable.and_then(|e| Some((e, e.refresh_token.clone()?))) {
            let mut engine = Engine::new(recipe, profile, self.resolver(profile)).with_saved(&entry.vars);
            match engine.refresh(&old) {
                Ok(outcome) => {
                    return Ok(new_entry(profile, fingerprint, now, outcome, Some(entry)));
                }
                Err(e @ Error::AuthRejected { .. }) => {
                    crate::log::debug(format_args!("profile {}: refresh rejected ({e}); logging in", profile.name));
                    // The refresh token is dead (OAuth's invalid_grant): drop it, and only it, so that a login
                    // that fails or is interrupted does not leave it to be tried again.
                    if let Some(lock) = lock {
                        let mut rest = entry.clone();
                        (rest.refresh_token, rest.refresh_expires_at) = (None, None);
                        let _ = self.save(profile, lock, &rest);
                    }
                }
                Err(e) => return Err(e),
            }
        }
        let outcome = Engine::new(recipe, profile, self.resolver(profile)).login()?;
        Ok(new_entry(profile, fingerprint, now, outcome, None))
    }
}

/// Builds the entry to cache; a refresh answer without a new refresh token keeps the old one.
fn new_entry(
    profile: &Profile,
    fingerprint: String,
    now: OffsetDateTime,
    outcome: Outcome,
    refreshed: Option<&Entry>,
) -> Entry {
    let mut entry = Entry::new(&profile.name, fingerprint, now);
    let issued = outcome.issued;
    entry.token = Some(issued.token);
    entry.expires_at = issued.expires_at;
    entry.vars = outcome.vars;
    match (issued.refresh_token, refreshed) {
        (Some(t), _) => {
            entry.refresh_token = Some(t);
            entry.refresh_expires_at = issued.refresh_expires_at;
        }
        (None, Some(old)) => {
            entry.refresh_token = old.refresh_token.clone();
            entry.refresh_expires_at = old.refresh_expires_at;
        }
        (None, None) => {}
    }
    if let Some(old) = refreshed {
        for (k, v) in &old.vars {
            entry.vars.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    entry
}
