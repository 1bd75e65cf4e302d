//! The broker's translation of the sandbox's pids (docs/process-model.md): as root the
//! sandbox runs in a pid namespace and the broker, which reads the host's `/proc`,
//! translates `/proc/<n>` from the sandbox's numbering to the host's — exactly once, on the
//! path as the kernel walks it, and by one `ioctl` whatever the size of the sandbox. The
//! attacks are the red team's (rt2 01, 03, 05), from `tests/helpers/pidns_attack.c` built
//! dynamic (libc through the shim) and static (raw system calls, the seccomp transport);
//! each check is made through libc and with a raw `openat`. Natively every check passes
//! (the controls); unprivileged there is no pid namespace and the same checks must pass.

mod floor_common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Stdio;

use arbiter_tests::broker_of;
use floor_common::{arbiter, command, users, Who};

/// A world-readable scratch directory with the helper built dynamic and static.
fn helpers() -> (tempfile::TempDir, Vec<PathBuf>) {
    let dir = tempfile::Builder::new()
        .prefix("arbiter-pidns-")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(dir.path(), PermissionsExt::from_mode(0o755)).unwrap();
    let built =
        arbiter_tests::compile_dynamic_and_static("pidns_attack", dir.path(), &["-pthread"]);
    (dir, built)
}

/// Runs `argv` as `who` in `/`, and returns its stdout after checking it exited 0 with no
/// failed check.
fn passes(who: Who, argv: &[&str]) -> String {
    let out = command(who, argv)
        .current_dir("/")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && text.contains("end 0 failure(s)"),
        "{who:?} {argv:?}: {}\n{}",
        text,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains("WRONG") && !text.contains("ERR"), "{text}");
    text
}

/// rt2 01: `/proc/self`, `/proc/thread-self` (rewritten by the transport to the caller's host
/// pid) and `/proc/<getpid()>` still name the caller when a child of it has, as its pid in
/// the sandbox's namespace, the caller's host pid (the translation used to run twice: the
/// host pid was read again as a namespace pid and named that child).
#[test]
fn proc_self_names_the_caller_when_a_child_has_its_host_pid_as_namespace_pid() {
    let (_dir, helpers) = helpers();
    let arb = arbiter();
    let arb = arb.to_str().unwrap();
    for h in &helpers {
        let h = h.to_str().unwrap();
        // Native control: no namespace, nothing to collide with; every check passes.
        assert!(passes(Who::Invoker, &[h, "self"]).contains("no namespace"));
        for who in users() {
            let out = passes(who, &[arb, "run", "-q", "--", h, "self"]);
            match who {
                // As root the attack must have taken place, or the test proves nothing.
                Who::Invoker if arbiter_tests::is_root() => {
                    assert!(out.contains("collided"), "{out}")
                }
                _ => assert!(out.contains("no namespace"), "{who:?}: {out}"),
            }
        }
    }
}

/// rt2 03: the caller's `/proc/<getpid()>` spelled `/proc//<pid>`, `/proc/./<pid>`,
/// `/../proc/<pid>`, `//proc/<pid>`, `proc/<pid>` from `/` and `<pid>` from a descriptor
/// of `/proc` names the caller on both transports, as `/proc/<pid>` does (they used to name
/// the host's process of that number, pid 2 = kthreadd, through the shim and the relative
/// forms on both). `--ro /proc`: a wrong process would be served, not refused.
#[test]
fn every_spelling_of_the_callers_proc_entry_names_the_caller() {
    let (_dir, helpers) = helpers();
    let arb = arbiter();
    let arb = arb.to_str().unwrap();
    for h in &helpers {
        let h = h.to_str().unwrap();
        passes(Who::Invoker, &[h, "spell"]);
        for who in users() {
            passes(who, &[arb, "run", "-q", "--ro", "/proc", "--", h, "spell"]);
        }
    }
}

/// `(syscr)` of `/proc/<pid>/io`: the read system calls the process made so far.
fn reads_of(pid: u32) -> u64 {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).unwrap();
    io.lines()
        .find_map(|l| l.strip_prefix("syscr: "))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// The broker's read system calls while a sandbox of `threads` idle threads opens `path`
/// (a `%d` in it: a pid no process has) `opens` times.
fn broker_reads(helper: &str, threads: usize, opens: usize, path: &str, how: &str) -> u64 {
    let arb = arbiter();
    let (t, o) = (threads.to_string(), opens.to_string());
    let argv = [
        arb.to_str().unwrap(),
        "run",
        "-q",
        "--",
        helper,
        "flood",
        &t,
        &o,
        path,
        how,
    ];
    let mut child = command(Who::Invoker, &argv)
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let broker = broker_of(child.id());
    let mut input = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut expect = |what: &str| {
        let line = lines.next().expect("a line").unwrap();
        assert!(line.starts_with(what), "{argv:?}: {line:?}, not {what}");
    };
    expect("ready");
    let before = reads_of(broker);
    writeln!(input).unwrap();
    expect("done");
    let after = reads_of(broker);
    writeln!(input).unwrap();
    drop(input);
    expect("end 0 failure(s)");
    assert!(child.wait().unwrap().success(), "{argv:?}");
    after - before
}

/// rt2 05: a `/proc/<n>` where `n` is no process of the sandbox costs the broker no more
/// reads than any other refused path, however many threads the sandbox has (it used to
/// read the status of every thread of the sandbox, per call: ~1000 reads per open here).
/// Counted, not timed: the broker's `syscr` around the opens; the control is the same load
/// opening an ordinary absent path.
#[test]
fn an_absent_pid_costs_the_broker_no_walk_of_the_sandboxs_threads() {
    if !arbiter_tests::is_root() {
        println!("SKIP: not root: no pid namespace, so no pid translation (unprivileged model)");
        return;
    }
    println!("SKIP (uid 65534 pass): unprivileged arbiter makes no pid namespace to translate");
    let (_dir, helpers) = helpers();
    const THREADS: usize = 500;
    const OPENS: usize = 50;
    for h in &helpers {
        let h = h.to_str().unwrap();
        for how in ["libc", "raw"] {
            let control = broker_reads(h, THREADS, OPENS, "/nonexistent-%d/status", how);
            let attack = broker_reads(h, THREADS, OPENS, "/proc/%d/status", how);
            println!(
                "{h} {how}: broker reads {attack} (absent /proc/<n>) against {control} (control)"
            );
            // A walk reads at least one status per thread per open: THREADS * OPENS.
            assert!(
                attack <= control + 10 * OPENS as u64,
                "{h} {how}: {attack} broker reads for {OPENS} opens of an absent /proc/<n> \
                 against {control} for an ordinary absent path"
            );
        }
    }
}
