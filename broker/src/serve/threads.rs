//! The daemon's threads serving one sandbox, so that the sandbox's end can interrupt those
//! still blocked in a system call on its behalf.
//!
//! A call channel or seccomp worker can block in the kernel for as long as the object it
//! acts on wants: opening a FIFO that nobody opens for writing waits for a writer. Under
//! `arbiter run` the broker exits with the sandbox; the daemon does not, so a client killed
//! mid-call would leave a thread (and the channel it counts against the uid's limit) behind
//! for good. Every thread that serves a sandbox registers itself (its first act, in the
//! channel setup) and is unregistered by a thread-local destructor when it exits; when the
//! sandbox ends, the daemon sends each one still registered [`WAKE`], whose handler does
//! nothing and is installed without `SA_RESTART`, so the blocked call fails with `EINTR`,
//! the answer goes nowhere (its caller is gone) and the thread ends.
//!
//! Nothing is served for a sandbox once it has ended ([`SandboxThreads::end`]): the flag
//! [`sandbox_ended`] is set first, so a seccomp worker woken with `EINTR` returns instead of
//! polling again (the last one out closes the listener: calls trapped after that fail), and
//! every call channel a thread registered ([`attach_channel`]) is shut down, so its thread
//! reads end of stream and ends even though `recvmsg` retries on `EINTR`. Each channel
//! also names, through `SO_PEERPIDFD`, the process that made it (the shim makes the pair in
//! the registering process): the daemon keeps that pidfd and SIGKILLs every such process
//! still alive when the sandbox ends ([`SandboxThreads::kill_seen`]), found without the
//! bootstrap socket a process can close.

use std::cell::RefCell;
use std::collections::HashMap;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// The signal that interrupts a thread blocked on behalf of an ended sandbox.
pub const WAKE: libc::c_int = libc::SIGUSR2;

extern "C" fn wake(_: libc::c_int) {}

/// Installs [`WAKE`]'s handler (a no-op, without `SA_RESTART`). Call once at start.
pub fn install_handler() -> std::io::Result<()> {
    // SAFETY: sigaction is plain old data; zeroed is a valid empty value.
    let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
    sa.sa_sigaction = wake as extern "C" fn(libc::c_int) as usize;
    sa.sa_flags = 0; // no SA_RESTART: the interrupted call returns EINTR
                     // SAFETY: sa is a valid sigaction; sa_mask is initialised by sigemptyset.
    let rc = unsafe {
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(WAKE, &sa, std::ptr::null_mut())
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// `SO_PEERPIDFD` (Linux 6.5).
const SO_PEERPIDFD: libc::c_int = 77;
/// At most this many processes' pidfds are kept per sandbox (exited ones are dropped
/// first); beyond it a process is still served but not killed by [`SandboxThreads::kill_seen`].
const MAX_SEEN: usize = 4096;

/// The threads serving one sandbox.
#[derive(Debug, Default)]
pub struct SandboxThreads {
    /// Each registered thread, with a duplicate of the call channel it serves (if any).
    tids: Mutex<HashMap<libc::pid_t, Option<OwnedFd>>>,
    /// Set once the sandbox has ended.
    ended: AtomicBool,
    /// A pidfd of each process that registered a call channel.
    seen: Mutex<Vec<OwnedFd>>,
}

struct Registration {
    set: Arc<SandboxThreads>,
    tid: libc::pid_t,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut tids = self.set.tids.lock().unwrap_or_else(|p| p.into_inner());
        tids.remove(&self.tid);
    }
}

thread_local! {
    static REGISTERED: RefCell<Option<Registration>> = const { RefCell::new(None) };
}

/// Whether the sandbox the calling thread serves has ended (false for a thread serving
/// none): a thread woken with `EINTR` then stops instead of waiting again.
pub fn sandbox_ended() -> bool {
    REGISTERED
        .try_with(|r| {
            r.borrow()
                .as_ref()
                .is_some_and(|reg| reg.set.ended.load(Ordering::Acquire))
        })
        .unwrap_or(false)
}

/// Records that the calling thread serves call channel `fd`, so the sandbox's end shuts it
/// down, and keeps a pidfd of the process that made the channel (`SO_PEERPIDFD`). Does
/// nothing in a thread that serves no daemon sandbox (`arbiter run`).
pub fn attach_channel(fd: BorrowedFd<'_>) {
    let _ = REGISTERED.try_with(|r| {
        let r = r.borrow();
        let Some(reg) = r.as_ref() else { return };
        // SAFETY: fcntl duplicates an open fd; the new fd is owned below.
        let dup = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
        if dup >= 0 {
            // SAFETY: a new fd nobody else owns.
            let dup = unsafe { OwnedFd::from_raw_fd(dup) };
            let mut tids = reg.set.tids.lock().unwrap_or_else(|p| p.into_inner());
            if reg.set.ended.load(Ordering::Acquire) {
                let _ =
                    nix::sys::socket::shutdown(dup.as_raw_fd(), nix::sys::socket::Shutdown::Both);
            }
            tids.insert(reg.tid, Some(dup));
        }
        if let Some(pidfd) = peer_pidfd(fd) {
            let mut seen = reg.set.seen.lock().unwrap_or_else(|p| p.into_inner());
            if seen.len() >= MAX_SEEN {
                seen.retain(|p| !exited(p));
            }
            if seen.len() < MAX_SEEN {
                seen.push(pidfd);
            }
        }
    });
}

/// The pidfd of the process that made the socket pair `fd` belongs to.
fn peer_pidfd(fd: BorrowedFd<'_>) -> Option<OwnedFd> {
    let mut pidfd: libc::c_int = -1;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: pidfd and len are valid for getsockopt's int result.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            SO_PEERPIDFD,
            (&mut pidfd as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    // SAFETY: on success the kernel installed a new pidfd that nobody else owns.
    (rc == 0 && pidfd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(pidfd) })
}

/// Whether the process of `pidfd` has exited (its pidfd polls readable).
fn exited(pidfd: &OwnedFd) -> bool {
    let mut pfd = libc::pollfd {
        fd: pidfd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: pfd is one valid pollfd; timeout 0.
    unsafe { libc::poll(&mut pfd, 1, 0) > 0 }
}

impl SandboxThreads {
    /// Ends the sandbox for its threads: [`sandbox_ended`] is true from now on, and every
    /// call channel a thread serves is shut down (its thread reads end of stream). Call
    /// [`SandboxThreads::interrupt_all`] afterwards for threads blocked elsewhere.
    pub fn end(&self) {
        let tids = self.tids.lock().unwrap_or_else(|p| p.into_inner());
        self.ended.store(true, Ordering::Release);
        for fd in tids.values().flatten() {
            let _ = nix::sys::socket::shutdown(fd.as_raw_fd(), nix::sys::socket::Shutdown::Both);
        }
    }

    /// SIGKILLs every process that registered a call channel and is still alive (through
    /// its pidfd: never another process that took its pid); returns how many.
    pub fn kill_seen(&self) -> usize {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let mut killed = 0;
        for pidfd in seen.iter().filter(|p| !exited(p)) {
            // SAFETY: pidfd is an open pidfd; the other arguments are plain integers.
            let rc = unsafe {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    pidfd.as_raw_fd(),
                    libc::SIGKILL,
                    std::ptr::null::<libc::siginfo_t>(),
                    0,
                )
            };
            if rc == 0 {
                killed += 1;
            }
        }
        killed
    }

    /// Registers the calling thread until it exits.
    pub fn enter(self: &Arc<Self>) {
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::gettid() };
        self.tids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(tid, None);
        let reg = Registration {
            set: Arc::clone(self),
            tid,
        };
        let _ = REGISTERED.try_with(|r| *r.borrow_mut() = Some(reg));
    }

    /// Sends [`WAKE`] to every thread still registered; returns how many there were.
    /// The lock is held meanwhile, so no thread can finish unregistering (and its tid be
    /// reused) between the look-up and the signal.
    pub fn interrupt_all(&self) -> usize {
        let tids = self.tids.lock().unwrap_or_else(|p| p.into_inner());
        // SAFETY: getpid has no preconditions.
        let pid = unsafe { libc::getpid() };
        for &tid in tids.keys() {
            // SAFETY: integer arguments; the tid is a live thread of this process (above).
            unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, WAKE) };
        }
        tids.len()
    }
}
