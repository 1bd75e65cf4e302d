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

use std::cell::RefCell;
use std::collections::HashSet;
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

/// The threads serving one sandbox.
#[derive(Debug, Default)]
pub struct SandboxThreads {
    tids: Mutex<HashSet<libc::pid_t>>,
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

impl SandboxThreads {
    /// Registers the calling thread until it exits.
    pub fn enter(self: &Arc<Self>) {
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::gettid() };
        self.tids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(tid);
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
        for &tid in tids.iter() {
            // SAFETY: integer arguments; the tid is a live thread of this process (above).
            unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, WAKE) };
        }
        tids.len()
    }
}
