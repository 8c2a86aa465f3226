//! `tokenfob exec`: the token in the environment, the command's exit status passed through.

use crate::support::Sandbox;

#[test]
fn exec_puts_the_token_in_the_environment_and_passes_the_exit_status() {
    let s = Sandbox::new();
    let run =
        s.run(&["exec", "acme", "--env", "GDC_API_TOKEN", "--", "sh", "-c", "printf %s \"$GDC_API_TOKEN\"; exit 7"]);
    assert_eq!(run.code, 7, "{run:#?}");
    assert_eq!(run.stdout, s.entry("acme")["token"].as_str().unwrap());
    let default = s.run(&["exec", "acme", "--", "sh", "-c", "printf %s \"$TOKENFOB_TOKEN\""]);
    assert_eq!(default.ok(), run.stdout);
    assert_eq!(s.emu.count("session.login"), 1);
    s.run(&["exec", "acme", "--", "/no/such/program"]).fails(1, "/no/such/program");
    // A name that would lose the token, or put it under another name, is refused before any login.
    for name in ["", "A=B"] {
        s.run(&["exec", "od", "--env", name, "--", "true"]).fails(2, "is not an environment variable name");
    }
    assert_eq!(s.emu.count("od.login"), 0);
}
