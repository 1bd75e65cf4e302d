//! The stat family (both glibc generations: `stat@GLIBC_2.33` and `__xstat`), statx,
//! access/faccessat/eaccess/euidaccess, and readlink.

use std::ffi::{c_char, c_int};

use arbiter_protocol::ring::{ReportedCall, REPORT_AT_FLAGS};
use arbiter_protocol::Call;

use crate::fast_path::{self, Answer};
use crate::forward::{fail, int_call, readlink_call, stat_call};
use crate::hooks::{guarded, unbrokered};
use crate::path::{prepare, FdList, Prepared, JOIN_BUF};

/// The brokered fstatat behind every stat hook.
///
/// # Safety
/// `path` must be null or a C string; `buf` must be null or point at a `struct stat`.
pub unsafe fn brokered_fstatat(
    dirfd: c_int,
    path: *const c_char,
    buf: *mut libc::stat,
    flags: c_int,
) -> c_int {
    let empty = !path.is_null() && {
        // SAFETY: path is a valid C string; reading its first byte is in bounds.
        unsafe { *path == 0 }
    };
    if unbrokered() || (empty && flags & libc::AT_EMPTY_PATH != 0) {
        // fstat of the caller's own fd needs no authority.
        // SAFETY: forwarded unchanged to the kernel, whose struct stat is glibc's here.
        return unsafe { libc::syscall(libc::SYS_newfstatat, dirfd, path, buf, flags) as c_int };
    }
    if buf.is_null() {
        return fail(libc::EFAULT);
    }
    if !path.is_null() {
        let report = fast_path::Reporting {
            call: ReportedCall::Stat,
            flags: flags & libc::AT_SYMLINK_NOFOLLOW,
        };
        // SAFETY: path is a non-null C string and buf a non-null struct stat per this
        // function's contract.
        if let Some(rc) = unsafe { fast_path::stat(dirfd, path, flags, report).store(buf) } {
            return rc;
        }
    }
    let mut join = [0u8; JOIN_BUF];
    let mut fds = FdList::default();
    // SAFETY: path is null or a valid C string per this function's contract.
    match unsafe { prepare(dirfd, path, &mut join, &mut fds) } {
        Prepared::Fail(e) => fail(e),
        // SAFETY: forwarded unchanged.
        Prepared::PassThrough => unsafe {
            libc::syscall(libc::SYS_newfstatat, dirfd, path, buf, flags) as c_int
        },
        Prepared::Forward(p) => {
            stat_call(
                &Call::Stat {
                    path: p,
                    flags: flags & libc::AT_SYMLINK_NOFOLLOW,
                },
                fds.as_slice(),
                |st| {
                    // SAFETY: buf is non-null and points at a struct stat per the contract.
                    st.fill_stat(unsafe { &mut *buf })
                },
            )
        }
    }
}

/// Brokered `stat`.
///
/// # Safety
/// libc's contract for `stat`.
#[no_mangle]
pub unsafe extern "C" fn stat(path: *const c_char, buf: *mut libc::stat) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    guarded!(-1, unsafe {
        brokered_fstatat(libc::AT_FDCWD, path, buf, 0)
    })
}

/// Brokered `stat64` (the same layout on 64-bit Linux).
///
/// # Safety
/// libc's contract for `stat64`.
#[no_mangle]
pub unsafe extern "C" fn stat64(path: *const c_char, buf: *mut libc::stat) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    guarded!(-1, unsafe {
        brokered_fstatat(libc::AT_FDCWD, path, buf, 0)
    })
}

/// Brokered `lstat`.
///
/// # Safety
/// libc's contract for `lstat`.
#[no_mangle]
pub unsafe extern "C" fn lstat(path: *const c_char, buf: *mut libc::stat) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    guarded!(-1, unsafe {
        brokered_fstatat(libc::AT_FDCWD, path, buf, libc::AT_SYMLINK_NOFOLLOW)
    })
}

/// Brokered `lstat64`.
///
/// # Safety
/// libc's contract for `lstat64`.
#[no_mangle]
pub unsafe extern "C" fn lstat64(path: *const c_char, buf: *mut libc::stat) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    guarded!(-1, unsafe {
        brokered_fstatat(libc::AT_FDCWD, path, buf, libc::AT_SYMLINK_NOFOLLOW)
    })
}

/// Brokered `fstatat`.
///
/// # Safety
/// libc's contract for `fstatat`.
#[no_mangle]
pub unsafe extern "C" fn fstatat(
    dirfd: c_int,
    path: *const c_char,
    buf: *mut libc::stat,
    flags: c_int,
) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    guarded!(-1, unsafe { brokered_fstatat(dirfd, path, buf, flags) })
}

/// Brokered `fstatat64`.
///
/// # Safety
/// libc's contract for `fstatat64`.
#[no_mangle]
pub unsafe extern "C" fn fstatat64(
    dirfd: c_int,
    path: *const c_char,
    buf: *mut libc::stat,
    flags: c_int,
) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    guarded!(-1, unsafe { brokered_fstatat(dirfd, path, buf, flags) })
}

/// Brokered `__xstat` (pre-2.33 binaries; `ver` is always the 64-bit layout here).
///
/// # Safety
/// libc's contract for `__xstat`.
#[no_mangle]
pub unsafe extern "C" fn __xstat(_ver: c_int, path: *const c_char, buf: *mut libc::stat) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    guarded!(-1, unsafe {
        brokered_fstatat(libc::AT_FDCWD, path, buf, 0)
    })
}

/// Brokered `__xstat64`.
///
/// # Safety
/// libc's contract for `__xstat64`.
#[no_mangle]
pub unsafe extern "C" fn __xstat64(
    _ver: c_int,
    path: *const c_char,
    buf: *mut libc::stat,
) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    guarded!(-1, unsafe {
        brokered_fstatat(libc::AT_FDCWD, path, buf, 0)
    })
}

/// Brokered `__lxstat`.
///
/// # Safety
/// libc's contract for `__lxstat`.
#[no_mangle]
pub unsafe extern "C" fn __lxstat(_ver: c_int, path: *const c_char, buf: *mut libc::stat) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    guarded!(-1, unsafe {
        brokered_fstatat(libc::AT_FDCWD, path, buf, libc::AT_SYMLINK_NOFOLLOW)
    })
}

/// Brokered `__lxstat64`.
///
/// # Safety
/// libc's contract for `__lxstat64`.
#[no_mangle]
pub unsafe extern "C" fn __lxstat64(
    _ver: c_int,
    path: *const c_char,
    buf: *mut libc::stat,
) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    guarded!(-1, unsafe {
        brokered_fstatat(libc::AT_FDCWD, path, buf, libc::AT_SYMLINK_NOFOLLOW)
    })
}

/// Brokered `__fxstatat`.
///
/// # Safety
/// libc's contract for `__fxstatat`.
#[no_mangle]
pub unsafe extern "C" fn __fxstatat(
    _ver: c_int,
    dirfd: c_int,
    path: *const c_char,
    buf: *mut libc::stat,
    flags: c_int,
) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    guarded!(-1, unsafe { brokered_fstatat(dirfd, path, buf, flags) })
}

/// Brokered `__fxstatat64`.
///
/// # Safety
/// libc's contract for `__fxstatat64`.
#[no_mangle]
pub unsafe extern "C" fn __fxstatat64(
    _ver: c_int,
    dirfd: c_int,
    path: *const c_char,
    buf: *mut libc::stat,
    flags: c_int,
) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    guarded!(-1, unsafe { brokered_fstatat(dirfd, path, buf, flags) })
}

/// Brokered `statx`.
///
/// # Safety
/// libc's contract for `statx`.
#[no_mangle]
pub unsafe extern "C" fn statx(
    dirfd: c_int,
    path: *const c_char,
    flags: c_int,
    mask: u32,
    buf: *mut libc::statx,
) -> c_int {
    guarded!(-1, {
        let empty = !path.is_null() && {
            // SAFETY: path is a valid C string; its first byte is in bounds.
            unsafe { *path == 0 }
        };
        if unbrokered() || (empty && flags & libc::AT_EMPTY_PATH != 0) {
            // SAFETY: forwarded unchanged to the kernel.
            return unsafe {
                libc::syscall(libc::SYS_statx, dirfd, path, flags, mask, buf) as c_int
            };
        }
        if buf.is_null() {
            return fail(libc::EFAULT);
        }
        if !path.is_null() {
            // SAFETY: path is a non-null C string and buf a non-null struct statx per
            // libc's contract.
            if let Some(rc) = unsafe { fast_path::statx(dirfd, path, flags, mask).store(buf) } {
                return rc;
            }
        }
        let mut join = [0u8; JOIN_BUF];
        let mut fds = FdList::default();
        // SAFETY: path is null or a valid C string per libc's contract.
        match unsafe { prepare(dirfd, path, &mut join, &mut fds) } {
            Prepared::Fail(e) => fail(e),
            // SAFETY: forwarded unchanged.
            Prepared::PassThrough => unsafe {
                libc::syscall(libc::SYS_statx, dirfd, path, flags, mask, buf) as c_int
            },
            Prepared::Forward(p) => {
                stat_call(
                    &Call::Stat {
                        path: p,
                        flags: flags & libc::AT_SYMLINK_NOFOLLOW,
                    },
                    fds.as_slice(),
                    |st| {
                        // SAFETY: buf is non-null and points at a struct statx per the contract.
                        st.fill_statx(unsafe { &mut *buf }, mask)
                    },
                )
            }
        }
    })
}

/// The brokered faccessat behind every access hook.
///
/// # Safety
/// `path` must be null or a valid C string.
pub unsafe fn brokered_faccessat(
    dirfd: c_int,
    path: *const c_char,
    mode: c_int,
    flags: c_int,
) -> c_int {
    if unbrokered() {
        // SAFETY: forwarded unchanged.
        return unsafe { libc::syscall(libc::SYS_faccessat2, dirfd, path, mode, flags) as c_int };
    }
    // Flags the kernel refuses (EINVAL) are the broker's to answer, as the kernel would.
    let known = libc::AT_EACCESS | libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH;
    if mode == libc::F_OK && !path.is_null() && flags & !known == 0 {
        // Existence alone is what a stat answers.
        let report = fast_path::Reporting {
            call: ReportedCall::Access,
            flags: flags & REPORT_AT_FLAGS,
        };
        // SAFETY: path is a non-null C string per this function's contract.
        match unsafe { fast_path::stat(dirfd, path, flags & libc::AT_SYMLINK_NOFOLLOW, report) } {
            Answer::Done(Ok(_)) => return 0,
            Answer::Done(Err(e)) => return fail(e),
            Answer::Broker => {}
        }
    }
    if mode != libc::F_OK && !path.is_null() {
        // SAFETY: path is a non-null C string per this function's contract.
        match unsafe { fast_path::access(dirfd, path, mode, flags) } {
            Answer::Done(Ok(())) => return 0,
            Answer::Done(Err(e)) => return fail(e),
            Answer::Broker => {}
        }
    }
    let mut join = [0u8; JOIN_BUF];
    let mut fds = FdList::default();
    // SAFETY: path is null or a valid C string per this function's contract.
    match unsafe { prepare(dirfd, path, &mut join, &mut fds) } {
        Prepared::Fail(e) => fail(e),
        // SAFETY: forwarded unchanged.
        Prepared::PassThrough => unsafe {
            libc::syscall(libc::SYS_faccessat2, dirfd, path, mode, flags) as c_int
        },
        Prepared::Forward(p) => int_call(
            &Call::Access {
                path: p,
                mode,
                flags,
            },
            fds.as_slice(),
        ),
    }
}

/// Brokered `access`.
///
/// # Safety
/// libc's contract for `access`.
#[no_mangle]
pub unsafe extern "C" fn access(path: *const c_char, mode: c_int) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    guarded!(-1, unsafe {
        brokered_faccessat(libc::AT_FDCWD, path, mode, 0)
    })
}

/// Brokered `faccessat`.
///
/// # Safety
/// libc's contract for `faccessat`.
#[no_mangle]
pub unsafe extern "C" fn faccessat(
    dirfd: c_int,
    path: *const c_char,
    mode: c_int,
    flags: c_int,
) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    guarded!(-1, unsafe { brokered_faccessat(dirfd, path, mode, flags) })
}

/// Brokered `eaccess` (checks with the effective ids).
///
/// # Safety
/// libc's contract for `eaccess`.
#[no_mangle]
pub unsafe extern "C" fn eaccess(path: *const c_char, mode: c_int) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    guarded!(-1, unsafe {
        brokered_faccessat(libc::AT_FDCWD, path, mode, libc::AT_EACCESS)
    })
}

/// Brokered `euidaccess`.
///
/// # Safety
/// libc's contract for `euidaccess`.
#[no_mangle]
pub unsafe extern "C" fn euidaccess(path: *const c_char, mode: c_int) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    guarded!(-1, unsafe {
        brokered_faccessat(libc::AT_FDCWD, path, mode, libc::AT_EACCESS)
    })
}

/// The brokered readlinkat behind both readlink hooks.
///
/// # Safety
/// `path` a valid C string; `buf` has `size` writable bytes.
pub unsafe fn brokered_readlinkat(
    dirfd: c_int,
    path: *const c_char,
    buf: *mut c_char,
    size: usize,
) -> isize {
    if unbrokered() {
        // SAFETY: forwarded unchanged.
        return unsafe { libc::syscall(libc::SYS_readlinkat, dirfd, path, buf, size) as isize };
    }
    if size == 0 {
        return fail(libc::EINVAL) as isize;
    }
    let mut join = [0u8; JOIN_BUF];
    let mut fds = FdList::default();
    // SAFETY: path is null or a valid C string per this function's contract.
    match unsafe { prepare(dirfd, path, &mut join, &mut fds) } {
        Prepared::Fail(e) => fail(e) as isize,
        // SAFETY: forwarded unchanged.
        Prepared::PassThrough => unsafe {
            libc::syscall(libc::SYS_readlinkat, dirfd, path, buf, size) as isize
        },
        // SAFETY: buf has size writable bytes per this function's contract.
        Prepared::Forward(p) => unsafe {
            readlink_call(
                &Call::Readlink { path: p },
                fds.as_slice(),
                buf.cast(),
                size,
            )
        },
    }
}

/// Brokered `readlink`.
///
/// # Safety
/// libc's contract for `readlink`.
#[no_mangle]
pub unsafe extern "C" fn readlink(path: *const c_char, buf: *mut c_char, size: usize) -> isize {
    // SAFETY: the caller's arguments, passed on.
    guarded!(-1, unsafe {
        brokered_readlinkat(libc::AT_FDCWD, path, buf, size)
    })
}

/// Brokered `readlinkat`.
///
/// # Safety
/// libc's contract for `readlinkat`.
#[no_mangle]
pub unsafe extern "C" fn readlinkat(
    dirfd: c_int,
    path: *const c_char,
    buf: *mut c_char,
    size: usize,
) -> isize {
    // SAFETY: the caller's arguments, passed on.
    guarded!(-1, unsafe { brokered_readlinkat(dirfd, path, buf, size) })
}
