//! Unix: what must be undone when tokenfob is ended by a signal: the running child's process group, and the terminal's
//! echo while a secret is typed.
//!
//! `child` records the process group of the program it runs, `tty` the terminal settings it changed; on SIGTERM,
//! SIGINT, SIGHUP or SIGQUIT one handler kills that group, puts the terminal back, and then lets the process die of the same
//! signal, with the status a shell expects. The handler makes only async-signal-safe calls (atomics, `kill`,
//! `tcsetattr`, `signal`, `raise`). Signals that were ignored when tokenfob started (`nohup`) stay ignored.
//!
//! Between starting a child and recording its group there is a window in which a signal would end tokenfob and
//! leave the child running. Blocking the signals covers only the thread that spawns (a process-directed signal
//! goes to any thread that does not block it, such as reqwest's runtime thread), so [`spawning`] also tells the
//! handler, in whatever thread it runs, to leave the ending to the spawning thread, which ends the process as soon
//! as the group is recorded.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

/// The process group of the child running now, 0 for none.
static CHILD: AtomicI32 = AtomicI32::new(0);
/// The terminal whose settings [`SAVED`] holds, -1 for none.
static TTY: AtomicI32 = AtomicI32::new(-1);
/// The first handled signal that arrived, 0 for none; once set, the process is ending.
static PENDING: AtomicI32 = AtomicI32::new(0);
/// True while a child is being started and its group is not yet in [`CHILD`].
static SPAWNING: AtomicBool = AtomicBool::new(false);

/// The terminal settings to restore; written only while `TTY` is -1, read only while it is set.
struct Saved(UnsafeCell<Option<libc::termios>>);
// SAFETY: access is ordered by `TTY` (see `guard_tty` and `on_signal`); tokenfob prompts from one thread.
unsafe impl Sync for Saved {}
static SAVED: Saved = Saved(UnsafeCell::new(None));

const SIGNALS: [libc::c_int; 4] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGQUIT];

/// Records the child's process group (0 when it has been reaped), installing the handler first.
pub(super) fn set_child(pgid: i32) {
    install();
    CHILD.store(pgid, Ordering::SeqCst);
}

/// Records that `fd`'s settings are `saved` until [`release_tty`] (echo is off meanwhile).
pub(super) fn guard_tty(fd: i32, saved: libc::termios) {
    install();
    // SAFETY: TTY is -1 here (one prompt at a time), so the handler does not read SAVED while it is written.
    unsafe { *SAVED.0.get() = Some(saved) };
    TTY.store(fd, Ordering::SeqCst);
}

/// The terminal's settings were restored.
pub(super) fn release_tty() {
    TTY.store(-1, Ordering::SeqCst);
}

/// Kills the process group `pgid` (a negative pid names a group), if there is one.
pub(super) fn kill_group(pgid: i32) {
    if pgid > 0 {
        // SAFETY: kill has no memory preconditions.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
    }
}

/// A child is being started: until this is dropped, a handled signal only records itself (see [`on_signal`]).
pub(crate) struct Spawning(Option<libc::sigset_t>);

/// Marks the start of a spawn, with the handled signals blocked in this thread; `None` (after which the process
/// ends) when a signal has already arrived, since a child started now might outlive the handler's `raise`.
pub(super) fn spawning() -> Option<Spawning> {
    install();
    let spawning = Spawning(hold());
    // Set, then look (both SeqCst); the handler records, then looks: so either it sees SPAWNING and leaves the
    // ending to us, or we see PENDING here (or in `drop`) and end the process ourselves, with the group recorded.
    SPAWNING.store(true, Ordering::SeqCst);
    if PENDING.load(Ordering::SeqCst) != 0 {
        return None;
    }
    Some(spawning)
}

impl Spawning {
    /// Records the new child's process group (0 when it could not be started); the spawn is over.
    pub(crate) fn record(self, pgid: i32) {
        CHILD.store(pgid, Ordering::SeqCst);
    }
}

impl Drop for Spawning {
    /// Ends the spawn; if a signal arrived meanwhile, does what its handler left undone and ends the process.
    fn drop(&mut self) {
        SPAWNING.store(false, Ordering::SeqCst);
        release(self.0.take());
        let signal = PENDING.load(Ordering::SeqCst);
        if signal != 0 {
            end(signal);
            // `raise` ends the process at once unless the caller had the signal blocked; do not go on regardless.
            // SAFETY: _exit has no preconditions.
            unsafe { libc::_exit(128 + signal) };
        }
    }
}

/// Blocks the handled signals in this thread; returns the mask to restore, if that worked.
fn hold() -> Option<libc::sigset_t> {
    // SAFETY: sigset_t values filled by sigemptyset/sigaddset or by pthread_sigmask, passed by pointer.
    unsafe {
        let (mut set, mut old): (libc::sigset_t, libc::sigset_t) = (std::mem::zeroed(), std::mem::zeroed());
        libc::sigemptyset(&mut set);
        for signal in SIGNALS {
            libc::sigaddset(&mut set, signal);
        }
        (libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old) == 0).then_some(old)
    }
}

/// Restores a mask that [`hold`] returned.
fn release(mask: Option<libc::sigset_t>) {
    if let Some(mask) = mask {
        // SAFETY: restores the mask pthread_sigmask returned.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &mask, std::ptr::null_mut()) };
    }
}

extern "C" fn on_signal(signal: libc::c_int) {
    // Record, then look (see `spawning`): during a spawn the spawning thread ends the process once it has recorded
    // the group; ending it here could leave the child running.
    let _ = PENDING.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
    if !SPAWNING.load(Ordering::SeqCst) {
        end(signal);
    }
}

/// Kills the child's group, restores the terminal and raises `signal` with its default action.
fn end(signal: libc::c_int) {
    kill_group(CHILD.load(Ordering::SeqCst));
    let fd = TTY.load(Ordering::SeqCst);
    // SAFETY: SAVED was written before TTY was set and is not written again while it is; tcsetattr, signal and
    // raise are async-signal-safe. In a handler the signal stays blocked until it returns, then ends the process.
    unsafe {
        if fd >= 0
            && let Some(saved) = &*SAVED.0.get()
        {
            libc::tcsetattr(fd, libc::TCSANOW, saved);
        }
        libc::signal(signal, libc::SIG_DFL);
        libc::raise(signal);
    }
}

/// Installs [`on_signal`] once, for each handled signal that is not ignored.
fn install() {
    static DONE: AtomicBool = AtomicBool::new(false);
    if DONE.swap(true, Ordering::SeqCst) {
        return;
    }
    for signal in SIGNALS {
        // SAFETY: sigaction with a zeroed struct reads the current disposition; the handler is async-signal-safe.
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(signal, std::ptr::null(), &mut old) != 0 || old.sa_sigaction == libc::SIG_IGN {
                continue;
            }
            let mut new: libc::sigaction = std::mem::zeroed();
            new.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::sigemptyset(&mut new.sa_mask);
            libc::sigaction(signal, &new, std::ptr::null_mut());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    use std::os::unix::thread::JoinHandleExt;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    const RACE: &str = "TOKENFOB_TEST_SPAWN_RACE";

    /// In the re-executed test binary: a SIGTERM lands in another thread while a child is being started. The
    /// handler there must leave the ending to this thread, which records the child's group and then dies of it.
    fn race() {
        let other = std::thread::spawn(|| std::thread::sleep(Duration::from_secs(30)));
        let spawning = spawning().expect("no signal yet");
        // SAFETY: the thread is alive (it sleeps for 30 s); the handler is installed by `spawning`.
        unsafe { libc::pthread_kill(other.as_pthread_t(), libc::SIGTERM) };
        let waited = Instant::now();
        while PENDING.load(Ordering::SeqCst) == 0 && waited.elapsed() < Duration::from_secs(5) {
            std::thread::yield_now();
        }
        let mut child = Command::new("sleep").arg("30").stdout(Stdio::null()).process_group(0).spawn().unwrap();
        println!("pid {}", child.id());
        spawning.record(i32::try_from(child.id()).unwrap());
        println!("survived");
        kill_group(i32::try_from(child.id()).unwrap());
        drop(child.wait());
    }

    /// True while `pid` exists and is not a zombie (an orphan waits for whoever reaps it).
    fn running(pid: i32) -> bool {
        // SAFETY: signal 0 only checks that the process exists.
        let exists = unsafe { libc::kill(pid, 0) } == 0;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        exists && !stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
    }

    /// Gap 3: blocking the signals covers only the spawning thread; a process-directed SIGTERM delivered to another
    /// thread between spawn and recording the group used to end tokenfob and leave the child running.
    #[test]
    fn a_signal_in_another_thread_during_a_spawn_still_takes_the_child() {
        if crate::environment::Env::from_process().get(RACE).is_some() {
            return race();
        }
        // This test's own name as libtest knows it (its module path without the crate's name).
        let module = module_path!().split_once("::").map_or("", |(_, rest)| rest);
        let name = format!("{module}::a_signal_in_another_thread_during_a_spawn_still_takes_the_child");
        let out = Command::new(std::env::current_exe().unwrap())
            .args([name.as_str(), "--exact", "--nocapture", "--test-threads=1"])
            .env(RACE, "1")
            .stderr(Stdio::null())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        // libtest's "test ... " has no newline yet, so the pid is found anywhere in the output.
        let pid = stdout.split_once("pid ").and_then(|(_, rest)| rest.lines().next()?.trim().parse::<i32>().ok());
        let gone = pid.is_some_and(|pid| {
            let waited = Instant::now();
            while running(pid) && waited.elapsed() < Duration::from_secs(5) {
                std::thread::sleep(Duration::from_millis(20));
            }
            let gone = !running(pid);
            kill_group(pid); // so that a failing run leaves nothing behind
            gone
        });
        assert_eq!(out.status.signal(), Some(libc::SIGTERM), "{stdout}");
        assert!(gone && !stdout.contains("survived"), "the child was not started, or outlived tokenfob: {stdout}");
    }
}
