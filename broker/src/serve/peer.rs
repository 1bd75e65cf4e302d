//! Who a client is, from what the kernel attests on its connection, pinned at accept.
//!
//! `SO_PEERCRED` (uid, gid, pid) and `SO_PEERGROUPS` (supplementary groups) are the
//! credentials the client had when it called `connect()`, kept by the socket: nothing the
//! client does later, and nothing another process does with the same pid, changes them.
//! The pid is only a number, though: once the client exits and is reaped, another process
//! may take it. So the daemon pins the *process* with a pidfd — `SO_PEERPIDFD` (Linux
//! 6.5), which the kernel takes from the connection itself, or on older kernels
//! `pidfd_open(pid)` right after accept (see [`Pinning::PidfdOpen`] for the window that
//! leaves) — and reads anything else about the client (its working directory) through
//! `/proc/<pid>` only after checking that the pidfd's process is still alive *after*
//! opening that directory: a process that is alive still holds its pid, so the directory
//! opened is its own, and a `/proc/<pid>` directory fd keeps naming that process (its
//! entries fail once it is gone, they never show a successor's).

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;

use nix::sys::socket::{self, sockopt};

/// `SO_PEERGROUPS` (Linux 4.13; the same number on every architecture but a few).
const SO_PEERGROUPS: libc::c_int = 59;
/// `SO_PEERPIDFD` (Linux 6.5).
const SO_PEERPIDFD: libc::c_int = 77;

/// How the client's process was pinned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pinning {
    /// `SO_PEERPIDFD`: the pidfd of the process that called `connect()`, from the socket.
    PeerPidfd,
    /// `pidfd_open(pid)` right after accept (kernels before 6.5). If the client exited
    /// and was reaped between its `connect()` and this call, and another process took its
    /// pid in that window, the pidfd names that other process: the daemon would read its
    /// working directory (never its credentials, which come from the socket).
    PidfdOpen,
}

impl Pinning {
    /// The name used in audit records.
    pub fn name(self) -> &'static str {
        match self {
            Pinning::PeerPidfd => "SO_PEERPIDFD",
            Pinning::PidfdOpen => "pidfd_open",
        }
    }
}

/// Why a client's identity or state could not be established.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// A `getsockopt` the identity needs failed.
    #[error("{0}: {1}")]
    Sockopt(&'static str, #[source] io::Error),
    /// The client's process is gone (it exited after connecting).
    #[error("the client's process {0} has exited; nothing is read from another process that may hold its pid now")]
    Exited(i32),
    /// Reading the client's state through `/proc` failed.
    #[error("cannot read the client's {what}: {source}")]
    Proc {
        /// What was being read.
        what: &'static str,
        /// The error.
        #[source]
        source: io::Error,
    },
}

/// A client as the kernel attests it.
#[derive(Debug)]
pub struct Peer {
    /// uid at `connect()`.
    pub uid: u32,
    /// gid at `connect()`.
    pub gid: u32,
    /// Supplementary groups at `connect()`.
    pub groups: Vec<u32>,
    /// The pid at `connect()` (a number; [`Peer::pidfd`] is the process).
    pub pid: i32,
    /// The client's process.
    pub pidfd: OwnedFd,
    /// How [`Peer::pidfd`] was obtained.
    pub pinning: Pinning,
}

impl Peer {
    /// Reads the peer's credentials and pins its process. Call right after `accept`.
    pub fn of(conn: &OwnedFd) -> Result<Peer, PeerError> {
        let cred = socket::getsockopt(conn, sockopt::PeerCredentials)
            .map_err(|e| PeerError::Sockopt("SO_PEERCRED", e.into()))?;
        let (pidfd, pinning) = match peer_pidfd(conn) {
            Ok(fd) => (fd, Pinning::PeerPidfd),
            Err(e) if e.raw_os_error() == Some(libc::ENOPROTOOPT) => {
                let fd = pidfd_open(cred.pid()).map_err(|e| match e.raw_os_error() {
                    Some(libc::ESRCH) => PeerError::Exited(cred.pid()),
                    _ => PeerError::Sockopt("pidfd_open", e),
                })?;
                (fd, Pinning::PidfdOpen)
            }
            // The kernel has no process for the connection any more (or a stale pidfd).
            Err(e) if matches!(e.raw_os_error(), Some(libc::ESRCH | libc::EINVAL)) => {
                return Err(PeerError::Exited(cred.pid()))
            }
            Err(e) => return Err(PeerError::Sockopt("SO_PEERPIDFD", e)),
        };
        let groups = peer_groups(conn).map_err(|e| PeerError::Sockopt("SO_PEERGROUPS", e))?;
        let peer = Peer {
            uid: cred.uid(),
            gid: cred.gid(),
            groups,
            pid: cred.pid(),
            pidfd,
            pinning,
        };
        if !peer.alive() {
            return Err(PeerError::Exited(peer.pid));
        }
        Ok(peer)
    }

    /// Whether the pinned process still exists (a zombie still holds its pid).
    pub fn alive(&self) -> bool {
        // SAFETY: pidfd is an open pidfd; signal 0 only checks; no siginfo.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.pidfd.as_raw_fd(),
                0,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
        rc == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
    }

    /// The pinned process's exit status as `arbiter run` reports one (the code, or 128 + N
    /// for signal N), once it has exited and its parent has reaped it; `None` before that
    /// or where the kernel lacks `PIDFD_GET_INFO` with `PIDFD_INFO_EXIT` (Linux 6.15).
    pub fn exit_status(&self) -> Option<u8> {
        /// `struct pidfd_info` up to `exit_code` (PIDFD_INFO_SIZE_VER0, 64 bytes).
        #[repr(C)]
        #[derive(Default)]
        struct PidfdInfo {
            mask: u64,
            cgroupid: u64,
            ids: [u32; 11],
            exit_code: i32,
        }
        const PIDFD_INFO_EXIT: u64 = 1 << 3;
        // _IOWR(PIDFS_IOCTL_MAGIC 0xFF, 11, struct pidfd_info of 64 bytes).
        const PIDFD_GET_INFO: libc::c_ulong = (3 << 30) | (64 << 16) | (0xFF << 8) | 11;
        let mut info = PidfdInfo {
            mask: PIDFD_INFO_EXIT,
            ..PidfdInfo::default()
        };
        // SAFETY: info is a valid, writable 64-byte struct pidfd_info.
        let rc = unsafe { libc::ioctl(self.pidfd.as_raw_fd(), PIDFD_GET_INFO, &mut info) };
        if rc < 0 || info.mask & PIDFD_INFO_EXIT == 0 {
            return None;
        }
        let st = info.exit_code;
        Some(if libc::WIFEXITED(st) {
            libc::WEXITSTATUS(st) as u8
        } else {
            (128 + libc::WTERMSIG(st)) as u8
        })
    }

    /// Waits at most `timeout` for the pinned process to exit (its pidfd turns readable).
    pub fn wait_exit(&self, timeout: std::time::Duration) -> bool {
        let mut pfd = libc::pollfd {
            fd: self.pidfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: pfd is one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, timeout.as_millis() as libc::c_int) };
        n > 0
    }

    /// `/proc/<pid>` of the pinned process, checked to be that process's.
    fn proc_dir(&self) -> Result<OwnedFd, PeerError> {
        let path = CString::new(format!("/proc/{}", self.pid)).expect("no NUL in a number");
        // SAFETY: path is a valid C string; the flags ask for a new directory fd.
        let fd = unsafe {
            libc::open(
                path.as_ptr(),
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            let e = io::Error::last_os_error();
            return Err(if self.alive() {
                PeerError::Proc {
                    what: "/proc entry",
                    source: e,
                }
            } else {
                PeerError::Exited(self.pid)
            });
        }
        // SAFETY: a new fd nobody else owns.
        let dir = unsafe { OwnedFd::from_raw_fd(fd) };
        // Alive after the open: the pid was never free in between, so this is its directory.
        if !self.alive() {
            return Err(PeerError::Exited(self.pid));
        }
        Ok(dir)
    }

    /// The client's real working directory, read through its own `/proc/<pid>`.
    pub fn cwd(&self) -> Result<PathBuf, PeerError> {
        let dir = self.proc_dir()?;
        let mut buf = vec![0u8; libc::PATH_MAX as usize + 1];
        // SAFETY: dir is an open directory fd, the name a C string literal, buf writable
        // for its length.
        let n = unsafe {
            libc::readlinkat(
                dir.as_fd().as_raw_fd(),
                c"cwd".as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return Err(if self.alive() {
                PeerError::Proc {
                    what: "working directory",
                    source: e,
                }
            } else {
                PeerError::Exited(self.pid)
            });
        }
        buf.truncate(n as usize);
        if n as usize > libc::PATH_MAX as usize || buf.ends_with(b" (deleted)") {
            return Err(PeerError::Proc {
                what: "working directory",
                source: io::Error::new(
                    io::ErrorKind::InvalidData,
                    "it was removed or its path is too long",
                ),
            });
        }
        Ok(PathBuf::from(std::ffi::OsString::from(
            <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(&buf),
        )))
    }
}

fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: integer arguments only.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a successful pidfd_open returns a new fd that nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

fn peer_pidfd(conn: &OwnedFd) -> io::Result<OwnedFd> {
    let mut fd: libc::c_int = -1;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: fd and len are valid out-parameters of the sizes given.
    let rc = unsafe {
        libc::getsockopt(
            conn.as_raw_fd(),
            libc::SOL_SOCKET,
            SO_PEERPIDFD,
            (&mut fd as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel installed a new pidfd for us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn peer_groups(conn: &OwnedFd) -> io::Result<Vec<u32>> {
    let mut groups: Vec<libc::gid_t> = vec![0; 64];
    loop {
        let mut len = std::mem::size_of_val(groups.as_slice()) as libc::socklen_t;
        // SAFETY: groups is writable for len bytes; len is a valid in/out parameter.
        let rc = unsafe {
            libc::getsockopt(
                conn.as_raw_fd(),
                libc::SOL_SOCKET,
                SO_PEERGROUPS,
                groups.as_mut_ptr().cast(),
                &mut len,
            )
        };
        let n = len as usize / std::mem::size_of::<libc::gid_t>();
        if rc == 0 {
            groups.truncate(n);
            return Ok(groups);
        }
        let e = io::Error::last_os_error();
        // ERANGE: len now says how much room the list needs.
        if e.raw_os_error() == Some(libc::ERANGE) && n > groups.len() {
            groups.resize(n, 0);
            continue;
        }
        return Err(e);
    }
}
