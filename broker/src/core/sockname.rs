//! The name a pathname unix socket is bound by.
//!
//! The kernel records the `sun_path` string `bind` was given, and `getsockname()` (and a
//! client's `getpeername()`) report that string: `s.bind("s.sock")` reports `s.sock`. The
//! broker decides on the socket's parent directory, held as an `O_PATH` fd, so it must bind
//! *in that directory* and, to report what the program would see natively, *with the
//! program's string*. For a relative path whose only real component is the final one
//! (`s.sock`, `./s.sock`: Python's multiprocessing, gpg-agent, test servers) both hold at
//! once: a thread of the broker takes a working directory of its own (`unshare(CLONE_FS)`),
//! `fchdir`s to the held directory and binds the program's string, which the kernel then
//! resolves from that very directory — no path is looked up again, so nothing swapped into
//! the path meanwhile (by this sandbox or by any other process) can move the socket
//! elsewhere. Any other path keeps the broker's form (the real path, or the held
//! directory's `/proc/self/fd` name; see `net::bind_at`).

use std::os::fd::{AsRawFd, OwnedFd};

use arbiter_protocol::{At, PathArg};

use crate::core::errno::{check, Errno};
use crate::core::net::RawAddr;
use crate::core::resolve::Location;

/// The program's own string, when binding it relative to the decided directory `loc.parent`
/// names exactly `loc`: a relative path (to the caller's working directory) made of `.`
/// components and empty ones (`.//x`) followed by the final name, with no trailing slash.
pub(crate) fn as_given<'a>(path: &PathArg<'a>, loc: &Location) -> Option<&'a [u8]> {
    if !matches!(path.at, At::Fd(_)) || path.path.first() == Some(&b'/') {
        return None;
    }
    let mut parts = path.path.rsplit(|&b| b == b'/');
    let last = parts.next()?;
    if last.is_empty() || last == b"." || last == b".." || last != loc.name.as_slice() {
        return None;
    }
    parts
        .all(|p| p.is_empty() || p == b".")
        .then_some(path.path)
}

/// bind(2) of `sock` to `raw` (the program's relative name, see [`as_given`]) resolved from `dir`: on a
/// thread with a working directory of its own set to `dir`, so the broker's other threads
/// and the decided directory are never confused. The thread ends after the bind.
pub(crate) fn bind_in(dir: &OwnedFd, sock: &OwnedFd, raw: &RawAddr) -> Result<(), Errno> {
    std::thread::scope(|s| {
        let worker = std::thread::Builder::new()
            .name("arbiter-bind".into())
            .spawn_scoped(s, || {
                // SAFETY: unshare and fchdir take integer arguments and affect only this
                // thread's fs context once unshared (CLONE_FS is per thread after unshare).
                check(unsafe { libc::unshare(libc::CLONE_FS) })?;
                // SAFETY: as above; dir is an open directory fd (O_PATH is accepted).
                check(unsafe { libc::fchdir(dir.as_raw_fd()) })?;
                // SAFETY: raw points at a valid sockaddr of raw.len bytes.
                check(unsafe { libc::bind(sock.as_raw_fd(), raw.ptr(), raw.len) }).map(|_| ())
            })
            .map_err(|_| Errno(libc::EAGAIN))?;
        worker.join().unwrap_or(Err(Errno(libc::EIO)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn loc(name: &[u8]) -> Location {
        let parent = crate::core::resolve::openat_raw(
            libc::AT_FDCWD,
            c"/",
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            0,
        )
        .expect("open /");
        Location {
            parent,
            parent_path: PathBuf::from("/"),
            name: name.to_vec(),
            trailing_slash: false,
            last: crate::core::resolve::Last::Name,
        }
    }

    fn given(at: At, path: &[u8], name: &[u8]) -> Option<Vec<u8>> {
        as_given(&PathArg { at, path }, &loc(name)).map(<[u8]>::to_vec)
    }

    #[test]
    fn only_a_relative_single_name_is_bound_as_given() {
        assert_eq!(
            given(At::Fd(1), b"s.sock", b"s.sock").as_deref(),
            Some(&b"s.sock"[..])
        );
        assert_eq!(
            given(At::Fd(1), b".//./s.sock", b"s.sock").as_deref(),
            Some(&b".//./s.sock"[..])
        );
        // Another directory on the way, a parent, a trailing slash, an absolute path, a
        // name that is not the decided one: the broker's own form.
        assert_eq!(given(At::Fd(1), b"d/s.sock", b"s.sock"), None);
        assert_eq!(given(At::Fd(1), b"../s.sock", b"s.sock"), None);
        assert_eq!(given(At::Fd(1), b"s.sock/", b"s.sock"), None);
        assert_eq!(given(At::Absolute, b"/s.sock", b"s.sock"), None);
        assert_eq!(given(At::Fd(1), b"t.sock", b"s.sock"), None);
        assert_eq!(given(At::Fd(1), b"..", b".."), None);
    }
}
