//! The guardian: the process the user started, which outlives the broker only to clean up.
//!
//! `arbiter run` forks once, before it starts any thread or loads the policy (so the copy
//! is small). The parent — the pid the user's shell knows, the one a `kill -9` is aimed at —
//! becomes the guardian; the child goes on as the broker and starts the command. Both stay
//! outside the sandbox's Landlock domain, so the sandbox cannot signal either (Landlock
//! ABI ≥ 6 scopes signals).
//!
//! * The broker is a child subreaper: every process of the sandbox, a double-forked daemon
//!   included, stays its descendant ([`super::supervise`]).
//! * The broker has `PR_SET_PDEATHSIG(SIGTERM)` towards the guardian: when the guardian dies
//!   (a `kill -9` of arbiter's pid), the broker is told, sees that its parent changed, and
//!   SIGKILLs every process of the sandbox before it exits.
//! * The guardian is a child subreaper too: if the broker dies instead (killed, or a
//!   crash), the sandbox's processes are re-parented to the guardian, which SIGKILLs them
//!   all and exits with status 125.
//! * Signals sent to the guardian by a process (`kill`, not the terminal: a terminal's
//!   signals reach the whole foreground process group, broker and command included) are
//!   relayed to the broker, which relays them on to what is alive ([`super::supervise`]).
//!   The guardian exits with the broker's status, which mirrors the command's.
//! * At the end of a run the broker reports its status on a pipe ([`report`]) once the
//!   sandbox has ended and every record is written, and wakes the guardian: the guardian
//!   exits with that status at once, while the kernel still tears the broker down (its
//!   threads, its memory). A broker that dies without reporting is waited for as before.
//!
//! Unprivileged, only SIGKILL of both processes at once (`pkill -9 arbiter`) leaves the
//! sandbox's re-parented processes alive, without a broker (docs/security.md); as root the
//! sandbox is also a pid namespace whose init dies with the broker ([`super::pidns`]), and
//! the kernel ends it then.

use std::sync::atomic::{AtomicI32, Ordering};

use nix::sys::signal::SigSet;

use super::supervise::{self, HANDLED};

/// The guardian's pid, seen from the broker (0 when there is none).
static GUARDIAN: AtomicI32 = AtomicI32::new(0);

/// The broker's end of the status pipe ([`report`]); -1 when there is none.
static STATUS: AtomicI32 = AtomicI32::new(-1);

/// Forks the guardian. Returns in the child (the broker, which goes on to run the
/// command); the parent never returns: it waits for the broker and exits with its status.
/// Call after [`supervise::prepare`] (the handled signals are blocked and the process is a
/// subreaper, which both inherit) and before any thread starts.
pub fn fork() -> std::io::Result<()> {
    // SAFETY: getpid has no preconditions.
    let guardian = unsafe { libc::getpid() };
    let mut status = [0; 2];
    // SAFETY: status is a valid array of two ints. Non-blocking: the guardian only reads
    // it once woken, and the broker writes one byte.
    if unsafe { libc::pipe2(status.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: arbiter has a single thread here (documented precondition), so the child may
    // go on running arbitrary code.
    let broker = unsafe { libc::fork() };
    if broker < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if broker > 0 {
        // SAFETY: the write end is the broker's; this process never uses it.
        unsafe { libc::close(status[1]) };
        guard(broker, status[0]);
    }
    // SAFETY: the read end is the guardian's.
    unsafe { libc::close(status[0]) };
    STATUS.store(status[1], Ordering::Release);
    // fork does not pass on the subreaper attribute: the broker sets its own.
    // SAFETY: prctl with integer arguments only.
    let armed = unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == 0
            && libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) == 0
    };
    if !armed {
        return Err(std::io::Error::last_os_error());
    }
    GUARDIAN.store(guardian, Ordering::Release);
    // The guardian may have died before the death signal was armed.
    if guardian_gone() {
        // SAFETY: _exit ends this process at once; nothing of the sandbox exists yet.
        unsafe { libc::_exit(i32::from(crate::exit_code::FAILED)) };
    }
    Ok(())
}

/// Tells the guardian the run's exit status and wakes it: it exits with `status` at once.
/// Call when the sandbox has ended and every record is written (nothing of the run may
/// happen after it but this process's own exit). Once; without a guardian, nothing.
pub fn report(status: u8) {
    let fd = STATUS.swap(-1, Ordering::AcqRel);
    if fd < 0 || guardian_gone() {
        return;
    }
    let guardian = GUARDIAN.load(Ordering::Acquire);
    // SAFETY: one byte from a valid buffer to our own pipe; then a signal the guardian
    // waits for (it relays none of its SIGCHLDs); the pipe end is ours to close.
    let sent = unsafe {
        let sent = libc::write(fd, std::ptr::from_ref(&status).cast(), 1) == 1
            && libc::kill(guardian, libc::SIGCHLD) == 0;
        libc::close(fd);
        sent
    };
    if sent {
        // The guardian, woken, is all the user waits for; what this process still does (the
        // pid namespace's init ended, its own exit: its threads and memory torn down) is
        // not. Woken on this CPU, the scheduler would let this process go on first (~0.2 ms
        // on the test VM): yield to it. Nothing when it runs on another CPU.
        std::thread::yield_now();
    }
}

/// Whether the guardian this broker was forked from has died (its parent changed).
pub fn guardian_gone() -> bool {
    let guardian = GUARDIAN.load(Ordering::Acquire);
    // SAFETY: getppid has no preconditions.
    guardian != 0 && unsafe { libc::getppid() } != guardian
}

/// The guardian's loop: relays signals sent to it, waits for `broker`, kills what is left
/// if the broker died first, and exits with the broker's status — or with the status the
/// broker [`report`]s on `status` (the pipe's read end), as soon as it does.
fn guard(broker: libc::pid_t, status: libc::c_int) -> ! {
    let mut set = SigSet::empty();
    for s in HANDLED {
        set.add(s);
    }
    loop {
        loop {
            let mut status = 0;
            // SAFETY: status is a valid out-pointer.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if pid <= 0 {
                break;
            }
            if pid == broker {
                let code = if libc::WIFEXITED(status) {
                    libc::WEXITSTATUS(status)
                } else {
                    // The broker was killed: the sandbox's processes are ours now.
                    i32::from(crate::exit_code::FAILED)
                };
                supervise::kill_tree();
                // SAFETY: _exit ends the process; the guardian holds nothing to flush.
                unsafe { libc::_exit(code) };
            }
        }
        let mut code = 0u8;
        // SAFETY: one byte into a valid buffer, from our own non-blocking pipe.
        if unsafe { libc::read(status, std::ptr::from_mut(&mut code).cast(), 1) } == 1 {
            // The broker has ended the sandbox and written every record: it only exits now.
            // SAFETY: _exit ends the process; the guardian holds nothing to flush.
            unsafe { libc::_exit(i32::from(code)) };
        }
        // SAFETY: siginfo_t is plain old data; set is a valid sigset.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: set and info are valid for the call.
        let sig = unsafe { libc::sigwaitinfo(set.as_ref(), &mut info) };
        if sig < 0 || sig == libc::SIGCHLD {
            continue;
        }
        if info.si_code == libc::SI_USER || info.si_code == libc::SI_QUEUE {
            // SAFETY: kill with integer arguments; the broker is our unreaped child.
            unsafe { libc::kill(broker, sig) };
        }
    }
}
