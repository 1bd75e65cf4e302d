//! No process of the sandbox outlives the run: not when the command ends (the default:
//! what it left running is ended), not when arbiter is killed with SIGKILL, and with
//! `--wait-descendants` not after a SIGTERM to arbiter. The command is
//! `tests/helpers/lifetime.c` (raw system calls; built dynamic and static), which leaves a
//! double-forked `setsid` daemon that blocks and ignores every signal it can. Natively the
//! same daemon survives its command and the command's killer (the controls). Run as the
//! invoking user and, when that is root, as uid 65534.

mod floor_common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use arbiter_tests::broker_of;
use floor_common::{arbiter, command, users, Who};

/// How long a test waits for something that must happen before it calls it a failure.
const PATIENCE: Duration = Duration::from_secs(60);

/// A scratch directory (world-writable, so uid 65534 can use it) with the helper built
/// dynamic and static in `helpers/`.
struct Scratch {
    dir: tempfile::TempDir,
    helpers: Vec<PathBuf>,
}

impl Scratch {
    fn new() -> Scratch {
        let dir = tempfile::Builder::new()
            .prefix("arbiter-lifetime-")
            .tempdir()
            .unwrap();
        let helpers_dir = dir.path().join("helpers");
        std::fs::create_dir(&helpers_dir).unwrap();
        for d in [dir.path(), helpers_dir.as_path()] {
            std::fs::set_permissions(d, PermissionsExt::from_mode(0o777)).unwrap();
        }
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("helpers/lifetime.c");
        let mut helpers = Vec::new();
        for (name, extra) in [("lifetime", None), ("lifetime-static", Some("-static"))] {
            let out = helpers_dir.join(name);
            let ok = Command::new("cc")
                .args(extra)
                .arg("-o")
                .arg(&out)
                .arg(&src)
                .stderr(Stdio::null())
                .status()
                .expect("cc")
                .success();
            if ok {
                helpers.push(out);
            } else if extra.is_some() {
                eprintln!("note: static libc unavailable, skipping the -static helper");
            } else {
                panic!("cannot compile {}", src.display());
            }
        }
        Scratch { dir, helpers }
    }

    /// A fresh, world-writable working directory.
    fn work(&self, name: &str) -> PathBuf {
        let w = self.dir.path().join(name);
        std::fs::create_dir(&w).unwrap();
        std::fs::set_permissions(&w, PermissionsExt::from_mode(0o777)).unwrap();
        w
    }
}

/// Starts `argv` as `who` in `work`, stdout piped, and waits for the helper's "ok" (its
/// daemon is running by then).
fn start(who: Who, argv: &[&str], work: &Path) -> Child {
    let mut child = command(who, argv)
        .current_dir(work)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "ok\n", "{argv:?} as {who:?} did not start its daemon");
    child
}

/// The pid in `work/name`, written by the helper before it printed "ok".
fn pid_in(work: &Path, name: &str) -> i32 {
    std::fs::read_to_string(work.join(name))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Whether `pid` runs (a zombie or a missing entry does not).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
    })
}

fn kill(pid: i32, sig: i32) {
    // SAFETY: kill with integer arguments; every pid here is a process this test started.
    unsafe { libc::kill(pid, sig) };
}

/// Waits until `pid` no longer runs; after [`PATIENCE`], kills it (cleaning up) and fails.
fn assert_dies(pid: i32, what: &str) {
    let start = Instant::now();
    while alive(pid) {
        if start.elapsed() > PATIENCE {
            kill(pid, libc::SIGKILL);
            panic!("{what} (pid {pid}) survived");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits for `child` to exit; after [`PATIENCE`], kills it and `daemon` and fails.
fn exit_of(child: &mut Child, daemon: i32, what: &str) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        if start.elapsed() > PATIENCE {
            kill(daemon, libc::SIGKILL);
            let _ = child.kill();
            panic!("{what}: arbiter did not end");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `arbiter run --strict [extra…] -- helper . MODE` as an argv.
fn under_arbiter<'a>(
    arb: &'a str,
    extra: &[&'a str],
    helper: &'a str,
    mode: &'a str,
) -> Vec<&'a str> {
    let mut v = vec![arb, "run", "--strict"];
    v.extend_from_slice(extra);
    v.extend_from_slice(&["--", helper, ".", mode]);
    v
}

#[test]
fn kill_9_of_arbiter_leaves_no_process_of_the_sandbox() {
    let s = Scratch::new();
    let arb = arbiter();
    let arb = arb.to_str().unwrap();
    for who in users() {
        for h in &s.helpers {
            let h = h.to_str().unwrap();
            // Control: natively the daemon survives the SIGKILL of the command's launcher.
            let work = s.work(&format!("native-{who:?}-{}", h.len()));
            let mut native = start(who, &[h, ".", "stay"], &work);
            let daemon = pid_in(&work, "daemon.pid");
            kill(native.id() as i32, libc::SIGKILL);
            native.wait().unwrap();
            assert!(
                alive(daemon),
                "control: the daemon survives natively ({who:?}, {h})"
            );
            kill(daemon, libc::SIGKILL);

            let work = s.work(&format!("kill9-{who:?}-{}", h.len()));
            let mut run = start(who, &under_arbiter(arb, &[], h, "stay"), &work);
            let daemon = pid_in(&work, "daemon.pid");
            let main = pid_in(&work, "main.pid");
            assert!(alive(daemon) && alive(main));
            kill(run.id() as i32, libc::SIGKILL);
            run.wait().unwrap();
            assert_dies(
                daemon,
                &format!("the daemon, after kill -9 of arbiter ({who:?}, {h})"),
            );
            assert_dies(
                main,
                &format!("the command, after kill -9 of arbiter ({who:?}, {h})"),
            );
        }
    }
}

#[test]
fn kill_9_of_the_broker_leaves_no_process_of_the_sandbox() {
    // The other of arbiter's two processes: the sandbox falls to the guardian, which kills
    // it and exits 125.
    let s = Scratch::new();
    let arb = arbiter();
    let arb = arb.to_str().unwrap();
    for who in users() {
        for h in &s.helpers {
            let h = h.to_str().unwrap();
            let work = s.work(&format!("broker-{who:?}-{}", h.len()));
            let mut run = start(who, &under_arbiter(arb, &[], h, "stay"), &work);
            let daemon = pid_in(&work, "daemon.pid");
            let main = pid_in(&work, "main.pid");
            kill(broker_of(run.id()) as i32, libc::SIGKILL);
            let st = exit_of(&mut run, daemon, &format!("broker killed ({who:?}, {h})"));
            assert_eq!(st.code(), Some(125), "arbiter failed ({who:?}, {h})");
            assert!(
                !alive(daemon),
                "the daemon outlived its broker ({who:?}, {h})"
            );
            assert!(
                !alive(main),
                "the command outlived its broker ({who:?}, {h})"
            );
        }
    }
}

#[test]
fn the_run_ends_when_the_command_ends() {
    let s = Scratch::new();
    let arb = arbiter();
    let arb = arb.to_str().unwrap();
    for who in users() {
        for h in &s.helpers {
            let h = h.to_str().unwrap();
            // Control: natively the daemon outlives the command.
            let work = s.work(&format!("native-{who:?}-{}", h.len()));
            let mut native = start(who, &[h, ".", "exit"], &work);
            assert!(native.wait().unwrap().success());
            let daemon = pid_in(&work, "daemon.pid");
            assert!(
                alive(daemon),
                "control: the daemon survives natively ({who:?}, {h})"
            );
            kill(daemon, libc::SIGKILL);

            // Under arbiter: the run ends with the command's status, and the daemon (deaf
            // to SIGTERM) was killed before arbiter exited.
            let work = s.work(&format!("ends-{who:?}-{}", h.len()));
            let mut run = start(who, &under_arbiter(arb, &[], h, "exit"), &work);
            let daemon = pid_in(&work, "daemon.pid");
            let st = exit_of(&mut run, daemon, &format!("{who:?}, {h}"));
            assert_eq!(st.code(), Some(0), "the command's status ({who:?}, {h})");
            assert!(!alive(daemon), "the daemon outlived the run ({who:?}, {h})");
        }
    }
}

#[test]
fn a_shell_background_job_ends_with_the_run() {
    let line = "sleep 100000 >/dev/null 2>&1 & echo $!";
    for who in users() {
        // Control: natively the job outlives the shell.
        let out = command(who, &["sh", "-c", line])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let job: i32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        assert!(alive(job), "control: the job survives natively ({who:?})");
        kill(job, libc::SIGKILL);

        let arb = arbiter();
        let mut run = command(who, &[arb.to_str().unwrap(), "run", "--", "sh", "-c", line])
            .current_dir("/tmp")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut pid = String::new();
        BufReader::new(run.stdout.take().unwrap())
            .read_line(&mut pid)
            .unwrap();
        let job: i32 = pid.trim().parse().unwrap();
        let st = exit_of(&mut run, job, &format!("the shell's job ({who:?})"));
        assert_eq!(st.code(), Some(0), "the shell's status ({who:?})");
        assert!(!alive(job), "the shell's job outlived the run ({who:?})");
    }
}

#[test]
fn with_wait_descendants_arbiter_waits_until_told_to_stop() {
    let s = Scratch::new();
    let arb = arbiter();
    let arb = arb.to_str().unwrap();
    for who in users() {
        for h in &s.helpers {
            let h = h.to_str().unwrap();
            // The command ends; arbiter keeps serving its daemon until a SIGTERM, which
            // the daemon ignores: it is killed after the grace.
            let work = s.work(&format!("wait-{who:?}-{}", h.len()));
            let argv = under_arbiter(arb, &["--wait-descendants"], h, "exit");
            let mut run = start(who, &argv, &work);
            let daemon = pid_in(&work, "daemon.pid");
            let main = pid_in(&work, "main.pid");
            assert_dies(main, "the command");
            assert!(alive(daemon));
            assert!(
                run.try_wait().unwrap().is_none(),
                "arbiter waits for the daemon ({who:?}, {h})"
            );
            kill(run.id() as i32, libc::SIGTERM);
            let st = exit_of(&mut run, daemon, &format!("SIGTERM ({who:?}, {h})"));
            assert_eq!(
                st.code(),
                Some(0),
                "the command's own status ({who:?}, {h})"
            );
            assert!(!alive(daemon), "the daemon outlived the run ({who:?}, {h})");

            // While the command runs, a SIGTERM to arbiter is relayed to it; asked to stop,
            // the run then ends with it, the daemon too.
            let work = s.work(&format!("relay-{who:?}-{}", h.len()));
            let argv = under_arbiter(arb, &["--wait-descendants"], h, "stay");
            let mut run = start(who, &argv, &work);
            let daemon = pid_in(&work, "daemon.pid");
            kill(run.id() as i32, libc::SIGTERM);
            let st = exit_of(&mut run, daemon, &format!("relay ({who:?}, {h})"));
            assert_eq!(st.code(), Some(128 + libc::SIGTERM), "({who:?}, {h})");
            assert!(!alive(daemon), "the daemon outlived the run ({who:?}, {h})");
        }
    }
}
