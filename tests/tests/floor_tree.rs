//! With `--wait-descendants`, arbiter waits for the daemons the command left, and a SIGTERM
//! to it once the command has ended kills what is left. Natively, the same daemon survives
//! its parent (the control). (Without the flag, see `floor_lifetime.rs`.)

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use arbiter_tests::{arbiter, Sandbox};

/// The shell line: a daemon (new session, re-parented) writes its pid to `daemon.pid` and
/// sleeps; the command writes its own pid to `main.pid` and exits. The pids are the host's
/// (the first field of the process's own `/proc/self/stat`, the host's `/proc`): as root
/// the sandbox has a pid namespace of its own, where `$$` is not the pid this test sees.
const SCRIPT: &str =
    "read -r p _ </proc/self/stat; echo $p > main.pid; (setsid sh -c 'read -r p _ </proc/self/stat; echo $p > daemon.pid.tmp; mv daemon.pid.tmp daemon.pid; exec sleep 600' &); exit 0";

/// Reads a pid file once it exists.
fn pid_in(path: &Path) -> i32 {
    let start = Instant::now();
    loop {
        if let Ok(s) = std::fs::read_to_string(path) {
            if let Ok(pid) = s.trim().parse() {
                return pid;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Whether `pid` runs (a zombie or a missing entry does not).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
    })
}

/// Waits until `pid` no longer runs.
fn wait_gone(pid: i32) {
    let start = Instant::now();
    while alive(pid) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{pid} still runs"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn leftovers_die_when_arbiter_is_told_to_stop() {
    // Control: natively the daemon outlives the command.
    let sb = Sandbox::new();
    let st = Command::new("sh")
        .args(["-c", SCRIPT])
        .current_dir(&sb.dir)
        .status()
        .unwrap();
    assert!(st.success());
    let daemon = pid_in(&sb.path("daemon.pid"));
    assert!(alive(daemon), "control: the daemon survives natively");
    // SAFETY: kill with integer arguments; the daemon is ours.
    unsafe { libc::kill(daemon, libc::SIGKILL) };

    let sb = Sandbox::new();
    let mut run = Command::new(arbiter())
        .args(["run", "--wait-descendants", "--", "sh", "-c", SCRIPT])
        .current_dir(&sb.dir)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let main = pid_in(&sb.path("main.pid"));
    let daemon = pid_in(&sb.path("daemon.pid"));
    // The command has ended (arbiter reaped it); arbiter keeps waiting for the daemon.
    wait_gone(main);
    assert!(alive(daemon));
    assert!(
        run.try_wait().unwrap().is_none(),
        "arbiter waits for the daemon"
    );
    // SAFETY: kill with integer arguments; arbiter is our child.
    unsafe { libc::kill(run.id() as i32, libc::SIGTERM) };
    let start = Instant::now();
    let status = loop {
        if let Some(st) = run.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > Duration::from_secs(60) {
            // SAFETY: as above, cleaning up after a failure.
            unsafe { libc::kill(daemon, libc::SIGKILL) };
            run.kill().unwrap();
            panic!("arbiter did not end the sandbox on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(status.code(), Some(0), "the command's own status");
    assert!(!alive(daemon), "the daemon died with the run");
}
