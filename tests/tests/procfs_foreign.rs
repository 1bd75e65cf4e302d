//! arbiter refuses to run when `/proc` is not its own pid namespace's procfs (red team
//! finding 08, docs/security.md): under `unshare --pid --fork` without `--mount-proc`,
//! `/proc` numbers processes as the ancestor namespace does, so the broker, trusting the
//! kernel's pids to name the same processes in `/proc`, served a sandboxed program whose pid
//! equalled a host process's that process's `/proc/self/environ` (as "the caller's own").
//!
//! `tests/helpers/proc_alias.c`, built dynamic and static, forks until a child's pid is the
//! target's host pid (the namespace's `ns_last_pid` is set just below it first, so a few
//! hundred forks suffice) and that child reads `/proc/self/environ` with a raw `openat` and
//! through libc. The target is a `sleep` outside the sandbox, as the same user, with a
//! secret in its environment. Controls: natively in the same namespace the child reaches
//! the target's pid and reads its own environment (the kernel resolves `/proc/self` right);
//! arbiter in a namespace with its own procfs (`--mount-proc`) runs the same program, whose
//! child reaches the target's pid and reads its own environment. Under
//! arbiter with the foreign `/proc` (with and without its own pid namespace) the run must be
//! refused with an error naming `/proc`, and the secret never printed. As root and as uid
//! 65534 (in a user namespace of its own, which `unshare` needs unprivileged; SKIP when the
//! machine forbids one).

mod floor_common;

use std::process::{Command, Output, Stdio};

use floor_common::{arbiter, command, users, Scratch, Who};

/// A `sleep` run as `who` outside any sandbox with `SECRET=token` as its whole environment;
/// killed on drop.
struct Target {
    child: std::process::Child,
    token: String,
}

impl Target {
    fn new(who: Who) -> Target {
        // SAFETY: getpid has no preconditions.
        let token = format!("arbiter-rt08-{}-{}", unsafe { libc::getpid() }, who as u8);
        let child = command(
            who,
            &["env", "-i", &format!("SECRET={token}"), "sleep", "600"],
        )
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
        // setpriv and env exec in place: wait until the pid is the sleep.
        let comm = format!("/proc/{}/comm", child.id());
        while std::fs::read_to_string(&comm).is_ok_and(|c| c.trim() != "sleep") {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        Target { child, token }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `unshare`'s options for a new pid namespace as `who` (unprivileged: in a user namespace
/// of its own, where it is root), with `mount_proc` its own procfs.
fn unshare_args(who: Who, mount_proc: bool) -> Vec<&'static str> {
    let mut a = vec!["unshare"];
    if who == Who::Nobody || !arbiter_tests::is_root() {
        a.extend(["--user", "--map-root-user"]);
    }
    a.extend(["--pid", "--fork"]);
    if mount_proc {
        a.push("--mount-proc");
    }
    a
}

/// Runs `argv` as `who` in a new pid namespace (with its own procfs when `mount_proc`) whose
/// next pid is `next`, from `dir`.
fn in_namespace(who: Who, mount_proc: bool, next: u32, argv: &[&str], dir: &str) -> Output {
    let mut full = unshare_args(who, mount_proc);
    let script = format!(
        "echo {} > /proc/sys/kernel/ns_last_pid && exec \"$@\"",
        next.saturating_sub(1)
    );
    full.extend(["sh", "-c", &script, "sh"]);
    full.extend_from_slice(argv);
    command(who, &full)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Whether `who` may make the namespaces the test needs (a user namespace, unprivileged).
fn can_unshare(who: Who) -> bool {
    if !arbiter_tests::have("unshare") {
        return false;
    }
    let mut argv = unshare_args(who, true);
    argv.push("true");
    command(who, &argv)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Finding 08: under a foreign `/proc`, `/proc/self` of a sandboxed process whose pid equals
/// a host process's never names the host process: arbiter refuses to run.
#[test]
fn a_foreign_proc_mount_is_refused_and_never_aliases_proc_self() {
    let s = Scratch::new("proc_alias", &[]);
    let dir = s.work("run");
    let dir = dir.to_str().unwrap();
    let arb = arbiter();
    let arb = arb.to_str().unwrap();
    for who in users() {
        if !can_unshare(who) {
            println!(
                "SKIP: as {who:?}: `{}` fails here (no unshare, or no user namespaces for \
                 this user): the foreign-/proc set-up cannot be made",
                unshare_args(who, true).join(" ")
            );
            continue;
        }
        let target = Target::new(who);
        let t = target.pid().to_string();
        // Far enough below the target for arbiter's own processes and threads.
        let next = target.pid().saturating_sub(600).max(2);
        for h in &s.helpers {
            let h = h.to_str().unwrap();
            for mode in ["raw", "libc"] {
                let what = format!("{h} {mode} as {who:?}");
                // Control: natively the child reaches the target's pid; the kernel gives it
                // its own environment.
                let native = in_namespace(who, false, next, &[h, mode, &t], dir);
                let out = text(&native);
                assert!(
                    native.status.success() && out.contains("read /proc/self/environ:"),
                    "control, native {what}: the hunt must reach pid {t}: {out}"
                );
                assert!(
                    !out.contains(&target.token),
                    "control, native {what}: {out}"
                );
                // Control: arbiter with the namespace's own procfs runs the same program,
                // whose child reaches the target's pid and reads its own environment
                // (`--no-pid-namespace`: numbered in the `unshare` namespace, as above).
                let argv = [arb, "run", "-q", "--no-pid-namespace", "--", h, mode, &t];
                let own = in_namespace(who, true, next, &argv, dir);
                let out = text(&own);
                assert!(
                    own.status.success()
                        && out.contains("read /proc/self/environ:")
                        && !out.contains(&target.token),
                    "control, arbiter with --mount-proc, {what}: {out}"
                );
                for extra in [&["--no-pid-namespace"][..], &[][..]] {
                    let mut argv = vec![arb, "run", "-q"];
                    argv.extend_from_slice(extra);
                    argv.extend_from_slice(&["--", h, mode, &t]);
                    let run = in_namespace(who, false, next, &argv, dir);
                    let out = text(&run);
                    assert!(
                        !out.contains(&target.token),
                        "{extra:?} {what}: the host process's environment leaked: {out}"
                    );
                    assert!(
                        !run.status.success()
                            && out.contains("/proc is the procfs of another pid namespace"),
                        "{extra:?} {what}: arbiter must refuse a foreign /proc: {out}"
                    );
                }
            }
        }
        drop(target);
    }
    // The same check guards `arbiter run`'s start in the usual set-up: it passes there.
    let ok = Command::new(arb)
        .args(["run", "-q", "--", "true"])
        .status()
        .unwrap();
    assert!(
        ok.success(),
        "arbiter run -- true in the test's own namespace"
    );
}
