//! Real git: clone from a smart-HTTP server (git http-backend behind a bearer check), and the old-git path.

use std::path::Path;
use std::process::Command;

use crate::support::Sandbox;
use crate::support::server::{Request, Response, Server, tool};

/// A bare repository with one commit.
pub(super) fn repository(root: &Path) {
    let work = root.join("work");
    let git = |dir: &Path, args: &[&str]| {
        let out = Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("HOME", root)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    std::fs::create_dir_all(&work).unwrap();
    git(&work, &["init", "-q", "-b", "main"]);
    std::fs::write(work.join("README"), "hello from the bearer-protected repository\n").unwrap();
    git(&work, &["add", "README"]);
    git(&work, &["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "first"]);
    git(root, &["clone", "-q", "--bare", work.to_str().unwrap(), "repo.git"]);
}

/// Runs `git http-backend` as a CGI program for one request.
pub(super) fn http_backend(root: &Path, req: &Request) -> Response {
    let (path, query) = req.path.split_once('?').unwrap_or((&req.path, ""));
    let mut child = Command::new("git")
        .arg("http-backend")
        .env_clear()
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        .env("REQUEST_METHOD", &req.method)
        .env("CONTENT_TYPE", req.headers.get("content-type").map_or("", String::as_str))
        .env("CONTENT_LENGTH", req.body.len().to_string())
        .env("HTTP_CONTENT_ENCODING", req.headers.get("content-encoding").map_or("", String::as_str))
        .env("GIT_PROTOCOL", req.headers.get("git-protocol").map_or("", String::as_str))
        .env("REMOTE_USER", "tokenfob")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), &req.body).unwrap();
    let out = child.wait_with_output().unwrap().stdout;
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| out.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)));
    let (end, sep) = split.expect("CGI output has headers");
    let mut response = Response { status: 200, headers: Vec::new(), body: out[end + sep..].to_vec() };
    for line in String::from_utf8_lossy(&out[..end]).lines() {
        let (k, v) = line.split_once(':').unwrap();
        if k.eq_ignore_ascii_case("status") {
            response.status = v.trim()[..3].parse().unwrap();
        } else {
            response.headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    response
}

#[test]
fn git_clones_with_a_bearer_token_from_tokenfob() {
    if tool("git").is_none() {
        return;
    }
    let s = Sandbox::new();
    let root = s.dir.path().join("srv");
    std::fs::create_dir_all(&root).unwrap();
    repository(&root);
    let (state, served_root) = (s.emu.shared(), root.clone());
    let server = Server::start(move |req| match req.bearer() {
        Some(t) if state.lock().unwrap().valid.contains(t) => http_backend(&served_root, req),
        _ => {
            let mut r = Response::json(401, r#"{"message":"bearer token required"}"#);
            r.headers.push(("WWW-Authenticate".into(), "Bearer realm=\"git\"".into()));
            r
        }
    })
    .unwrap();
    let remote = format!("http://127.0.0.1:{}/repo.git", server.port());
    let od_url = format!("url = \"{}\"\n", s.emu.url());
    s.write_config(&s.seed_config().replacen(
        &od_url,
        &format!("{od_url}match = [\"http://127.0.0.1:{}/\"]\n", server.port()),
        1,
    ));
    let clone = |dest: &str| {
        let mut git = s.tool_command("git");
        git.args([
            "-c",
            "credential.helper=",
            "-c",
            "credential.helper=!tokenfob git-credential",
            "clone",
            "-q",
            &remote,
            dest,
        ])
        .current_dir(s.dir.path())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0");
        s.check(git.output().unwrap())
    };
    clone("one").ok();
    assert!(std::fs::read_to_string(s.dir.path().join("one/README")).unwrap().contains("bearer-protected"));
    assert_eq!(s.emu.count("od.login"), 1);
    clone("two").ok();
    assert_eq!(s.emu.count("od.login"), 1, "the second clone used the cached token");
    // The server stops accepting the token: git reports it rejected, tokenfob erases it, the next clone logs in.
    let token = s.entry("od")["token"].as_str().unwrap().to_owned();
    s.emu.state().valid.remove(&token);
    assert_ne!(clone("three").code, 0);
    assert!(!s.entry_path("od").exists(), "git's erase forgot the rejected token");
    clone("four").ok();
    assert_eq!(s.emu.count("od.login"), 2);
}

#[test]
fn old_git_without_authtype_gets_username_and_password() {
    if tool("git").is_none() {
        return;
    }
    let s = Sandbox::new();
    let input = format!("protocol=http\nhost={}\n\n", s.emu.url().trim_start_matches("http://"));
    let out = s.feed(s.command(&["git-credential", "get"]), &input);
    let token = s.entry("acme")["token"].as_str().unwrap().to_owned();
    assert_eq!(out.ok(), format!("username=oauth2\npassword={token}"), "acme is first by name for this origin");
    // The same through git itself: `git credential fill` runs the helper without announcing authtype.
    let mut fill = s.tool_command("git");
    fill.args(["-c", "credential.helper=!tokenfob git-credential", "credential", "fill"])
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0");
    let out = s.feed(fill, &input);
    assert!(out.ok().contains(&format!("password={token}")), "{out:#?}");
    assert!(out.ok().contains("username=oauth2"), "{out:#?}");
    let unmatched = "protocol=https\nhost=elsewhere.example\n\n";
    assert_eq!(s.feed(s.command(&["git-credential", "get"]), unmatched).ok(), "", "no profile matches: no answer");
}
