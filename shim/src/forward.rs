//! Running a call through the broker and mapping the reply back to the C ABI: one place
//! owns errno and the return conventions.

use std::ffi::c_int;
use std::os::fd::RawFd;

use arbiter_protocol::{Call, Payload, Reply, WireStat};

use crate::channel;
use crate::sys::{raw_close, set_errno};

/// Forwards a call whose result is an int (0 or -1 with errno).
pub fn int_call(call: &Call<'_>, fds: &[RawFd]) -> c_int {
    match channel::call(call, fds, |reply, got| {
        close_all(got);
        finish(reply)
    }) {
        Ok(v) => v,
        Err(e) => fail(e),
    }
}

/// Forwards a call that returns an fd; `cloexec` says whether the program asked for
/// `O_CLOEXEC` (fds always arrive close-on-exec, then the flag is cleared if not asked for).
pub fn fd_call(call: &Call<'_>, fds: &[RawFd], cloexec: bool) -> c_int {
    match channel::call(call, fds, |reply, got| {
        if reply.result < 0 || got.len() != 1 {
            close_all(got);
            if reply.result >= 0 {
                set_errno(libc::EIO);
                return -1;
            }
            return finish(reply);
        }
        let fd = got[0];
        if !cloexec {
            // SAFETY: fcntl with integer arguments only.
            unsafe { libc::syscall(libc::SYS_fcntl, fd, libc::F_SETFD, 0) };
        }
        fd
    }) {
        Ok(v) => v,
        Err(e) => fail(e),
    }
}

/// Forwards a stat-like call; fills `out` through `fill` on success.
pub fn stat_call(call: &Call<'_>, fds: &[RawFd], fill: impl FnOnce(&WireStat)) -> c_int {
    match channel::call(call, fds, |reply, got| {
        close_all(got);
        match (&reply.payload, reply.result) {
            (Payload::Stat(st), r) if r >= 0 => {
                fill(st);
                0
            }
            _ => finish(reply),
        }
    }) {
        Ok(v) => v,
        Err(e) => fail(e),
    }
}

/// Forwards readlink: copies at most `cap` bytes into `out` (no NUL, as readlink does).
///
/// # Safety
/// `out` must have `cap` writable bytes.
pub unsafe fn readlink_call(call: &Call<'_>, fds: &[RawFd], out: *mut u8, cap: usize) -> isize {
    match channel::call(call, fds, |reply, got| {
        close_all(got);
        match (&reply.payload, reply.result) {
            (Payload::Bytes(b), r) if r >= 0 => {
                let n = b.len().min(cap);
                // SAFETY: the caller guarantees `out` has `cap` writable bytes; n <= cap.
                unsafe { std::ptr::copy_nonoverlapping(b.as_ptr(), out, n) };
                n as isize
            }
            _ => finish(reply) as isize,
        }
    }) {
        Ok(v) => v,
        Err(e) => fail(e) as isize,
    }
}

fn close_all(fds: &[RawFd]) {
    for &fd in fds {
        raw_close(fd);
    }
}

/// The int result of a reply, setting errno on failure.
fn finish(reply: &Reply<'_>) -> c_int {
    if reply.result < 0 {
        set_errno(reply.errno);
        -1
    } else {
        reply.result as c_int
    }
}

/// Fails the libc call with `errno`.
pub fn fail(errno: c_int) -> c_int {
    set_errno(errno);
    -1
}
