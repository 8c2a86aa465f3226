//! Unix: the controlling terminal, `/dev/tty`.
//!
//! Opening `/dev/tty` fails when the process has no controlling terminal (cron, CI, kubectl without a terminal),
//! which is exactly when tokenfob must not prompt. Echo is turned off while a secret is typed and restored after,
//! even when reading fails or a signal ends the process (`cleanup`).

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::os::fd::AsRawFd;

/// The terminal's name, for messages.
pub(crate) const NAME: &str = "/dev/tty";

/// An open `/dev/tty`.
pub(crate) struct Tty {
    file: File,
}

impl Tty {
    /// Opens the controlling terminal, or `None` when there is none.
    pub(crate) fn open() -> Option<Tty> {
        let file = OpenOptions::new().read(true).write(true).open("/dev/tty").ok()?;
        // SAFETY: isatty only inspects the descriptor we own.
        (unsafe { libc::isatty(file.as_raw_fd()) } == 1).then_some(Tty { file })
    }

    /// Shows `prompt`, reads one line with echo off, and returns it without the newline.
    pub(crate) fn read_hidden(&mut self, prompt: &str) -> io::Result<String> {
        self.file.write_all(prompt.as_bytes())?;
        self.file.flush()?;
        let fd = self.file.as_raw_fd();
        // SAFETY: termios is plain data; tcgetattr fills it for a descriptor we own.
        let mut saved: libc::termios = unsafe { std::mem::zeroed() };
        let have_termios = unsafe { libc::tcgetattr(fd, &mut saved) } == 0;
        if have_termios {
            let mut quiet = saved;
            quiet.c_lflag &= !libc::ECHO;
            quiet.c_lflag |= libc::ECHONL;
            // A signal while echo is off must not leave the terminal silent (see `cleanup`).
            crate::sys::cleanup::guard_tty(fd, saved);
            // SAFETY: as above; the settings are restored below.
            unsafe { libc::tcsetattr(fd, libc::TCSAFLUSH, &quiet) };
        }
        let mut line = String::new();
        let read = BufReader::new(&self.file).read_line(&mut line);
        if have_termios {
            // SAFETY: restores what tcgetattr returned.
            unsafe { libc::tcsetattr(fd, libc::TCSAFLUSH, &saved) };
            crate::sys::cleanup::release_tty();
        }
        read?;
        let trimmed = line.trim_end_matches(['\n', '\r']).to_owned();
        zeroize::Zeroize::zeroize(&mut line);
        Ok(trimmed)
    }
}

impl Write for Tty {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}
