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

use crate::confine::privilege::{capget, capset, CapData};
use crate::core::resolve::RealDir;
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

/// How the transport answers an open or `access` that qualifies by form.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Shortcut {
    /// Let the kernel perform the program's own call (`SECCOMP_USER_NOTIF_FLAG_CONTINUE`).
    Continue,
    /// The name does not exist beneath a missing-answer root: `ENOENT`, the broker's answer.
    Missing,
    /// The broker decides as before.
    Broker,
}

/// What a canonical absolute path names, looked up as the broker's own lookup would.
enum Look {
    /// The file's real path (its final component exists), its type (`S_IFMT` bits) and
    /// identity (device, inode).
    Found {
        real: Vec<u8>,
        kind: u32,
        id: Option<(u64, u64)>,
    },
    /// The final component, or a directory on the way, does not exist; `dir` is the real
    /// path of the directory part (up to the missing component, which it holds).
    Missing { dir: Vec<u8> },
    /// Anything else.
    Other,
}

/// Looks `path` (canonical, absolute) up: its directory part opened with no symlink on
/// the way, or past a symlinked first component (`resolve::open_real_dir`), the final
/// component by `statx` without following.
fn look(path: &[u8]) -> Look {
    if !canonical_file(path) {
        return Look::Other;
    }
    let split = path.iter().rposition(|&b| b == b'/').unwrap_or(0);
    let (dir, name) = (&path[..split.max(1)], &path[split + 1..]);
    let Ok(name) = CString::new(name) else {
        return Look::Other;
    };
    let (parent, real_dir) = match crate::core::resolve::open_real_dir(dir) {
        RealDir::Open(fd, real) => (fd, real),
        RealDir::Missing => return Look::Missing { dir: dir.to_vec() },
        RealDir::Other => return Look::Other,
    };
    // SAFETY: statx is plain old data, filled by the call.
    let mut st: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: name is NUL-terminated; st is a valid out-pointer; the parent fd is open.
    let rc = unsafe {
        libc::statx(
            parent.as_raw_fd(),
            name.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
            libc::STATX_TYPE | libc::STATX_INO,
            &mut st,
        )
    };
    if rc != 0 {
        return if std::io::Error::last_os_error().raw_os_error() == Some(libc::ENOENT) {
            Look::Missing { dir: real_dir }
        } else {
            Look::Other
        };
    }
    let mut real = real_dir;
    if real != b"/" {
        real.push(b'/');
    }
    real.extend_from_slice(name.as_bytes());
    let id = (st.stx_mask & libc::STATX_INO != 0).then(|| {
        (
            libc::makedev(st.stx_dev_major, st.stx_dev_minor),
            st.stx_ino,
        )
    });
    Look::Found {
        real,
        kind: u32::from(st.stx_mode) & libc::S_IFMT,
        id,
    }
}

/// Whether the flags of an `open`/`openat` ask only to read.
fn reads_only(flags: i32) -> bool {
    flags & !ALLOWED_FLAGS == 0 && flags & libc::O_ACCMODE == libc::O_RDONLY
}

/// How the read-only open of `path` with `flags` is answered (see the module's
/// documentation): [`Shortcut::Continue`] where the kernel's open ends where the broker's
/// would, [`Shortcut::Missing`] where the name does not exist beneath one of
/// `missing_roots`. `roots` and `missing_roots` are real paths.
pub(super) fn open_shortcut(
    roots: &[PathBuf],
    missing_roots: &[PathBuf],
    path: &[u8],
    flags: i32,
) -> Shortcut {
    // Not beneath a root as written may still be beneath one as the real path (`/lib` →
    // `/usr/lib`): decided on the real path below.
    if roots.is_empty() || !reads_only(flags) || beneath(path, b"/proc") {
        return Shortcut::Broker;
    }
    match look(path) {
        Look::Found { real, kind, .. } => {
            let wanted = if flags & libc::O_DIRECTORY != 0 {
                kind == libc::S_IFDIR
            } else {
                kind == libc::S_IFREG || kind == libc::S_IFDIR
            };
            if wanted && beneath_any(roots, &real) && readable_without_capabilities(&real) {
                Shortcut::Continue
            } else {
                Shortcut::Broker
            }
        }
        Look::Missing { dir } if beneath_any(missing_roots, &dir) => Shortcut::Missing,
        _ => Shortcut::Broker,
    }
}

/// How `access`/`faccessat`/`faccessat2` of `path` is answered: [`Shortcut::Missing`]
/// where the name does not exist beneath one of `missing_roots` (the broker answers a
/// missing name's `ENOENT` whatever the mode asks, where `stat` is allowed), else
/// [`Shortcut::Broker`]. `mode` and `flags` must be ones the kernel accepts.
pub(super) fn access_shortcut(
    missing_roots: &[PathBuf],
    path: &[u8],
    mode: i32,
    flags: i32,
) -> Shortcut {
    if missing_roots.is_empty()
        || mode & !(libc::R_OK | libc::W_OK | libc::X_OK) != 0
        || flags & !(libc::AT_EACCESS | libc::AT_SYMLINK_NOFOLLOW) != 0
        || beneath(path, b"/proc")
    {
        return Shortcut::Broker;
    }
    match look(path) {
        Look::Missing { dir } if beneath_any(missing_roots, &dir) => Shortcut::Missing,
        _ => Shortcut::Broker,
    }
}

/// Whether the read-only open of the floor's exact read-only file at `path` (the shim),
/// surveyed as `id` (device, inode), may be performed by the kernel: native reads are on
/// (`roots` not empty, so what Landlock lets the program read is what the policy grants,
/// plus the shim), the flags ask only to read, the name is that object, reached with no
/// symlink on the way nor at the end, and the program's credentials can read it.
pub(super) fn floor_file_continues(
    roots: &[PathBuf],
    path: &[u8],
    flags: i32,
    id: (u64, u64),
) -> bool {
    if roots.is_empty() || !reads_only(flags) || flags & libc::O_DIRECTORY != 0 {
        return false;
    }
    let Look::Found {
        real,
        kind,
        id: found,
    } = look(path)
    else {
        return false;
    };
    real == path
        && kind == libc::S_IFREG
        && found == Some(id)
        && readable_without_capabilities(&real)
}

/// `path` lies beneath (or is) one of `roots`, and not beneath `/proc`: the broker's to
/// decide (`core::procself`), never a native-read root's (`confine::floor::native_reads`),
/// whatever the roots say (defence in depth).
fn beneath_any(roots: &[PathBuf], path: &[u8]) -> bool {
    !beneath(path, b"/proc")
        && roots
            .iter()
            .any(|r| beneath(path, r.as_os_str().as_bytes()))
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

thread_local! {
    /// This worker's capabilities as its setup left them (read at its first check; a
    /// worker changes them only in its setup, under `arbiter serve`, which runs before it
    /// takes a notification).
    static CAPS: std::cell::Cell<Option<[CapData; 2]>> = const { std::cell::Cell::new(None) };
    /// Whether this worker's `CAP_DAC_OVERRIDE` and `CAP_DAC_READ_SEARCH` are dropped from
    /// its effective set now: left so after a check, until [`full_capabilities`].
    static DROPPED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether the broker's uid and groups, without the capabilities that override file
/// permissions — the sandboxed program's credentials — may read `path` (every directory on
/// the way searched, the file read, ACLs included): `faccessat2(AT_EACCESS)` in this thread
/// with those capabilities dropped from its effective set. They stay dropped after the
/// check, so that the next one (ld.so's and glibc's opens come one after another) needs no
/// `capset`: whatever needs the broker's rights calls [`full_capabilities`] first.
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
    if DROPPED.with(|d| d.get()) {
        return access();
    }
    let caps = match CAPS.with(|c| c.get()) {
        Some(caps) => caps,
        None => {
            let Ok(caps) = capget() else {
                return false;
            };
            CAPS.with(|c| c.set(Some(caps)));
            caps
        }
    };
    if caps[0].effective & DAC_CAPS == 0 {
        return access();
    }
    let mut dropped = caps;
    dropped[0].effective &= !DAC_CAPS;
    if capset(&dropped).is_err() {
        return false;
    }
    DROPPED.with(|d| d.set(true));
    access()
}

/// Gives this worker back the capabilities a check of [`readable_without_capabilities`]
/// left dropped, before it acts with the broker's rights. `Err` when that fails: the
/// worker then has fewer rights than the broker's, and its caller answers `EACCES`
/// (fail closed) — it stays so for every later call.
pub(super) fn full_capabilities() -> Result<(), i32> {
    if !DROPPED.with(|d| d.get()) {
        return Ok(());
    }
    let Some(caps) = CAPS.with(|c| c.get()) else {
        return Err(libc::EACCES);
    };
    capset(&caps).map_err(|_| libc::EACCES)?;
    DROPPED.with(|d| d.set(false));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn may_continue(roots: &[PathBuf], path: &[u8], flags: i32) -> bool {
        open_shortcut(roots, roots, path, flags) == Shortcut::Continue
    }

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
        // Missing: not continued; the broker's ENOENT only beneath a missing-answer root.
        assert!(!may_continue(&roots, b"/usr/nonexistent-arbiter", ro));
        assert_eq!(
            open_shortcut(&roots, &roots, b"/usr/nonexistent-arbiter", ro),
            Shortcut::Missing
        );
        assert_eq!(
            open_shortcut(&roots, &roots, b"/usr/nonexistent-arbiter/a/b", ro),
            Shortcut::Missing
        );
        assert_eq!(
            open_shortcut(&roots, &[], b"/usr/nonexistent-arbiter", ro),
            Shortcut::Broker
        );
        assert_eq!(
            open_shortcut(
                &roots,
                &roots,
                b"/usr/nonexistent-arbiter",
                ro | libc::O_CREAT
            ),
            Shortcut::Broker
        );
        // A missing file root's own name: its directory is not beneath the root.
        let missing_file = [PathBuf::from("/etc/nonexistent-arbiter")];
        assert_eq!(
            access_shortcut(&missing_file, b"/etc/nonexistent-arbiter", 0, 0),
            Shortcut::Broker
        );
        assert_eq!(
            access_shortcut(&roots, b"/usr/nonexistent-arbiter", libc::W_OK, 0),
            Shortcut::Missing
        );
        assert_eq!(
            access_shortcut(&roots, b"/usr/nonexistent-arbiter", 0o10, 0),
            Shortcut::Broker
        );
        // Beneath /proc: never, even beneath a root that holds it.
        let all = [PathBuf::from("/")];
        assert!(!may_continue(&all, b"/proc/1/status", ro));
        assert!(!may_continue(&all, b"/proc/self/limits", ro));
        assert!(!may_continue(&all, b"/proc", ro | libc::O_DIRECTORY));
        assert_eq!(
            open_shortcut(&all, &all, b"/proc/nonexistent-arbiter", ro),
            Shortcut::Broker
        );
        if std::path::Path::new("/usr/bin/true").is_file() {
            assert!(may_continue(&all, b"/usr/bin/true", ro));
        }
    }

    #[test]
    fn a_symlinked_first_component_continues_at_its_real_path() {
        // Merged /usr: /lib -> usr/lib. Decided on the real path.
        let Ok(target) = std::fs::read_link("/lib") else {
            return;
        };
        if target != std::path::Path::new("usr/lib") {
            return;
        }
        let Some(lib) = std::fs::read_dir("/usr/lib").ok().and_then(|mut d| {
            d.find_map(|e| {
                let e = e.ok()?;
                e.file_type().ok()?.is_file().then(|| e.file_name())
            })
        }) else {
            return;
        };
        let path = [b"/lib/".as_slice(), lib.as_bytes()].concat();
        let ro = libc::O_RDONLY;
        assert!(may_continue(&[PathBuf::from("/usr/lib")], &path, ro));
        // The link's own place is no root's: the real path decides.
        assert!(!may_continue(&[PathBuf::from("/lib")], &path, ro));
    }
}
