//! Calls that change the filesystem: mkdir, rmdir, unlink, remove, rename, link, symlink,
//! truncate, chmod, chown, utimes, mkfifo/mknod, and umask tracking.

use std::ffi::{c_char, c_int};

use arbiter_protocol::{Call, PathArg, Timespec};
use libc::{gid_t, mode_t, uid_t};

use crate::forward::{fail, int_call};
use crate::hooks::{guarded, unbrokered};
use crate::path::{prepare, FdList, Prepared, JOIN_BUF};
use crate::state;
use crate::sys::{bytes, c_str_len};

/// A raw system call's int result (errno set by `syscall`).
macro_rules! sys {
    ($($arg:expr),*) => {{
        #[allow(unused_unsafe)]
        // SAFETY: the caller's arguments go to the kernel unchanged; it validates pointers.
        let rc = unsafe { libc::syscall($($arg),*) as c_int };
        rc
    }};
}

/// Brokers a one-path call, or runs `direct` when there is no broker or the path refers to
/// the caller's own process state.
///
/// # Safety
/// `path` must be null or a valid C string.
unsafe fn one_path(
    dirfd: c_int,
    path: *const c_char,
    direct: impl FnOnce() -> c_int,
    make: impl FnOnce(PathArg<'_>) -> Call<'_>,
) -> c_int {
    if unbrokered() {
        return direct();
    }
    let mut join = [0u8; JOIN_BUF];
    let mut fds = FdList::default();
    // SAFETY: path is null or a valid C string per this function's contract.
    match unsafe { prepare(dirfd, path, &mut join, &mut fds) } {
        Prepared::Fail(e) => fail(e),
        Prepared::PassThrough => direct(),
        Prepared::Forward(p) => int_call(&make(p), fds.as_slice()),
    }
}

/// Brokers a two-path call (rename, link).
///
/// # Safety
/// Both paths must be null or valid C strings.
unsafe fn two_paths(
    d1: c_int,
    p1: *const c_char,
    d2: c_int,
    p2: *const c_char,
    direct: impl FnOnce() -> c_int,
    make: impl for<'a> FnOnce(PathArg<'a>, PathArg<'a>) -> Call<'a>,
) -> c_int {
    if unbrokered() {
        return direct();
    }
    let mut join1 = [0u8; JOIN_BUF];
    let mut join2 = [0u8; JOIN_BUF];
    let mut fds = FdList::default();
    // SAFETY: the paths are null or valid C strings per this function's contract.
    let a = unsafe { prepare(d1, p1, &mut join1, &mut fds) };
    // SAFETY: as above.
    let b = unsafe { prepare(d2, p2, &mut join2, &mut fds) };
    match (a, b) {
        (Prepared::Fail(e), _) | (_, Prepared::Fail(e)) => fail(e),
        (Prepared::Forward(x), Prepared::Forward(y)) => int_call(&make(x, y), fds.as_slice()),
        // Naming the caller's own /proc entries: the kernel decides.
        _ => direct(),
    }
}

/// Brokered `mkdir`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn mkdir(path: *const c_char, mode: mode_t) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    guarded!(-1, unsafe { mkdirat(libc::AT_FDCWD, path, mode) })
}

/// Brokered `mkdirat`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn mkdirat(dirfd: c_int, path: *const c_char, mode: mode_t) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    guarded!(-1, unsafe {
        one_path(
            dirfd,
            path,
            || sys!(libc::SYS_mkdirat, dirfd, path, mode),
            |p| Call::Mkdir {
                path: p,
                mode,
                umask: state::umask(),
            },
        )
    })
}

/// Brokered `mknodat` (regular files and FIFOs only).
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn mknodat(
    dirfd: c_int,
    path: *const c_char,
    mode: mode_t,
    dev: libc::dev_t,
) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    guarded!(-1, unsafe {
        one_path(
            dirfd,
            path,
            || sys!(libc::SYS_mknodat, dirfd, path, mode, dev),
            |p| Call::Mknod {
                path: p,
                mode,
                dev,
                umask: state::umask(),
            },
        )
    })
}

/// Brokered `mknod`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn mknod(path: *const c_char, mode: mode_t, dev: libc::dev_t) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    unsafe { mknodat(libc::AT_FDCWD, path, mode, dev) }
}

/// Brokered `mkfifo`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn mkfifo(path: *const c_char, mode: mode_t) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    unsafe { mknodat(libc::AT_FDCWD, path, libc::S_IFIFO | (mode & 0o7777), 0) }
}

/// Brokered `mkfifoat`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn mkfifoat(dirfd: c_int, path: *const c_char, mode: mode_t) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    unsafe { mknodat(dirfd, path, libc::S_IFIFO | (mode & 0o7777), 0) }
}

/// Brokered `unlinkat`: made in-process first where Landlock may decide it as the policy
/// would ([`crate::fast_path::remove`]), else by the broker.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn unlinkat(dirfd: c_int, path: *const c_char, flags: c_int) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    guarded!(-1, unsafe {
        // A directory the stat memo vouched for may go (crate::fast_path): before and after.
        if flags & libc::AT_REMOVEDIR != 0 {
            crate::fast_path::names_changed();
        }
        if !unbrokered() && crate::fast_path::remove(dirfd, path, flags) {
            if flags & libc::AT_REMOVEDIR != 0 {
                crate::fast_path::names_changed();
            }
            return 0;
        }
        let rc = one_path(
            dirfd,
            path,
            || sys!(libc::SYS_unlinkat, dirfd, path, flags),
            |p| Call::Unlink { path: p, flags },
        );
        if flags & libc::AT_REMOVEDIR != 0 {
            crate::fast_path::names_changed();
        }
        rc
    })
}

/// Brokered `unlink`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn unlink(path: *const c_char) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    unsafe { unlinkat(libc::AT_FDCWD, path, 0) }
}

/// Brokered `rmdir`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn rmdir(path: *const c_char) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    unsafe { unlinkat(libc::AT_FDCWD, path, libc::AT_REMOVEDIR) }
}

/// Brokered `remove`: unlink, or rmdir for a directory (as glibc does).
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn remove(path: *const c_char) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    let rc = unsafe { unlinkat(libc::AT_FDCWD, path, 0) };
    if rc < 0 && crate::sys::errno() == libc::EISDIR {
        // SAFETY: as above.
        return unsafe { unlinkat(libc::AT_FDCWD, path, libc::AT_REMOVEDIR) };
    }
    rc
}

/// Brokered `renameat2`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn renameat2(
    d1: c_int,
    p1: *const c_char,
    d2: c_int,
    p2: *const c_char,
    flags: u32,
) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    guarded!(-1, unsafe {
        // A directory the stat memo vouched for may move (crate::fast_path): before and after.
        crate::fast_path::names_changed();
        let rc = two_paths(
            d1,
            p1,
            d2,
            p2,
            || sys!(libc::SYS_renameat2, d1, p1, d2, p2, flags),
            |a, b| Call::Rename {
                from: a,
                to: b,
                flags,
            },
        );
        crate::fast_path::names_changed();
        rc
    })
}

/// Brokered `renameat`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn renameat(
    d1: c_int,
    p1: *const c_char,
    d2: c_int,
    p2: *const c_char,
) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    unsafe { renameat2(d1, p1, d2, p2, 0) }
}

/// Brokered `rename`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn rename(p1: *const c_char, p2: *const c_char) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    unsafe { renameat2(libc::AT_FDCWD, p1, libc::AT_FDCWD, p2, 0) }
}

/// Brokered `linkat`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn linkat(
    d1: c_int,
    p1: *const c_char,
    d2: c_int,
    p2: *const c_char,
    flags: c_int,
) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    guarded!(-1, unsafe {
        two_paths(
            d1,
            p1,
            d2,
            p2,
            || sys!(libc::SYS_linkat, d1, p1, d2, p2, flags),
            |a, b| Call::Link {
                from: a,
                to: b,
                flags,
            },
        )
    })
}

/// Brokered `link`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn link(p1: *const c_char, p2: *const c_char) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    unsafe { linkat(libc::AT_FDCWD, p1, libc::AT_FDCWD, p2, 0) }
}

/// Brokered `symlinkat`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn symlinkat(
    target: *const c_char,
    dirfd: c_int,
    path: *const c_char,
) -> c_int {
    guarded!(-1, {
        // SAFETY: target is null or a C string per libc's contract.
        let Some(len) = (unsafe { c_str_len(target, arbiter_protocol::MAX_PATH) }) else {
            return fail(if target.is_null() {
                libc::EFAULT
            } else {
                libc::ENAMETOOLONG
            });
        };
        // SAFETY: c_str_len found len readable bytes.
        let t = unsafe { bytes(target, len) };
        // SAFETY: the caller's arguments, passed on.
        unsafe {
            one_path(
                dirfd,
                path,
                || sys!(libc::SYS_symlinkat, target, dirfd, path),
                |p| Call::Symlink { target: t, path: p },
            )
        }
    })
}

/// Brokered `symlink`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn symlink(target: *const c_char, path: *const c_char) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    unsafe { symlinkat(target, libc::AT_FDCWD, path) }
}

/// Brokered `truncate`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn truncate(path: *const c_char, length: libc::off_t) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    guarded!(-1, unsafe {
        one_path(
            libc::AT_FDCWD,
            path,
            || sys!(libc::SYS_truncate, path, length),
            |p| Call::Truncate { path: p, length },
        )
    })
}

/// Brokered `truncate64`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn truncate64(path: *const c_char, length: libc::off_t) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    unsafe { truncate(path, length) }
}

/// Brokered `fchmodat`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn fchmodat(
    dirfd: c_int,
    path: *const c_char,
    mode: mode_t,
    flags: c_int,
) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    guarded!(-1, unsafe {
        one_path(
            dirfd,
            path,
            || sys!(452, dirfd, path, mode, flags),
            |p| Call::Chmod {
                path: p,
                mode,
                flags,
            },
        )
    })
}

/// Brokered `chmod`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn chmod(path: *const c_char, mode: mode_t) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    unsafe { fchmodat(libc::AT_FDCWD, path, mode, 0) }
}

/// Brokered `fchownat`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn fchownat(
    dirfd: c_int,
    path: *const c_char,
    uid: uid_t,
    gid: gid_t,
    flags: c_int,
) -> c_int {
    guarded!(-1, {
        if flags & libc::AT_EMPTY_PATH != 0 && !path.is_null() && {
            // SAFETY: path is a valid C string; its first byte is in bounds.
            unsafe { *path == 0 }
        } {
            return sys!(libc::SYS_fchownat, dirfd, path, uid, gid, flags);
        }
        // SAFETY: the caller's arguments, passed on.
        unsafe {
            one_path(
                dirfd,
                path,
                || sys!(libc::SYS_fchownat, dirfd, path, uid, gid, flags),
                |p| Call::Chown {
                    path: p,
                    uid,
                    gid,
                    flags,
                },
            )
        }
    })
}

/// Brokered `chown`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn chown(path: *const c_char, uid: uid_t, gid: gid_t) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    unsafe { fchownat(libc::AT_FDCWD, path, uid, gid, 0) }
}

/// Brokered `lchown`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn lchown(path: *const c_char, uid: uid_t, gid: gid_t) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    unsafe { fchownat(libc::AT_FDCWD, path, uid, gid, libc::AT_SYMLINK_NOFOLLOW) }
}

/// Brokered `utimensat` (a null path means `futimens` on `dirfd`: no authority needed).
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn utimensat(
    dirfd: c_int,
    path: *const c_char,
    times: *const libc::timespec,
    flags: c_int,
) -> c_int {
    guarded!(-1, {
        if path.is_null() {
            return sys!(libc::SYS_utimensat, dirfd, path, times, flags);
        }
        let t = if times.is_null() {
            None
        } else {
            // SAFETY: a non-null `times` points at two timespecs per libc's contract.
            let ts = unsafe { std::slice::from_raw_parts(times, 2) };
            Some([
                Timespec {
                    sec: ts[0].tv_sec,
                    nsec: ts[0].tv_nsec,
                },
                Timespec {
                    sec: ts[1].tv_sec,
                    nsec: ts[1].tv_nsec,
                },
            ])
        };
        // SAFETY: the caller's arguments, passed on.
        unsafe {
            one_path(
                dirfd,
                path,
                || sys!(libc::SYS_utimensat, dirfd, path, times, flags),
                |p| Call::Utimens {
                    path: p,
                    times: t,
                    flags,
                },
            )
        }
    })
}

/// `timeval` pairs to `timespec` pairs (null stays null).
///
/// # Safety
/// `tv` is null or points at two timevals.
unsafe fn timevals(
    tv: *const libc::timeval,
    out: &mut [libc::timespec; 2],
) -> *const libc::timespec {
    if tv.is_null() {
        return std::ptr::null();
    }
    // SAFETY: guaranteed by the caller.
    let t = unsafe { std::slice::from_raw_parts(tv, 2) };
    for i in 0..2 {
        out[i] = libc::timespec {
            tv_sec: t[i].tv_sec,
            tv_nsec: t[i].tv_usec * 1000,
        };
    }
    out.as_ptr()
}

/// Brokered `utimes`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn utimes(path: *const c_char, tv: *const libc::timeval) -> c_int {
    let mut ts = [libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    }; 2];
    // SAFETY: the caller's arguments, passed on.
    unsafe { utimensat(libc::AT_FDCWD, path, timevals(tv, &mut ts), 0) }
}

/// Brokered `lutimes`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn lutimes(path: *const c_char, tv: *const libc::timeval) -> c_int {
    let mut ts = [libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    }; 2];
    // SAFETY: the caller's arguments, passed on.
    unsafe {
        utimensat(
            libc::AT_FDCWD,
            path,
            timevals(tv, &mut ts),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    }
}

/// Brokered `utime`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn utime(path: *const c_char, times: *const libc::utimbuf) -> c_int {
    if times.is_null() {
        // SAFETY: the caller's arguments, passed on.
        return unsafe { utimensat(libc::AT_FDCWD, path, std::ptr::null(), 0) };
    }
    // SAFETY: a non-null `times` points at a utimbuf per libc's contract.
    let t = unsafe { &*times };
    let ts = [
        libc::timespec {
            tv_sec: t.actime,
            tv_nsec: 0,
        },
        libc::timespec {
            tv_sec: t.modtime,
            tv_nsec: 0,
        },
    ];
    // SAFETY: the caller's arguments, passed on.
    unsafe { utimensat(libc::AT_FDCWD, path, ts.as_ptr(), 0) }
}

/// `umask`, tracked so brokered creations apply the caller's mask.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn umask(mask: mode_t) -> mode_t {
    // SAFETY: umask has no memory effects.
    let old = unsafe { libc::syscall(libc::SYS_umask, mask) } as mode_t;
    state::set_umask(mask);
    old
}
