//! Opens that wait for a peer: a FIFO opened for reading waits in the kernel for a writer,
//! for writing for a reader. Such a wait must not pin a broker thread: in the seccomp
//! transport, whose threads are a shared pool, a program opening many FIFOs with no peer
//! would stall every other call of its sandbox; in either transport a caller that went
//! away would never free its thread (nor the descriptors the open holds).
//!
//! The transport says, for the call a thread is serving, how to tell whether the caller
//! still waits, what to do while the thread is blocked, and which sandbox's budget of slow
//! calls the wait counts against ([`Waiter`], set with [`serving`]). With a waiter set, the
//! core opens a FIFO without blocking first ([`open_at`]): a regular file, a device, a FIFO
//! opened for writing with a reader present are then done at once (`O_NONBLOCK` is cleared
//! again before the fd is handed over). Only a FIFO that must wait is re-opened blocking,
//! through its own fd (`/proc/self/fd/N`: the object decided on, never the name again),
//! while the transport lets another thread take its place ([`Waiter::blocking`]). A timer
//! interrupts that open every [`TICK`] (a signal of arbiter's own, with no `SA_RESTART`,
//! unblocked only around the open), so the thread notices a caller that stopped waiting
//! (the seccomp transport: `SECCOMP_IOCTL_NOTIF_ID_VALID`; the shim transport: the channel
//! hung up or the caller's pidfd is readable) and gives up with `EINTR`.
//!
//! A waiting open is a slow call of its sandbox ([`crate::core::slow`]) holding four
//! descriptors ([`WAIT_FDS`]): beyond the sandbox's budget, or the broker's, the open
//! fails with `ENFILE`.
//!
//! Without a waiter (the broker's own opens) an open blocks as it always did.

use std::cell::RefCell;
use std::ffi::CStr;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::Once;
use std::time::Duration;

use crate::core::errno::Errno;
use crate::core::resolve::openat_raw;
use crate::core::slow::Budget;

/// How often a waiting open checks that its caller still waits.
pub const TICK: Duration = Duration::from_millis(250);

/// Descriptors a waiting open holds at most at once: the two directories its name was
/// resolved through (the base and the parent, pinned by the caller until the open ends),
/// the FIFO's own fd (the non-blocking reader, or the writer's `O_PATH` object) and, once
/// the peer comes, the blocking re-open (red-team finding 04 of the second round: it was
/// counted as two).
const WAIT_FDS: usize = 4;

/// What a transport tells the core about the caller of the call being served.
pub trait Waiter {
    /// Whether the caller still waits for this call's answer.
    fn still_waiting(&self) -> bool;
    /// The budget of slow calls of the caller's sandbox.
    fn budget(&self) -> &Budget;
    /// The thread is about to block for the caller (until [`Waiter::unblocked`]): the
    /// transport may let another thread take its place.
    fn blocking(&self);
    /// The wait announced by [`Waiter::blocking`] is over.
    fn unblocked(&self);
}

thread_local! {
    static WAITER: RefCell<Option<Box<dyn Waiter>>> = const { RefCell::new(None) };
}

/// Runs `f` with `waiter` as the calling thread's waiter (see the module's documentation).
pub fn serving<R>(waiter: Box<dyn Waiter>, f: impl FnOnce() -> R) -> R {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            WAITER.with(|w| w.borrow_mut().take());
        }
    }
    WAITER.with(|w| *w.borrow_mut() = Some(waiter));
    let _reset = Reset;
    f()
}

fn has_waiter() -> bool {
    WAITER.with(|w| w.borrow().is_some())
}

/// `openat(dir, name, flags, mode)` for the request core, where `flags` carry
/// `O_NOFOLLOW`: with a waiter set and an open that could wait on a FIFO (no `O_NONBLOCK`,
/// no `O_PATH`, not `O_RDWR`, which never waits), it waits without pinning the thread (see
/// the module's documentation); otherwise it is the plain call.
pub fn open_at(dir: RawFd, name: &CStr, flags: i32, mode: u32) -> Result<OwnedFd, Errno> {
    let acc = flags & libc::O_ACCMODE;
    if flags & (libc::O_NONBLOCK | libc::O_PATH) != 0 || acc == libc::O_RDWR || !has_waiter() {
        return openat_raw(dir, name, flags, mode);
    }
    let fd = match openat_raw(dir, name, flags | libc::O_NONBLOCK, mode) {
        Ok(fd) => fd,
        // A writer's FIFO without a reader (or a socket or a device without a driver, which
        // answer ENXIO anyway): look at the object itself.
        Err(Errno(libc::ENXIO)) if acc == libc::O_WRONLY => {
            let obj = openat_raw(
                dir,
                name,
                libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                0,
            )?;
            if !is_fifo(&obj) {
                return Err(Errno(libc::ENXIO));
            }
            return wait_for_peer(&obj, flags);
        }
        // A file someone holds a lease on: the plain open waits for the lease break, as
        // the kernel makes every opener wait.
        Err(Errno(libc::EWOULDBLOCK)) => return openat_raw(dir, name, flags, mode),
        Err(e) => return Err(e),
    };
    if acc == libc::O_RDONLY && is_fifo(&fd) {
        // A reader of a FIFO waits for a writer; holding `fd` (a reader) meanwhile changes
        // nothing for a writer, which would have found the caller's reader waiting anyway.
        return wait_for_peer(&fd, flags);
    }
    // F_SETFL sets the status flags it can change (O_APPEND, O_DIRECT, O_NOATIME,
    // O_NONBLOCK) from `flags`, as the open just set them, with O_NONBLOCK cleared: no
    // F_GETFL needed (a syscall saved on every open of a transport with a waiter).
    // SAFETY: fcntl on an fd we own, integer arguments only.
    if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return Err(Errno::last());
    }
    Ok(fd)
}

fn is_fifo(fd: &OwnedFd) -> bool {
    // SAFETY: stat is plain old data, filled by fstat.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fd is open; st is a valid out-pointer.
    unsafe {
        libc::fstat(fd.as_raw_fd(), &mut st) == 0 && st.st_mode & libc::S_IFMT == libc::S_IFIFO
    }
}

/// The signal that interrupts a waiting open (arbiter's own; blocked outside the open).
fn tick_signal() -> libc::c_int {
    libc::SIGRTMIN() + 1
}

extern "C" fn on_tick(_: libc::c_int) {}

/// Installs the tick's handler once: no `SA_RESTART`, so the open returns `EINTR`.
fn install_handler() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: sigaction is plain old data; zeroed is a valid empty value.
        let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
        sa.sa_sigaction = on_tick as extern "C" fn(libc::c_int) as usize;
        // SAFETY: sa is a valid sigaction; sa_mask is initialised by sigemptyset.
        unsafe {
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(tick_signal(), &sa, std::ptr::null_mut());
        }
    });
}

/// The tick's signal as a set.
fn tick_set() -> libc::sigset_t {
    // SAFETY: sigset_t is plain old data, initialised by sigemptyset.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, tick_signal());
        set
    }
}

/// A timer sending the tick's signal to the calling thread every [`TICK`].
struct Ticker(libc::timer_t);

impl Ticker {
    fn start() -> Result<Ticker, Errno> {
        // SAFETY: sigevent is plain old data; zeroed is a valid empty value.
        let mut sev: libc::sigevent = unsafe { std::mem::zeroed() };
        sev.sigev_notify = libc::SIGEV_THREAD_ID;
        sev.sigev_signo = tick_signal();
        // SAFETY: gettid has no preconditions.
        sev.sigev_notify_thread_id = unsafe { libc::gettid() };
        let mut id: libc::timer_t = std::ptr::null_mut();
        // SAFETY: sev and id are valid for the call.
        if unsafe { libc::timer_create(libc::CLOCK_MONOTONIC, &mut sev, &mut id) } < 0 {
            return Err(Errno::last());
        }
        let tick = libc::timespec {
            tv_sec: 0,
            tv_nsec: TICK.as_nanos() as libc::c_long,
        };
        let spec = libc::itimerspec {
            it_interval: tick,
            it_value: tick,
        };
        let ticker = Ticker(id);
        // SAFETY: id names the timer just created; spec is valid.
        if unsafe { libc::timer_settime(id, 0, &spec, std::ptr::null_mut()) } < 0 {
            return Err(Errno::last());
        }
        Ok(ticker)
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        // SAFETY: self.0 names a timer this thread created and nobody else deletes.
        unsafe { libc::timer_delete(self.0) };
        // A tick may still be pending (blocked): take it, so it never interrupts another
        // call of this thread.
        let set = tick_set();
        let zero = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        loop {
            // SAFETY: siginfo_t is plain old data.
            let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
            // SAFETY: set, info and zero are valid for the call.
            if unsafe { libc::sigtimedwait(&set, &mut info, &zero) } < 0 {
                break;
            }
        }
    }
}

/// Counts one waiting open against its sandbox's budget for as long as it lives, and tells
/// the waiter.
struct Counted;

impl Counted {
    fn enter() -> Result<Counted, Errno> {
        WAITER.with(|w| match w.borrow().as_ref() {
            Some(w) if w.budget().enter(WAIT_FDS) => {
                w.blocking();
                Ok(Counted)
            }
            _ => Err(Errno(libc::ENFILE)),
        })
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        WAITER.with(|w| {
            if let Some(w) = w.borrow().as_ref() {
                w.unblocked();
                w.budget().leave(WAIT_FDS);
            }
        });
    }
}

/// Whether this thread serves a call whose transport set a waiter (it can tell whether
/// the caller went away).
pub fn watched() -> bool {
    has_waiter()
}

/// Whether the waiter of this thread's call says its caller went away.
pub fn caller_gone() -> bool {
    WAITER.with(|w| w.borrow().as_ref().is_some_and(|w| !w.still_waiting()))
}

/// Runs `op`, one blocking system call, with the tick unblocked: a wait in it is
/// interrupted (`EINTR`) every [`TICK`], so the caller can ask whether it should go on.
pub fn ticking<T>(op: impl FnOnce() -> T) -> Result<T, Errno> {
    install_handler();
    let set = tick_set();
    // SAFETY: set is a valid sigset; this only changes the calling thread's mask.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    let _ticker = Ticker::start()?;
    // SAFETY: as above; the tick may interrupt only `op`.
    unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) };
    let r = op();
    // SAFETY: as above.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    Ok(r)
}

fn still_waiting() -> bool {
    WAITER.with(|w| w.borrow().as_ref().is_none_or(|w| w.still_waiting()))
}

/// Re-opens the FIFO `obj` with `flags` (blocking), giving up with `EINTR` when the caller
/// no longer waits.
fn wait_for_peer(obj: &OwnedFd, flags: i32) -> Result<OwnedFd, Errno> {
    let keep = libc::O_ACCMODE | libc::O_APPEND | libc::O_NOCTTY | libc::O_CLOEXEC;
    let path = std::ffi::CString::new(format!("/proc/self/fd/{}", obj.as_raw_fd()))
        .map_err(|_| Errno(libc::EINVAL))?;
    let _counted = Counted::enter()?;
    install_handler();
    let set = tick_set();
    // SAFETY: set is a valid sigset; this only changes the calling thread's mask.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    let _ticker = Ticker::start()?;
    loop {
        // SAFETY: as above; the tick may interrupt only this open.
        unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) };
        let opened = openat_raw(libc::AT_FDCWD, &path, (flags & keep) | libc::O_CLOEXEC, 0);
        // SAFETY: as above.
        unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
        match opened {
            Err(Errno(libc::EINTR)) if still_waiting() => continue,
            other => return other,
        }
    }
}
