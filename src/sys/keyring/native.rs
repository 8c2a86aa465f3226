//! The macOS Keychain and the Windows Credential Manager: they answer for themselves (the Keychain shows its own
//! unlock dialog, and refuses when no one can see it), so there is nothing to look at before a call. Other systems
//! have no keyring that tokenfob can use.

use super::KeyringError;

/// The Windows Credential Manager holds at most 2560 bytes in one credential (CRED_MAX_CREDENTIAL_BLOB_SIZE); the
/// Keychain takes more, and 64 KiB keeps a runaway value out.
pub(super) const MAX_ITEM: usize = if cfg!(windows) { 2560 } else { 64 * 1024 };

/// Fails on a system without a keyring tokenfob can use.
pub(super) fn check_unlocked(_may_unlock: bool) -> Result<(), KeyringError> {
    if cfg!(any(target_os = "macos", windows)) {
        Ok(())
    } else {
        Err(KeyringError::Unavailable("tokenfob knows no keyring on this system".into()))
    }
}

/// How to unlock the keyring without a prompt.
pub(super) const UNLOCK: &str = if cfg!(windows) {
    "log in to Windows as the user whose Credential Manager holds it"
} else {
    "unlock the login keychain (`security unlock-keychain`)"
};

/// How to delete every item under `service` and `user`.
pub(super) fn clear_command(service: &str, user: &str) -> String {
    if cfg!(windows) {
        format!("in the Credential Manager, the generic credentials for {user}.{service}")
    } else {
        format!("`security delete-generic-password -s {service:?} -a {user:?}`, until it finds none")
    }
}

/// Deletes the item: these stores keep one per service and user, so there are never several.
pub(super) fn delete_all(entry: &keyring::Entry) -> keyring::Result<()> {
    entry.delete_credential()
}
