//! Waiting for the sandbox and relaying signals.
//!
//! arbiter is a child subreaper: processes the command leaves behind (daemons that double
//! fork) are re-parented to arbiter, which keeps serving them and exits only when the whole
//! sandbox is gone, with the status of the command it started. SIGINT, SIGTERM, SIGHUP and
//! SIGQUIT sent to arbiter (by `kill`) are relayed to the command; the same signals typed on
//! the terminal already reach the command through its process group and are not sent twice.
//! SIGHUP also calls the caller's hang-up hook first (`arbiter run` reopens its audit log
//! there, for logrotate), whoever sent it.

use std::process::ExitCode;

use nix::sys::signal::{SigSet, Signal};

/// Signals arbiter handles itself.
const HANDLED: [Signal; 5] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGCHLD,
];

/// Blocks the handled signals in the calling thread; call before starting any thread so
/// every thread inherits the mask and the signals queue for [`wait`]. Also makes arbiter a
/// subreaper.
pub fn prepare() -> nix::Result<()> {
    let mut set = SigSet::empty();
    for s in HANDLED {
        set.add(s);
    }
    set.thread_block()?;
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) } < 0 {
        return Err(nix::errno::Errno::last());
    }
    Ok(())
}

/// How the sandbox ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The command exited with this code.
    Exited(i32),
    /// The command was killed by this signal.
    Signaled(i32),
}

impl Ended {
    /// The exit code arbiter mirrors: the code, or 128 + signal.
    pub fn code(self) -> u8 {
        match self {
            Ended::Exited(c) => (c & 0xff) as u8,
            Ended::Signaled(s) => (128 + s).clamp(0, 255) as u8,
        }
    }
}

impl From<Ended> for ExitCode {
    fn from(e: Ended) -> ExitCode {
        ExitCode::from(e.code())
    }
}

/// Waits until every process of the sandbox has exited; returns how `main` ended.
/// `on_hangup` runs on every SIGHUP arbiter receives, before it is relayed; it must not
/// block for long, since signals wait meanwhile.
pub fn wait(main: libc::pid_t, on_hangup: &dyn Fn()) -> Ended {
    let mut set = SigSet::empty();
    for s in HANDLED {
        set.add(s);
    }
    let mut ended = None;
    loop {
        // Reap everything that has already exited.
        loop {
            let mut status = 0;
            // SAFETY: status is a valid out-pointer.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if pid == 0 {
                break;
            }
            if pid < 0 {
                // ECHILD: nothing left in the sandbox.
                return ended.unwrap_or(Ended::Exited(125));
            }
            if pid == main {
                ended = Some(if libc::WIFSIGNALED(status) {
                    Ended::Signaled(libc::WTERMSIG(status))
                } else {
                    Ended::Exited(libc::WEXITSTATUS(status))
                });
            }
        }
        // SAFETY: siginfo_t is plain old data; set is a valid sigset.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: set and info are valid for the call.
        let sig = unsafe { libc::sigwaitinfo(set.as_ref(), &mut info) };
        if sig < 0 || sig == libc::SIGCHLD {
            continue;
        }
        if sig == libc::SIGHUP {
            on_hangup();
        }
        // Relay only signals sent to arbiter by a process; terminal signals already reached
        // the whole foreground process group.
        if info.si_code == libc::SI_USER || info.si_code == libc::SI_QUEUE {
            // SAFETY: kill with integer arguments only.
            unsafe { libc::kill(main, sig) };
        }
    }
}
