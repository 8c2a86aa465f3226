//! `tokenfob check`: each class of broken configuration found and named with what to do, servers reached (or not)
//! and their clocks compared, the exit code the worst finding; and never a secret in what it prints.

use crate::support::server::stub;
use crate::support::{Run, Sandbox, closed_port};
use tokenfob_emulator::server::Response;

/// One ONE DATA profile against the emulator: nothing to find.
fn clean(sb: &Sandbox) -> String {
    format!(
        "[profiles.od]\nkind = \"onedata\"\nurl = \"{}\"\nusername = \"bot@example.com\"\n\
         password = {{ env = \"OD_PASSWORD\" }}\n",
        sb.emu.url()
    )
}

/// `tokenfob check ARGS`, with no secret of the sandbox on stdout either.
fn check(sb: &Sandbox, args: &[&str]) -> Run {
    let mut all = vec!["check"];
    all.extend_from_slice(args);
    let run = sb.run(&all);
    for secret in [&sb.od_password, &sb.session_password, &sb.gd_bootstrap] {
        assert!(!run.stdout.contains(secret.as_str()), "a secret on stdout: {run:#?}");
    }
    run
}

fn assert_finds(run: &Run, code: i32, line: &str) {
    assert_eq!(run.code, code, "{run:#?}");
    assert!(run.stdout.lines().any(|l| l.contains(line)), "no finding {line:?}: {run:#?}");
}

#[test]
fn a_clean_configuration_passes() {
    let sb = Sandbox::new();
    sb.write_config(&clean(&sb));
    let run = check(&sb, &[]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(run.stdout.contains("od: password: environment variable OD_PASSWORD is set"), "{run:#?}");
    assert!(run.stdout.contains(&format!("od: reached {}/api/v1/users/login (HTTP ", sb.emu.url())), "{run:#?}");
    assert!(!run.stdout.lines().any(|l| l.starts_with("error") || l.starts_with("warning")), "{run:#?}");
}

#[test]
fn unknown_keys_are_named_with_their_line_and_likely_meaning() {
    let sb = Sandbox::new();
    let text = clean(&sb).replace("password =", "pasword =") + "refresh_margn = \"5m\"\n";
    sb.write_config(&text);
    let run = check(&sb, &["--offline"]);
    assert_finds(&run, 2, "config.toml:5: unknown key `profiles.od.pasword` (did you mean `password`?)");
    assert_finds(&run, 2, "config.toml:6: unknown key `profiles.od.refresh_margn` (did you mean `refresh_margin`?)");
    // The profile is checked without them too, and what it then lacks is said.
    assert_finds(&run, 2, "kind onedata needs `password`");
}

#[test]
fn an_unset_secret_variable_and_a_missing_program_are_errors() {
    let sb = Sandbox::new();
    sb.write_config(&format!(
        "{}[profiles.cmd]\nkind = \"command\"\ncommand = \"no-such-token-printer --json\"\n",
        clean(&sb)
    ));
    sb.set_env("OD_PASSWORD", "");
    let run = check(&sb, &["--offline"]);
    assert_finds(&run, 2, "od: password: environment variable OD_PASSWORD is not set (export it");
    assert_finds(&run, 2, "cmd: command: program no-such-token-printer is not on PATH");
    // Only the profile asked about.
    let run = check(&sb, &["cmd", "--offline"]);
    assert!(!run.stdout.contains("OD_PASSWORD"), "{run:#?}");
}

#[test]
fn permissions_others_could_read_or_write_are_found() {
    let sb = Sandbox::new();
    sb.write_config(&clean(&sb));
    let set = |mode: u32| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(sb.config_path(), std::fs::Permissions::from_mode(mode)).unwrap();
    };
    set(0o644);
    assert_finds(&check(&sb, &["--offline"]), 1, "is readable by group or others (mode 0644; chmod 600");
    set(0o666);
    assert_finds(&check(&sb, &["--offline"]), 2, "is writable by group or others (mode 0666)");
    set(0o600);
    std::fs::create_dir(sb.cache_dir()).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(sb.cache_dir(), std::fs::Permissions::from_mode(0o777)).unwrap();
    assert_finds(&check(&sb, &["--offline"]), 2, "cache directory");
}

#[test]
fn overlapping_match_prefixes_are_warnings() {
    let sb = Sandbox::new();
    let url = sb.emu.url();
    sb.write_config(&format!(
        "{}[profiles.a]\nkind = \"static\"\ntoken = {{ env = \"OD_PASSWORD\" }}\nmatch = [\"{url}\"]\n\
         [profiles.b]\nkind = \"static\"\ntoken = {{ env = \"OD_PASSWORD\" }}\nmatch = [\"{url}/api/\"]\n",
        clean(&sb)
    ));
    let run = check(&sb, &["--offline"]);
    assert_finds(&run, 1, &format!("profiles a and od both match {url}"));
    assert_finds(&run, 1, &format!("URLs under {url}/api/ go to b"));
}

#[test]
fn an_unreachable_server_is_exit_4_with_what_to_do() {
    let sb = Sandbox::new();
    let port = closed_port();
    sb.write_config(&clean(&sb).replace(&sb.emu.url(), &format!("http://127.0.0.1:{port}")));
    let run = check(&sb, &[]);
    assert_finds(&run, 4, &format!("od: cannot reach http://127.0.0.1:{port}/api/v1/users/login"));
    assert!(run.stdout.contains("nothing listens there"), "{run:#?}");
    assert!(run.stderr.contains("1 unreachable server"), "{run:#?}");
}

/// A login server whose `Date` is `offset` seconds from now.
fn dated(offset: i64) -> tokenfob_emulator::server::Server {
    stub(move |_, _| {
        let format = time::format_description::parse_borrowed::<2>(
            "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT",
        )
        .unwrap();
        let date = (time::OffsetDateTime::now_utc() + time::Duration::seconds(offset)).format(&format).unwrap();
        let mut response = Response::json(405, "{}");
        response.headers.push(("Date".into(), date));
        response
    })
    .0
}

#[test]
fn a_server_clock_an_hour_off_is_a_warning() {
    let sb = Sandbox::new();
    let skewed = dated(-3600);
    sb.write_config(&clean(&sb).replace(&sb.emu.url(), &skewed.url()));
    let run = check(&sb, &[]);
    assert_finds(&run, 1, "clock is 1h");
    assert!(run.stdout.contains("behind this machine's"), "{run:#?}");
    let right = dated(0);
    sb.write_config(&clean(&sb).replace(&sb.emu.url(), &right.url()));
    let run = check(&sb, &[]);
    assert_finds(&run, 0, "clock and");
}

#[test]
fn a_secret_written_as_text_is_never_shown_and_exposed_is_an_error() {
    let sb = Sandbox::new();
    let secret = format!("lit-{}", tokenfob_emulator::util::random_hex(8));
    sb.secret(&secret);
    sb.write_config(&format!("{}[profiles.st]\nkind = \"static\"\ntoken = \"{secret}\"\n", clean(&sb)));
    let run = check(&sb, &["--offline"]);
    assert_finds(&run, 0, "st: token: written in the file as text");
    assert!(!run.stdout.contains(&secret), "{run:#?}");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(sb.config_path(), std::fs::Permissions::from_mode(0o640)).unwrap();
    let run = check(&sb, &["--offline"]);
    assert_finds(&run, 2, "holds a secret as text and others can read it");
    assert!(!run.stdout.contains(&secret), "{run:#?}");
}

#[test]
fn a_syntax_error_is_placed_by_line_and_column_without_quoting_the_line() {
    let sb = Sandbox::new();
    let secret = format!("SEKRIT{}", tokenfob_emulator::util::random_hex(8));
    sb.secret(&secret);
    sb.write_config(&format!("[profiles.a]\nkind = \"static\"\ntoken = \"{secret}\\q\"\n"));
    let run = check(&sb, &["--offline"]);
    assert_finds(&run, 2, "config.toml:3:");
    assert!(!run.stdout.contains(&secret) && !run.stderr.contains(&secret), "{run:#?}");
}

#[test]
fn a_value_of_the_wrong_type_is_never_shown() {
    let sb = Sandbox::new();
    let secret = format!("Bearer {}", tokenfob_emulator::util::random_hex(8));
    sb.secret(&secret);
    sb.write_config(&format!("[profiles.a]\nkind = \"static\"\ntoken = {{ env = \"T\" }}\nscopes = \"{secret}\"\n"));
    let run = check(&sb, &["--offline"]);
    assert_finds(&run, 2, "invalid type: string, expected a sequence");
    assert!(!run.stdout.contains(&secret), "{run:#?}");
    sb.run(&["get", "a"]).fails(2, "config.toml:4:10: invalid type: string, expected a sequence");
}

#[test]
fn a_date_header_that_is_not_a_date_is_named_as_such() {
    let sb = Sandbox::new();
    let (odd, _) = stub(|_, _| {
        let mut response = Response::json(405, "{}");
        response.headers.push(("Date".into(), "yesterday, about noon".into()));
        response
    });
    sb.write_config(&clean(&sb).replace(&sb.emu.url(), &odd.url()));
    let run = check(&sb, &[]);
    assert_finds(&run, 0, "sent a Date header that is not an HTTP date; the clock was not compared");
}
