//! `tokenfob wire` (issue #15): `--apply` in the sandbox's clean HOME, then the real tool succeeding against the
//! loopback servers of the tool tests (kubectl, git, cargo, docker); a second `--apply` is "already wired"; another
//! entry is refused (exit 7, nothing changed) unless `--force`; and the printed snippet of every tool.

use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::support::Sandbox;
use crate::support::server::{Response, Server, Tls, tool};

const EXE: &str = env!("CARGO_BIN_EXE_tokenfob");

/// `wire ARGS --apply`, asserted to succeed; its stdout.
fn apply(s: &Sandbox, args: &[&str]) -> String {
    let mut all = vec!["wire"];
    all.extend_from_slice(args);
    all.push("--apply");
    let run = s.run(&all);
    assert_eq!(run.code, 0, "{run:#?}");
    run.stdout
}

/// `wire ARGS --apply` refused for a conflict: exit 7, naming it, and `file` unchanged.
fn refused(s: &Sandbox, args: &[&str], file: &Path) {
    let before = std::fs::read(file).unwrap();
    let mut all = vec!["wire"];
    all.extend_from_slice(args);
    all.push("--apply");
    s.run(&all).fails(7, "add --force to replace it");
    assert_eq!(std::fs::read(file).unwrap(), before, "a refused wire changed {}", file.display());
}

#[test]
fn wire_kubectl_writes_a_user_that_kubectl_runs() {
    let Some(kubectl) = tool("kubectl") else { return };
    let s = Sandbox::new();
    let tls = Tls::new();
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let (state, log) = (s.emu.shared(), Arc::clone(&seen));
    let api = Server::start_tls(tls.config.clone(), move |req| {
        let bearer = req.bearer().unwrap_or_default().to_owned();
        log.lock().unwrap().push(bearer.clone());
        if state.lock().unwrap().valid.contains(&bearer) {
            Response::json(200, r#"{"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[]}"#)
        } else {
            Response::json(401, r#"{"kind":"Status","apiVersion":"v1","status":"Failure","code":401}"#)
        }
    })
    .unwrap();
    // The kubectl test's kubeconfig without its user: wire adds that.
    let config = super::kubectl::kubeconfig(&s, api.port(), &tls.ca_pem, "od");
    let text = std::fs::read_to_string(&config).unwrap();
    let (head, tail) = text.split_once("users:\n").unwrap();
    std::fs::write(&config, format!("{head}{}", &tail[tail.find("contexts:").unwrap()..])).unwrap();
    s.set_env("KUBECONFIG", config.to_str().unwrap());
    let get = || {
        let mut k = s.tool_command(&kubectl);
        k.args(["get", "--raw", "/api"]);
        s.check(k.output().unwrap())
    };
    assert_ne!(get().code, 0, "without the user kubectl has no credentials");

    let printed = s.run(&["wire", "kubectl", "od"]).ok().to_owned();
    assert!(printed.contains("- name: tokenfob-od\n") && printed.contains(r#"args: ["kubectl", "od"]"#), "{printed}");
    assert!(apply(&s, &["kubectl", "od"]).contains("added: kubeconfig user \"tokenfob-od\""));
    assert!(get().ok().contains("APIVersions"));
    let token = s.entry("od")["token"].as_str().unwrap().to_owned();
    assert_eq!(seen.lock().unwrap().last().unwrap(), &token, "the API server saw tokenfob's token");
    assert!(apply(&s, &["kubectl", "od"]).contains("already wired: kubeconfig user"));

    // A user entry of the same name with a token of its own is not replaced, unless forced.
    let mut set = s.tool_command(&kubectl);
    set.args(["config", "set-credentials", "tokenfob-od", "--token=not-mine"]);
    s.check(set.output().unwrap()).ok();
    refused(&s, &["kubectl", "od"], &config);
    assert!(std::fs::read_to_string(&config).unwrap().contains("not-mine"));
    assert!(apply(&s, &["kubectl", "od", "--force"]).contains("replaced"));
    assert!(!std::fs::read_to_string(&config).unwrap().contains("not-mine"), "the forced entry has no stray token");
    assert!(get().ok().contains("APIVersions"));
    assert_eq!(s.emu.count("od.login"), 1);
}

#[test]
fn wire_git_sets_the_helper_that_git_clone_uses() {
    if tool("git").is_none() {
        return;
    }
    let s = Sandbox::new();
    let root = s.dir.path().join("srv");
    std::fs::create_dir_all(&root).unwrap();
    super::git::repository(&root);
    let (state, served_root) = (s.emu.shared(), root.clone());
    let server = Server::start(move |req| match req.bearer() {
        Some(t) if state.lock().unwrap().valid.contains(t) => super::git::http_backend(&served_root, req),
        _ => Response::json(401, r#"{"message":"bearer token required"}"#),
    })
    .unwrap();
    let base = format!("http://127.0.0.1:{}/", server.port());
    let od_url = format!("url = \"{}\"\n", s.emu.url());
    s.write_config(&s.seed_config().replacen(&od_url, &format!("{od_url}match = [\"{base}\"]\n"), 1));
    let clone = |dest: &str| {
        let mut git = s.tool_command("git");
        git.args(["clone", "-q", &format!("{base}repo.git"), dest])
            .current_dir(s.dir.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_TERMINAL_PROMPT", "0");
        s.check(git.output().unwrap())
    };
    assert_ne!(clone("none").code, 0, "no helper yet");

    let key = format!("credential.http://127.0.0.1:{}.helper", server.port());
    let printed = s.run(&["wire", "git", "od"]).ok().to_owned();
    assert_eq!(printed, format!("git config --global {key} '!{EXE} git-credential'"));
    assert!(apply(&s, &["git", "od"]).starts_with("added: git config --global"));
    clone("one").ok();
    assert!(std::fs::read_to_string(s.dir.path().join("one/README")).unwrap().contains("bearer-protected"));
    assert_eq!(s.emu.count("od.login"), 1);
    assert!(apply(&s, &["git", "od"]).starts_with("already wired: "));

    let gitconfig = s.dir.path().join(".gitconfig");
    s.bash(&format!("git config --global --replace-all '{key}' store")).ok();
    refused(&s, &["git", "od"], &gitconfig);
    apply(&s, &["git", "od", "--force"]);
    let values = s.bash(&format!("git config --global --get-all '{key}'")).ok().to_owned();
    assert_eq!(values, format!("!{EXE} git-credential"));
    clone("two").ok();
}

#[test]
fn wire_cargo_adds_the_registry_that_cargo_fetch_uses() {
    let Some(bin) = tool("cargo") else { return };
    let s = Sandbox::new();
    let registry = super::cargo::Registry::start(&s, super::cargo::package(&s, &bin), false);
    let index = format!("{}/index/", registry.server.url());
    s.write_config(&super::cargo::od_with(&s, &format!("match = [\"{index}\"]\n")));
    let home = s.dir.path().join("cargo-home");
    std::fs::create_dir_all(&home).unwrap();
    let mine = "# my settings\n[net]\nretry = 2 # kept\n";
    std::fs::write(home.join("config.toml"), mine).unwrap();
    s.set_env("CARGO_HOME", home.to_str().unwrap());
    let app = super::cargo::project(&s);

    let printed = s.run(&["wire", "cargo", "od", "--registry", "fob"]).ok().to_owned();
    let entry = format!("[registries.fob]\nindex = \"sparse+{index}\"\ncredential-provider = [\"{EXE}\", \"od\"]\n");
    assert!(printed.ends_with(entry.trim_end()), "{printed}");
    assert!(apply(&s, &["cargo", "od", "--registry", "fob"]).contains("added: "));
    let written = std::fs::read_to_string(home.join("config.toml")).unwrap();
    assert_eq!(written, format!("{mine}\n{entry}"), "the rest of the file is kept as it was");

    let fetch = s.check(super::cargo::cargo(&s, &bin, &home, &["fetch"], &app).output().unwrap());
    assert_eq!(fetch.code, 0, "{fetch:#?}");
    let token = s.entry("od")["token"].as_str().unwrap().to_owned();
    let sent = registry.crate_auth();
    assert!(!sent.is_empty() && sent.iter().all(|a| *a == format!("Bearer {token}")), "{sent:?}");
    assert!(apply(&s, &["cargo", "od", "--registry", "fob"]).starts_with("already wired: "));

    let other =
        format!("{mine}\n[registries.fob]\nindex = \"sparse+{index}\"\ncredential-provider = [\"cargo:token\"]\n");
    std::fs::write(home.join("config.toml"), &other).unwrap();
    refused(&s, &["cargo", "od", "--registry", "fob"], &home.join("config.toml"));
    apply(&s, &["cargo", "od", "--registry", "fob", "--force"]);
    assert_eq!(std::fs::read_to_string(home.join("config.toml")).unwrap(), format!("{mine}\n{entry}"));
}

#[test]
fn wire_docker_adds_the_cred_helper_and_the_link_that_docker_runs() {
    let Some(docker) = tool("docker") else { return };
    let s = Sandbox::new();
    let tls = Tls::new();
    let reg = super::docker::registry(&tls, s.emu.shared(), "oauth2");
    let port = reg.server.port();
    super::docker::od_matches_registry(&s, port, "");
    let root = s.dir.path();
    let t = super::docker::Tools {
        docker_config: root.join("docker"),
        auth_file: root.join("auth.json"),
        bin: root.join("bin"),
        ca: root.join("ca.pem"),
    };
    std::fs::write(&t.ca, &tls.ca_pem).unwrap();
    std::fs::create_dir_all(&t.docker_config).unwrap();
    let config = t.docker_config.join("config.json");
    std::fs::write(&config, r#"{"auths":{"other.example":{}},"credHelpers":{"gcr.io":"gcloud"}}"#).unwrap();
    s.set_env("DOCKER_CONFIG", t.docker_config.to_str().unwrap());
    let host = format!("127.0.0.1:{port}");
    let bin = t.bin.to_str().unwrap();

    let printed = s.run(&["wire", "docker", "od", "--bin-dir", bin]).ok().to_owned();
    assert!(printed.contains(&format!(r#"{{ "credHelpers": {{ "{host}": "tokenfob" }} }}"#)), "{printed}");
    let out = apply(&s, &["docker", "od", "--bin-dir", bin]);
    assert!(out.contains("added: ") && out.contains("docker-credential-tokenfob"), "{out}");
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    assert_eq!(json["credHelpers"], serde_json::json!({"gcr.io": "gcloud", host.clone(): "tokenfob"}));
    assert_eq!(json["auths"], serde_json::json!({"other.example": {}}), "other entries are kept");

    let first = super::docker::manifest_inspect(&s, &t, &docker, &host);
    assert!(first.ok().contains("\"schemaVersion\": 2"), "{first:#?}");
    let grant = reg.grants.lock().unwrap().last().cloned().unwrap();
    assert_eq!(grant.asked, super::docker::basic("oauth2", &super::docker::od_token(&s)));
    assert!(grant.issued);
    let again = apply(&s, &["docker", "od", "--bin-dir", bin]);
    assert_eq!(again.matches("already wired: ").count(), 2, "{again}");

    std::fs::write(&config, format!(r#"{{"credHelpers":{{"{host}":"ecr-login"}}}}"#)).unwrap();
    refused(&s, &["docker", "od", "--bin-dir", bin], &config);
    apply(&s, &["docker", "od", "--bin-dir", bin, "--force"]);
    super::docker::manifest_inspect(&s, &t, &docker, &host).ok();

    // A file of another kind where the link goes is a conflict too.
    let other_bin = root.join("bin2");
    std::fs::create_dir_all(&other_bin).unwrap();
    std::fs::write(other_bin.join("docker-credential-tokenfob"), "#!/bin/sh\n").unwrap();
    refused(
        &s,
        &["docker", "od", "--bin-dir", other_bin.to_str().unwrap()],
        &other_bin.join("docker-credential-tokenfob"),
    );
}

/// A configuration whose profile `corp` covers a few https hosts (nothing is contacted: the print form only).
fn corp(s: &Sandbox) {
    s.write_config(
        "default_profile = \"corp\"\n[profiles.corp]\nkind = \"static\"\ntoken = { env = \"CORP_TOKEN\" }\n\
         match = [\"https://reg.example.com/\", \"https://npm.example.com/npm/\"]\n",
    );
}

#[test]
fn wire_prints_the_snippet_of_every_tool() {
    let s = Sandbox::new();
    corp(&s);
    let bin = s.dir.path().join("bin");
    let bin = bin.to_str().unwrap();
    let print = |tool: &str, extra: &[&str]| {
        let mut args = vec!["wire", tool, "--bin-dir", bin];
        args.extend_from_slice(extra);
        s.run(&args).ok().to_owned()
    };
    let expect: &[(&str, &[&str], &[&str])] = &[
        (
            "kubectl",
            &[],
            &["command: \"", "args: [\"kubectl\", \"corp\"]", "apiVersion: client.authentication.k8s.io/v1"],
        ),
        ("git", &[], &["git config --global credential.https://reg.example.com.helper '!", " git-credential'"]),
        ("curl", &[], &[" get corp -o curl | curl -K - https://reg.example.com/"]),
        ("httpie", &[], &["http -A tokenfob -a corp https://reg.example.com/"]),
        ("pip", &[], &["pip config set global.keyring-provider import", "index-url https://reg.example.com/"]),
        ("cargo", &["--registry", "corp-reg"], &["[registries.corp-reg]\nindex = \"sparse+https://reg.example.com/\""]),
        ("terraform", &[], &["credentials_helper \"tokenfob\" {}", "terraform-credentials-tokenfob"]),
        ("bazel", &[], &[&format!("common --credential_helper=reg.example.com={bin}/tokenfob-credential-helper")]),
        ("go", &[], &["go env -w GOAUTH='", " goauth;netrc'"]),
        ("docker", &[], &[&format!("{bin}/docker-credential-tokenfob"), r#""reg.example.com": "tokenfob""#]),
        (
            "pnpm",
            &["--url", "https://npm.example.com/npm/"],
            &[&format!("//npm.example.com/npm/:tokenHelper={bin}/tokenfob-pnpm-corp"), "get corp -o bearer"],
        ),
    ];
    for (tool, extra, needles) in expect {
        let out = print(tool, extra);
        for needle in *needles {
            assert!(out.contains(needle), "wire {tool}: {needle:?} not in\n{out}");
        }
    }
    assert!(print("kubectl", &[]).contains(&format!("command: \"{EXE}\"")), "this program, not on PATH, by path");
    // Found on PATH as `tokenfob`, it is named so.
    let mut cmd = s.command(&["wire", "git", "--bin-dir", bin]);
    let dir = Path::new(EXE).parent().unwrap();
    cmd.env("PATH", dir);
    let out = s.check(cmd.output().unwrap());
    assert_eq!(out.ok(), "git config --global credential.https://reg.example.com.helper '!tokenfob git-credential'");

    // The print-only tools refuse --apply; nothing is wired where the profile's `match` does not reach.
    for tool in ["curl", "httpie", "pip"] {
        s.run(&["wire", tool, "--apply"]).fails(2, &format!("`tokenfob wire {tool}` prints what to run"));
    }
    s.run(&["wire", "git", "--url", "https://elsewhere.example/"])
        .fails(2, "does not cover https://elsewhere.example/");
    s.run(&["wire", "docker", "--url", "https://npm.example.com/npm/"]).fails(2, "add https://npm.example.com/ to it");
    s.run(&["wire", "cargo", "--registry", "a b"]).fails(2, "--registry");
    s.run(&["wire", "git", "ghost"]).fails(2, "no profile named \"ghost\"");
    assert!(!s.dir.path().join(".gitconfig").exists() && !Path::new(bin).exists(), "printing wrote nothing");
}

#[test]
fn wire_terraform_bazel_and_pnpm_write_their_files_once() {
    let s = Sandbox::new();
    corp(&s);
    let home = s.dir.path();
    let bin = home.join("bin");
    let bin = bin.to_str().unwrap();
    let url = ["--url", "https://npm.example.com/npm/"];
    for (tool, extra) in [("terraform", &[][..]), ("bazel", &[]), ("pnpm", &url)] {
        let mut args = vec![tool, "--bin-dir", bin];
        args.extend_from_slice(extra);
        assert!(!apply(&s, &args).contains("already"), "{tool}");
        let again = apply(&s, &args);
        assert!(again.lines().all(|l| l.starts_with("already wired: ")), "{tool}: {again}");
    }
    let same = |link: &Path| std::fs::canonicalize(link).unwrap() == std::fs::canonicalize(EXE).unwrap();
    assert!(same(&home.join(".terraform.d/plugins/terraform-credentials-tokenfob")));
    assert!(same(&Path::new(bin).join("tokenfob-credential-helper")));
    assert_eq!(std::fs::read_to_string(home.join(".terraformrc")).unwrap(), "credentials_helper \"tokenfob\" {}\n");
    let bazelrc = std::fs::read_to_string(home.join(".bazelrc")).unwrap();
    assert_eq!(bazelrc, format!("common --credential_helper=reg.example.com={bin}/tokenfob-credential-helper\n"));
    // The pnpm script prints what pnpm sends: the header value.
    std::fs::write(home.join(".npmrc"), "registry=https://npm.example.com/npm/\n").unwrap();
    s.set_env("CORP_TOKEN", "corp-static-token");
    let script = format!("{bin}/tokenfob-pnpm-corp");
    apply(&s, &["pnpm", "--bin-dir", bin, "--url", "https://npm.example.com/npm/"]);
    let npmrc = std::fs::read_to_string(home.join(".npmrc")).unwrap();
    assert_eq!(npmrc, format!("registry=https://npm.example.com/npm/\n//npm.example.com/npm/:tokenHelper={script}\n"));
    assert_eq!(s.bash(&script).ok(), "Bearer corp-static-token");

    // A credentials_helper of another name is refused, and a block over several lines is left to the user.
    std::fs::write(home.join(".terraformrc"), "credentials_helper \"vault\" {}\n").unwrap();
    refused(&s, &["terraform", "--bin-dir", bin], &home.join(".terraformrc"));
    std::fs::write(home.join(".terraformrc"), "credentials_helper \"vault\" {\n  args = []\n}\n").unwrap();
    for force in [&[][..], &["--force"]] {
        let mut args = vec!["wire", "terraform", "--apply"];
        args.extend_from_slice(force);
        s.run(&args).fails(2, "replace it by hand with `credentials_helper \"tokenfob\" {}`");
    }
}

#[test]
fn wire_go_sets_the_goauth_that_go_mod_download_uses() {
    use super::goauth::{MODULE, go_sandbox, match_od, proxy, refused_and_tokens};
    let Some((go, s, tls)) = go_sandbox() else { return };
    let (server, seen) = proxy(&s, &tls);
    match_od(&s, &format!("https://127.0.0.1:{}/", server.port()));
    let root = s.dir.path().join("go");
    let goenv = root.join("env");
    s.set_env("GOENV", goenv.to_str().unwrap());
    s.set_env("GOTOOLCHAIN", "local");

    let printed = s.run(&["wire", "go", "od"]).ok().to_owned();
    assert!(printed.contains(&format!("go env -w GOAUTH='{EXE} goauth;netrc'")), "{printed}");
    assert!(apply(&s, &["go", "od"]).starts_with("added: go env -w GOAUTH="));
    assert!(std::fs::read_to_string(&goenv).unwrap().contains(&format!("GOAUTH={EXE} goauth;netrc")));

    let work = root.join("work");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(work.join("go.mod"), "module sandbox.test/app\n\ngo 1.21\n").unwrap();
    let mut cmd = s.tool_command(&go);
    cmd.args(["mod", "download", &format!("{MODULE}@v1.0.0")])
        .current_dir(&work)
        .env("GOPROXY", format!("https://127.0.0.1:{}", server.port()))
        .env("GOFLAGS", "-mod=mod -modcacherw")
        .env("GOSUMDB", "off")
        .env("GOPATH", root.join("path"))
        .env("GOCACHE", root.join("cache"))
        .env("GOMODCACHE", root.join("modcache"))
        .env("SSL_CERT_FILE", root.join("ca.pem"));
    s.check(cmd.output().unwrap()).ok();
    let token = s.entry("od")["token"].as_str().unwrap().to_owned();
    let (_, tokens) = refused_and_tokens(&seen, 0);
    assert!(!tokens.is_empty() && tokens.iter().all(|t| *t == token), "{:?}", seen.lock().unwrap());
    assert!(apply(&s, &["go", "od"]).starts_with("already wired: "));

    let mut off = s.tool_command(&go);
    off.args(["env", "-w", "GOAUTH=off"]);
    s.check(off.output().unwrap()).ok();
    refused(&s, &["go", "od"], &goenv);
    apply(&s, &["go", "od", "--force"]);
    assert!(std::fs::read_to_string(&goenv).unwrap().contains(&format!("GOAUTH={EXE} goauth;netrc")));
}

#[test]
fn wire_refuses_a_bin_dir_that_would_break_or_add_lines() {
    let s = Sandbox::new();
    corp(&s);
    let home = s.dir.path();
    std::fs::write(home.join(".bazelrc"), "build --jobs=4\n").unwrap();
    std::fs::write(home.join(".npmrc"), "registry=https://npm.example.com/npm/\n").unwrap();
    let spaced = home.join("my bin");
    let injected = home.join("bin\ncommon --credential_helper=evil.example=/tmp/x");
    for bin in [&spaced, &injected] {
        let bin = bin.to_str().unwrap();
        for apply in [&[][..], &["--apply"]] {
            let mut args = vec!["wire", "bazel", "--bin-dir", bin];
            args.extend_from_slice(apply);
            s.run(&args).fails(2, "holds a blank, a line break or a control character");
            let mut args = vec!["wire", "pnpm", "--bin-dir", bin, "--url", "https://npm.example.com/npm/"];
            args.extend_from_slice(apply);
            s.run(&args).fails(2, "holds a blank, a line break or a control character");
        }
    }
    assert_eq!(std::fs::read_to_string(home.join(".bazelrc")).unwrap(), "build --jobs=4\n");
    assert_eq!(std::fs::read_to_string(home.join(".npmrc")).unwrap(), "registry=https://npm.example.com/npm/\n");
    assert!(!spaced.exists() && !injected.exists());
}

#[test]
fn wire_warns_about_entries_that_would_win_and_keeps_dotfile_links() {
    let s = Sandbox::new();
    corp(&s);
    let home = s.dir.path();
    let bin = home.join("bin");
    let bin = bin.to_str().unwrap();
    // Spacing alone is the same entry; a credentials block beside it is named.
    let rc = home.join(".terraformrc");
    std::fs::write(
        &rc,
        "credentials \"reg.example.com\" {\n  token = \"x\"\n}\n  credentials_helper   \"tokenfob\" {}\n",
    )
    .unwrap();
    let run = s.run(&["wire", "terraform", "--bin-dir", bin, "--apply"]);
    assert!(run.ok().contains("already wired: ") && run.stdout.contains(".terraformrc"), "{run:#?}");
    assert!(run.stderr.contains("Terraform uses them for their hosts before any credentials_helper"), "{run:#?}");
    // An _authToken for the same registry is named.
    std::fs::write(home.join(".npmrc"), "//npm.example.com/npm/:_authToken=old\n").unwrap();
    let run = s.run(&["wire", "pnpm", "--bin-dir", bin, "--url", "https://npm.example.com/npm/", "--apply"]);
    run.ok();
    assert!(run.stderr.contains("//npm.example.com/npm/:_authToken=...` for this registry"), "{run:#?}");
    // Cargo's legacy file beside config.toml is named; a config.toml that is a link to nothing stays a link.
    std::fs::create_dir_all(home.join(".cargo")).unwrap();
    std::fs::write(home.join(".cargo/config"), "[net]\nretry = 2\n").unwrap();
    std::os::unix::fs::symlink("../dotfiles/cargo.toml", home.join(".cargo/config.toml")).unwrap();
    std::fs::create_dir_all(home.join("dotfiles")).unwrap();
    let run = s.run(&["wire", "cargo", "--apply"]);
    run.ok();
    assert!(run.stderr.contains("cargo reads it and ignores"), "{run:#?}");
    assert!(std::fs::symlink_metadata(home.join(".cargo/config.toml")).unwrap().file_type().is_symlink());
    let written = std::fs::read_to_string(home.join("dotfiles/cargo.toml")).unwrap();
    assert!(written.contains("[registries.corp]"), "{written}");
}
