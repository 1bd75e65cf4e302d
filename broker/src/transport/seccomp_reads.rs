//! Read-only opens beneath the native-read floor, let through to the kernel.
//!
//! With native reads on, the shim marks its read-only opens beneath the floor paths the
//! policy grants reading in full, and the notify filter lets them through: Landlock decides
//! them, and its read rights there are a subset of what the policy grants
//! (`confine::floor::native_reads`). The opens the shim never sees — ld.so's libraries and
//! cache, glibc's locale files (about thirty per program with `LANG=C.UTF-8`), `gconv` —
//! still arrive as notifications. For those the broker answers
//! `SECCOMP_USER_NOTIF_FLAG_CONTINUE` (the kernel performs the program's own call) when the
//! kernel's open ends exactly where the broker's would, instead of opening the file itself,
//! confirming its path and installing it with `SECCOMP_IOCTL_NOTIF_ADDFD` (a dozen system
//! calls and two more context switches):
//!
//! * an `open`/`openat` (flags in registers, which the program cannot change meanwhile; never
//!   `openat2`, whose flags are in its memory) asking only to read: no `O_WRONLY`,
//!   `O_RDWR`, `O_CREAT`, `O_TRUNC`, `O_TMPFILE`, `O_PATH`, `O_NOATIME` or any flag beyond
//!   [`ALLOWED_FLAGS`];
//! * an absolute path in canonical form, as the program wrote it (not one the transport
//!   rewrote: `/proc/self`, a sandbox pid, `/dev/fd/N`), outside `/proc` (the broker's to
//!   decide, `core::procself`), beneath one of the roots
//!   ([`crate::core::RequestCore::continued_read_roots`]: none when every call is recorded or
//!   a decider may be asked), whose parent opens with no symlink on the way
//!   (`openat2(RESOLVE_NO_SYMLINKS)`, so the path is the real one) and whose final component
//!   is a regular file or a directory (never a symlink, which the broker would decide at its
//!   target, nor a FIFO or device); a directory only is asked for with `O_DIRECTORY`;
//! * the program's own credentials can read it: checked with `faccessat2(AT_EACCESS)` by
//!   the worker thread with its `CAP_DAC_OVERRIDE` and `CAP_DAC_READ_SEARCH` dropped for the
//!   check (the sandboxed process has the broker's uid and groups and no capability), so a
//!   file root-without-capabilities may not read is answered by the broker as before.
//!
//! The policy allows every such read (the roots are granted in full), so the broker's
//! answer would be the file. A program that rewrites its path buffer or the file system
//! between the check and the kernel's open gets what Landlock allows on the floor — what a
//! marked open gets it anyway — and a denial of that is Landlock's, unrecorded, like one of
//! its own marked opens (docs/security.md, "Native read-only opens").

use crate::confine::privilege::{capget, capset};
use std::ffi::CString;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// The flags a continued open may carry besides `O_RDONLY`.
const ALLOWED_FLAGS: i32 = libc::O_CLOEXEC
    | libc::O_NONBLOCK
    | libc::O_NOCTTY
    | libc::O_LARGEFILE
    | libc::O_DIRECTORY
    | libc::O_NOFOLLOW;

/// Whether the read-only open of `path` with `flags` may be performed by the kernel itself
/// (see the module's documentation). `roots` are real paths.
pub(super) fn may_continue(roots: &[PathBuf], path: &[u8], flags: i32) -> bool {
    if roots.is_empty()
        || flags & !ALLOWED_FLAGS != 0
        || flags & libc::O_ACCMODE != libc::O_RDONLY
        || !canonical_file(path)
        // Defence in depth: `/proc` is the broker's to decide (`core::procself`), never a
        // native-read root's (`confine::floor::native_reads`), whatever the roots say.
        || beneath(path, b"/proc")
        || !roots
            .iter()
            .any(|r| beneath(path, r.as_os_str().as_bytes()))
    {
        return false;
    }
    let split = path.iter().rposition(|&b| b == b'/').unwrap_or(0);
    let (dir, name) = (&path[..split.max(1)], &path[split + 1..]);
    let Some(parent) = crate::core::resolve::open_plain_dir_exact(std::path::Path::new(
        std::ffi::OsStr::from_bytes(dir),
    )) else {
        return false;
    };
    let Ok(name) = CString::new(name) else {
        return false;
    };
    // SAFETY: statx is plain old data, filled by the call.
    let mut st: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: name is NUL-terminated; st is a valid out-pointer; the parent fd is open.
    let rc = unsafe {
        libc::statx(
            parent.as_raw_fd(),
            name.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
            libc::STATX_TYPE,
            &mut st,
        )
    };
    if rc != 0 {
        return false;
    }
    let kind = u32::from(st.stx_mode) & libc::S_IFMT;
    let wanted = if flags & libc::O_DIRECTORY != 0 {
        kind == libc::S_IFDIR
    } else {
        kind == libc::S_IFREG || kind == libc::S_IFDIR
    };
    wanted && readable_without_capabilities(path)
}

/// An absolute path with no empty, `.` or `..` component and no trailing slash, and not
/// `/` itself.
fn canonical_file(path: &[u8]) -> bool {
    path.len() > 1
        && path.len() < libc::PATH_MAX as usize
        && path.starts_with(b"/")
        && !path.contains(&0)
        && path[1..]
            .split(|&b| b == b'/')
            .all(|c| !c.is_empty() && c != b"." && c != b"..")
}

/// `path` is `root` or lies beneath it (on a component boundary).
fn beneath(path: &[u8], root: &[u8]) -> bool {
    path == root
        || (path.starts_with(root) && (root.ends_with(b"/") || path.get(root.len()) == Some(&b'/')))
}

/// `CAP_DAC_OVERRIDE` (1) and `CAP_DAC_READ_SEARCH` (2) in the first capability word.
const DAC_CAPS: u32 = (1 << 1) | (1 << 2);

/// Whether the broker's uid and groups, without the capabilities that override file
/// permissions — the sandboxed program's credentials — may read `path` (every directory on
/// the way searched, the file read, ACLs included): `faccessat2(AT_EACCESS)` in this thread
/// with those capabilities dropped from its effective set for the call.
fn readable_without_capabilities(path: &[u8]) -> bool {
    let Ok(c) = CString::new(path) else {
        return false;
    };
    let access = || {
        // SAFETY: c is NUL-terminated; integer arguments otherwise.
        unsafe {
            libc::syscall(
                libc::SYS_faccessat2,
                libc::AT_FDCWD,
                c.as_ptr(),
                libc::R_OK,
                libc::AT_EACCESS,
            ) == 0
        }
    };
    let Ok(caps) = capget() else {
        return false;
    };
    if caps[0].effective & DAC_CAPS == 0 {
        return access();
    }
    let mut dropped = caps;
    dropped[0].effective &= !DAC_CAPS;
    if capset(&dropped).is_err() {
        return false;
    }
    let ok = access();
    if capset(&caps).is_err() {
        // This worker could no longer act with the broker's rights: it answers what it can
        // (fail closed) — every later call of this thread that needs them fails.
        return false;
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_reads_beneath_a_root_qualify_by_form() {
        let roots = [PathBuf::from("/usr"), PathBuf::from("/etc/ld.so.cache")];
        let ro = libc::O_RDONLY | libc::O_CLOEXEC;
        assert!(canonical_file(b"/usr/lib/x"));
        assert!(!canonical_file(b"/usr/lib/../x"));
        assert!(!canonical_file(b"/usr//x"));
        assert!(!canonical_file(b"/usr/x/"));
        assert!(!canonical_file(b"/"));
        assert!(beneath(b"/usr/lib", b"/usr"));
        assert!(!beneath(b"/usrx/lib", b"/usr"));
        assert!(beneath(b"/etc/ld.so.cache", b"/etc/ld.so.cache"));
        assert!(!beneath(b"/etc/ld.so.cache.x", b"/etc/ld.so.cache"));
        // Not beneath a root, or not only reading: never.
        assert!(!may_continue(&roots, b"/etc/passwd", ro));
        assert!(!may_continue(&roots, b"/usr/bin/true", libc::O_RDWR));
        assert!(!may_continue(&roots, b"/usr/bin/true", ro | libc::O_TRUNC));
        assert!(!may_continue(&roots, b"/usr/bin/true", ro | libc::O_PATH));
        assert!(!may_continue(
            &roots,
            b"/usr/bin/true",
            ro | libc::O_NOATIME
        ));
        assert!(!may_continue(&roots, b"/usr/bin/true", ro | libc::O_CREAT));
        assert!(!may_continue(&[], b"/usr/bin/true", ro));
        // A file beneath a root, through no symlink: yes (where it exists).
        if std::path::Path::new("/usr/bin/true").is_file() {
            assert!(may_continue(&roots, b"/usr/bin/true", ro));
            // Not as a directory.
            assert!(!may_continue(
                &roots,
                b"/usr/bin/true",
                ro | libc::O_DIRECTORY
            ));
        }
        // Missing: the broker answers.
        assert!(!may_continue(&roots, b"/usr/nonexistent-arbiter", ro));
        // Beneath /proc: never, even beneath a root that holds it.
        let all = [PathBuf::from("/")];
        assert!(!may_continue(&all, b"/proc/1/status", ro));
        assert!(!may_continue(&all, b"/proc/self/limits", ro));
        assert!(!may_continue(&all, b"/proc", ro | libc::O_DIRECTORY));
        if std::path::Path::new("/usr/bin/true").is_file() {
            assert!(may_continue(&all, b"/usr/bin/true", ro));
        }
    }
}
