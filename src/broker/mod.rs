//! Getting a token for a profile: serve the cache, or renew under the lock.
//!
//! The path every face shares. [`peek`] is its fast start: a plain `get` or `kubectl` is answered from a fresh
//! cache entry made with the configuration file exactly as it is now, without parsing that file. A fresh cached
//! token is returned without locking. Otherwise the broker takes the
//! profile's lock, reads the cache again (another process may have renewed it while we waited, which is how 50
//! parallel callers cause one login), and only then refreshes or logs in and writes the new entry. A renewal that
//! fails still serves a cached token that has not expired (it is only inside its margin), with a warning, unless
//! the caller asked for a minimum validity (`--min-valid`) that the token cannot meet. A cache that cannot be
//! written (read-only or full disk) degrades to no cache, with a warning; except for recipes whose tokens never
//! expire and can be revoked (GoodData's API tokens): those are revoked before they are forgotten, and never minted
//! when the cache cannot keep them, since a token left behind would stay valid forever (issue #10).
//!
//! Beside it: `renew` (refresh or log in under the lock, and keep the result), `lasting` (tokens that never expire
//! and can be revoked) and `served` (what is handed out).

mod lasting;
mod renew;
mod served;

pub(crate) use served::{Served, Status};

use std::path::{Path, PathBuf};
use std::time::Duration;

use time::OffsetDateTime;

use self::lasting::{lasting, lasting_id, mints_lasting};
use crate::engine::Engine;
use crate::engine::secrets::Resolver;
use crate::environment::Env;
use crate::error::{Error, Result};
use crate::fileid::ConfigStamp;
use crate::profile::{Profile, Source};
use crate::secret::Secret;
use crate::store::{Cache, Entry, Lock, Store, Vault};
use crate::token::{self, Need, Stale};

/// Serves tokens from one cache directory.
pub(crate) struct Broker<'a> {
    /// For secret sources.
    pub(crate) env: &'a Env,
    /// The cache.
    pub(crate) cache: Cache,
    /// Whether a secret may be typed in.
    pub(crate) may_prompt: bool,
    /// How long to wait for another process's renewal.
    pub(crate) lock_timeout: Duration,
    /// The configuration file's identity, recorded in every entry this broker writes.
    pub(crate) config_stamp: Option<crate::fileid::ConfigStamp>,
}

/// The cached token of `profile`, without the configuration's parser: served when the entry was made with the
/// configuration file as it is now (the same path, mode and bytes, so any edit is seen: issue #10) and is fresh by
/// [`Entry::fresh`] with the refresh margin that configuration gave it. `None` (any doubt) means: take the full
/// path. A configuration that draws a warning is never stamped, so its warning is never skipped.
pub(crate) fn peek(config: &Path, cache_dir: PathBuf, profile: &str, now: OffsetDateTime) -> Option<Served> {
    let stamp = ConfigStamp::of(config)?;
    let entry = Cache::new(cache_dir).read(profile).ok()??;
    // Tokens in the keyring take the full path: the keyring is not for the fast start.
    if entry.config.as_ref() != Some(&stamp) || entry.keyring.is_some() {
        return None;
    }
    // An absurd margin (a damaged or forged entry) is a miss: the full path uses the configuration's own.
    let margin = Some(Duration::from_millis(entry.margin_ms?)).filter(|m| *m <= crate::duration::MAX)?;
    entry.fresh(now, Need::margin(margin)).ok()?;
    Served::from_entry(profile, entry, margin).ok()
}

impl Broker<'_> {
    fn resolver<'b>(&'b self, profile: &'b Profile) -> Resolver<'b> {
        Resolver { env: self.env, may_prompt: self.may_prompt, profile: &profile.name, timeout: profile.net.timeout }
    }

    /// A token valid for at least the profile's margin (or `min_valid`, if longer), renewing only when needed.
    /// The margin is capped at half the token's lifetime, and so is `min_valid` when the tokens live shorter than it
    /// (`token::effective_margin`); a served token that expires within `min_valid` comes with a warning.
    pub(crate) fn get(&self, profile: &Profile, min_valid: Option<Duration>, now: OffsetDateTime) -> Result<Served> {
        let need = Need { margin: profile.refresh_margin, min_valid: min_valid.unwrap_or_default() };
        if let Source::Static(source) = &profile.source {
            let token = self.resolver(profile).resolve(source, "token")?;
            return Served::new(&profile.name, token, None);
        }
        let fp = profile.fingerprint();
        let cached = self.read(profile, &fp)?;
        let stale = match &cached {
            Some(entry) => match entry.fresh(now, need) {
                Ok(()) => {
                    self.move_to_keyring(profile, entry);
                    return serve(profile, entry.clone(), min_valid, now);
                }
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
            current.as_ref().filter(|e| e.fresh(now, need).is_ok() || renewed_meanwhile(cached.as_ref(), e, now))
        {
            crate::log::debug(format_args!("profile {}: renewed by another process meanwhile", profile.name));
            return serve(profile, entry.clone(), min_valid, now);
        }
        if let Err(e) = self.check_keyring(profile) {
            return ride_out(profile, current, e, min_valid, now);
        }
        self.renew(profile, fp, current, lock.as_ref(), min_valid, now)
    }

    /// A fresh login, whatever the cache holds. A cached token that never expires is revoked first.
    pub(crate) fn login(&self, profile: &Profile, now: OffsetDateTime) -> Result<Served> {
        if matches!(profile.source, Source::Static(_)) {
            return self.get(profile, None, now);
        }
        let fp = profile.fingerprint();
        let lock = self.lock(profile)?;
        let current = self.read(profile, &fp)?;
        if let (Some(entry), Some(lock)) = (&current, &lock)
            && lasting::revoke(profile, entry, true, self.resolver(profile))?
        {
            // Revoked: a login that fails now must not leave a dead token cached.
            self.forget(profile, lock, Some(entry))?;
        }
        self.check_keyring(profile)?;
        // No refresh: `current` is not passed on, so a login it is.
        self.obtain(profile, fp, None, lock.as_ref(), now).and_then(|entry| self.keep(profile, entry, lock.as_ref()))
    }

    /// Forgets the cached token; with `only`, only if the cache still holds exactly that token (a refresh token
    /// is then kept, so the next `get` refreshes instead of logging in). True when something was forgotten.
    /// A token that never expires is revoked first (a failure keeps it cached, so nothing is left behind).
    pub(crate) fn erase(&self, profile: &Profile, only: Option<&Secret>) -> Result<bool> {
        let lock = self.cache.lock(&profile.name, self.lock_timeout)?;
        let Some(raw) = self.cache.read(&profile.name)? else {
            return Ok(false);
        };
        let Some(mut entry) = self.fill_strict(profile, raw.clone(), "erase")? else {
            return self.forget(profile, &lock, Some(&raw));
        };
        if only.is_some_and(|t| entry.token.as_ref() != Some(t)) {
            return Ok(false);
        }
        let keep_refresh = only.is_some() && entry.refresh_token.is_some();
        lasting::revoke(profile, &entry, !keep_refresh, self.resolver(profile))?;
        if keep_refresh {
            entry.token = None;
            return self.save(profile, &lock, &entry).map(|()| true);
        }
        self.forget(profile, &lock, Some(&raw))
    }

    /// Revokes the token server-side where the kind can, then erases it. Returns (revoked, erased). When revoking
    /// fails, the entry is kept so that a later `logout` can try again. An entry made with other settings is not
    /// revoked, as in [`Broker::erase`]: its token and ids would go to whatever server the settings name now.
    pub(crate) fn logout(&self, profile: &Profile) -> Result<(bool, bool)> {
        let lock = self.cache.lock(&profile.name, self.lock_timeout)?;
        let raw = self.cache.read(&profile.name)?;
        let entry = match raw.clone() {
            Some(raw) => self.fill_strict(profile, raw, "logout")?,
            None => None,
        };
        let revoked = match (&profile.source, &entry) {
            (Source::Recipe(_), Some(entry)) if entry.token.is_some() && entry.fingerprint != profile.fingerprint() => {
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
        Ok((revoked, self.forget(profile, &lock, raw.as_ref())?))
    }

    /// What the cache holds for `profile`.
    /// Never reads the keyring: the file's marker says what is there.
    pub(crate) fn status(&self, profile: &Profile, now: OffsetDateTime) -> Result<Status> {
        let entry = self.read_file(profile, &profile.fingerprint())?;
        let has_token = entry.as_ref().is_some_and(Entry::has_token);
        let expires_at = entry.as_ref().filter(|_| has_token).and_then(|e| e.expires_at);
        Ok(Status {
            profile: profile.name.clone(),
            kind: profile.kind.name(),
            cached: has_token,
            fresh: entry.as_ref().is_some_and(|e| e.fresh(now, Need::margin(profile.refresh_margin)).is_ok()),
            expires_at,
            expires_in: expires_at.map(|at| (at - now).whole_seconds()),
            refreshable: entry.as_ref().is_some_and(|e| e.can_refresh(now)),
        })
    }

    /// The cached token of `profile` if [`Broker::get`] would serve it as it is (made with the current settings and
    /// fresh by the profile's margin), else `None`. Never locks, renews or resolves a secret source, so a face may ask
    /// it of every profile without logging in to any (Go's first GOAUTH call); but a profile whose tokens are in the
    /// keyring has it read, which can fail (locked, not there): a face that asks many profiles skips those with a
    /// warning. A static token is never cached: `None`.
    pub(crate) fn cached(&self, profile: &Profile, now: OffsetDateTime) -> Result<Option<Served>> {
        if matches!(profile.source, Source::Static(_)) {
            return Ok(None);
        }
        let Some(entry) = self.read(profile, &profile.fingerprint())? else { return Ok(None) };
        if entry.fresh(now, Need::margin(profile.refresh_margin)).is_err() {
            return Ok(None);
        }
        Served::from_entry(&profile.name, entry, profile.refresh_margin).map(Some)
    }

    /// The cached entry, if it was made with the profile's current settings, with its tokens from the keyring.
    fn read(&self, profile: &Profile, fingerprint: &str) -> Result<Option<Entry>> {
        match self.read_file(profile, fingerprint)? {
            Some(entry) => self.fill(profile, entry),
            None => Ok(None),
        }
    }

    /// The cached entry as the file holds it, if it was made with the profile's current settings.
    fn read_file(&self, profile: &Profile, fingerprint: &str) -> Result<Option<Entry>> {
        let Some(entry) = self.cache.read(&profile.name)? else { return Ok(None) };
        if entry.fingerprint != fingerprint {
            crate::log::debug(format_args!(
                "profile {}: settings changed since the cached login; ignoring it",
                profile.name
            ));
            if lasting(profile, &entry) {
                // Not revoked: the settings that made it (its server, its credentials) are not known any more.
                let id = lasting_id(&entry);
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

    /// How `profile`'s entry reaches the system keyring. Made only when the keyring is involved: the cache-hit path
    /// of `store = "file"` never gets here.
    fn vault(&self, profile: &Profile) -> Vault {
        Vault {
            store: profile.store,
            item: self.cache.keyring_item(&profile.name),
            timeout: profile.net.timeout,
            may_unlock: crate::sys::keyring::may_unlock(self.may_prompt),
            profile: profile.name.clone(),
        }
    }

    /// `entry` with its tokens from the keyring when its file says they are there; `None` when they are gone. A
    /// keyring that cannot be read is a miss (with `store = "auto"` or `"file"`), except when the entry holds a
    /// token that never expires: a miss would mint a second one and leave this one valid on the server, unrevoked.
    fn fill(&self, profile: &Profile, entry: Entry) -> Result<Option<Entry>> {
        if entry.keyring.is_none() {
            return Ok(Some(entry));
        }
        let strict = lasting(profile, &entry);
        self.vault(profile).fill(entry, strict, false, &format!("tokenfob get {}", profile.name))
    }

    /// [`Broker::fill`] for `logout` and `erase` (`command`): a keyring that cannot be read is always an error, so the
    /// file (the only pointer to the item) is kept and nothing is reported done that was not. Several items under the
    /// profile's name are all deleted, unless its token never expires: it must be read to be revoked.
    fn fill_strict(&self, profile: &Profile, entry: Entry, command: &str) -> Result<Option<Entry>> {
        if entry.keyring.is_none() {
            return Ok(Some(entry));
        }
        let forgetting = !lasting(profile, &entry);
        self.vault(profile).fill(entry, true, forgetting, &format!("tokenfob {command} {}", profile.name))
    }

    /// Writes `entry` under `lock`: its tokens to the keyring first when the profile keeps them there. A profile
    /// switched back to the file also drops the keyring item its last entry used.
    fn save(&self, profile: &Profile, lock: &Lock, entry: &Entry) -> Result<()> {
        if profile.store != Store::File {
            return self.cache.write(lock, &self.vault(profile).put(entry)?);
        }
        let before = self.cache.read(&profile.name).ok().flatten();
        self.cache.write(lock, entry)?;
        if before.is_some_and(|e| e.keyring.is_some()) {
            self.vault(profile).delete(false, &format!("tokenfob logout {}", profile.name))?;
        }
        Ok(())
    }

    /// Removes the entry under `lock` and, when the profile uses the keyring or `raw` (the file as it was) had tokens
    /// there, its keyring item: the item first, so that a failure keeps the file that points at it (an error then).
    /// True when there was an entry.
    fn forget(&self, profile: &Profile, lock: &Lock, raw: Option<&Entry>) -> Result<bool> {
        let marked = raw.is_some_and(|e| e.keyring.is_some());
        if profile.store != Store::File || marked {
            self.vault(profile).delete(marked, &format!("tokenfob logout {}", profile.name))?;
        }
        self.cache.remove(lock)
    }

    /// A profile switched to `store = "keyring"` whose cached `entry` still has its tokens in the file: moves them to
    /// the keyring now, under the lock, rather than at the next renewal (never, for a token that never expires). A
    /// failure is a warning: the token is served all the same, and the next call tries again.
    fn move_to_keyring(&self, profile: &Profile, entry: &Entry) {
        if profile.store != Store::Keyring || entry.keyring.is_some() {
            return;
        }
        if entry.token.is_none() && entry.refresh_token.is_none() {
            return;
        }
        let moved = self.cache.lock(&profile.name, self.lock_timeout).and_then(|lock| {
            match self.cache.read(&profile.name)? {
                Some(raw) if raw.keyring.is_none() && raw.fingerprint == entry.fingerprint => {
                    self.save(profile, &lock, &raw)
                }
                _ => Ok(()),
            }
        });
        if let Err(e) = moved {
            crate::log::warn(format_args!(
                "profile {}: {e}; its cached tokens stay in the cache file for now",
                profile.name
            ));
        }
    }

    /// With `store = "keyring"`, fails before a login when the keyring cannot take its result (locked and nobody to
    /// unlock it, or not there at all), so that nobody types a password for a token that cannot be kept.
    fn check_keyring(&self, profile: &Profile) -> Result<()> {
        if profile.store != Store::Keyring {
            return Ok(());
        }
        self.vault(profile).check()
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
    let Some(entry) = current.filter(|e| e.fresh(now, Need::default()).is_ok()) else { return Err(err) };
    if let Some((left, asked)) = token::short_of(min_valid, entry.expires_at, now) {
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
    Served::from_entry(&profile.name, entry, profile.refresh_margin)
}

/// The clock now, or `since` if that is later (a caller may hand in a time of its own, as the tests do).
fn later(since: OffsetDateTime) -> OffsetDateTime {
    crate::clock::now().max(since)
}

/// True when `after` holds a token that another process obtained since we read `before`, and it has not expired.
fn renewed_meanwhile(before: Option<&Entry>, after: &Entry, now: OffsetDateTime) -> bool {
    let changed = before.is_none_or(|b| b.token != after.token || b.obtained_at != after.obtained_at);
    changed && after.fresh(now, Need::default()).is_ok()
}

/// Serves a cached token, warning when it expires sooner than the caller's `min_valid`.
fn serve(profile: &Profile, entry: Entry, min_valid: Option<Duration>, now: OffsetDateTime) -> Result<Served> {
    let served = Served::from_entry(&profile.name, entry, profile.refresh_margin)?;
    warn_short(profile, &served, min_valid, now);
    Ok(served)
}

/// The warning for a token that expires sooner than `min_valid` asked: the server's tokens live shorter, so
/// renewing again would not help (and would cost a renewal per call).
fn warn_short(profile: &Profile, served: &Served, min_valid: Option<Duration>, now: OffsetDateTime) {
    if let Some((left, asked)) = token::short_of(min_valid, served.expires_at(), now) {
        crate::log::warn(format_args!(
            "profile {}: the token expires in {}, sooner than --min-valid (min_valid) asked ({}): the server's \
             tokens live too short, and a margin is capped at half a token's lifetime so as not to renew on every call",
            profile.name,
            crate::duration::human(left),
            crate::duration::human(asked)
        ));
    }
}
