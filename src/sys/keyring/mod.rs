//! The system keyring (the Secret Service on Linux, the macOS Keychain, the Windows Credential Manager), through
//! the `keyring` crate (issue #14), with every call bounded in time.
//!
//! A keyring call can block for as long as its daemon likes: a Secret Service that waits for an unlock prompt nobody
//! answers, a D-Bus that never replies. So each call runs on a thread of its own and the caller waits at most its
//! timeout; a call still running then is abandoned (the thread ends with the process). On Linux a locked keyring is
//! noticed before anything would make it prompt, so that a caller without a terminal gets a clear error at once.
//!
//! Nothing here runs unless a profile asks for the keyring: the cache-hit path of `store = "file"` never gets here.

use std::sync::mpsc;
use std::time::Duration;

use zeroize::Zeroizing;

/// Why the keyring could not be used.
#[derive(Debug)]
pub(crate) enum KeyringError {
    /// There is no keyring to talk to (no D-Bus session, no Secret Service); the reason.
    Unavailable(String),
    /// The keyring is locked, and unlocking it would need someone to answer a prompt.
    Locked,
    /// The value is larger than this system's keyring stores.
    TooLarge { size: usize, limit: usize },
    /// The call did not finish within this time.
    TimedOut(Duration),
    /// Any other failure, with the keyring's own words (never a secret: the crate's messages carry none).
    Failed(String),
}

impl std::fmt::Display for KeyringError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyringError::Unavailable(why) => write!(f, "the system keyring is not available: {why}"),
            KeyringError::Locked => f.write_str("the system keyring is locked"),
            KeyringError::TooLarge { size, limit } => {
                write!(f, "{size} bytes is more than the system keyring stores in one item ({limit})")
            }
            KeyringError::TimedOut(after) => {
                write!(f, "the system keyring did not answer within {}", crate::duration::human(*after))
            }
            KeyringError::Failed(why) => write!(f, "the system keyring failed: {why}"),
        }
    }
}

/// The most one item holds here: the Windows Credential Manager's blob limit (CRED_MAX_CREDENTIAL_BLOB_SIZE); the
/// Secret Service and the Keychain take more, but a bound keeps a runaway value out of them too.
pub(crate) const MAX_ITEM: usize = platform::MAX_ITEM;

/// One keyring item, named by service and user as every platform's store names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Item {
    /// The service (what the item is for).
    pub(crate) service: String,
    /// The user (whose it is).
    pub(crate) user: String,
}

impl Item {
    /// The item's value, `None` when there is no such item. Without `may_unlock`, a locked keyring is
    /// [`KeyringError::Locked`] at once instead of a prompt.
    pub(crate) fn get(&self, timeout: Duration, may_unlock: bool) -> Result<Option<Zeroizing<Vec<u8>>>, KeyringError> {
        let (service, user) = (self.service.clone(), self.user.clone());
        bounded(timeout, move || {
            platform::check_unlocked(may_unlock)?;
            match entry(&service, &user)?.get_secret() {
                Ok(bytes) => Ok(Some(Zeroizing::new(bytes))),
                Err(keyring::Error::NoEntry) => Ok(None),
                Err(e) => Err(failure(e)),
            }
        })
    }

    /// Stores `value` in the item, creating it if needed.
    pub(crate) fn set(&self, value: &[u8], timeout: Duration, may_unlock: bool) -> Result<(), KeyringError> {
        if value.len() > MAX_ITEM {
            return Err(KeyringError::TooLarge { size: value.len(), limit: MAX_ITEM });
        }
        let (service, user) = (self.service.clone(), self.user.clone());
        let value = Zeroizing::new(value.to_vec());
        bounded(timeout, move || {
            platform::check_unlocked(may_unlock)?;
            entry(&service, &user)?.set_secret(&value).map_err(failure)
        })
    }

    /// Deletes the item; false when there was none.
    pub(crate) fn delete(&self, timeout: Duration, may_unlock: bool) -> Result<bool, KeyringError> {
        let (service, user) = (self.service.clone(), self.user.clone());
        bounded(timeout, move || {
            platform::check_unlocked(may_unlock)?;
            match entry(&service, &user)?.delete_credential() {
                Ok(()) => Ok(true),
                Err(keyring::Error::NoEntry) => Ok(false),
                Err(e) => Err(failure(e)),
            }
        })
    }
}

/// Fails when the keyring cannot be used now: not there, or (without `may_unlock`) locked.
pub(crate) fn usable(timeout: Duration, may_unlock: bool) -> Result<(), KeyringError> {
    bounded(timeout, move || platform::check_unlocked(may_unlock))
}

fn entry(service: &str, user: &str) -> Result<keyring::Entry, KeyringError> {
    keyring::Entry::new(service, user).map_err(failure)
}

/// Runs `call` on a thread of its own and waits for it at most `timeout`.
fn bounded<T: Send + 'static>(
    timeout: Duration,
    call: impl FnOnce() -> Result<T, KeyringError> + Send + 'static,
) -> Result<T, KeyringError> {
    let (tx, rx) = mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("keyring".into())
        .spawn(move || {
            let _ = tx.send(call());
        })
        .map_err(|e| KeyringError::Failed(format!("starting a thread: {e}")))?;
    match rx.recv_timeout(timeout) {
        Ok(result) => result,
        Err(mpsc::RecvTimeoutError::Timeout) => Err(KeyringError::TimedOut(timeout)),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(KeyringError::Failed("the keyring call panicked".into())),
    }
}

/// Sorts the crate's errors into ours.
fn failure(e: keyring::Error) -> KeyringError {
    match e {
        keyring::Error::NoStorageAccess(why) => platform::no_access(why.to_string()),
        keyring::Error::PlatformFailure(why) => platform::failure(why.to_string()),
        keyring::Error::TooLong(what, limit) => {
            KeyringError::Failed(format!("the {what} is longer than the keyring allows ({limit})"))
        }
        other => KeyringError::Failed(other.to_string()),
    }
}

// The Secret Service needs a look of its own before a call (is it there, is it locked); the other systems' stores
// answer for themselves.
#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
use linux as platform;
#[cfg(not(target_os = "linux"))]
mod native;
#[cfg(not(target_os = "linux"))]
use native as platform;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_that_never_answers_times_out() {
        let err = bounded(Duration::from_millis(50), || {
            std::thread::sleep(Duration::from_secs(5));
            Ok(())
        })
        .unwrap_err();
        assert!(matches!(err, KeyringError::TimedOut(_)), "{err}");
        assert!(err.to_string().contains("did not answer"), "{err}");
    }

    #[test]
    fn an_oversized_value_is_refused_before_any_call() {
        let item = Item { service: "s".into(), user: "u".into() };
        let err = item.set(&vec![b'x'; MAX_ITEM + 1], Duration::from_secs(1), false).unwrap_err();
        assert!(matches!(err, KeyringError::TooLarge { .. }), "{err}");
    }
}
