//! The end of a run when the command made a process with `clone(CLONE_PARENT)` (red team
//! findings 06 and 07 against the pid namespace, docs/process-model.md): that process's
//! parent is the command's — the broker, outside the sandbox's pid namespace — so the
//! namespace's init never sees it. The run must still end as documented: by default the
//! child gets SIGTERM and arbiter returns the command's status (06: the broker blocked in
//! `waitpid(init)` while the dying init waited for the child's zombie, which only the broker
//! could reap — `arbiter run` hung and ignored SIGTERM); with `--wait-descendants` arbiter
//! returns when the child exits (07: the init, never told, stayed alone and the run never
//! ended).
//!
//! `tests/helpers/clone_parent.c`, built dynamic and static, makes the child with the raw
//! system call and with glibc's `clone()`. Controls: natively the child runs as the
//! command's sibling; `--no-pid-namespace` ends as expected. As root the default run must be
//! in a namespace (the child's `getppid()` is 0: its parent is outside), or the test proves
//! nothing; as uid 65534 there is no namespace and the same end is checked there. A hang is
//! found with a generous deadline, never a timing assertion.

mod floor_common;

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use arbiter_tests::running_broker_of;
use floor_common::{arbiter, start_until_ok, users, Scratch, Who};

/// How long a run may take before it counts as hung (the fixed runs take well under a
/// second; a hung one never ends).
const PATIENCE: Duration = Duration::from_secs(60);

/// The shapes of the `clone(CLONE_PARENT)` call the helper makes.
const SHAPES: [&str; 2] = ["raw", "libc"];

/// Starts `argv` as `who` in `work` and waits for its "ok" (the child is ready).
fn start(who: Who, argv: &[&str], work: &Path) -> Child {
    start_until_ok(who, argv, work, ": the child never got ready")
}

/// The child's log in `work`.
fn log(work: &Path) -> String {
    std::fs::read_to_string(work.join("child.log")).unwrap_or_default()
}

/// The child's `getppid()` as it logged it.
fn ppid(work: &Path) -> i64 {
    let log = log(work);
    let line = log.lines().find(|l| l.starts_with("ready ")).unwrap_or("");
    line.split_whitespace()
        .skip_while(|w| *w != "ppid")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no ppid in the child's log {log:?}"))
}

/// The child's pid as it logged it.
fn child_pid(work: &Path) -> i32 {
    let log = log(work);
    let line = log.lines().find(|l| l.starts_with("ready ")).unwrap_or("");
    line.split_whitespace()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no pid in the child's log {log:?}"))
}

fn kill(pid: i32, sig: i32) {
    // SAFETY: kill with integer arguments; every pid here is a process this test started.
    unsafe { libc::kill(pid, sig) };
}

/// Waits for arbiter (`run`, whose broker is `broker` when it was seen) to end; when it has not within
/// [`PATIENCE`] both are killed (the broker first: a hung one ignores the guardian's death)
/// and the test fails with `what`.
fn ended(run: &mut Child, broker: Option<u32>, what: &str) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(st) = run.try_wait().unwrap() {
            return st;
        }
        if start.elapsed() > PATIENCE {
            if let Some(broker) = broker {
                kill(broker as i32, libc::SIGKILL);
            }
            let _ = run.kill();
            let _ = run.wait();
            panic!("{what}: arbiter run did not end within {PATIENCE:?} (hung)");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Natively (the control) the helper's `clone(CLONE_PARENT)` works: the child is ready and
/// runs as the command's sibling, the caller's child; it is then killed and reaped here.
fn native_control(who: Who, s: &Scratch, h: &str, shape: &str) {
    let work = s.work(&format!("native-{who:?}-{shape}-{}", h.len()));
    let mut run = start(who, &[h, shape, "600"], &work);
    assert!(run.wait().unwrap().success(), "control: {h} {shape}");
    let pid = child_pid(&work);
    // SAFETY: getpid has no preconditions.
    let me = i64::from(unsafe { libc::getpid() });
    assert_eq!(
        ppid(&work),
        me,
        "control: the CLONE_PARENT child is the caller's child ({h} {shape})"
    );
    kill(pid, libc::SIGKILL);
    // SAFETY: reaps our own child (CLONE_PARENT made it ours); a null status is allowed.
    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
}

/// Runs `h shape secs` under `arbiter run EXTRA` as `who`; returns its exit status (after at
/// most [`PATIENCE`]) and the working directory.
fn confined(
    who: Who,
    s: &Scratch,
    extra: &[&str],
    h: &str,
    shape: &str,
    secs: &str,
) -> (std::process::ExitStatus, std::path::PathBuf) {
    let arb = arbiter();
    let tag = extra.join("").replace('-', "");
    let work = s.work(&format!("{tag}-{who:?}-{shape}-{}", h.len()));
    let mut argv = vec![arb.to_str().unwrap(), "run", "-q"];
    argv.extend_from_slice(extra);
    argv.extend_from_slice(&["--", h, shape, secs]);
    let mut run = start(who, &argv, &work);
    // A run whose command exits at once may be over before a loaded machine lets us look.
    let broker = running_broker_of(run.id());
    let what = format!("{argv:?} as {who:?}");
    (ended(&mut run, broker, &what), work)
}

/// Whether a run as `who` without extra options must be in a pid namespace.
fn namespaced(who: Who) -> bool {
    who == Who::Invoker && arbiter_tests::is_root()
}

/// Checks the child's `getppid()`: 0 in the sandbox's namespace (its parent, the broker, is
/// outside), the broker's pid otherwise.
fn check_namespace(work: &Path, in_namespace: bool, what: &str) {
    let ppid = ppid(work);
    if in_namespace {
        assert_eq!(ppid, 0, "{what}: the run must be in a pid namespace");
    } else {
        assert_ne!(ppid, 0, "{what}: no pid namespace expected");
    }
}

/// Finding 06: the command exits at once, its CLONE_PARENT child sleeps for 600 s. arbiter
/// returns the command's status and the child got SIGTERM (the documented end of the
/// leftovers), as with `--no-pid-namespace`; it used to hang for ever as root.
#[test]
fn a_clone_parent_child_is_ended_with_sigterm_and_the_run_returns() {
    let s = Scratch::new("clone_parent", &[]);
    for who in users() {
        if !namespaced(who) {
            println!(
                "note: as {who:?} arbiter makes no pid namespace (not root): the same end is \
                 checked in the unprivileged model"
            );
        }
        for h in &s.helpers {
            let h = h.to_str().unwrap();
            for shape in SHAPES {
                native_control(who, &s, h, shape);
                for (extra, in_ns) in [
                    (&["--no-pid-namespace"][..], false),
                    (&[][..], namespaced(who)),
                ] {
                    let what = format!("{extra:?} {h} {shape} as {who:?}");
                    let (status, work) = confined(who, &s, extra, h, shape, "600");
                    check_namespace(&work, in_ns, &what);
                    assert_eq!(status.code(), Some(0), "{what}: the command's status");
                    let log = log(&work);
                    assert!(
                        log.contains("term\n") && !log.contains("done\n"),
                        "{what}: the CLONE_PARENT child must get SIGTERM: {log:?}"
                    );
                }
            }
        }
    }
}

/// Finding 07: with `--wait-descendants` the run ends when the CLONE_PARENT child (1 s)
/// exits, with the command's status, as with `--no-pid-namespace`; it never ended as root.
#[test]
fn wait_descendants_ends_when_the_clone_parent_child_exits() {
    let s = Scratch::new("clone_parent", &[]);
    for who in users() {
        if !namespaced(who) {
            println!(
                "note: as {who:?} arbiter makes no pid namespace (not root): the same end is \
                 checked in the unprivileged model"
            );
        }
        for h in &s.helpers {
            let h = h.to_str().unwrap();
            for shape in SHAPES {
                for (extra, in_ns) in [
                    (&["--no-pid-namespace", "--wait-descendants"][..], false),
                    (&["--wait-descendants"][..], namespaced(who)),
                ] {
                    let what = format!("{extra:?} {h} {shape} as {who:?}");
                    let (status, work) = confined(who, &s, extra, h, shape, "1");
                    check_namespace(&work, in_ns, &what);
                    assert_eq!(status.code(), Some(0), "{what}: the command's status");
                    let log = log(&work);
                    assert!(
                        log.contains("done\n") && !log.contains("term\n"),
                        "{what}: the run waits for the CLONE_PARENT child: {log:?}"
                    );
                }
            }
        }
    }
}
