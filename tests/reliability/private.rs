//! Cache directories and files others could tamper with are refused, as ssh refuses a loose `~/.ssh`; the
//! process is not dumpable.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::process::Stdio;

use crate::support::Sandbox;

fn chmod(path: &std::path::Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn loose_cache_directories_and_files_are_refused() {
    let s = Sandbox::new();
    let token = s.get(&["od"]);
    chmod(&s.cache_dir(), 0o777);
    s.run(&["get", "od"]).fails(2, "writable by group or others (chmod 700");
    chmod(&s.cache_dir(), 0o700);
    chmod(&s.entry_path("od"), 0o666);
    s.run(&["get", "od"]).fails(2, "writable by group or others (chmod 600");
    chmod(&s.entry_path("od"), 0o600);
    assert_eq!(s.get(&["od"]), token);
}

#[test]
fn symlinked_cache_directories_and_files_are_refused() {
    let s = Sandbox::new();
    s.get(&["od"]);
    let real = s.dir.path().join("elsewhere");
    std::fs::rename(s.cache_dir(), &real).unwrap();
    std::os::unix::fs::symlink(&real, s.cache_dir()).unwrap();
    s.run(&["get", "od"]).fails(2, "symlink");
    std::fs::remove_file(s.cache_dir()).unwrap();
    std::fs::rename(&real, s.cache_dir()).unwrap();
    let planted = s.dir.path().join("planted.json");
    std::fs::rename(s.entry_path("od"), &planted).unwrap();
    std::os::unix::fs::symlink(&planted, s.entry_path("od")).unwrap();
    s.run(&["get", "od"]).fails(2, "symlink");
}

#[test]
fn a_cache_owned_by_another_user_is_refused() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipping: chown to another user needs root");
        return;
    }
    let s = Sandbox::new();
    s.get(&["od"]);
    std::os::unix::fs::chown(s.entry_path("od"), Some(65534), None).unwrap();
    s.run(&["get", "od"]).fails(2, "owned by uid 65534");
    std::os::unix::fs::chown(s.entry_path("od"), Some(0), None).unwrap();
    std::os::unix::fs::chown(s.cache_dir(), Some(65534), None).unwrap();
    s.run(&["get", "od"]).fails(2, "owned by uid 65534");
}

#[test]
fn tokenfob_is_not_dumpable() {
    // A non-dumpable process's /proc files belong to root, whoever runs it; a normal process's belong to its user.
    // So run both as an unprivileged user and compare (which needs root to switch user).
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipping: switching to an unprivileged user needs root");
        return;
    }
    let s = Sandbox::new();
    let owner_of = |mut cmd: std::process::Command| {
        // SAFETY: setgid/setuid in the child before exec, to the nobody user.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setgid(65534) == 0 && libc::setuid(65534) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            })
        };
        let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(300));
        let uid =
            std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(format!("/proc/{}/environ", child.id())).unwrap());
        drop(child.stdin.take());
        let _ = child.kill();
        let _ = child.wait();
        uid
    };
    let control = owner_of(std::process::Command::new("cat"));
    assert_eq!(control, 65534, "a normal process's /proc files belong to its user");
    assert_eq!(owner_of(s.command(&["protocol"])), 0, "tokenfob's belong to root: it is not dumpable");
}
