//! Windows: std's start-up already gives a process valid standard handles, and there is no SIGPIPE (a write to a
//! closed pipe is an error, `ERROR_NO_DATA`, which std reports as a broken pipe).
//!
//! Hardening is left out on purpose: Linux's non-dumpable flag keeps other processes of the same user from reading
//! tokenfob's memory, but on Windows any process of the same user may open tokenfob with `PROCESS_VM_READ` unless
//! its DACL says otherwise, and the user owns that DACL and can rewrite it, so tightening it would only look like
//! protection. Windows Error Reporting keeps crash dumps only where the user or an administrator turned that on.

/// Nothing to do (see the module comment).
pub(crate) fn start() {}

/// This machine's host name (its DNS host name, as `hostname` prints it), empty if it cannot be read.
pub(crate) fn hostname() -> String {
    use windows_sys::Win32::System::SystemInformation::{ComputerNameDnsHostname, GetComputerNameExW};
    let mut buf = [0u16; 256];
    let mut len = buf.len() as u32;
    // SAFETY: `len` is the buffer's length in characters; the call writes at most that many.
    if unsafe { GetComputerNameExW(ComputerNameDnsHostname, buf.as_mut_ptr(), &mut len) } == 0 {
        return String::new();
    }
    String::from_utf16_lossy(&buf[..(len as usize).min(buf.len())])
}
