//! The seccomp transport's worker pool stays at its two first workers while the sandbox
//! runs one program after another (issue 18, the cost of each process started).
//!
//! Every idle worker waits on the listener and is woken by every notification, so each
//! worker the pool does not need costs every later call of the sandbox a wake-up. A worker
//! answering an open waits in `SECCOMP_IOCTL_NOTIF_ADDFD` until the target has installed
//! the fd; the target then runs on and makes its next call (ld.so's next open) while the
//! worker is still there. It used to count as busy meanwhile, so that call found every
//! worker busy and the pool grew by one — to its limit of four at the first exec of a
//! dynamic program. A sequential script never makes two calls at once: two workers (one
//! answering, one waiting) are all it needs.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use arbiter_tests::{arbiter, broker_of, is_root, Sandbox};

/// The threads of `pid` named `seccomp` (the transport's workers).
fn seccomp_workers(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("the broker's threads")
        .flatten()
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == "seccomp")
        })
        .count()
}

/// Runs a script that starts `/bin/true` six times (each exec: ld.so's opens of the shim,
/// `ld.so.cache` and `libc.so.6` and its `access` of `ld.so.preload`, one after another,
/// through the seccomp transport), then reports and waits; counts the broker's workers then.
fn workers_after_six_execs(nobody: bool) -> usize {
    let sb = Sandbox::new();
    let script = "for i in 1 2 3 4 5 6; do /bin/true; done; echo ready; read x; echo done";
    let mut cmd = if nobody {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(arbiter())
            .env("HOME", "/nonexistent");
        c
    } else {
        Command::new(arbiter())
    };
    let mut child = cmd
        .args(["run", "-q", "--", "sh", "-c", script])
        .current_dir(&sb.dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n", "the script did not run");
    // setpriv execs arbiter: the pid is the guardian's either way.
    let workers = seccomp_workers(broker_of(child.id()));
    child.stdin.take().unwrap().write_all(b"\n").unwrap();
    line.clear();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "done\n");
    assert!(child.wait().unwrap().success());
    workers
}

#[test]
fn execs_one_after_another_do_not_grow_the_worker_pool() {
    // Native control: the same script, without arbiter, runs and ends the same way.
    let o = Command::new("sh")
        .args([
            "-c",
            "for i in 1 2 3 4 5 6; do /bin/true; done; echo ready; read x; echo done",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), "ready\ndone\n");

    let workers = workers_after_six_execs(false);
    assert!(
        (1..=2).contains(&workers),
        "{workers} seccomp workers after six execs one after another (want at most 2)"
    );
    if !is_root() {
        eprintln!("SKIP: the uid 65534 case needs root to switch users");
        return;
    }
    let workers = workers_after_six_execs(true);
    assert!(
        (1..=2).contains(&workers),
        "as uid 65534: {workers} seccomp workers after six execs (want at most 2)"
    );
}
