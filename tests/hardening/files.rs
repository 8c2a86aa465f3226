//! The cache on disk: odd files, temp files, deleted lock files, the cache directory's path and modes, and the cache-hit stamp.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Run, Sandbox, mode};

/// Runs `cmd` under a 2 GB address-space limit (so a read of /dev/zero cannot take the machine), killing it after
/// `secs`: a hang fails the test instead of wedging the suite.
fn bounded(s: &Sandbox, cmd: Command, secs: u64) -> Run {
    let mut sh = Command::new("sh");
    sh.args(["-c", "ulimit -v 2000000; exec \"$0\" \"$@\""]).arg(cmd.get_program()).args(cmd.get_args());
    sh.env_clear().envs(cmd.get_envs().filter_map(|(k, v)| Some((k, v?))));
    if let Some(dir) = cmd.get_current_dir() {
        sh.current_dir(dir);
    }
    let mut child = sh.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(secs);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!("{:?} hung for {secs} s: {}", cmd.get_args(), String::from_utf8_lossy(&out.stderr));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    s.check(child.wait_with_output().unwrap())
}

fn private_dir(path: &Path) {
    std::fs::create_dir_all(path).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).unwrap();
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn mkfifo(path: &Path) {
    assert!(Command::new("mkfifo").arg("-m").arg("600").arg(path).status().unwrap().success());
}

/// Puts a non-regular file of `kind` at `path`; the returned value keeps a socket bound.
fn plant(kind: &str, path: &Path) -> Option<std::os::unix::net::UnixListener> {
    match kind {
        "fifo" => mkfifo(path),
        "directory" => private_dir(path),
        "socket" => return Some(std::os::unix::net::UnixListener::bind(path).unwrap()),
        _ => unreachable!(),
    }
    None
}

#[test]
fn a_fifo_directory_or_socket_in_place_of_a_cache_file_is_refused_without_hanging() {
    for (file, commands) in [
        ("od.json", &[&["get", "od"][..], &["status", "od"], &["login", "od"], &["get", "od", "-o", "json"]][..]),
        ("od.lock", &[&["get", "od"][..], &["login", "od"], &["erase", "od"]]),
    ] {
        for kind in ["fifo", "directory", "socket"] {
            let s = Sandbox::new();
            s.set_env("TOKENFOB_LOCK_TIMEOUT", "1");
            private_dir(&s.cache_dir());
            let path = s.cache_dir().join(file);
            let _socket = plant(kind, &path);
            for args in commands {
                let run = bounded(&s, s.command(args), 15);
                run.fails(2, &format!("{}: it is a {kind}, not a regular file", path.display()));
                assert!(run.stderr.contains("remove it"), "{run:#?}");
            }
            assert_eq!(s.emu.count("od.login"), 0, "{file} as a {kind}: no login");
        }
    }
}

#[test]
fn the_cache_directory_is_checked_before_any_file_in_it_is_opened() {
    let s = Sandbox::new();
    s.set_env("TOKENFOB_LOCK_TIMEOUT", "1");
    private_dir(&s.cache_dir());
    mkfifo(&s.entry_path("od"));
    // Another user's directory (or a writable one) is refused before the FIFO in it is touched.
    set_mode(&s.cache_dir(), 0o777);
    let run = bounded(&s, s.command(&["get", "od"]), 15);
    run.fails(2, "writable by group or others");
    assert!(!run.stderr.contains("regular file"), "{run:#?}");
    set_mode(&s.cache_dir(), 0o700);
    // A cache directory that is not a directory at all.
    let s = Sandbox::new();
    mkfifo(&s.cache_dir());
    bounded(&s, s.command(&["get", "od"]), 15).fails(2, "not a directory");
}

#[test]
fn odd_files_as_configuration_secret_or_ca_file_neither_hang_nor_eat_memory() {
    let s = Sandbox::new();
    let fifo = s.dir.path().join("fifo");
    mkfifo(&fifo);
    let fifo = fifo.to_str().unwrap().to_owned();
    // The configuration itself, on the cache-hit path (a plain get) and the full path.
    for config in [fifo.as_str(), "/dev/zero", "/dev/null", "/"] {
        s.set_env("TOKENFOB_CONFIG", config);
        for args in [&["get", "od"][..], &["status"], &["get", "od", "-o", "header"]] {
            bounded(&s, s.command(args), 15).fails(2, &format!("configuration {config}"));
        }
    }
    s.set_env("TOKENFOB_CONFIG", s.config_path().to_str().unwrap());
    // A `{ file = ... }` secret and a ca_file.
    let port = crate::support::closed_port();
    for odd in [fifo.as_str(), "/dev/zero", "/"] {
        s.write_config(&format!(
            "[profiles.st]\nkind = \"static\"\ntoken = {{ file = \"{odd}\" }}\n\n\
             [profiles.tls]\nkind = \"onedata\"\nurl = \"https://127.0.0.1:{port}\"\nusername = \"u\"\n\
             password = {{ env = \"OD_PASSWORD\" }}\nca_file = \"{odd}\"\n"
        ));
        bounded(&s, s.command(&["get", "st"]), 15).fails(2, odd).fails(2, "not a regular file");
        bounded(&s, s.command(&["get", "tls"]), 15).fails(2, odd).fails(2, "not a regular file");
    }
}

/// A `command` profile that prints `token`.
fn command_profile(name: &str, token: &str) -> String {
    format!("[profiles.\"{name}\"]\nkind = \"command\"\ncommand = [\"echo\", \"{token}\"]\n\n")
}

#[test]
fn a_profile_removes_only_its_own_temp_files_never_those_of_a_profile_whose_name_extends_it() {
    let s = Sandbox::new();
    s.write_config(&format!("{}{}", command_profile("x", "tok-x"), command_profile("x.y", "tok-xy")));
    assert_eq!(s.get(&["x.y"]), "tok-xy");
    // A write of x.y under way (its temp file, before the rename), and a leftover of x from a killed writer.
    let theirs = s.cache_dir().join(".x.y.0123456789abcdef.tmp");
    let ours = s.cache_dir().join(".x.fedcba9876543210.tmp");
    let not_ours = s.cache_dir().join(".x.y.tmp");
    for path in [&theirs, &ours, &not_ours] {
        std::fs::write(path, "{}").unwrap();
    }
    s.run(&["login", "x"]).ok();
    assert!(theirs.exists(), "x deleted a temp file of x.y");
    assert!(not_ours.exists(), "x deleted a file that is no temp file of its own");
    assert!(!ours.exists(), "x's own leftover is cleaned up");
    s.run(&["login", "x.y"]).ok();
    assert!(!theirs.exists(), "x.y cleans up its own");
}

#[test]
fn profile_names_that_differ_only_in_case_are_refused() {
    // On a case-insensitive file system (macOS) they would share one cache file and one lock.
    let s = Sandbox::new();
    s.write_config(&format!("{}{}", command_profile("Work", "tok-upper"), command_profile("work", "tok-lower")));
    s.run(&["get", "work"]).fails(2, "differ only in case");
}

#[test]
fn windows_device_names_are_refused_as_profile_names_everywhere() {
    // On Windows `nul.json` is the null device, not a cache file; refused on every platform so configs port.
    for name in ["nul", "CON", "com1.prod", "Lpt9"] {
        let s = Sandbox::new();
        s.write_config(&command_profile(name, "tok"));
        s.run(&["get", name]).fails(2, "device name on Windows").fails(2, "pick another profile name");
    }
}

#[test]
fn deleting_a_held_lock_file_does_not_let_a_second_process_log_in() {
    held_lock_file_replaced(|lock| std::fs::remove_file(lock).unwrap());
}

/// The same when the lock file is created again before the second process comes (it then did not create it, and
/// still must wait: found by the second review).
#[test]
fn a_held_lock_file_deleted_and_created_again_does_not_let_a_second_process_log_in() {
    held_lock_file_replaced(|lock| {
        std::fs::remove_file(lock).unwrap();
        private_file(lock);
    });
}

fn private_file(path: &Path) {
    std::fs::write(path, "").unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// A login held at the server while `replace` deals with `od.lock`, then a second `get`: one login in all.
fn held_lock_file_replaced(replace: impl FnOnce(&Path)) {
    let s = Sandbox::new();
    s.emu.state().delay = Duration::from_millis(1500);
    let spawn = || s.command(&["get", "od"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let first = spawn();
    // Wait until the first process holds the lock and its login is at the server.
    let started = Instant::now();
    while s.emu.state().arrivals == 0 {
        assert!(started.elapsed() < Duration::from_secs(10), "the first login never arrived");
        std::thread::sleep(Duration::from_millis(5));
    }
    replace(&s.cache_dir().join("od.lock"));
    let second = spawn();
    let first = s.check(first.wait_with_output().unwrap());
    let second = s.check(second.wait_with_output().unwrap());
    assert_eq!(s.emu.count("od.login"), 1, "one login: {first:#?} {second:#?}");
    assert_eq!(first.ok(), second.ok());
    // The lock works as before afterwards.
    s.expire("od");
    assert_ne!(s.get(&["od"]), first.ok());
    assert_eq!(s.emu.count("od.login"), 2);
}

/// The guard against deleted lock files must not make one profile wait for another's renewal: a profile whose
/// command runs `tokenfob get` for another profile on first use (found by the review of the first guard, a lock on
/// the whole directory, which deadlocked here until the lock timeout), and a first use during a slow login.
#[test]
fn a_first_use_never_waits_for_another_profiles_renewal() {
    let s = Sandbox::new();
    let exe = env!("CARGO_BIN_EXE_tokenfob");
    s.write_config(&format!(
        "{}[profiles.a]\nkind = \"command\"\ncommand = \"{exe} get b\"\nlifetime = \"1h\"\n\n{}",
        s.seed_config(),
        command_profile("b", "tok-b")
    ));
    s.set_env("TOKENFOB_LOCK_TIMEOUT", "20");
    let started = Instant::now();
    assert_eq!(s.get(&["a"]), "tok-b");
    assert!(started.elapsed() < Duration::from_secs(10), "a nested first use waited for the outer lock");
    // A slow login holds od's lock; b's and a's lock files are removed so that each is a first use again.
    s.emu.state().delay = Duration::from_millis(3000);
    let slow = s.command(&["get", "od"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let waiting = Instant::now();
    while s.emu.state().arrivals == 0 {
        // A login that never arrives must fail the test, not hang it.
        assert!(waiting.elapsed() < Duration::from_secs(10), "the slow login never arrived");
        std::thread::sleep(Duration::from_millis(5));
    }
    for name in ["a", "b"] {
        std::fs::remove_file(s.cache_dir().join(format!("{name}.lock"))).unwrap();
        std::fs::remove_file(s.entry_path(name)).unwrap();
    }
    s.set_env("TOKENFOB_LOCK_TIMEOUT", "1");
    assert_eq!(s.get(&["a"]), "tok-b", "a first use while another profile renews");
    s.check(slow.wait_with_output().unwrap()).ok();
}

#[test]
fn a_cache_directory_given_with_a_trailing_slash_is_still_refused_when_it_is_a_symlink() {
    let s = Sandbox::new();
    let real = s.dir.path().join("real");
    private_dir(&real);
    std::os::unix::fs::symlink(&real, s.dir.path().join("link")).unwrap();
    for given in ["link/", "link//", "link/.", "link/./"] {
        s.set_env("TOKENFOB_CACHE_DIR", s.dir.path().join(given).to_str().unwrap());
        s.run(&["get", "od"]).fails(2, "symlink");
        s.run(&["status", "od"]).fails(2, "symlink");
    }
    assert_eq!(std::fs::read_dir(&real).unwrap().count(), 0, "nothing was written through the symlink");
    assert_eq!(s.emu.count("od.login"), 0);
}

#[test]
fn relative_cache_and_config_variables_are_refused_and_write_nothing_into_the_current_directory() {
    let s = Sandbox::new();
    let work = s.dir.path().join("work");
    private_dir(&work);
    std::fs::copy(s.config_path(), work.join("config.toml")).unwrap();
    for (variable, value) in [("TOKENFOB_CACHE_DIR", "cache"), ("TOKENFOB_CONFIG", "config.toml")] {
        let mut cmd = s.command(&["get", "od"]);
        cmd.env(variable, value).current_dir(&work);
        let run = s.check(cmd.output().unwrap());
        run.fails(2, &format!("{variable}={value:?} is not an absolute path"));
    }
    assert!(!work.join("cache").exists(), "no cache in the current directory");
    // A relative XDG variable is ignored, as the XDG spec says: the cache goes to ~/.cache.
    let mut cmd = s.command(&["get", "od"]);
    cmd.env_remove("TOKENFOB_CACHE_DIR").env("XDG_CACHE_HOME", "xdg").current_dir(&work);
    s.secret(s.check(cmd.output().unwrap()).ok());
    assert!(!work.join("xdg").exists());
    assert_eq!(mode(&s.dir.path().join(".cache/tokenfob/od.json")), 0o600);
}

#[test]
fn a_cache_readable_by_others_is_made_private_with_a_warning_on_every_path() {
    let s = Sandbox::new();
    let token = s.get(&["od"]);
    // The shortcut (plain get), the full path (--min-valid), the JSON face and status all repair and warn.
    let faces: [(&[&str], &str); 4] = [
        (&["get", "od"], ""),
        (&["get", "od", "--min-valid", "1s"], ""),
        (&["protocol"], "{\"v\":1,\"op\":\"get\",\"profile\":\"od\"}\n"),
        (&["status", "od"], ""),
    ];
    for (args, input) in faces {
        set_mode(&s.cache_dir(), 0o755);
        set_mode(&s.entry_path("od"), 0o644);
        let run = s.feed(s.command(args), input);
        assert_eq!(run.code, 0, "{run:#?}");
        if args[0] == "get" {
            assert_eq!(run.ok(), token);
        }
        for path in [s.cache_dir(), s.entry_path("od")] {
            let warning = format!("{} was readable by group or others", path.display());
            assert!(run.stderr.contains(&warning), "{args:?} lacks {warning:?}: {run:#?}");
        }
        assert!(run.stderr.contains("may have leaked"), "{run:#?}");
        assert_eq!((mode(&s.cache_dir()), mode(&s.entry_path("od"))), (0o700, 0o600), "{args:?}");
        // Repaired once: the next call is quiet.
        let again = s.run(&["get", "od"]);
        assert_eq!(again.ok(), token);
        assert!(!again.stderr.contains("readable"), "{again:#?}");
    }
    // Group-writable is still refused: someone else may have written it.
    set_mode(&s.entry_path("od"), 0o664);
    s.run(&["get", "od"]).fails(2, "writable by group or others");
    assert_eq!(s.emu.count("od.login"), 1);
}

/// Sets the modification time of `path` (to forge an unchanged-looking file).
fn set_mtime(path: &Path, to: std::time::SystemTime) {
    std::fs::File::options().write(true).open(path).unwrap().set_modified(to).unwrap();
}

#[test]
fn the_cache_hit_shortcut_sees_an_in_place_edit_that_keeps_size_and_modification_time() {
    let s = Sandbox::new();
    let cached = s.get(&["od"]);
    let text = std::fs::read_to_string(s.config_path()).unwrap();
    let meta = std::fs::metadata(s.config_path()).unwrap();
    // Same inode (written in place), same size, same modification time, same mode: only the bytes differ.
    let edited = "[profiles.od]\nkind = \"static\"\ntoken = \"edited-token\"\n";
    let padded = format!("{edited}{}\n", "#".repeat(text.len() - edited.len() - 1));
    assert_eq!(padded.len(), text.len());
    std::fs::write(s.config_path(), &padded).unwrap();
    set_mtime(&s.config_path(), meta.modified().unwrap());
    let now = std::fs::metadata(s.config_path()).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        (now.ino(), now.size(), now.mtime(), now.mtime_nsec()),
        (meta.ino(), meta.size(), meta.mtime(), meta.mtime_nsec())
    );
    assert_eq!(s.get(&["od"]), "edited-token", "not the cached {cached}");
    assert!(s.run(&["kubectl", "od"]).ok().contains("edited-token"));
}

/// With stdout and stderr closed, the next files tokenfob opens would take descriptors 1 and 2, and the token or a
/// debug log line would be written into the lock or the cache entry. std's start-up puts /dev/null there; the C entry
/// point of glibc builds (src/main.rs) must do the same.
#[test]
fn closed_stdout_and_stderr_never_become_cache_files() {
    let s = Sandbox::new();
    s.bash("tokenfob get od >&- 2>&-");
    assert_eq!(s.emu.state().counts.get("od.login"), Some(&1), "the closed run logged in once");
    let token = s.get(&["od"]);
    assert_eq!(s.emu.state().counts.get("od.login"), Some(&1), "the entry it wrote is a cache hit");
    for file in std::fs::read_dir(s.cache_dir()).unwrap().flatten() {
        let text = String::from_utf8_lossy(&std::fs::read(file.path()).unwrap()).into_owned();
        let name = file.file_name().into_string().unwrap();
        assert!(!text.contains("DEBUG") && !text.contains("tokenfob:"), "a log line in {name}: {text:?}");
        if name != "od.json" {
            assert!(!text.contains(&token), "the token in {name}");
        }
    }
}
