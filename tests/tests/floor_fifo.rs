//! FIFO opens cannot exhaust the seccomp transport's workers: opens of FIFOs with no peer,
//! made with raw system calls (so they reach the broker as seccomp notifications), wait
//! without holding up the other calls of the sandbox, and a caller that stops waiting (it
//! was killed) frees the broker's thread. `tests/helpers/fifo_flood.c`, dynamic and static,
//! run natively (the control) and under `arbiter run --strict`, as the invoking user and,
//! when that is root, as uid 65534.

mod floor_common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use arbiter_tests::broker_of;
use floor_common::{arbiter, command, host_pid_of, users, Scratch, Who};

/// How long a test waits for something that must happen before it calls it a failure.
const PATIENCE: Duration = Duration::from_secs(60);

fn last_line(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or("")
        .to_owned()
}

#[test]
fn fifo_opens_with_no_peer_do_not_stall_the_sandbox() {
    let s = Scratch::new("fifo_flood", &["-pthread"]);
    let arb = arbiter();
    for who in users() {
        for h in &s.helpers {
            let h = h.to_str().unwrap();
            let name = Path::new(h).file_name().unwrap().to_str().unwrap();
            // Control: natively 200 readers wait in the kernel and nothing else stalls.
            let work = s.work(&format!("native-{who:?}-{name}"));
            let out = command(who, &[h, "flood", "200"])
                .current_dir(&work)
                .stdin(Stdio::null())
                .output()
                .unwrap();
            assert_eq!(last_line(&out), "ok", "control as {who:?}: {out:?}");

            // Under arbiter the 200 opens reach the broker; a plain open is still answered,
            // and every reader gets its FIFO once a writer comes.
            let work = s.work(&format!("arbiter-{who:?}-{name}"));
            let argv = [
                arb.to_str().unwrap(),
                "run",
                "--strict",
                "--",
                h,
                "flood",
                "200",
            ];
            let out = command(who, &argv)
                .current_dir(&work)
                .stdin(Stdio::null())
                .output()
                .unwrap();
            assert_eq!(last_line(&out), "ok", "under arbiter as {who:?}: {out:?}");
            assert_eq!(out.status.code(), Some(0));
        }
    }
}

/// The threads of `pid` in `openat` right now.
fn in_openat(pid: u32) -> usize {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter(|t| {
            std::fs::read_to_string(t.path().join("syscall"))
                .is_ok_and(|s| s.split_whitespace().next() == Some(&libc::SYS_openat.to_string()))
        })
        .count()
}

/// Waits until `cond` holds; after [`PATIENCE`], fails with `what`.
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < PATIENCE, "{what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn kill(pid: i32) {
    // SAFETY: kill with integer arguments; the pids are processes this test started.
    unsafe { libc::kill(pid, libc::SIGKILL) };
}

/// Starts `argv` as `who` in `work` and reads the helper's "pids …" line.
fn start_abandon(who: Who, argv: &[&str], work: &Path) -> (std::process::Child, Vec<i32>) {
    let mut child = command(who, argv)
        .current_dir(work)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let pids: Vec<i32> = line
        .strip_prefix("pids ")
        .unwrap_or_else(|| panic!("{argv:?}: {line:?}"))
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    (child, pids)
}

#[test]
fn a_caller_that_stops_waiting_frees_the_broker_thread() {
    let s = Scratch::new("fifo_flood", &["-pthread"]);
    let arb = arbiter();
    for who in users() {
        for h in &s.helpers {
            let h = h.to_str().unwrap();
            let name = Path::new(h).file_name().unwrap().to_str().unwrap();
            // Control: natively the 8 children wait in openat.
            let work = s.work(&format!("native-{who:?}-{name}"));
            let (mut native, pids) = start_abandon(who, &[h, "abandon", "8"], &work);
            for &p in &pids {
                wait_for("control: a child never waited in openat", || {
                    in_openat(p as u32) == 1
                });
                kill(p);
            }
            drop(native.stdin.take());
            assert!(native.wait().unwrap().success());

            // Under arbiter the broker waits for them; once they are killed, it stops.
            let work = s.work(&format!("arbiter-{who:?}-{name}"));
            let argv = [
                arb.to_str().unwrap(),
                "run",
                "--strict",
                "--",
                h,
                "abandon",
                "8",
            ];
            let (mut run, pids) = start_abandon(who, &argv, &work);
            let broker = broker_of(run.id());
            wait_for("the broker never waited for the 8 FIFO opens", || {
                in_openat(broker) >= 8
            });
            // As root the helper printed its children's pids in the sandbox's pid namespace:
            // the test kills them by their host pids.
            let pids: Vec<i32> = pids.iter().map(|&p| host_pid_of(broker, p)).collect();
            for &p in &pids {
                kill(p);
            }
            let start = Instant::now();
            while in_openat(broker) > 0 {
                if start.elapsed() > PATIENCE {
                    let _ = run.kill();
                    panic!("broker threads still wait for killed callers ({who:?}, {name})");
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            drop(run.stdin.take());
            assert!(run.wait().unwrap().success(), "({who:?}, {name})");
        }
    }
}

/// Re-opens of the caller's own FIFO or pipe fds through `/proc/self/fd/K` that wait for a
/// writer do not hold up the sandbox either (red-team finding 04 of issue 18: four such
/// re-opens pinned every seccomp worker; this failed before): the named FIFO's re-open is
/// an open of its real path. The anonymous pipe's re-open (`repipe`, which never waits:
/// the kernel waits for a peer only on a named FIFO) is the compatibility pair: it keeps
/// working under arbiter.
#[test]
fn reopens_of_fifos_and_pipes_with_no_peer_do_not_stall_the_sandbox() {
    let s = Scratch::new("fifo_flood", &["-pthread"]);
    let arb = arbiter();
    for who in users() {
        for h in &s.helpers {
            let h = h.to_str().unwrap();
            let name = Path::new(h).file_name().unwrap().to_str().unwrap();
            for mode in ["reopen", "repipe"] {
                let work = s.work(&format!("native-{mode}-{who:?}-{name}"));
                let out = command(who, &[h, mode, "32"])
                    .current_dir(&work)
                    .stdin(Stdio::null())
                    .output()
                    .unwrap();
                assert_eq!(last_line(&out), "ok", "control {mode} as {who:?}: {out:?}");
                let work = s.work(&format!("arbiter-{mode}-{who:?}-{name}"));
                let argv = [
                    arb.to_str().unwrap(),
                    "run",
                    "--strict",
                    "--",
                    h,
                    mode,
                    "32",
                ];
                let out = command(who, &argv)
                    .current_dir(&work)
                    .stdin(Stdio::null())
                    .output()
                    .unwrap();
                assert_eq!(
                    last_line(&out),
                    "ok",
                    "{mode} under arbiter as {who:?}: {out:?}"
                );
                assert_eq!(out.status.code(), Some(0));
            }
        }
    }
}
