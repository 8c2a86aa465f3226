//! Issue #11's reviews: stdout and stderr that cannot be written, readers that go away, and a git request for a
//! host no profile covers, on the fast path and the full path alike.

use std::fs::OpenOptions;
use std::io::Write;
use std::process::Stdio;

use crate::support::Sandbox;

/// A stdout that cannot be written (a full disk) fails the same way whether the token came from the cache-hit fast
/// path or from the full path: `tokenfob get od > file` on a full disk must not exit 0 with nothing written. The
/// fast path used to drop the write error.
#[test]
fn a_full_stdout_fails_on_a_cache_hit_as_on_the_full_path() {
    let s = Sandbox::new();
    s.get(&["od"]);
    let full = || OpenOptions::new().write(true).open("/dev/full").unwrap();
    for args in
        [&["get", "od", "--min-valid", "1s"][..], &["get", "od"], &["get", "od", "-o", "json"], &["kubectl", "od"]]
    {
        let run = s.check(s.command(args).stdout(full()).stderr(Stdio::piped()).output().unwrap());
        assert_eq!(run.code, 1, "{args:?}: {run:#?}");
        assert!(run.stderr.contains("writing to stdout"), "{args:?}: {run:#?}");
    }
    let mut protocol = s.command(&["protocol"]);
    protocol.stdout(full()).stdin(Stdio::piped()).stderr(Stdio::piped());
    let mut child = protocol.spawn().unwrap();
    child.stdin.take().unwrap().write_all(b"{\"v\":1,\"op\":\"get\",\"profile\":\"od\"}\n").unwrap();
    let run = s.check(child.wait_with_output().unwrap());
    assert_eq!(run.code, 1, "protocol: {run:#?}");
    assert_eq!(s.emu.count("od.login"), 1);
}

/// `git-credential` for a host that no profile covers gives no answer and no error, whatever the cache settings:
/// tokenfob is often a global helper, and git runs it for every remote. The broker (which reads the lock timeout and
/// the cache directory) is made only once a profile matched.
#[test]
fn git_credential_for_an_uncovered_host_does_not_need_the_cache() {
    let s = Sandbox::new();
    for (name, value) in [("TOKENFOB_LOCK_TIMEOUT", "soon"), ("TOKENFOB_CACHE_DIR", "relative/cache")] {
        for action in ["get", "erase"] {
            let mut cmd = s.command(&["git-credential", action]);
            cmd.env(name, value).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
            let mut child = cmd.spawn().unwrap();
            child.stdin.take().unwrap().write_all(b"protocol=https\nhost=github.com\npath=a/b.git\n\n").unwrap();
            let run = s.check(child.wait_with_output().unwrap());
            assert_eq!(run.code, 0, "{action} with {name}={value}: {run:#?}");
            // Only debug lines (the sandbox turns them on): no error, no warning.
            let quiet = run.stderr.lines().all(|l| l.starts_with("tokenfob: debug: "));
            assert!(run.stdout.is_empty() && quiet, "{action} with {name}={value}: {run:#?}");
        }
    }
}

/// A reader that goes away is no error, on the fast path and the full path alike.
#[test]
fn a_reader_that_went_away_is_exit_0_on_every_path() {
    let s = Sandbox::new();
    s.get(&["od"]);
    for script in [
        "tokenfob get od | head -c0",
        "tokenfob get od --min-valid 1s | head -c0",
        "tokenfob kubectl od | head -c0",
        "tokenfob status | head -c0",
    ] {
        let run = s.bash(&format!("{script}; echo \"rc=${{PIPESTATUS[0]}}\""));
        assert_eq!(run.stdout.trim(), "rc=0", "{script}: {run:#?}");
    }
}

/// A stderr that cannot be written (full, or a pipe nobody reads) does not abort tokenfob: `eprintln!` panics on a
/// write error, and a panic here would end the process wherever the next warning is printed, also in the middle of
/// a renewal. The exit code stays the one the error has.
#[test]
fn an_unwritable_stderr_does_not_abort() {
    let s = Sandbox::new();
    let full = || OpenOptions::new().write(true).open("/dev/full").unwrap();
    let out = s.command(&["get", "nosuch"]).stderr(full()).stdout(Stdio::piped()).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    // A warning in the middle of a login (a literal secret in a readable configuration) loses only the line.
    s.write_config(&s.seed_config().replace("password = { env = \"OD_PASSWORD\" }", "password = \"hunter2\""));
    std::fs::set_permissions(s.config_path(), std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let out = s.command(&["get", "od"]).stderr(full()).stdout(Stdio::piped()).output().unwrap();
    assert!(out.status.code().is_some(), "{out:?}");
}
