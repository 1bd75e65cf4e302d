//! `chdir` and `fchdir`: made by the kernel as libc makes them (no layer governs them), and
//! counted for the stat memo ([`crate::fast_path::names_changed`]), whose keys are names
//! relative to the working directory: after a change of directory every memo is confirmed
//! again before it vouches for anything (red team s9a finding 01). A change made inside libc
//! (`nftw` with `FTW_CHDIR`) or by a raw system call is not counted: the memo then vouches,
//! for at most a millisecond, for a name the program resolves in its new directory — the
//! kernel's answer, which the program could have had natively.

use std::ffi::{c_char, c_int};

/// `chdir`, counted for the stat memo before and after.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn chdir(path: *const c_char) -> c_int {
    crate::fast_path::names_changed();
    // SAFETY: the caller's argument, passed on unchanged.
    let rc = unsafe { libc::syscall(libc::SYS_chdir, path) } as c_int;
    crate::fast_path::names_changed();
    rc
}

/// `fchdir`, counted for the stat memo before and after.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn fchdir(fd: c_int) -> c_int {
    crate::fast_path::names_changed();
    // SAFETY: a plain integer argument.
    let rc = unsafe { libc::syscall(libc::SYS_fchdir, fd) } as c_int;
    crate::fast_path::names_changed();
    rc
}
