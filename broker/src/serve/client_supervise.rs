//! The launcher as its sandbox's supervisor: nothing outlives the sandbox.
//!
//! The launcher (`arbiter run --daemon`) is a child subreaper confined like the command, so
//! every process of the sandbox is its descendant: a daemon that double-forks is
//! re-parented to it. It waits on a signalfd (SIGCHLD, and SIGINT, SIGTERM, SIGHUP,
//! SIGQUIT, which it relays to the command) and on its connection to the daemon. When the
//! command exits, or the daemon ends the sandbox (the connection closes: the daemon shut
//! it down, or the daemon is gone), it kills every process left: it reads its own
//! `children` list (opened before it confined itself, re-read from offset 0), SIGKILLs each
//! child and reaps it, and repeats until none is left (the orphans of a killed process are
//! re-parented to it and killed in the next round). Then it exits with the command's
//! status, and the daemon removes the sandbox's TMPDIR once the bootstrap socket closes.
//!
//! If the launcher itself is SIGKILLed, the command dies with it (`PR_SET_PDEATHSIG`); the
//! command's own descendants are re-parented above the launcher and lose their broker when
//! the daemon sees the connection close and ends the sandbox (they fail closed).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use anyhow::{Context, Result};

/// Signals the supervisor takes from its signalfd.
const HANDLED: [libc::c_int; 5] = [
    libc::SIGCHLD,
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGQUIT,
];

/// Most rounds of killing before the supervisor gives up on a process that keeps forking.
const SWEEP_ROUNDS: usize = 1000;

/// A prepared supervisor.
pub struct Supervisor {
    signals: OwnedFd,
    children: OwnedFd,
}

impl Supervisor {
    /// Blocks the handled signals (call before any thread starts), becomes a child
    /// subreaper, and opens this thread's `children` list while `/proc` is still
    /// reachable.
    pub fn prepare() -> Result<Supervisor> {
        // SAFETY: set is a valid sigset_t, initialised by sigemptyset; the calls only
        // change this thread's mask and make a new fd.
        let fd = unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for s in HANDLED {
                libc::sigaddset(&mut set, s);
            }
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            libc::signalfd(-1, &set, libc::SFD_CLOEXEC)
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error()).context("signalfd");
        }
        // SAFETY: a new fd nobody else owns.
        let signals = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: prctl with integer arguments only.
        if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) } < 0 {
            return Err(std::io::Error::last_os_error()).context("PR_SET_CHILD_SUBREAPER");
        }
        // SAFETY: getpid and gettid have no preconditions.
        let (pid, tid) = unsafe { (libc::getpid(), libc::gettid()) };
        let children = std::fs::File::open(format!("/proc/{pid}/task/{tid}/children"))
            .context("cannot open the launcher's /proc children list")?;
        Ok(Supervisor {
            signals,
            children: children.into(),
        })
    }

    /// Waits for the command (`child`) or the end of `conn`, then kills what is left of
    /// the sandbox. Returns the command's exit status (the code, or 128 + signal), or
    /// `None` when the daemon ended the sandbox first.
    pub fn run(self, child: i32, conn: &OwnedFd) -> Option<u8> {
        let status = self.wait(child, conn);
        if status.is_none() {
            // SAFETY: kill with integer arguments; child is our own, unreaped child.
            unsafe { libc::kill(child, libc::SIGKILL) };
        }
        self.sweep();
        status
    }

    fn wait(&self, child: i32, conn: &OwnedFd) -> Option<u8> {
        loop {
            let mut fds = [
                libc::pollfd {
                    fd: self.signals.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: conn.as_raw_fd(),
                    events: libc::POLLIN | libc::POLLRDHUP,
                    revents: 0,
                },
            ];
            // SAFETY: fds is a valid array of two pollfds.
            if unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) } < 0 {
                continue; // EINTR
            }
            if fds[0].revents & libc::POLLIN != 0 {
                // SAFETY: signalfd_siginfo is plain old data.
                let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
                let size = std::mem::size_of::<libc::signalfd_siginfo>();
                // SAFETY: info is writable for `size` bytes.
                let n = unsafe {
                    libc::read(
                        self.signals.as_raw_fd(),
                        (&mut info as *mut libc::signalfd_siginfo).cast(),
                        size,
                    )
                };
                if n as usize == size {
                    let sig = info.ssi_signo as i32;
                    if sig == libc::SIGCHLD {
                        if let Some(st) = reap_all(child) {
                            return Some(st);
                        }
                    } else if info.ssi_code <= 0 {
                        // Sent by a process (SI_USER, SI_QUEUE): relayed. Typed at the
                        // terminal (from the kernel), it reached the command's process
                        // group already.
                        // SAFETY: kill with integer arguments; child is unreaped.
                        unsafe { libc::kill(child, sig) };
                    }
                }
            }
            if fds[1].revents != 0 {
                // The daemon never writes after its answer: readable means closed.
                return reap_all(child);
            }
        }
    }

    /// The pids in this thread's `children` list.
    fn children(&self) -> Vec<i32> {
        let mut buf = vec![0u8; 64 * 1024];
        // SAFETY: buf is writable for its length; pread at 0 re-generates the list.
        let n = unsafe {
            libc::pread(
                self.children.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                0,
            )
        };
        if n <= 0 {
            return Vec::new();
        }
        String::from_utf8_lossy(&buf[..n as usize])
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect()
    }

    /// Kills and reaps every descendant, round after round, until none is left.
    fn sweep(&self) {
        for _ in 0..SWEEP_ROUNDS {
            let kids = self.children();
            if kids.is_empty() {
                return;
            }
            for &pid in &kids {
                // SAFETY: kill with integer arguments; pid is our unreaped child.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            for &pid in &kids {
                let mut st = 0;
                // SAFETY: st is a valid out-parameter.
                unsafe { libc::waitpid(pid, &mut st, 0) };
            }
        }
    }
}

/// Reaps every exited child; returns the status of `child` if it was among them.
fn reap_all(child: i32) -> Option<u8> {
    let mut found = None;
    loop {
        let mut st = 0;
        // SAFETY: st is a valid out-parameter.
        let pid = unsafe { libc::waitpid(-1, &mut st, libc::WNOHANG) };
        if pid <= 0 {
            return found;
        }
        if pid == child {
            found = Some(if libc::WIFEXITED(st) {
                libc::WEXITSTATUS(st) as u8
            } else {
                (128 + libc::WTERMSIG(st)) as u8
            });
        }
    }
}
