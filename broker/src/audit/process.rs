//! Facts about a calling process for audit records, read from `/proc`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The executable `pid` runs (`/proc/PID/exe`), or `None` when it is gone or unreadable
/// (a kernel thread, a process that exited, a `ptrace`-restricted target).
pub fn exe(pid: i32) -> Option<Arc<Path>> {
    if pid <= 0 {
        return None;
    }
    std::fs::read_link(format!("/proc/{pid}/exe"))
        .ok()
        .map(Arc::from)
}

/// The parent pid of `pid`, from `/proc/PID/stat` (the field after the state, which
/// follows the last `)` since the command name may contain anything).
pub fn parent(pid: i32) -> Option<i32> {
    let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&stat[close + 1..]).ok()?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// How many processes [`ExeCache`] remembers.
const CACHE: usize = 64;

/// A small cache of executables by pid for the seccomp transport, where calls of many
/// processes arrive on one listener. An entry is keyed by the pid and the process's
/// `comm` name, which exec changes, so a process that exec'd another program is read
/// again; a pid whose name is unchanged by exec (the same basename) keeps its entry.
#[derive(Default)]
pub struct ExeCache {
    /// (pid, comm, exe), oldest first.
    entries: Mutex<Vec<CacheEntry>>,
}

type CacheEntry = (i32, String, Option<Arc<Path>>);

impl ExeCache {
    /// The executable of `pid` whose `comm` is `name`, and whether it was just read
    /// (first seen: the caller writes a `process` record).
    pub fn get(&self, pid: i32, name: &str) -> (Option<Arc<Path>>, bool) {
        if let Ok(entries) = self.entries.lock() {
            if let Some((_, _, exe)) = entries.iter().find(|(p, n, _)| *p == pid && n == name) {
                return (exe.clone(), false);
            }
        }
        let exe = exe(pid);
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|(p, _, _)| *p != pid);
            if entries.len() >= CACHE {
                entries.remove(0);
            }
            entries.push((pid, name.to_owned(), exe.clone()));
        }
        (exe, true)
    }
}

/// The last component of an executable path, for human-readable lines.
pub fn short_name(exe: &Path) -> String {
    exe.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| PathBuf::from(exe).display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_facts_are_read() {
        let me = std::process::id() as i32;
        assert_eq!(exe(me).as_deref(), std::env::current_exe().ok().as_deref());
        // SAFETY: getppid has no preconditions.
        assert_eq!(parent(me), Some(unsafe { libc::getppid() }));
    }

    #[test]
    fn exe_cache_reads_again_when_the_name_changes() {
        let me = std::process::id() as i32;
        let cache = ExeCache::default();
        assert!(cache.get(me, "a").1);
        assert!(!cache.get(me, "a").1);
        assert!(cache.get(me, "b").1, "exec changes comm: read again");
    }
}
