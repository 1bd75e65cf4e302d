//! Nothing is served for a sandbox after it ends (red-team finding 02). The sandboxed
//! program (`tests/helpers/survivor.c`) forks a child that calls `setsid`, closes the
//! bootstrap socket with a raw `close` (so the daemon's bootstrap-socket sweep cannot find
//! it), and keeps opening a file in the working directory; then it SIGKILLs its own
//! launcher. The daemon then ends the sandbox (`exit` record). After that:
//! * a child that registered a shim call channel (`libc` mode, opens through the shim) is
//!   killed: the daemon kept a pidfd of it from its channel (`SO_PEERPIDFD`);
//! * a child that only makes raw calls (`raw` mode, a static binary; trapped by the seccomp
//!   filter) is not known to the daemon, but its calls fail: the daemon's seccomp workers
//!   stopped and its listener is closed;
//! * the daemon's thread count is back to what it was before the sandboxes (the workers and
//!   channel threads exit even though woken with `EINTR`).
//!
//! Controls: the child's opens succeed while the sandbox lives (its first lines are `ok`).
//! Run as root and as uid 65534, from the static helper (raw calls) and the dynamic one
//! (libc). Before the fix the child kept a working broker and the threads stayed.

mod serve_common;

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use arbiter_tests::arbiter;
use arbiter_tests::{compile_helper, is_root};
use serve_common::{records, scratch, wait_records, Daemon};

const CONFIG: &str = "[[user]]\nname = \"nobody\"\nallow = [\"default\"]\n\n\
                      [[user]]\nname = \"root\"\nallow = [\"default\"]\n";

/// `arbiter run --daemon SOCK -- CMD…` in `cwd`, to its end (at most 60 s); its output
/// goes nowhere (the survivor keeps whatever it inherited open).
fn launch(sock: &str, cwd: &Path, nobody: bool, cmd: &[&str]) -> std::process::ExitStatus {
    let mut c = if nobody {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(arbiter());
        c
    } else {
        Command::new(arbiter())
    };
    let mut child = c
        .args(["run", "--daemon", sock, "--"])
        .args(cmd)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("launcher");
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        if Instant::now() > until {
            let _ = child.kill();
            panic!("the launcher did not end");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn lines(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Waits (at most 30 s) for `pred`; false if it never held.
fn wait_for(mut pred: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + Duration::from_secs(30);
    while Instant::now() < until {
        if pred() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn exited(pidfd: &OwnedFd) -> bool {
    let mut pfd = libc::pollfd {
        fd: pidfd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, no wait.
    unsafe { libc::poll(&mut pfd, 1, 0) > 0 }
}

fn threads_of(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn a_survivor_of_a_killed_launcher_is_served_nothing() {
    if !is_root() {
        println!("SKIP: needs root (a root daemon serving root and uid 65534)");
        return;
    }
    let dir = scratch();
    let helpers = dir.path().join("helpers");
    std::fs::create_dir(&helpers).unwrap();
    std::fs::set_permissions(&helpers, std::fs::Permissions::from_mode(0o755)).unwrap();
    let dynamic = compile_helper("survivor", &helpers, &[]);
    let static_dir = helpers.join("static");
    std::fs::create_dir(&static_dir).unwrap();
    std::fs::set_permissions(&static_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let stat: PathBuf = compile_helper("survivor", &static_dir, &["-static"]);
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    std::fs::set_permissions(&work, std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::write(work.join("probe"), "probe\n").unwrap();
    std::fs::set_permissions(work.join("probe"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let config = dir.path().join("serve.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let audit = dir.path().join("audit.log");
    let sock = dir.path().join("s").to_str().unwrap().to_owned();
    let mut daemon = Daemon::start(
        dir.path(),
        &[
            "--listen",
            &sock,
            "--mode",
            "0666",
            "--config",
            config.to_str().unwrap(),
            "--audit",
            audit.to_str().unwrap(),
        ],
    );
    daemon.wait_listening();
    let dpid = daemon.child.id();
    let baseline = threads_of(dpid);
    let mut survivors: Vec<OwnedFd> = Vec::new();
    let mut n = 0;
    let mut failures = Vec::new();
    for nobody in [false, true] {
        for (mode, helper) in [("libc", &dynamic), ("raw", &stat)] {
            n += 1;
            let what = format!("{} {mode}", if nobody { "uid 65534" } else { "root" });
            let log = work.join(format!("log-{n}"));
            let argv = [helper.to_str().unwrap(), mode, log.to_str().unwrap()];
            let st = launch(&sock, &work, nobody, &argv);
            assert!(
                st.code().is_none(),
                "{what}: the launcher was killed: {st:?}"
            );
            assert!(
                wait_for(|| lines(&log).len() >= 3),
                "{what}: no probes: {:?}",
                lines(&log)
            );
            let first = lines(&log);
            let pid: i32 = first[0].strip_prefix("pid ").unwrap().parse().unwrap();
            // SAFETY: integer arguments.
            let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
            assert!(fd >= 0, "{what}: the child is alive");
            // SAFETY: a new pidfd nobody else owns.
            let pidfd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
            assert_eq!(
                first[1], "ok",
                "{what}: control: served while the sandbox lives"
            );
            wait_records(&audit, "the exit record", |r| {
                r.iter().filter(|r| r["type"] == "exit").count() >= n
            });
            let at_end = lines(&log).len();
            // Killed, or at least two more probes made after the sandbox ended.
            wait_for(|| exited(&pidfd) || lines(&log).len() >= at_end + 3);
            let after: Vec<String> = lines(&log).into_iter().skip(at_end + 1).collect();
            if mode == "libc" && !exited(&pidfd) {
                failures.push(format!(
                    "{what}: the child that registered a channel lives on"
                ));
            }
            if let Some(l) = after.iter().find(|l| *l == "ok") {
                failures.push(format!(
                    "{what}: served after the sandbox ended ({l}): {after:?}"
                ));
            }
            survivors.push(pidfd);
        }
    }
    let back = wait_for(|| threads_of(dpid) <= baseline);
    if !back {
        failures.push(format!(
            "daemon threads: {} after the sandboxes, {baseline} before",
            threads_of(dpid)
        ));
    }
    for p in &survivors {
        // SAFETY: an open pidfd; plain integers.
        unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                p.as_raw_fd(),
                libc::SIGKILL,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
    }
    let killed = records(&audit)
        .iter()
        .filter(|r| r["event"] == "killed")
        .count();
    assert!(
        failures.is_empty(),
        "{failures:#?} ({killed} killed records)"
    );
}
