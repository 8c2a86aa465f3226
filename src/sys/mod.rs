//! The operating system: small facts (random bytes, the host name) and process hardening here; files opened
//! without surprises (`fs`), child processes (`child`), the terminal (`tty`), the system keyring (`keyring`) and
//! what a signal must undo (`cleanup`) beside it.

pub(crate) mod child;
mod cleanup;
pub(crate) mod fs;
pub(crate) mod keyring;
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
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .unwrap_or_default();
    let name: String = raw.trim().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).take(40).collect();
    if name.is_empty() { "host".into() } else { name }
}

/// What the process needs before anything else, whichever entry point ran (std's does the first two itself; the C
/// entry on glibc does not, and doing them twice costs two system calls): SIGPIPE ignored, so that a reader that
/// goes away (`| head`) gives EPIPE instead of killing the process mid-write of the cache; descriptors 0 to 2 open;
/// and the process [`harden`]ed.
pub(crate) fn start() {
    // SAFETY: setting a signal disposition to SIG_IGN has no preconditions.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    open_standard_descriptors();
    harden();
}

/// Puts /dev/null on whichever of descriptors 0, 1 and 2 is closed, as std's start-up does: otherwise the next
/// files opened (the configuration, the lock, the cache entry) take those numbers, and the token or a log line is
/// written into one of them.
fn open_standard_descriptors() {
    let mut fds = [0, 1, 2].map(|fd| libc::pollfd { fd, events: 0, revents: 0 });
    // SAFETY: poll reads and writes only the three entries of the array it is given.
    let polled = unsafe { libc::poll(fds.as_mut_ptr(), 3, 0) };
    for pollfd in fds {
        let closed = if polled >= 0 {
            pollfd.revents & libc::POLLNVAL != 0
        } else {
            // SAFETY: F_GETFD only reads the descriptor's flags.
            let failed = unsafe { libc::fcntl(pollfd.fd, libc::F_GETFD) } == -1;
            failed && std::io::Error::last_os_error().raw_os_error() == Some(libc::EBADF)
        };
        // open takes the lowest free number: this one, since the lower ones are open by now. Without it, abort.
        // SAFETY: the path is a NUL-terminated literal.
        if closed && unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) } == -1 {
            std::process::abort();
        }
    }
}

/// Makes this process non-dumpable, as ssh-agent does: no core dump can spill a secret, and other processes of the
/// same user cannot ptrace it or read its memory through /proc. A program started by `tokenfob exec` is dumpable
/// again (execve resets the flag), so its own debugging is not affected.
fn harden() {
    // SAFETY: prctl with PR_SET_DUMPABLE takes plain integers and touches only this process.
    #[cfg(target_os = "linux")]
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
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
