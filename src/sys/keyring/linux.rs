//! The Secret Service (GNOME Keyring, KWallet, KeePassXC) over the session D-Bus: before each call, see that the
//! service answers and whether its default collection is locked, so that a caller who cannot answer an unlock
//! prompt gets [`KeyringError::Locked`] at once, not a prompt that nobody sees.

use secret_service::EncryptionType;
use secret_service::blocking::SecretService;

use super::KeyringError;

/// The Secret Service has no item size limit of its own; this bound keeps a runaway value out.
pub(super) const MAX_ITEM: usize = 64 * 1024;

/// Fails when there is no Secret Service, or when its default collection is locked and `may_unlock` is false.
pub(super) fn check_unlocked(may_unlock: bool) -> Result<(), KeyringError> {
    let service = SecretService::connect(EncryptionType::Dh).map_err(|e| unavailable(&e))?;
    let collection = service.get_default_collection().map_err(|e| match e {
        secret_service::Error::Locked | secret_service::Error::Prompt => KeyringError::Locked,
        other => unavailable(&other),
    })?;
    let locked = collection.is_locked().map_err(|e| KeyringError::Failed(e.to_string()))?;
    if locked && !may_unlock {
        return Err(KeyringError::Locked);
    }
    Ok(())
}

fn unavailable(e: &secret_service::Error) -> KeyringError {
    KeyringError::Unavailable(format!(
        "no Secret Service on the session D-Bus ({e}; is DBUS_SESSION_BUS_ADDRESS set, and gnome-keyring or \
         KWallet running?)"
    ))
}

/// A refusal to give access: on the Secret Service, a locked item or a dismissed unlock prompt.
pub(super) fn no_access(_why: String) -> KeyringError {
    KeyringError::Locked
}

/// Any other failure of the service.
pub(super) fn failure(why: String) -> KeyringError {
    KeyringError::Failed(why)
}
