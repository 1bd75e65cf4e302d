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

/// Forks the guardian. Returns in the child (the broker, which goes on to run the
/// command); the parent never returns: it waits for the broker and exits with its status.
/// Call after [`supervise::prepare`] (the handled signals are blocked and the process is a
/// subreaper, which both inherit) and before any thread starts.
pub fn fork() -> std::io::Result<()> {
    // SAFETY: getpid has no preconditions.
    let guardian = unsafe { libc::getpid() };
    // SAFETY: arbiter has a single thread here (documented precondition), so the child may
    // go on running arbitrary code.
    let broker = unsafe { libc::fork() };
    if broker < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if broker > 0 {
        guard(broker);
    }
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

/// Whether the guardian this broker was forked from has died (its parent changed).
pub fn guardian_gone() -> bool {
    let guardian = GUARDIAN.load(Ordering::Acquire);
    // SAFETY: getppid has no preconditions.
    guardian != 0 && unsafe { libc::getppid() } != guardian
}

/// The guardian's loop: relays signals sent to it, waits for `broker`, kills what is left
/// if the broker died first, and exits with the broker's status.
fn guard(broker: libc::pid_t) -> ! {
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
