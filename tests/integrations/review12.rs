//! Issue #12's attack review: regression tests for what it found in the tool faces, one property each.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::support::Sandbox;
use crate::support::server::{Response, Server, tool};

/// The venv `.ci/tools` makes (python, pip and keyring with the backend installed).
fn venv_bin() -> Option<PathBuf> {
    let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/tools/venv/bin");
    if bin.join("keyring").is_file() {
        return Some(bin);
    }
    tool("target/tools/venv/bin/keyring (run .ci/tools)")
}

/// A server that answers every request 401 with a Basic challenge and records its `Authorization` header.
fn recorder() -> (Server, Arc<Mutex<Vec<String>>>) {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = Arc::clone(&seen);
    let server = Server::start(move |req| {
        let auth = req.headers.get("authorization").cloned().unwrap_or_default();
        log.lock().unwrap().push(format!("{} {} {auth}", req.method, req.path));
        let mut r = Response::json(401, "{}");
        r.headers.push(("WWW-Authenticate".into(), "Basic realm=\"x\"".into()));
        r
    })
    .unwrap();
    (server, seen)
}

/// A static profile `pkgs` whose token is `token` and whose only `match` is `matches`.
fn static_profile(s: &Sandbox, token: &str, matches: &[String], extra: &str) {
    s.set_env("PKG_TOKEN", token);
    s.secret(token);
    let list = matches.iter().map(|m| format!("{m:?}")).collect::<Vec<_>>().join(", ");
    s.write_config(&format!(
        "[profiles.pkgs]\nkind = \"static\"\ntoken = {{ env = \"PKG_TOKEN\" }}\nmatch = [{list}]\n{extra}"
    ));
}

/// docs/integrations.md: "The scheme is part of `match`, so an `http://` index gets a token only from a profile whose
/// `match` says `http://`". pip asks keyring for the index URL and then for its bare `host:port`, which the backend
/// reads as `https://HOST/`: a profile that covers only `https://127.0.0.1:PORT/` hands its token to pip for a
/// plain-http index on that host and port, and pip sends it in clear. (On the default ports the leak also crosses
/// ports: `http://pkgs.example.com/` is port 80, `match` said 443.)
#[test]
fn pip_never_sends_an_https_profiles_token_to_a_plain_http_index() {
    let Some(venv) = venv_bin() else { return };
    let s = Sandbox::new();
    let (server, seen) = recorder();
    let port = server.port();
    let token = "pkgs-https-only-token-7f3a";
    static_profile(&s, token, &[format!("https://127.0.0.1:{port}/")], "");
    let dir = s.dir.path().join("cwd");
    std::fs::create_dir_all(&dir).unwrap();
    let mut pip = s.tool_command(venv.join("python"));
    pip.current_dir(&dir)
        .args(["-m", "pip", "download", "--disable-pip-version-check", "--no-input", "--no-cache-dir", "--no-deps"])
        .args(["--keyring-provider", "import", "--index-url", &format!("http://127.0.0.1:{port}/simple/")])
        .arg("-d")
        .arg(s.dir.path().join("dl"))
        .arg("tfdemo")
        .env("PIP_CONFIG_FILE", "/dev/null");
    let run = s.check(pip.output().unwrap());
    assert_ne!(run.code, 0, "{run:#?}");
    let seen = seen.lock().unwrap().clone();
    assert!(!seen.is_empty(), "pip reached the index: {run:#?}");
    // Basic base64("__token__:" + token) always holds base64 of the token's middle; check the decoded header too.
    let leaked = seen.iter().any(|l| l.contains("Basic ") && decode_basic(l).is_some_and(|p| p.contains(token)));
    assert!(!leaked, "an https-only profile's token went to a plain-http index: {seen:#?}");
}

/// The same through uv, which runs `keyring get URL USER` and then `keyring get HOST:PORT USER`.
#[test]
fn uv_never_sends_an_https_profiles_token_to_a_plain_http_index() {
    let (Some(venv), Some(uv)) = (venv_bin(), tool("uv")) else { return };
    let s = Sandbox::new();
    let (server, seen) = recorder();
    let port = server.port();
    let token = "pkgs-https-only-token-9c1d";
    static_profile(&s, token, &[format!("https://127.0.0.1:{port}/")], "");
    let dir = s.dir.path().join("cwd");
    std::fs::create_dir_all(&dir).unwrap();
    let mut cmd = s.tool_command(&uv);
    let path = cmd.get_envs().find(|(k, _)| *k == "PATH").and_then(|(_, v)| v).unwrap_or_default().to_owned();
    let joined = std::env::join_paths(std::iter::once(venv.clone()).chain(std::env::split_paths(&path))).unwrap();
    cmd.current_dir(&dir)
        .env("PATH", joined)
        .args(["pip", "install", "--no-cache", "--keyring-provider", "subprocess", "--index-url"])
        .arg(format!("http://__token__@127.0.0.1:{port}/simple/"))
        .arg("--python")
        .arg(venv.join("python"))
        .arg("--target")
        .arg(s.dir.path().join("t"))
        .arg("tfdemo")
        .env("UV_PYTHON_DOWNLOADS", "never");
    let run = s.check(cmd.output().unwrap());
    assert_ne!(run.code, 0, "{run:#?}");
    let seen = seen.lock().unwrap().clone();
    let leaked = seen.iter().any(|l| decode_basic(l).is_some_and(|p| p.contains(token)));
    assert!(!leaked, "an https-only profile's token went to a plain-http index: {seen:#?}");
}

/// The user:password of a logged "METHOD path Basic xxx" line.
fn decode_basic(line: &str) -> Option<String> {
    let b64 = line.split("Basic ").nth(1)?.trim();
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let (mut bits, mut n, mut out) = (0u32, 0, Vec::new());
    for c in b64.trim_end_matches('=').bytes() {
        bits = bits << 6 | u32::try_from(ALPHABET.iter().position(|&a| a == c)?).ok()?;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    String::from_utf8(out).ok()
}

fn cargo_request(index_url: &str) -> String {
    format!("{{\"v\":1,\"registry\":{{\"index-url\":\"{index_url}\"}},\"kind\":\"get\",\"operation\":\"read\"}}\n")
}

/// For a git index, cargo never sends the token to the index URL's host: git fetches the index with git's own
/// credentials, and the token goes only to the `dl` and `api` URLs of the index's `config.json`, which whoever can
/// write that repository chooses. So "the profile's `match` covers the index URL" authorizes nothing: a profile for
/// `https://github.com/` (the git face's usual profile) would hand its token to any host named by the config.json of
/// any GitHub repository that a project's `registry-index` names (reproduced end to end with cargo 1.95 against
/// loopback servers: `cargo fetch` sent `Bearer <token>` to the `dl` host on another port). A git index must get
/// `url-not-supported`; only a sparse index, whose host does get the token, may be served. (A sparse index is
/// not safe either when the profile covers a host that serves its users' files, GitLab or Gitea raw files for
/// instance: `registry-index = "sparse+https://gitlab.example.com/attacker/p/-/raw/main/"` in a manifest, with a
/// config.json whose `dl` is elsewhere, drew the token to that `dl` host in the same way.)
#[test]
fn cargo_gets_no_token_for_a_git_index() {
    let s = Sandbox::new();
    static_profile(&s, "github-token-for-git-4e2b", &["https://github.com/".to_owned()], "");
    for index in ["https://github.com/attacker/cargo-index", "https://github.com/rust-lang/crates.io-index"] {
        let run = s.feed(s.command(&["--cargo-plugin"]), cargo_request(index));
        assert_eq!(run.code, 0, "{run:#?}");
        let answer = run.stdout.lines().nth(1).unwrap_or_default();
        assert_eq!(answer, r#"{"Err":{"kind":"url-not-supported"}}"#, "{index}: {run:#?}");
    }
}

/// `docker-credential-tokenfob list` is what `docker build` (with `credsStore`) turns into the credentials it sends
/// to the daemon (`X-Registry-Config`, possibly a remote `DOCKER_HOST`), keyed by host: Docker's `ConvertToHostname`
/// drops the path, so a path-scoped prefix becomes a credential for the whole host, and a `grpcs://` prefix is no
/// registry at all (each build then prints "no profile's `match` covers a registry that is not http(s)"). Seen
/// with the Docker 28.2.2 client against a fake daemon: X-Registry-Config held every fresh profile's token.
#[test]
fn docker_list_offers_no_path_scoped_or_non_registry_prefix() {
    let s = Sandbox::new();
    s.set_env("T1", "git-org-token-58aa");
    s.set_env("T2", "bazel-cache-token-0b7e");
    for t in ["git-org-token-58aa", "bazel-cache-token-0b7e"] {
        s.secret(t);
    }
    s.write_config(
        "[profiles.git]\nkind = \"command\"\ncommand = \"echo $T1\"\nmatch = [\"https://git.example.com/org/\"]\n\n\
         [profiles.cache]\nkind = \"command\"\ncommand = \"echo $T2\"\nmatch = [\"grpcs://cache.example.com/\"]\n\n\
         [profiles.reg]\nkind = \"command\"\ncommand = \"echo $T2\"\n\
         match = [\"https://reg.example.com/\", \"http://plain.example.com/\", \"https://u:pw@userinfo.example.com/\"]\n",
    );
    s.get(&["git"]);
    s.get(&["cache"]);
    s.get(&["reg"]);
    let listed: serde_json::Value = serde_json::from_str(s.run(&["docker-credential", "list"]).ok()).unwrap();
    let keys: Vec<&String> = listed.as_object().unwrap().keys().collect();
    // Not `http://` (Docker would use it for https on 443), and never a prefix's user info.
    assert_eq!(
        keys,
        ["https://reg.example.com/", "https://userinfo.example.com/"],
        "only whole https hosts are offered"
    );
}

/// A link under another `docker-credential-*` name (one helper per registry is the natural way to name them:
/// `credHelpers` values become file names) is not a personality, so tokenfob runs its own `get` and `erase`: `get`
/// prints the default profile's raw token, exit 0, for a registry its `match` does not cover, and `erase` forgets
/// the default profile's token. Any `docker-credential-` name should speak the protocol (or refuse).
#[test]
fn another_docker_credential_name_never_prints_an_uncovered_token() {
    let s = Sandbox::new();
    static_profile(&s, "only-profile-token-c3d9", &["https://git.example.com/org/".to_owned()], "");
    let bin = s.dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_tokenfob"), bin.join("docker-credential-corp")).unwrap();
    let mut cmd = s.tool_command(bin.join("docker-credential-corp"));
    cmd.arg("get");
    let run = s.feed(cmd, "evil.example.net");
    assert!(!run.stdout.contains("only-profile-token-c3d9"), "a token for an uncovered registry: {run:#?}");
    assert_ne!(run.code, 0, "{run:#?}");
}

/// Terraform finds `terraform-credentials-NAME` and also `terraform-credentials-NAME_vX.Y.Z` (its plugin
/// discovery, lower-casing the name and trimming `.exe`), but tokenfob dispatches only on the exact stem: under a
/// versioned name `get HOST` becomes `tokenfob get HOST` (HOST read as a profile name) instead of the protocol.
#[test]
fn a_versioned_terraform_helper_name_still_speaks_the_protocol() {
    let s = Sandbox::new();
    static_profile(&s, "tfe-token-1a2b", &["https://tfe.example.com/".to_owned()], "");
    let dir = s.dir.path().join("plugins");
    std::fs::create_dir_all(&dir).unwrap();
    let helper = dir.join("terraform-credentials-tokenfob_v0.1.0");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_tokenfob"), &helper).unwrap();
    let mut cmd = s.tool_command(&helper);
    cmd.args(["get", "tfe.example.com"]);
    let run = s.check(cmd.output().unwrap());
    assert_eq!(run.ok(), r#"{"token":"tfe-token-1a2b"}"#);
}

/// Go reads a GOAUTH answer with `url.ParseRequestURI` per URL line and throws the whole answer away on the first
/// line it cannot parse. A `match` prefix that the URL standard keeps as written but Go refuses (`%zz`, a lone `%`)
/// is printed as is, so one odd prefix in one profile silently costs every profile its first-call credentials (and
/// that profile its after-401 answer too). Such prefixes should be left out of the answer (or refused on loading).
#[test]
fn goauth_prints_only_prefixes_go_can_parse() {
    let s = Sandbox::new();
    s.set_env("PKG_TOKEN", "go-token-5d6e");
    s.secret("go-token-5d6e");
    s.write_config(
        "[profiles.odd]\nkind = \"command\"\ncommand = \"echo $PKG_TOKEN\"\nmatch = [\"https://odd.example.com/a%zz/\", \"https://a{b.example.com/\"]\n\n\
         [profiles.fine]\nkind = \"command\"\ncommand = \"echo $PKG_TOKEN\"\nmatch = [\"https://fine.example.com/go/\"]\n",
    );
    s.get(&["odd"]);
    s.get(&["fine"]);
    let answer = s.run(&["goauth"]).ok().to_owned();
    assert!(answer.contains("https://fine.example.com/go/"), "the good profile is still answered: {answer}");
    for line in answer.lines().filter(|l| l.starts_with("https://")) {
        let bytes = line.as_bytes();
        let bad_escape = bytes.iter().enumerate().any(|(i, b)| {
            *b == b'%' && !(bytes.len() > i + 2 && bytes[i + 1].is_ascii_hexdigit() && bytes[i + 2].is_ascii_hexdigit())
        });
        assert!(!bad_escape && !line.contains('{'), "Go rejects the whole answer over {line:?}: {answer}");
    }
}

/// A URL's password never reaches stderr, also when no profile covers the URL.
#[test]
fn an_uncovered_urls_password_is_not_shown() {
    let s = Sandbox::new();
    s.secret("PWSECRET");
    let run = s.run(&["get", "--url", "http://u:PWSECRET@nothere.example.com/x?key=PWSECRET"]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.stderr.contains("no profile's `match` covers http://nothere.example.com/x"), "{run:#?}");
}
