//! `/proc` as the caller sees it: the broker resolves paths in its own process, where
//! `/proc/self`, `/proc/thread-self` and `/dev/fd` name the *broker*. The seccomp transport
//! rewrites the absolute forms to the caller's `/proc/<pid>` before resolving, but a relative
//! path (`proc/self/status` from `/`, `fd/3` from `/dev`, anything under a dirfd on `/proc`)
//! is resolved by the kernel in the broker. So every path is classified on its *real* path,
//! once resolved: anything in the broker's own `/proc/<pid>` (or a thread's) or a literal
//! `/proc/self`/`/proc/thread-self` the broker would follow is refused (`EACCES`), and the
//! caller's own `/proc/<pid>/…` is decided as `/proc/self/…`, the name policies use for it
//! (`policies/profiles/runtime.toml`).
//!
//! Not everything in a process's own directory is the process's own state: `net/` is its
//! network namespace's (without a network namespace, the host's every socket, including
//! abstract unix names), and `ns/*` are handles on namespaces. So the caller's own
//! directory is default-deny too: [`OWN`] lists what is decided as `/proc/self/…`, [`HOST`]
//! what is decided under the host-wide name it aliases (`net/…` as `/proc/net/…`), and
//! every other entry is refused whatever the policy says.

use std::path::{Component, Path, PathBuf};

/// What a real path under `/proc` is, for the policy.
#[derive(Debug, PartialEq, Eq)]
pub enum Proc {
    /// Not the broker's and not the caller's own: decided as it is.
    Other,
    /// The broker's own process state: refused.
    Broker,
    /// The caller's own `/proc/<pid>/rest` (or a thread's, `task/<tid>/rest`) when `rest`
    /// starts with an [`OWN`] entry: decided as `/proc/self/rest`; or with a [`HOST`] entry:
    /// decided as the host-wide name it aliases (`net/tcp` as `/proc/net/tcp`).
    Caller(PathBuf),
    /// An entry of the caller's own process directory that is in neither [`OWN`] nor
    /// [`HOST`] (`ns/*`, anything a newer kernel adds): refused, whatever the policy says.
    Unlisted,
    /// Another process's `/proc/<pid>/…` (or a thread's, `task/<tid>/…`). The broker would
    /// open it with its own rights, which the program lacks (Landlock scopes ptrace access
    /// to processes outside the sandbox): only what any process may read of another without
    /// ptrace access — its directory and [`READABLE`] — may be decided by the policy (`true`),
    /// read-only; anything else (`mem`, `environ`, `maps`, `fd/`, …) is refused.
    Foreign(bool),
}

/// The entries of the caller's own `/proc/<pid>` (and of its `task/<tid>`) that are the
/// process's own state or its own view (`mountinfo`: its mount namespace's mounts), decided
/// as `/proc/self/<entry>/…` (`task` is handled apart: `task/<tid>/` holds the same entries).
pub const OWN: &[&str] = &[
    "arch_status",
    "attr",
    "autogroup",
    "auxv",
    "cgroup",
    "children",
    "clear_refs",
    "cmdline",
    "comm",
    "coredump_filter",
    "cpuset",
    "cwd",
    "environ",
    "exe",
    "fd",
    "fdinfo",
    "gid_map",
    "io",
    "ksm_merging_pages",
    "ksm_stat",
    "limits",
    "loginuid",
    "map_files",
    "maps",
    "mem",
    "mountinfo",
    "mounts",
    "mountstats",
    "numa_maps",
    "oom_adj",
    "oom_score",
    "oom_score_adj",
    "pagemap",
    "personality",
    "projid_map",
    "root",
    "sched",
    "schedstat",
    "sessionid",
    "setgroups",
    "smaps",
    "smaps_rollup",
    "stack",
    "stat",
    "statm",
    "status",
    "syscall",
    "timens_offsets",
    "timers",
    "timerslack_ns",
    "uid_map",
    "wchan",
];

/// The entries of the caller's own process directory that show host-wide (namespace-wide)
/// state, each with the name the policy decides it by: `net/tcp` is `/proc/net/tcp` (what
/// `/proc/net` links to), refused unless the policy grants `/proc/net`.
pub const HOST: &[(&str, &str)] = &[("net", "/proc/net")];

/// The name the policy decides `rest` (the components after the caller's own `/proc/<pid>`)
/// by, or `None` for an entry that is neither [`OWN`] nor [`HOST`].
fn own_alias(rest: &[Component<'_>]) -> Option<PathBuf> {
    let mut alias = PathBuf::from("/proc/self");
    let mut entries = rest;
    if let [Component::Normal(task), more @ ..] = rest {
        if *task == "task" {
            alias.push("task");
            match more {
                [] => return Some(alias),
                [Component::Normal(tid), more @ ..]
                    if tid.to_str().is_some_and(|t| t.parse::<u32>().is_ok()) =>
                {
                    alias.push(tid);
                    entries = more;
                }
                _ => return None,
            }
        }
    }
    let [first, more @ ..] = entries else {
        return Some(alias);
    };
    let Component::Normal(name) = first else {
        return None;
    };
    let name = name.to_str()?;
    if let Some((_, host)) = HOST.iter().find(|(entry, _)| *entry == name) {
        let mut host = PathBuf::from(host);
        host.extend(more);
        return Some(host);
    }
    if !OWN.contains(&name) {
        return None;
    }
    alias.push(name);
    alias.extend(more);
    Some(alias)
}

/// The entries of a process's `/proc/<pid>` (and of its `task/<tid>`) the kernel lets any
/// process read without ptrace access (what `ps` and `top` read).
pub const READABLE: &[&str] = &["stat", "statm", "status", "cmdline", "comm"];

/// Whether `rest` (the components after `/proc/<pid>`) names the directory itself, a
/// [`READABLE`] entry, or the same within `task/<tid>`.
fn readable_without_ptrace(rest: &[Component<'_>]) -> bool {
    let name_ok = |c: &Component<'_>| matches!(c, Component::Normal(n) if n.to_str().is_some_and(|n| READABLE.contains(&n)));
    match rest {
        [] => true,
        [entry] => name_ok(entry) || matches!(entry, Component::Normal(n) if *n == "task"),
        [Component::Normal(task), Component::Normal(tid), more @ ..] if *task == "task" => {
            tid.to_str().is_some_and(|t| t.parse::<u32>().is_ok())
                && match more {
                    [] => true,
                    [entry] => name_ok(entry),
                    _ => false,
                }
        }
        _ => false,
    }
}

/// Classifies `path` (a real path) for a caller whose process id is `caller` (0: unknown).
pub fn classify(path: &Path, caller: i32) -> Proc {
    let mut parts = path.components();
    if parts.next() != Some(Component::RootDir)
        || parts.next() != Some(Component::Normal("proc".as_ref()))
    {
        return Proc::Other;
    }
    let Some(Component::Normal(entry)) = parts.next() else {
        return Proc::Other;
    };
    if entry == "self" || entry == "thread-self" {
        // Only reached by a name the broker itself would follow (a relative path, or a
        // final component it does not follow): it names the broker.
        return Proc::Broker;
    }
    let Some(n) = entry.to_str().and_then(|s| s.parse::<u32>().ok()) else {
        return Proc::Other;
    };
    let broker = std::process::id();
    if n == broker || Path::new(&format!("/proc/{broker}/task/{n}")).exists() {
        return Proc::Broker;
    }
    let own_thread = || caller > 0 && Path::new(&format!("/proc/{caller}/task/{n}")).exists();
    let rest: Vec<Component<'_>> = parts.collect();
    if caller > 0 && n == caller as u32 || own_thread() {
        return own_alias(&rest).map_or(Proc::Unlisted, Proc::Caller);
    }
    Proc::Foreign(readable_without_ptrace(&rest))
}

/// Whether `dir` (the real path of a directory on a procfs) lies in the process directory
/// of a process other than the caller's (process id `caller`; 0: unknown, so every process
/// is another): `/proc/<n>/…` where `n` is neither the caller's pid nor one of its thread
/// ids, or a procfs directory not under `/proc` at all. `/proc` itself and its other
/// entries (`/proc/sys`, `/proc/net`'s target is resolved by name) are not.
pub fn foreign(dir: &Path, caller: i32) -> bool {
    let mut parts = dir.components();
    if parts.next() != Some(Component::RootDir)
        || parts.next() != Some(Component::Normal("proc".as_ref()))
    {
        return true;
    }
    let Some(Component::Normal(entry)) = parts.next() else {
        return false;
    };
    let Some(n) = entry.to_str().and_then(|s| s.parse::<u32>().ok()) else {
        return false;
    };
    !(caller > 0 && (n == caller as u32 || Path::new(&format!("/proc/{caller}/task/{n}")).exists()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_brokers_proc_is_refused_the_callers_is_self() {
        let me = std::process::id();
        let p = |s: String| PathBuf::from(s);
        assert_eq!(classify(&p(format!("/proc/{me}/status")), 1), Proc::Broker);
        assert_eq!(classify(&p(format!("/proc/{me}/fd/3")), 1), Proc::Broker);
        assert_eq!(classify(Path::new("/proc/self/status"), 1), Proc::Broker);
        assert_eq!(classify(Path::new("/proc/thread-self"), 1), Proc::Broker);
        // A thread of the broker, by its own tid (tests run on threads of their own).
        // SAFETY: gettid has no arguments and cannot fail.
        let main_tid = unsafe { libc::gettid() };
        assert_eq!(
            classify(&p(format!("/proc/{main_tid}/status")), 1),
            Proc::Broker
        );
        assert_eq!(
            classify(Path::new("/proc/4242/status"), 4242),
            Proc::Caller(PathBuf::from("/proc/self/status"))
        );
        assert_eq!(
            classify(Path::new("/proc/4242"), 4242),
            Proc::Caller(PathBuf::from("/proc/self"))
        );
        assert_eq!(
            classify(Path::new("/proc/4242/status"), 7),
            Proc::Foreign(true)
        );
        for refused in [
            "mem",
            "environ",
            "maps",
            "fd/0",
            "cwd",
            "task/4243/mem",
            "auxv",
        ] {
            assert_eq!(
                classify(&p(format!("/proc/4242/{refused}")), 7),
                Proc::Foreign(false),
                "{refused}"
            );
        }
        assert_eq!(classify(Path::new("/proc/4242"), 0), Proc::Foreign(true));
        assert_eq!(
            classify(Path::new("/proc/4242/task/4243/stat"), 7),
            Proc::Foreign(true)
        );
        // The caller's own directory: its own state as /proc/self, net/ as /proc/net,
        // anything unlisted refused.
        for (real, alias) in [
            ("/proc/4242/task/4243/status", "/proc/self/task/4243/status"),
            ("/proc/4242/task", "/proc/self/task"),
            ("/proc/4242/fd/3", "/proc/self/fd/3"),
            ("/proc/4242/net/unix", "/proc/net/unix"),
            ("/proc/4242/net", "/proc/net"),
            ("/proc/4242/task/4243/net/tcp", "/proc/net/tcp"),
        ] {
            assert_eq!(
                classify(Path::new(real), 4242),
                Proc::Caller(PathBuf::from(alias)),
                "{real}"
            );
        }
        for unlisted in [
            "/proc/4242/ns/net",
            "/proc/4242/ns",
            "/proc/4242/task/4243/ns/user",
            "/proc/4242/task/x/status",
            "/proc/4242/task/4243/task",
            "/proc/4242/newer_kernel_entry",
        ] {
            assert_eq!(
                classify(Path::new(unlisted), 4242),
                Proc::Unlisted,
                "{unlisted}"
            );
        }
        assert_eq!(classify(Path::new("/proc/cpuinfo"), 7), Proc::Other);
        assert_eq!(classify(Path::new("/etc/passwd"), 7), Proc::Other);
        assert_eq!(classify(Path::new("/procfs/self"), 7), Proc::Other);
    }

    #[test]
    fn only_the_callers_own_process_directory_is_not_foreign() {
        let me = std::process::id() as i32;
        let p = |s: String| PathBuf::from(s);
        assert!(!foreign(&p(format!("/proc/{me}/fd")), me));
        assert!(!foreign(&p(format!("/proc/{me}/task/{me}/fd")), me));
        assert!(!foreign(Path::new("/proc"), me));
        assert!(!foreign(Path::new("/proc/sys/kernel"), me));
        assert!(foreign(&p(format!("/proc/{me}/fd")), 0));
        assert!(foreign(Path::new("/proc/1/fd"), me));
        assert!(foreign(Path::new("/proc/1"), me));
        assert!(foreign(Path::new("/mnt/proc/1/fd"), me));
    }
}
