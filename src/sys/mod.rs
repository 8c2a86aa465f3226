//! The operating system: small facts (random bytes, the host name) here; beside it one module per concern, each
//! with the same functions on Unix and Windows in `<concern>/unix.rs` and `<concern>/windows.rs`: start-up and
//! hardening of this process (`process`), files opened without surprises (`fs`), who may read and write the cache
//! (`protect`), child processes (`child`), the terminal (`tty`) and what an interruption must undo (`cleanup`).

pub(crate) mod child;
#[cfg_attr(unix, path = "cleanup/unix.rs")]
#[cfg_attr(windows, path = "cleanup/windows.rs")]
mod cleanup;
pub(crate) mod fs;
mod process;
pub(crate) mod protect;
pub(crate) mod tty;

use crate::error::{Error, Result};

/// `n` random bytes from the kernel (ring's `SystemRandom`: getrandom(2)), as lower-case hex. There is no fallback:
/// these bytes become the OAuth `state`, the PKCE verifier and nonces, and time-and-pid bytes would be guessable
/// (issue #10), so a failing source is an error.
pub(crate) fn random_hex(n: usize) -> Result<String> {
    fill_hex(n, |bytes| ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), bytes))
}

/// `n` bytes from `fill` as hex, or an error when `fill` fails (a parameter so that tests can make it fail; ring's
/// `SecureRandom` is sealed).
fn fill_hex(n: usize, fill: impl FnOnce(&mut [u8]) -> Result<(), ring::error::Unspecified>) -> Result<String> {
    let mut bytes = zeroize::Zeroizing::new(vec![0u8; n]);
    fill(&mut bytes).map_err(|_| {
        Error::Other("the system's random number generator failed (getrandom); refusing to go on without it".into())
    })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// This machine's host name, reduced to letters, digits and '-' (it goes into GoodData token ids).
pub(crate) fn hostname() -> String {
    let raw = process::hostname();
    let name: String = raw.trim().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).take(40).collect();
    if name.is_empty() { "host".into() } else { name }
}

/// What the process needs before anything else, whichever entry point ran (see `process`).
pub(crate) fn start() {
    process::start();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_bytes_fail_closed() {
        let e = fill_hex(16, |_| Err(ring::error::Unspecified)).unwrap_err();
        assert!(e.to_string().contains("random number generator failed"), "{e}");
        let hex = fill_hex(4, |b| {
            b.copy_from_slice(&[0, 1, 0xab, 0xff]);
            Ok(())
        })
        .unwrap();
        assert_eq!(hex, "0001abff");
        let (a, b) = (random_hex(16).unwrap(), random_hex(16).unwrap());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }
}
