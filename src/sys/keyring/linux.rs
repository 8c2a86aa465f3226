//! The Secret Service (GNOME Keyring, KWallet, KeePassXC) over the session D-Bus: before each call, see that the
//! service answers and whether its default collection is locked, so that a caller who cannot answer an unlock
//! prompt gets [`KeyringError::Locked`] at once, not a prompt that nobody sees.

use secret_service::EncryptionType;
use secret_service::blocking::SecretService;

use super::KeyringError;

/// The Secret Service has no item size limit of its own; this bound keeps a runaway value out.
pub(super) const MAX_ITEM: usize = 64 * 1024;

/// Fails when there is no Secret Service, or when its default collection is locked and `may_unlock` is false. The
/// look moves no secret, so its session is a plain one: no key exchange of its own beside the crate's.
pub(super) fn check_unlocked(may_unlock: bool) -> Result<(), KeyringError> {
    let service = SecretService::connect(EncryptionType::Plain).map_err(|e| unavailable(&e))?;
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

/// How to unlock the keyring without a prompt.
pub(super) const UNLOCK: &str =
    "unlock it from the desktop session, or type its password into `gnome-keyring-daemon --unlock` (GNOME Keyring)";

/// The command that deletes every item under `service` and `user` (the attributes the keyring crate writes).
pub(super) fn clear_command(service: &str, user: &str) -> String {
    format!("`secret-tool clear service {} username {}`", quoted(service), quoted(user))
}

/// `text` as one POSIX shell word.
fn quoted(text: &str) -> String {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"@%+=:,./_-".contains(&b)) {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// Deletes every item that matches `entry`'s attributes (another program may have stored one beside tokenfob's).
pub(super) fn delete_all(entry: &keyring::Entry) -> keyring::Result<()> {
    match entry.get_credential().downcast_ref::<keyring::secret_service::SsCredential>() {
        Some(credential) => credential.delete_all_passwords(),
        None => entry.delete_credential(),
    }
}
