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
    if caller > 0 && n == caller as u32 {
        let mut alias = PathBuf::from("/proc/self");
        alias.extend(parts);
        return Proc::Caller(alias);
    }
    Proc::Other
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
        assert_eq!(classify(Path::new("/proc/4242/status"), 7), Proc::Other);
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
