//! The `/proc` the broker reads must be the procfs of its own pid namespace (red team
//! finding 08).
//!
//! Every pid the kernel hands the broker — a seccomp notification's, `SCM_CREDENTIALS`', its
//! own `getpid()` — is in the numbering of the broker's pid namespace, and the broker looks
//! them up in `/proc`: the `/proc/self` rewrite, the "caller's own" test, the base of a
//! relative path, the pid namespace's translation, the end-of-run walk of its own children.
//! A procfs numbers processes in the namespace it was mounted for. Under
//! `unshare --pid --fork` without `--mount-proc` (or a container runtime or CI wrapper that
//! does the same) `/proc` is an ancestor namespace's: `/proc/<n>` is then another process
//! than the caller `n`, and a sandboxed program that forks until its pid equals a host
//! process's would be served that process's `/proc/self/environ`, `mem` or `fd/N`.
//!
//! [`check`] refuses that at start: `/proc` must be a procfs, and in it `/proc/self/status`
//! must show the broker under exactly its own pid and no other (its `NSpid:` line lists one
//! pid per namespace from the procfs's down to the broker's own, so an ancestor's procfs
//! shows two or more; a descendant's or an unrelated one has no `/proc/self` at all). The
//! mount cannot change under a running arbiter without privileges over arbiter's own mount
//! namespace.

use std::fmt;

/// Why `/proc` cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// `/proc` is not a procfs (its file system's magic number).
    NotProcfs(u64),
    /// `/proc/self/status` could not be read (no `/proc`, or a procfs in which the broker
    /// does not exist).
    Unreadable(String),
    /// The procfs is another pid namespace's: the broker's pids there, outermost first.
    Foreign(Vec<u32>),
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let me = std::process::id();
        match self {
            Mismatch::NotProcfs(magic) => write!(
                f,
                "/proc is not a procfs (file system type {magic:#x}); arbiter decides on the \
                 processes it names"
            ),
            Mismatch::Unreadable(e) => write!(
                f,
                "/proc/self/status cannot be read ({e}): /proc must be the procfs of \
                 arbiter's own pid namespace"
            ),
            Mismatch::Foreign(pids) => write!(
                f,
                "/proc is the procfs of another pid namespace (arbiter is pid {me} in its \
                 own, {pids:?} from that procfs's namespace down): its /proc/<pid> would \
                 name other processes than the sandbox's; mount the pid namespace's own \
                 procfs (for example `unshare --pid --fork --mount-proc`)"
            ),
        }
    }
}

impl std::error::Error for Mismatch {}

/// Checks that `/proc` is the procfs of this process's pid namespace (see the module
/// documentation); the mismatch otherwise.
pub fn check() -> Result<(), Mismatch> {
    // SAFETY: statfs is plain old data; the path is NUL-terminated and the result checked.
    let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::statfs(c"/proc".as_ptr(), &mut fs) } < 0 {
        return Err(Mismatch::Unreadable(
            std::io::Error::last_os_error().to_string(),
        ));
    }
    if fs.f_type != libc::PROC_SUPER_MAGIC {
        return Err(Mismatch::NotProcfs(fs.f_type as u64));
    }
    let status =
        std::fs::read("/proc/self/status").map_err(|e| Mismatch::Unreadable(e.to_string()))?;
    match nspid(&status) {
        Some(pids) if pids == [std::process::id()] => Ok(()),
        Some(pids) => Err(Mismatch::Foreign(pids)),
        None => Err(Mismatch::Unreadable(
            "no NSpid: line in /proc/self/status".into(),
        )),
    }
}

/// The pids of the `NSpid:` line of a `/proc/<pid>/status` (`None` without one, or when a
/// field is not a pid).
fn nspid(status: &[u8]) -> Option<Vec<u32>> {
    let line = status
        .split(|&b| b == b'\n')
        .find_map(|l| l.strip_prefix(b"NSpid:"))?;
    let pids: Option<Vec<u32>> = line
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
        .map(|w| std::str::from_utf8(w).ok()?.parse().ok())
        .collect();
    pids.filter(|p| !p.is_empty())
}

#[cfg(test)]
mod tests {
    use super::{check, nspid};

    #[test]
    fn nspid_lines_are_read_as_pids_outermost_first() {
        assert_eq!(nspid(b"Name:\tx\nNSpid:\t12\n"), Some(vec![12]));
        assert_eq!(nspid(b"NSpid:\t4107\t3\nNSsid:\t1\n"), Some(vec![4107, 3]));
        assert_eq!(nspid(b"Name:\tx\n"), None);
        assert_eq!(nspid(b"NSpid:\t\n"), None);
        assert_eq!(nspid(b"NSpid:\t1x\n"), None);
    }

    #[test]
    fn the_test_machines_proc_is_its_own() {
        assert_eq!(check(), Ok(()));
    }
}
