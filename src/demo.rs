//! `tokenfob demo`: the three seed login systems, emulated in this process, driven by real tokenfob processes.
//!
//! It starts the emulator on 127.0.0.1, writes a temporary config and cache directory (mode 0700), runs this same
//! executable as a caller would, and prints what each step cost and which requests reached the server. It checks
//! the counts it prints, exits non-zero if any is wrong, and removes its temporary directory whatever happens.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use tokenfob_emulator::{Emulator, seed_config};

use crate::environment::Env;
use crate::error::{Error, Result};

const OD_PASSWORD: &str = "demo-od-password";
const SESSION_PASSWORD: &str = "demo-session-password";
const GD_BOOTSTRAP: &str = "demo-gd-bootstrap-token";

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One step: the tokenfob arguments, what it should cause, and the counter that proves it.
struct Step {
    args: &'static [&'static str],
    says: &'static str,
    counter: &'static str,
    expect: usize,
}

const STEPS: &[Step] = &[
    Step { args: &["get", "od"], says: "ONE DATA: first get logs in", counter: "od.login", expect: 1 },
    Step { args: &["get", "od"], says: "ONE DATA: second get is a cache hit", counter: "od.login", expect: 1 },
    Step { args: &["get", "acme"], says: "session API: first get logs in", counter: "session.login", expect: 1 },
    Step { args: &["get", "acme"], says: "session API: cache hit", counter: "session.login", expect: 1 },
    Step {
        args: &["get", "acme", "--min-valid", "2h"],
        says: "session API: --min-valid 2h, more than tokens live: no renewal per call",
        counter: "session.refresh",
        expect: 0,
    },
    Step { args: &["get", "gd"], says: "GoodData.CN: mints a personal API token", counter: "gd.mint", expect: 1 },
    Step { args: &["get", "gd"], says: "GoodData.CN: the minted token is kept", counter: "gd.mint", expect: 1 },
    Step {
        args: &["logout", "gd"],
        says: "GoodData.CN: logout deletes it on the server",
        counter: "gd.delete",
        expect: 1,
    },
];

/// Runs the demo, printing to `out`.
pub fn run(env: &Env, out: &mut dyn Write) -> Result<()> {
    let emu = Emulator::start(OD_PASSWORD, SESSION_PASSWORD, GD_BOOTSTRAP)
        .map_err(|e| Error::system("starting the emulator", e))?;
    let dir = TempDir(std::env::temp_dir().join(format!("tokenfob-demo-{}", crate::sys::random_hex(6)?)));
    crate::sys::protect::create_dir(&dir.0).map_err(|e| Error::io("creating", &dir.0, e))?;
    let config = dir.0.join("config.toml");
    std::fs::write(&config, seed_config(&emu.url())).map_err(|e| Error::io("writing", &config, e))?;
    let exe = std::env::current_exe().map_err(|e| Error::system("finding this executable", e))?;
    let say = |out: &mut dyn Write, text: String| crate::faces::write_out(out, &text);
    say(out, format!("tokenfob demo: ONE DATA, a session API and GoodData.CN emulated at {}\n\n", emu.url()))?;
    let mut failed = 0;
    for step in STEPS {
        let (ok, elapsed, shown) = run_step(env, &exe, &dir.0, &config, step.args)?;
        let count = emu.count(step.counter);
        let good = ok && count == step.expect;
        failed += usize::from(!good);
        let mark = if good { "ok  " } else { "FAIL" };
        say(out, format!("{mark} {:<46} {:>7.1} ms  {}={count}  {shown}\n", step.says, elapsed, step.counter))?;
    }
    let (_, _, status) = run_step(env, &exe, &dir.0, &config, &["status"])?;
    say(out, format!("\n$ tokenfob status\n{status}\n"))?;
    if failed > 0 {
        return Err(Error::Other(format!("demo: {failed} step(s) did not do what they should")));
    }
    say(out, "every step did what it said; the temporary config and cache are removed.\n".into())
}

/// Runs tokenfob with `args`; returns success, milliseconds and what to show of its output.
fn run_step(env: &Env, exe: &Path, dir: &Path, config: &Path, args: &[&str]) -> Result<(bool, f64, String)> {
    let started = Instant::now();
    let mut command = Command::new(exe);
    command.env_clear();
    // Windows needs SYSTEMROOT in every process (its sockets do not start without it); elsewhere it is not set.
    if let Some(root) = env.get("SYSTEMROOT") {
        command.env("SYSTEMROOT", root);
    }
    let output = command
        .args(args)
        .env("PATH", env.get("PATH").unwrap_or("/usr/bin:/bin"))
        .env("HOME", dir)
        .env("TOKENFOB_CONFIG", config)
        .env("TOKENFOB_CACHE_DIR", dir.join("cache"))
        .env("TOKENFOB_NO_INPUT", "1")
        .env("OD_PASSWORD", OD_PASSWORD)
        .env("ACME_PASSWORD", SESSION_PASSWORD)
        .env("GDC_API_TOKEN", GD_BOOTSTRAP)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::system(format!("running {}", exe.display()), e))?;
    let elapsed = started.elapsed().as_secs_f64() * 1000.0;
    let text = String::from_utf8_lossy(&output.stdout).trim_end().to_owned();
    let shown = if args[0] == "get" { shorten(&text) } else { text };
    let shown = if output.status.success() { shown } else { String::from_utf8_lossy(&output.stderr).trim().to_owned() };
    Ok((output.status.success(), elapsed, shown))
}

/// The first characters of a demo token, so the output stays one line.
fn shorten(token: &str) -> String {
    let head: String = token.chars().take(16).collect();
    format!("{head}... ({} chars)", token.len())
}
