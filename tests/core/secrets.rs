//! Secret sources and the no-terminal prompt.

use std::os::unix::process::CommandExt;

use crate::support::Sandbox;

fn od_with_password(s: &Sandbox, source: &str) {
    s.write_config(&s.seed_config().replace("password = { env = \"OD_PASSWORD\" }", &format!("password = {source}")));
}

#[test]
fn passwords_come_from_files_and_commands() {
    let s = Sandbox::new();
    std::fs::write(s.dir.path().join("pw"), format!("{}\nsecond line\n", s.od_password)).unwrap();
    od_with_password(&s, "{ file = \"~/pw\" }");
    s.get(&["od"]);
    s.run(&["erase", "od"]).ok();
    od_with_password(&s, "{ command = \"cat ~/pw | head -n 1\" }");
    s.get(&["od"]);
    assert_eq!(s.emu.count("od.login"), 2);
    od_with_password(&s, "{ env = \"UNSET_VARIABLE\" }");
    s.run(&["login", "od"]).fails(2, "UNSET_VARIABLE is not set");
}

#[test]
fn a_literal_password_in_a_readable_file_warns() {
    let s = Sandbox::new();
    od_with_password(&s, &format!("\"{}\"", s.od_password));
    let quiet = s.run(&["get", "od"]);
    quiet.ok();
    assert!(!quiet.stderr.contains("readable by group"), "{quiet:#?}");
    let mut perms = std::fs::metadata(s.config_path()).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o644);
    std::fs::set_permissions(s.config_path(), perms).unwrap();
    let loud = s.run(&["get", "od"]);
    loud.ok();
    assert!(loud.stderr.contains("readable by group or others"), "{loud:#?}");
}

#[test]
fn a_prompt_without_a_terminal_exits_5_naming_the_login_command() {
    let s = Sandbox::new();
    od_with_password(&s, "{ prompt = \"Password for od\" }");
    let mut cmd = s.command(&["get", "od"]);
    // SAFETY: setsid is async-signal-safe; it detaches the child from any controlling terminal.
    unsafe { cmd.pre_exec(|| (libc::setsid() != -1).then_some(()).ok_or_else(std::io::Error::last_os_error)) };
    s.check(cmd.output().unwrap()).fails(5, "tokenfob login od");
    s.run(&["get", "od", "--no-input"]).fails(5, "prompting is turned off");
    s.set_env("TOKENFOB_NO_INPUT", "1");
    s.run(&["get", "od"]).fails(5, "needs a terminal").fails(5, "tokenfob login od");
    assert_eq!(s.emu.count("od.login"), 0);
}

#[test]
fn static_tokens_are_never_cached_and_commands_are() {
    let s = Sandbox::new();
    let counter = s.dir.path().join("runs");
    s.write_config(&format!(
        "[profiles.st]\nkind = \"static\"\ntoken = {{ env = \"ST\" }}\n\
         [profiles.cmd]\nkind = \"command\"\ncommand = [\"sh\", \"-c\", \"echo x >> {}; echo cmd-token-$$\"]\nlifetime = \"1h\"\n",
        counter.display()
    ));
    s.set_env("ST", "static-secret-value");
    s.secret("static-secret-value");
    assert_eq!(s.get(&["st"]), "static-secret-value");
    assert!(!s.entry_path("st").exists());
    let first = s.get(&["cmd"]);
    assert_eq!(s.get(&["cmd"]), first);
    assert_eq!(std::fs::read_to_string(&counter).unwrap().lines().count(), 1, "the command ran once");
    s.expire("cmd");
    assert_ne!(s.get(&["cmd"]), first);
}
