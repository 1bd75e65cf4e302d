//! The `exit` record is the sandbox's last (docs/audit.md, "`exit`"), also when the
//! sandbox's processes are killed from outside while the broker still serves a call for
//! one of them (issue 20: "no call record after the exit record" under load). Made
//! deterministic with a slow call: a child of `tests/helpers/slow_calls.c` (`fifo 1`)
//! opens a FIFO with no reader, which the broker performs and waits in; the test sees the
//! broker thread wait in the kernel, SIGKILLs the child and the helper, and reads the log:
//! the broker notices the dead caller only at its next tick (250 ms), so before the fix
//! the open's record came after `exit`. Dynamic (the shim's channel) and static (raw
//! system calls, the seccomp transport) builds; as the invoking user and, when that is
//! root, as uid 65534. The control: natively the child waits in the FIFO open.

mod floor_common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use arbiter_tests::broker_of;
use floor_common::{arbiter, command, host_pid_of, users, Scratch};
use serde_json::Value;

/// How long the test waits for something that must happen before it calls it a failure.
const PATIENCE: Duration = Duration::from_secs(60);

/// `libc` for the dynamic build (through the shim), `raw` for the static one.
fn mode(helper: &Path) -> &'static str {
    if helper.to_str().unwrap().ends_with("-static") {
        "raw"
    } else {
        "libc"
    }
}

/// Threads of `pid` blocked opening a FIFO (the kernel's `wait_for_partner`).
fn in_fifo_open(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| {
            d.flatten()
                .filter(|t| {
                    std::fs::read_to_string(t.path().join("wchan"))
                        .is_ok_and(|w| w.contains("wait_for_partner"))
                })
                .count()
        })
        .unwrap_or(0)
}

/// Waits until `cond` holds; after [`PATIENCE`], kills `child` and fails with `what`.
fn wait_for(child: &mut Child, what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        if start.elapsed() > PATIENCE {
            let _ = child.kill();
            panic!("{what}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Starts `c` with stdin and stdout piped; returns it and its stdout's lines.
fn start(c: &mut std::process::Command) -> (Child, Receiver<String>) {
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// The helper's one child pid, from its "pids P" line.
fn child_pid(child: &mut Child, lines: &Receiver<String>) -> i32 {
    match lines.recv_timeout(PATIENCE) {
        Ok(l) if l.starts_with("pids ") => l[5..].trim().parse().unwrap(),
        other => {
            let _ = child.kill();
            panic!("the helper never forked: {other:?}")
        }
    }
}

/// The parent pid of `pid` (its `PPid:` line).
fn parent_of(pid: i32) -> i32 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("PPid:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn kill(pid: i32) {
    // SAFETY: kill with integer arguments; the pids are processes this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0, "kill {pid}");
}

#[test]
fn a_call_in_progress_when_the_sandbox_is_killed_is_recorded_before_exit() {
    let s = Scratch::new("slow_calls", &["-pthread"]);
    let arb = arbiter();
    for who in users() {
        for h in &s.helpers {
            let name = h.file_name().unwrap().to_str().unwrap();
            // Control: natively the child waits in the kernel for a reader.
            let work = s.work(&format!("native-{who:?}-{name}"));
            let mut c = command(who, &[h.to_str().unwrap(), "fifo", "1", mode(h)]);
            c.current_dir(&work);
            let (mut native, lines) = start(&mut c);
            let p = child_pid(&mut native, &lines);
            wait_for(&mut native, "control: the child never waited", || {
                in_fifo_open(p as u32) == 1
            });
            kill(p);
            kill(native.id() as i32);
            let _ = native.wait();

            // Under arbiter the broker performs the open and waits in it for the child.
            let work = s.work(&format!("arbiter-{who:?}-{name}"));
            // The log beside the working directory, out of the program's reach (arbiter
            // refuses a log the program could write).
            let log = s.work(&format!("log-{who:?}-{name}")).join("audit.jsonl");
            let mut c = command(
                who,
                &[
                    arb.to_str().unwrap(),
                    "run",
                    "--audit",
                    log.to_str().unwrap(),
                    "--audit-level",
                    "all",
                    "--",
                    h.to_str().unwrap(),
                    "fifo",
                    "1",
                    mode(h),
                ],
            );
            c.current_dir(&work);
            let (mut run, lines) = start(&mut c);
            let inner = child_pid(&mut run, &lines);
            let broker = broker_of(run.id());
            wait_for(
                &mut run,
                "the broker never waited for the FIFO open",
                || in_fifo_open(broker) >= 1,
            );
            // Kill the whole sandbox from outside: the child blocked in the call, then the
            // helper (as root the sandbox's pid namespace's first process).
            let child = host_pid_of(broker, inner);
            let helper = parent_of(child);
            kill(child);
            kill(helper);
            let status = run.wait().unwrap();
            assert!(!status.success(), "{who:?} {name}: {status:?}");

            let recs: Vec<Value> = std::fs::read_to_string(&log)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).expect("a JSON record"))
                .collect();
            let exit = recs
                .iter()
                .position(|r| r["type"] == "exit")
                .unwrap_or_else(|| panic!("{who:?} {name}: no exit record: {recs:?}"));
            let after: Vec<&Value> = recs[exit + 1..].iter().collect();
            assert!(
                after.is_empty(),
                "{who:?} {name}: records after the exit record: {after:?}"
            );
            // The open itself is in the log (before `exit`), so the order was checked.
            assert!(
                recs[..exit].iter().any(|r| r["type"] == "call"
                    && r["args"]["path"]
                        .as_str()
                        .is_some_and(|p| p.ends_with("/fifo") || p == "fifo")
                    && r["call"].as_str().is_some_and(|c| c.starts_with("open"))),
                "{who:?} {name}: the FIFO open was not recorded: {recs:?}"
            );
        }
    }
}
