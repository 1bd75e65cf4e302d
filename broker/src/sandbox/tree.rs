//! The sandbox's process tree, found and killed without trusting anything the sandbox
//! controls.
//!
//! arbiter (the broker, and the guardian above it) is a child subreaper, so every process of
//! the sandbox is one of its descendants. The tree is walked from arbiter's own threads down
//! through `/proc/PID/task/TID/children` (the kernel's list of each thread's children):
//!
//! * **No names.** Only pid lists are read, as bytes; nothing a process chooses (its
//!   `comm`, its command line) is parsed, so no process can hide by its name.
//! * **Freeze, then kill.** Every process found is sent SIGSTOP *before* its children are
//!   read: once the stop is queued its fork cannot attach a new child, so one pass reaches
//!   every depth of a tree that grows at its tip. Then all of them get the signal (SIGKILL,
//!   which cannot be refused). A pass that found anything is followed by another until one
//!   finds nothing and arbiter has no child left.
//! * **Descriptors kept in reserve.** The sandbox decides how many descriptors the broker
//!   holds (call channels, passed descriptors of blocked sends), so `/proc` is opened once,
//!   in [`prepare`], and a few reserve descriptors are set aside then: a walk closes them
//!   first, so it can open its files even when the broker's table is full, and takes them
//!   back after. A walk that still cannot open something is a *failed* walk, retried; it is
//!   never taken for "no process left".
//! * **Never blocking.** Exits are reaped with `WNOHANG` between passes and the wait for
//!   one is bounded ([`PAUSE`]), so a process the walk missed is retried rather than
//!   waited for for ever, and arbiter's own end is still acted on.

use std::collections::HashSet;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Mutex;

/// `/proc`, opened once by [`prepare`] (-1 before).
static PROC: AtomicI32 = AtomicI32::new(-1);

/// How many descriptors [`prepare`] sets aside for a walk.
const RESERVE: usize = 8;

/// The reserve descriptors (copies of `/dev/null`), closed during a walk.
static RESERVED: Mutex<Vec<i32>> = Mutex::new(Vec::new());

/// How long a pass waits for an exit before it looks again.
const PAUSE: std::time::Duration = std::time::Duration::from_millis(20);

/// The soft `RLIMIT_NOFILE` arbiter was started with, when [`prepare`] raised it
/// (`u64::MAX`: not raised); the command gets it back ([`inherited_nofile`]).
static INHERITED_NOFILE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(u64::MAX);

/// The soft `RLIMIT_NOFILE` the command must get back before it runs (arbiter raised its
/// own), or `None`.
pub fn inherited_nofile() -> Option<libc::rlim_t> {
    let v = INHERITED_NOFILE.load(Ordering::Acquire);
    (v != u64::MAX).then_some(v)
}

/// Checks that the hard `RLIMIT_NOFILE` leaves room for the descriptors every sandboxed
/// process gets at fixed numbers (the bootstrap socket at
/// [`arbiter_protocol::DEFAULT_BOOTSTRAP_FD`], the fast-path table just below it): call
/// after [`prepare`], which raises the soft limit to the hard one.
pub fn check_fixed_descriptors() -> Result<(), FixedDescriptorsError> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: lim is a valid out-pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Ok(());
    }
    let needed = libc::rlim_t::try_from(arbiter_protocol::DEFAULT_BOOTSTRAP_FD).unwrap_or(0) + 1;
    if lim.rlim_cur >= needed {
        return Ok(());
    }
    Err(FixedDescriptorsError {
        hard: lim.rlim_max,
        needed,
    })
}

/// Reserves the fixed numbers (the fast-path table's and the bootstrap socket's) in this
/// process for the command: a close-on-exec copy of descriptor 0 is placed at each (one
/// this process inherited there, the user's, is replaced: the command gets its fixed
/// descriptors there in any case), so no descriptor of the broker's own — its audit log,
/// a decider's pipe, the sandbox's seccomp listener or Landlock ruleset — ever takes one of
/// them, even when every lower number is in use (red team s10b findings 01, 02: the
/// command's child, sharing the table, placed its descriptors over the broker's, and the
/// broker's clean-up closed its own). The spawn places the command's descriptors over
/// these and the broker closes them after it ([`super::spawn`]).
///
/// It also grows the table to hold those numbers while the process has one thread: the
/// kernel grows a table that several tasks share only after an RCU grace period
/// (`synchronize_rcu`, milliseconds), and the spawn's child shares the broker's table
/// ([`crate::sandbox::Sandbox::listener_in_shared_table`]). A fork copies only the used
/// part of the table: call it in the process that spawns. Best effort: a limit too low is
/// [`check_fixed_descriptors`]'s to report.
pub fn reserve_fixed_descriptors() {
    for fd in [
        arbiter_protocol::fast_table::FAST_TABLE_FD,
        arbiter_protocol::DEFAULT_BOOTSTRAP_FD,
    ] {
        // SAFETY: integer arguments only; 0 is open (the entry opened it when it was
        // closed), and the target number is this function's to take (see above).
        unsafe { libc::dup3(0, fd, libc::O_CLOEXEC) };
    }
}

/// The open-file limit is too low for the descriptors arbiter places at fixed numbers.
#[derive(Debug, thiserror::Error)]
#[error(
    "the open-file limit is {hard} (hard RLIMIT_NOFILE), and arbiter needs {needed}: every \
     sandboxed process gets its channel to the broker at descriptor {fd}; raise the hard \
     limit (e.g. `ulimit -Hn {needed}` as root, or `prlimit --nofile={needed}:{needed}`) \
     and run again",
    fd = arbiter_protocol::DEFAULT_BOOTSTRAP_FD
)]
pub struct FixedDescriptorsError {
    /// The hard limit arbiter was given.
    pub hard: libc::rlim_t,
    /// The limit arbiter needs.
    pub needed: libc::rlim_t,
}

/// Opens `/proc` and sets the reserve descriptors aside, and raises the soft
/// `RLIMIT_NOFILE` to the hard limit (the broker holds descriptors for the whole sandbox;
/// the command is started with the limit arbiter was given). Call once, early.
pub fn prepare() -> std::io::Result<()> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: lim is a valid out-pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 && lim.rlim_cur < lim.rlim_max
    {
        INHERITED_NOFILE.store(lim.rlim_cur, Ordering::Release);
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: lim is a valid rlimit; failing leaves the old limit.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) };
    }
    if PROC.load(Ordering::Acquire) < 0 {
        // SAFETY: a constant NUL-terminated path.
        let fd = unsafe {
            libc::open(
                c"/proc".as_ptr(),
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        PROC.store(fd, Ordering::Release);
    }
    refill();
    Ok(())
}

/// Takes the reserve back to [`RESERVE`] descriptors (as many as can be had).
fn refill() {
    let mut r = RESERVED.lock().unwrap_or_else(|e| e.into_inner());
    while r.len() < RESERVE {
        // SAFETY: a constant NUL-terminated path.
        let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
        if fd < 0 {
            break;
        }
        r.push(fd);
    }
}

/// Closes the reserve descriptors, so a walk can open its files.
fn release() {
    let mut r = RESERVED.lock().unwrap_or_else(|e| e.into_inner());
    for fd in r.drain(..) {
        // SAFETY: fd is a reserve descriptor this module opened and nobody else uses.
        unsafe { libc::close(fd) };
    }
}

/// An fd opened by [`open_at`], closed on drop.
struct Fd(i32);

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: self.0 is an fd this module opened and owns.
        unsafe { libc::close(self.0) };
    }
}

/// Opens `path` (relative to `/proc`) read-only.
fn open_at(path: &str, flags: libc::c_int) -> Result<Fd, libc::c_int> {
    let proc_fd = PROC.load(Ordering::Acquire);
    let dir = if proc_fd < 0 { libc::AT_FDCWD } else { proc_fd };
    let full;
    let path = if proc_fd < 0 {
        full = format!("/proc/{path}");
        full.as_str()
    } else {
        path
    };
    let c = std::ffi::CString::new(path).map_err(|_| libc::EINVAL)?;
    // SAFETY: dir is a directory fd or AT_FDCWD; c is NUL-terminated.
    let fd = unsafe { libc::openat(dir, c.as_ptr(), flags | libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        Err(std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO))
    } else {
        Ok(Fd(fd))
    }
}

/// Whether an open/read error means the process (or thread) is gone, not a failed walk.
fn gone(errno: libc::c_int) -> bool {
    matches!(errno, libc::ENOENT | libc::ESRCH)
}

/// The thread ids of process `pid` (`None`: the walk failed; empty: the process is gone).
fn tasks(pid: libc::pid_t) -> Option<Vec<libc::pid_t>> {
    let fd = match open_at(&format!("{pid}/task"), libc::O_DIRECTORY) {
        Ok(fd) => fd,
        Err(e) if gone(e) => return Some(Vec::new()),
        Err(_) => return None,
    };
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        // SAFETY: buf is valid for buf.len() bytes; fd is an open directory.
        let n = unsafe {
            libc::syscall(
                libc::SYS_getdents64,
                fd.0,
                buf.as_mut_ptr(),
                buf.len() as libc::c_uint,
            )
        };
        if n < 0 {
            let e = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
            return if gone(e) { Some(out) } else { None };
        }
        if n == 0 {
            return Some(out);
        }
        let n = n as usize;
        let mut off = 0;
        // struct linux_dirent64: u64 ino, i64 off, u16 reclen, u8 type, name (NUL-terminated).
        while off + 19 <= n {
            let reclen = u16::from_ne_bytes([buf[off + 16], buf[off + 17]]) as usize;
            if reclen == 0 || off + reclen > n {
                return None;
            }
            let name = &buf[off + 19..off + reclen];
            let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
            if let Some(tid) = number(name) {
                out.push(tid);
            }
            off += reclen;
        }
    }
}

/// A decimal pid from bytes (`None` for anything else: ".", "..").
fn number(b: &[u8]) -> Option<libc::pid_t> {
    if b.is_empty() || b.len() > 10 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    b.iter()
        .try_fold(0i64, |acc, &d| Some(acc * 10 + i64::from(d - b'0')))
        .and_then(|v| libc::pid_t::try_from(v).ok())
        .filter(|&v| v > 0)
}

/// The children of every thread of `pid` (`None`: the walk failed).
fn children(pid: libc::pid_t) -> Option<Vec<libc::pid_t>> {
    let mut out = Vec::new();
    for tid in tasks(pid)? {
        let fd = match open_at(&format!("{pid}/task/{tid}/children"), 0) {
            Ok(fd) => fd,
            Err(e) if gone(e) => continue,
            Err(_) => return None,
        };
        // "PID PID … " as bytes, read in pieces; a number may straddle two reads.
        let mut buf = [0u8; 4096];
        let mut word: Vec<u8> = Vec::new();
        loop {
            // SAFETY: buf is valid for buf.len() bytes; fd is open.
            let n = unsafe { libc::read(fd.0, buf.as_mut_ptr().cast(), buf.len()) };
            if n < 0 {
                let e = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
                if gone(e) {
                    break;
                }
                return None;
            }
            if n == 0 {
                break;
            }
            for &b in &buf[..n as usize] {
                if b.is_ascii_digit() {
                    word.push(b);
                } else {
                    out.extend(number(&word));
                    word.clear();
                }
            }
        }
        out.extend(number(&word));
    }
    Some(out)
}

/// Every descendant of `root` that could be found, each sent `freeze` (if any) before its
/// children are read, and whether the walk was complete (some part of the tree could not
/// be read when it was not).
fn walk(root: libc::pid_t, freeze: Option<libc::c_int>) -> (Vec<libc::pid_t>, bool) {
    // arbiter's own children outside the sandbox (an external decider) and what they start
    // are not the sandbox's: never frozen, never killed with it.
    let outside = super::supervise::outside();
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let Some(mut next) = children(root) else {
        return (out, false);
    };
    let mut complete = true;
    while let Some(pid) = next.pop() {
        if pid == root || outside.contains(&pid) || !seen.insert(pid) {
            continue;
        }
        if let Some(sig) = freeze {
            // SAFETY: kill with integer arguments only.
            unsafe { libc::kill(pid, sig) };
        }
        out.push(pid);
        match children(pid) {
            Some(c) => next.extend(c),
            None => complete = false,
        }
    }
    (out, complete)
}

/// Sends `sig` to every process of the sandbox that can be found now (with the reserve
/// descriptors freed for the walk); returns how many.
pub fn signal_all(sig: libc::c_int) -> usize {
    release();
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() };
    let (found, _) = walk(me, None);
    refill();
    for &pid in &found {
        // SAFETY: kill with integer arguments only.
        unsafe { libc::kill(pid, sig) };
    }
    found.len()
}

/// arbiter's children that belong to the sandbox (all but those outside it,
/// `supervise::exempt`), or `None` when they could not be read.
pub fn sandbox_children() -> Option<Vec<libc::pid_t>> {
    let outside = super::supervise::outside();
    release();
    // SAFETY: getpid has no preconditions.
    let found = children(unsafe { libc::getpid() });
    refill();
    found.map(|c| c.into_iter().filter(|p| !outside.contains(p)).collect())
}

/// Kills every process of the sandbox: passes of freeze (SIGSTOP), walk and SIGKILL,
/// reaping with `WNOHANG` in between, until arbiter has no child left. Never blocks in a
/// wait; returns only when `waitpid` says there is no child.
pub fn kill_all() {
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() };
    loop {
        loop {
            let mut status = 0;
            // SAFETY: status is a valid out-pointer.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG | libc::__WALL) };
            if pid < 0 {
                return; // ECHILD: nothing of the sandbox left
            }
            if pid == 0 {
                break;
            }
            super::pidns::reaped(pid);
        }
        release();
        // A failed walk is retried, never read as "nothing left"; what it did find is
        // killed meanwhile (which frees what those processes made the broker hold).
        let (found, complete) = walk(me, Some(libc::SIGSTOP));
        refill();
        if found.is_empty() && complete && !super::supervise::outside().is_empty() {
            // Only arbiter's children outside the sandbox are left: they never exit here.
            return;
        }
        for &pid in &found {
            // SAFETY: kill with integer arguments only.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        // Wait (bounded) for an exit to reap; a child still there is found again.
        pause();
    }
}

/// Waits up to [`PAUSE`] for a child to change state, without reaping it.
pub(super) fn pause() {
    // SAFETY: siginfo_t is plain old data.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let mut set = nix::sys::signal::SigSet::empty();
    set.add(nix::sys::signal::Signal::SIGCHLD);
    let timeout = libc::timespec {
        tv_sec: 0,
        tv_nsec: PAUSE.as_nanos() as libc::c_long,
    };
    // SAFETY: set, info and timeout are valid for the call.
    unsafe { libc::sigtimedwait(set.as_ref(), &mut info, &timeout) };
}

#[cfg(test)]
mod tests {
    use super::number;

    #[test]
    fn numbers_are_decimal_pids_only() {
        assert_eq!(number(b"123"), Some(123));
        assert_eq!(number(b""), None);
        assert_eq!(number(b"."), None);
        assert_eq!(number(b"0"), None);
        assert_eq!(number(b"99999999999"), None);
        assert_eq!(number(b"12a"), None);
    }

    /// The kernel's size of this process's descriptor table (`FDSize:`).
    fn fd_size() -> usize {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("FDSize:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap()
    }

    #[test]
    fn the_fixed_numbers_are_reserved_close_on_exec_in_a_widened_table() {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: lim is a valid out-pointer.
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
        if lim.rlim_cur <= arbiter_protocol::DEFAULT_BOOTSTRAP_FD as libc::rlim_t {
            eprintln!(
                "SKIP: the open-file limit {} is below the fixed numbers",
                lim.rlim_cur
            );
            return;
        }
        super::reserve_fixed_descriptors();
        assert!(fd_size() > arbiter_protocol::DEFAULT_BOOTSTRAP_FD as usize);
        for fd in [1022, 1023] {
            // SAFETY: F_GETFD with an integer argument only.
            let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
            assert_eq!(
                flags,
                libc::FD_CLOEXEC,
                "descriptor {fd} reserved close-on-exec"
            );
        }
        // Nothing this process opens next can take them.
        let f = std::fs::File::open("/dev/null").unwrap();
        assert!(std::os::fd::AsRawFd::as_raw_fd(&f) < 1022);
        // SAFETY: closing the two reservations this test made.
        unsafe {
            libc::close(1022);
            libc::close(1023);
        }
    }
}
