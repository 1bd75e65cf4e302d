//! The end of a run leaves nothing of arbiter's behind. The broker reports the command's
//! status to the guardian before it ends the pid namespace's init (as root: the init, alone
//! once the command has ended, is killed and reaped after the report, off the path to
//! arbiter's exit; docs/process-model.md, "Daemons and the end of a run"). So the broker must
//! still reap the init before it exits: an init it left behind would be re-parented, with
//! the broker, to the nearest subreaper — this test, which makes itself one and counts what
//! it reaps once arbiter (the guardian) has exited. Native control: an orphan a native
//! command leaves is counted the same way. As root and as uid 65534 (no namespace there:
//! the same count).

use std::process::{Command, Stdio};

use arbiter_tests::{arbiter_as, invoker_and_nobody, native_as, Sandbox};

/// Reaps every descendant re-parented to this process (a subreaper), blocking until none is
/// left; returns each one's pid and raw wait status.
fn reap_all() -> Vec<(libc::pid_t, i32)> {
    let mut reaped = Vec::new();
    loop {
        let mut status = 0;
        // SAFETY: status is a valid out-pointer.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::__WALL) };
        if pid > 0 {
            reaped.push((pid, status));
            continue;
        }
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        assert_eq!(e.raw_os_error(), Some(libc::ECHILD), "waitpid: {e}");
        return reaped;
    }
}

/// Runs `c` (stdin, stdout and stderr to `/dev/null`), waits for it, and returns its exit
/// code and what this process (a subreaper) reaped after it: what it left behind.
fn run_and_reap(mut c: Command) -> (Option<i32>, Vec<(libc::pid_t, i32)>) {
    let status = c
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("start");
    (status.code(), reap_all())
}

// One test in this file: the subreaper attribute is the whole test process's.
#[test]
fn the_broker_reaps_everything_it_started_before_it_exits() {
    // SAFETY: prctl with integer arguments only.
    let made = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) };
    assert_eq!(made, 0, "PR_SET_CHILD_SUBREAPER");
    for nobody in invoker_and_nobody() {
        let sb = Sandbox::new();
        // Native control: a command that leaves an orphan behind; it is re-parented to this
        // process and counted.
        let mut native = native_as(nobody, "sh");
        native
            .args(["-c", "sh -c 'exit 0' & exit 3"])
            .current_dir(&sb.dir);
        let (code, left) = run_and_reap(native);
        assert_eq!(code, Some(3), "native, nobody={nobody}");
        assert_eq!(left.len(), 1, "native, nobody={nobody}: {left:?}");

        // A few times each: the guardian takes an init left behind itself when the broker
        // happened to exit first.
        for script in ["exit 3", "kill -TERM $$"].repeat(4) {
            let mut c = arbiter_as(nobody);
            c.args(["run", "-q", "--", "sh", "-c", script])
                .current_dir(&sb.dir)
                .env_remove("LD_LIBRARY_PATH");
            let (code, left) = run_and_reap(c);
            let want = if script == "exit 3" { 3 } else { 128 + 15 };
            assert_eq!(code, Some(want), "nobody={nobody} {script}");
            // At most the broker (the guardian reaps it itself when it has already
            // exited), exiting with the command's status: the init (as root) was reaped
            // by the broker. An init left behind is re-parented here (killed by its death
            // signal) unless the guardian, still alive, reaps it first.
            assert!(
                left.len() <= 1,
                "nobody={nobody} {script}: more than the broker was left: {left:?}"
            );
            for &(_, status) in &left {
                assert!(
                    libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == want,
                    "nobody={nobody} {script}: not the broker: status {status:#x}"
                );
            }
        }
    }
}
