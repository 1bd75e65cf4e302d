//! Path resolution that leaves no check-then-use window.
//!
//! A request's path is never opened by its string after the check. Instead the broker opens
//! the path's *parent directory* (`O_PATH`), asks the kernel for that directory's real
//! location (`/proc/self/fd/N`), and decides on `real-parent/name`. Every operation then acts
//! on `(parent fd, name)` with symlink following turned off, so what is checked is what is
//! touched: a `..`, a `//`, a symlink in a directory part, or a directory swapped in meanwhile
//! all end up in the real parent path that the policy sees. When the final component is a
//! symlink and the call follows symlinks, the broker reads the link and resolves its target
//! the same way (at most [`MAX_SYMLINK_HOPS`] times, then `ELOOP`, as the kernel does).
//!
//! A directory part that is not plainly canonical (a `..`, a `.`, a `//`, a symlink, a
//! dirfd-relative path) is walked one component at a time ([`walk_dir`]), never following a
//! symlink in the kernel: every directory the walk climbs out of by `..` is recorded, with
//! the directory where a lookup failed before such a climb, so the core can refuse a walk
//! through a directory the policy hides (no existence oracle: `denied/missing/../../ok` and
//! `denied/present/../../ok` answer alike, also when a symlink led into `denied`). A
//! symlink's jump is not a climb: `/var/run` → `/run` needs no right on `/var`.

use std::ffi::{CStr, CString, OsStr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::core::errno::Errno;

/// The kernel's limit on symlinks followed during one resolution.
pub const MAX_SYMLINK_HOPS: usize = 40;

thread_local! {
    /// Symlinks the path lookup this thread is serving may still follow: one budget of
    /// [`MAX_SYMLINK_HOPS`] for the whole lookup (every walk, every final-component hop),
    /// as the kernel counts them, so links made to multiply each other cost `ELOOP`, not
    /// seconds of broker time. [`resolve`] starts a lookup; [`walk_dir`] and
    /// [`follow_once`] (the callers' loops after it) spend from it.
    static LINKS_LEFT: std::cell::Cell<usize> = const { std::cell::Cell::new(MAX_SYMLINK_HOPS) };
}

thread_local! {
    /// The process id of the caller whose call this thread is serving (0: unknown), set by
    /// [`for_caller`]: only that process's own `/proc/<pid>` magic links are followed.
    static CALLER: std::cell::Cell<i32> = const { std::cell::Cell::new(0) };
    /// How the absolute paths of the call this thread is serving spell process ids, set by
    /// [`for_caller`].
    static SPELLING: std::cell::Cell<Spelling> = const { std::cell::Cell::new(Spelling::Host) };
}

/// How the absolute paths a transport hands the core spell process ids under `/proc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spelling {
    /// As the program wrote them, in the sandbox's pid namespace (the shim transport):
    /// [`resolve`] translates a leading `/proc/<n>` once ([`crate::core::procself::translate_own`]).
    Sandbox,
    /// Already in the broker's namespace: the transport translated them where it rewrote
    /// `/proc/self` and the like to the caller's host pid (the seccomp transport), so a
    /// second translation would read a host pid as a sandbox pid. Left as they are.
    Host,
}

/// Runs `f` (a call's decision and action) for the caller with process id `pid` whose paths
/// are spelled as `spelling` says: magic links of `/proc` are followed only in that
/// process's own `/proc/<pid>` (and its threads'), see [`may_follow_in`].
pub fn for_caller<R>(pid: i32, spelling: Spelling, f: impl FnOnce() -> R) -> R {
    struct Reset(i32, Spelling);
    impl Drop for Reset {
        fn drop(&mut self) {
            CALLER.with(|c| c.set(self.0));
            SPELLING.with(|c| c.set(self.1));
        }
    }
    let _reset = Reset(
        CALLER.with(|c| c.replace(pid)),
        SPELLING.with(|c| c.replace(spelling)),
    );
    f()
}

/// `EACCES` when `dir` (the directory holding a symlink about to be followed) is on a
/// `/proc` and is not the caller's own process directory: the magic links of another
/// process (`/proc/<pid>/fd/N`, `exe`, `cwd`, `root`, and the same under `task/<tid>`)
/// are not followed with the broker's privileges, which would reach what the caller itself
/// could not (natively the kernel checks ptrace access; a capability-less sandbox under
/// Landlock has none to a process outside it). A procfs directory outside `/proc` is
/// refused alike.
fn may_follow_in(dir: BorrowedFd<'_>) -> Result<(), Errno> {
    if !on_proc(dir) {
        return Ok(());
    }
    let path = fd_path(dir).map_err(|_| Errno(libc::EACCES))?;
    let caller = CALLER.with(|c| c.get());
    if crate::core::procself::foreign(&path, caller) {
        return Err(Errno(libc::EACCES));
    }
    Ok(())
}

/// Spends one symlink of the current lookup's budget: `ELOOP` once it is used up.
fn spend_link() -> Result<(), Errno> {
    LINKS_LEFT.with(|left| match left.get() {
        0 => Err(Errno(libc::ELOOP)),
        n => {
            left.set(n - 1);
            Ok(())
        }
    })
}

/// Where a request's path starts.
#[derive(Clone, Copy)]
pub enum Base<'a> {
    /// The filesystem root (absolute paths).
    Root,
    /// A directory fd the program passed (dirfd-relative calls).
    Dir(BorrowedFd<'a>),
}

/// What the request's final component was, as the kernel classifies it: the calls that
/// act on a name (mkdir, rmdir, unlink, rename, link, symlink) answer differently when it
/// is not a plain name (`rmdir("d/.")` is `EINVAL`, `mkdir("d/.")` `EEXIST`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Last {
    /// A plain name (the kernel's `LAST_NORM`).
    Name,
    /// `.`
    Dot,
    /// `..`
    DotDot,
    /// The path was `/` itself.
    Root,
}

/// A resolved location: the real parent directory, held open, and the final name in it.
pub struct Location {
    /// `O_PATH` fd of the parent directory.
    pub parent: OwnedFd,
    /// The parent's real path, as the kernel reports it.
    pub parent_path: PathBuf,
    /// The final component: never empty, never contains `/`; `.` only for the root itself.
    pub name: Vec<u8>,
    /// The request's path ended in `/`: the target must be a directory.
    pub trailing_slash: bool,
    /// The request's final component (`name` is the real one: for `a/.`, `a`'s own name).
    pub last: Last,
}

impl Location {
    /// The real path the policy decides on.
    pub fn path(&self) -> PathBuf {
        if self.name == b"." {
            return self.parent_path.clone();
        }
        self.parent_path.join(OsStr::from_bytes(&self.name))
    }

    /// The final name as a C string.
    pub fn name_c(&self) -> CString {
        // The name never holds a NUL: it came from a path split at `/`, checked on decode.
        CString::new(self.name.clone()).unwrap_or_default()
    }

    /// The final name as the request spelled it for a call that does not follow a final
    /// symlink (mkdir, rmdir, unlink, rename, link, symlink, mknod): with its trailing
    /// slash, so the kernel applies its own rules to it (`ENOTDIR` for `unlink("f/")`,
    /// `ENOENT` for `symlink("x", "new/")`…). A trailing slash makes the kernel follow a
    /// final symlink only in lookups that name an existing object; these calls either
    /// refuse a symlink there or act on the link itself, never on its target.
    pub fn name_as_asked(&self) -> CString {
        let mut name = self.name.clone();
        if self.trailing_slash && self.last == Last::Name {
            name.push(b'/');
        }
        CString::new(name).unwrap_or_default()
    }
}

/// Splits a path into its directory part and final component, dropping trailing slashes.
/// Returns (directory part or None for "no directory part", name, trailing slash).
fn split_last(path: &[u8]) -> (Option<&[u8]>, &[u8], bool) {
    let mut end = path.len();
    while end > 1 && path[end - 1] == b'/' {
        end -= 1;
    }
    let trailing = end < path.len();
    let trimmed = &path[..end];
    match trimmed.iter().rposition(|&b| b == b'/') {
        None => (None, trimmed, trailing),
        Some(0) => (Some(b"/"), &trimmed[1..], trailing),
        Some(i) => (Some(&trimmed[..i]), &trimmed[i + 1..], trailing),
    }
}

/// `PROC_SUPER_MAGIC`: the filesystem type of `/proc`, whose magic links (`/proc/PID/cwd`,
/// `/proc/PID/fd/N`, `/proc/PID/root`) only the kernel can follow.
const PROC_SUPER_MAGIC: i64 = 0x9fa0;

fn on_proc(fd: BorrowedFd<'_>) -> bool {
    // SAFETY: statfs is plain old data, filled by fstatfs.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: fd is open; st is a valid out-pointer.
    unsafe { libc::fstatfs(fd.as_raw_fd(), &mut st) == 0 && st.f_type as i64 == PROC_SUPER_MAGIC }
}

fn open_root() -> Result<OwnedFd, Errno> {
    openat_raw(
        libc::AT_FDCWD,
        c"/",
        libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        0,
    )
}

/// Opens the directory `path` (relative to `base`; an absolute path starts at `/`) as an
/// `O_PATH` fd, walking it one component at a time as the kernel would, but following each
/// symlink itself (readlink, then its target's components; at most [`MAX_SYMLINK_HOPS`]).
/// Symlinks in `/proc` are magic links only the kernel can follow: there the kernel follows
/// that one component. The real path of every directory the walk leaves by `..` is appended
/// to `left`, and so is the directory where a lookup fails when the walk would have climbed
/// out of it afterwards (a `..` still to come, or `then_up`: the caller's final component is
/// `..`): what lay beyond would otherwise show through. The path of a component whose
/// lookup fails is appended too (its existence shows in the error).
pub fn walk_dir(
    base: Base<'_>,
    path: &[u8],
    then_up: bool,
    left: &mut Vec<PathBuf>,
) -> Result<OwnedFd, Errno> {
    const DIR: i32 = libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC;
    let leave = |fd: &OwnedFd, left: &mut Vec<PathBuf>| {
        if let Ok(p) = fd_path(fd.as_fd()) {
            left.push(p);
        }
    };
    if path.contains(&0) {
        return Err(Errno(libc::EINVAL));
    }
    let mut cur = match base {
        _ if path.starts_with(b"/") => open_root()?,
        Base::Root => return Err(Errno(libc::EINVAL)),
        Base::Dir(fd) => openat_raw(fd.as_raw_fd(), c".", DIR, 0)?,
    };
    // Components still to walk, last first.
    let mut todo: Vec<Vec<u8>> = path.rsplit(|&b| b == b'/').map(<[u8]>::to_vec).collect();
    while let Some(comp) = todo.pop() {
        if comp.is_empty() || comp == b"." {
            continue;
        }
        let name = CString::new(comp).map_err(|_| Errno(libc::EINVAL))?;
        if name.as_bytes() == b".." {
            leave(&cur, left);
            cur = openat_raw(cur.as_raw_fd(), c"..", DIR, 0)?;
            continue;
        }
        let err = match openat_raw(cur.as_raw_fd(), &name, DIR | libc::O_NOFOLLOW, 0) {
            Ok(next) => {
                cur = next;
                continue;
            }
            Err(e) => e,
        };
        // ENOTDIR: not a directory, or a symlink (O_NOFOLLOW with O_DIRECTORY refuses one).
        let link = (err.0 == libc::ENOTDIR)
            .then(|| readlink_at(cur.as_fd(), &name).ok())
            .flatten();
        let target = match link {
            Some(target) => target,
            None => {
                if then_up || todo.iter().any(|c| c == b"..") {
                    leave(&cur, left);
                }
                // What failed here tells whether `cur/name` exists: that path must allow
                // `stat` too (a symlink may have led into a hidden directory).
                if let Ok(p) = fd_path(cur.as_fd()) {
                    left.push(p.join(OsStr::from_bytes(name.as_bytes())));
                }
                return Err(err);
            }
        };
        spend_link()?;
        may_follow_in(cur.as_fd())?;
        if on_proc(cur.as_fd()) {
            cur = openat_raw(cur.as_raw_fd(), &name, DIR, 0)?;
            continue;
        }
        if target.starts_with(b"/") {
            cur = open_root()?;
        }
        todo.extend(target.rsplit(|&b| b == b'/').map(<[u8]>::to_vec));
    }
    Ok(cur)
}

/// readlinkat(2) of `name` in `dir`: the link's contents.
fn readlink_at(dir: BorrowedFd<'_>, name: &CStr) -> Result<Vec<u8>, Errno> {
    let mut buf = vec![0u8; libc::PATH_MAX as usize + 1];
    // SAFETY: name is NUL-terminated and buf has buf.len() writable bytes.
    let n = unsafe {
        libc::readlinkat(
            dir.as_raw_fd(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        return Err(Errno::last());
    }
    buf.truncate(n as usize);
    Ok(buf)
}

/// A final component that names an entry of its parent (not empty, `.` or `..`).
fn is_plain_name(name: &[u8]) -> bool {
    !name.is_empty() && name != b"." && name != b".."
}

/// An absolute directory path that is already in canonical form: no empty, `.` or `..`
/// component and no trailing slash (`/` itself qualifies).
fn is_canonical_dir(dir: &[u8]) -> bool {
    dir == b"/"
        || (dir.starts_with(b"/")
            && !dir.ends_with(b"/")
            && dir[1..]
                .split(|&b| b == b'/')
                .all(|c| !c.is_empty() && c != b"." && c != b".."))
}

/// `struct open_how` of openat2(2).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// openat2(2)'s "no symlink in any component" resolve flag.
const RESOLVE_NO_SYMLINKS: u64 = 0x04;

/// Opens a canonical absolute directory path as `O_PATH` *without following any symlink*.
/// When that succeeds the path string is the directory's real path, so the kernel need not
/// be asked for it (`/proc/self/fd`, the costliest step of a resolution). `Ok(None)` when
/// the fast way does not apply: the path is not canonical, a component is a symlink or a
/// magic link, or the kernel lacks openat2; the caller then resolves the general way.
/// Errors the general way would report too (`ENOENT`, `ENOTDIR`, `EACCES`…) are returned.
fn open_plain_dir(dir: &[u8]) -> Result<Option<OwnedFd>, Errno> {
    if dir.contains(&0) {
        // The kernel would read only the bytes before the NUL, the policy all of them.
        // Requests are checked at the edge (`arbiter_protocol::valid`); this is the backstop.
        return Err(Errno(libc::EINVAL));
    }
    if !is_canonical_dir(dir) || dir.len() >= PATH_BUF {
        return Ok(None);
    }
    let mut c = [0u8; PATH_BUF];
    c[..dir.len()].copy_from_slice(dir);
    let how = OpenHow {
        flags: (libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve: RESOLVE_NO_SYMLINKS,
    };
    // SAFETY: c is NUL-terminated (dir.len() < PATH_BUF, the rest zeroed); how is a valid
    // open_how of the size passed; the kernel only reads both.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            libc::AT_FDCWD,
            c.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    if fd < 0 {
        let e = Errno::last();
        return match e.0 {
            libc::ENOENT | libc::ENOTDIR | libc::EACCES | libc::ENAMETOOLONG => Err(e),
            // ELOOP: a symlink on the way; ENOSYS/EINVAL/E2BIG/EPERM: no usable openat2.
            _ => Ok(None),
        };
    }
    // SAFETY: the kernel just returned this fd to us; nobody else owns it.
    Ok(Some(unsafe { OwnedFd::from_raw_fd(fd as RawFd) }))
}

/// [`open_plain_dir`] for a canonical absolute directory path whose *first* component is a
/// symlink to a plain canonical place, as on a merged-`/usr` system, where ld.so's cache
/// names every library by `/lib/x86_64-linux-gnu/…` and `/lib` is `usr/lib`: the link is
/// read once (`readlinkat` of `/first`) and its target, joined with the rest of the path,
/// opened with no symlink on the way. That is what [`walk_dir`] does for this path — open
/// `/`, find `first` a symlink, read it, follow its target's components from `/` (from
/// `/` itself for an absolute target), climb out of no directory — in two system calls
/// instead of one per component, two `fstatfs` and a `/proc/self/fd` read. `None` (the
/// caller walks the general way, which then answers exactly, errors and the directories a
/// failed lookup shows included) when the first component is no symlink, the target has a
/// `.`, `..` or empty component, or anything on the way fails or is another symlink. The
/// one link followed is spent from the lookup's budget only on success.
fn open_plain_dir_past_first_link(dir: &[u8]) -> Option<(OwnedFd, Vec<u8>)> {
    if !is_canonical_dir(dir) || dir == b"/" {
        return None;
    }
    let rest_at = dir[1..]
        .iter()
        .position(|&b| b == b'/')
        .map_or(dir.len(), |i| i + 1);
    let (first, rest) = dir.split_at(rest_at);
    let first = CString::new(first).ok()?;
    let target = readlink_at_cwd(&first)?;
    let mut joined = Vec::with_capacity(target.len() + rest.len() + 1);
    if !target.starts_with(b"/") {
        // Relative to the link's directory, which is `/`.
        joined.push(b'/');
    }
    joined.extend_from_slice(&target);
    joined.extend_from_slice(rest);
    if !is_canonical_dir(&joined) || LINKS_LEFT.with(|l| l.get()) == 0 {
        return None;
    }
    let fd = open_plain_dir(&joined).ok().flatten()?;
    spend_link().ok()?;
    Some((fd, joined))
}

/// readlink(2) of the absolute path `path`: the link's contents, `None` when it is no
/// symlink (or cannot be read).
fn readlink_at_cwd(path: &CStr) -> Option<Vec<u8>> {
    let mut buf = [0u8; PATH_BUF];
    // SAFETY: path is NUL-terminated and buf has buf.len() writable bytes.
    let n = unsafe {
        libc::readlinkat(
            libc::AT_FDCWD,
            path.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n <= 0 || n as usize >= buf.len() {
        return None;
    }
    Some(buf[..n as usize].to_vec())
}

/// Opens the directory `dir` (an absolute real path) as `O_PATH` without following any
/// symlink on the way; `None` when that is not possible (not canonical, a symlink on the
/// way, gone, no openat2).
pub fn open_plain_dir_exact(dir: &Path) -> Option<OwnedFd> {
    open_plain_dir(dir.as_os_str().as_bytes()).ok().flatten()
}

/// What [`open_real_dir`] found at a canonical absolute directory path.
pub enum RealDir {
    /// The directory, opened `O_PATH`, and its real path: the path itself, or with a
    /// symlinked first component replaced by the link's target
    /// ([`open_plain_dir_past_first_link`]).
    Open(OwnedFd, Vec<u8>),
    /// A component of the path itself does not exist, and every one before it is a
    /// directory, no symlink (`openat2(RESOLVE_NO_SYMLINKS)` answered `ENOENT`): the
    /// path's real prefix ends at the missing component.
    Missing,
    /// Anything else (not canonical, a symlink further on, another error): the caller
    /// takes the general way.
    Other,
}

/// Opens the canonical absolute directory `dir` as a lookup of the broker's own would for
/// a plainly canonical path (`locate`): with no symlink on the way, or past a symlinked
/// first component (merged `/usr`'s `/lib`) with a fresh symlink budget (one lookup).
pub fn open_real_dir(dir: &[u8]) -> RealDir {
    match open_plain_dir(dir) {
        Ok(Some(fd)) => RealDir::Open(fd, dir.to_vec()),
        Err(Errno(libc::ENOENT)) => RealDir::Missing,
        Err(_) => RealDir::Other,
        Ok(None) => {
            LINKS_LEFT.with(|l| l.set(MAX_SYMLINK_HOPS));
            match open_plain_dir_past_first_link(dir) {
                Some((fd, real)) => RealDir::Open(fd, real),
                None => RealDir::Other,
            }
        }
    }
}

/// Room for a path and its terminating NUL.
const PATH_BUF: usize = libc::PATH_MAX as usize + 1;

/// openat(2) returning an owned fd.
pub fn openat_raw(dirfd: RawFd, name: &CStr, flags: i32, mode: u32) -> Result<OwnedFd, Errno> {
    // SAFETY: name is a valid NUL-terminated string for the duration of the call.
    let fd = unsafe { libc::openat(dirfd, name.as_ptr(), flags, mode) };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the kernel just returned this fd to us; nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The real path of an open fd, from `/proc/self/fd`. A deleted directory is `ENOENT`.
pub fn fd_path(fd: BorrowedFd<'_>) -> Result<PathBuf, Errno> {
    let link = format!("/proc/self/fd/{}\0", fd.as_raw_fd());
    let mut buf = vec![0u8; libc::PATH_MAX as usize + 1];
    // SAFETY: link is NUL-terminated; buf has buf.len() writable bytes.
    let n = unsafe { libc::readlink(link.as_ptr().cast(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        return Err(Errno::last());
    }
    buf.truncate(n as usize);
    if !buf.starts_with(b"/") || buf.ends_with(b" (deleted)") {
        return Err(Errno(libc::ENOENT));
    }
    Ok(PathBuf::from(OsStr::from_bytes(&buf)))
}

/// Resolves the parent of `path` (relative to `base`) to a held directory and its real path.
/// The final component is not touched. Directories the walk leaves other than by descending
/// are appended to `left` (see [`walk_dir`]).
pub fn locate(base: Base<'_>, path: &[u8], left: &mut Vec<PathBuf>) -> Result<Location, Errno> {
    if path.is_empty() {
        return Err(Errno(libc::ENOENT));
    }
    if path.len() > libc::PATH_MAX as usize {
        return Err(Errno(libc::ENAMETOOLONG));
    }
    let (dir, name, trailing_slash) = split_last(path);
    if let (Base::Root, Some(d)) = (base, dir) {
        if is_plain_name(name) {
            let plain = open_plain_dir(d).inspect_err(|_| {
                // The failure tells what exists on the way to `d`: `d` must allow `stat`.
                left.push(PathBuf::from(OsStr::from_bytes(d)));
            })?;
            if let Some(parent) = plain {
                return Ok(Location {
                    parent,
                    parent_path: PathBuf::from(OsStr::from_bytes(d)),
                    name: name.to_vec(),
                    trailing_slash,
                    last: Last::Name,
                });
            }
            if let Some((parent, real)) = open_plain_dir_past_first_link(d) {
                return Ok(Location {
                    parent,
                    parent_path: PathBuf::from(OsStr::from_bytes(&real)),
                    name: name.to_vec(),
                    trailing_slash,
                    last: Last::Name,
                });
            }
        }
    }
    let parent = match dir {
        Some(d) => walk_dir(base, d, name == b"..", left)?,
        None => match base {
            Base::Root => return Err(Errno(libc::EINVAL)),
            Base::Dir(fd) => openat_raw(
                fd.as_raw_fd(),
                c".",
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
                0,
            )?,
        },
    };
    if name.is_empty() || name == b"." || name == b".." {
        // The path names a directory itself ("/", "a/.", "a/.."): resolve it and re-split
        // its real path so the operation still acts on (parent, name).
        if name == b".." {
            if let Ok(p) = fd_path(parent.as_fd()) {
                left.push(p);
            }
        }
        let dir = if name.is_empty() {
            parent
        } else {
            openat_raw(
                parent.as_raw_fd(),
                &CString::new(name).unwrap_or_default(),
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
                0,
            )?
        };
        let real = fd_path(dir.as_fd())?;
        let last = match name {
            b"." => Last::Dot,
            b".." => Last::DotDot,
            _ => Last::Root,
        };
        return locate_real_dir(real, dir, last);
    }
    let parent_path = fd_path(parent.as_fd())?;
    Ok(Location {
        parent,
        parent_path,
        name: name.to_vec(),
        trailing_slash,
        last: Last::Name,
    })
}

/// A Location for a directory whose real path is known and which is held open as `dir`.
fn locate_real_dir(real: PathBuf, dir: OwnedFd, last: Last) -> Result<Location, Errno> {
    if real == Path::new("/") {
        return Ok(Location {
            parent: dir,
            parent_path: real,
            name: b".".to_vec(),
            trailing_slash: true,
            last,
        });
    }
    let name = real
        .file_name()
        .map(|n| n.as_bytes().to_vec())
        .ok_or(Errno(libc::ENOENT))?;
    let parent = openat_raw(
        dir.as_raw_fd(),
        c"..",
        libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        0,
    )?;
    let parent_path = fd_path(parent.as_fd())?;
    // Confirm the directory is still where its real path says (it may have moved).
    if real.parent() != Some(parent_path.as_path()) {
        return Err(Errno(libc::ENOENT));
    }
    Ok(Location {
        parent,
        parent_path,
        name,
        trailing_slash: true,
        last,
    })
}

/// If `loc` names a symlink, returns the location of its target (resolved from the link's
/// directory); `Ok(None)` when it is not a symlink (or does not exist). What the target's
/// walk leaves is appended to `left` (see [`walk_dir`]).
pub fn follow_once(loc: &Location, left: &mut Vec<PathBuf>) -> Result<Option<Location>, Errno> {
    if loc.name == b"." {
        return Ok(None);
    }
    let name = loc.name_c();
    let mut buf = vec![0u8; libc::PATH_MAX as usize + 1];
    // SAFETY: name is NUL-terminated and buf has buf.len() writable bytes.
    let n = unsafe {
        libc::readlinkat(
            loc.parent.as_raw_fd(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        let e = Errno::last();
        // EINVAL: not a symlink. ENOENT: nothing there (creation may follow).
        return if e.0 == libc::EINVAL || e.0 == libc::ENOENT {
            Ok(None)
        } else {
            Err(e)
        };
    }
    buf.truncate(n as usize);
    may_follow_in(loc.parent.as_fd())?;
    spend_link()?;
    let mut next = if buf.starts_with(b"/") {
        locate(Base::Root, &buf, left)?
    } else {
        locate(Base::Dir(loc.parent.as_fd()), &buf, left)?
    };
    next.trailing_slash |= loc.trailing_slash;
    Ok(Some(next))
}

/// Resolves `path` fully when `follow` is set (every symlink, including the last component),
/// or all but the last component otherwise — also when the path ends in `/`: the calls that
/// do not follow a final symlink leave it to the kernel ([`Location::name_as_asked`]), the
/// others pass `follow` for such a path. Directories the walk leaves other than by
/// descending are appended to `left` (see [`walk_dir`]).
pub fn resolve(
    base: Base<'_>,
    path: &[u8],
    follow: bool,
    left: &mut Vec<PathBuf>,
) -> Result<Location, Errno> {
    // A new lookup: a fresh symlink budget (see LINKS_LEFT).
    LINKS_LEFT.with(|l| l.set(MAX_SYMLINK_HOPS));
    // A `/proc/<pid>` as the program knows the pid (in the sandbox's pid namespace) names
    // that process, not the broker namespace's process of that number: translated here,
    // once, for the path as the call gave it (never for a symlink's target, which the
    // kernel too reads in the host's `/proc`), and only when the transport has not.
    let translated = match (base, SPELLING.with(|s| s.get())) {
        (Base::Root, Spelling::Sandbox)
            if !crate::core::procself::joined_with_proc_cwd(path, CALLER.with(|c| c.get())) =>
        {
            crate::core::procself::translate_own(path)
        }
        (Base::Dir(dir), Spelling::Sandbox) => {
            crate::core::procself::translate_relative_to(dir, path)
        }
        _ => None,
    };
    let base = if translated.is_some() {
        Base::Root
    } else {
        base
    };
    let path = translated.as_deref().unwrap_or(path);
    let mut loc = locate(base, path, left)?;
    if !follow {
        return Ok(loc);
    }
    for _ in 0..MAX_SYMLINK_HOPS {
        match follow_once(&loc, left)? {
            Some(next) => loc = next,
            None => return Ok(loc),
        }
    }
    Err(Errno(libc::ELOOP))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn split_last_handles_roots_and_trailing_slashes() {
        assert_eq!(split_last(b"/"), (Some(&b"/"[..]), &b""[..], false));
        assert_eq!(split_last(b"/etc"), (Some(&b"/"[..]), &b"etc"[..], false));
        assert_eq!(split_last(b"/etc/"), (Some(&b"/"[..]), &b"etc"[..], true));
        assert_eq!(split_last(b"a/b//"), (Some(&b"a"[..]), &b"b"[..], true));
        assert_eq!(split_last(b"name"), (None, &b"name"[..], false));
    }

    #[test]
    fn dotdot_and_symlinked_directories_resolve_to_the_real_parent() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().canonicalize().unwrap();
        std::fs::create_dir(real.join("a")).unwrap();
        std::fs::create_dir(real.join("b")).unwrap();
        symlink(real.join("b"), real.join("link")).unwrap();
        let p = format!("{}/a/../link/file", real.display());
        let loc = resolve(Base::Root, p.as_bytes(), true, &mut Vec::new()).unwrap();
        assert_eq!(loc.path(), real.join("b/file"));
    }

    #[test]
    fn a_symlinked_directory_in_a_canonical_looking_path_resolves_to_its_target() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(real.join("b/c")).unwrap();
        symlink(real.join("b"), real.join("link")).unwrap();
        // Canonical in form, so the openat2 fast way is tried: it must notice the symlink.
        let p = format!("{}/link/c/file", real.display());
        let loc = resolve(Base::Root, p.as_bytes(), false, &mut Vec::new()).unwrap();
        assert_eq!(loc.parent_path, real.join("b/c"));
        assert_eq!(loc.path(), real.join("b/c/file"));
        // A plain directory takes the fast way and reports the same real path.
        let p = format!("{}/b/c/file", real.display());
        assert_eq!(
            resolve(Base::Root, p.as_bytes(), false, &mut Vec::new())
                .unwrap()
                .path(),
            real.join("b/c/file")
        );
        // Errors are the kernel's, as on the general way.
        let p = format!("{}/missing/file", real.display());
        assert_eq!(
            resolve(Base::Root, p.as_bytes(), false, &mut Vec::new()).err(),
            Some(Errno(libc::ENOENT))
        );
        std::fs::write(real.join("f"), b"x").unwrap();
        let p = format!("{}/f/file", real.display());
        assert_eq!(
            resolve(Base::Root, p.as_bytes(), false, &mut Vec::new()).err(),
            Some(Errno(libc::ENOTDIR))
        );
    }

    /// The merged-`/usr` shortcut (`/lib` → `usr/lib`) must land where the general walk
    /// lands, spend one link of the budget, and step aside for anything else.
    #[test]
    fn a_symlinked_first_component_resolves_as_the_walk_does() {
        let Ok(target) = std::fs::read_link("/lib") else {
            println!("SKIP: /lib is not a symlink here (no merged /usr)");
            return;
        };
        let dir = format!("/lib/{}", {
            // Any directory beneath /lib will do; the loader's own is there on Linux.
            let entry = std::fs::read_dir("/lib")
                .unwrap()
                .filter_map(Result::ok)
                .find(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .expect("a directory beneath /lib");
            entry.file_name().to_string_lossy().into_owned()
        });
        LINKS_LEFT.with(|l| l.set(MAX_SYMLINK_HOPS));
        let (fd, real) = open_plain_dir_past_first_link(dir.as_bytes()).expect("the shortcut");
        assert_eq!(LINKS_LEFT.with(|l| l.get()), MAX_SYMLINK_HOPS - 1);
        let walked = walk_dir(Base::Root, dir.as_bytes(), false, &mut Vec::new()).unwrap();
        let walked_path = fd_path(walked.as_fd()).unwrap();
        assert_eq!(Path::new(OsStr::from_bytes(&real)), walked_path);
        assert_eq!(fd_path(fd.as_fd()).unwrap(), walked_path);
        assert!(walked_path.starts_with(Path::new("/").join(&target)));
        // Through `locate`: the same Location as the general way.
        let file = format!("{dir}/some-name");
        let loc = locate(Base::Root, file.as_bytes(), &mut Vec::new()).unwrap();
        assert_eq!(loc.parent_path, walked_path);
        assert_eq!(loc.name, b"some-name");
        // Not for a first component that is a directory, a missing one, or a path that is
        // not canonical: the general way answers those.
        assert!(open_plain_dir_past_first_link(b"/usr/lib").is_none());
        assert!(open_plain_dir_past_first_link(b"/nonexistent-arbiter/x").is_none());
        assert!(open_plain_dir_past_first_link(b"/lib/../etc").is_none());
        assert!(open_plain_dir_past_first_link(b"/lib/nonexistent-arbiter").is_none());
        assert!(open_plain_dir_past_first_link(b"/").is_none());
        // A missing directory beneath the link is the walk's ENOENT, with what it shows.
        let mut left = Vec::new();
        assert_eq!(
            locate(Base::Root, b"/lib/nonexistent-arbiter/f", &mut left).err(),
            Some(Errno(libc::ENOENT))
        );
        // An exhausted budget is left to the walk (which answers ELOOP).
        LINKS_LEFT.with(|l| l.set(0));
        assert!(open_plain_dir_past_first_link(dir.as_bytes()).is_none());
        LINKS_LEFT.with(|l| l.set(MAX_SYMLINK_HOPS));
    }

    #[test]
    fn canonical_dir_forms() {
        assert!(is_canonical_dir(b"/"));
        assert!(is_canonical_dir(b"/usr/lib"));
        assert!(!is_canonical_dir(b"/usr/"));
        assert!(!is_canonical_dir(b"/usr//lib"));
        assert!(!is_canonical_dir(b"/usr/./lib"));
        assert!(!is_canonical_dir(b"/usr/../etc"));
        assert!(!is_canonical_dir(b"usr/lib"));
        assert!(is_canonical_dir(b"/usr/.hidden/..x"));
    }

    #[test]
    fn final_symlink_is_followed_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().canonicalize().unwrap();
        std::fs::write(real.join("target"), b"x").unwrap();
        symlink("target", real.join("l")).unwrap();
        let p = format!("{}/l", real.display());
        assert_eq!(
            resolve(Base::Root, p.as_bytes(), false, &mut Vec::new())
                .unwrap()
                .path(),
            real.join("l")
        );
        assert_eq!(
            resolve(Base::Root, p.as_bytes(), true, &mut Vec::new())
                .unwrap()
                .path(),
            real.join("target")
        );
    }

    #[test]
    fn symlink_loops_end_in_eloop() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().canonicalize().unwrap();
        symlink("b", real.join("a")).unwrap();
        symlink("a", real.join("b")).unwrap();
        let p = format!("{}/a", real.display());
        assert_eq!(
            resolve(Base::Root, p.as_bytes(), true, &mut Vec::new()).err(),
            Some(Errno(libc::ELOOP))
        );
    }

    #[test]
    fn the_walk_records_what_it_climbs_out_of() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(real.join("hidden/present")).unwrap();
        std::fs::create_dir_all(real.join("ok")).unwrap();
        symlink("hidden/present", real.join("hop")).unwrap();
        let walk = |p: &str| {
            let mut left = Vec::new();
            let r = resolve(
                Base::Root,
                format!("{}/{p}", real.display()).as_bytes(),
                false,
                &mut left,
            );
            (r.map(|l| l.path()), left)
        };
        let (r, left) = walk("hidden/present/../../ok/f");
        assert_eq!(r, Ok(real.join("ok/f")));
        assert_eq!(left, [real.join("hidden/present"), real.join("hidden")]);
        let (r, left) = walk("hop/../../ok/f");
        assert_eq!(r, Ok(real.join("ok/f")));
        assert_eq!(left, [real.join("hidden/present"), real.join("hidden")]);
        // A failed lookup records its directory when a climb was still to come, and the
        // path that failed always.
        let (r, left) = walk("hidden/missing/../../ok/f");
        assert_eq!(r.err(), Some(Errno(libc::ENOENT)));
        assert_eq!(left, [real.join("hidden"), real.join("hidden/missing")]);
        let (r, left) = walk("hidden/missing/x/f");
        assert_eq!(r.err(), Some(Errno(libc::ENOENT)));
        assert_eq!(left, [real.join("hidden/missing/x")]);
        let (r, left) = walk("hop/missing/f");
        assert_eq!(r.err(), Some(Errno(libc::ENOENT)));
        assert_eq!(left, [real.join("hidden/present/missing")]);
        // A plain walk down records nothing.
        let (_, left) = walk("hidden/present/f");
        assert!(left.is_empty());
    }

    #[test]
    fn root_and_dot_paths_name_directories() {
        let loc = resolve(Base::Root, b"/", true, &mut Vec::new()).unwrap();
        assert_eq!(loc.path(), PathBuf::from("/"));
        let loc = resolve(Base::Root, b"/usr/.", true, &mut Vec::new()).unwrap();
        assert_eq!(loc.path(), PathBuf::from("/usr"));
        let loc = resolve(Base::Root, b"/usr/lib/..", true, &mut Vec::new()).unwrap();
        assert_eq!(loc.path(), PathBuf::from("/usr"));
    }
}
