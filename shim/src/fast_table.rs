//! Reading the inherited fast-path table ([`arbiter_protocol::fast_table`]): what this
//! process may answer in-process, without registering a channel or making a round trip.
//!
//! Read once per process (a fork child inherits what its parent read), on the first call
//! that needs the fast paths, with two raw system calls: `fcntl(F_GET_SEALS)` and `pread`
//! (neither moves the shared file offset). No allocation, no lock: safe in a signal handler
//! or a vfork child. A descriptor that is not the broker's sealed table (closed, replaced
//! by the program, or never there, as under `arbiter serve`) is not read: the shim asks the
//! broker instead. A program that forges one changes only its own hints, which the kernel
//! still decides on (see the protocol module).

use arbiter_protocol::fast_table::{parse, FAST_TABLE_FD, MAGIC, SEALS, TABLE_MAX};

/// Whether `fd` carries every seal the broker sets (the kernel may add `F_SEAL_EXEC`, by
/// its `memfd_noexec` setting).
fn sealed(fd: i32) -> bool {
    // SAFETY: fcntl with integer arguments only.
    let seals = unsafe { libc::syscall(libc::SYS_fcntl, fd, libc::F_GET_SEALS) };
    seals >= 0 && seals & libc::c_long::from(SEALS) == libc::c_long::from(SEALS)
}

/// Whether `fd` looks like the broker's table (sealed, starting with the magic): the
/// descriptor `close` and `close_range` spare.
pub fn is_table(fd: i32) -> bool {
    if !sealed(fd) {
        return false;
    }
    let mut magic = [0u8; MAGIC.len()];
    // SAFETY: magic is valid for writes of its length for the call's duration.
    let n = unsafe {
        libc::syscall(
            libc::SYS_pread64,
            fd,
            magic.as_mut_ptr(),
            magic.len(),
            0 as libc::off_t,
        )
    };
    n == magic.len() as libc::c_long && magic == MAGIC
}

/// Copies the inherited table's fast paths into `out` and returns their length, or `None`
/// when there is no valid table (the caller then asks the broker).
pub fn read_inherited(out: &mut [u8]) -> Option<usize> {
    if !sealed(FAST_TABLE_FD) {
        return None;
    }
    // One byte more than a table may hold, so an over-long file is refused.
    let mut file = [0u8; TABLE_MAX + 1];
    // SAFETY: file is valid for writes of its length for the call's duration.
    let n = unsafe {
        libc::syscall(
            libc::SYS_pread64,
            FAST_TABLE_FD,
            file.as_mut_ptr(),
            file.len(),
            0 as libc::off_t,
        )
    };
    let n = usize::try_from(n).ok()?;
    let paths = parse(file.get(..n)?)?;
    let dest = out.get_mut(..paths.len())?;
    dest.copy_from_slice(paths);
    Some(paths.len())
}
