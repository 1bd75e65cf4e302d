//! The sandbox's pid namespace: when arbiter may create one (`CAP_SYS_ADMIN`, in practice
//! when it runs as root), every process of the sandbox lives in a new pid namespace whose
//! pid 1 is a tiny init of arbiter's own, so the kernel itself ends them all when arbiter
//! ends — even when both arbiter processes are killed with `SIGKILL` at once, which the
//! guardian and the subreaper ([`super::guardian`]) cannot survive to act on.
//!
//! * **The init** is forked by the broker at start-up, from its main thread while it is
//!   still small ([`start`]; the private `$TMPDIR`'s and the policy compiler's threads may
//!   run meanwhile: the child calls only async-signal-safe functions, never allocates or
//!   takes a lock, before it is the init), with `CLONE_NEWPID`: it is pid 1 of the
//!   new namespace. It has `PR_SET_PDEATHSIG(SIGKILL)` towards the broker's main thread
//!   (which lives as long as the broker; the death signal follows the parent *thread*), is
//!   not dumpable, holds no descriptor of arbiter's, and only reaps: the orphans of the
//!   namespace are re-parented to it. When it dies — killed with the broker, or by the end of
//!   the run ([`super::tree`]) — the kernel `SIGKILL`s every process of the namespace.
//! * **The command** is not the init's child: the broker enters the namespace for the
//!   length of the spawn (`setns` on its pid namespace *for children*) and starts the
//!   command as it always does, so it is pid 2 and the broker's child. The broker waits for
//!   it, relays signals to it and mirrors its exit status exactly as without the namespace;
//!   the command's `getppid()` is 0 (its parent is outside the namespace).
//! * **The end.** The init exits by itself once it has been armed (after the command was
//!   started, [`arm`]) and no other process is left in the namespace: it looks whenever it is
//!   woken — one of its children's exit, or a poke from the broker whenever the broker
//!   reaped a child ([`reaped`]) — so `--wait-descendants` ends when the namespace is empty.
//!   The broker's children in the namespace are the command and any `clone(CLONE_PARENT)`
//!   child of it (the command's parent is the broker): never the init's, and their exits
//!   wake no one in the namespace. The end-of-run walk ([`super::tree`]) treats the init like
//!   any other process of the sandbox, and the broker never blocks waiting for the init
//!   ([`end`]). When the command has ended and nothing but the init is left ([`alone`]),
//!   the run's records and status come first and the init is ended after them ([`end`]):
//!   its exit is off the path to arbiter's exit.
//! * **`/proc`** stays the host's: `/proc/self` names the caller as ever; a caller's own
//!   pid as it knows it (`getpid()`, ns-local), and any other pid of the sandbox, is
//!   translated by the broker ([`crate::core::procself::translate_own`], exactly once per
//!   path, with [`host_id`]).
//!
//! Unprivileged, none of this applies: the subreaper and guardian model stands alone
//! (docs/process-model.md).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::OnceLock;

/// The init of the sandbox's pid namespace, as the broker sees it.
#[derive(Debug)]
pub struct Init {
    /// The init's pid (in the broker's namespace).
    pub pid: libc::pid_t,
    /// The namespace (`/proc/<init>/ns/pid`).
    ns: OwnedFd,
    /// The broker's own pid namespace (`/proc/thread-self/ns/pid`), to leave the sandbox's.
    own: OwnedFd,
}

/// The init, once [`start`] made it.
static INIT: OnceLock<Init> = OnceLock::new();

/// The init of this process's sandbox, if [`start`] made one.
pub fn current() -> Option<&'static Init> {
    INIT.get()
}

/// Whether this process may create a pid namespace: `CAP_SYS_ADMIN` in its effective set.
pub fn permitted() -> bool {
    use crate::confine::privilege;
    privilege::has_effective(privilege::CAP_SYS_ADMIN).unwrap_or(false)
}

/// The sandbox's processes the audit log introduced (a `process` record, at
/// `--audit-level all`): their pid in the sandbox's namespace → their pid in the broker's
/// ([`note`]).
static KNOWN: std::sync::Mutex<std::collections::BTreeMap<i32, i32>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

/// Notes the process `host` (a pid in the broker's namespace, as the kernel vouched for it:
/// the caller of a brokered call) under its pid in the sandbox's namespace, so [`host_pid`] finds
/// it after it has exited. Nothing without a pid namespace.
pub fn note(host: i32) {
    let Some(inner) = inner_id(host) else {
        return;
    };
    remember(inner, host);
}

/// How many processes [`KNOWN`] holds at most (emptied when full: a later report of a
/// forgotten process that has exited is then written untranslated, marked as such).
const KNOWN_MAX: usize = 65_536;

/// Remembers that the sandbox's `inner` is `host` (see [`KNOWN`]).
fn remember(inner: i32, host: i32) {
    let mut known = KNOWN.lock().unwrap_or_else(|e| e.into_inner());
    if known.len() >= KNOWN_MAX && !known.contains_key(&inner) {
        known.clear();
    }
    known.insert(inner, host);
}

/// The pid in the broker's namespace of the sandbox's process that knows itself as `pid`
/// (what the shim reports, `getpid()`): the one running now ([`host_id`]: one `ioctl`,
/// whatever the size of the sandbox), which is then remembered, else the last one
/// remembered under it (it has exited; reports are drained after the fact). `None` without
/// a pid namespace (the pids are the same) or when no process is known by it: a fork child
/// that made only in-process calls and exited before the broker saw one of its reports.
/// The live process wins over a remembered one, so a namespace pid reused after a wrap
/// (`pid_max`) names its new process.
pub fn host_pid(pid: i32) -> Option<i32> {
    INIT.get()?;
    if let Some(host) = host_id(pid) {
        remember(pid, host);
        return Some(host);
    }
    KNOWN
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&pid)
        .copied()
}

/// `ioctl(NS_GET_PID_FROM_PIDNS)` on a pid namespace (linux/nsfs.h, Linux 6.11): the id in
/// the caller's namespace of the process or thread the namespace knows by the argument.
const NS_GET_PID_FROM_PIDNS: libc::c_ulong = 0x8004_b706;
/// `ioctl(NS_GET_PID_IN_PIDNS)`: the id in the namespace of the process or thread the
/// caller's namespace knows by the argument.
const NS_GET_PID_IN_PIDNS: libc::c_ulong = 0x8004_b708;

/// Translates `id` across the sandbox's namespace boundary with `request` (one of the two
/// `NS_GET_PID_*` ioctls): `None` without a pid namespace, for an id that is not positive, or
/// when no process or thread has it (`ESRCH`).
fn translate(request: libc::c_ulong, id: i32) -> Option<i32> {
    let init = INIT.get()?;
    if id <= 0 {
        return None;
    }
    // SAFETY: an ioctl on a namespace descriptor we own, whose argument is a plain integer
    // (no memory is passed); the result is checked.
    let r = unsafe { libc::ioctl(init.ns.as_raw_fd(), request, id as libc::c_ulong) };
    (r > 0).then_some(r)
}

/// The id in the broker's pid namespace of the process or thread the sandbox's namespace
/// knows as `n` (`getpid()`, `gettid()`, `$$`, a child's pid): one `ioctl` on the namespace,
/// asked of the kernel, so its cost does not depend on the number of processes or threads
/// in the sandbox. `None` without a pid namespace or when no process or thread of the
/// sandbox is `n` now.
pub fn host_id(n: i32) -> Option<i32> {
    translate(NS_GET_PID_FROM_PIDNS, n)
}

/// The id in the sandbox's pid namespace of the process or thread the broker knows as
/// `host`. `None` without a pid namespace, or when `host` is not in the sandbox's namespace
/// (or gone).
pub fn inner_id(host: i32) -> Option<i32> {
    translate(NS_GET_PID_IN_PIDNS, host)
}

/// The signal that arms and pokes the init.
const POKE: libc::c_int = libc::SIGUSR1;

fn open_ns(path: &std::ffi::CStr) -> std::io::Result<OwnedFd> {
    // SAFETY: a NUL-terminated path; the result is checked.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is a new descriptor owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Forks the init in a new pid namespace when [`permitted`]; `Ok(false)` when not (the
/// unprivileged model), `Ok(true)` when the namespace is in use. Call from the main thread
/// (the init's death signal follows it), after [`super::supervise::prepare`] (the init
/// inherits the blocked signals it waits for). Other threads may run: the child calls only
/// async-signal-safe functions (it never allocates nor takes a lock another thread may
/// have held at the fork).
pub fn start() -> std::io::Result<bool> {
    if !permitted() || INIT.get().is_some() {
        return Ok(false);
    }
    let own = open_ns(c"/proc/thread-self/ns/pid")?;
    // The broker translates the sandbox's pids with the nsfs ioctls (Linux 6.11): without
    // them no namespace is made (the unprivileged model), rather than leave `/proc/<getpid()>`
    // naming the host's process of that number.
    let me = std::process::id() as libc::c_ulong;
    // SAFETY: an ioctl on a namespace descriptor we own whose argument is a plain integer.
    if unsafe { libc::ioctl(own.as_raw_fd(), NS_GET_PID_IN_PIDNS, me) } as libc::c_ulong != me {
        return Ok(false);
    }
    let mut fds = [0; 2];
    // SAFETY: fds is a valid array of two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: pipe2 made both descriptors; each is owned once.
    let (alive_r, alive_w) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // The poke is blocked before the fork so the init never misses one (a pid namespace's
    // init drops the signals it neither blocks nor handles).
    // SAFETY: sigset_t is plain old data, initialised by sigemptyset.
    let mut poke: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: poke is a valid sigset; the mask is this thread's, which the child inherits.
    unsafe {
        libc::sigemptyset(&mut poke);
        libc::sigaddset(&mut poke, POKE);
        libc::pthread_sigmask(libc::SIG_BLOCK, &poke, std::ptr::null_mut());
    }
    // SAFETY: a fork (no stack given: the child continues on a copy of this one) into a new
    // pid namespace; the child only closes a descriptor and runs `init`, which calls
    // async-signal-safe functions alone (documented precondition: other threads may have
    // held the allocator's or any other lock at the fork).
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (libc::CLONE_NEWPID | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    } as libc::pid_t;
    if pid == 0 {
        drop(alive_w);
        init(alive_r);
    }
    let forked = std::io::Error::last_os_error();
    // SAFETY: as above; the broker itself never waits for the poke.
    unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &poke, std::ptr::null_mut()) };
    if pid < 0 {
        return match forked.raw_os_error() {
            // Not permitted after all (a seccomp filter or LSM of our own caller's): the
            // unprivileged model.
            Some(libc::EPERM | libc::EINVAL | libc::ENOSPC | libc::EUSERS) => Ok(false),
            _ => Err(forked),
        };
    }
    drop(alive_r);
    // The write end stays open in the broker for its whole life: the init sees the broker
    // gone (end of file) if it died before the death signal was armed. Deliberately leaked.
    std::mem::forget(alive_w);
    let ns = match open_ns(&std::ffi::CString::new(format!("/proc/{pid}/ns/pid")).expect("no NUL"))
    {
        Ok(ns) => ns,
        Err(e) => {
            // SAFETY: kill and waitpid on our own unreaped child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            }
            return Err(e);
        }
    };
    let _ = INIT.set(Init { pid, ns, own });
    Ok(true)
}

impl Init {
    /// Runs `spawn` with this thread's new children placed in the sandbox's pid namespace,
    /// then leaves it again (only the calling thread is affected). The namespace cannot be
    /// entered (the init is gone): the error, and nothing is spawned.
    pub fn inside<R>(&self, spawn: impl FnOnce() -> std::io::Result<R>) -> std::io::Result<R> {
        // SAFETY: setns on a namespace descriptor we own; it changes only the namespace
        // this thread's future children are created in.
        if unsafe { libc::setns(self.ns.as_raw_fd(), libc::CLONE_NEWPID) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let r = spawn();
        // SAFETY: as above, back to the broker's own namespace (its active one, always
        // permitted).
        if unsafe { libc::setns(self.own.as_raw_fd(), libc::CLONE_NEWPID) } < 0 {
            // A later child of this thread would land in the sandbox's namespace: never
            // go on like that.
            let e = std::io::Error::last_os_error();
            eprintln!("arbiter: cannot leave the sandbox's pid namespace: {e}");
            std::process::abort();
        }
        r
    }
}

/// Arms the init: from now on it exits once it is alone in its namespace. Call once the
/// command is started (or failed to start).
pub fn arm() {
    poke();
}

/// Set once the broker reaped the init ([`reaped`]): its pid is no longer ours to signal.
static REAPED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// At the end of a run, once the broker reaped the command: whether nothing but the init is
/// left in the namespace, so the sandbox has ended — no walk of the tree, no grace to wait
/// out. `false` (the caller ends the tree the usual way) when there is no namespace, something
/// is left, or a children list cannot be read. The init itself is left running: [`end`] kills
/// and reaps it once the run's records are written and its status reported (it is arbiter's
/// own process, and nothing else can enter the namespace: only a process already in it could
/// fork into it, and the init never forks).
///
/// The namespace's other processes are the init's descendants (an orphan is re-parented to
/// the init) and the broker's children in it: the command, and any process the command made
/// with `clone(CLONE_PARENT)`, whose parent is the command's — the broker — and which the
/// init never sees (finding 06). So "alone" is: the init has no child, and the broker has no
/// child of the sandbox but the init. The init's list is read first: a child of the broker's
/// that forks and exits in between is then still listed by the broker (a zombie is a child
/// until reaped, and only this thread reaps).
pub fn alone() -> bool {
    use std::sync::atomic::Ordering;
    let Some(init) = INIT.get() else {
        return false;
    };
    if REAPED.load(Ordering::Acquire) {
        return false;
    }
    let pid = init.pid;
    match std::fs::read(format!("/proc/{pid}/task/{pid}/children")) {
        Ok(list) if list.iter().all(u8::is_ascii_whitespace) => {}
        _ => return false,
    }
    matches!(
        super::tree::sandbox_children(),
        Some(children) if children.iter().all(|&c| c == pid)
    )
}

/// Ends the namespace at the end of a run: the init is `SIGKILL`ed (the kernel then kills
/// whatever is left in the namespace; after [`alone`], nothing is) and reaped. Call after
/// the run's records are written and its status reported, before the broker exits; nothing
/// without a namespace or once the init was reaped.
///
/// The wait for the init never blocks: a dying init waits in the kernel until every process
/// of its namespace is reaped, and the broker's own children there can only be reaped by the
/// broker, so the init is reaped with every other child that exits meanwhile
/// ([`reap_until_init`]).
pub fn end() {
    use std::sync::atomic::Ordering;
    let Some(init) = INIT.get() else {
        return;
    };
    if REAPED.load(Ordering::Acquire) {
        return;
    }
    // SAFETY: kill with integer arguments on our own unreaped child.
    unsafe { libc::kill(init.pid, libc::SIGKILL) };
    reap_until_init(init.pid);
}

/// Reaps every child of the broker's that exits (`WNOHANG | __WALL`, each wait bounded by
/// [`super::tree::pause`]) until the init `pid` is reaped (or the broker has no child left).
fn reap_until_init(pid: libc::pid_t) {
    loop {
        let mut status = 0;
        // SAFETY: status is a valid out-pointer.
        let got = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG | libc::__WALL) };
        if got > 0 {
            reaped(got);
            if got == pid {
                return;
            }
            continue;
        }
        // SAFETY: reads this thread's errno.
        if got < 0 && unsafe { *libc::__errno_location() } != libc::EINTR {
            // ECHILD: no child left at all (the init cannot be among them).
            REAPED.store(true, std::sync::atomic::Ordering::Release);
            return;
        }
        super::tree::pause();
    }
}

/// Tells the namespace that the broker reaped its child `pid`: the init itself is marked
/// reaped (never signalled again: its pid may be reused); for any other child the init is
/// poked ([`poke`]) — the command, or a `clone(CLONE_PARENT)` child of it, is the broker's
/// child, and its exit wakes no one in the namespace, so without the poke an init left alone
/// would never look (finding 07, `--wait-descendants` never ending). Call for every child
/// the broker reaps; nothing without a namespace.
pub fn reaped(pid: libc::pid_t) {
    let Some(init) = INIT.get() else {
        return;
    };
    if pid == init.pid {
        REAPED.store(true, std::sync::atomic::Ordering::Release);
    } else {
        poke();
    }
}

/// [`reaped`] without the poke: for the broker's reaps at the end of a run that does not
/// wait for the init to find itself alone ([`alone`] and [`end`], or the end-of-run walk,
/// which signals the init too, follow). Only marks the init reaped when `pid` is it.
pub fn reaped_quietly(pid: libc::pid_t) {
    if INIT.get().is_some_and(|init| init.pid == pid) {
        REAPED.store(true, std::sync::atomic::Ordering::Release);
    }
}

/// Asks the init to look whether it is alone (the broker reaped one of its children).
pub fn poke() {
    if REAPED.load(std::sync::atomic::Ordering::Acquire) {
        return;
    }
    if let Some(init) = INIT.get() {
        // SAFETY: kill with integer arguments; the init is our child until we reap it, and a
        // reaped init is never poked (the namespace is then gone and `INIT` stale only
        // while the broker exits).
        unsafe { libc::kill(init.pid, POKE) };
    }
}

/// The init's life: pid 1 of the sandbox's namespace. Never returns.
fn init(alive: OwnedFd) -> ! {
    // SAFETY: prctl, open, dup2, close_range, poll, sigwaitinfo, waitpid, kill and _exit
    // with integer arguments and local buffers only.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        libc::prctl(libc::PR_SET_DUMPABLE, 0);
        // The broker may have died before the death signal was armed: then its end of the
        // pipe is closed.
        let mut p = libc::pollfd {
            fd: alive.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        if libc::poll(&mut p, 1, 0) != 0 {
            libc::_exit(0);
        }
        // Hold nothing of arbiter's: no terminal, no pipe a reader waits on, no socket.
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null >= 0 {
            for fd in 0..3 {
                libc::dup2(null, fd);
            }
        }
        libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in [
            libc::SIGCHLD,
            POKE,
            libc::SIGINT,
            libc::SIGTERM,
            libc::SIGHUP,
            libc::SIGQUIT,
        ] {
            libc::sigaddset(&mut set, s);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        let mut armed = false;
        loop {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            let sig = libc::sigwaitinfo(&set, &mut info);
            if sig == POKE {
                armed = true;
            }
            while libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) > 0 {}
            // kill(-1) reaches every process of this namespace but the init itself; ESRCH:
            // none is left.
            if armed && libc::kill(-1, 0) < 0 && *libc::__errno_location() == libc::ESRCH {
                libc::_exit(0);
            }
        }
    }
}
