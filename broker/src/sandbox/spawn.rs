//! Starting the sandboxed command: the bootstrap socket at a fixed fd, the shim preloaded,
//! and whatever confinement must happen between fork and exec.

use std::ffi::OsString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use arbiter_protocol::fast_table::FAST_TABLE_FD;
use arbiter_protocol::DEFAULT_BOOTSTRAP_FD;

use super::vfork::{self, ExecArgs};

/// A step run in the child between fork and exec. It must be async-signal-safe: no
/// allocation, no locks — system calls on data prepared before the fork. `arbiter run`'s
/// child shares arbiter's memory until it execs ([`super::vfork`]), so a step that
/// allocated would corrupt the parent's heap, not just its own copy.
pub type PreExec = Box<dyn FnMut() -> std::io::Result<()> + Send + Sync>;

/// What to start.
pub struct Launch<'a> {
    /// The executable to exec.
    pub program: &'a Path,
    /// argv, starting with argv\[0] as the user typed it.
    pub argv: &'a [OsString],
    /// The command's whole environment (see [`super::environment`]).
    pub env: std::collections::BTreeMap<OsString, OsString>,
    /// The child's end of the bootstrap socket; placed at [`DEFAULT_BOOTSTRAP_FD`].
    pub bootstrap: OwnedFd,
    /// The sealed fast-path table (`super::fast_table`), placed at [`FAST_TABLE_FD`]; with
    /// none, that number is closed in the command so no inherited descriptor poses as one.
    pub fast_table: Option<OwnedFd>,
    /// Confinement steps, run in order after the fd set-up.
    pub pre_exec: Vec<PreExec>,
    /// The child shares this process's descriptor table until it execs ([`super::vfork`]):
    /// only when no other thread of this process forks or execs meanwhile, since the
    /// command's fixed descriptors are placed in the shared table (and closed here again
    /// once the child has exec'd).
    pub share_fds: bool,
}

/// Starts the command and returns its pid. Exec failures come back as the spawn error.
pub fn spawn(launch: Launch<'_>) -> std::io::Result<libc::pid_t> {
    let exec = ExecArgs::new(launch.program.as_os_str(), launch.argv, launch.env)?;
    // Both descriptors below the numbers they take, so placing one cannot overwrite the
    // other (dup2 onto its own number would also keep close-on-exec).
    let bootstrap = super::fast_table::below_fixed(launch.bootstrap)?;
    let fast_table = launch
        .fast_table
        .map(super::fast_table::below_fixed)
        .transpose()?;
    let boot = bootstrap.as_raw_fd();
    let table = fast_table.as_ref().map(|t| t.as_raw_fd());
    let mut steps = launch.pre_exec;
    // arbiter raised its own descriptor limit (super::tree::prepare); the command gets the
    // one arbiter was started with.
    let nofile = super::tree::inherited_nofile();
    let share = launch.share_fds;
    let mut pre_exec = || -> std::io::Result<()> {
        // SAFETY: async-signal-safe calls (dup2, close, sigprocmask, prctl, get/setrlimit) on integers and a
        // local sigset; the caller's steps carry the same contract (see PreExec).
        unsafe {
            // dup2 clears FD_CLOEXEC on the target, so the bootstrap socket survives exec.
            if libc::dup2(boot, DEFAULT_BOOTSTRAP_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            match table {
                Some(t) => {
                    if libc::dup2(t, FAST_TABLE_FD) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                // Nothing may reach the command there. In a table shared with arbiter the
                // number holds arbiter's close-on-exec reservation
                // (super::tree::reserve_fixed_descriptors), which stays until the exec:
                // freed, it would be the lowest free number for the seccomp listener the
                // child makes next, which the broker then closes with the child's copies
                // (red team s10b finding 01).
                None if share => {}
                None => {
                    libc::close(FAST_TABLE_FD);
                }
            }
            // arbiter blocks the signals it relays; the command starts with none blocked.
            let mut empty: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut empty);
            libc::pthread_sigmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
            // arbiter ignores SIGTTOU/SIGTTIN; the command gets what arbiter was given.
            super::job_control::restore_for_exec();
            // If arbiter dies, the sandbox dies with it rather than run unbrokered.
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if let Some(soft) = nofile {
                let mut lim = libc::rlimit {
                    rlim_cur: 0,
                    rlim_max: 0,
                };
                if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
                    lim.rlim_cur = soft;
                    libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
                }
            }
        }
        for step in steps.iter_mut() {
            step()?;
        }
        Ok(())
    };
    // In the sandbox's pid namespace when there is one (super::pidns): the command is then
    // its pid 2, still this process's child.
    let pid = match super::pidns::current() {
        Some(init) => {
            let pid = init.inside(|| vfork::spawn(&exec, &mut pre_exec, share));
            super::pidns::arm();
            pid
        }
        None => vfork::spawn(&exec, &mut pre_exec, share),
    };
    if share {
        // The child's copies at the fixed numbers were placed in this table (it shared it
        // until exec): without closing them the broker would hold the command's end of
        // the bootstrap socket, which must reach end of stream when the sandbox ends.
        // Nothing of the broker's own is there: `arbiter run` reserved both numbers for
        // the command (super::tree::reserve_fixed_descriptors).
        // SAFETY: closing two descriptor numbers nothing of the broker uses.
        unsafe {
            libc::close(DEFAULT_BOOTSTRAP_FD);
            libc::close(FAST_TABLE_FD);
        }
    }
    let pid = pid?;
    drop(bootstrap);
    drop(fast_table);
    Ok(pid)
}
