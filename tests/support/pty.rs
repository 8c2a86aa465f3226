//! A program on a pseudo-terminal: it is the session leader with the terminal as its controlling terminal (so
//! `/dev/tty` is this terminal), and the test reads what it shows and types answers, as a person would.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::FromRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running program and the terminal's other end.
pub struct Pty {
    master: File,
    child: Child,
    seen: Arc<Mutex<Vec<u8>>>,
    /// How much of `seen` an `expect` has consumed.
    mark: usize,
}

/// How long a test waits for a prompt before it fails with what the terminal showed (never a timing assertion:
/// only a bound on a hang).
const PATIENCE: Duration = Duration::from_secs(30);

impl Pty {
    /// Starts `cmd` with stdin, stdout and stderr on a new pseudo-terminal that becomes its controlling terminal.
    pub fn spawn(mut cmd: Command) -> Pty {
        let (mut master, mut slave) = (0, 0);
        // SAFETY: openpty writes the two descriptors it opens; no name, settings or size are passed.
        let rc =
            unsafe { libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), std::ptr::null()) };
        assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
        // SAFETY: both descriptors were just opened and are owned here alone.
        let (master, slave) = unsafe { (File::from_raw_fd(master), File::from_raw_fd(slave)) };
        cmd.stdin(slave.try_clone().unwrap()).stdout(slave.try_clone().unwrap()).stderr(slave);
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() == -1 || libc::ioctl(0, libc::TIOCSCTTY, 0) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().unwrap();
        // The slave's copies in `cmd` must close, or the master never sees the end when the program exits.
        drop(cmd);
        let seen: Arc<Mutex<Vec<u8>>> = Arc::default();
        let (mut reader, sink) = (master.try_clone().unwrap(), Arc::clone(&seen));
        std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            // Linux reports EIO once the program and its children have closed the terminal.
            while let Ok(n @ 1..) = reader.read(&mut chunk) {
                sink.lock().unwrap().extend_from_slice(&chunk[..n]);
            }
        });
        Pty { master, child, seen, mark: 0 }
    }

    /// Everything the terminal showed so far.
    pub fn transcript(&self) -> String {
        String::from_utf8_lossy(&self.seen.lock().unwrap()).into_owned()
    }

    /// Waits until the terminal shows `needle` after what earlier expectations consumed.
    pub fn expect(&mut self, needle: &str) {
        let start = Instant::now();
        loop {
            let seen = self.seen.lock().unwrap();
            if let Some(at) = find(&seen[self.mark..], needle.as_bytes()) {
                self.mark += at + needle.len();
                return;
            }
            drop(seen);
            assert!(
                start.elapsed() < PATIENCE,
                "the terminal never showed {needle:?}; it showed:\n{}",
                self.transcript()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Types `line` and Enter.
    pub fn send(&mut self, line: &str) {
        self.master.write_all(format!("{line}\n").as_bytes()).unwrap();
        self.master.flush().unwrap();
    }

    /// Waits for the program to end; its exit code and the whole transcript.
    pub fn finish(mut self) -> (i32, String) {
        let status = self.child.wait().unwrap();
        // What the program wrote last may still be on its way through the reader thread.
        let start = Instant::now();
        while Arc::strong_count(&self.seen) > 1 && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(20));
        }
        (status.code().unwrap_or(-1), self.transcript())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
