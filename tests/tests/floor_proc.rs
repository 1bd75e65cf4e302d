//! `/proc` is the caller's (issue 15's red team, finding 04): the broker resolves paths in
//! its own process, where `self` names the broker. A relative `proc/self/status` from `/`,
//! or `fd/N` from `/dev`, reached the broker's own status and descriptors (with a policy
//! granting `/proc`); now anything resolving into the broker's `/proc/<pid>` is refused,
//! and the absolute `/proc/self/status`, which the runtime profile grants as `/proc/self`,
//! opens the caller's. Each attempt opens the caller's own entry natively (the control),
//! from a dynamic and a static helper making raw calls, as the invoking user and as uid
//! 65534.

mod floor_common;

use floor_common::{users, verdict, Floor, Who};

/// `Ok`, `Err(errno)`, or `Err(-1)` when the helper opened another process's entry.
fn outcome(out: &std::process::Output) -> Result<(), i32> {
    if String::from_utf8_lossy(&out.stdout).contains("other process") {
        return Err(-1);
    }
    verdict(out)
}

fn check(f: &Floor, who: Who, grant: &[&str], args: &[&str], expected: Result<(), i32>) {
    for h in &f.helpers {
        let mut argv = vec![h.to_str().unwrap()];
        argv.extend_from_slice(args);
        assert_eq!(
            outcome(&f.native(who, &argv)),
            Ok(()),
            "control: {argv:?} natively as {who:?}"
        );
        assert_eq!(
            outcome(&f.confined(who, grant, &argv)),
            expected,
            "{argv:?} under arbiter as {who:?} (-1: another process's entry)"
        );
    }
}

#[test]
fn relative_paths_never_reach_the_brokers_proc() {
    let f = Floor::new();
    for who in users() {
        // With all of /proc granted, the broker's own entries are still refused.
        check(
            &f,
            who,
            &["--ro", "/proc"],
            &["proc-self-rel"],
            Err(libc::EACCES),
        );
        let file = f.file(&format!("mine-{who:?}"), who, 0o644);
        let file = file.to_str().unwrap();
        check(
            &f,
            who,
            &["--ro", "/proc", "--ro", file],
            &["dev-fd-rel", file],
            Err(libc::EACCES),
        );
    }
}

#[test]
fn proc_self_is_the_callers_and_granted_by_the_runtime_profile() {
    let f = Floor::new();
    for who in users() {
        check(&f, who, &[], &["proc-self-abs"], Ok(()));
    }
}

/// The caller's own `/proc` holds host-wide state too (red-team rt2 finding 02 of issue
/// 15): `/proc/self/net/*` listed every host socket (every TCP/UDP socket, every unix
/// socket with its abstract name) through the runtime profile's `/proc/self` rule while
/// `/proc/net/*` was denied. Now `net/` in the caller's own directory (by every spelling:
/// `self`, `thread-self`, `<pid>`) is decided as `/proc/net/…`, and entries that are not the
/// process's own state (`ns/*`) are refused whatever the policy grants. Each attempt opens
/// (or stats) the entry natively first (the control).
#[test]
fn proc_self_net_and_ns_are_not_the_callers_own_state() {
    let f = Floor::new();
    for who in users() {
        for path in [
            "/proc/self/net/unix",
            "/proc/self/net/tcp",
            "/proc/thread-self/net/unix",
        ] {
            f.refused(who, &[], &["open-path", path], libc::EACCES);
            f.refused(who, &[], &["open-path-libc", path], libc::EACCES);
            // A grant covering /proc/net is what lets it be read. (`--ro /proc/net` on the
            // command line is canonicalised to the `arbiter run` process's own
            // /proc/<pid>/net, so the grant is written as `/proc`.)
            f.allowed(who, &["--ro", "/proc"], &["open-path", path]);
            f.allowed(who, &["--ro", "/proc"], &["open-path-libc", path]);
        }
        // A namespace handle is no process state: refused even with all of /proc granted.
        for path in ["/proc/self/ns/net", "/proc/thread-self/ns/user"] {
            f.refused(who, &["--ro", "/proc"], &["stat-path", path], libc::EACCES);
            f.refused(
                who,
                &["--ro", "/proc"],
                &["stat-path-libc", path],
                libc::EACCES,
            );
        }
        // The process's own state stays granted by the runtime profile.
        f.allowed(who, &[], &["open-path", "/proc/self/mountinfo"]);
        f.allowed(who, &[], &["open-path-libc", "/proc/thread-self/status"]);
    }
}
