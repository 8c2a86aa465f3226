//! The faces: git's credential protocol, token validation before any face prints, the JSON protocol after a config
//! edit, the curl wrapper, and child processes (commands and `{command}` secrets).

use std::io::Write;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::server::{Response, Server, tool};
use crate::support::{CURL_WRAPPER, Protocol, Sandbox};

/// What a hostile git server saw: every Authorization header sent to it.
type Seen = Arc<Mutex<Vec<String>>>;

/// A git server that answers every request with 401 and a `WWW-Authenticate` header of `header`.
fn hostile_git_server(header: String) -> (Server, Seen) {
    let seen: Seen = Arc::default();
    let log = Arc::clone(&seen);
    let server = Server::start(move |req| {
        if let Some(auth) = req.headers.get("authorization") {
            log.lock().unwrap().push(auth.clone());
        }
        let mut r = Response::json(401, "{}");
        r.headers.push(("WWW-Authenticate".into(), header.clone()));
        r
    })
    .unwrap();
    (server, seen)
}

/// Issue #10, item 1: git hands the helper a server's `WWW-Authenticate` header as `wwwauth[]=...`. One longer than
/// 64 KiB used to be cut there, and its tail (`host=<another profile's host>`) read as a new line that replaced the
/// real host: git then sent that profile's token to the hostile server, and its `erase` wiped the victim's cache.
#[test]
fn a_hostile_git_server_cannot_redirect_a_token_with_a_long_www_authenticate() {
    if tool("git").is_none() {
        return;
    }
    let s = Sandbox::new();
    let victim = s.get(&["acme"]);
    let emu_host = s.emu.url().trim_start_matches("http://").to_owned();
    // "wwwauth[]=" is 10 bytes; the padding ends the first 64 KiB exactly where the fake line begins.
    let prefix = "Bearer realm=\"x\", error=\"";
    let padding = "A".repeat(64 * 1024 - 10 - prefix.len());
    let (server, seen) = hostile_git_server(format!("{prefix}{padding}host={emu_host}"));
    let remote = format!("http://127.0.0.1:{}/repo.git", server.port());
    let mut git = s.tool_command("git");
    git.args(["-c", "credential.helper=", "-c", "credential.helper=!tokenfob git-credential", "clone", "-q", &remote])
        .arg(s.dir.path().join("clone"))
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0");
    let run = s.check(git.output().unwrap());
    assert_ne!(run.code, 0, "{run:#?}");
    let seen = seen.lock().unwrap();
    assert!(seen.iter().all(|h| !h.contains(&victim)), "the victim's token reached the hostile server: {seen:?}");
    assert_eq!(s.entry("acme")["token"].as_str(), Some(victim.as_str()), "git's erase wiped the victim's cache");
}

/// Runs `tokenfob git-credential ARGS` with `input` on stdin; tokenfob may stop reading early (a broken pipe).
fn git_credential(s: &Sandbox, args: &[&str], input: &str) -> crate::support::Run {
    let mut all = vec!["git-credential"];
    all.extend_from_slice(args);
    let mut cmd = s.command(&all);
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_owned();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    s.check(out)
}

/// Issue #10, item 1, spawned: a cut line, a line without `=`, a repeated key, NUL, CR and `url=` are refused with
/// an error and nothing on stdout, for `get` and for `erase` alike.
#[test]
fn git_credential_refuses_malformed_input_and_prints_nothing() {
    let s = Sandbox::new();
    let victim = s.get(&["acme"]);
    let host = s.emu.url().trim_start_matches("http://").to_owned();
    let long = format!("protocol=http\nhost=127.0.0.1:1\nwwwauth[]={}host={host}\n\n", "A".repeat(64 * 1024 - 10));
    let huge = format!("protocol=http\nhost={host}\nwwwauth[]={}\n\n", "A".repeat(200 * 1024));
    let cases = [
        long,
        huge,
        format!("protocol=http\nhost=127.0.0.1:1\nhost={host}\n\n"),
        format!("protocol=http\nhost={host}\nprotocol=https\n\n"),
        format!("protocol=http\nhost={host}\njunk line\n\n"),
        format!("protocol=http\nhost={host}\0evil\n\n"),
        format!("protocol=http\nhost={host}\rpath=x\n\n"),
        format!("url=http://{host}/\n\n"),
        format!("protocol=http\nhost=127.0.0.1:1\nurl=http://{host}/\n\n"),
    ];
    for input in &cases {
        for action in ["get", "erase"] {
            let run = git_credential(&s, &[action], &format!("{input}password={victim}\n"));
            assert_ne!(run.code, 0, "{action} of {:?}: {run:#?}", &input[..input.len().min(80)]);
            assert_eq!(run.stdout, "", "{run:#?}");
            assert!(run.stderr.contains("git"), "the error names git's input: {run:#?}");
        }
    }
    assert_eq!(s.entry("acme")["token"].as_str(), Some(victim.as_str()), "no erase went through");
    // The well-formed request still works, with a CRLF line end and git's ordinary keys.
    let good = format!("capability[]=authtype\r\nprotocol=http\r\nhost={host}\r\nwwwauth[]=Bearer realm=\"x\"\r\n\r\n");
    assert!(git_credential(&s, &["get"], &good).ok().contains(&format!("credential={victim}")));
}

/// Issue #10, item 1: the answer is only for the host git asked about, also with `--profile`, and never for plain
/// http to a host that is not loopback unless the profile allows plain http.
#[test]
fn git_credential_answers_only_for_the_host_the_profile_covers() {
    let s = Sandbox::new();
    s.write_config(&format!(
        "{}\n[profiles.plain]\nkind = \"static\"\ntoken = \"plain-token-1\"\nmatch = [\"http://git.example.com/\"]\n\
         [profiles.allowed]\nkind = \"static\"\ntoken = \"allowed-token-1\"\nmatch = [\"http://git.example.org/\"]\n\
         allow_http = true\n",
        s.seed_config()
    ));
    s.secret("plain-token-1");
    let victim = s.get(&["acme"]);
    // `--profile acme` for a host acme's `match` does not cover: an error, no token.
    let elsewhere = "protocol=https\nhost=evil.example\n\n";
    let run = git_credential(&s, &["get", "--profile", "acme"], elsewhere);
    assert_ne!(run.code, 0, "{run:#?}");
    assert!(!run.stdout.contains(&victim), "{run:#?}");
    assert!(run.stderr.contains("match"), "{run:#?}");
    let host = s.emu.url().trim_start_matches("http://").to_owned();
    let covered = format!("protocol=http\nhost={host}\n\n");
    assert!(git_credential(&s, &["get", "--profile", "acme"], &covered).ok().contains(&victim));
    // Plain http to a host that is not loopback: refused, unless the profile sets allow_http.
    let run = git_credential(&s, &["get"], "protocol=http\nhost=git.example.com\n\n");
    assert!(!run.stdout.contains("plain-token-1"), "{run:#?}");
    assert!(run.stderr.contains("plain http"), "{run:#?}");
    let allowed = git_credential(&s, &["get"], "protocol=http\nhost=git.example.org\n\n");
    assert!(allowed.ok().contains("password=allowed-token-1"), "{allowed:#?}");
}

/// A configuration with static profiles whose token holds a header injection, from each kind of source.
fn injecting_config(s: &Sandbox) -> String {
    let host = s.emu.url();
    format!(
        "{}\n[profiles.lit]\nkind = \"static\"\ntoken = \"abc\\r\\nX-Injected: 1\"\nmatch = [\"https://lit.test/\"]\n\
         [profiles.env]\nkind = \"static\"\ntoken = {{ env = \"INJ\" }}\n\
         [profiles.cmdsecret]\nkind = \"static\"\ntoken = {{ command = \"printf 'abc\\\\r\\\\nX-Injected: 1'\" }}\n\
         [profiles.file]\nkind = \"static\"\ntoken = {{ file = \"~/inj\" }}\n\
         [profiles.cmd]\nkind = \"command\"\ncommand = [\"printf\", \"{{\\\"token\\\":\\\"abc\\\\r\\\\nX-Injected: 1\\\"}}\"]\n\
         [profiles.ctl]\nkind = \"static\"\ntoken = \"abc\\u0007def\"\nmatch = [\"{host}/ctl/\"]\n",
        s.seed_config()
    )
}

/// Issue #10, item 3: a token with CR/LF or other control characters, whatever its source, reaches no face.
#[test]
fn a_token_with_control_characters_reaches_no_face() {
    let s = Sandbox::new();
    s.write_config(&injecting_config(&s));
    s.set_env("INJ", "abc\nX-Injected: 1");
    std::fs::write(s.dir.path().join("inj"), "abc\u{1b}[31mX-Injected\n").unwrap();
    for profile in ["lit", "env", "cmdsecret", "file", "cmd", "ctl"] {
        for format in ["token", "header", "bearer", "json", "curl"] {
            let run = s.run(&["get", profile, "-o", format]);
            assert_ne!(run.code, 0, "get {profile} -o {format}: {run:#?}");
            assert_eq!(run.stdout, "", "{run:#?}");
        }
        let kube = s.run(&["kubectl", profile]);
        assert!(kube.code != 0 && kube.stdout.is_empty(), "kubectl {profile}: {kube:#?}");
        let exec = s.run(&["exec", profile, "--", "sh", "-c", "printf %s \"$TOKENFOB_TOKEN\""]);
        assert!(exec.code != 0 && exec.stdout.is_empty(), "exec {profile}: {exec:#?}");
        let proto = s.feed(s.command(&["protocol"]), format!("{{\"v\":1,\"op\":\"get\",\"profile\":\"{profile}\"}}\n"));
        let answer: Value = serde_json::from_str(proto.ok()).unwrap();
        assert_eq!(answer["ok"], Value::Bool(false), "protocol {profile}: {proto:#?}");
    }
    let git = git_credential(&s, &["get"], "protocol=https\nhost=lit.test\n\n");
    assert!(!git.stdout.contains("X-Injected"), "{git:#?}");
    assert!(git.stderr.contains("not a valid token"), "{git:#?}");
    let go = s.feed(s.command(&["goauth", "https://lit.test/m/@v/list"]), "HTTP/1.1 401 Unauthorized\n\n");
    assert!(go.code != 0 && go.stdout.is_empty() && go.stderr.contains("not a valid token"), "{go:#?}");
}

/// Issue #10, item 3: a cache file edited on disk to hold an injecting token is a miss for every face, the
/// cache-hit shortcut included: the next call logs in again.
#[test]
fn a_tampered_cache_entry_is_a_miss() {
    let s = Sandbox::new();
    s.get(&["od"]);
    s.get(&["od"]);
    for (i, face) in
        [&["get", "od", "-o", "header"][..], &["get", "od", "-o", "curl"], &["kubectl", "od"]].iter().enumerate()
    {
        s.edit_entry("od", |e| e["token"] = "evil\r\nX-Injected: 1".into());
        let run = s.run(face);
        assert!(!run.stdout.contains("X-Injected"), "{face:?}: {run:#?}");
        assert_eq!(run.code, 0, "{face:?}: {run:#?}");
        assert_eq!(s.emu.count("od.login"), i + 2, "{face:?} logged in again");
    }
    s.edit_entry("od", |e| e["token"] = "evil\u{7f}".into());
    let proto = s.feed(s.command(&["protocol"]), "{\"v\":1,\"op\":\"get\",\"profile\":\"od\"}\n");
    assert!(!proto.ok().contains("evil"), "{proto:#?}");
    assert_eq!(s.emu.count("od.login"), 5);
}

/// Issue #10, item 17: a long-running `tokenfob protocol` sees the configuration as it is now before each request.
#[test]
fn the_protocol_loop_reloads_an_edited_configuration() {
    let s = Sandbox::new();
    let mut protocol = Protocol::spawn(&s);
    let mut ask = |profile: &str| protocol.get(profile);
    let first = ask("od");
    assert_eq!(first["ok"], Value::Bool(true), "{first}");
    s.secret(first["token"].as_str().unwrap());
    // The password now comes from a variable that is not set: the settings changed, so no cached token is served.
    s.write_config(&s.seed_config().replacen("env = \"OD_PASSWORD\"", "env = \"OD_PASSWORD_NEW\"", 1));
    let second = ask("od");
    assert_eq!(second["ok"], Value::Bool(false), "served with the old settings: {second}");
    assert!(second["error"]["message"].as_str().unwrap().contains("OD_PASSWORD_NEW"), "{second}");
    // A profile added meanwhile is known; a broken file is an error answer, and the loop goes on.
    s.write_config(&format!("{}\n[profiles.added]\nkind = \"static\"\ntoken = \"added-1\"\n", s.seed_config()));
    s.secret("added-1");
    assert_eq!(ask("added")["token"], Value::from("added-1"));
    s.write_config("this is = = not toml");
    let broken = ask("od");
    assert_eq!(broken["ok"], Value::Bool(false), "{broken}");
    assert_eq!(broken["error"]["code"], Value::from("config"), "{broken}");
    s.write_config(&s.seed_config());
    assert_eq!(ask("od")["token"], first["token"], "the original settings' entry is served again");
    protocol.finish();
}

/// The protocol loop checks the configuration with a `stat` while it is unchanged, so an edit within one timestamp
/// tick that keeps the size and the modification time must still be seen (git's "racily clean" rule, and ctime).
#[test]
fn the_protocol_loop_sees_a_same_size_in_place_edit_within_one_tick() {
    use std::os::unix::fs::MetadataExt;
    let s = Sandbox::new();
    let mut protocol = Protocol::spawn(&s);
    let mut ask = |profile: &str| protocol.get(profile);
    let first = ask("od");
    s.secret(first["token"].as_str().unwrap());
    let text = std::fs::read_to_string(s.config_path()).unwrap();
    let mut expected = first["token"].clone();
    for token in ["edited-token-1", "edited-token-2", "edited-token-3"] {
        // Asked again first, so that the loop has hashed the file as it is now before the edit.
        assert_eq!(ask("od")["token"], expected);
        let before = std::fs::metadata(s.config_path()).unwrap();
        let edited = format!("[profiles.od]\nkind = \"static\"\ntoken = \"{token}\"\n");
        let padded = format!("{edited}{}\n", "#".repeat(text.len() - edited.len() - 1));
        std::fs::write(s.config_path(), &padded).unwrap();
        let file = std::fs::File::options().write(true).open(s.config_path()).unwrap();
        file.set_modified(before.modified().unwrap()).unwrap();
        let after = std::fs::metadata(s.config_path()).unwrap();
        assert_eq!(
            (after.ino(), after.size(), after.mtime(), after.mtime_nsec()),
            (before.ino(), before.size(), before.mtime(), before.mtime_nsec())
        );
        expected = Value::from(token);
        assert_eq!(ask("od")["token"], expected, "served from the configuration before the edit");
    }
    protocol.finish();
}

/// A server that answers `/r` with 401 to the first request and 200 with `good body` after, whatever the token.
fn once_401_server() -> Server {
    let calls = Arc::new(Mutex::new(0));
    Server::start(move |_req| {
        let mut n = calls.lock().unwrap();
        *n += 1;
        if *n == 1 { Response::json(401, "{\"error\":\"old token\"}") } else { Response::json(200, "good body") }
    })
    .unwrap()
}

/// Issue #10, item 21: the curl wrapper retries after a 401 with the curl flags people use.
#[test]
fn the_curl_wrapper_retries_with_common_curl_flags() {
    if tool("curl").is_none() {
        return;
    }
    let s = Sandbox::new();
    s.get(&["od"]);
    let cases: [(&str, &str); 8] = [
        ("-f", "good body"),
        ("--fail-with-body", "good body"),
        ("-s", "good body"),
        ("-sS -f", "good body"),
        ("-o out.txt", ""),
        ("-w '%{http_code}'", "good body200"),
        ("-s -f -o out.txt -w '%{http_code}\\n'", "200"),
        ("-sSfo out.txt", ""),
    ];
    for (flags, expected) in cases {
        let server = once_401_server();
        let _ = std::fs::remove_file(s.dir.path().join("out.txt"));
        let run = s.bash(&format!("{CURL_WRAPPER} od {flags} http://127.0.0.1:{}/r", server.port()));
        assert_eq!(run.ok(), expected, "flags {flags}: {run:#?}");
        assert_eq!(server.count(), 2, "flags {flags}: one 401, one retry");
        if flags.contains("-o") {
            let body = std::fs::read_to_string(s.dir.path().join("out.txt")).unwrap();
            assert_eq!(body, "good body", "flags {flags}");
        }
    }
    // -i and -D show the final answer's headers only.
    let server = once_401_server();
    let run = s.bash(&format!("{CURL_WRAPPER} od -i http://127.0.0.1:{}/r", server.port()));
    assert!(run.ok().starts_with("HTTP/1.1 200") && !run.stdout.contains("401"), "{run:#?}");
    let server = once_401_server();
    let run = s.bash(&format!("{CURL_WRAPPER} od -D hdrs.txt http://127.0.0.1:{}/r", server.port()));
    assert_eq!(run.ok(), "good body");
    let headers = std::fs::read_to_string(s.dir.path().join("hdrs.txt")).unwrap();
    assert!(headers.starts_with("HTTP/1.1 200") && !headers.contains("401"), "{headers}");
    // What it cannot take, it says.
    let refused = s.bash(&format!("{CURL_WRAPPER} od -O http://127.0.0.1:{}/r", server.port()));
    assert_eq!(refused.code, 2, "{refused:#?}");
    assert!(refused.stderr.contains("-O is not supported"), "{refused:#?}");
}

/// True while the process `pid` exists.
fn alive(pid: &str) -> bool {
    std::process::Command::new("kill").args(["-0", pid]).stderr(Stdio::null()).status().unwrap().success()
}

/// Waits up to 10 s for `path` to hold a pid, and returns it.
fn pid_in(path: &std::path::Path) -> String {
    let start = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(path)
            && text.ends_with('\n')
        {
            return text.trim().to_owned();
        }
        assert!(start.elapsed() < Duration::from_secs(10), "no pid in {}", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits up to 5 s for `pid` to be gone.
fn gone(pid: &str) -> bool {
    let start = Instant::now();
    while alive(pid) {
        if start.elapsed() > Duration::from_secs(5) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// Issue #10, item 6: a `command` kind and a `{command}` secret are bounded by the profile's timeout, and the
/// whole process group (the `sh -c` grandchild included) is killed.
#[test]
fn commands_time_out_and_leave_no_process_behind() {
    let s = Sandbox::new();
    let (a, b) = (s.dir.path().join("a.pid"), s.dir.path().join("b.pid"));
    s.write_config(&format!(
        "{}\n[profiles.slow]\nkind = \"command\"\ncommand = \"sleep 100 & echo $! > {}; wait\"\ntimeout = \"1s\"\n\
         [profiles.slowsecret]\nkind = \"static\"\ntoken = {{ command = \"sleep 100 & echo $! > {}; wait\" }}\n\
         timeout = \"1s\"\n",
        s.seed_config(),
        a.display(),
        b.display()
    ));
    for (profile, pidfile) in [("slow", &a), ("slowsecret", &b)] {
        let start = Instant::now();
        let run = s.run(&["get", profile]);
        let took = start.elapsed();
        assert_ne!(run.code, 0, "{run:#?}");
        assert!(run.stderr.contains("timed out after 1s"), "{run:#?}");
        assert!(took < Duration::from_secs(10), "{profile} took {took:?}");
        let pid = pid_in(pidfile);
        assert!(gone(&pid), "{profile}: the command's child {pid} is still running");
    }
}

/// Issue #10, item 6: SIGTERM to tokenfob while its command runs takes the command down too.
#[test]
fn a_terminated_tokenfob_takes_its_command_with_it() {
    let s = Sandbox::new();
    let pidfile = s.dir.path().join("c.pid");
    s.write_config(&format!(
        "[profiles.slow]\nkind = \"command\"\ncommand = \"sleep 100 & echo $! > {}; wait\"\n",
        pidfile.display()
    ));
    for signal in ["TERM", "INT", "HUP"] {
        let _ = std::fs::remove_file(&pidfile);
        // No pipes: an orphaned grandchild would hold them open, and waiting for their end would hang this test.
        let mut child = s.command(&["get", "slow"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let pid = pid_in(&pidfile);
        let status = std::process::Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status();
        assert!(status.unwrap().success());
        let status = child.wait().unwrap();
        assert!(!status.success(), "SIG{signal}: {status:?}");
        assert!(gone(&pid), "SIG{signal}: the command's child {pid} outlived tokenfob");
    }
}

/// Issue #10, item 6 (audit): `tokenfob exec` replaces itself with the command, so signals reach the command
/// directly; it must not pass on tokenfob's own ignored SIGPIPE (`yes | head` would then report errors instead of
/// ending quietly).
#[test]
fn exec_hands_the_command_default_signal_handling() {
    let s = Sandbox::new();
    let run = s.run(&["exec", "acme", "--", "grep", "SigIgn", "/proc/self/status"]);
    let mask = u64::from_str_radix(run.ok().trim_start_matches("SigIgn:").trim(), 16).unwrap();
    // Bit n-1 stands for signal n; SIGPIPE is 13 on Linux.
    assert_eq!(mask & (1 << 12), 0, "SIGPIPE is ignored in the command: {mask:x}");
}

/// A signal during a password prompt must not leave the terminal without echo (found while auditing item 6's
/// class: what tokenfob changes must be undone when a signal ends it).
#[test]
fn a_signal_during_a_prompt_gives_the_terminal_its_echo_back() {
    use crate::oauth::provider::WithTerminal;
    let s = Sandbox::new();
    s.write_config("[profiles.p]\nkind = \"static\"\ntoken = { prompt = \"Token for p\" }\n");
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGQUIT] {
        let mut term = WithTerminal::spawn(s.command(&["get", "p"]));
        let started = Instant::now();
        while !term.screen().contains("Token for p:") {
            assert!(started.elapsed() < Duration::from_secs(10), "no prompt: {}", term.screen());
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(100));
        assert!(!term.echoes(), "echo is off while the secret is typed");
        // SAFETY: kill has no memory preconditions; the pid is our child's.
        unsafe { libc::kill(term.child.id() as i32, signal) };
        let status = term.child.wait().unwrap();
        assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(signal), "{status:?}");
        assert!(term.echoes(), "echo is back after signal {signal}");
    }
}
