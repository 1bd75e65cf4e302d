//! Turning a libc path argument into a request's [`PathArg`].
//!
//! Absolute paths are borrowed as they are. A path relative to the working directory is
//! joined with `getcwd(2)` into a caller-provided buffer, so the broker never uses its own
//! working directory. A path relative to a directory fd sends that fd along (`SCM_RIGHTS`).
//! Paths the kernel must resolve in the caller's own context (`/proc/self`, `/dev/fd/N`,
//! `/dev/stdin`…) are not brokered: they name the caller's own descriptors.

use std::ffi::{c_char, c_int};

use arbiter_protocol::{At, PathArg, MAX_PATH};

use crate::sys::{self, bytes, c_str_len};

/// Room for a working directory and a relative path joined.
pub const JOIN_BUF: usize = MAX_PATH + 1;

/// What to do with a path argument.
pub enum Prepared<'a> {
    /// Send it to the broker.
    Forward(PathArg<'a>),
    /// Let the real libc handle it (not authority-bearing, or resolved in the caller).
    PassThrough,
    /// Fail the call with this errno, as libc would.
    Fail(c_int),
}

/// Paths naming the caller's own process state, resolved by the kernel in the caller.
fn is_self_reference(p: &[u8]) -> bool {
    const PREFIXES: &[&[u8]] = &[
        b"/proc/self",
        b"/proc/thread-self",
        b"/dev/fd",
        b"/dev/stdin",
        b"/dev/stdout",
        b"/dev/stderr",
    ];
    PREFIXES
        .iter()
        .any(|pre| p.starts_with(pre) && (p.len() == pre.len() || p[pre.len()] == b'/'))
}

/// Prepares `path` (relative to `dirfd`). A directory fd is appended to `fds`.
///
/// # Safety
/// `path` must be null or a valid C string that outlives the returned value.
pub unsafe fn prepare<'a>(
    dirfd: c_int,
    path: *const c_char,
    join: &'a mut [u8; JOIN_BUF],
    fds: &mut FdList,
) -> Prepared<'a> {
    // SAFETY: path is null or a C string per this function's contract.
    let Some(len) = (unsafe { c_str_len(path, MAX_PATH) }) else {
        return Prepared::Fail(if path.is_null() {
            libc::EFAULT
        } else {
            libc::ENAMETOOLONG
        });
    };
    // SAFETY: c_str_len found `len` readable bytes before the NUL.
    let p = unsafe { bytes(path, len) };
    if p.is_empty() {
        return Prepared::Fail(libc::ENOENT);
    }
    if p[0] == b'/' {
        if is_self_reference(p) {
            return Prepared::PassThrough;
        }
        return Prepared::Forward(PathArg {
            at: At::Absolute,
            path: p,
        });
    }
    if dirfd == libc::AT_FDCWD {
        let cwd_len = match sys::getcwd(&mut join[..]) {
            Ok(n) => n,
            Err(e) => return Prepared::Fail(e),
        };
        let total = cwd_len + 1 + p.len();
        if total > MAX_PATH {
            return Prepared::Fail(libc::ENAMETOOLONG);
        }
        join[cwd_len] = b'/';
        join[cwd_len + 1..total].copy_from_slice(p);
        let joined = &join[..total];
        if is_self_reference(joined) {
            return Prepared::PassThrough;
        }
        return Prepared::Forward(PathArg {
            at: At::Absolute,
            path: joined,
        });
    }
    if dirfd < 0 {
        return Prepared::Fail(libc::EBADF);
    }
    // A directory vouched for beneath a fast-path root, still at its real path: name it by
    // that path (see crate::fast_dirs::path_of) rather than passing the fd.
    let mut dir = [0u8; crate::fast_dirs::PATH_CAP + 1];
    if let Some(n) = crate::fast_dirs::path_of(dirfd, &mut dir) {
        let total = n + 1 + p.len();
        if total <= MAX_PATH {
            join[..n].copy_from_slice(&dir[..n]);
            join[n] = b'/';
            join[n + 1..total].copy_from_slice(p);
            let joined = &join[..total];
            if is_self_reference(joined) {
                return Prepared::PassThrough;
            }
            return Prepared::Forward(PathArg {
                at: At::Absolute,
                path: joined,
            });
        }
    }
    match fds.push(dirfd) {
        Some(i) => Prepared::Forward(PathArg {
            at: At::Fd(i),
            path: p,
        }),
        None => Prepared::Fail(libc::EINVAL),
    }
}

/// The fds that travel with one request.
#[derive(Default)]
pub struct FdList {
    fds: [c_int; arbiter_protocol::MAX_FDS],
    len: usize,
}

impl FdList {
    /// Appends `fd`; returns its index.
    pub fn push(&mut self, fd: c_int) -> Option<u8> {
        if self.len == self.fds.len() {
            return None;
        }
        self.fds[self.len] = fd;
        self.len += 1;
        Some((self.len - 1) as u8)
    }

    /// The fds in order.
    pub fn as_slice(&self) -> &[c_int] {
        &self.fds[..self.len]
    }
}
