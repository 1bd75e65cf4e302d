//! Killing what is left of a sandbox whose supervisor is gone.
//!
//! Normally the launcher, a subreaper inside the sandbox, kills every process of it. When
//! the launcher itself is gone (SIGKILLed), its command dies with it (`PR_SET_PDEATHSIG`)
//! but the command's descendants are re-parented elsewhere. Every process of a sandbox
//! inherits its bootstrap socket (the shim keeps it open across `close` and `exec`), so the
//! daemon finds them by it: a process with an fd naming the sandbox's socket inode
//! (`socket:[INODE]` in `/proc/PID/fd`) is pinned with a pidfd, checked again (so a pid
//! reused in between is never signalled), and sent SIGKILL. A process that closed the
//! socket with a raw system call is not found this way (it has also lost its broker).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Whether process `pid` holds an fd on the socket whose `/proc` link is `link`.
fn holds(pid: i32, link: &str) -> bool {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.filter_map(Result::ok)
        .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == link))
}

/// SIGKILLs every process (but this one) holding the socket with inode `inode`; returns
/// how many were signalled.
pub fn kill_holders(inode: u64) -> usize {
    let link = format!("socket:[{inode}]");
    let me = std::process::id() as i32;
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let mut killed = 0;
    for entry in procs.filter_map(Result::ok) {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if pid == me || !holds(pid, &link) {
            continue;
        }
        // SAFETY: integer arguments only.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if fd < 0 {
            continue;
        }
        // SAFETY: a new pidfd nobody else owns.
        let pidfd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        // Checked again with the process pinned: if the pid now names another process
        // that does not hold the socket, nothing is sent.
        if !holds(pid, &link) {
            continue;
        }
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
