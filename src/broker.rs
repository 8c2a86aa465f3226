//! Getting a token for a profile: serve the cache, or renew under the lock.
//!
//! The path every face shares. A fresh cached token is returned without locking. Otherwise the broker takes the
//! profile's lock, reads the cache again (another process may have renewed it while we waited, which is how 50
//! parallel callers cause one login), and only then refreshes or logs in and writes the new entry. A renewal that
//! fails still serves a cached token that has not expired (it is only inside its margin), with a warning.
//! A cache that cannot be written (read-only or full disk) degrades to no cache, with a warning.

use std::time::Duration;

use time::OffsetDateTime;

use crate::cache::{Cache, Entry, Lock};
use crate::config::{Profile, Source};
use crate::environment::Env;
use crate::error::{Error, Result};
use crate::login::{self, Engine, Outcome};
use crate::recipe;
use crate::secret::{Resolver, Secret};
use crate::token::{self, Stale};

/// A token handed out.
#[derive(Debug)]
pub struct Served {
    /// The profile it belongs to.
    pub profile: String,
    /// The token.
    pub token: Secret,
    /// When it expires; `None` for never.
    pub expires_at: Option<OffsetDateTime>,
}

/// What `status` reports of a profile (never a token).
#[derive(Debug, serde::Serialize)]
pub struct Status {
    /// The profile name.
    pub profile: String,
    /// Its kind.
    pub kind: &'static str,
    /// A token is cached for the current settings.
    pub cached: bool,
    /// It would be served without renewing.
    pub fresh: bool,
    /// When it expires.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// Seconds until it expires (negative when expired).
    pub expires_in: Option<i64>,
    /// A refresh token is held.
    pub refreshable: bool,
}

/// Serves tokens from one cache directory.
pub struct Broker<'a> {
    /// For secret sources.
    pub env: &'a Env,
    /// The cache.
    pub cache: Cache,
    /// Whether a secret may be typed in.
    pub may_prompt: bool,
    /// How long to wait for another process's renewal.
    pub lock_timeout: Duration,
    /// The configuration file's identity, recorded in every entry this broker writes.
    pub config_stamp: Option<crate::cache::ConfigStamp>,
}

/// The digest of a profile's settings that decides whose token a cache entry holds.
pub fn fingerprint(profile: &Profile) -> String {
    match &profile.source {
        Source::Recipe(r) => format!("{}-{}", profile.kind.name(), r.fingerprint()),
        Source::Command { argv, lifetime } => recipe::fingerprint_of(&format!("command|{argv:?}|{lifetime:?}")),
        Source::Static(_) => String::new(),
    }
}

impl Broker<'_> {
    fn resolver<'b>(&'b self, profile: &'b Profile) -> Resolver<'b> {
        Resolver { env: self.env, may_prompt: self.may_prompt, profile: &profile.name }
    }

    /// A token valid for at least the profile's margin (or `min_valid`, if longer), renewing only when needed.
    pub fn get(&self, profile: &Profile, min_valid: Option<Duration>, now: OffsetDateTime) -> Result<Served> {
        let margin = profile.refresh_margin.max(min_valid.unwrap_or_default());
        if let Source::Static(source) = &profile.source {
            let token = self.resolver(profile).resolve(source, "token")?;
            return Ok(Served { profile: profile.name.clone(), token, expires_at: None });
        }
        let fp = fingerprint(profile);
        let cached = self.read(profile, &fp)?;
        let stale = match &cached {
            Some(entry) => match token::check(entry.token.is_some(), entry.expires_at, now, margin) {
                Ok(()) => return Ok(served(profile, entry.clone())),
                Err(why) => why,
            },
            None => Stale::Missing,
        };
        crate::log::debug(format_args!("profile {}: {stale}; taking the lock", profile.name));
        let lock = match self.lock(profile) {
            Ok(lock) => lock,
            Err(e) => return ride_out(profile, cached, e, now),
        };
        let current = self.read(profile, &fp)?;
        if let Some(entry) =
            current.as_ref().filter(|e| token::check(e.token.is_some(), e.expires_at, now, margin).is_ok())
        {
            crate::log::debug(format_args!("profile {}: renewed by another process meanwhile", profile.name));
            return Ok(served(profile, entry.clone()));
        }
        self.renew(profile, fp, current, lock.as_ref(), now, false)
    }

    /// A fresh login, whatever the cache holds.
    pub fn login(&self, profile: &Profile, now: OffsetDateTime) -> Result<Served> {
        if matches!(profile.source, Source::Static(_)) {
            return self.get(profile, None, now);
        }
        let fp = fingerprint(profile);
        let lock = self.lock(profile)?;
        let current = self.read(profile, &fp)?;
        self.renew(profile, fp, current, lock.as_ref(), now, true)
    }

    /// Forgets the cached token; with `only`, only if the cache still holds exactly that token (a refresh token
    /// is then kept, so the next `get` refreshes instead of logging in). True when something was forgotten.
    pub fn erase(&self, profile: &Profile, only: Option<&Secret>) -> Result<bool> {
        let lock = self.cache.lock(&profile.name, self.lock_timeout)?;
        let Some(mut entry) = self.cache.read(&profile.name)? else {
            return Ok(false);
        };
        match only {
            None => self.cache.remove(&lock),
            Some(t) if entry.token.as_ref() != Some(t) => Ok(false),
            Some(_) if entry.refresh_token.is_some() => {
                entry.token = None;
                self.cache.write(&lock, &entry).map(|()| true)
            }
            Some(_) => self.cache.remove(&lock),
        }
    }

    /// Revokes the token server-side where the kind can, then erases it. Returns (revoked, erased). When revoking
    /// fails, the entry is kept so that a later `logout` can try again.
    pub fn logout(&self, profile: &Profile) -> Result<(bool, bool)> {
        let lock = self.cache.lock(&profile.name, self.lock_timeout)?;
        let entry = self.cache.read(&profile.name)?;
        let revoked = match (&profile.source, &entry) {
            (Source::Recipe(recipe), Some(entry)) if entry.token.is_some() => {
                Engine::new(recipe, profile, self.resolver(profile))
                    .with_saved(&entry.vars)
                    .logout(entry.token.as_ref(), entry.refresh_token.as_ref())?
            }
            _ => false,
        };
        Ok((revoked, self.cache.remove(&lock)?))
    }

    /// What the cache holds for `profile`.
    pub fn status(&self, profile: &Profile, now: OffsetDateTime) -> Result<Status> {
        let entry = self.read(profile, &fingerprint(profile))?;
        let has_token = entry.as_ref().is_some_and(|e| e.token.is_some());
        let expires_at = entry.as_ref().filter(|_| has_token).and_then(|e| e.expires_at);
        Ok(Status {
            profile: profile.name.clone(),
            kind: profile.kind.name(),
            cached: has_token,
            fresh: has_token && token::check(true, expires_at, now, profile.refresh_margin).is_ok(),
            expires_at,
            expires_in: expires_at.map(|at| (at - now).whole_seconds()),
            refreshable: entry.as_ref().is_some_and(|e| e.can_refresh(now)),
        })
    }

    /// The cached entry, if it was made with the profile's current settings.
    fn read(&self, profile: &Profile, fingerprint: &str) -> Result<Option<Entry>> {
        let Some(entry) = self.cache.read(&profile.name)? else { return Ok(None) };
        if entry.fingerprint != fingerprint {
            crate::log::debug(format_args!(
                "profile {}: settings changed since the cached login; ignoring it",
                profile.name
            ));
            return Ok(None);
        }
        Ok(Some(entry))
    }

    /// The profile's lock, or `None` when the cache directory cannot hold one (then there is no cache at all).
    fn lock(&self, profile: &Profile) -> Result<Option<Lock>> {
        match self.cache.lock(&profile.name, self.lock_timeout) {
            Ok(lock) => Ok(Some(lock)),
            // A refused lock file or directory (not a regular file, not ours) is for the user to fix, not to work
            // around by renewing without a lock.
            Err(e @ (Error::LockTimeout { .. } | Error::Config(_))) => Err(e),
            Err(e) => {
                crate::log::warn(format_args!("{e}; going on without a cache"));
                Ok(None)
            }
        }
    }

    fn renew(
        &self,
        profile: &Profile,
        fingerprint: String,
        current: Option<Entry>,
        lock: Option<&Lock>,
        now: OffsetDateTime,
        force: bool,
    ) -> Result<Served> {
        match self.obtain(profile, fingerprint, current.as_ref(), lock, now, force) {
            Ok(mut entry) => {
                entry.config = self.config_stamp.clone();
                entry.margin_ms = Some(profile.refresh_margin.as_millis().try_into().unwrap_or(u64::MAX));
                if let Some(lock) = lock
                    && let Err(e) = self.cache.write(lock, &entry)
                {
                    crate::log::warn(format_args!("{e}; the token is served but not cached"));
                }
                Ok(served(profile, entry))
            }
            Err(e) if !force => ride_out(profile, current, e, now),
            Err(e) => Err(e),
        }
    }

    /// Refreshes when a refresh token is held (falling back to a login when it is rejected), else logs in.
    fn obtain(
        &self,
        profile: &Profile,
        fingerprint: String,
        current: Option<&Entry>,
        lock: Option<&Lock>,
        now: OffsetDateTime,
        force: bool,
    ) -> Result<Entry> {
        let recipe = match &profile.source {
            Source::Recipe(recipe) => recipe,
            Source::Command { argv, lifetime } => {
                let issued = login::run_command(&profile.name, argv, *lifetime, now)?;
                return Ok(new_entry(profile, fingerprint, now, Outcome { issued, vars: Default::default() }, None));
            }
            Source::Static(_) => unreachable!("static profiles are never renewed"),
        };
        if let Some(entry) = current.filter(|e| !force && e.can_refresh(now) && recipe.refresh.is_some()) {
            let old = entry.refresh_token.clone().expect("can_refresh checked it");
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
                        let _ = self.cache.write(lock, &rest);
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

/// After a failed renewal, serves a cached token that has not expired yet, with the failure as a warning: a token
/// that still works is better than none, and the warning says what to fix. Otherwise returns the error.
fn ride_out(profile: &Profile, current: Option<Entry>, err: Error, now: OffsetDateTime) -> Result<Served> {
    match current {
        Some(entry) if token::check(entry.token.is_some(), entry.expires_at, now, Duration::ZERO).is_ok() => {
            crate::log::warn(format_args!("{err}; serving the cached token, which has not expired yet"));
            Ok(served(profile, entry))
        }
        _ => Err(err),
    }
}

fn served(profile: &Profile, entry: Entry) -> Served {
    Served {
        profile: profile.name.clone(),
        token: entry.token.expect("only entries with a token are served"),
        expires_at: entry.expires_at,
    }
}
