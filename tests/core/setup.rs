//! `tokenfob setup`: a person at a terminal (a pseudo-terminal the test types into) and a script (flags), each
//! ending in a real login against the emulated servers; the rest of an existing file kept byte for byte.

use crate::support::pty::Pty;
use crate::support::server::stub;
use crate::support::{Sandbox, mode};
use tokenfob_emulator::server::Response;
use tokenfob_emulator::{OD_USER, SESSION_USER};

#[test]
fn a_person_sets_up_a_profile_at_the_terminal_and_it_logs_in() {
    let sb = Sandbox::new();
    // A configuration that does not exist yet, in directories that do not either.
    let config = sb.dir.path().join("fresh/tokenfob/config.toml");
    sb.set_env("TOKENFOB_CONFIG", config.to_str().unwrap());
    let mut pty = Pty::spawn(sb.command(&["setup"]));
    pty.expect("What kind of login is it?");
    pty.expect("Choose 1-7 [1]: ");
    pty.send("1");
    pty.expect("Profile name [onedata]: ");
    pty.send("od2");
    pty.expect("ONE DATA URL (https://...): ");
    pty.send(&sb.emu.url());
    pty.expect("User name: ");
    pty.send(OD_USER);
    pty.expect("Where does the password come from?");
    pty.expect("Choose 1-6 [1]: ");
    pty.send("");
    pty.expect("env VAR [OD2_PASSWORD]: ");
    pty.send("OD_PASSWORD");
    pty.expect("logged in to profile od2");
    let (code, transcript) = pty.finish();
    assert_eq!(code, 0, "{transcript}");
    let status =
        transcript.lines().find(|l| l.starts_with("od2 ")).unwrap_or_else(|| panic!("no status: {transcript}"));
    assert!(status.contains("onedata") && status.contains("fresh"), "{status}");
    assert_eq!(sb.emu.count("od.login"), 1);
    assert!(!transcript.contains(&sb.od_password), "{transcript}");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("password = { env = \"OD_PASSWORD\" }"), "{text}");
    assert_eq!(mode(&config), 0o600);
    assert_eq!(mode(config.parent().unwrap()), 0o700);
    assert_eq!(mode(config.parent().unwrap().parent().unwrap()), 0o700);
    // The profile it wrote serves tokens as any other.
    sb.get(&["od2"]);
}

#[test]
fn a_typed_secret_is_never_echoed_and_is_written_only_when_confirmed() {
    let sb = Sandbox::new();
    let before = std::fs::read_to_string(sb.config_path()).unwrap();
    let mut pty = Pty::spawn(sb.command(&["setup", "acme2", "--kind", "session"]));
    pty.expect("Login URL: ");
    pty.send(&format!("{}/rest/v1/login", sb.emu.url()));
    pty.expect("Refresh URL (optional, Enter to skip): ");
    pty.send(&format!("{}/rest/v1/refresh", sb.emu.url()));
    pty.expect("User name: ");
    pty.send(SESSION_USER);
    pty.expect("Choose 1-6 [1]: ");
    pty.send("text");
    pty.expect("The password (not shown): ");
    pty.send(&sb.session_password);
    pty.expect("Write it anyway? [y/N]: ");
    pty.send("n");
    // Declined: the question comes back, and this time the password comes from a variable.
    pty.expect("Choose 1-6 [1]: ");
    pty.send("1");
    pty.expect("[ACME2_PASSWORD]: ");
    pty.send("ACME_PASSWORD");
    pty.expect("Account id (optional, Enter to skip): ");
    pty.send("42");
    let (code, transcript) = pty.finish();
    assert_eq!(code, 0, "{transcript}");
    assert!(!transcript.contains(&sb.session_password), "a typed secret was echoed: {transcript}");
    let text = std::fs::read_to_string(sb.config_path()).unwrap();
    assert!(text.starts_with(&before), "the old text changed:\n{text}");
    assert!(!text.contains(&sb.session_password), "{text}");
    assert!(text.contains("account_id = 42"), "{text}");
    assert_eq!(sb.emu.count("session.login"), 1);
}

#[test]
fn an_existing_profile_is_replaced_only_after_a_yes() {
    let sb = Sandbox::new();
    let before = std::fs::read_to_string(sb.config_path()).unwrap();
    let mut pty = Pty::spawn(sb.command(&["setup", "od", "--kind", "static"]));
    pty.expect("already has a profile od. Replace it? [y/N]: ");
    pty.send("");
    let (code, transcript) = pty.finish();
    assert_eq!(code, 2, "{transcript}");
    assert!(transcript.contains("kept it"), "{transcript}");
    assert_eq!(std::fs::read_to_string(sb.config_path()).unwrap(), before);
}

/// The seed configuration with comments of its own, as a person's file would have.
fn commented(sb: &Sandbox) -> String {
    let text = format!("# my tokens   (keep this comment)\n{}\n# trailing note\n", sb.seed_config())
        .replace("[profiles.acme]", "[profiles.acme]   # the session API");
    sb.write_config(&text);
    text
}

#[test]
fn flags_set_up_a_profile_and_keep_the_rest_of_the_file_byte_for_byte() {
    let sb = Sandbox::new();
    let before = commented(&sb);
    let url = sb.emu.url();
    let run = sb.run(&[
        "setup",
        "od2",
        "--kind",
        "onedata",
        "--url",
        &url,
        "--username",
        OD_USER,
        "--password-env",
        "OD_PASSWORD",
    ]);
    let out = run.ok();
    assert!(out.contains("wrote profile od2") && out.contains("logged in to profile od2"), "{run:#?}");
    assert!(out.lines().any(|l| l.starts_with("od2 ") && l.contains("fresh")), "{out}");
    let after = std::fs::read_to_string(sb.config_path()).unwrap();
    assert_eq!(
        after,
        format!(
            "{before}\n[profiles.od2]\nkind = \"onedata\"\nurl = \"{url}\"\nusername = \"{OD_USER}\"\n\
             password = {{ env = \"OD_PASSWORD\" }}\n"
        )
    );
    assert_eq!(sb.emu.count("od.login"), 1);
}

#[test]
fn without_a_terminal_a_missing_value_names_its_flag() {
    let sb = Sandbox::new();
    let before = std::fs::read_to_string(sb.config_path()).unwrap();
    let login = format!("{}/rest/v1/login", sb.emu.url());
    sb.run(&["setup", "s", "--kind", "session", "--login-url", &login]).fails(2, "--username");
    let run = sb.run(&["setup", "s", "--kind", "session", "--login-url", &login, "--username", "alice"]);
    run.fails(2, "--password-env VAR");
    sb.run(&["setup", "s"]).fails(2, "--kind");
    assert_eq!(std::fs::read_to_string(sb.config_path()).unwrap(), before, "nothing written");
}

#[test]
fn an_existing_profile_needs_force_and_the_others_survive_its_replacement() {
    let sb = Sandbox::new();
    let before = commented(&sb);
    let args = ["setup", "acme", "--kind", "static", "--token-env", "STATIC_T", "--no-login"];
    sb.run(&args).fails(2, "--force");
    assert_eq!(std::fs::read_to_string(sb.config_path()).unwrap(), before);
    let mut forced = args.to_vec();
    forced.push("--force");
    assert!(sb.run(&forced).ok().contains("replaced profile acme"));
    let after = std::fs::read_to_string(sb.config_path()).unwrap();
    let (head, _) = before.split_once("[profiles.acme]").unwrap();
    let (_, tail) = before.split_once("[profiles.gd]").unwrap();
    assert!(after.starts_with(&format!("{head}[profiles.acme]   # the session API\nkind = \"static\"\n")), "{after}");
    assert!(after.ends_with(&format!("[profiles.gd]{tail}")), "{after}");
    assert!(!after.contains("rest/v1/login"), "{after}");
}

#[test]
fn a_secret_given_on_stdin_is_written_as_text_with_a_warning() {
    let sb = Sandbox::new();
    let secret = format!("static-{}", tokenfob_emulator::util::random_hex(8));
    sb.secret(&secret);
    let cmd = sb.command(&["setup", "st", "--kind", "static", "--token-stdin"]);
    let run = sb.feed(cmd, format!("{secret}\n"));
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(run.stderr.contains("holds a secret as text"), "{run:#?}");
    assert!(!run.stdout.contains(&secret), "{run:#?}");
    let text = std::fs::read_to_string(sb.config_path()).unwrap();
    assert!(text.contains(&format!("token = \"{secret}\"")), "{text}");
    assert_eq!(sb.get(&["st"]), secret);
}

/// An OpenID provider that offers the client-credentials grant only, and whose metadata names itself.
fn idp() -> tokenfob_emulator::server::Server {
    stub(|req, _| {
        let me = format!("http://{}", req.headers["host"]);
        match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/.well-known/openid-configuration") => Response::json(
                200,
                &serde_json::json!({"issuer": me, "token_endpoint": format!("{me}/token"),
                                    "grant_types_supported": ["client_credentials"]})
                .to_string(),
            ),
            ("POST", "/token") if req.form().get("grant_type").map(String::as_str) == Some("client_credentials") => {
                Response::json(200, r#"{"access_token":"at-setup-1","token_type":"Bearer","expires_in":300}"#)
            }
            _ => Response::json(404, "{}"),
        }
    })
    .0
}

#[test]
fn a_person_sets_up_oauth2_from_an_issuer_at_the_terminal() {
    let sb = Sandbox::new();
    let idp = idp();
    sb.set_env("CLIENT_SECRET", "cs-setup-secret");
    sb.secret("cs-setup-secret");
    let mut pty = Pty::spawn(sb.command(&["setup", "corp"]));
    pty.expect("Choose 1-7 [1]: ");
    pty.send("oauth2");
    pty.expect("Issuer URL (https://...): ");
    pty.send(&format!("http://127.0.0.1:{}", crate::support::closed_port()));
    // An issuer that cannot be reached is asked again.
    pty.expect("Issuer URL (https://...): ");
    pty.send(&idp.url());
    pty.expect(&format!("token endpoint:         {}/token", idp.url()));
    pty.expect("How does tokenfob log in?");
    // No device endpoint: the browser login is offered first.
    pty.expect("Choose 1-4 [2]: ");
    pty.send("3");
    pty.expect("Client id: ");
    pty.send("cli");
    pty.expect("Where does the client secret come from?");
    pty.expect("Choose 1-6 [1]: ");
    pty.send("");
    pty.expect("env VAR [CORP_CLIENT_SECRET]: ");
    pty.send("CLIENT_SECRET");
    pty.expect("Scopes, separated by spaces []");
    pty.send("");
    pty.expect("logged in to profile corp");
    let (code, transcript) = pty.finish();
    assert_eq!(code, 0, "{transcript}");
    assert!(!transcript.contains("cs-setup-secret") && !transcript.contains("at-setup-1"), "{transcript}");
    assert_eq!(sb.get(&["corp"]), "at-setup-1");
}

#[test]
fn an_oauth2_issuer_is_discovered_checked_and_logged_in_to() {
    let sb = Sandbox::new();
    let idp = idp();
    sb.set_env("CLIENT_SECRET", "cs-setup-secret");
    sb.secret("cs-setup-secret");
    let issuer = idp.url();
    let args = [
        "setup",
        "idp",
        "--kind",
        "oauth2",
        "--issuer",
        &issuer,
        "--client-id",
        "cli",
        "--grant",
        "client-credentials",
    ];
    sb.run(&args).fails(2, "--client-secret-env");
    let mut full = args.to_vec();
    full.extend(["--client-secret-env", "CLIENT_SECRET"]);
    let run = sb.run(&full);
    assert!(run.stderr.contains(&format!("token endpoint:         {issuer}/token")), "{run:#?}");
    let out = run.ok().to_owned();
    assert!(out.contains("logged in to profile idp"), "{out}");
    assert_eq!(sb.get(&["idp"]), "at-setup-1");
    let text = std::fs::read_to_string(sb.config_path()).unwrap();
    assert!(text.contains(&format!("issuer = \"{issuer}\"\ngrant = \"client_credentials\"")), "{text}");
    // An issuer whose metadata names another issuer is refused before anything is written.
    let (liar, _) = stub(|_, _| Response::json(200, r#"{"issuer":"https://elsewhere.example","token_endpoint":"x"}"#));
    let run = sb.run(&["setup", "liar", "--kind", "oauth2", "--issuer", &liar.url(), "--client-id", "c"]);
    run.fails(4, "another issuer");
    assert!(!std::fs::read_to_string(sb.config_path()).unwrap().contains("liar"));
}

#[test]
fn a_file_that_is_not_toml_is_placed_without_quoting_its_line() {
    let sb = Sandbox::new();
    let secret = format!("SEKRIT{}", tokenfob_emulator::util::random_hex(8));
    sb.secret(&secret);
    sb.write_config(&format!("[profiles.a]\nkind = \"static\"\ntoken = \"{secret}\\q\"\n"));
    let run = sb.run(&["setup", "p", "--kind", "static", "--token-env", "T", "--no-login"]);
    run.fails(2, "not TOML at 3:");
    assert!(!run.stderr.contains(&secret), "{run:#?}");
}

#[test]
fn a_secret_written_as_text_makes_a_readable_file_private() {
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::new();
    std::fs::set_permissions(sb.config_path(), std::fs::Permissions::from_mode(0o644)).unwrap();
    let secret = format!("static-{}", tokenfob_emulator::util::random_hex(8));
    sb.secret(&secret);
    let run = sb.feed(sb.command(&["setup", "st", "--kind", "static", "--token-stdin", "--no-login"]), &secret);
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(run.stderr.contains("made it mode 0600 (it was 0644)"), "{run:#?}");
    assert_eq!(mode(&sb.config_path()), 0o600);
    let run = sb.run(&["check", "--offline", "st"]);
    assert!(!run.stdout.contains("others can read it"), "{run:#?}");
    // A later setup with a source keeps the file private while it holds the secret written before...
    std::fs::set_permissions(sb.config_path(), std::fs::Permissions::from_mode(0o640)).unwrap();
    let run = sb.run(&["setup", "e", "--kind", "static", "--token-env", "T", "--no-login"]);
    assert!(run.stderr.contains("made it mode 0600 (it was 0640)"), "{run:#?}");
    assert_eq!(mode(&sb.config_path()), 0o600);
    // ...and a file without one keeps its permissions.
    let plain = Sandbox::new();
    std::fs::set_permissions(plain.config_path(), std::fs::Permissions::from_mode(0o644)).unwrap();
    plain.run(&["setup", "e", "--kind", "static", "--token-env", "T", "--no-login"]).ok();
    assert_eq!(mode(&plain.config_path()), 0o644);
}

#[test]
fn a_profile_name_starting_with_a_dash_is_refused() {
    let sb = Sandbox::new();
    let before = std::fs::read_to_string(sb.config_path()).unwrap();
    let run = sb.run(&["setup", "--kind", "static", "--token-env", "T", "--no-login", "--", "-o"]);
    run.fails(2, "not starting with '.' or '-'");
    assert_eq!(std::fs::read_to_string(sb.config_path()).unwrap(), before, "nothing written");
    // Written by hand, the configuration says what is wrong with it.
    sb.write_config(&format!("{before}\n[profiles.-o]\nkind = \"static\"\ntoken = {{ env = \"T\" }}\n"));
    sb.run(&["get", "od"]).fails(2, "profile \"-o\"");
}

#[test]
fn setups_at_the_same_time_all_land() {
    let sb = Sandbox::new();
    let children: Vec<_> = (0..12)
        .map(|i| {
            let name = format!("p{i}");
            let mut cmd = sb.command(&["setup", &name, "--kind", "static", "--token-env", "T", "--no-login"]);
            cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
            cmd.spawn().unwrap()
        })
        .collect();
    for child in children {
        let run = sb.check(child.wait_with_output().unwrap());
        run.ok();
    }
    let text = std::fs::read_to_string(sb.config_path()).unwrap();
    for i in 0..12 {
        assert!(text.contains(&format!("[profiles.p{i}]")), "p{i} lost: {text}");
    }
    sb.run(&["check", "--offline"]);
}

#[test]
fn what_cannot_be_a_configuration_is_exit_2_and_a_dangling_link_stays_a_link() {
    let sb = Sandbox::new();
    let big = sb.dir.path().join("big.toml");
    std::fs::write(&big, "#".repeat(2 << 20)).unwrap();
    let args = ["setup", "p", "--kind", "static", "--token-env", "T", "--no-login"];
    let mut cmd = sb.command(&args);
    cmd.env("TOKENFOB_CONFIG", &big);
    sb.check(cmd.output().unwrap()).fails(2, "larger than");
    let fifo = sb.dir.path().join("fifo.toml");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let mut cmd = sb.command(&args);
    cmd.env("TOKENFOB_CONFIG", &fifo);
    sb.check(cmd.output().unwrap()).fails(2, "reading configuration");
    // A link to a file not made yet: the file is made, the link stays.
    let link = sb.dir.path().join("link.toml");
    std::os::unix::fs::symlink("dotfiles/tokenfob.toml", &link).unwrap();
    let mut cmd = sb.command(&args);
    cmd.env("TOKENFOB_CONFIG", &link);
    sb.check(cmd.output().unwrap()).ok();
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    let made = std::fs::read_to_string(sb.dir.path().join("dotfiles/tokenfob.toml")).unwrap();
    assert!(made.contains("[profiles.p]"), "{made}");
}

#[test]
fn a_hostile_issuers_endpoints_reach_the_terminal_escaped() {
    let sb = Sandbox::new();
    let (idp, _) = stub(|req, _| {
        let me = format!("http://{}", req.headers["host"]);
        let doc = serde_json::json!({"issuer": me, "token_endpoint": format!("{me}/t\u{1b}]0;owned\u{7}\nfake: yes"),
                                     "authorization_endpoint": "https://elsewhere.example/auth"});
        Response::json(200, &doc.to_string())
    });
    let args = ["setup", "h", "--kind", "oauth2", "--issuer", &idp.url(), "--client-id", "c", "--no-login"];
    let run = sb.run(&[&args[..], &["--grant", "authorization-code"]].concat());
    assert!(!run.stderr.contains('\u{1b}') && !run.stderr.contains('\u{7}'), "{run:#?}");
    assert!(run.stderr.contains("/t\\u{1b}]0;owned\\u{7}\\u{a}fake: yes\n"), "{run:#?}");
    assert!(run.stderr.contains("https://elsewhere.example/auth (not on the issuer's origin)"), "{run:#?}");
}

#[test]
fn a_url_that_is_not_one_is_warned_about_and_a_bad_header_name_refused() {
    let sb = Sandbox::new();
    let run = sb.run(&[
        "setup",
        "h",
        "--kind",
        "http",
        "--login-url",
        "example.com/login",
        "--username",
        "u",
        "--password-env",
        "P",
        "--token-pointer",
        "/t",
        "--no-login",
    ]);
    run.ok();
    assert!(run.stderr.contains("--login-url \"example.com/login\" is not an http:// or https:// URL"), "{run:#?}");
    let before = std::fs::read_to_string(sb.config_path()).unwrap();
    sb.run(&[
        "setup",
        "h2",
        "--kind",
        "http",
        "--login-url",
        "https://x.example/login",
        "--username",
        "u",
        "--password-env",
        "P",
        "--token-header",
        "X-Token\r\n",
        "--no-login",
    ])
    .fails(2, "--token-header \"X-Token\\\\u{d}\\\\u{a}\" is not a header name");
    assert_eq!(std::fs::read_to_string(sb.config_path()).unwrap(), before, "nothing written");
}

#[test]
fn a_profile_written_as_dotted_keys_is_not_replaced_losing_its_comments() {
    let sb = Sandbox::new();
    let text = "# the old static one\nprofiles.st.kind = \"static\"\nprofiles.st.token = { env = \"T\" }\n";
    sb.write_config(text);
    let args = ["setup", "st", "--kind", "static", "--token-env", "U", "--no-login", "--force"];
    sb.run(&args).fails(2, "written as dotted keys");
    assert_eq!(std::fs::read_to_string(sb.config_path()).unwrap(), text);
}
