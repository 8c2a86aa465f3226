//! Real pnpm: `pnpm install` from an npm registry on loopback that demands the bearer token, with the user .npmrc's
//! `tokenHelper` set to the shipped integrations/pnpm/tokenfob-pnpm-helper, linked under a profile's name.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokenfob_emulator::util::base64_encode;

use crate::support::server::{Response, Server, tool};
use crate::support::{Run, Sandbox, files_containing};

const PACKAGE: &str = "hello-tokenfob";
const INDEX_JS: &str = "module.exports = () => 'hello through tokenfob';\n";

/// `package/` with package.json and index.js, as `npm pack` lays it out, gzipped.
fn tarball(s: &Sandbox) -> Vec<u8> {
    let dir = s.dir.path().join("pkg/package");
    std::fs::create_dir_all(&dir).unwrap();
    let manifest = format!(r#"{{"name":"{PACKAGE}","version":"1.0.0","main":"index.js"}}"#);
    std::fs::write(dir.join("package.json"), manifest).unwrap();
    std::fs::write(dir.join("index.js"), INDEX_JS).unwrap();
    s.bash("tar -czf pkg/pkg.tgz -C pkg package").ok();
    std::fs::read(s.dir.path().join("pkg/pkg.tgz")).unwrap()
}

/// What the registry saw: the path and the `Authorization` header sent (if any).
type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// An npm registry with one package version, answering only requests with a token the emulator issued.
fn registry(s: &Sandbox) -> (Server, Seen) {
    let tgz = tarball(s);
    let integrity = format!("sha512-{}", base64_encode(ring::digest::digest(&ring::digest::SHA512, &tgz).as_ref()));
    let seen: Seen = Arc::default();
    let (state, log) = (s.emu.shared(), Arc::clone(&seen));
    let port = Arc::new(Mutex::new(0u16));
    let own_port = Arc::clone(&port);
    let server = Server::start(move |req| {
        let header = req.headers.get("authorization").cloned();
        log.lock().unwrap().push((req.path.clone(), header));
        if !req.bearer().is_some_and(|t| state.lock().unwrap().valid.contains(t)) {
            let mut r = Response::json(401, r#"{"error":"authentication required"}"#);
            r.headers.push(("WWW-Authenticate".into(), "Bearer realm=\"npm\"".into()));
            return r;
        }
        let base = format!("http://127.0.0.1:{}", own_port.lock().unwrap());
        match req.path.as_str() {
            p if p == format!("/{PACKAGE}") => Response::json(200, &packument(&base, &integrity)),
            p if p == format!("/{PACKAGE}/-/{PACKAGE}-1.0.0.tgz") => Response {
                status: 200,
                headers: vec![("Content-Type".into(), "application/octet-stream".into())],
                body: tgz.clone(),
            },
            _ => Response::json(404, r#"{"error":"not found"}"#),
        }
    })
    .unwrap();
    *port.lock().unwrap() = server.port();
    (server, seen)
}

fn packument(base: &str, integrity: &str) -> String {
    serde_json::json!({
        "name": PACKAGE,
        "dist-tags": {"latest": "1.0.0"},
        "time": {"created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z", "1.0.0": "2024-01-01T00:00:00.000Z"},
        "versions": {"1.0.0": {
            "name": PACKAGE,
            "version": "1.0.0",
            "main": "index.js",
            "dist": {"tarball": format!("{base}/{PACKAGE}/-/{PACKAGE}-1.0.0.tgz"), "integrity": integrity},
        }},
    })
    .to_string()
}

/// The helper pnpm runs: the shipped integrations/pnpm/tokenfob-pnpm-helper, linked as `tokenfob-pnpm-od` (its name
/// chooses the profile); tokenfob itself comes from PATH, as for a user.
fn helper(s: &Sandbox) -> PathBuf {
    let path = s.dir.path().join("bin/tokenfob-pnpm-od");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("integrations/pnpm/tokenfob-pnpm-helper");
    std::os::unix::fs::symlink(shipped, &path).unwrap();
    path
}

/// `pnpm install` of a project that depends on the package, with a store and cache of its own (so every run
/// fetches from the registry).
fn install(s: &Sandbox, pnpm: &Path, run: &str) -> Run {
    let project = s.dir.path().join(format!("app-{run}"));
    std::fs::create_dir_all(&project).unwrap();
    let manifest =
        format!(r#"{{"name":"app","version":"1.0.0","private":true,"dependencies":{{"{PACKAGE}":"1.0.0"}}}}"#);
    std::fs::write(project.join("package.json"), manifest).unwrap();
    let mut cmd = s.tool_command(pnpm);
    let own = s.dir.path().join(format!("pnpm-{run}"));
    cmd.arg("install")
        .current_dir(&project)
        .env("CI", "1")
        .env("XDG_CACHE_HOME", own.join("cache"))
        .env("XDG_DATA_HOME", own.join("data"))
        .env("XDG_STATE_HOME", own.join("state"));
    s.check(cmd.output().unwrap())
}

/// The registry, and a user .npmrc that points pnpm at it with `helper` as its `tokenHelper`.
fn setup(s: &Sandbox, helper: &str) -> (Server, Seen) {
    let (server, seen) = registry(s);
    let npmrc =
        format!("registry=http://127.0.0.1:{port}/\n//127.0.0.1:{port}/:tokenHelper={helper}\n", port = server.port());
    std::fs::write(s.dir.path().join(".npmrc"), npmrc).unwrap();
    (server, seen)
}

/// True when every request from the `from`th on carried exactly `header`.
fn all_sent(seen: &Seen, from: usize, header: Option<&str>) -> bool {
    let seen = seen.lock().unwrap();
    seen.len() >= from + 2 && seen[from..].iter().all(|(_, h)| h.as_deref() == header)
}

#[test]
fn pnpm_installs_from_a_registry_that_demands_the_token() {
    let Some(pnpm) = tool("pnpm") else { return };
    let s = Sandbox::new();
    let (_server, seen) = setup(&s, &helper(&s).display().to_string());

    install(&s, &pnpm, "1").ok();
    let installed = s.dir.path().join(format!("app-1/node_modules/{PACKAGE}/index.js"));
    assert_eq!(std::fs::read_to_string(installed).unwrap(), INDEX_JS);
    assert_eq!(s.emu.count("od.login"), 1);
    let token = s.entry("od")["token"].as_str().unwrap().to_owned();
    assert!(all_sent(&seen, 0, Some(&format!("Bearer {token}"))), "{:?}", seen.lock().unwrap());

    let before = seen.lock().unwrap().len();
    install(&s, &pnpm, "2").ok();
    assert_eq!(s.emu.count("od.login"), 1, "the second install was served from the cache");
    assert!(all_sent(&seen, before, Some(&format!("Bearer {token}"))));

    s.expire("od");
    let before = seen.lock().unwrap().len();
    install(&s, &pnpm, "3").ok();
    assert_eq!(s.emu.count("od.login"), 2, "one renewal after expiry");
    let renewed = s.entry("od")["token"].as_str().unwrap().to_owned();
    assert_ne!(renewed, token);
    assert!(all_sent(&seen, before, Some(&format!("Bearer {renewed}"))));

    // pnpm keeps no token in any file it writes (lockfile, store, cache, state).
    for secret in [&token, &renewed, &s.od_password] {
        let leaked: Vec<PathBuf> =
            files_containing(s.dir.path(), secret).into_iter().filter(|p| !p.starts_with(s.cache_dir())).collect();
        assert_eq!(leaked, Vec::<PathBuf>::new(), "a secret in a file");
    }
}

#[test]
fn pnpm_runs_tokenfob_without_a_script_and_sends_nothing_when_it_fails() {
    let Some(pnpm) = tool("pnpm") else { return };
    let s = Sandbox::new();
    // pnpm 11 and later split the value into a command and its arguments, and put `Bearer ` in front of a bare token
    // themselves: tokenfob itself, without a script.
    let (_server, seen) = setup(&s, &format!("{} get od", env!("CARGO_BIN_EXE_tokenfob")));
    install(&s, &pnpm, "1").ok();
    let token = s.entry("od")["token"].as_str().unwrap().to_owned();
    assert!(all_sent(&seen, 0, Some(&format!("Bearer {token}"))), "{:?}", seen.lock().unwrap());

    // The login is refused: pnpm 12 sends its requests without the header (never another credential) and fails on
    // the 401, without showing tokenfob's message.
    s.run(&["erase", "od"]).ok();
    s.set_env("OD_PASSWORD", "wrong");
    let before = seen.lock().unwrap().len();
    let refused = install(&s, &pnpm, "2");
    assert!(refused.code != 0 && refused.stderr.contains("No authorization header was set"), "{refused:#?}");
    assert_eq!(s.emu.count("od.login"), 2, "the helper ran once, and its login was refused");
    let seen = seen.lock().unwrap();
    assert!(seen.len() > before && seen[before..].iter().all(|(_, h)| h.is_none()), "{seen:?}");
}
