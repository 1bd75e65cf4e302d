//! Sending and receiving one SEQPACKET message with file descriptors (`SCM_RIGHTS`) and,
//! on the broker's side, the sender's kernel credentials (`SCM_CREDENTIALS`).
//!
//! These functions make the `sendmsg`/`recvmsg` system calls directly (`syscall(2)`), not
//! through libc's exported wrappers, so that inside the shim they can never recurse into a
//! preloaded hook. They allocate nothing and are async-signal-safe.

use std::os::fd::RawFd;

use crate::MAX_FDS;

/// Room for `SCM_RIGHTS` with [`MAX_FDS`] fds plus `SCM_CREDENTIALS` and `SCM_PIDFD`,
/// 8-byte aligned.
#[repr(C, align(8))]
struct ControlBuffer([u8; 128]);

/// The sender's identity, as stamped by the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credentials {
    /// Process id (in the receiver's pid namespace).
    pub pid: i32,
    /// Real user id.
    pub uid: u32,
    /// Real group id.
    pub gid: u32,
}

/// One message received.
#[derive(Debug, Clone, Copy)]
pub struct Received {
    /// Bytes of payload (0 means the peer closed the channel).
    pub len: usize,
    /// Number of fds stored at the start of the fd array.
    pub nfds: usize,
    /// The sender's credentials, when the socket has `SO_PASSCRED` set.
    pub credentials: Option<Credentials>,
    /// A pidfd of the sending process (`SCM_PIDFD`, close-on-exec), when the socket has
    /// `SO_PASSPIDFD` set (Linux 6.5+). The receiver owns it and must close it. Negative
    /// (`-ESRCH`) when the kernel could not make one: the sender is gone.
    pub pidfd: Option<RawFd>,
}

/// `SCM_PIDFD`: a pidfd of the sender, with `SO_PASSPIDFD`.
pub const SCM_PIDFD: i32 = 0x04;

/// Why a receive failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecvError {
    /// The system call failed with this errno.
    Os(i32),
    /// The message was larger than the buffer (`MSG_TRUNC`): a protocol error.
    Truncated,
    /// More fds arrived than fit (`MSG_CTRUNC`), or a control message of an unexpected kind:
    /// a protocol error. Whatever fds did arrive have been closed.
    BadControl,
}

fn errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// Sends `bytes` with `fds` attached as one packet. Retries on `EINTR`.
/// `bytes` must not be empty (a 0-byte packet means end of stream to the receiver).
///
/// Without fds the packet goes with `sendto(sock, …, NULL, 0)`, which arbiter's seccomp
/// filter lets through (no destination); `sendmsg` is trapped under the notify filter and
/// performed by the broker, one notification more, so it is used only to pass fds.
pub fn send_with_fds(sock: RawFd, bytes: &[u8], fds: &[RawFd]) -> Result<(), i32> {
    if bytes.is_empty() || fds.len() > MAX_FDS {
        return Err(libc::EINVAL);
    }
    if fds.is_empty() {
        loop {
            // SAFETY: bytes is a live buffer of bytes.len() bytes; no destination.
            let rc = unsafe {
                libc::syscall(
                    libc::SYS_sendto,
                    sock,
                    bytes.as_ptr(),
                    bytes.len(),
                    libc::MSG_NOSIGNAL,
                    std::ptr::null::<libc::sockaddr>(),
                    0 as libc::socklen_t,
                )
            };
            if rc >= 0 {
                return Ok(());
            }
            let e = errno();
            if e != libc::EINTR {
                return Err(e);
            }
        }
    }
    let mut control = ControlBuffer([0; 128]);
    let mut iov = libc::iovec {
        iov_base: bytes.as_ptr() as *mut libc::c_void,
        iov_len: bytes.len(),
    };
    // SAFETY: msghdr is plain old data; all-zero is a valid empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if !fds.is_empty() {
        let payload = std::mem::size_of_val(fds) as u32;
        // SAFETY: CMSG_SPACE is a pure computation.
        let space = unsafe { libc::CMSG_SPACE(payload) } as usize;
        msg.msg_control = control.0.as_mut_ptr().cast();
        msg.msg_controllen = space;
        // SAFETY: msg_control points at a buffer of `space` <= 128 bytes, so CMSG_FIRSTHDR
        // returns a valid, aligned header inside it, and CMSG_DATA has room for `payload` bytes.
        unsafe {
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(payload) as usize;
            std::ptr::copy_nonoverlapping(
                fds.as_ptr().cast::<u8>(),
                libc::CMSG_DATA(cmsg),
                payload as usize,
            );
        }
    }
    // First without waiting: under arbiter's notify filter the broker performs this
    // sendmsg, and serves one that cannot block at once, without a thread of its own.
    let mut flags = libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT;
    loop {
        // SAFETY: msg points at live iov and control buffers for the duration of the call.
        let rc =
            unsafe { libc::syscall(libc::SYS_sendmsg, sock, &msg as *const libc::msghdr, flags) };
        if rc >= 0 {
            return Ok(());
        }
        match errno() {
            libc::EINTR => {}
            libc::EAGAIN if flags & libc::MSG_DONTWAIT != 0 => flags = libc::MSG_NOSIGNAL,
            e => return Err(e),
        }
    }
}

/// Receives one packet into `buf`, its fds into `fds` (installed close-on-exec), retrying on
/// `EINTR`. `flags` are extra `recvmsg` flags (e.g. `MSG_DONTWAIT`).
pub fn recv_with_fds(
    sock: RawFd,
    buf: &mut [u8],
    fds: &mut [RawFd; MAX_FDS],
    flags: i32,
) -> Result<Received, RecvError> {
    let mut control = ControlBuffer([0; 128]);
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: msghdr is plain old data; all-zero is a valid empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    let n = loop {
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.0.as_mut_ptr().cast();
        // Reset on every attempt: the kernel shrinks it, and a stale value drops fds.
        msg.msg_controllen = control.0.len();
        msg.msg_flags = 0;
        // SAFETY: msg points at live buffers of the lengths given for the duration of the call.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_recvmsg,
                sock,
                &mut msg as *mut libc::msghdr,
                flags | libc::MSG_CMSG_CLOEXEC,
            )
        };
        if rc >= 0 {
            break rc as usize;
        }
        let e = errno();
        if e != libc::EINTR {
            return Err(RecvError::Os(e));
        }
    };
    let mut received = Received {
        len: n,
        nfds: 0,
        credentials: None,
        pidfd: None,
    };
    let mut bad = msg.msg_flags & libc::MSG_CTRUNC != 0;
    // SAFETY: the kernel filled msg_control with msg_controllen bytes of well-formed cmsgs;
    // the CMSG_* macros walk them within that length.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            let data = libc::CMSG_DATA(cmsg);
            let data_len = (*cmsg).cmsg_len - libc::CMSG_LEN(0) as usize;
            match ((*cmsg).cmsg_level, (*cmsg).cmsg_type) {
                (libc::SOL_SOCKET, libc::SCM_RIGHTS) => {
                    let count = data_len / std::mem::size_of::<RawFd>();
                    for i in 0..count {
                        let fd = std::ptr::read_unaligned(data.cast::<RawFd>().add(i));
                        if received.nfds < MAX_FDS {
                            fds[received.nfds] = fd;
                            received.nfds += 1;
                        } else {
                            libc::syscall(libc::SYS_close, fd);
                            bad = true;
                        }
                    }
                }
                (libc::SOL_SOCKET, libc::SCM_CREDENTIALS)
                    if data_len >= std::mem::size_of::<libc::ucred>() =>
                {
                    let cred = std::ptr::read_unaligned(data.cast::<libc::ucred>());
                    received.credentials = Some(Credentials {
                        pid: cred.pid,
                        uid: cred.uid,
                        gid: cred.gid,
                    });
                }
                (libc::SOL_SOCKET, SCM_PIDFD) if data_len >= std::mem::size_of::<RawFd>() => {
                    let fd = std::ptr::read_unaligned(data.cast::<RawFd>());
                    if let Some(old) = received.pidfd.replace(fd) {
                        if old >= 0 {
                            libc::syscall(libc::SYS_close, old);
                        }
                        bad = true;
                    }
                }
                _ => bad = true,
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    if bad || msg.msg_flags & libc::MSG_TRUNC != 0 {
        if let Some(fd) = received.pidfd.filter(|&fd| fd >= 0) {
            // SAFETY: closing a pidfd this call just received and nobody else knows of.
            unsafe { libc::syscall(libc::SYS_close, fd) };
        }
        for fd in &fds[..received.nfds] {
            // SAFETY: closing fds this call just received and nobody else knows of.
            unsafe { libc::syscall(libc::SYS_close, *fd) };
        }
        return Err(if bad {
            RecvError::BadControl
        } else {
            RecvError::Truncated
        });
    }
    Ok(received)
}
