//! The provider under test, a terminal for interactive grants, and small HTTP helpers.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::server::{tool, tools_required};

/// tests/oidc/.
pub fn oidc_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oidc")
}

/// A running oidc-provider; killed on drop.
pub struct Provider {
    pub issuer: String,
    child: Child,
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Provider {
    /// Starts it, or `None` (with a reason) when node or its packages are missing and tools are not required.
    pub fn start() -> Option<Provider> {
        let node = tool("node")?;
        if !oidc_dir().join("node_modules/oidc-provider").is_dir() {
            assert!(!tools_required(), "tests/oidc/node_modules is missing: run `npm ci` in tests/oidc");
            eprintln!("skipping: run `npm ci` in tests/oidc to install oidc-provider");
            return None;
        }
        let mut child = Command::new(node)
            .arg("server.js")
            .current_dir(oidc_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        stdout.read_line(&mut line).unwrap();
        assert!(line.starts_with("http://127.0.0.1:"), "the provider did not start: {line:?}");
        Some(Provider { issuer: line.trim().to_owned(), child, _stdout: stdout })
    }

    /// `{"token": successful token requests, "errors": ..., "revocations": ...}`.
    pub fn counts(&self) -> serde_json::Value {
        let (status, body) = http(&self.issuer, "GET", "/test/counts", None, &[]);
        assert_eq!(status, 200);
        serde_json::from_str(&body).unwrap()
    }

    pub fn tokens(&self) -> u64 {
        self.counts()["token"].as_u64().unwrap()
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal HTTP/1.1 request to 127.0.0.1: (status, body).
pub fn http(base: &str, method: &str, path: &str, form: Option<&str>, headers: &[(&str, &str)]) -> (u16, String) {
    let host = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    let body = form.unwrap_or("");
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    if form.is_some() {
        request.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
    }
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    write!(stream, "{request}\r\n{body}").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

/// A child with a controlling terminal (so tokenfob may interact), whose terminal output is collected.
pub struct WithTerminal {
    pub child: Child,
    screen: Arc<Mutex<String>>,
    _master: Arc<OwnedFd>,
}

impl WithTerminal {
    pub fn spawn(mut cmd: Command) -> WithTerminal {
        let (mut master, mut slave) = (0, 0);
        // SAFETY: openpty fills two descriptors that we then own.
        let rc =
            unsafe { libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), std::ptr::null()) };
        assert_eq!(rc, 0, "openpty failed");
        let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        let slave_fd = slave.as_raw_fd();
        // SAFETY: setsid and TIOCSCTTY are async-signal-safe; they make the pty this child's controlling terminal.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setsid() == -1 || libc::ioctl(slave_fd, libc::TIOCSCTTY, 0) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        drop(slave);
        let master = Arc::new(master);
        let screen = Arc::new(Mutex::new(String::new()));
        let (m, s) = (Arc::clone(&master), Arc::clone(&screen));
        std::thread::spawn(move || {
            let mut file = std::fs::File::from(m.try_clone().unwrap());
            let mut buf = [0u8; 4096];
            while let Ok(n) = file.read(&mut buf) {
                if n == 0 {
                    break;
                }
                s.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        WithTerminal { child, screen, _master: master }
    }

    /// Waits until the terminal shows a line containing `needle` and returns the first URL on the screen.
    pub fn url_after(&self, needle: &str) -> String {
        let started = Instant::now();
        loop {
            let screen = self.screen.lock().unwrap().clone();
            if screen.contains(needle)
                && let Some(url) = screen.split_whitespace().find(|w| w.starts_with("http://"))
            {
                return url.to_owned();
            }
            assert!(started.elapsed() < Duration::from_secs(30), "the terminal never showed {needle:?}: {screen}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn screen(&self) -> String {
        self.screen.lock().unwrap().clone()
    }

    /// True when the terminal echoes what is typed (Linux reads a pty pair's settings through its master).
    pub fn echoes(&self) -> bool {
        // SAFETY: termios is plain data that tcgetattr fills for a descriptor we own.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::tcgetattr(self._master.as_raw_fd(), &mut t) }, 0, "tcgetattr on the pty");
        t.c_lflag & libc::ECHO != 0
    }
}

/// Runs act-as-user.js on `url` (the user confirming in a browser).
pub fn act_as_user(url: &str) {
    let out =
        Command::new(tool("node").unwrap()).arg("act-as-user.js").arg(url).current_dir(oidc_dir()).output().unwrap();
    assert!(
        out.status.success(),
        "acting as the user failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
