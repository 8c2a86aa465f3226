#![allow(clippy::disallowed_methods)] // a harness: it reads its own PATH to find peers
//! tokenfob's benchmark harness: `cargo run --release -p tokenfob-bench [-- --quick]`.
//!
//! Method (docs/performance.md): every command is spawned directly (no shell), after warm-up runs, interleaved
//! with the floor program (A B A B ...) so that both see the same machine state; each pair gives a ratio, and the
//! report shows min/median/max wall time, peak RSS (from `wait4`) and the median of the paired ratios. The harness
//! builds its own floor program (a static C binary that reads a 1 KB file and prints one field), starts its own
//! loopback emulator of the seed APIs, plants its own cache, and runs the peers that are on the machine.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tokenfob_emulator::Emulator;
use tokenfob_emulator::util::rfc3339;

const PASSWORD: &str = "bench-password";

struct Options {
    runs: usize,
    warmup: usize,
    protocol_requests: usize,
    tokenfob: Build,
    /// Other builds of tokenfob to measure side by side (`--also PATH`).
    also: Vec<Build>,
    /// Only the cache-hit table (`--hit-only`), for comparing builds quickly.
    hit_only: bool,
}

/// A build of tokenfob under test: the file as built, and the copy of it that is run.
///
/// A file the linker has just written (through a memory map) can sit in the page cache in a state in which starting
/// it is about 15% slower than the same bytes written with `write` or `copy_file_range`, as `cp`, `cargo install` and
/// package managers do (measured on this machine: the same static binary, 1.26x the floor in place and 1.08x as a
/// copy). Users run installed copies, so the harness measures one.
struct Build {
    built: PathBuf,
    installed: PathBuf,
}

impl Build {
    fn install(built: PathBuf, dir: &Path, n: usize) -> Build {
        assert!(built.is_file(), "build it first: cargo static-release or cargo build --release ({})", built.display());
        let bin = dir.join(format!("bin{n}"));
        std::fs::create_dir_all(&bin).unwrap();
        let installed = bin.join("tokenfob");
        std::fs::copy(&built, &installed).unwrap();
        Build { built, installed }
    }
}

/// One spawn's wall time.
#[derive(Clone, Copy)]
struct Sample {
    wall: Duration,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let value = |flag: &'static str| -> Vec<PathBuf> {
        args.iter()
            .zip(args.iter().skip(1))
            .filter(|(f, _)| f.as_str() == flag)
            .map(|(_, v)| PathBuf::from(v))
            .collect()
    };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned();
    let tokenfob = value("--tokenfob").pop().unwrap_or_else(|| default_build(&root));
    let mut also = value("--also");
    let dynamic = root.join("target/release/tokenfob");
    if also.is_empty() && dynamic.is_file() && dynamic != tokenfob {
        also.push(dynamic);
    }
    let dir = std::env::temp_dir().join(format!("tokenfob-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let opts = Options {
        runs: if quick { 40 } else { 400 },
        warmup: if quick { 5 } else { 30 },
        protocol_requests: if quick { 20_000 } else { 200_000 },
        tokenfob: Build::install(tokenfob, &dir, 0),
        also: also.into_iter().enumerate().map(|(n, built)| Build::install(built, &dir, n + 1)).collect(),
        hit_only: args.iter().any(|a| a == "--hit-only"),
    };
    let result = std::panic::catch_unwind(|| run(&opts, &dir, &root, quick));
    let _ = std::fs::remove_dir_all(&dir);
    if result.is_err() {
        std::process::exit(1);
    }
}

/// The static build (`cargo static-release`) when there is one, else the ordinary release build.
fn default_build(root: &Path) -> PathBuf {
    let static_build = root.join("target/x86_64-unknown-linux-gnu/release/tokenfob");
    if static_build.is_file() { static_build } else { root.join("target/release/tokenfob") }
}

fn run(opts: &Options, dir: &Path, root: &Path, quick: bool) {
    let emu = Emulator::start(PASSWORD, PASSWORD, PASSWORD).unwrap();
    write_config(dir, &emu.url());
    let tf = |args: &[&str]| tokenfob_command(opts, dir, args);
    assert!(tf(&["get", "od"]).output().unwrap().status.success(), "the first get logs in");
    let token = String::from_utf8(tf(&["get", "od"]).output().unwrap().stdout).unwrap();
    let floor = build_floor(dir, token.trim());
    let trampoline = build_trampoline(dir);
    plant_git_credentials(dir, token.trim());

    println!("# tokenfob benchmark{}", if quick { " (quick mode: numbers are indicative only)" } else { "" });
    println!();
    println!("- date: {}", rfc3339(now()));
    println!("- commit: {}", git_commit(root));
    println!("- machine: {}", machine());
    println!(
        "- tokenfob under test: {} ({}; run as an installed copy)",
        opts.tokenfob.built.display(),
        elf_kind(&opts.tokenfob.installed)
    );
    for other in &opts.also {
        println!("- beside it: {} ({})", other.built.display(), elf_kind(&other.installed));
    }
    println!("- runs per command: {} (after {} warm-up runs), interleaved with the floor", opts.runs, opts.warmup);
    println!();
    println!("## Cache hit, per spawn");
    println!();
    println!("| command | min ms | median ms | max ms | peak RSS MiB | median ratio to floor |");
    println!("|---|---|---|---|---|---|");
    let floor_cmd = || {
        // The same environment as tokenfob's: glibc's start-up reads every variable, so a larger one would slow
        // the floor down and flatter the ratios.
        let mut c = with_user_environment(Command::new(&floor), dir);
        c.arg(dir.join("floor.json"));
        c
    };
    let floor_alone = measure_pair(opts, &floor_cmd, &floor_cmd).0;
    report(
        "floor (static C, reads 1 KB, prints a field)",
        &floor_alone,
        None,
        peak_rss(&trampoline, &dir.join("git-input"), floor_cmd()),
    );
    let mut candidates: Vec<(String, Box<dyn Fn() -> Command>)> = vec![
        ("tokenfob get od".into(), Box::new(|| tf(&["get", "od"]))),
        ("tokenfob kubectl od".into(), Box::new(|| as_kubectl_runs_it(tf(&["kubectl", "od"])))),
        ("git credential-store get".into(), Box::new(|| git_credential_store(dir))),
    ];
    let gke = which("gke-gcloud-auth-plugin");
    if let Some(plugin) = gke.clone() {
        plant_gke_cache(dir, token.trim());
        candidates.push((
            "gke-gcloud-auth-plugin (Go, cache hit)".into(),
            Box::new(move || as_kubectl_runs_it(with_user_environment(Command::new(&plugin), dir))),
        ));
    }
    for other in &opts.also {
        for args in [["get", "od"], ["kubectl", "od"]] {
            let name = format!("tokenfob {} od ({})", args[0], other.built.display());
            let other = other.installed.clone();
            candidates.push((
                name,
                Box::new(move || {
                    let c = if args[0] == "kubectl" { as_kubectl_runs_it(tf(&args)) } else { tf(&args) };
                    let mut o = Command::new(&other);
                    o.args(c.get_args())
                        .env_clear()
                        .envs(c.get_envs().filter_map(|(k, v)| Some((k.to_owned(), v?.to_owned()))));
                    o
                }),
            ));
        }
    }
    for (name, make) in &candidates {
        let (a, b) = measure_pair(opts, &floor_cmd, make.as_ref());
        report(name, &b, Some(&a), peak_rss(&trampoline, &dir.join("git-input"), make()));
    }
    if gke.is_none() {
        println!("| gke-gcloud-auth-plugin | not on this machine | | | | |");
    }
    println!();
    if opts.hit_only {
        return;
    }
    protocol_throughput(opts, dir);
    cold_path(opts, dir, &emu);
    sizes_and_syscalls(opts, dir);
}

/// The configuration where a user's would be: `$HOME/.config/tokenfob/config.toml` (no `TOKENFOB_CONFIG`).
fn write_config(dir: &Path, url: &str) {
    let config = format!(
        "[profiles.od]\nkind = \"onedata\"\nurl = \"{url}\"\nusername = \"{}\"\npassword = {{ env = \"OD_PASSWORD\" }}\n",
        tokenfob_emulator::OD_USER
    );
    std::fs::create_dir_all(dir.join(".config/tokenfob")).unwrap();
    std::fs::write(dir.join(".config/tokenfob/config.toml"), config).unwrap();
}

/// `tokenfob ARGS` as a user's tool runs it: the default configuration and cache paths under `$HOME`, and a few
/// variables of the kind every environment has.
fn tokenfob_command(opts: &Options, dir: &Path, args: &[&str]) -> Command {
    let mut c = with_user_environment(Command::new(&opts.tokenfob.installed), dir);
    c.args(args).env("OD_PASSWORD", PASSWORD);
    c
}

/// `cmd` with only the variables every user's environment has, `HOME` being `dir`.
fn with_user_environment(mut cmd: Command, dir: &Path) -> Command {
    cmd.env_clear()
        .env("HOME", dir)
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("LANG", "C.UTF-8")
        .env("USER", "bench");
    cmd
}

/// kubectl describes its request in `KUBERNETES_EXEC_INFO` (client-go, for an exec user with apiVersion v1).
fn as_kubectl_runs_it(mut c: Command) -> Command {
    c.env(
        "KUBERNETES_EXEC_INFO",
        r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}"#,
    );
    c
}

/// The floor: a static C program that reads a 1 KB JSON file and prints its "token" field.
fn build_floor(dir: &Path, token: &str) -> PathBuf {
    let padding = "x".repeat(1024usize.saturating_sub(token.len() + 40));
    std::fs::write(dir.join("floor.json"), format!("{{\"pad\":\"{padding}\",\"token\":\"{token}\"}}\n")).unwrap();
    let source = r#"#include <stdio.h>
#include <string.h>
int main(int argc, char **argv) {
    static char buf[4096];
    FILE *f = fopen(argv[1], "r");
    if (!f) return 1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    char *p = strstr(buf, "\"token\":\"");
    if (!p) return 1;
    p += 9;
    char *end = strchr(p, '"');
    if (!end) return 1;
    fwrite(p, 1, end - p, stdout);
    fputc('\n', stdout);
    return 0;
}
"#;
    compile_static(dir, "floor", source)
}

fn plant_git_credentials(dir: &Path, token: &str) {
    std::fs::write(dir.join(".git-credentials"), format!("https://oauth2:{token}@git.example.com\n")).unwrap();
    std::fs::write(dir.join("git-input"), "protocol=https\nhost=git.example.com\n\n").unwrap();
}

/// gke-gcloud-auth-plugin's own cache, as it writes it after a `gcloud` login: `~/.kube/gke_gcloud_auth_plugin_cache`
/// beside a kubeconfig whose current context the entry names. With an unexpired token (more than 10 s left) and no
/// `--project`/`--account` flags, the plugin answers from it without running gcloud (its `cred.go`).
fn plant_gke_cache(dir: &Path, token: &str) {
    let kube = dir.join(".kube");
    std::fs::create_dir_all(&kube).unwrap();
    std::fs::write(
        kube.join("config"),
        "apiVersion: v1\nkind: Config\ncurrent-context: bench\n\
         contexts:\n- name: bench\n  context: {cluster: bench, user: bench}\n\
         clusters:\n- name: bench\n  cluster: {server: \"https://127.0.0.1:1\"}\n\
         users:\n- name: bench\n  user: {}\n",
    )
    .unwrap();
    let expiry = rfc3339(now() + Duration::from_secs(3600));
    let entry = format!(
        "{{\"current_context\":\"bench\",\"access_token\":\"{token}\",\"token_expiry\":\"{expiry}\",\"extra_args\":\"\"}}"
    );
    std::fs::write(kube.join("gke_gcloud_auth_plugin_cache"), entry).unwrap();
}

fn git_credential_store(dir: &Path) -> Command {
    let mut c = Command::new("git");
    c.args(["credential-store", "get"]).env_clear().env("HOME", dir).env("GIT_CONFIG_NOSYSTEM", "1");
    c.stdin(File::open(dir.join("git-input")).unwrap());
    c
}

/// Compiles C `source` into a static program `dir/name`.
fn compile_static(dir: &Path, name: &str, source: &str) -> PathBuf {
    let (src, out) = (dir.join(format!("{name}.c")), dir.join(name));
    std::fs::write(&src, source).unwrap();
    let status = Command::new("cc").args(["-O2", "-static", "-o"]).arg(&out).arg(&src).status().unwrap();
    assert!(status.success(), "building {name} needs cc and a static libc");
    out
}

/// A static C program that forks, execs its arguments in the child, and prints the child's peak RSS (KiB). Peak
/// RSS is measured through it: the kernel carries the memory a process had before exec into its `ru_maxrss`, so a
/// command spawned straight from this (large) harness would report the harness's size; forked from this small
/// program, it reports its own.
fn build_trampoline(dir: &Path) -> PathBuf {
    let source = r#"#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char **argv) {
    (void)argc;
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execv(argv[1], argv + 1);
        _exit(127);
    }
    int status;
    struct rusage usage;
    if (wait4(pid, &status, 0, &usage) < 0) return 1;
    printf("%ld\n", usage.ru_maxrss);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
"#;
    compile_static(dir, "exec", source)
}

/// The largest peak RSS (MiB) of five runs of `cmd`, started through the trampoline.
fn peak_rss(trampoline: &Path, stdin: &Path, cmd: Command) -> f64 {
    let program = which_or_self(cmd.get_program());
    let mut max = 0;
    for _ in 0..5 {
        let mut t = Command::new(trampoline);
        t.arg(&program).args(cmd.get_args());
        t.env_clear().envs(cmd.get_envs().filter_map(|(k, v)| Some((k.to_owned(), v?.to_owned()))));
        if let Some(dir) = cmd.get_current_dir() {
            t.current_dir(dir);
        }
        // Every command gets git's input on stdin: git needs it, and the others never read stdin.
        t.stdin(File::open(stdin).unwrap());
        let out = t.output().unwrap();
        assert!(out.status.success(), "a command run for its RSS failed");
        max = max.max(String::from_utf8_lossy(&out.stdout).trim().parse::<i64>().unwrap());
    }
    max as f64 / 1024.0
}

/// A program name resolved on PATH (execv does not search it).
fn which_or_self(program: &std::ffi::OsStr) -> PathBuf {
    let p = PathBuf::from(program);
    if p.is_absolute() { p } else { which(&p.to_string_lossy()).unwrap_or(p) }
}

/// Spawns `cmd` and waits for it, for its wall time.
fn sample(mut cmd: Command) -> Sample {
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    let started = Instant::now();
    let status = cmd.status().unwrap();
    let wall = started.elapsed();
    assert!(status.success(), "a benchmarked command failed");
    Sample { wall }
}

/// Warm-up, then A B A B ...; returns both series.
fn measure_pair(opts: &Options, a: &dyn Fn() -> Command, b: &dyn Fn() -> Command) -> (Vec<Sample>, Vec<Sample>) {
    for _ in 0..opts.warmup {
        sample(a());
        sample(b());
    }
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for _ in 0..opts.runs {
        xs.push(sample(a()));
        ys.push(sample(b()));
    }
    (xs, ys)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

fn report(name: &str, samples: &[Sample], floor: Option<&[Sample]>, rss: f64) {
    let ms: Vec<f64> = samples.iter().map(|s| s.wall.as_secs_f64() * 1000.0).collect();
    let min = ms.iter().copied().fold(f64::INFINITY, f64::min);
    let max = ms.iter().copied().fold(0.0, f64::max);
    let ratio = floor.map_or("1.00 (itself)".to_owned(), |f| {
        let ratios = f.iter().zip(samples).map(|(a, b)| b.wall.as_secs_f64() / a.wall.as_secs_f64()).collect();
        format!("{:.2}", median(ratios))
    });
    println!("| {name} | {min:.3} | {:.3} | {max:.3} | {rss:.1} | {ratio} |", median(ms.clone()));
}

/// One long-lived `tokenfob protocol`, fed `get` lines by a writer thread.
fn protocol_throughput(opts: &Options, dir: &Path) {
    let mut child =
        tokenfob_command(opts, dir, &["protocol"]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let n = opts.protocol_requests;
    let started = Instant::now();
    let writer = std::thread::spawn(move || {
        let line = b"{\"v\":1,\"op\":\"get\",\"profile\":\"od\"}\n";
        let mut buf = std::io::BufWriter::new(&mut stdin);
        for _ in 0..n {
            buf.write_all(line).unwrap();
        }
    });
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let (mut answers, mut line) = (0, String::new());
    while reader.read_line(&mut line).unwrap() > 0 {
        assert!(line.contains("\"ok\":true"), "a protocol answer failed: {line}");
        answers += 1;
        line.clear();
    }
    writer.join().unwrap();
    child.wait().unwrap();
    let secs = started.elapsed().as_secs_f64();
    println!("## JSON face");
    println!();
    println!(
        "- `tokenfob protocol`: {answers} `get` answers in {secs:.2} s = {:.0} answers/s (one process, cache hits)",
        answers as f64 / secs
    );
    println!();
}

/// Cold logins against the emulator with a fixed server delay, and a herd of 64.
fn cold_path(opts: &Options, dir: &Path, emu: &Emulator) {
    let delay = Duration::from_millis(100);
    emu.state().delay = delay;
    let rounds = if opts.runs > 100 { 30 } else { 5 };
    let raw: Vec<f64> = (0..rounds).map(|_| raw_login(emu) * 1000.0).collect();
    let login: Vec<f64> = (0..rounds)
        .map(|_| sample(tokenfob_command(opts, dir, &["login", "od"])).wall.as_secs_f64() * 1000.0)
        .collect();
    let (raw_m, login_m) = (median(raw), median(login.clone()));
    let mut herds = Vec::new();
    for _ in 0..rounds.min(10) {
        let _ = std::fs::remove_file(dir.join(".cache/tokenfob/od.json"));
        let started = Instant::now();
        let children: Vec<_> = (0..64)
            .map(|_| tokenfob_command(opts, dir, &["get", "od"]).stdout(Stdio::null()).spawn().unwrap())
            .collect();
        for mut c in children {
            assert!(c.wait().unwrap().success());
        }
        herds.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    emu.state().delay = Duration::ZERO;
    let herd_m = median(herds);
    println!("## Cold path (loopback, server delay {} ms)", delay.as_millis());
    println!();
    println!("- the same login request sent by the harness itself: median {raw_m:.1} ms");
    println!(
        "- `tokenfob login od` (spawn, config, login, cache write): median {login_m:.1} ms, so tokenfob's own time is {:.1} ms",
        login_m - raw_m
    );
    println!(
        "- 64 processes at once on a cold cache: median {herd_m:.1} ms until all printed the token = {:.2}x one login",
        herd_m / login_m
    );
    println!();
}

/// The login request over a plain socket: what the server costs, without tokenfob.
fn raw_login(emu: &Emulator) -> f64 {
    let addr = emu.url().trim_start_matches("http://").to_owned();
    let body = format!("{{\"username\":\"{}\",\"password\":\"{PASSWORD}\"}}", tokenfob_emulator::OD_USER);
    let started = Instant::now();
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    write!(s, "POST /api/v1/users/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).unwrap();
    assert!(answer.starts_with(b"HTTP/1.1 200"));
    started.elapsed().as_secs_f64()
}

fn sizes_and_syscalls(opts: &Options, dir: &Path) {
    let size = std::fs::metadata(&opts.tokenfob.installed).unwrap().len() as f64 / (1024.0 * 1024.0);
    println!("## Size and system calls");
    println!();
    println!("- release binary: {size:.2} MiB (stripped)");
    let Some(strace) = which("strace") else {
        println!("- strace is not on this machine: no system call count");
        return;
    };
    let out = dir.join("strace.txt");
    let mut cmd = tokenfob_command(opts, dir, &["get", "od"]);
    let program = cmd.get_program().to_owned();
    let args: Vec<_> = cmd.get_args().map(|a| a.to_owned()).collect();
    let mut traced = Command::new(strace);
    traced.args(["-f", "-qq", "-o"]).arg(&out).arg(program).args(args);
    traced.env_clear().envs(cmd.get_envs().filter_map(|(k, v)| Some((k.to_owned(), v?.to_owned()))));
    cmd.stdout(Stdio::null());
    assert!(traced.stdout(Stdio::null()).status().unwrap().success());
    let text = std::fs::read_to_string(&out).unwrap();
    let calls: Vec<&str> = text.lines().filter(|l| !l.starts_with("+++") && !l.starts_with("---")).collect();
    let named = |name: &str| {
        calls.iter().filter(|l| l.starts_with(&format!("{name}(")) || l.contains(&format!(" {name}("))).count()
    };
    let opened: Vec<&str> =
        calls.iter().filter(|l| l.contains("openat(")).filter_map(|l| l.split('"').nth(1)).collect();
    println!(
        "- `tokenfob get od` on a cache hit: {} system calls; clone/clone3/fork: {}, socket: {}, execve: {} (its own start), files opened: {}",
        calls.len(),
        named("clone") + named("clone3") + named("fork") + named("vfork"),
        named("socket"),
        named("execve"),
        opened.join(", ")
    );
}

/// What kind of executable `binary` is, from its ELF header and program headers: static or dynamically linked (a
/// PT_INTERP names the dynamic loader), PIE (ET_DYN) or not (ET_EXEC). `cargo static-release` should say static PIE.
fn elf_kind(binary: &Path) -> String {
    let Ok(bytes) = std::fs::read(binary) else { return "unreadable".into() };
    let u16_at = |at: usize| bytes.get(at..at + 2).map(|b| u16::from_le_bytes([b[0], b[1]]) as usize);
    let u64_at = |at: usize| bytes.get(at..at + 8).map(|b| u64::from_le_bytes(b.try_into().unwrap()) as usize);
    // A 64-bit little-endian ELF file, as every x86_64 Linux executable is.
    if !bytes.starts_with(b"\x7fELF\x02\x01") {
        return "not a 64-bit little-endian ELF file".into();
    }
    let (Some(kind), Some(phoff), Some(phentsize), Some(phnum)) = (u16_at(16), u64_at(32), u16_at(54), u16_at(56))
    else {
        return "a truncated ELF header".into();
    };
    const PT_INTERP: u32 = 3;
    let interp = (0..phnum).any(|i| {
        let at = phoff + i * phentsize;
        bytes.get(at..at + 4).is_some_and(|b| u32::from_le_bytes(b.try_into().unwrap()) == PT_INTERP)
    });
    let linked = if interp { "dynamically linked" } else { "static" };
    match kind {
        2 => format!("{linked}, non-PIE"),
        3 => format!("{linked} PIE"),
        _ => format!("ELF type {kind}"),
    }
}

/// The time, in whole seconds (as tokenfob keeps it).
fn now() -> time::OffsetDateTime {
    let t = time::OffsetDateTime::now_utc();
    t.replace_nanosecond(0).unwrap_or(t)
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
}

fn git_commit(root: &Path) -> String {
    Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(root)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "?".into())
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpu
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .unwrap_or("?")
        .trim()
        .to_owned();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{cores} cores, {model}, Linux {}", kernel.trim())
}

#[cfg(test)]
mod tests {
    #[test]
    fn elf_kind_reads_the_headers() {
        // This test binary is an ordinary Rust executable: on x86_64 Linux, a dynamically linked PIE.
        let me = std::env::current_exe().unwrap();
        assert_eq!(super::elf_kind(&me), "dynamically linked PIE");
        let dir = std::env::temp_dir().join(format!("tokenfob-bench-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let short = dir.join("short");
        std::fs::write(&short, &std::fs::read(&me).unwrap()[..20]).unwrap();
        assert_eq!(super::elf_kind(&short), "a truncated ELF header");
        std::fs::write(&short, "#!/bin/sh\n").unwrap();
        assert_eq!(super::elf_kind(&short), "not a 64-bit little-endian ELF file");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
