//! Set-id bits: the broker never applies `S_ISUID`, nor `S_ISGID` to anything but a
//! directory, in a mode it was asked for, and clears them after a `chown` it performs —
//! as if every file system were mounted `nosuid` for the sandbox.
//!
//! The broker acts with its own credentials: started by root, a `chmod 4755` it performed
//! on a file the program wrote made a set-uid-root program that any local user could run
//! after (or during) the run. A set-gid directory only hands its group down to new entries,
//! which is kept (`make install` trees, shared group directories).

use std::os::fd::{AsRawFd, BorrowedFd};

use crate::core::errno::{check, Errno};
use crate::core::stat::{file_type, statx};

const SETID: u32 = libc::S_ISUID | libc::S_ISGID;

/// `mode` without the set-id bits the broker does not apply to an object of type `kind`
/// (`S_IFMT` bits; `0` for a regular file, as `mknod` takes it).
pub fn strip(mode: u32, kind: u32) -> u32 {
    if kind == libc::S_IFDIR {
        mode & !libc::S_ISUID
    } else {
        mode & !SETID
    }
}

/// `mode` for a new regular file (`open` with `O_CREAT` or `O_TMPFILE`).
pub fn for_file(mode: u32) -> u32 {
    strip(mode, libc::S_IFREG)
}

/// `mode` for a new directory.
pub fn for_dir(mode: u32) -> u32 {
    strip(mode, libc::S_IFDIR)
}

/// `mode` for a `chmod` of the file `file` (an `O_PATH` fd) names: stripped for its type.
pub fn for_chmod(file: BorrowedFd<'_>, mode: u32) -> Result<u32, Errno> {
    let st = statx(file.as_raw_fd(), c"", libc::AT_EMPTY_PATH)?;
    Ok(strip(mode, file_type(st.mode)))
}

/// After a `chown` of what `file` (an `O_PATH` fd) names: clears the set-id bits the
/// kernel left (a set-gid file without group execute, a directory's set-uid), so a file the
/// program chowned to another user is never a set-id program of that user.
pub fn clear_after_chown(file: BorrowedFd<'_>) -> Result<(), Errno> {
    let st = statx(file.as_raw_fd(), c"", libc::AT_EMPTY_PATH)?;
    let kind = file_type(st.mode);
    let mode = u32::from(st.mode) & 0o7777;
    if kind == libc::S_IFLNK || strip(mode, kind) == mode {
        return Ok(());
    }
    // SAFETY: the empty string is NUL-terminated; file is an open fd.
    let rc = unsafe {
        libc::syscall(
            452, /* fchmodat2 */
            file.as_raw_fd(),
            c"".as_ptr(),
            strip(mode, kind),
            libc::AT_EMPTY_PATH,
        )
    };
    check(rc as i32).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_uid_never_set_gid_only_on_directories() {
        assert_eq!(for_file(0o4755), 0o755);
        assert_eq!(for_file(0o2755), 0o755);
        assert_eq!(for_file(0o7777), 0o1777);
        assert_eq!(for_dir(0o6775), 0o2775);
        assert_eq!(strip(0o6644, libc::S_IFIFO), 0o644);
        assert_eq!(strip(0o1777, libc::S_IFDIR), 0o1777);
    }
}
