//! `/proc` as the caller sees it: the broker resolves paths in its own process, where
//! `/proc/self`, `/proc/thread-self` and `/dev/fd` name the *broker*. The seccomp transport
//! rewrites the absolute forms to the caller's `/proc/<pid>` before resolving, but a relative
//! path (`proc/self/status` from `/`, `fd/3` from `/dev`, anything under a dirfd on `/proc`)
//! is resolved by the kernel in the broker. So every path is classified on its *real* path,
//! once resolved: anything in the broker's own `/proc/<pid>` (or a thread's) or a literal
//! `/proc/self`/`/proc/thread-self` the broker would follow is refused (`EACCES`), and the
//! caller's own `/proc/<pid>/…` is decided as `/proc/self/…`, the name policies use for it
//! (`policies/profiles/runtime.toml`).

use std::path::{Component, Path, PathBuf};

/// What a real path under `/proc` is, for the policy.
#[derive(Debug, PartialEq, Eq)]
pub enum Proc {
    /// Not the broker's and not the caller's own: decided as it is.
    Other,
    /// The broker's own process state: refused.
    Broker,
    /// The caller's own `/proc/<pid>/rest`: decided as `/proc/self/rest`.
    Caller(PathBuf),
    /// Another process's `/proc/<pid>/…` (or a thread's, `task/<tid>/…`). The broker would
    /// open it with its own rights, which the program lacks (Landlock scopes ptrace access
    /// to processes outside the sandbox): only what any process may read of another without
    /// ptrace access — its directory and [`READABLE`] — may be decided by the policy (`true`),
    /// read-only; anything else (`mem`, `environ`, `maps`, `fd/`, …) is refused.
    Foreign(bool),
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
    if caller > 0 && n == caller as u32 || own_thread() {
        let mut alias = PathBuf::from("/proc/self");
        alias.extend(parts);
        return Proc::Caller(alias);
    }
    let rest: Vec<Component<'_>> = parts.collect();
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

/// The innermost pid the `NSpid:` line of `/proc/<host>/status` (or of a thread's, under
/// `task/`) gives, when the process lives in a pid namespace below the broker's (the line
/// has more than one field); `None` otherwise or when it cannot be read.
pub fn inner_pid(status: &str) -> Option<u32> {
    let line = status.lines().find(|l| l.starts_with("NSpid:"))?;
    let fields: Vec<&str> = line["NSpid:".len()..].split_whitespace().collect();
    if fields.len() < 2 {
        return None;
    }
    fields.last()?.parse().ok()
}

/// `/proc/<p>/status` as text (`p` a pid, or `pid/task/tid`).
fn status_of(p: &str) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{p}/status")).ok()
}

/// The thread ids of process `pid` (none when it is gone).
fn tasks(pid: u32) -> Vec<u32> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The thread of process `pid` whose id in the sandbox's pid namespace is `n`.
fn thread_named(pid: u32, n: u32) -> Option<u32> {
    tasks(pid)
        .into_iter()
        .find(|tid| status_of(&format!("{pid}/task/{tid}")).and_then(|s| inner_pid(&s)) == Some(n))
}

/// The id in the broker's pid namespace of the process or thread the sandbox knows as `n`,
/// looked up among the caller's own threads (host pid `caller`) first, then among every
/// process of the sandbox ([`sandbox_id`]). `None` when the caller is not in a pid
/// namespace below the broker's, or no process of the sandbox is `n`.
fn host_id(n: u32, caller: i32) -> Option<u32> {
    let own = inner_pid(&status_of(&caller.to_string())?)?;
    if n == own {
        return Some(caller as u32);
    }
    thread_named(caller as u32, n).or_else(|| sandbox_id(n))
}

/// The id in the broker's pid namespace of the process or thread of the sandbox whose id
/// in the sandbox's pid namespace is `n` ([`crate::sandbox::pidns`]), found by walking the
/// broker's descendants (its command, and the orphans the namespace's init adopted) down
/// the kernel's children lists and reading their `NSpid:` lines. `None` when none is.
pub fn sandbox_id(n: u32) -> Option<u32> {
    let mut todo = vec![std::process::id()];
    let mut seen = std::collections::HashSet::new();
    while let Some(pid) = todo.pop() {
        if !seen.insert(pid) || seen.len() > 1 << 16 {
            continue;
        }
        if pid != std::process::id() {
            if let Some(found) = thread_named(pid, n) {
                return Some(found);
            }
        }
        for tid in tasks(pid) {
            if let Ok(list) = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/children")) {
                todo.extend(
                    list.split_whitespace()
                        .filter_map(|c| c.parse::<u32>().ok()),
                );
            }
        }
    }
    None
}

/// A process or thread id as the kernel spells it in `/proc` (no sign, no leading zero).
fn id_component(c: &[u8]) -> Option<u32> {
    if c.is_empty() || c.len() > 10 || c[0] == b'0' || !c.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(c).ok()?.parse().ok()
}

/// `path` with a leading `/proc/<n>` (and a `task/<m>` right after it) as the sandbox knows
/// those ids — in its own pid namespace ([`crate::sandbox::pidns`]): `getpid()`,
/// `gettid()`, `$$`, a child's pid — rewritten to the ids of the same processes in the
/// broker's namespace, where the broker resolves paths (it reads the host's `/proc`). `None`
/// when the path does not start so, the caller (host pid `caller`) is not in a pid
/// namespace below the broker's, or `n` is no process of the sandbox (then `/proc/<n>`
/// names the broker namespace's process `n`, as the sandbox's own `/proc`, the host's,
/// lists it).
pub fn translate_own(path: &[u8], caller: i32) -> Option<Vec<u8>> {
    if caller <= 0 {
        return None;
    }
    let rest = path.strip_prefix(b"/proc/")?;
    let mut parts = rest.splitn(4, |&b| b == b'/');
    let n = id_component(parts.next()?)?;
    let host = host_id(n, caller)?;
    let mut out = format!("/proc/{host}").into_bytes();
    let second = parts.next();
    let third = parts.next();
    let remaining = parts.next();
    match (second, third) {
        (Some(b"task"), Some(t)) if id_component(t).is_some() => {
            let m = id_component(t)?;
            let tid = host_id(m, caller).unwrap_or(m);
            out.extend_from_slice(format!("/task/{tid}").as_bytes());
        }
        _ => {
            for p in [second, third].into_iter().flatten() {
                out.push(b'/');
                out.extend_from_slice(p);
            }
        }
    }
    if let Some(r) = remaining {
        out.push(b'/');
        out.extend_from_slice(r);
    }
    Some(out)
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
        assert_eq!(classify(Path::new("/proc/cpuinfo"), 7), Proc::Other);
        assert_eq!(classify(Path::new("/etc/passwd"), 7), Proc::Other);
        assert_eq!(classify(Path::new("/procfs/self"), 7), Proc::Other);
    }

    #[test]
    fn the_nspid_line_gives_the_innermost_pid_only_below_the_brokers_namespace() {
        assert_eq!(inner_pid("Name:\tx\nNSpid:\t4321\t2\n"), Some(2));
        assert_eq!(inner_pid("NSpid:\t4321\t77\t3\n"), Some(3));
        assert_eq!(inner_pid("NSpid:\t4321\n"), None);
        assert_eq!(inner_pid("Pid:\t4321\n"), None);
        // A caller in the broker's own namespace: nothing to translate.
        let me = std::process::id() as i32;
        assert_eq!(
            translate_own(format!("/proc/{me}/status").as_bytes(), me),
            None
        );
        assert_eq!(translate_own(b"/proc/self/status", me), None);
        assert_eq!(translate_own(b"/proc/1/status", 0), None);
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
