//! The macOS Keychain and the Windows Credential Manager: they answer for themselves (the Keychain shows its own
//! unlock dialog, and refuses when no one can see it), so there is nothing to look at before a call. Other systems
//! have no keyring that tokenfob can use.

use super::KeyringError;

/// The Windows Credential Manager holds at most 2560 bytes in one credential (CRED_MAX_CREDENTIAL_BLOB_SIZE); the
/// Keychain takes more, and this bound keeps a runaway value out.
pub(super) const MAX_ITEM: usize = if cfg!(windows) { 2560 } else { 64 * 1024 };

/// Fails on a system without a keyring tokenfob can use.
pub(super) fn check_unlocked(_may_unlock: bool) -> Result<(), KeyringError> {
    if cfg!(any(target_os = "macos", windows)) {
        Ok(())
    } else {
        Err(KeyringError::Unavailable("tokenfob knows no keyring on this system".into()))
    }
}

/// A refusal to give access: a locked Keychain that may not show its dialog.
pub(super) fn no_access(_why: String) -> KeyringError {
    KeyringError::Locked
}

/// Any other failure of the store.
pub(super) fn failure(why: String) -> KeyringError {
    KeyringError::Failed(why)
}
