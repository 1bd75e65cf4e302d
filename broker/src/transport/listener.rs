//! Taking the seccomp listener from `arbiter run`'s child: the filter it installs traps
//! `sendmsg`, so the listener cannot travel as `SCM_RIGHTS`; the child names its fd number
//! and the broker copies it with `pidfd_getfd` while the child waits.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// The seccomp listener `fd` of process `pid` (the sender of the bootstrap message, as its
/// kernel credentials name it), copied into the broker. Refuses anything but a seccomp
/// notification fd.
pub fn take(pid: i32, fd: i32) -> std::io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0u32) };
    if pidfd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: pidfd was just returned by the kernel and is owned by no one else.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd as RawFd) };
    // SAFETY: pidfd_getfd takes a pidfd, a target fd number and flags (0).
    let got = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0u32) };
    if got < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: got was just returned by the kernel and is owned by no one else.
    let listener = unsafe { OwnedFd::from_raw_fd(got as RawFd) };
    let kind = std::fs::read_link(format!("/proc/self/fd/{}", listener.as_raw_fd()))?;
    if kind.as_os_str() != "anon_inode:seccomp notify" {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "fd {fd} of process {pid} is {}, not a seccomp listener",
                kind.display()
            ),
        ));
    }
    Ok(listener)
}
