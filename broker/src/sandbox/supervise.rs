//! Waiting for the sandbox, ending it, and relaying signals.
//!
//! The broker (see [`super::guardian`] for the process above it) is a child subreaper:
//! processes the command leaves behind (daemons that double fork) are re-parented to it, so
//! every process of the sandbox stays its descendant and brokered.
//!
//! * **The run ends when the command ends** ([`Leftovers::End`], the default): whatever the
//!   command left running gets SIGTERM, then [`GRACE`] to exit, then SIGKILL
//!   ([`end_tree`]); arbiter exits with the command's status. With
//!   `arbiter run --wait-descendants` ([`Leftovers::Wait`]) it waits for the whole sandbox
//!   instead, as before.
//! * **Signals.** SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to arbiter (by `kill`, relayed
//!   by the guardian) are relayed to the command while it runs; the same signals typed on
//!   the terminal already reach the command through its process group and are not sent
//!   twice. A SIGINT, SIGTERM or SIGQUIT, from anywhere, also means the run ends with the
//!   command even with `--wait-descendants`; once the command has ended, it is sent to
//!   every process left, which then gets the same grace and SIGKILL: a SIGTERM is never
//!   ignored. SIGHUP also calls the caller's hang-up hook first
//!   (`arbiter run` reopens its audit log there, for logrotate), and never ends the run.
//! * **arbiter killed.** When the guardian dies (`kill -9` of arbiter's pid), the broker
//!   gets SIGTERM (`PR_SET_PDEATHSIG`), sees its parent changed and SIGKILLs the whole
//!   sandbox ([`kill_tree`]) before it exits. The command itself also has
//!   `PR_SET_PDEATHSIG(SIGKILL)` towards the broker.

use std::process::ExitCode;

use nix::sys::signal::{SigSet, Signal};

/// Signals arbiter handles itself (the broker and the guardian alike).
pub(super) const HANDLED: [Signal; 5] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGCHLD,
];

/// Blocks the handled signals in the calling thread; call before starting any thread so
/// every thread inherits the mask and the signals queue for [`wait`]. Also makes arbiter a
/// subreaper, ignores the terminal's job-control stops ([`super::job_control`]), and
/// prepares [`super::tree`] (opens `/proc`, sets descriptors aside, raises
/// the soft descriptor limit).
pub fn prepare() -> nix::Result<()> {
    let mut set = SigSet::empty();
    for s in HANDLED {
        set.add(s);
    }
    set.thread_block()?;
    // The terminal's job control never stops arbiter's own processes.
    super::job_control::detach()
        .map_err(|e| nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) } < 0 {
        return Err(nix::errno::Errno::last());
    }
    // `/proc` and the reserve descriptors the end of a run needs, set aside now.
    super::tree::prepare()
        .map_err(|e| nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))
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

/// What becomes of the processes the command leaves running when it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leftovers {
    /// They get SIGTERM, [`GRACE`], then SIGKILL; the run ends with the command.
    End,
    /// The run waits for them (`--wait-descendants`).
    Wait,
}

/// arbiter's own children that are not part of the sandbox (an external decider, which
/// must outlive every process it may be asked about): never waited for as part of the
/// sandbox, never killed with it.
static OUTSIDE: std::sync::Mutex<Vec<libc::pid_t>> = std::sync::Mutex::new(Vec::new());

/// Marks `pid`, a child of arbiter's, as outside the sandbox (see [`OUTSIDE`]).
pub fn exempt(pid: libc::pid_t) {
    OUTSIDE.lock().unwrap_or_else(|e| e.into_inner()).push(pid);
}

/// Whether arbiter has children outside the sandbox, so that "no child left" (`ECHILD`)
/// never comes and the sandbox's end must be seen as "no child but those".
fn has_outside() -> bool {
    !OUTSIDE.lock().unwrap_or_else(|e| e.into_inner()).is_empty()
}

/// Whether no process of the sandbox is left among arbiter's children (only those outside
/// it, [`exempt`]); a failed look is never "none left".
fn only_outside_left() -> bool {
    has_outside() && super::tree::sandbox_children().is_some_and(|c| c.is_empty())
}

/// The children of arbiter's that are outside the sandbox ([`exempt`]).
pub(super) fn outside() -> Vec<libc::pid_t> {
    OUTSIDE.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// How long the processes left behind have, after SIGTERM, before SIGKILL.
pub const GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// Waits for the command `main` (and, with [`Leftovers::Wait`], for every process of the
/// sandbox), ends whatever is left, and returns how `main` ended. `on_hangup` runs on
/// every SIGHUP arbiter receives, before it is relayed; it must not block for long, since
/// signals wait meanwhile. In a pid namespace, the init may still run when this returns
/// (nothing else of the sandbox does): call [`super::pidns::end`] before exiting.
pub fn wait(main: libc::pid_t, leftovers: Leftovers, on_hangup: &dyn Fn()) -> Ended {
    let set = handled();
    let mut ended = None;
    // A SIGINT, SIGTERM or SIGQUIT reached arbiter: the run ends with the command, whatever
    // `leftovers` says.
    let mut stop = false;
    loop {
        // Reap everything that has already exited.
        loop {
            let mut status = 0;
            // SAFETY: status is a valid out-pointer.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if pid == 0 {
                if only_outside_left() {
                    return ended.unwrap_or(Ended::Exited(125));
                }
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
            if leftovers == Leftovers::Wait && !stop {
                // The pid namespace's init (if any) exits once it is alone: let it look (the
                // command, or a child it made with CLONE_PARENT, is this process's child,
                // and its exit wakes no one in the namespace).
                super::pidns::reaped(pid);
            } else {
                // The run ends with the command: the init is not asked to look (a wake-up
                // and a scan of every process for nothing): `alone` below, or the walk's
                // SIGTERM, which reaches the init too, follows.
                super::pidns::reaped_quietly(pid);
            }
        }
        if let Some(e) = ended.filter(|_| leftovers == Leftovers::End || stop) {
            // In a pid namespace whose init is all that is left, the sandbox has ended: the
            // init is ended after the run's records and status (`pidns::end`, which the
            // caller must call before it exits).
            if super::pidns::alone() {
                return e;
            }
            // The command has ended (after arbiter was asked to stop, or by default) and
            // something of the sandbox still runs.
            end_tree(libc::SIGTERM);
            return e;
        }
        // SAFETY: siginfo_t is plain old data; set is a valid sigset.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: set and info are valid for the call.
        let sig = unsafe { libc::sigwaitinfo(set.as_ref(), &mut info) };
        if sig < 0 || sig == libc::SIGCHLD {
            continue;
        }
        if super::guardian::guardian_gone() {
            // arbiter (the guardian) was killed: nothing of the sandbox outlives it.
            kill_tree();
            return ended.unwrap_or(Ended::Signaled(libc::SIGKILL));
        }
        if sig == libc::SIGHUP {
            on_hangup();
        } else {
            stop = true;
        }
        // SIGHUP is also logrotate's "reopen the log": it never ends the leftovers.
        if ended.is_some() && sig != libc::SIGHUP {
            // Asked to stop while only leftovers run: relayed to all of them, then the
            // grace, then SIGKILL.
            end_tree(sig);
            continue;
        }
        // Relay only signals sent to arbiter by a process; terminal signals already reached
        // the whole foreground process group.
        if ended.is_none() && (info.si_code == libc::SI_USER || info.si_code == libc::SI_QUEUE) {
            // SAFETY: kill with integer arguments only; main is our unreaped child.
            unsafe { libc::kill(main, sig) };
        }
    }
}

/// The signals arbiter handles, as a set.
fn handled() -> SigSet {
    let mut set = SigSet::empty();
    for s in HANDLED {
        set.add(s);
    }
    set
}

/// Ends what is left of the sandbox: `sig` to every descendant, up to [`GRACE`] for them to
/// exit (cut short by another SIGINT, SIGTERM or SIGQUIT, or the guardian's death), then
/// [`kill_tree`]. Returns when arbiter has no child left.
pub fn end_tree(sig: libc::c_int) {
    super::tree::signal_all(sig);
    let set = handled();
    let deadline = std::time::Instant::now() + GRACE;
    loop {
        // Reap what exited; done when nothing is left.
        loop {
            let mut status = 0;
            // SAFETY: status is a valid out-pointer.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if pid < 0 || (pid == 0 && only_outside_left()) {
                return;
            }
            if pid == 0 {
                break;
            }
            super::pidns::reaped(pid);
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            break;
        }
        let timeout = libc::timespec {
            tv_sec: left.as_secs() as libc::time_t,
            tv_nsec: libc::c_long::from(left.subsec_nanos() as i32),
        };
        // SAFETY: siginfo_t is plain old data.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: set, info and timeout are valid for the call.
        let got = unsafe { libc::sigtimedwait(set.as_ref(), &mut info, &timeout) };
        if matches!(got, libc::SIGINT | libc::SIGTERM | libc::SIGQUIT) {
            break; // asked again, or the guardian died: no more grace
        }
    }
    kill_tree();
}

/// Kills every process left in the sandbox ([`super::tree::kill_all`]: the whole tree is
/// frozen, found through the kernel's children lists and SIGKILLed, pass after pass, with
/// no blocking wait). Returns when arbiter has no child left.
pub fn kill_tree() {
    super::tree::kill_all();
}
