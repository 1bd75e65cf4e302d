//! Keeping the bootstrap socket open through programs that close every fd they did not
//! open (`close_range`, `closefrom`, loops of `close`): closing it is reported as done but
//! skipped, so exec'd programs stay brokered. The fast-path table at fd 1022
//! ([`crate::fast_table`]) is spared the same way, so they also keep reading it (a `dup2`
//! onto it simply replaces it: it is only a hint). A `dup2`/`dup3` onto its number first moves
//! the bootstrap socket out of the way, then lets the program have the number.

use std::ffi::{c_int, c_uint};

use crate::hooks::guarded;
use crate::real_fn;
use crate::state;
use arbiter_protocol::fast_table::FAST_TABLE_FD;

real_fn!(real_close, c"close", fn(c_int) -> c_int);

/// `close`, except for the shim's bootstrap socket and the fast-path table.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn close(fd: c_int) -> c_int {
    if state::is_protected(fd) || (fd == FAST_TABLE_FD && crate::fast_table::is_table(fd)) {
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

/// The descriptors `close_range` must spare within `first..=last`, in ascending order:
/// the bootstrap socket, and fd 1022 when it holds the fast-path table (so the programs a
/// process starts after closing "every" descriptor still read it: Python's `subprocess`,
/// for one, closes all but 0–2 before exec).
fn spared_in(first: c_uint, last: c_uint) -> [Option<c_uint>; 2] {
    let within =
        |fd: c_int| (fd >= 0 && (first..=last).contains(&(fd as c_uint))).then_some(fd as c_uint);
    let boot = within(state::bootstrap());
    let table = within(FAST_TABLE_FD).filter(|_| crate::fast_table::is_table(FAST_TABLE_FD));
    match (boot, table) {
        (Some(b), Some(t)) if t < b => [Some(t), Some(b)],
        (b, t) => [b, t],
    }
}

/// `close_range`, split around the bootstrap socket and the fast-path table.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn close_range(first: c_uint, last: c_uint, flags: c_int) -> c_int {
    guarded!(-1, {
        let mut from = first;
        for spared in spared_in(first, last).into_iter().flatten() {
            if spared > from {
                let rc = close_range_raw(from, spared - 1, flags);
                if rc < 0 {
                    return rc;
                }
            }
            match spared.checked_add(1) {
                Some(next) => from = next,
                None => return 0,
            }
        }
        close_range_raw(from, last, flags)
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
