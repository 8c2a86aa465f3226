//! Unix: SIGPIPE ignored, descriptors 0 to 2 open, and the process made non-dumpable (Linux) or closed to
//! debuggers (macOS).

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

/// This machine's host name as the kernel knows it (`gethostname`), empty if it cannot be read.
pub(crate) fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is as long as we say; gethostname writes at most that many bytes.
    if unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } != 0 {
        return String::new();
    }
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..len]).into_owned()
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
#[cfg(target_os = "linux")]
fn harden() {
    // SAFETY: prctl with PR_SET_DUMPABLE takes plain integers and touches only this process.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
}

/// macOS's counterpart, as ssh-agent does there: `PT_DENY_ATTACH` refuses debuggers (and task_for_pid through
/// them) for the rest of this process's life. Not verified on a Mac from this project's CI, which only compiles it.
#[cfg(target_os = "macos")]
fn harden() {
    // SAFETY: PT_DENY_ATTACH takes no address or data and touches only this process.
    unsafe {
        libc::ptrace(libc::PT_DENY_ATTACH, 0, std::ptr::null_mut(), 0);
    }
}

/// Other Unix systems: no counterpart is used (FreeBSD's procctl would be one); core dumps stay as configured.
#[cfg(not(any(target_os = "linux", target_os = "macos")))]
fn harden() {}
