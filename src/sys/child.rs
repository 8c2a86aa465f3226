//! Running a child program: the one runner behind `command` profiles and `{ command = ... }` secrets, the shell
//! that runs a command line, `tokenfob exec`, and the browser.
//!
//! A child gets no stdin, inherits stderr (so its own prompts and errors reach the user), and its stdout is read
//! to at most a bound. It runs with whatever it starts in a group that can be killed as one (a process group on
//! Unix, a job object on Windows): on the profile's `timeout`, on output over the bound, and when tokenfob itself is
//! ended (see `cleanup`). Nothing is passed in argv but what the configuration wrote there. How the group is made,
//! waited on and killed is `child/unix.rs` or `child/windows.rs`.

use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

#[cfg_attr(unix, path = "child/unix.rs")]
#[cfg_attr(windows, path = "child/windows.rs")]
mod platform;

pub(crate) use platform::{SHELL, browser, browser_from, exec};

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

/// The argv that runs `line` with the system's shell (`sh -c` on Unix, `cmd /D /S /C` on Windows).
pub(crate) fn shell_argv(line: &str) -> Vec<String> {
    SHELL.iter().map(|s| (*s).to_owned()).chain([line.to_owned()]).collect()
}

/// The command for `argv` (not empty); a [`shell_argv`] line is passed to the shell as written.
pub(crate) fn command(argv: &[String]) -> Command {
    platform::command(argv)
}

/// Runs `command` for at most `timeout` and returns its standard output (at most `max` bytes).
pub(crate) fn output(mut command: Command, timeout: Duration, max: usize) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let deadline = Instant::now() + timeout;
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::inherit());
    let mut running = platform::Running::spawn(command)?;
    let read = running.read_bounded(deadline, max);
    if read.is_err() || !running.exited_by(deadline) {
        running.kill();
    }
    let status = running.wait().map_err(Failure::Read)?;
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
