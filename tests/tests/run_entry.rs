//! arbiter's own start-up (`broker/src/entry.rs`: Rust's runtime start is skipped, and the
//! two steps of it arbiter relies on are done by hand): a standard descriptor arbiter is
//! started without is `/dev/null` (nothing arbiter opens takes its number and reaches the
//! command), and `SIGPIPE` is ignored (a denial line written to a stderr pipe nobody reads
//! does not kill arbiter: the run still ends with the command's status). As root and as
//! uid 65534.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use arbiter_tests::{arbiter_as, invoker_and_nobody, native_as, Sandbox};

/// Closes descriptors 0, 1 and 2 of `c` before it execs.
fn without_standard_descriptors(c: &mut Command) {
    // SAFETY: close(2) is async-signal-safe and touches no memory.
    unsafe {
        c.pre_exec(|| {
            for fd in 0..3 {
                libc::close(fd);
            }
            Ok(())
        });
    }
}

#[test]
fn closed_standard_descriptors_reach_the_command_as_dev_null() {
    // `ls -l` of the shell's own descriptors 0 and 2 (inherited), listed into a file.
    let script = "{ ls -l /proc/self/fd/0; ls -l /proc/self/fd/2; } > fds.txt; exit 3";
    for nobody in invoker_and_nobody() {
        let sb = Sandbox::new();
        // Native control: the shell runs with them closed, and the listing says so (only
        // the file's own descriptor 1 is there).
        let mut native = native_as(nobody, "sh");
        native.args(["-c", script]).current_dir(&sb.dir);
        without_standard_descriptors(&mut native);
        assert_eq!(native.status().unwrap().code(), Some(3), "native");
        let listed = std::fs::read_to_string(sb.path("fds.txt")).unwrap();
        assert!(!listed.contains("/dev/null"), "native: {listed}");

        let mut c = arbiter_as(nobody);
        c.args(["run", "-q", "--", "sh", "-c", script])
            .current_dir(&sb.dir)
            .env_remove("LD_LIBRARY_PATH");
        without_standard_descriptors(&mut c);
        assert_eq!(c.status().unwrap().code(), Some(3), "nobody={nobody}");
        let listed = std::fs::read_to_string(sb.path("fds.txt")).unwrap();
        let lines: Vec<&str> = listed.lines().collect();
        assert_eq!(lines.len(), 2, "nobody={nobody}: {listed}");
        for (line, fd) in lines.iter().zip([0, 2]) {
            assert!(
                line.contains(&format!("/proc/self/fd/{fd} -> /dev/null")),
                "nobody={nobody}: descriptor {fd}: {line}"
            );
        }
    }
}

#[test]
fn a_denial_line_to_a_closed_stderr_pipe_does_not_kill_arbiter() {
    // The command's own stderr goes to /dev/null; arbiter's denial line goes to the pipe.
    let script = "cat /etc/shadow 2>/dev/null; exit 3";
    for nobody in invoker_and_nobody() {
        let sb = Sandbox::new();
        // Native control: the command's status is 3.
        let native = native_as(nobody, "sh")
            .args(["-c", script])
            .current_dir(&sb.dir)
            .status()
            .unwrap();
        assert_eq!(native.code(), Some(3), "native");

        let mut c = arbiter_as(nobody);
        c.args(["run", "--", "sh", "-c", script])
            .current_dir(&sb.dir)
            .env_remove("LD_LIBRARY_PATH")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        // Nobody reads arbiter's stderr: the denial line's write fails with EPIPE (or
        // SIGPIPE, were it not ignored).
        drop(child.stderr.take());
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(3), "nobody={nobody}: {status:?}");
    }
}

/// Started by a caller that ignores `SIGCHLD` (which `exec` passes on, and under which the
/// kernel reaps children itself without telling their parent), `arbiter run` still ends
/// with the command and its status (red team s9b finding 01: it waited for ever, and
/// SIGTERM did not end it). Native control: the same command ends at once with 3. A
/// watchdog kills a run that hangs, which then fails the test.
#[test]
fn a_caller_ignoring_sigchld_does_not_hang_the_run() {
    for nobody in invoker_and_nobody() {
        for under_arbiter in [false, true] {
            let mut c = if under_arbiter {
                let mut c = arbiter_as(nobody);
                c.args(["run", "-q", "--"]);
                c
            } else {
                native_as(nobody, "timeout")
            };
            if !under_arbiter {
                c.args(["-s", "KILL", "20"]);
            }
            c.args(["sh", "-c", "exit 3"]).stdin(Stdio::null());
            // SAFETY: signal(2) is async-signal-safe and touches no memory.
            unsafe {
                c.pre_exec(|| {
                    libc::signal(libc::SIGCHLD, libc::SIG_IGN);
                    Ok(())
                });
            }
            let mut child = c.spawn().unwrap();
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            let status = loop {
                if let Some(s) = child.try_wait().unwrap() {
                    break s;
                }
                if std::time::Instant::now() > deadline {
                    child.kill().unwrap();
                    break child.wait().unwrap();
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            };
            assert_eq!(
                status.code(),
                Some(3),
                "under arbiter: {under_arbiter}, as 65534: {nobody}: {status:?}"
            );
        }
    }
}
