//! Waiting for the sandbox and relaying signals.
//!
//! arbiter is a child subreaper: processes the command leaves behind (daemons that double
//! fork) are re-parented to arbiter, which keeps serving them and exits only when the whole
//! sandbox is gone, with the status of the command it started. SIGINT, SIGTERM, SIGHUP and
//! SIGQUIT sent to arbiter (by `kill`) are relayed to the command; the same signals typed on
//! the terminal already reach the command through its process group and are not sent twice.
//! SIGHUP also calls the caller's hang-up hook first (`arbiter run` reopens its audit log
//! there, for logrotate), whoever sent it.
//!
//! Once the command has ended, nothing is left to relay to: SIGINT, SIGTERM or SIGQUIT
//! sent to arbiter then kills what is left of the sandbox ([`kill_tree`]), so no
//! process of it outlives arbiter. (Killed itself with SIGKILL, arbiter can do nothing: the
//! command dies with it by `PR_SET_PDEATHSIG`, processes it left behind survive without a
//! broker; docs/security.md.)

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
    wait_besides(main, on_hangup, &[])
}

/// [`wait`], for a sandbox whose broker has children of its own outside it (`besides`, say
/// an external decider process, which lives until the sandbox is gone): returns once every
/// child of arbiter left is one of them.
pub fn wait_besides(main: libc::pid_t, on_hangup: &dyn Fn(), besides: &[libc::pid_t]) -> Ended {
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
                if !besides.is_empty() {
                    // SAFETY: getpid has no preconditions.
                    let me = unsafe { libc::getpid() };
                    if children(me).iter().all(|c| besides.contains(c)) {
                        return ended.unwrap_or(Ended::Exited(125));
                    }
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
        // SIGHUP is also logrotate's "reopen the log": it never kills the leftovers.
        if ended.is_some() && sig != libc::SIGHUP {
            // Asked to stop while only leftovers run: they die with the run.
            kill_tree();
            continue;
        }
        // Relay only signals sent to arbiter by a process; terminal signals already reached
        // the whole foreground process group.
        if info.si_code == libc::SI_USER || info.si_code == libc::SI_QUEUE {
            // SAFETY: kill with integer arguments only.
            unsafe { libc::kill(main, sig) };
        }
    }
}

/// Kills every process left in the sandbox: as a subreaper, arbiter is the parent of every
/// orphan, so killing its children (and reaping them, which re-parents their own children
/// to arbiter) until none is left reaches the whole tree, including processes forked
/// meanwhile. Returns when arbiter has no child left.
pub fn kill_tree() {
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() };
    loop {
        let mut any = false;
        for pid in children(me) {
            any = true;
            // SAFETY: kill with integer arguments only.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        // Reap what died (blocking once per child found, so a re-parented grandchild
        // shows up on the next pass).
        loop {
            let mut status = 0;
            // SAFETY: status is a valid out-pointer.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if pid <= 0 {
                break;
            }
            any = true;
        }
        if !any {
            // Nothing found and nothing reaped: wait for one more exit, or learn there is
            // no child left (ECHILD).
            let mut status = 0;
            // SAFETY: status is a valid out-pointer.
            if unsafe { libc::waitpid(-1, &mut status, 0) } < 0 {
                return;
            }
        }
    }
}

/// The pids whose parent is `parent`, from `/proc/*/stat`.
fn children(parent: libc::pid_t) -> Vec<libc::pid_t> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in dir.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split after
        // its last ')'.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<libc::pid_t>().ok());
        if ppid == Some(parent) {
            out.push(pid);
        }
    }
    out
}
