//! Real HTTPie, installed from PyPI with the httpie-tokenfob plugin, against the emulator's protected resource.

use std::path::PathBuf;

use crate::support::Sandbox;
use crate::support::server::tool;

/// `http` from the virtualenv that `.ci/run` makes (or `$TOKENFOB_HTTPIE`).
#[allow(clippy::disallowed_methods)] // the test process's own environment
fn httpie() -> Option<PathBuf> {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/tools/venv/bin/http");
    let chosen = std::env::var_os("TOKENFOB_HTTPIE").map(PathBuf::from).or(venv.is_file().then_some(venv));
    chosen.or_else(|| tool("http-with-tokenfob-plugin (run .ci/run, or set TOKENFOB_HTTPIE)"))
}

fn sandbox() -> Sandbox {
    let s = Sandbox::new();
    let url = s.emu.url();
    s.write_config(&format!(
        "[profiles.od]\nkind = \"onedata\"\nurl = \"{url}\"\nmatch = [\"{url}/whoami\"]\nusername = \"bot@example.com\"\n\
         password = {{ env = \"OD_PASSWORD\" }}\n"
    ));
    s.set_env("TOKENFOB_BIN", env!("CARGO_BIN_EXE_tokenfob"));
    s.set_env("HTTPIE_CONFIG_DIR", s.dir.path().join("httpie").to_str().unwrap());
    s
}

fn http(s: &Sandbox, bin: &PathBuf, args: &[&str]) -> crate::support::Run {
    let mut cmd = s.tool_command(bin);
    cmd.args(["--ignore-stdin", "--check-status", "--print=b", "-A", "tokenfob"]).args(args);
    s.check(cmd.output().unwrap())
}

#[test]
fn httpie_plugin_logs_in_once_retries_after_401_and_explains_errors() {
    let Some(bin) = httpie() else { return };
    let s = sandbox();
    let url = format!("{}/whoami", s.emu.url());
    assert!(http(&s, &bin, &["-a", "od", &url]).ok().contains("\"ok\""));
    assert_eq!(s.emu.count("od.login"), 1);
    assert!(http(&s, &bin, &[&url]).ok().contains("\"ok\""), "profile chosen by URL");
    assert_eq!(s.emu.count("od.login"), 1, "second call was a cache hit");
    let token = s.entry("od")["token"].as_str().unwrap().to_owned();
    s.emu.state().valid.remove(&token);
    let before = s.emu.count("whoami");
    assert!(http(&s, &bin, &["-a", "od", &url]).ok().contains("\"ok\""));
    assert_eq!(s.emu.count("od.login"), 2, "one erase, one new login");
    assert_eq!(s.emu.count("whoami") - before, 2, "the 401 and one retry");
    let unknown = http(&s, &bin, &["-a", "ghost", &url]);
    assert_ne!(unknown.code, 0);
    assert!(unknown.stderr.contains("no profile named \"ghost\""), "{unknown:#?}");
}

#[test]
fn requests_auth_class_works_from_python() {
    let Some(bin) = httpie() else { return };
    let python = bin.with_file_name("python");
    let s = sandbox();
    let url = format!("{}/whoami", s.emu.url());
    let script = "import sys, requests\nfrom tokenfob.requests import TokenfobAuth\n\
                  r = requests.get(sys.argv[1], auth=TokenfobAuth('od'))\nprint(r.status_code, r.json()['ok'])\n";
    let mut cmd = s.tool_command(&python);
    cmd.args(["-c", script, &url]);
    assert_eq!(s.check(cmd.output().unwrap()).ok(), "200 True");
    assert_eq!(s.emu.count("od.login"), 1);
}
