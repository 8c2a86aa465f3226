//! Unix: the child runs in a process group of its own, so that a `sh -c` line's grandchildren can be killed with it
//! (also when tokenfob itself gets SIGTERM, SIGINT, SIGHUP or SIGQUIT: see `cleanup`). Its output is waited for
//! with `poll`, its exit with `waitid`. Limit: a process group of its own is not the terminal's foreground group,
//! so a child that reads the terminal itself (not through a pinentry or an agent) is stopped by SIGTTIN until the
//! timeout.

use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use super::Failure;
use crate::sys::cleanup;

/// The shell that runs a command line.
pub(crate) const SHELL: &[&str] = &["sh", "-c"];

/// The command for `argv` (not empty), as written.
pub(super) fn command(argv: &[String]) -> Command {
    let mut command = Command::new(&argv[0]);
    command.args(&argv[1..]);
    command
}

/// Replaces this process with `command` (`execve`); returns only the error when that fails.
pub(crate) fn exec(mut command: Command) -> std::io::Error {
    command.exec()
}

/// The command that opens `url` in the desktop's browser.
pub(crate) fn browser(url: &str) -> Vec<String> {
    let opener = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
    vec![opener.into(), url.into()]
}

/// The command for `$BROWSER` (`value`): its first ':'-separated entry split into words, `%s` replaced by `url` or
/// else `url` added; the desktop's opener when that entry is empty.
pub(crate) fn browser_from(value: &str, url: &str) -> Vec<String> {
    let entry = value.split(':').next().unwrap_or(value);
    if entry.is_empty() {
        browser(url)
    } else if entry.contains("%s") {
        entry.replace("%s", url).split_whitespace().map(str::to_owned).collect()
    } else {
        entry.split_whitespace().map(str::to_owned).chain([url.to_owned()]).collect()
    }
}

/// A child running in a process group of its own.
pub(super) struct Running {
    child: Child,
    pgid: i32,
}

impl Running {
    /// Starts `command` in a new process group, recorded for the signal handler.
    pub(super) fn spawn(mut command: Command) -> Result<Running, Failure> {
        command.process_group(0);
        let (child, pgid) = spawn(command)?;
        Ok(Running { child, pgid })
    }

    /// Reads the child's stdout to its end, the deadline or `max` bytes, whichever comes first.
    pub(super) fn read_bounded(&mut self, deadline: Instant, max: usize) -> Result<Zeroizing<Vec<u8>>, Failure> {
        read_bounded(&mut self.child, deadline, max)
    }

    /// True when the child exited by `deadline` (it stays unreaped: see [`exited_by`]).
    pub(super) fn exited_by(&self, deadline: Instant) -> bool {
        exited_by(&self.child, deadline)
    }

    /// Kills the child's process group.
    pub(super) fn kill(&self) {
        cleanup::kill_group(self.pgid);
    }

    /// Reaps the child and returns its status.
    pub(super) fn wait(mut self) -> std::io::Result<ExitStatus> {
        // The group is still ours until the child is reaped (a zombie keeps its pid), so clear the slot first: that
        // is why `exited_by` only looks. A signal after this no longer kills the group of a child that exited.
        cleanup::set_child(0);
        self.child.wait()
    }
}

/// Starts the child and records its process group for the signal handler, leaving no moment in which a signal
/// would end tokenfob with the child unrecorded (see `cleanup::spawning`). std gives the child an empty signal
/// mask whatever ours is.
fn spawn(mut command: Command) -> Result<(Child, i32), Failure> {
    let spawning = cleanup::spawning().ok_or_else(|| Failure::Start(std::io::ErrorKind::Interrupted.into()))?;
    let spawned = command.spawn();
    let pgid = spawned.as_ref().map_or(0, |c| i32::try_from(c.id()).unwrap_or(0));
    spawning.record(pgid);
    Ok((spawned.map_err(Failure::Start)?, pgid))
}

/// Reads the child's stdout to its end, the deadline or `max` bytes, whichever comes first.
fn read_bounded(child: &mut Child, deadline: Instant, max: usize) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let mut stdout = child.stdout.take().ok_or_else(|| Failure::Read(std::io::Error::other("no pipe")))?;
    let mut out = Zeroizing::new(Vec::new());
    let mut buf = Zeroizing::new([0u8; 8192]);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if !readable(stdout.as_raw_fd(), deadline).map_err(Failure::Read)? {
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

/// True when `fd` has data (or its end) before `deadline`. A signal that interrupts the wait does not end it: the
/// wait goes on for the time left, so that the blocking `read` after a `true` cannot outlive the deadline.
fn readable(fd: i32, deadline: Instant) -> std::io::Result<bool> {
    loop {
        let mut poll = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
        let left = deadline.saturating_duration_since(Instant::now());
        // Rounded up: poll then returns no earlier than the deadline.
        let ms = libc::c_int::try_from(left.as_nanos().div_ceil(1_000_000)).unwrap_or(libc::c_int::MAX);
        // SAFETY: one valid pollfd, for the length given.
        return match unsafe { libc::poll(&mut poll, 1, ms) } {
            -1 if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted => continue,
            -1 => Err(std::io::Error::last_os_error()),
            0 => Ok(false),
            _ => Ok(true),
        };
    }
}

/// Waits until the child has exited or the deadline passed; true when it exited. It only looks (`WNOWAIT`): the
/// child stays a zombie, its pid and group still ours, until `output` has cleared the recorded group and reaps it.
fn exited_by(child: &Child, deadline: Instant) -> bool {
    loop {
        // SAFETY: a zeroed siginfo_t is valid, and waitid writes at most one.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: as above; WNOHANG leaves si_pid 0 when the child has not exited.
        let r =
            unsafe { libc::waitid(libc::P_PID, child.id(), &mut info, libc::WEXITED | libc::WNOHANG | libc::WNOWAIT) };
        match r {
            // SAFETY: waitid filled the fields of a child's state change, or left them zero.
            0 if unsafe { info.si_pid() } != 0 => return true,
            -1 if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted => return false,
            _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Stdio;

    fn sh(line: &str) -> Command {
        let mut c = Command::new("sh");
        c.arg("-c").arg(line);
        c
    }

    #[test]
    fn returns_output_and_reports_failures() {
        use super::super::output;
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

    /// A no-op handler for SIGUSR1, installed without SA_RESTART, so that the signal interrupts `poll`.
    extern "C" fn ignore(_: libc::c_int) {}

    /// Gap 2: a signal during the wait for output used to count as "readable", and the blocking `read` after it
    /// could then outlive the deadline. The wait must go on for the time left.
    #[test]
    fn an_interrupted_wait_for_output_keeps_its_deadline() {
        // SAFETY: sigaction with a zeroed struct and a handler that does nothing.
        unsafe {
            let mut new: libc::sigaction = std::mem::zeroed();
            new.sa_sigaction = ignore as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::sigemptyset(&mut new.sa_mask);
            assert_eq!(libc::sigaction(libc::SIGUSR1, &new, std::ptr::null_mut()), 0);
        }
        let mut child = sh("sleep 5").stdout(Stdio::piped()).process_group(0).spawn().unwrap();
        let fd = child.stdout.as_ref().unwrap().as_raw_fd();
        // SAFETY: pthread_self has no preconditions.
        let me = unsafe { libc::pthread_self() };
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = std::sync::Arc::clone(&stop);
        let poker = std::thread::spawn(move || {
            while !stopped.load(std::sync::atomic::Ordering::SeqCst) {
                // SAFETY: `me` is alive until it has set `stop` and joined this thread.
                unsafe { libc::pthread_kill(me, libc::SIGUSR1) };
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        let started = Instant::now();
        let ready = readable(fd, started + Duration::from_millis(400));
        let waited = started.elapsed();
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        poker.join().unwrap();
        cleanup::kill_group(i32::try_from(child.id()).unwrap());
        child.wait().unwrap();
        assert!(matches!(ready, Ok(false)), "{ready:?} after {waited:?}");
        assert!(waited >= Duration::from_millis(400), "{waited:?}");
    }

    /// Gap 1: learning that the child exited must not reap it, so that its pid (the recorded group) cannot be
    /// reused before `output` has cleared the slot the signal handler kills.
    #[test]
    fn learning_that_a_child_exited_leaves_it_unreaped() {
        let mut child = sh("exit 7").spawn().unwrap();
        let pid = i32::try_from(child.id()).unwrap();
        assert!(exited_by(&child, Instant::now() + Duration::from_secs(5)));
        // A zombie still holds its pid: kill(pid, 0) finds it.
        // SAFETY: signal 0 only checks that the process exists.
        assert_eq!(unsafe { libc::kill(pid, 0) }, 0, "the child was reaped before the group was cleared");
        assert_eq!(child.wait().unwrap().code(), Some(7));
        let mut slow = sh("sleep 5").spawn().unwrap();
        assert!(!exited_by(&slow, Instant::now() + Duration::from_millis(100)));
        slow.kill().unwrap();
        slow.wait().unwrap();
    }
}
