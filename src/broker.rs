//! Getting a token for a profile: serve the cache, or renew under the lock.
//!
//! The path every face shares. A fresh cached token is returned without locking. Otherwise the broker takes the
//! profile's lock, reads the cache again (another process may have renewed it while we waited, which is how 50
//! parallel callers cause one login), and only then refreshes or logs in and writes the new entry. A renewal that
//! fails still serves a cached token that has not expired (it is only inside its margin), with a warning, unless
//! the caller asked for a minimum validity (`--min-valid`) that the token cannot meet. A cache that cannot be
//! written (read-only or full disk) degrades to no cache, with a warning; except for recipes whose tokens never
//! expire and can be revoked (GoodData's API tokens): those are revoked before they are forgotten, and never minted
//! when the cache cannot keep them, since a token left behind would stay valid forever (issue #10).

use std::time::Duration;

use time::OffsetDateTime;

use crate::cache::{Cache, Entry, Lock};
use crate::config::{Profile, Source};
use crate::environment::Env;
use crate::error::{Error, Result};
use crate::login::{self, Engine, Outcome};
use crate::recipe;
use crate::secret::{Resolver, Secret};
use crate::token::{self, Need, Stale};

/// A token handed out. Its fields are private: [`Served::new`] is the one way to make one.
#[derive(Debug)]
pub struct Served {
    profile: String,
    token: Secret,
    expires_at: Option<OffsetDateTime>,
    renew_at: Option<OffsetDateTime>,
}

impl Served {
    /// The one way to make a `Served`: every face prints `token` into a header, a curl config, git's key=value
    /// lines or JSON, so a token that [`crate::token::is_valid_token`] refuses (CR/LF, spaces, control or
    /// non-ASCII characters) is an error here, whatever its source (issue #10: header and key injection).
    pub fn new(profile: &str, token: Secret, expires_at: Option<OffsetDateTime>) -> Result<Served> {
        if !crate::token::is_valid_token(token.expose()) {
            return Err(Error::Config(format!(
                "the token of profile {profile:?} is not a valid token (empty, too long, or with a space, a control \
                 or a non-ASCII character); check where the profile's token comes from"
            )));
        }
        Ok(Served { profile: profile.to_owned(), token, expires_at, renew_at: expires_at })
    }

    /// The same token, renewed from `at` on (`token::renew_at`); `None` leaves it at the expiry.
    pub fn renewing_at(self, at: Option<OffsetDateTime>) -> Served {
        Served { renew_at: at.or(self.expires_at), ..self }
    }

    /// The profile it belongs to.
    pub fn profile(&self) -> &str {
        &self.profile
    }

    /// The token.
    pub fn token(&self) -> &Secret {
        &self.token
    }

    /// When it expires; `None` for never.
    pub fn expires_at(&self) -> Option<OffsetDateTime> {
        self.expires_at
    }

    /// When tokenfob would stop serving it and renew; `None` for never.
    pub fn renew_at(&self) -> Option<OffsetDateTime> {
        self.renew_at
    }
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
        Resolver { env: self.env, may_prompt: self.may_prompt, profile: &profile.name, timeout: profile.net.timeout }
    }

    /// A token valid for at least the profile's margin (or `min_valid`, if longer), renewing only when needed.
    /// The margin is capped at half the token's lifetime, and so is `min_valid` when the tokens live shorter than it
    /// (`token::effective_margin`); a served token that expires within `min_valid` comes with a warning.
    pub fn get(&self, profile: &Profile, min_valid: Option<Duration>, now: OffsetDateTime) -> Result<Served> {
        let need = Need { margin: profile.refresh_margin, min_valid: min_valid.unwrap_or_default() };
        if let Source::Static(source) = &profile.source {
            let token = self.resolver(profile).resolve(source, "token")?;
            return Served::new(&profile.name, token, None);
        }
        let fp = fingerprint(profile);
        let cached = self.read(profile, &fp)?;
        let stale = match &cached {
            Some(entry) => match fresh(entry, now, need) {
                Ok(()) => return serve(profile, entry.clone(), min_valid, now),
                Err(why) => why,
            },
            None => Stale::Missing,
        };
        crate::log::debug(format_args!("profile {}: {stale}; taking the lock", profile.name));
        let lock = self.lock(profile);
        // The wait for the lock can be long (up to the lock timeout): what follows is judged at the time it ends.
        let now = later(now);
        let lock = match lock {
            Ok(lock) => lock,
            Err(e) => return ride_out(profile, cached, e, min_valid, now),
        };
        let current = self.read(profile, &fp)?;
        // Another process may have renewed while we waited: its token is served if it has not expired, even when
        // it is short-lived, so that N callers cause one renewal whatever the lifetime and the margin.
        if let Some(entry) =
            current.as_ref().filter(|e| fresh(e, now, need).is_ok() || renewed_meanwhile(cached.as_ref(), e, now))
        {
            crate::log::debug(format_args!("profile {}: renewed by another process meanwhile", profile.name));
            return serve(profile, entry.clone(), min_valid, now);
        }
        self.renew(profile, fp, current, lock.as_ref(), min_valid, now)
    }

    /// A fresh login, whatever the cache holds. A cached token that never expires is revoked first.
    pub fn login(&self, profile: &Profile, now: OffsetDateTime) -> Result<Served> {
        if matches!(profile.source, Source::Static(_)) {
            return self.get(profile, None, now);
        }
        let fp = fingerprint(profile);
        let lock = self.lock(profile)?;
        let current = self.read(profile, &fp)?;
        if let (Some(entry), Some(lock)) = (&current, &lock)
            && self.revoke_lasting(profile, entry, true)?
        {
            // Revoked: a login that fails now must not leave a dead token cached.
            self.cache.remove(lock)?;
        }
        match self.obtain(profile, fp, None, lock.as_ref(), now, true) {
            Ok(entry) => self.keep(profile, entry, lock.as_ref()),
            Err(e) => Err(e),
        }
    }

    /// Forgets the cached token; with `only`, only if the cache still holds exactly that token (a refresh token
    /// is then kept, so the next `get` refreshes instead of logging in). True when something was forgotten.
    /// A token that never expires is revoked first (a failure keeps it cached, so nothing is left behind).
    pub fn erase(&self, profile: &Profile, only: Option<&Secret>) -> Result<bool> {
        let lock = self.cache.lock(&profile.name, self.lock_timeout)?;
        let Some(mut entry) = self.cache.read(&profile.name)? else {
            return Ok(false);
        };
        if only.is_some_and(|t| entry.token.as_ref() != Some(t)) {
            return Ok(false);
        }
        let keep_refresh = only.is_some() && entry.refresh_token.is_some();
        self.revoke_lasting(profile, &entry, !keep_refresh)?;
        if keep_refresh {
            entry.token = None;
            return self.cache.write(&lock, &entry).map(|()| true);
        }
        self.cache.remove(&lock)
    }

    /// Revokes the token server-side where the kind can, then erases it. Returns (revoked, erased). When revoking
    /// fails, the entry is kept so that a later `logout` can try again. An entry made with other settings is not
    /// revoked, as in [`Broker::erase`]: its token and ids would go to whatever server the settings name now.
    pub fn logout(&self, profile: &Profile) -> Result<(bool, bool)> {
        let lock = self.cache.lock(&profile.name, self.lock_timeout)?;
        let entry = self.cache.read(&profile.name)?;
        let revoked = match (&profile.source, &entry) {
            (Source::Recipe(_), Some(entry)) if entry.token.is_some() && entry.fingerprint != fingerprint(profile) => {
                crate::log::warn(format_args!(
                    "profile {}: the cached token was made with other settings, so it is not revoked (its server may \
                     not be the one the settings name now); revoke it there by hand if it still works",
                    profile.name
                ));
                false
            }
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
            fresh: entry.as_ref().is_some_and(|e| fresh(e, now, Need::margin(profile.refresh_margin)).is_ok()),
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
            if lasting(profile, &entry) {
                // Not revoked: the settings that made it (its server, its credentials) are not known any more.
                let id = entry.vars.get("token_id").map(|id| format!(" (id {id})")).unwrap_or_default();
                crate::log::warn(format_args!(
                    "profile {}: the cached token{id} was made with other settings and never expires; it is replaced \
                     without being revoked: delete it on the server if it is still listed there",
                    profile.name
                ));
            }
            return Ok(None);
        }
        Ok(Some(entry))
    }

    /// The profile's lock, or `None` when the cache directory cannot hold one (then there is no cache at all),
    /// unless the profile's tokens never expire: then no cache is an error, since a token minted now would be
    /// forgotten and stay valid on the server forever.
    fn lock(&self, profile: &Profile) -> Result<Option<Lock>> {
        match self.cache.lock(&profile.name, self.lock_timeout) {
            Ok(lock) => Ok(Some(lock)),
            // A refused lock file or directory (not a regular file, not ours) is for the user to fix, not to work
            // around by renewing without a lock.
            Err(e @ (Error::LockTimeout { .. } | Error::Config(_))) => Err(e),
            Err(e) if mints_lasting(profile) => Err(Error::Other(format!(
                "{e}; not minting a token for profile {:?}: its tokens never expire, and one that cannot be cached \
                 would be left valid on the server (fix the cache directory, or TOKENFOB_CACHE_DIR)",
                profile.name
            ))),
            Err(e) => {
                crate::log::warn(format_args!("{e}; going on without a cache"));
                Ok(None)
            }
        }
    }

    /// Refreshes or logs in for `get`; a failure serves the cached token if it can (see [`ride_out`]).
    fn renew(
        &self,
        profile: &Profile,
        fingerprint: String,
        current: Option<Entry>,
        lock: Option<&Lock>,
        min_valid: Option<Duration>,
        now: OffsetDateTime,
    ) -> Result<Served> {
        match self.obtain(profile, fingerprint, current.as_ref(), lock, now, false) {
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
    fn keep(&self, profile: &Profile, mut entry: Entry, lock: Option<&Lock>) -> Result<Served> {
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
            && let Err(e) = self.cache.write(lock, &entry)
        {
            if !lasting(profile, &entry) {
                crate::log::warn(format_args!("{e}; the token is served but not cached"));
                return served(profile, entry);
            }
            let what = match self.revoke_lasting(profile, &entry, true) {
                Ok(true) => "so it was revoked".to_owned(),
                Ok(false) => "and it cannot be revoked: delete it on the server by hand".to_owned(),
                Err(r) => format!("and revoking it failed too ({r}): delete it on the server by hand"),
            };
            let id = entry.vars.get("token_id").map(|id| format!(" (id {id})")).unwrap_or_default();
            return Err(Error::Other(format!(
                "{e}; the new token{id} of profile {:?} never expires and cannot be cached, {what} (fix the cache \
                 directory)",
                profile.name
            )));
        }
        served(profile, entry)
    }

    /// Revokes `entry`'s token server-side when it never expires and the recipe can revoke it: a token forgotten
    /// while still valid on the server would stay valid forever. True when it was revoked. An entry made with other
    /// settings is left alone (its server may not be the one the settings name now).
    fn revoke_lasting(&self, profile: &Profile, entry: &Entry, with_refresh: bool) -> Result<bool> {
        let Source::Recipe(recipe) = &profile.source else { return Ok(false) };
        if !lasting(profile, entry) || entry.fingerprint != fingerprint(profile) {
            return Ok(false);
        }
        crate::log::debug(format_args!("profile {}: revoking the token before forgetting it", profile.name));
        let refresh = entry.refresh_token.as_ref().filter(|_| with_refresh);
        let revoked = Engine::new(recipe, profile, self.resolver(profile))
            .with_saved(&entry.vars)
            .logout(entry.token.as_ref(), refresh)?;
        if !revoked {
            crate::log::warn(format_args!(
                "profile {}: a token that never expires could not be revoked (its logout call has no value to use)",
                profile.name
            ));
        }
        Ok(revoked)
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
                let issued = login::run_command(&profile.name, argv, *lifetime, profile.net.timeout, now)?;
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
/// that still works is better than none, and the warning says what to fix. Otherwise returns the error; also when
/// the caller asked for `min_valid` and the token expires sooner (the caller asked for a guarantee).
fn ride_out(
    profile: &Profile,
    current: Option<Entry>,
    err: Error,
    min_valid: Option<Duration>,
    now: OffsetDateTime,
) -> Result<Served> {
    let Some(entry) = current.filter(|e| fresh(e, now, Need::default()).is_ok()) else { return Err(err) };
    if let (Some(asked), Some(left)) = (min_valid, token::remaining(entry.expires_at, now))
        && left < asked
    {
        crate::log::warn(format_args!(
            "profile {}: not serving the cached token: it expires in {}, sooner than the {} asked for \
             (--min-valid, or min_valid in the JSON face), and renewing it failed",
            profile.name,
            crate::duration::human(left),
            crate::duration::human(asked)
        ));
        return Err(err);
    }
    crate::log::warn(format_args!("{err}; serving the cached token, which has not expired yet"));
    served(profile, entry)
}

/// The clock now, or `since` if that is later (a caller may hand in a time of its own, as the tests do).
fn later(since: OffsetDateTime) -> OffsetDateTime {
    crate::clock::now().max(since)
}

/// The one freshness rule, applied to a cache entry.
fn fresh(entry: &Entry, now: OffsetDateTime, need: Need) -> Result<(), Stale> {
    token::check(entry.token.is_some(), entry.obtained_at, entry.expires_at, now, need)
}

/// True when `after` holds a token that another process obtained since we read `before`, and it has not expired.
fn renewed_meanwhile(before: Option<&Entry>, after: &Entry, now: OffsetDateTime) -> bool {
    let changed = before.is_none_or(|b| b.token != after.token || b.obtained_at != after.obtained_at);
    changed && fresh(after, now, Need::default()).is_ok()
}

/// True when the profile's recipe mints tokens that never expire and can be revoked (GoodData's API tokens, or an
/// `http` recipe written the same way): nothing in its answers gives an expiry, and it has a logout call.
fn mints_lasting(profile: &Profile) -> bool {
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
fn lasting(profile: &Profile, entry: &Entry) -> bool {
    mints_lasting(profile) && entry.token.is_some() && entry.expires_at.is_none()
}

/// Serves a cached token, warning when it expires sooner than the caller's `min_valid`.
fn serve(profile: &Profile, entry: Entry, min_valid: Option<Duration>, now: OffsetDateTime) -> Result<Served> {
    let served = served(profile, entry)?;
    warn_short(profile, &served, min_valid, now);
    Ok(served)
}

/// The warning for a token that expires sooner than `min_valid` asked: the server's tokens live shorter, so
/// renewing again would not help (and would cost a renewal per call).
fn warn_short(profile: &Profile, served: &Served, min_valid: Option<Duration>, now: OffsetDateTime) {
    if let (Some(asked), Some(left)) = (min_valid, token::remaining(served.expires_at(), now))
        && left < asked
    {
        crate::log::warn(format_args!(
            "profile {}: the token expires in {}, sooner than --min-valid (min_valid) asked ({}): the server's \
             tokens live too short, and a margin is capped at half a token's lifetime so as not to renew on every call",
            profile.name,
            crate::duration::human(left),
            crate::duration::human(asked)
        ));
    }
}

fn served(profile: &Profile, entry: Entry) -> Result<Served> {
    let renew_at =
        entry.expires_at.and_then(|at| token::renew_at(entry.obtained_at, at, Need::margin(profile.refresh_margin)));
    let token = entry.token.expect("only entries with a token are served");
    Ok(Served::new(&profile.name, token, entry.expires_at)?.renewing_at(renew_at))
}
