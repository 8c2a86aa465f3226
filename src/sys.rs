//! Small facts from the operating system (random bytes, the host name) and process hardening.

use std::io::Read;

/// `n` random bytes from the kernel, as lower-case hex.
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    let filled = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if filled.is_err() {
        // No /dev/urandom (a strange chroot): fall back to time and pid, still unique enough for temp names, and
        // temp files are created with O_EXCL anyway.
        let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos()
            ^ u128::from(std::process::id());
        bytes.iter_mut().enumerate().for_each(|(i, b)| *b = (seed >> ((i % 16) * 8)) as u8);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// This machine's host name, reduced to letters, digits and '-' (it goes into GoodData token ids).
pub fn hostname() -> String {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .unwrap_or_default();
    let name: String = raw.trim().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).take(40).collect();
    if name.is_empty() { "host".into() } else { name }
}

/// Makes this process non-dumpable, as ssh-agent does: no core dump can spill a secret, and other processes of the
/// same user cannot ptrace it or read its memory through /proc. A program started by `tokenfob exec` is dumpable
/// again (execve resets the flag), so its own debugging is not affected.
pub fn harden() {
    // SAFETY: prctl with PR_SET_DUMPABLE takes plain integers and touches only this process.
    #[cfg(target_os = "linux")]
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
}
