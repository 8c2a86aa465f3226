//! The test harness: a sandbox with its own HOME, config, cache and emulator, and a runner that checks every
//! stderr it captures for every secret the test has used or seen.

#![allow(dead_code)]

pub mod pty;
pub mod server;
pub mod wine;

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use tokenfob_emulator::Emulator;
use tokenfob_emulator::util::rfc3339;

/// What a finished run printed.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts success and returns stdout without the trailing newline.
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "expected success, got {self:#?}");
        self.stdout.strip_suffix('\n').unwrap_or(&self.stdout)
    }

    /// Asserts the exit code and that stderr mentions `needle`.
    pub fn fails(&self, code: i32, needle: &str) -> &Self {
        assert_eq!(self.code, code, "{self:#?}");
        assert!(self.stderr.contains(needle), "stderr lacks {needle:?}: {self:#?}");
        assert!(self.stdout.is_empty(), "a failure printed on stdout: {self:#?}");
        self
    }
}

/// A test's world: a temporary HOME with config and cache, and an emulator of the seed APIs.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
    pub emu: Emulator,
    pub od_password: String,
    pub session_password: String,
    pub gd_bootstrap: String,
    secrets: RefCell<Vec<String>>,
    extra_env: RefCell<Vec<(String, String)>>,
    /// Set when the sandbox runs the Windows tokenfob.exe under Wine instead of the Linux binary.
    wine: Option<&'static wine::Wine>,
}

fn random() -> String {
    tokenfob_emulator::util::random_hex(8)
}

impl Sandbox {
    /// A sandbox whose config has the three seed profiles.
    pub fn new() -> Sandbox {
        let od_password = format!("od-pw-{}", random());
        let session_password = format!("sess-pw-{}", random());
        let gd_bootstrap = format!("gd-boot-{}", random());
        let emu = Emulator::start(&od_password, &session_password, &gd_bootstrap).unwrap();
        let sandbox = Sandbox {
            dir: tempfile::tempdir().unwrap(),
            emu,
            secrets: RefCell::new(vec![od_password.clone(), session_password.clone(), gd_bootstrap.clone()]),
            od_password,
            session_password,
            gd_bootstrap,
            extra_env: RefCell::new(Vec::new()),
            wine: None,
        };
        sandbox.write_config(&sandbox.seed_config());
        sandbox
    }

    /// A sandbox whose runs are the Windows tokenfob.exe under Wine, or `None` (with a printed reason) when that is
    /// not set up (see [`wine::wine`]).
    pub fn windows() -> Option<Sandbox> {
        let wine = wine::wine()?;
        Some(Sandbox { wine: Some(wine), ..Sandbox::new() })
    }

    /// The Wine setup when this sandbox runs the Windows build.
    pub fn wine(&self) -> Option<&'static wine::Wine> {
        self.wine
    }

    /// `path` as the binary under test names it: itself, or its Windows form under Wine.
    pub fn native(&self, path: &Path) -> std::ffi::OsString {
        match self.wine {
            Some(_) => wine::windows_path(path).into(),
            None => path.into(),
        }
    }

    /// The program and leading arguments that start the binary under test from another tool (a kubeconfig's exec
    /// command, a git helper): the Linux binary, or `wine64 Z:\...\tokenfob.exe`.
    pub fn launcher(&self) -> (PathBuf, Vec<String>) {
        match self.wine {
            Some(wine) => (wine.loader.clone(), vec![wine::windows_path(&wine.exe)]),
            None => (PathBuf::from(env!("CARGO_BIN_EXE_tokenfob")), Vec::new()),
        }
    }

    /// The three seed profiles, as the issue writes them, pointed at the emulator (the demo's configuration).
    pub fn seed_config(&self) -> String {
        tokenfob_emulator::seed_config(&self.emu.url())
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("config.toml")
    }

    pub fn cache_dir(&self) -> PathBuf {
        self.dir.path().join("cache")
    }

    pub fn write_config(&self, text: &str) {
        std::fs::write(self.config_path(), text).unwrap();
        let mut perms = std::fs::metadata(self.config_path()).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o600);
        std::fs::set_permissions(self.config_path(), perms).unwrap();
    }

    /// Adds a variable to every later run.
    pub fn set_env(&self, name: &str, value: &str) {
        self.extra_env.borrow_mut().push((name.into(), value.into()));
    }

    /// Registers a value that must never appear on stderr.
    pub fn secret(&self, value: &str) {
        self.secrets.borrow_mut().push(value.to_owned());
    }

    #[allow(clippy::disallowed_methods)] // the test process's own PATH, to find sh for command sources
    /// The command, with a clean environment and debug logging on (so redaction is checked at its noisiest).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = match self.wine {
            Some(wine) => wine.command(),
            None => Command::new(env!("CARGO_BIN_EXE_tokenfob")),
        };
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("TOKENFOB_CONFIG", self.native(&self.config_path()))
            .env("TOKENFOB_CACHE_DIR", self.native(&self.cache_dir()))
            .env("TOKENFOB_LOG", "debug")
            .env("OD_PASSWORD", &self.od_password)
            .env("ACME_PASSWORD", &self.session_password)
            .env("GDC_API_TOKEN", &self.gd_bootstrap)
            .stdin(Stdio::null());
        if let Some(wine) = self.wine {
            cmd.envs(wine.env());
        }
        for (k, v) in self.extra_env.borrow().iter() {
            cmd.env(k, v);
        }
        cmd
    }

    /// Another program (kubectl, curl, bash) in the same clean environment, with tokenfob's directory first on PATH.
    pub fn tool_command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let base = self.command(&[]);
        let mut cmd = Command::new(program);
        cmd.env_clear().envs(base.get_envs().filter_map(|(k, v)| Some((k.to_owned(), v?.to_owned()))));
        let exe_dir = Path::new(env!("CARGO_BIN_EXE_tokenfob")).parent().unwrap().to_owned();
        let path = base.get_envs().find(|(k, _)| *k == "PATH").and_then(|(_, v)| v).unwrap_or_default();
        cmd.env("PATH", std::env::join_paths(std::iter::once(exe_dir).chain(std::env::split_paths(path))).unwrap());
        cmd.stdin(Stdio::null());
        cmd
    }

    /// `bash -c SCRIPT` in the sandbox's directory (so relative paths land there), with tokenfob first on PATH.
    pub fn bash(&self, script: &str) -> Run {
        let mut cmd = self.tool_command("bash");
        cmd.args(["-c", script]).current_dir(self.dir.path());
        self.check(cmd.output().unwrap())
    }

    /// Runs `cmd` with `input` on stdin and checks its stderr for secrets. The input is written from a thread that
    /// does not mind the program exiting before it has read it all (a helper that refuses an oversized request, or
    /// reads nothing), as the tools that run helpers do not.
    pub fn feed(&self, mut cmd: Command, input: impl AsRef<[u8]>) -> Run {
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let (mut stdin, input) = (child.stdin.take().unwrap(), input.as_ref().to_vec());
        let writer = std::thread::spawn(move || std::io::Write::write_all(&mut stdin, &input));
        let out = self.check(child.wait_with_output().unwrap());
        let _ = writer.join();
        out
    }

    /// Runs tokenfob and checks its stderr for secrets.
    pub fn run(&self, args: &[&str]) -> Run {
        let out = self.command(args).output().unwrap();
        self.check(out)
    }

    /// Turns an output into a [`Run`], learning the tokens it printed and checking stderr for every secret.
    pub fn check(&self, out: Output) -> Run {
        let run = Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        self.learn_cache_secrets();
        for secret in self.secrets.borrow().iter() {
            assert!(!run.stderr.contains(secret.as_str()), "a secret reached stderr: {run:#?}");
        }
        run
    }

    /// Every token and refresh token in the cache is a secret from now on.
    fn learn_cache_secrets(&self) {
        let Ok(dir) = std::fs::read_dir(self.cache_dir()) else { return };
        for file in dir.flatten() {
            // A test may plant a FIFO or a directory there; reading it would hang the test, not tokenfob.
            if !file.file_type().is_ok_and(|t| t.is_file()) {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(file.path()) else { continue };
            let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else { continue };
            for key in ["token", "refresh_token"] {
                if let Some(s) = json[key].as_str() {
                    self.secret(s);
                }
            }
        }
    }

    /// `tokenfob get ARGS`, asserted to succeed; returns the token.
    pub fn get(&self, args: &[&str]) -> String {
        let mut all = vec!["get"];
        all.extend_from_slice(args);
        let token = self.run(&all).ok().to_owned();
        self.secret(&token);
        token
    }

    pub fn entry_path(&self, profile: &str) -> PathBuf {
        self.cache_dir().join(format!("{profile}.json"))
    }

    /// The cache entry of `profile` as JSON.
    pub fn entry(&self, profile: &str) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(self.entry_path(profile)).unwrap()).unwrap()
    }

    /// Rewrites the cache entry of `profile`.
    pub fn edit_entry(&self, profile: &str, edit: impl FnOnce(&mut serde_json::Value)) {
        let mut entry = self.entry(profile);
        edit(&mut entry);
        std::fs::write(self.entry_path(profile), serde_json::to_vec(&entry).unwrap()).unwrap();
    }

    /// Makes the cached token of `profile` still valid but inside its 60 s refresh margin (it expires in 30 s, and
    /// was obtained an hour ago: a token near the end of a long life, not a short-lived one).
    pub fn expire_soon(&self, profile: &str) {
        let now = time::OffsetDateTime::now_utc();
        let soon = now + time::Duration::seconds(30);
        self.edit_entry(profile, |e| {
            e["expires_at"] = rfc3339(soon).into();
            e["obtained_at"] = rfc3339(now - time::Duration::hours(1)).into();
        });
    }

    /// Makes the cached token of `profile` expired.
    pub fn expire(&self, profile: &str) {
        self.edit_entry(profile, |e| e["expires_at"] = "2000-01-01T00:00:00Z".into());
    }
}

/// A long-running `tokenfob protocol` process, asked one request line at a time.
pub struct Protocol<'a> {
    sandbox: &'a Sandbox,
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    stdout: std::io::BufReader<std::process::ChildStdout>,
}

impl<'a> Protocol<'a> {
    pub fn spawn(sandbox: &'a Sandbox) -> Protocol<'a> {
        let mut child = sandbox
            .command(&["protocol"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        Protocol { sandbox, child, stdin, stdout }
    }

    /// Sends `{"v":1,"op":"get","profile":PROFILE}` and returns the answer line as JSON.
    pub fn get(&mut self, profile: &str) -> serde_json::Value {
        use std::io::{BufRead, Write};
        writeln!(self.stdin, r#"{{"v":1,"op":"get","profile":"{profile}"}}"#).unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap()
    }

    /// Closes stdin, waits for the process to end and checks its stderr for secrets.
    pub fn finish(self) -> Run {
        let Protocol { sandbox, child, stdin, stdout } = self;
        drop(stdin);
        drop(stdout);
        sandbox.check(child.wait_with_output().unwrap())
    }
}

/// The curl wrapper script from integrations/curl.
pub const CURL_WRAPPER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/integrations/curl/tokenfob-curl");

/// A 127.0.0.1 port with nothing listening.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// True when `path` has exactly these permission bits.
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Every regular file under `root` (symbolic links are not followed) whose bytes contain `needle`: where a tool
/// wrote a secret it should not have.
pub fn files_containing(root: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![root.to_owned()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else { continue };
            if kind.is_dir() {
                dirs.push(entry.path());
            } else if kind.is_file()
                && std::fs::read(entry.path()).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
            {
                found.push(entry.path());
            }
        }
    }
    found
}
