//! The sealed fast-path table every process of the sandbox inherits
//! ([`arbiter_protocol::fast_table`]): the shim reads what it may answer in-process from
//! it instead of asking the broker, so a process that makes only fast-path and native
//! calls never registers a channel.

use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use arbiter_protocol::fast_table::{self, FAST_TABLE_FD, SEALS};

/// A sealed memfd holding `fast_paths` (what a `FastPaths` reply would carry), close-on-exec
/// and below [`FAST_TABLE_FD`], ready to be placed there in the command.
pub fn create(fast_paths: &[u8]) -> std::io::Result<OwnedFd> {
    let contents = fast_table::encode(fast_paths).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the fast-path table is too long",
        )
    })?;
    // SAFETY: a NUL-terminated name and flags; memfd_create has no memory effects.
    let fd = unsafe {
        libc::memfd_create(
            c"arbiter-fast-paths".as_ptr(),
            libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor owned by nobody else.
    let memfd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut file = std::fs::File::from(memfd);
    file.write_all(&contents)?;
    let memfd = OwnedFd::from(file);
    // SAFETY: integer arguments only.
    if unsafe { libc::fcntl(memfd.as_raw_fd(), libc::F_ADD_SEALS, SEALS) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    below_fixed(memfd)
}

/// `fd`, moved below the fixed numbers the command's descriptors take
/// ([`FAST_TABLE_FD`] and the bootstrap socket above it), so placing one cannot overwrite
/// the other before it is placed.
pub fn below_fixed(fd: OwnedFd) -> std::io::Result<OwnedFd> {
    if fd.as_raw_fd() < FAST_TABLE_FD {
        return Ok(fd);
    }
    // SAFETY: integer arguments only; the result is a fresh descriptor.
    let low = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
    if low < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: low is a fresh descriptor owned by nobody else.
    let low = unsafe { OwnedFd::from_raw_fd(low) };
    if low.as_raw_fd() >= FAST_TABLE_FD {
        return Err(std::io::Error::other(
            "no descriptor number free below the sandbox's fixed ones",
        ));
    }
    Ok(low)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_and_readable() {
        let fd = create(b"s/usr\0").unwrap();
        // SAFETY: integer arguments only.
        let seals = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GET_SEALS) };
        assert_eq!(seals & SEALS, SEALS);
        let mut buf = [0u8; 64];
        // SAFETY: buf is valid for its length.
        let n = unsafe { libc::pread(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        assert_eq!(fast_table::parse(&buf[..n as usize]), Some(&b"s/usr\0"[..]));
        // SAFETY: buf is valid for its length.
        let wrote = unsafe { libc::pwrite(fd.as_raw_fd(), buf.as_ptr().cast(), 1, 0) };
        assert_eq!(wrote, -1, "the table must be sealed against writes");
    }
}
