//! Windows: the child runs in a job object of its own, created with `JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE`, so that
//! whatever a `cmd /C` line starts is killed with it: on the timeout, on output over the bound, and however
//! tokenfob ends (Windows closes the job handle of a process that dies). Its output is read by a thread, since a
//! pipe cannot be waited on with a timeout; its exit is waited for with `WaitForSingleObject`.
//!
//! Limit: the child is put into the job just after it starts (std cannot start it suspended and resume it), so a
//! program that starts another one within its first microseconds could leave that one outside the job.

use std::io::Read;
use std::os::windows::ffi::OsStringExt;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
use std::os::windows::process::CommandExt;
use std::process::{Child, Command, ExitStatus};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use windows_sys::Win32::Foundation::{HANDLE, WAIT_OBJECT_0};
use windows_sys::Win32::System::Console::SetConsoleCtrlHandler;
use windows_sys::Win32::System::JobObjects::{
    AssignProcessToJobObject, CreateJobObjectW, JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION, JobObjectExtendedLimitInformation, SetInformationJobObject,
    TerminateJobObject,
};
use windows_sys::Win32::System::SystemInformation::GetSystemDirectoryW;
use windows_sys::Win32::System::Threading::WaitForSingleObject;
use zeroize::Zeroizing;

use super::Failure;

/// The shell that runs a command line: `cmd`, without AutoRun commands (`/D`), taking the quoted line as written
/// (`/S`).
pub(crate) const SHELL: &[&str] = &["cmd", "/D", "/S", "/C"];

/// The command for `argv` (not empty). A shell line is passed to `cmd` verbatim in quotes, which `/S` strips:
/// std's quoting follows the C runtime's rules, which `cmd` does not read.
pub(super) fn command(argv: &[String]) -> Command {
    let shell = argv.len() == SHELL.len() + 1 && argv.iter().zip(SHELL).all(|(a, s)| a.eq_ignore_ascii_case(s));
    let mut command = if shell { Command::new(system_cmd()) } else { Command::new(&argv[0]) };
    if shell {
        command.args(&argv[1..SHELL.len()]).raw_arg(format!("\"{}\"", argv[SHELL.len()]));
    } else {
        command.args(&argv[1..]);
    }
    command
}

/// `cmd.exe` in the system directory (`%SystemRoot%\\System32`, asked of Windows rather than read from the
/// environment), not whatever `cmd` the current directory or PATH holds; plain `cmd` if that cannot be found.
fn system_cmd() -> std::ffi::OsString {
    let mut buf = [0u16; 520];
    // SAFETY: the buffer holds as many units as we say; the result is the length written, 0 on failure.
    let len = unsafe { GetSystemDirectoryW(buf.as_mut_ptr(), buf.len() as u32) } as usize;
    if len == 0 || len >= buf.len() {
        return "cmd".into();
    }
    let mut path = std::path::PathBuf::from(std::ffi::OsString::from_wide(&buf[..len]));
    path.push("cmd.exe");
    path.into_os_string()
}

/// Windows cannot replace a process with another: runs `command` (stdin, stdout and stderr inherited) in a
/// kill-on-close job, so that it ends with tokenfob if tokenfob is killed, waits for it, and exits with its exit
/// code. Ctrl+C is ignored here meanwhile, as a shell does: the console delivers it to the child too, which
/// decides. Returns only the error when the command cannot be started.
pub(crate) fn exec(mut command: Command) -> std::io::Error {
    let job = match kill_on_close_job() {
        Ok(job) => job,
        Err(e) => return e,
    };
    // SAFETY: a handler function (unlike the NULL handler, whose "ignore Ctrl+C" a child inherits) that only
    // returns; set before the spawn so that no Ctrl+C in between ends tokenfob and leaves the child behind.
    unsafe { SetConsoleCtrlHandler(Some(ignore_ctrl), 1) };
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => return e,
    };
    // SAFETY: both handles are open.
    if unsafe { AssignProcessToJobObject(job.as_raw_handle(), child.as_raw_handle()) } == 0 {
        let e = std::io::Error::last_os_error();
        let _ = child.kill();
        let _ = child.wait();
        return e;
    }
    match child.wait() {
        Ok(status) => {
            // What the command left running on purpose outlives tokenfob, as after a Unix exec.
            let _ = set_limits(&job, 0);
            std::process::exit(status.code().unwrap_or(1))
        }
        Err(e) => e,
    }
}

/// A console control handler that takes Ctrl+C and Ctrl+Break and does nothing (the child gets them too).
unsafe extern "system" fn ignore_ctrl(_event: u32) -> windows_sys::core::BOOL {
    1
}

/// The command that opens `url` in the default browser (without `cmd`, which would read `&` in the URL).
pub(crate) fn browser(url: &str) -> Vec<String> {
    vec!["rundll32".into(), "url.dll,FileProtocolHandler".into(), url.into()]
}

/// The command for `$BROWSER` (`value`): its first ';'-separated entry (':' is in `C:\\`), taken whole as
/// the program's path (which may hold spaces, as `C:\\Program Files\\...` does), quotes around it dropped, with `url`
/// as its argument; the URL handler when that entry is empty.
pub(crate) fn browser_from(value: &str, url: &str) -> Vec<String> {
    let entry = value.split(';').next().unwrap_or(value).trim();
    let program = entry.strip_prefix('"').and_then(|e| e.strip_suffix('"')).unwrap_or(entry);
    if program.is_empty() { browser(url) } else { vec![program.to_owned(), url.to_owned()] }
}

/// A child running in a job object of its own.
pub(super) struct Running {
    child: Child,
    job: OwnedHandle,
    output: Option<mpsc::Receiver<Result<Zeroizing<Vec<u8>>, Failure>>>,
}

impl Running {
    /// Starts `command` and puts it into a new kill-on-close job.
    pub(super) fn spawn(mut command: Command) -> Result<Running, Failure> {
        let job = kill_on_close_job().map_err(Failure::Start)?;
        let mut child = command.spawn().map_err(Failure::Start)?;
        // SAFETY: both handles are open.
        if unsafe { AssignProcessToJobObject(job.as_raw_handle(), child.as_raw_handle()) } == 0 {
            let e = std::io::Error::last_os_error();
            let _ = child.kill();
            let _ = child.wait();
            return Err(Failure::Start(e));
        }
        Ok(Running { child, job, output: None })
    }

    /// Reads the child's stdout to its end, the deadline or `max` bytes, whichever comes first.
    pub(super) fn read_bounded(&mut self, deadline: Instant, max: usize) -> Result<Zeroizing<Vec<u8>>, Failure> {
        if self.output.is_none() {
            let stdout = self.child.stdout.take().ok_or_else(|| Failure::Read(std::io::Error::other("no pipe")))?;
            let (send, receive) = mpsc::channel();
            std::thread::spawn(move || drop(send.send(read_all(stdout, max))));
            self.output = Some(receive);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match self.output.as_ref().map(|r| r.recv_timeout(left)) {
            Some(Ok(read)) => read,
            Some(Err(mpsc::RecvTimeoutError::Timeout)) => Err(Failure::TimedOut(Duration::ZERO)),
            _ => Err(Failure::Read(std::io::Error::other("the reader of the output stopped"))),
        }
    }

    /// True when the child exited by `deadline`.
    pub(super) fn exited_by(&self, deadline: Instant) -> bool {
        let left = deadline.saturating_duration_since(Instant::now());
        let ms = u32::try_from(left.as_millis()).unwrap_or(u32::MAX - 1);
        // SAFETY: the process handle is open while `self.child` lives.
        unsafe { WaitForSingleObject(self.child.as_raw_handle() as HANDLE, ms) == WAIT_OBJECT_0 }
    }

    /// Kills the child and everything in its job.
    pub(super) fn kill(&self) {
        // SAFETY: the job handle is open.
        unsafe { TerminateJobObject(self.job.as_raw_handle(), 1) };
    }

    /// Waits for the child and returns its status.
    pub(super) fn wait(mut self) -> std::io::Result<ExitStatus> {
        self.child.wait()
    }
}

/// Reads `stdout` to its end, or fails once it has given more than `max` bytes.
fn read_all(mut stdout: impl Read, max: usize) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let mut out = Zeroizing::new(Vec::new());
    let mut buf = Zeroizing::new([0u8; 8192]);
    loop {
        let n = match stdout.read(&mut buf[..]) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            // The write end closed without EOF (the child was killed): what was read is all there is.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(out),
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

/// A new job object whose processes are killed when its last handle closes.
fn kill_on_close_job() -> std::io::Result<OwnedHandle> {
    // SAFETY: an anonymous job with default security; the handle is owned below.
    let raw = unsafe { CreateJobObjectW(std::ptr::null(), std::ptr::null()) };
    if raw.is_null() {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `raw` is a new handle that nothing else owns.
    let job = unsafe { OwnedHandle::from_raw_handle(raw) };
    set_limits(&job, JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE)?;
    Ok(job)
}

/// Sets the limit flags of `job` (0 for none).
fn set_limits(job: &OwnedHandle, flags: u32) -> std::io::Result<()> {
    // SAFETY: a zeroed limit structure is valid; only the flags are set.
    let mut limits: JOBOBJECT_EXTENDED_LIMIT_INFORMATION = unsafe { std::mem::zeroed() };
    limits.BasicLimitInformation.LimitFlags = flags;
    let size = std::mem::size_of::<JOBOBJECT_EXTENDED_LIMIT_INFORMATION>() as u32;
    // SAFETY: the structure is of the class and size given.
    let ok = unsafe {
        SetInformationJobObject(
            job.as_raw_handle(),
            JobObjectExtendedLimitInformation,
            (&raw const limits).cast(),
            size,
        )
    };
    if ok == 0 { Err(std::io::Error::last_os_error()) } else { Ok(()) }
}

#[cfg(test)]
mod tests {
    use super::super::{output, shell_argv};
    use super::*;

    #[test]
    fn returns_output_and_reports_failures() {
        let second = Duration::from_secs(5);
        let sh = |line: &str| command(&shell_argv(line));
        assert_eq!(output(sh("echo hi"), second, 10).unwrap().trim_ascii(), b"hi");
        assert!(matches!(output(sh("exit 3"), second, 10), Err(Failure::Failed(_))));
        assert!(matches!(output(Command::new("C:\\no\\such\\program.exe"), second, 10), Err(Failure::Start(_))));
        let slow = output(sh("ping -n 30 127.0.0.1"), Duration::from_millis(200), 10_000);
        assert!(matches!(slow, Err(Failure::TimedOut(_))), "{slow:?}");
    }

    #[test]
    fn a_shell_line_runs_the_system_cmd() {
        let program = command(&shell_argv("echo hi")).get_program().to_owned();
        let program = std::path::Path::new(&program);
        assert!(program.is_absolute() && program.ends_with("cmd.exe"), "{program:?}");
    }

    #[test]
    fn browser_is_one_path_up_to_the_first_semicolon() {
        let url = "http://127.0.0.1:1/?a=b&c=d";
        let firefox = "C:\\Program Files\\Mozilla Firefox\\firefox.exe";
        assert_eq!(browser_from(firefox, url), [firefox, url]);
        assert_eq!(browser_from(&format!("\"{firefox}\";C:\\other.exe"), url), [firefox, url]);
    }
}
