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

/// A process or thread id as the kernel spells it in `/proc` (no sign, no leading zero).
fn id_component(c: &[u8]) -> Option<u32> {
    if c.is_empty() || c.len() > 10 || c[0] == b'0' || !c.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(c).ok()?.parse().ok()
}

/// The components of an absolute `path` up to its process directory `/proc/<n>` as the
/// kernel would walk them — empty and `.` components dropped, `..` taken back lexically
/// (sound there: `/` and `/proc` are no symlinks and `/..` is `/`) — giving `<n>`, and the
/// rest of the path after it, untouched (empty, or from the `/` after `<n>`). `None` when the path does not reach `/proc/<something>` so.
fn process_dir(path: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut rest = path.strip_prefix(b"/")?;
    let mut depth: Vec<&[u8]> = Vec::with_capacity(2);
    loop {
        let (part, after) = match rest.iter().position(|&b| b == b'/') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &b""[..]),
        };
        let last = part.len() == rest.len();
        let tail = &rest[part.len()..];
        match part {
            b"" | b"." => {}
            b".." => {
                depth.pop();
            }
            p if depth.is_empty() => {
                if p != b"proc" {
                    return None;
                }
                depth.push(p);
            }
            p => return Some((p, tail)),
        }
        if last {
            return None;
        }
        rest = after;
    }
}

/// `path` (absolute, as the program wrote it) with a leading `/proc/<n>` (and a `task/<m>`
/// right after it) as the sandbox knows those ids — in its own pid namespace
/// ([`crate::sandbox::pidns`]): `getpid()`, `gettid()`, `$$`, a child's pid — rewritten to
/// the ids of the same processes in the broker's namespace, where the broker resolves paths
/// (it reads the host's `/proc`). The prefix is read as the kernel walks it (`/proc//2`,
/// `/proc/./2`, `/../proc/2` are `/proc/2`). `None` without a pid namespace, when the path
/// does not start so, or when `n` is no process of the sandbox (then `/proc/<n>` names the
/// broker namespace's process `n`, as the sandbox's own `/proc`, the host's, lists it).
///
/// Apply it exactly once to a path in the sandbox's spelling: a path the transport has
/// already rewritten to the caller's host pid (`/proc/self` → `/proc/<host pid>`) must not
/// pass here again, or a host pid would be read as a sandbox pid (`resolve::Spelling`).
/// Each id costs one `ioctl` ([`crate::sandbox::pidns::host_id`]), never a walk.
pub fn translate_own(path: &[u8]) -> Option<Vec<u8>> {
    crate::sandbox::pidns::current()?;
    let (first, rest) = process_dir(path)?;
    let n = id_component(first)?;
    let host = crate::sandbox::pidns::host_id(i32::try_from(n).ok()?)?;
    let mut out = format!("/proc/{host}").into_bytes();
    match rest.strip_prefix(b"/task/").map(|t| {
        let end = t.iter().position(|&b| b == b'/').unwrap_or(t.len());
        (id_component(&t[..end]), &t[end..])
    }) {
        Some((Some(m), after)) => {
            let tid = i32::try_from(m)
                .ok()
                .and_then(crate::sandbox::pidns::host_id)
                .map_or(m, |t| t as u32);
            out.extend_from_slice(format!("/task/{tid}").as_bytes());
            out.extend_from_slice(after);
        }
        _ => out.extend_from_slice(rest),
    }
    Some(out)
}

/// [`translate_own`] for `rel`, a path relative to a directory whose real path is `dir`:
/// only when `dir` is `/` or `/proc`, where `rel` itself spells the pid (`proc/<n>/…`,
/// `<n>/…`), as the absolute path they make. A directory inside a process directory is
/// already the kernel's (host) numbering and is left alone, as is any other directory.
pub fn translate_relative(dir: &[u8], rel: &[u8]) -> Option<Vec<u8>> {
    if dir != b"/" && dir != b"/proc" {
        return None;
    }
    let mut joined = dir.to_vec();
    joined.push(b'/');
    joined.extend_from_slice(rel);
    translate_own(&joined)
}

/// [`translate_relative`] for `rel` relative to the directory `dir` (its real path read
/// only when `rel` can spell a pid from `/` or `/proc`: it starts with a digit, `proc` or
/// `.`), in a pid namespace only.
pub fn translate_relative_to(dir: std::os::fd::BorrowedFd<'_>, rel: &[u8]) -> Option<Vec<u8>> {
    crate::sandbox::pidns::current()?;
    let first = *rel.first()?;
    if !(first.is_ascii_digit() || first == b'.' || rel.starts_with(b"proc")) {
        return None;
    }
    let real = crate::core::resolve::fd_path(dir).ok()?;
    translate_relative(
        std::os::unix::ffi::OsStrExt::as_bytes(real.as_os_str()),
        rel,
    )
}

/// Whether `path` (absolute, from the shim transport) may be the working directory of
/// process `caller` joined with a relative path (the shim joins them, `getcwd` + `/` +
/// path): its working directory is inside a process directory (`/proc/<n>…`, spelled in
/// the broker's namespace as the kernel gives it) and `path` starts with it. Such a
/// path's `<n>` is the kernel's, not the sandbox's, and must not be translated again.
pub fn joined_with_proc_cwd(path: &[u8], caller: i32) -> bool {
    let numbered = path
        .strip_prefix(b"/proc/")
        .is_some_and(|r| r.first().is_some_and(u8::is_ascii_digit));
    if caller <= 0 || !numbered {
        return false;
    }
    let Ok(cwd) = std::fs::read_link(format!("/proc/{caller}/cwd")) else {
        return false;
    };
    let cwd = cwd.as_os_str().as_encoded_bytes();
    let in_process_dir = cwd
        .strip_prefix(b"/proc/")
        .is_some_and(|r| r.first().is_some_and(u8::is_ascii_digit));
    in_process_dir && path.starts_with(cwd) && path.get(cwd.len()) == Some(&b'/')
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
    fn the_process_directory_is_found_as_the_kernel_walks_the_prefix() {
        let dir = |p: &[u8]| process_dir(p).map(|(n, r)| (n.to_vec(), r.to_vec()));
        let some = |n: &[u8], r: &[u8]| Some((n.to_vec(), r.to_vec()));
        assert_eq!(dir(b"/proc/2/status"), some(b"2", b"/status"));
        assert_eq!(dir(b"/proc//2/status"), some(b"2", b"/status"));
        assert_eq!(dir(b"//proc/./2/status"), some(b"2", b"/status"));
        assert_eq!(dir(b"/../proc/../proc/2"), some(b"2", b""));
        assert_eq!(dir(b"/proc/2/"), some(b"2", b"/"));
        assert_eq!(dir(b"/proc/2/./x/../y"), some(b"2", b"/./x/../y"));
        assert_eq!(dir(b"/proc"), None);
        assert_eq!(dir(b"/proc/"), None);
        assert_eq!(dir(b"/etc/2"), None);
        assert_eq!(dir(b"/procfs/2"), None);
        assert_eq!(dir(b"proc/2"), None);
        // Without a pid namespace (no init made here): nothing to translate.
        let me = std::process::id();
        assert_eq!(translate_own(format!("/proc/{me}/status").as_bytes()), None);
        assert_eq!(translate_own(b"/proc/self/status"), None);
        assert_eq!(translate_own(b"/proc/1/status"), None);
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
