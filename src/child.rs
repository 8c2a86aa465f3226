//! Running a child program: the one runner behind `command` profiles and `{ command = ... }` secrets.
//!
//! A child gets no stdin, inherits stderr (so its own prompts and errors reach the user), and its stdout is read
//! to at most a bound. It runs in a process group of its own, so that a `sh -c` line's grandchildren can be killed
//! with it: on the profile's `timeout`, on output over the bound, and when tokenfob itself gets SIGTERM, SIGINT or
//! SIGHUP (see `cleanup`). Nothing is passed in argv but what the
//! configuration wrote there. Limit: a process group of its own is not the terminal's foreground group, so a child
//! that reads the terminal itself (not through a pinentry or an agent) is stopped by SIGTTIN until the timeout.

use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use crate::cleanup;

/// Why a child gave no output.
#[derive(Debug)]
pub(crate) enum Failure {
    /// It could not be started.
    Start(std::io::Error),
    /// It ran longer than the timeout; it was killed.
    TimedOut(Duration),
    /// It printed more than the bound; it was killed.
    TooMuch(usize),
    /// Its output could not be read.
    Read(std::io::Error),
    /// It exited unsuccessfully.
    Failed(ExitStatus),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Start(e) => write!(f, "cannot start: {e}"),
            Failure::TimedOut(d) => write!(
                f,
                "timed out after {} and was killed (raise the profile's `timeout`, or make the command faster)",
                seconds(*d)
            ),
            Failure::TooMuch(n) => write!(f, "printed more than {n} bytes and was killed"),
            Failure::Read(e) => write!(f, "output cannot be read: {e}"),
            Failure::Failed(status) => write!(f, "failed with {status} (run it yourself to see why)"),
        }
    }
}

/// Runs `command` for at most `timeout` and returns its standard output (at most `max` bytes).
pub(crate) fn output(mut command: Command, timeout: Duration, max: usize) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let deadline = Instant::now() + timeout;
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::inherit()).process_group(0);
    // A signal between spawn and recording the group would orphan the child: hold them off until it is recorded.
    // std gives the child an empty signal mask whatever ours is.
    let held = cleanup::hold();
    let spawned = command.spawn();
    let pgid = spawned.as_ref().map_or(0, |c| i32::try_from(c.id()).unwrap_or(0));
    cleanup::set_child(pgid);
    cleanup::release(held);
    let mut child = spawned.map_err(Failure::Start)?;
    let read = read_bounded(&mut child, deadline, max);
    let status = if read.is_ok() { wait_until(&mut child, deadline) } else { None };
    if status.is_none() {
        cleanup::kill_group(pgid);
    }
    // The group is still ours until the child is reaped (a zombie keeps its pid), so clear the slot first.
    cleanup::set_child(0);
    let status = match status {
        Some(status) => status,
        None => child.wait().map_err(Failure::Read)?,
    };
    let out = read.map_err(|e| if matches!(e, Failure::TimedOut(_)) { Failure::TimedOut(timeout) } else { e })?;
    match status {
        s if !s.success() && Instant::now() >= deadline => Err(Failure::TimedOut(timeout)),
        s if !s.success() => Err(Failure::Failed(s)),
        _ => Ok(out),
    }
}

/// `1s`, `1.5s`, `90s`: how a timeout is shown.
fn seconds(d: Duration) -> String {
    if d.subsec_millis() == 0 { format!("{}s", d.as_secs()) } else { format!("{:.1}s", d.as_secs_f64()) }
}

/// Reads the child's stdout to its end, the deadline or `max` bytes, whichever comes first.
fn read_bounded(child: &mut Child, deadline: Instant, max: usize) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let mut stdout = child.stdout.take().ok_or_else(|| Failure::Read(std::io::Error::other("no pipe")))?;
    let mut out = Zeroizing::new(Vec::new());
    let mut buf = Zeroizing::new([0u8; 8192]);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if !readable(stdout.as_raw_fd(), left).map_err(Failure::Read)? {
            return Err(Failure::TimedOut(left));
        }
        let n = match stdout.read(&mut buf[..]) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Failure::Read(e)),
        };
        if n == 0 {
            return Ok(out);
        }
        if out.len() + n > max {
            return Err(Failure::TooMuch(max));
        }
        out.extend_from_slice(&buf[..n]);
    }
}

/// True when `fd` has data (or its end) before `within` passes.
fn readable(fd: i32, within: Duration) -> std::io::Result<bool> {
    let mut poll = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    let ms = libc::c_int::try_from(within.as_millis()).unwrap_or(libc::c_int::MAX);
    // SAFETY: one valid pollfd, for the length given.
    match unsafe { libc::poll(&mut poll, 1, ms) } {
        -1 if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted => Ok(true),
        -1 => Err(std::io::Error::last_os_error()),
        0 => Ok(false),
        _ => Ok(true),
    }
}

/// Waits for the child to exit, until the deadline; `None` when it is still running (or cannot be waited for).
fn wait_until(child: &mut Child, deadline: Instant) -> Option<ExitStatus> {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(line: &str) -> Command {
        let mut c = Command::new("sh");
        c.arg("-c").arg(line);
        c
    }

    #[test]
    fn returns_output_and_reports_failures() {
        let second = Duration::from_secs(5);
        assert_eq!(&output(sh("printf hi"), second, 10).unwrap()[..], b"hi");
        assert!(matches!(output(sh("exit 3"), second, 10), Err(Failure::Failed(_))));
        assert!(matches!(output(sh("yes"), second, 1000), Err(Failure::TooMuch(1000))));
        assert!(matches!(output(Command::new("/no/such/program"), second, 10), Err(Failure::Start(_))));
        let started = Instant::now();
        let slow = output(sh("sleep 30"), Duration::from_millis(200), 10);
        assert!(matches!(slow, Err(Failure::TimedOut(_))), "{slow:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
