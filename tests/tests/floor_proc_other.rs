//! The broker follows `/proc` magic links only in the caller's own process directory: a
//! process outside the sandbox (of the same uid, which natively could follow them) has its
//! `/proc/<pid>/fd/N`, `exe` and `cwd` refused (`EACCES`), where the broker once followed
//! them with its own privileges and decided on the target's real path (red-team finding 02
//! of issue 18). Refusing even a same-uid sibling is the conservative choice
//! (docs/security.md). The caller's own links still work (`compat_fd.rs`, `compat_proc.rs`).

mod floor_common;

use floor_common::{command, users, Floor};
use std::process::Stdio;

#[test]
fn another_processes_proc_magic_links_are_not_followed() {
    let f = Floor::new();
    for who in users() {
        // A process outside the sandbox, of the same uid, holding /etc/hostname as fd 0.
        let mut victim = command(who, &["sleep", "60"])
            .stdin(Stdio::from(std::fs::File::open("/etc/hostname").unwrap()))
            .spawn()
            .unwrap();
        let pid = victim.id();
        let comm = format!("/proc/{pid}/comm");
        while std::fs::read_to_string(&comm).is_ok_and(|c| c.trim() != "sleep") {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let fd0 = format!("/proc/{pid}/fd/0");
        let exe = format!("/proc/{pid}/exe");
        let cwd = format!("/proc/{pid}/cwd/.");
        for (mode, path) in [
            ("open-path", &fd0),
            ("open-path-libc", &fd0),
            ("stat-path", &exe),
            ("stat-path-libc", &exe),
            ("stat-path", &cwd),
            ("stat-path-libc", &cwd),
        ] {
            // Natively (same uid, no Landlock) each succeeds; under arbiter: EACCES.
            f.refused(who, &[], &[mode, path], libc::EACCES);
        }
        // The caller's own links still work under arbiter.
        f.allowed(who, &[], &["stat-path", "/proc/self/exe"]);
        f.allowed(who, &[], &["open-path", "/proc/self/fd/0"]);
        let _ = victim.kill();
        let _ = victim.wait();
    }
}

/// Another process's ptrace-protected entries (`environ`, `maps`, `mem`) stay refused even
/// when the policy grants `/proc` (`--ro /proc` for `ps`, `--rw /proc`): the broker would
/// open them with its own rights, which the program lacks (Landlock scopes ptrace access),
/// and hand the program the memory or the withheld environment of, say, the `arbiter run`
/// process itself (red-team finding 07 of issue 21). What `ps` reads (`status`, `stat`,
/// `cmdline`) is still decided by the policy.
#[test]
fn another_processes_memory_and_environment_stay_refused_under_a_proc_grant() {
    let f = Floor::new();
    for who in users() {
        let mut victim = command(who, &["sleep", "60"]).spawn().unwrap();
        let pid = victim.id();
        let comm = format!("/proc/{pid}/comm");
        while std::fs::read_to_string(&comm).is_ok_and(|c| c.trim() != "sleep") {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let environ = format!("/proc/{pid}/environ");
        let maps = format!("/proc/{pid}/maps");
        let mem = format!("/proc/{pid}/mem");
        let status = format!("/proc/{pid}/status");
        for grant in [["--ro", "/proc"], ["--rw", "/proc"]] {
            for (mode, path) in [
                ("open-path", &environ),
                ("open-path-libc", &environ),
                ("open-path", &maps),
                ("open-path-libc", &maps),
                ("open-rw-path", &mem),
                ("open-rw-path-libc", &mem),
            ] {
                // Natively (same uid, no Landlock) each succeeds; under arbiter: EACCES.
                f.refused(who, &grant, &[mode, path], libc::EACCES);
            }
            f.allowed(who, &grant, &["open-path", &status]);
            f.allowed(who, &grant, &["open-path-libc", &status]);
        }
        let _ = victim.kill();
        let _ = victim.wait();
    }
}
