//! Real pip and uv (from PyPI, in `.ci/tools`' venv) installing a wheel from a loopback PEP 503 index that demands
//! HTTP Basic credentials: the profile's `index_username` and a token the emulator issued. The credentials come
//! from the keyring backend of integrations/httpie (entry point `keyring.backends`), which asks `tokenfob protocol`;
//! pip imports keyring, uv runs the `keyring` command.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use tokenfob_emulator::State;

use crate::support::server::{Log, Response, Server, tool};
use crate::support::{Run, Sandbox};

const WHEEL: &str = "tfdemo-1.0-py3-none-any.whl";

/// The bin folder of the venv `.ci/tools` makes (python, pip and keyring, with the backend installed).
fn venv_bin() -> Option<PathBuf> {
    let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/tools/venv/bin");
    if bin.join("keyring").is_file() {
        return Some(bin);
    }
    tool("target/tools/venv/bin/keyring (run .ci/tools)")
}

/// A pure-Python wheel written by hand (a zip with METADATA, WHEEL and RECORD), and the SHA-256 of its bytes.
fn wheel(s: &Sandbox, venv: &Path) -> (Vec<u8>, String) {
    let script = r#"
import base64, hashlib, sys, zipfile
files = {
    "tfdemo.py": b"VALUE = 42\n",
    "tfdemo-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: tfdemo\nVersion: 1.0\n",
    "tfdemo-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: tokenfob-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
digest = lambda b: "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(b).digest()).rstrip(b"=").decode()
record = "".join(f"{n},{digest(b)},{len(b)}\n" for n, b in files.items()) + "tfdemo-1.0.dist-info/RECORD,,\n"
with zipfile.ZipFile(sys.argv[1], "w") as z:
    for n, b in files.items():
        z.writestr(n, b)
    z.writestr("tfdemo-1.0.dist-info/RECORD", record)
print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())
"#;
    let path = s.dir.path().join(WHEEL);
    let out = Command::new(venv.join("python")).args(["-c", script]).arg(&path).output().unwrap();
    assert!(out.status.success(), "building the wheel: {}", String::from_utf8_lossy(&out.stderr));
    (std::fs::read(&path).unwrap(), String::from_utf8(out.stdout).unwrap().trim().to_owned())
}

/// Standard base64, decoded (the test's own, so that it checks what the tools send independently of them).
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let (mut bits, mut n, mut out) = (0u32, 0, Vec::new());
    for c in text.trim_end_matches('=').bytes() {
        bits = bits << 6 | u32::try_from(ALPHABET.iter().position(|&a| a == c)?).ok()?;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    Some(out)
}

/// What a request's `Authorization` carried: `ok` (the right user and a valid token), `none`, or a description
/// that says whether a valid token came with another user name.
fn classify(header: Option<&String>, user: &str, state: &Mutex<State>) -> String {
    let Some(header) = header else { return "none".into() };
    let Some(pair) = header.strip_prefix("Basic ").and_then(base64_decode).and_then(|b| String::from_utf8(b).ok())
    else {
        return "not-basic".into();
    };
    let (name, password) = pair.split_once(':').unwrap_or((&pair, ""));
    let valid = state.lock().unwrap().valid.contains(password);
    match (valid, name == user) {
        (true, true) => "ok".into(),
        (true, false) => format!("token-for-user:{name}"),
        (false, _) if password.is_empty() => format!("user-without-password:{name}"),
        (false, _) => format!("user-with-another-password:{name}"),
    }
}

/// A PEP 503 index on loopback with one project, `tfdemo`, under any `.../simple/` path, whose every request needs
/// `user` and a valid token (401 with `WWW-Authenticate: Basic` otherwise). Logs "path auth" for each request.
fn index(s: &Sandbox, venv: &Path, user: &str) -> (Server, Log) {
    let (wheel, sha256) = wheel(s, venv);
    let (state, user, log) = (s.emu.shared(), user.to_owned(), Log::default());
    let seen = Arc::clone(&log);
    let server = Server::start(move |req| {
        let auth = classify(req.headers.get("authorization"), &user, &state);
        seen.lock().unwrap().push(format!("{} {auth}", req.path));
        if auth != "ok" {
            let mut r = Response::json(401, r#"{"message":"credentials required"}"#);
            r.headers.push(("WWW-Authenticate".into(), "Basic realm=\"tfdemo index\"".into()));
            return r;
        }
        let (kind, body) = if req.path.ends_with("/simple/tfdemo/") {
            let link = format!("<a href=\"/files/{WHEEL}#sha256={sha256}\">{WHEEL}</a>");
            ("text/html", format!("<!DOCTYPE html><html><body>{link}</body></html>").into_bytes())
        } else if req.path == format!("/files/{WHEEL}") {
            ("application/octet-stream", wheel.clone())
        } else {
            return Response::json(404, "{}");
        };
        Response { status: 200, headers: vec![("Content-Type".into(), kind.into())], body }
    })
    .unwrap();
    (server, log)
}

/// A sandbox whose one profile, `od`, covers `http://127.0.0.1:PORT/private/` (the index's other paths are no
/// profile's), with `extra` lines added to it.
fn sandbox_for(s: &Sandbox, port: u16, extra: &str) {
    let url = s.emu.url();
    s.write_config(&format!(
        "[profiles.od]\nkind = \"onedata\"\nurl = \"{url}\"\nmatch = [\"http://127.0.0.1:{port}/private/\"]\n\
         username = \"bot@example.com\"\npassword = {{ env = \"OD_PASSWORD\" }}\n{extra}"
    ));
}

/// `program` in the sandbox's environment, run in an empty folder (`python -m` puts the working folder on
/// `sys.path`, and uv reads a `uv.toml` it finds there).
fn in_empty_folder(s: &Sandbox, program: impl AsRef<std::ffi::OsStr>) -> Command {
    let dir = s.dir.path().join("cwd");
    std::fs::create_dir_all(&dir).unwrap();
    let mut cmd = s.tool_command(program);
    cmd.current_dir(dir);
    cmd
}

/// `cmd` with `dir` first on its PATH.
fn with_first_on_path(mut cmd: Command, dir: &Path) -> Command {
    let path = cmd.get_envs().find(|(k, _)| *k == "PATH").and_then(|(_, v)| v).unwrap_or_default().to_owned();
    let joined = std::env::join_paths(std::iter::once(dir.to_owned()).chain(std::env::split_paths(&path))).unwrap();
    cmd.env("PATH", joined);
    cmd
}

/// `pip install --keyring-provider import` of tfdemo from `index_url` into a fresh folder, with no cache and no
/// pip configuration; asserts on success that the module landed there.
fn pip_install(s: &Sandbox, venv: &Path, index_url: &str, target: &str, extra: &[&str]) -> Run {
    let mut cmd = in_empty_folder(s, venv.join("python"));
    cmd.args(["-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--no-cache-dir"])
        .args(extra)
        .args(["--keyring-provider", "import", "--index-url", index_url, "--target"])
        .arg(s.dir.path().join(target))
        .arg("tfdemo")
        .env("PIP_CONFIG_FILE", "/dev/null");
    let run = s.check(cmd.output().unwrap());
    no_token_on_stdout(s, &run);
    if run.code == 0 {
        assert!(s.dir.path().join(target).join("tfdemo.py").is_file(), "{run:#?}");
    }
    run
}

/// `uv pip install --keyring-provider subprocess` of tfdemo with `args` (the index), with the venv's `keyring`
/// first on PATH, into a fresh folder without a cache; asserts on success that the module landed there.
fn uv_install(s: &Sandbox, uv: &Path, venv: &Path, args: &[impl AsRef<std::ffi::OsStr>], target: &str) -> Run {
    let mut cmd = with_first_on_path(in_empty_folder(s, uv), venv);
    cmd.args(["pip", "install", "--no-cache", "--keyring-provider", "subprocess"])
        .args(args)
        .arg("--python")
        .arg(venv.join("python"))
        .arg("--target")
        .arg(s.dir.path().join(target))
        .arg("tfdemo")
        .env("UV_PYTHON_DOWNLOADS", "never")
        .env("NO_COLOR", "1");
    let run = s.check(cmd.output().unwrap());
    no_token_on_stdout(s, &run);
    if run.code == 0 {
        assert!(s.dir.path().join(target).join("tfdemo.py").is_file(), "{run:#?}");
    }
    run
}

/// Asserts that the cached token of `od` (if any) is nowhere in `run`'s stdout ([`Sandbox::check`] covers stderr).
fn no_token_on_stdout(s: &Sandbox, run: &Run) {
    if s.entry_path("od").exists() {
        let token = s.entry("od")["token"].as_str().unwrap().to_owned();
        assert!(!run.stdout.contains(&token), "the token reached stdout: {run:#?}");
    }
}

/// The log lines of requests whose path starts with `prefix`.
fn requests(log: &Log, prefix: &str) -> Vec<String> {
    log.lock().unwrap().iter().filter(|l| l.starts_with(prefix)).cloned().collect()
}

#[test]
fn pip_installs_with_the_token_from_the_keyring_backend() {
    let Some(venv) = venv_bin() else { return };
    let s = Sandbox::new();
    let (server, log) = index(&s, &venv, "__token__");
    sandbox_for(&s, server.port(), "");
    let private = format!("{}/private/simple/", server.url());

    pip_install(&s, &venv, &private, "one", &[]).ok();
    assert_eq!(s.emu.count("od.login"), 1);
    let seen = requests(&log, "/");
    // pip asks keyring only after a 401 to a request without credentials; then it sends them.
    assert_eq!(seen[..2], ["/private/simple/tfdemo/ none", "/private/simple/tfdemo/ ok"], "{seen:#?}");
    assert!(seen.contains(&format!("/files/{WHEEL} ok")), "{seen:#?}");

    let before = requests(&log, "/files/").len();
    pip_install(&s, &venv, &private, "two", &[]).ok();
    assert_eq!(s.emu.count("od.login"), 1, "the second install used tokenfob's cached token");
    assert_eq!(requests(&log, "/files/").len(), before + 1, "no pip cache: the wheel was fetched again");

    s.expire("od");
    pip_install(&s, &venv, &private, "three", &[]).ok();
    assert_eq!(s.emu.count("od.login"), 2, "an expired token was renewed");

    // An index no profile's `match` covers: the backend gives nothing, pip sends no token, skips the index after
    // its 401 (which it reports at -vv) and finds no version.
    let public = format!("{}/public/simple/", server.url());
    let run = pip_install(&s, &venv, &public, "four", &["-vv"]);
    assert_ne!(run.code, 0, "{run:#?}");
    assert!(run.stdout.contains("401 Client Error"), "pip's own 401 message: {run:#?}");
    assert!(run.stderr.contains("No matching distribution found for tfdemo"), "{run:#?}");
    let public_seen = requests(&log, "/public/");
    assert!(!public_seen.is_empty() && public_seen.iter().all(|l| l.ends_with(" none")), "{public_seen:#?}");
    assert_eq!(s.emu.count("od.login"), 2);
}

#[test]
fn uv_installs_through_the_keyring_command_with_the_profiles_user_name() {
    let (Some(venv), Some(uv)) = (venv_bin(), tool("uv")) else { return };
    let s = Sandbox::new();
    // Google Artifact Registry's user name for access tokens, set in the profile and written in the index URL.
    let (server, log) = index(&s, &venv, "oauth2accesstoken");
    sandbox_for(&s, server.port(), "index_username = \"oauth2accesstoken\"\n");
    let port = server.port();
    let index_url =
        |user: &str, path: &str| ["--index-url".to_owned(), format!("http://{user}@127.0.0.1:{port}/{path}/simple/")];

    uv_install(&s, &uv, &venv, &index_url("oauth2accesstoken", "private"), "one").ok();
    assert_eq!(s.emu.count("od.login"), 1);
    // With a user name in the URL, uv asks keyring before its first request.
    assert_eq!(requests(&log, "/")[0], "/private/simple/tfdemo/ ok", "{log:#?}");
    assert!(requests(&log, "/files/").iter().any(|l| l.ends_with(" ok")), "{log:#?}");

    let before = requests(&log, "/files/").len();
    uv_install(&s, &uv, &venv, &index_url("oauth2accesstoken", "private"), "two").ok();
    assert_eq!(s.emu.count("od.login"), 1, "the second install used tokenfob's cached token");
    assert!(requests(&log, "/files/").len() > before, "no uv cache: the wheel was fetched again");
    s.expire("od");
    uv_install(&s, &uv, &venv, &index_url("oauth2accesstoken", "private"), "renewed").ok();
    assert_eq!(s.emu.count("od.login"), 2, "an expired token was renewed");

    // No user name in the URL: uv asks `keyring get URL --mode creds` only for an index marked `authenticate =
    // "always"`, and takes the user name from the answer (the profile's).
    let config = s.dir.path().join("always.toml");
    let private = format!("http://127.0.0.1:{port}/private/simple/");
    let table =
        format!("[[index]]\nname = \"private\"\nurl = \"{private}\"\ndefault = true\nauthenticate = \"always\"\n");
    std::fs::write(&config, table).unwrap();
    uv_install(&s, &uv, &venv, &["--config-file", config.to_str().unwrap()], "always").ok();

    // Another user name in the URL than the profile's: no credential, and the backend says why.
    let run = uv_install(&s, &uv, &venv, &index_url("alice", "private"), "three");
    assert_ne!(run.code, 0, "{run:#?}");
    assert!(run.stderr.contains("gives its token to the user 'oauth2accesstoken', not 'alice'"), "{run:#?}");
    assert!(!log.lock().unwrap().iter().any(|l| l.contains("token-for-user")), "{log:#?}");

    // An index no profile covers: the server never sees a token, and uv fails with its own 401 message.
    let run = uv_install(&s, &uv, &venv, &index_url("oauth2accesstoken", "public"), "four");
    assert_ne!(run.code, 0, "{run:#?}");
    assert!(run.stderr.contains("lack of valid authentication credentials (401 Unauthorized)"), "{run:#?}");
    let public_seen = requests(&log, "/public/");
    assert!(!public_seen.is_empty(), "{log:#?}");
    assert!(public_seen.iter().all(|l| !l.ends_with(" ok") && !l.contains("token-for-user")), "{public_seen:#?}");
    assert_eq!(s.emu.count("od.login"), 2);
}

/// `keyring ARGS` (the command uv runs) from the venv, in the sandbox's environment.
fn keyring(s: &Sandbox, venv: &Path, args: &[&str], env: &[(&str, &str)]) -> (Run, std::time::Duration) {
    let mut cmd = s.tool_command(venv.join("keyring"));
    cmd.args(args).envs(env.iter().copied());
    let started = std::time::Instant::now();
    let run = s.check(cmd.output().unwrap());
    no_token_on_stdout(s, &run);
    (run, started.elapsed())
}

#[test]
fn the_keyring_command_answers_only_what_a_profile_covers_and_never_waits_on_a_person() {
    let Some(venv) = venv_bin() else { return };
    let s = Sandbox::new();
    let url = s.emu.url();
    // `od` must type its password; `slow` runs a command that outlasts the backend's timeout.
    s.write_config(&format!(
        "[profiles.od]\nkind = \"onedata\"\nurl = \"{url}\"\nmatch = [\"https://typed.example.com/simple/\"]\n\
         username = \"bot@example.com\"\npassword = {{ prompt = \"Password for od\" }}\n\n\
         [profiles.slow]\nkind = \"command\"\ncommand = \"sleep 20; echo late\"\n\
         match = [\"https://slow.example.com/\"]\nindex_username = \"aws\"\n"
    ));
    let (list, _) = keyring(&s, &venv, &["--list-backends"], &[]);
    assert!(list.ok().contains("tokenfob.keyring_backend.TokenfobKeyring (priority: 9)"), "{list:#?}");

    let (typed, took) = keyring(&s, &venv, &["get", "https://typed.example.com/simple/", "__token__"], &[]);
    assert_eq!(typed.code, 1, "{typed:#?}");
    assert!(typed.stdout.is_empty() && typed.stderr.contains("tokenfob login od"), "{typed:#?}");
    assert!(took < std::time::Duration::from_secs(10), "a login that needs typing fails at once: {took:?}");

    let timeout = [("TOKENFOB_KEYRING_TIMEOUT", "1")];
    let (slow, took) = keyring(&s, &venv, &["get", "https://slow.example.com/x/simple/", "aws"], &timeout);
    assert_eq!(slow.code, 1, "{slow:#?}");
    assert!(slow.stderr.contains("gave no answer within 1 s"), "{slow:#?}");
    assert!(took < std::time::Duration::from_secs(10), "tokenfob was killed after the timeout: {took:?}");

    // Services that are no profile's, or no URL, or not even a host: no answer and no traceback.
    let long = format!("https://{}.example.com/", "x".repeat(70_000));
    for service in ["https://elsewhere.example.com/simple/", "slow.example.com:8443", "poetry-repository-x", &long] {
        let (none, _) = keyring(&s, &venv, &["get", service, "aws"], &[]);
        assert_eq!(none.code, 1, "{service:.80}: {none:#?}");
        assert!(none.stdout.is_empty() && !none.stderr.contains("Traceback"), "{service:.80}: {none:#?}");
    }

    // Nothing is stored: refused for a covered URL, with what to do instead.
    let mut set = s.tool_command(venv.join("keyring"));
    set.args(["set", "https://slow.example.com/simple/", "aws"]);
    let refused = s.feed(set, "a-password\n");
    assert_ne!(refused.code, 0);
    assert!(refused.stderr.contains("PasswordSetError: tokenfob makes the tokens of"), "{refused:#?}");
    assert!(refused.stderr.contains("(profile slow)"), "{refused:#?}");
    assert_eq!(s.emu.count("od.login"), 0);
}

#[test]
fn the_json_face_names_the_index_user_name() {
    let s = Sandbox::new();
    let url = s.emu.url();
    s.write_config(&s.seed_config().replacen(
        &format!("url = \"{url}\"\n"),
        &format!("url = \"{url}\"\nindex_username = \"oauth2accesstoken\"\n"),
        1,
    ));
    let answer = |profile: &str| {
        let run = s.feed(s.command(&["protocol"]), format!("{{\"v\":1,\"op\":\"get\",\"profile\":\"{profile}\"}}\n"));
        let json: serde_json::Value = serde_json::from_str(run.ok()).unwrap();
        s.secret(json["token"].as_str().unwrap());
        json["index_username"].clone()
    };
    assert_eq!(answer("od"), "oauth2accesstoken");
    assert_eq!(answer("acme"), "__token__");
}
