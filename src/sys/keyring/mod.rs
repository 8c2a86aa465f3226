//! The system keyring (the Secret Service on Linux, the macOS Keychain, the Windows Credential Manager), through
//! the `keyring` crate (issue #14), with every call bounded in time.
//!
//! A keyring call can block for as long as its daemon likes: a Secret Service that waits for an unlock prompt nobody
//! answers, a D-Bus that never replies. So each call runs on a thread of its own and the caller waits at most its
//! timeout; a call still running then is abandoned (the thread ends with the process). While an abandoned call has
//! not finished, every later call fails at once instead of waiting again: one run waits for a hung keyring once, and
//! a long-lived process (`tokenfob protocol`) never has a newer call race an old one. On Linux a locked keyring is
//! noticed before anything would make it prompt, so that a caller without a terminal gets a clear error at once.
//!
//! Nothing here runs unless a profile asks for the keyring: the cache-hit path of `store = "file"` never gets here.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::Duration;

use zeroize::Zeroizing;

use crate::error::Error;

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
    /// More than one item matches the service and user; how to clear them.
    Ambiguous { count: usize, service: String, user: String },
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
            KeyringError::Ambiguous { count, service, user } => write!(
                f,
                "the system keyring holds {count} items for service {service:?} and user {user:?}, and tokenfob cannot \
                 tell which is meant: delete them all ({}) and store the value again",
                platform::clear_command(service, user)
            ),
            KeyringError::Failed(why) => write!(f, "the system keyring failed: {why}"),
        }
    }
}

/// What an error about the keyring tells the user.
pub(crate) struct Advice<'a> {
    /// What was being done (`storing the tokens of profile "p" in the system keyring`).
    pub(crate) doing: &'a str,
    /// The command that, run in a terminal, has the keyring unlocked and does it again (`tokenfob login p`).
    pub(crate) retry: &'a str,
    /// What the user can do otherwise (`or set store = "file" ...`).
    pub(crate) instead: &'a str,
    /// Whether someone could have answered an unlock prompt.
    pub(crate) may_unlock: bool,
}

impl KeyringError {
    /// The error a command reports: a locked keyring that nobody here can unlock is exit 5, naming the command to run
    /// in a terminal; a locked one whose unlock prompt could not be shown (no desktop, as over SSH) says how to unlock
    /// it; the others say what failed and what to do instead.
    pub(crate) fn into_error(self, advice: &Advice<'_>) -> Error {
        let Advice { doing, retry, instead, may_unlock } = advice;
        match self {
            KeyringError::Locked if !may_unlock => Error::Locked {
                what: (*doing).to_owned(),
                fix: format!("run `{retry}` in a terminal, or {}; {instead}", platform::UNLOCK),
            },
            KeyringError::Locked => Error::Other(format!(
                "{doing}: the system keyring is locked and its unlock prompt could not be shown (without a desktop \
                 session, as over SSH, there is none): {}, then try again; {instead}",
                platform::UNLOCK
            )),
            other => Error::Other(format!("{doing}: {other} ({instead})")),
        }
    }
}

/// Whether a keyring may be unlocked by asking: prompts are allowed and there is a terminal (asked once per run).
pub(crate) fn may_unlock(may_prompt: bool) -> bool {
    static TERMINAL: OnceLock<bool> = OnceLock::new();
    may_prompt && *TERMINAL.get_or_init(|| crate::sys::tty::Tty::open().is_some())
}

/// The most one item holds here: the Windows Credential Manager's blob limit (CRED_MAX_CREDENTIAL_BLOB_SIZE, 2560
/// bytes) on Windows; 64 KiB elsewhere, where the Secret Service and the Keychain have no limit of their own and the
/// bound only keeps a runaway value out.
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
                Err(e) => Err(failure(e, &service, &user)),
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
            entry(&service, &user)?.set_secret(&value).map_err(|e| failure(e, &service, &user))
        })
    }

    /// Deletes the item, every one of them when more than one matches; false when there was none.
    pub(crate) fn delete(&self, timeout: Duration, may_unlock: bool) -> Result<bool, KeyringError> {
        let (service, user) = (self.service.clone(), self.user.clone());
        bounded(timeout, move || {
            platform::check_unlocked(may_unlock)?;
            match entry(&service, &user)?.delete_credential() {
                Ok(()) => Ok(true),
                Err(keyring::Error::NoEntry) => Ok(false),
                Err(keyring::Error::Ambiguous(_)) => {
                    platform::delete_all(&entry(&service, &user)?).map_err(|e| failure(e, &service, &user))?;
                    Ok(true)
                }
                Err(e) => Err(failure(e, &service, &user)),
            }
        })
    }
}

/// Fails when the keyring cannot be used now: not there, or (without `may_unlock`) locked.
pub(crate) fn usable(timeout: Duration, may_unlock: bool) -> Result<(), KeyringError> {
    bounded(timeout, move || platform::check_unlocked(may_unlock))
}

fn entry(service: &str, user: &str) -> Result<keyring::Entry, KeyringError> {
    keyring::Entry::new(service, user).map_err(|e| failure(e, service, user))
}

/// Calls abandoned after their timeout that have not finished yet.
static STUCK: AtomicUsize = AtomicUsize::new(0);

/// One call's state, shared by its thread and its waiter: (finished, abandoned).
type Call = Arc<Mutex<(bool, bool)>>;

/// Runs `call` on a thread of its own and waits for it at most `timeout`. While an earlier call that timed out is
/// still running, fails at once: the keyring is not waited for twice.
fn bounded<T: Send + 'static>(
    timeout: Duration,
    call: impl FnOnce() -> Result<T, KeyringError> + Send + 'static,
) -> Result<T, KeyringError> {
    if STUCK.load(Ordering::SeqCst) > 0 {
        return Err(KeyringError::Unavailable(
            "it has not answered an earlier call yet, so tokenfob does not wait for it again".into(),
        ));
    }
    let (tx, rx) = mpsc::sync_channel(1);
    let state: Call = Arc::default();
    let theirs = Arc::clone(&state);
    std::thread::Builder::new()
        .name("keyring".into())
        .spawn(move || {
            let _ = tx.send(call());
            let mut state = theirs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            state.0 = true;
            if state.1 {
                STUCK.fetch_sub(1, Ordering::SeqCst);
            }
        })
        .map_err(|e| KeyringError::Failed(format!("starting a thread: {e}")))?;
    match rx.recv_timeout(timeout) {
        Ok(result) => result,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            let mut state = state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if !state.0 {
                state.1 = true;
                STUCK.fetch_add(1, Ordering::SeqCst);
            }
            Err(KeyringError::TimedOut(timeout))
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(KeyringError::Failed("the keyring call panicked".into())),
    }
}

/// Sorts the crate's errors into ours: a refusal to give access (a locked item, a dismissed unlock prompt, a locked
/// Keychain that may not show its dialog) is [`KeyringError::Locked`].
fn failure(e: keyring::Error, service: &str, user: &str) -> KeyringError {
    match e {
        keyring::Error::NoStorageAccess(_) => KeyringError::Locked,
        keyring::Error::PlatformFailure(why) => KeyringError::Failed(why.to_string()),
        keyring::Error::Ambiguous(all) => {
            KeyringError::Ambiguous { count: all.len(), service: service.to_owned(), user: user.to_owned() }
        }
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
        // Until that call ends, the next one is not waited for.
        let next = bounded(Duration::from_secs(5), || Ok(())).unwrap_err();
        assert!(matches!(next, KeyringError::Unavailable(_)), "{next}");
    }

    #[test]
    fn a_locked_keyring_names_the_command_to_retry_or_how_to_unlock() {
        let advice =
            |may_unlock| Advice { doing: "storing x", retry: "tokenfob secret set p x", instead: "or not", may_unlock };
        let without = KeyringError::Locked.into_error(&advice(false));
        assert_eq!(without.exit_code(), 5);
        let text = without.to_string();
        assert!(text.contains("run `tokenfob secret set p x` in a terminal") && !text.contains("login"), "{text}");
        // A terminal, but the unlock prompt could not be shown (SSH): how to unlock by hand.
        let with = KeyringError::Locked.into_error(&advice(true));
        assert_eq!(with.exit_code(), 1);
        assert!(with.to_string().contains(platform::UNLOCK), "{with}");
    }

    #[test]
    fn several_items_are_named_with_the_command_that_clears_them() {
        let err = KeyringError::Ambiguous { count: 2, service: "tokenfob".into(), user: "p@/c d".into() };
        let text = err.to_string();
        assert!(text.contains("2 items") && text.contains(&platform::clear_command("tokenfob", "p@/c d")), "{text}");
        #[cfg(target_os = "linux")]
        assert!(text.contains("`secret-tool clear service tokenfob username 'p@/c d'`"), "{text}");
    }

    #[test]
    fn an_oversized_value_is_refused_before_any_call() {
        let item = Item { service: "s".into(), user: "u".into() };
        let err = item.set(&vec![b'x'; MAX_ITEM + 1], Duration::from_secs(1), false).unwrap_err();
        assert!(matches!(err, KeyringError::TooLarge { .. }), "{err}");
    }
}
