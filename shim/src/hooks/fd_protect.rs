//! Keeping the bootstrap socket open through programs that close every fd they did not
//! open (`close_range`, `closefrom`, loops of `close`): closing it is reported as done but
//! skipped, so exec'd programs stay brokered. A `dup2`/`dup3` onto its number first moves
//! the bootstrap socket out of the way, then lets the program have the number.

use std::ffi::{c_int, c_uint};

use crate::hooks::guarded;
use crate::real_fn;
use crate::state;

real_fn!(real_close, c"close", fn(c_int) -> c_int);

/// `close`, except for the shim's bootstrap socket.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn close(fd: c_int) -> c_int {
    if state::is_protected(fd) {
        return 0;
    }
    match real_close() {
        // SAFETY: libc's own close with the caller's argument.
        Some(f) => unsafe { f(fd) },
        // SAFETY: close has no memory effects.
        None => unsafe { libc::syscall(libc::SYS_close, fd) as c_int },
    }
}

fn close_range_raw(first: c_uint, last: c_uint, flags: c_int) -> c_int {
    if first > last {
        return 0;
    }
    // SAFETY: close_range has no memory effects.
    unsafe { libc::syscall(libc::SYS_close_range, first, last, flags) as c_int }
}

/// `close_range`, split around the bootstrap socket.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn close_range(first: c_uint, last: c_uint, flags: c_int) -> c_int {
    guarded!(-1, {
        let boot = state::bootstrap();
        if boot < 0 || (boot as c_uint) < first || (boot as c_uint) > last {
            return close_range_raw(first, last, flags);
        }
        let b = boot as c_uint;
        let rc = if b > first {
            close_range_raw(first, b - 1, flags)
        } else {
            0
        };
        if rc < 0 {
            return rc;
        }
        if b < last {
            close_range_raw(b + 1, last, flags)
        } else {
            0
        }
    })
}

/// `closefrom`, sparing the bootstrap socket.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn closefrom(low: c_int) {
    let low = low.max(0) as c_uint;
    // SAFETY: forwarded to our own close_range.
    unsafe { close_range(low, c_uint::MAX, 0) };
}

/// `dup3`, moving the bootstrap socket away first when it is the target.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn dup3(old: c_int, new: c_int, flags: c_int) -> c_int {
    if state::is_protected(new) && old != new && !state::move_bootstrap() {
        return crate::forward::fail(libc::EBUSY);
    }
    // SAFETY: dup3 has no memory effects.
    unsafe { libc::syscall(libc::SYS_dup3, old, new, flags) as c_int }
}

/// `dup2`, moving the bootstrap socket away first when it is the target.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn dup2(old: c_int, new: c_int) -> c_int {
    if old == new {
        // dup2 of an fd onto itself checks it is valid and returns it.
        // SAFETY: fcntl with integer arguments only.
        let rc = unsafe { libc::syscall(libc::SYS_fcntl, old, libc::F_GETFD) };
        return if rc < 0 { -1 } else { new };
    }
    // SAFETY: same contract.
    unsafe { dup3(old, new, 0) }
}
