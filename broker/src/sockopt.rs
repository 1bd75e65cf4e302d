//! Reading integer socket options, shared by the transports, the network calls and the
//! daemon's listener checks.

use std::os::fd::{AsRawFd, BorrowedFd};

/// An integer `SOL_SOCKET` option of a socket (`SO_TYPE`, `SO_DOMAIN`, `SO_ACCEPTCONN`…).
pub fn int(fd: BorrowedFd<'_>, opt: libc::c_int) -> std::io::Result<libc::c_int> {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: v and len are valid out-pointers of the sizes given; fd is borrowed open.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            opt,
            (&mut v as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(v)
}

/// The socket's `SO_COOKIE`: a number the kernel gives each socket, unique until reboot.
pub fn cookie(fd: BorrowedFd<'_>) -> std::io::Result<u64> {
    let mut v: u64 = 0;
    let mut len = std::mem::size_of::<u64>() as libc::socklen_t;
    // SAFETY: v and len are valid out-pointers of the sizes given; fd is borrowed open.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_COOKIE,
            (&mut v as *mut u64).cast(),
            &mut len,
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(v)
}
