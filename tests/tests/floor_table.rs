//! The syscall table holds against a program that calls the kernel itself: each attempt
//! succeeds natively (the control) and is refused under arbiter with the table's errno, from
//! a dynamic and a static helper, as the invoking user and as uid 65534. The forms the
//! table keeps work under arbiter.

mod floor_common;

use floor_common::{users, Floor, Victim, Who};
use libc::{EACCES, EAFNOSUPPORT, ENOSYS, EOPNOTSUPP, EPERM};

/// Metadata changes through an fd or an `AT_EMPTY_PATH` form are decided by the policy: a
/// file granted read-only cannot have its mode, owner or times changed, nor a file outside
/// the policy through a non-empty path with `AT_EMPTY_PATH` (native before the table).
#[test]
fn metadata_changes_by_fd_follow_the_policy() {
    let f = Floor::new();
    for who in users() {
        let ro = f.file("ro", who, 0o644);
        let ro = ro.to_str().unwrap();
        let grant = ["--ro", ro];
        for attempt in [
            "fchmod",
            "fchmod-libc",
            "fchown",
            "futimens",
            "futimens-libc",
        ] {
            f.refused(who, &grant, &[attempt, ro], EACCES);
        }
        f.refused(who, &grant, &["fsetxattr", ro], EOPNOTSUPP);
        // Outside the policy altogether.
        let outside = f.file("outside", who, 0o644);
        let outside = outside.to_str().unwrap();
        for attempt in ["fchmodat2-empty", "fchownat-empty"] {
            f.refused(who, &[], &[attempt, outside], EACCES);
        }
        f.refused(who, &[], &["listxattr", outside], EOPNOTSUPP);
        f.refused(who, &[], &["inotify", outside], EACCES);
        // Granted writing: the same calls are decided and performed by the broker.
        let rw = f.file("rw", who, 0o644);
        let rw = rw.to_str().unwrap();
        f.allowed(who, &["--rw", rw], &["fchmod-own", rw]);
        f.allowed(who, &["--rw", rw], &["fchmodat2-fd", rw]);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(rw).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the broker performed the fchmodat2");
    }
}

/// Sockets: unix, IPv4/IPv6 stream/datagram/seqpacket and route netlink only.
#[test]
fn raw_packet_and_other_netlink_sockets_are_refused() {
    let f = Floor::new();
    for who in users() {
        f.refused(who, &[], &["socket-netlink-audit"], EACCES);
        f.allowed(who, &[], &["socket-netlink-route"]);
        f.allowed(who, &[], &["socket-udp"]);
    }
    if is_root() {
        // CAP_NET_RAW natively; refused by the table (and by the dropped capabilities).
        f.refused(Who::Invoker, &[], &["socket-raw"], EACCES);
        f.refused(Who::Invoker, &[], &["socket-raw-libc"], EACCES);
        f.refused(Who::Invoker, &[], &["socket-packet"], EAFNOSUPPORT);
    }
}

/// Namespaces give the program a root of its own; clone3's flags are behind a pointer.
#[test]
fn namespaces_and_clone3_are_refused() {
    let f = Floor::new();
    if !std::path::Path::new("/proc/self/ns/user").exists() {
        eprintln!("SKIP: no user namespaces on this kernel");
        return;
    }
    for who in users() {
        f.refused(who, &[], &["unshare-uts"], EPERM);
        f.refused(who, &[], &["clone3"], ENOSYS);
        // glibc falls back to clone, which the table allows without namespace flags.
        f.allowed(who, &[], &["fork-libc"]);
        f.allowed(who, &[], &["unshare-files"]);
    }
}

/// Calls aimed at another process: limits, priority, affinity, kcmp.
#[test]
fn foreign_processes_are_out_of_reach() {
    let f = Floor::new();
    for who in users() {
        let victim = Victim::new(who);
        let pid = victim.pid();
        for attempt in ["prlimit", "setpriority", "sched_setaffinity"] {
            f.refused(who, &[], &[attempt, &pid], EPERM);
        }
        f.refused(who, &[], &["kcmp"], EPERM);
        f.allowed(who, &[], &["prlimit-self"]);
    }
}

/// Host state: keyrings, POSIX message queues, io_uring; code the program wrote in memory
/// (an executable memfd, exec of a plain memfd through /proc/self/fd, exec of an fd).
#[test]
fn host_state_and_anonymous_code_are_refused() {
    let f = Floor::new();
    if std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
        .map_or(true, |s| s.trim() != "0")
    {
        eprintln!("note: io_uring is disabled here, its control cannot run");
    }
    for who in users() {
        f.refused(who, &[], &["keyctl"], EPERM);
        f.refused(who, &[], &["mq_open"], EACCES);
        f.refused(who, &[], &["memfd-exec"], EACCES);
        // A plain memfd works, but is made by the broker sealed against exec.
        f.allowed(who, &[], &["memfd"]);
        f.refused(who, &[], &["memfd-exec-proc", "/bin/echo"], EACCES);
        f.refused(
            who,
            &["--ro", "/bin/echo"],
            &["execveat-fd", "/bin/echo"],
            EACCES,
        );
        if std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
            .is_ok_and(|s| s.trim() == "0")
        {
            f.refused(who, &[], &["io_uring"], ENOSYS);
        }
    }
    if is_root() {
        f.refused(Who::Invoker, &[], &["sethostname"], EPERM);
    }
}

fn is_root() -> bool {
    floor_common::is_root()
}

/// Another ABI's numbers (i386's `int 0x80` from a 64-bit process) never reach the table:
/// the filter checks the architecture and kills the process (SIGSYS, 128 + 31 from arbiter).
#[test]
fn another_architecture_is_killed() {
    if !cfg!(target_arch = "x86_64") {
        eprintln!("SKIP: int 0x80 is x86_64's");
        return;
    }
    let f = Floor::new();
    for who in users() {
        for h in &f.helpers {
            let h = h.to_str().unwrap();
            let native = f.native(who, &[h, "int80"]);
            if native.stdout != b"ok\n" {
                eprintln!("SKIP: no i386 emulation in this kernel ({native:?})");
                return;
            }
            let confined = f.confined(who, &[], &[h, "int80"]);
            assert_eq!(
                confined.status.code(),
                Some(128 + libc::SIGSYS),
                "{h} as {who:?}: {confined:?}"
            );
            assert!(confined.stdout.is_empty(), "{confined:?}");
        }
    }
}
