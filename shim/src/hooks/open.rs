//! open, openat, creat and their 64-bit and fortified variants.

use std::ffi::{c_char, c_int};

use arbiter_protocol::Call;
use libc::mode_t;

use crate::fast_dirs;
use crate::fast_path::{self, Answer};
use crate::forward::{fail, fd_call};
use crate::hooks::{guarded, unbrokered};
use crate::path::{prepare, FdList, Prepared, JOIN_BUF};
use crate::state;

/// openat(2) straight to the kernel.
///
/// # Safety
/// `path` must be null or a valid C string.
pub unsafe fn raw_openat(dirfd: c_int, path: *const c_char, flags: c_int, mode: mode_t) -> c_int {
    // SAFETY: the kernel validates the pointer; no memory is owned across the call.
    unsafe { libc::syscall(libc::SYS_openat, dirfd, path, flags, mode) as c_int }
}

/// The brokered openat behind every open-family hook.
///
/// # Safety
/// `path` must be null or a valid C string.
pub unsafe fn brokered_openat(
    dirfd: c_int,
    path: *const c_char,
    flags: c_int,
    mode: mode_t,
) -> c_int {
    if unbrokered() {
        // SAFETY: forwarded unchanged.
        return unsafe { raw_openat(dirfd, path, flags, mode) };
    }
    // SAFETY: forwarded unchanged.
    let fd = unsafe { open_either_way(dirfd, path, flags, mode) };
    let writes =
        libc::O_WRONLY | libc::O_RDWR | libc::O_CREAT | (libc::O_TMPFILE & !libc::O_DIRECTORY);
    if fd >= 0 && flags & writes == 0 && !path.is_null() {
        // Perhaps a directory opened for walking (fts, tar, opendirat): remember whether
        // calls relative to it may take the fast paths (one fstat if it is not one).
        // SAFETY: a non-null path is a C string per this function's contract.
        if let Some(len) = unsafe { crate::sys::c_str_len(path, arbiter_protocol::MAX_PATH - 1) } {
            // SAFETY: c_str_len found `len` bytes and then the NUL.
            let with_nul = unsafe { crate::sys::bytes(path, len + 1) };
            fast_dirs::note_opened(dirfd, &with_nul[..len], fd, |abs| {
                fast_path::vouch_dir(&fast_path::CallerPathBytes(with_nul), abs)
            });
        }
    }
    fd
}

/// The open itself: in-process when the fast path may, else through the broker.
///
/// # Safety
/// `path` must be null or a valid C string.
unsafe fn open_either_way(dirfd: c_int, path: *const c_char, flags: c_int, mode: mode_t) -> c_int {
    if !path.is_null() {
        // SAFETY: a non-null path is a C string per this function's contract.
        if unsafe { fast_path::no_terminal(path, flags) } {
            return fail(libc::ENXIO);
        }
        // SAFETY: as above.
        match unsafe { fast_path::open(dirfd, path, flags) } {
            Answer::Done(Ok(fd)) => return fd,
            Answer::Done(Err(e)) => return fail(e),
            Answer::Broker => {}
        }
    }
    let mut join = [0u8; JOIN_BUF];
    let mut fds = FdList::default();
    // SAFETY: path is a valid C string per this function's contract.
    match unsafe { prepare(dirfd, path, &mut join, &mut fds) } {
        Prepared::Fail(e) => fail(e),
        // SAFETY: forwarded unchanged.
        Prepared::PassThrough => unsafe { raw_openat(dirfd, path, flags, mode) },
        Prepared::Forward(p) => {
            let wants_mode =
                flags & libc::O_CREAT != 0 || flags & libc::O_TMPFILE == libc::O_TMPFILE;
            let call = Call::Open {
                path: p,
                flags,
                mode: if wants_mode { mode } else { 0 },
                umask: state::umask(),
            };
            fd_call(&call, fds.as_slice(), flags & libc::O_CLOEXEC != 0)
        }
    }
}

macro_rules! open_hooks {
    ($($name:ident),*) => {$(
        /// Brokered `open`. The mode argument is read as a plain third argument, which is
        /// ABI-correct for this variadic function on x86_64 and aarch64 Linux.
        ///
        /// # Safety
        /// Called by C code with libc's contract for this function.
        #[no_mangle]
        pub unsafe extern "C" fn $name(path: *const c_char, flags: c_int, mode: mode_t) -> c_int {
            // SAFETY: the arguments are the caller's, passed on unchanged.
            guarded!(-1, unsafe { brokered_openat(libc::AT_FDCWD, path, flags, mode) })
        }
    )*};
}
open_hooks!(open, open64);

macro_rules! openat_hooks {
    ($($name:ident),*) => {$(
        /// Brokered `openat`.
        ///
        /// # Safety
        /// Called by C code with libc's contract for this function.
        #[no_mangle]
        pub unsafe extern "C" fn $name(dirfd: c_int, path: *const c_char, flags: c_int, mode: mode_t) -> c_int {
            // SAFETY: the arguments are the caller's, passed on unchanged.
            guarded!(-1, unsafe { brokered_openat(dirfd, path, flags, mode) })
        }
    )*};
}
openat_hooks!(openat, openat64);

macro_rules! open2_hooks {
    ($($name:ident),*) => {$(
        /// Brokered fortified `open` (`_FORTIFY_SOURCE`), which takes no mode.
        ///
        /// # Safety
        /// Called by C code with libc's contract for this function.
        #[no_mangle]
        pub unsafe extern "C" fn $name(path: *const c_char, flags: c_int) -> c_int {
            // SAFETY: the arguments are the caller's, passed on unchanged.
            guarded!(-1, unsafe { brokered_openat(libc::AT_FDCWD, path, flags, 0) })
        }
    )*};
}
open2_hooks!(__open_2, __open64_2);

macro_rules! openat2_hooks {
    ($($name:ident),*) => {$(
        /// Brokered fortified `openat`.
        ///
        /// # Safety
        /// Called by C code with libc's contract for this function.
        #[no_mangle]
        pub unsafe extern "C" fn $name(dirfd: c_int, path: *const c_char, flags: c_int) -> c_int {
            // SAFETY: the arguments are the caller's, passed on unchanged.
            guarded!(-1, unsafe { brokered_openat(dirfd, path, flags, 0) })
        }
    )*};
}
openat2_hooks!(__openat_2, __openat64_2);

macro_rules! creat_hooks {
    ($($name:ident),*) => {$(
        /// Brokered `creat`: open with `O_CREAT|O_WRONLY|O_TRUNC`.
        ///
        /// # Safety
        /// Called by C code with libc's contract for this function.
        #[no_mangle]
        pub unsafe extern "C" fn $name(path: *const c_char, mode: mode_t) -> c_int {
            // SAFETY: the arguments are the caller's, passed on unchanged.
            guarded!(-1, unsafe { brokered_openat(libc::AT_FDCWD, path, libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC, mode) })
        }
    )*};
}
creat_hooks!(creat, creat64);
