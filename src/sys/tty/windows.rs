//! Windows: the console, opened as `CONIN$` and `CONOUT$` whatever stdin and stdout are (a pipe to kubectl or git),
//! so a prompt never lands in the answer. Opening them fails when the process has no console (a service, a GUI
//! program's child started without one), which is exactly when tokenfob must not prompt. A line is read with
//! `ReadConsoleW` (so any character can be typed) after `SetConsoleMode` has turned echo off; the mode is put back
//! after, even when reading fails or Ctrl+C ends the process (`cleanup`).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::windows::io::AsRawHandle;

use windows_sys::Win32::System::Console::{
    CONSOLE_MODE, ENABLE_ECHO_INPUT, ENABLE_LINE_INPUT, ENABLE_PROCESSED_INPUT, GetConsoleMode, ReadConsoleW,
    SetConsoleMode, WriteConsoleW,
};

/// The console's name, for messages.
pub(crate) const NAME: &str = "CONIN$";

/// The longest line read (in UTF-16 units); a longer one is an error, not an allocation.
const MAX_LINE: usize = 64 * 1024;

/// The console's input and output.
pub(crate) struct Tty {
    input: File,
    output: File,
}

impl Tty {
    /// Opens the console, or `None` when there is none.
    pub(crate) fn open() -> Option<Tty> {
        let input = OpenOptions::new().read(true).write(true).open("CONIN$").ok()?;
        let output = OpenOptions::new().read(true).write(true).open("CONOUT$").ok()?;
        let mut mode: CONSOLE_MODE = 0;
        // SAFETY: GetConsoleMode only reads the mode of a handle we own; it fails for what is not a console.
        (unsafe { GetConsoleMode(input.as_raw_handle(), &mut mode) } != 0).then_some(Tty { input, output })
    }

    /// Shows `prompt` and reads one line as typed (echo on), without the line end; `None` at the end of input.
    pub(crate) fn read_line(&mut self, prompt: &str) -> io::Result<Option<String>> {
        self.write_all(prompt.as_bytes())?;
        match self.read_units() {
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(None),
            other => other.map(Some),
        }
    }

    /// Shows `prompt`, reads one line with echo off, and returns it without the line end.
    pub(crate) fn read_hidden(&mut self, prompt: &str) -> io::Result<String> {
        self.write_all(prompt.as_bytes())?;
        let handle = self.input.as_raw_handle();
        let mut saved: CONSOLE_MODE = 0;
        // SAFETY: reads the mode of a console handle we own.
        let have_mode = unsafe { GetConsoleMode(handle, &mut saved) } != 0;
        if have_mode {
            let quiet = (saved & !ENABLE_ECHO_INPUT) | ENABLE_LINE_INPUT | ENABLE_PROCESSED_INPUT;
            // Ctrl+C while echo is off must not leave the console silent (see `cleanup`).
            crate::sys::cleanup::guard_console(handle as isize, saved);
            // SAFETY: as above; the mode is restored below.
            unsafe { SetConsoleMode(handle, quiet) };
        }
        let read = self.read_units();
        if have_mode {
            // SAFETY: restores what GetConsoleMode returned.
            unsafe { SetConsoleMode(handle, saved) };
            crate::sys::cleanup::release_console();
            // Echo was off, so the Enter the user typed did not move the cursor: do it for them.
            let _ = self.write_all(b"\r\n");
        }
        read
    }

    /// Reads UTF-16 units up to the line end, and returns them as a string without it.
    fn read_units(&mut self) -> io::Result<String> {
        let mut units = zeroize::Zeroizing::new(Vec::<u16>::new());
        let mut buf = zeroize::Zeroizing::new([0u16; 256]);
        loop {
            let mut got = 0u32;
            // SAFETY: the buffer holds 256 units, as we say; `got` receives how many were written.
            let ok = unsafe {
                ReadConsoleW(self.input.as_raw_handle(), buf.as_mut_ptr().cast(), 256, &mut got, std::ptr::null())
            };
            if ok == 0 {
                return Err(io::Error::last_os_error());
            }
            let got = &buf[..(got as usize).min(buf.len())];
            if got.is_empty() {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            units.extend_from_slice(got);
            if units.len() > MAX_LINE {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "the line typed is too long"));
            }
            if let Some(end) = line_end(&units) {
                return String::from_utf16(&units[..end])
                    .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "the line typed is not valid text"));
            }
        }
    }
}

/// The length of the line in `units` without its end, once its `\n` has been read (the console ends a line with
/// `\r\n`, which can arrive in two reads: stopping at the `\r` would leave the `\n` for the next prompt).
fn line_end(units: &[u16]) -> Option<usize> {
    let newline = units.iter().position(|&u| u == u16::from(b'\n'))?;
    Some(if newline > 0 && units[newline - 1] == u16::from(b'\r') { newline - 1 } else { newline })
}

impl Write for Tty {
    /// Writes `buf` as text (UTF-8, shown with `WriteConsoleW` so any character appears as it should).
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let wide: Vec<u16> = String::from_utf8_lossy(buf).encode_utf16().collect();
        let mut done = 0usize;
        while done < wide.len() {
            let chunk = &wide[done..wide.len().min(done + 8192)];
            let mut wrote = 0u32;
            // SAFETY: `chunk` holds as many units as we say; `wrote` receives how many were written.
            let ok = unsafe {
                WriteConsoleW(
                    self.output.as_raw_handle(),
                    chunk.as_ptr(),
                    chunk.len() as u32,
                    &mut wrote,
                    std::ptr::null(),
                )
            };
            if ok == 0 || wrote == 0 {
                return Err(io::Error::last_os_error());
            }
            done += wrote as usize;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::line_end;

    fn units(text: &str) -> Vec<u16> {
        text.encode_utf16().collect()
    }

    #[test]
    fn a_line_ends_at_its_newline_and_loses_the_carriage_return_before_it() {
        assert_eq!(line_end(&units("secret\r\n")), Some(6));
        assert_eq!(line_end(&units("secret\n")), Some(6));
        assert_eq!(line_end(&units("\r\n")), Some(0));
        // A 255-unit line read 256 units at a time: the first read ends with the `\r`, the `\n` is still to come.
        let mut line = units(&"x".repeat(255));
        line.push(u16::from(b'\r'));
        assert_eq!(line_end(&line), None, "the \\n is still in the console");
        line.push(u16::from(b'\n'));
        assert_eq!(line_end(&line), Some(255));
    }
}
