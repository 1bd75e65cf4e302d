//! The file family: open, stat, access, mkdir, unlink, rename, link, symlink, readlink,
//! truncate, chmod, chown, utimensat — each decided on the real path, then performed on
//! `(parent fd, name)` without following the final symlink (see [`crate::core::resolve`]).

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use arbiter_policies::Access;
use arbiter_protocol::{At, Call, PathArg, Timespec};

use crate::core::errno::{check, Errno};
use crate::core::resolve::{self, openat_raw, Base, Last, Location};
use crate::core::setid;
use crate::core::stat::{file_type, statx};
use crate::core::waiting;
use crate::core::{Done, Notes, OutPayload, RequestCore};

/// Orders every change of a name the broker makes. Held for writing by a `rename` from just
/// before it looks at what it moves until it has confirmed (or undone) the move, and by a
/// unix `bind` by real path (`core::net`), which lets the kernel resolve that path by its
/// string; for reading around every other brokered action that makes or removes a name
/// (`mkdir`, `mknod`, `symlink`, `link`, `unlink`, a creating `open`, and the undo of
/// each). So while a rename runs, no brokered call of any sandbox this process serves
/// (`arbiter serve` included) can move, make or remove a name, and the program cannot do
/// either natively with the notify filter on (the kernel floor grants no rename and no
/// creation; its only change of a name is a native removal, see "Native removals" in
/// docs/security.md): the program cannot swap what a rename decided about, nor make its
/// confirmation fail, with its own calls. Decisions (which may ask a decider) are made
/// before the lock is taken, never while it is held, except a re-decision after a
/// directory moved under a held lock (only a process outside the sandbox can do that).
/// Not reentrant: a function called with it held never takes it again.
pub(crate) static SWAPS: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// [`SWAPS`] for reading: the caller makes or removes a name.
fn no_moves() -> std::sync::RwLockReadGuard<'static, ()> {
    SWAPS.read().unwrap_or_else(|e| e.into_inner())
}

/// Performs one call (any family) for the request core.
pub fn perform(
    core: &RequestCore,
    call: &Call<'_>,
    fds: &[OwnedFd],
    notes: &mut Notes,
) -> Result<Done, Errno> {
    match *call {
        Call::Open {
            path,
            flags,
            mode,
            umask,
        } => open(core, &path, fds, flags, mode, umask, notes),
        Call::Stat { path, flags } => stat(core, &path, fds, flags, notes),
        Call::Access { path, mode, flags } => access(core, &path, fds, mode, flags, notes),
        Call::Mkdir { path, mode, umask } => {
            let loc = resolve_checked(core, &path, fds, false, notes)?;
            let on_the_way = check_mkdir(core, &loc, notes)?;
            // A directory made only on the way to a rule's path gets no write for group or
            // others and no special bits: another user cannot plant anything in it.
            let mode = if on_the_way {
                mode & 0o755 & !umask
            } else {
                setid::for_dir(mode & 0o7777 & !umask)
            };
            let _no_moves = no_moves();
            // SAFETY: name is NUL-terminated; the parent fd is open.
            check(unsafe {
                libc::mkdirat(loc.parent.as_raw_fd(), loc.name_as_asked().as_ptr(), mode)
            })?;
            confirm_created(core, &loc, true, notes)
        }
        Call::Mknod {
            path,
            mode,
            dev,
            umask,
        } => {
            let kind = mode & libc::S_IFMT;
            if !(kind == 0 || kind == libc::S_IFREG || kind == libc::S_IFIFO) || dev != 0 {
                // Device nodes are never created for a sandboxed program.
                return Err(Errno(libc::EPERM));
            }
            let loc = resolve_checked(core, &path, fds, false, notes)?;
            check_create(core, &loc, notes)?;
            let perm = setid::strip(mode & 0o7777 & !umask, kind);
            let _no_moves = no_moves();
            // SAFETY: name is NUL-terminated; the parent fd is open.
            check(unsafe {
                libc::mknodat(
                    loc.parent.as_raw_fd(),
                    loc.name_as_asked().as_ptr(),
                    kind | perm,
                    0,
                )
            })?;
            confirm_created(core, &loc, false, notes)
        }
        Call::Unlink { path, flags } => {
            let loc = resolve_checked(core, &path, fds, false, notes)?;
            core.check_path(&loc.path(), Access::REMOVE, notes)?;
            let rmdir = flags & libc::AT_REMOVEDIR != 0;
            // What the kernel answers for a final `.`, `..` or `/` (it removes nothing).
            match (loc.last, rmdir) {
                (Last::Name, _) => {}
                (_, false) => return Err(Errno(libc::EISDIR)),
                (Last::Dot, true) => return Err(Errno(libc::EINVAL)),
                (Last::DotDot, true) => return Err(Errno(libc::ENOTEMPTY)),
                (Last::Root, true) => return Err(Errno(libc::EBUSY)),
            }
            let _no_moves = no_moves();
            // SAFETY: name is NUL-terminated; the parent fd is open.
            check(unsafe {
                libc::unlinkat(
                    loc.parent.as_raw_fd(),
                    loc.name_as_asked().as_ptr(),
                    flags & libc::AT_REMOVEDIR,
                )
            })?;
            Ok(Done::value(0))
        }
        Call::Rename { from, to, flags } => rename(core, &from, &to, fds, flags, notes),
        Call::Link { from, to, flags } => link(core, &from, &to, fds, flags, notes),
        Call::Symlink { target, path } => {
            let loc = resolve_checked(core, &path, fds, false, notes)?;
            check_create(core, &loc, notes)?;
            let target = CString::new(target).map_err(|_| Errno(libc::EINVAL))?;
            let _no_moves = no_moves();
            // SAFETY: both strings are NUL-terminated; the parent fd is open.
            check(unsafe {
                libc::symlinkat(
                    target.as_ptr(),
                    loc.parent.as_raw_fd(),
                    loc.name_as_asked().as_ptr(),
                )
            })?;
            confirm_created(core, &loc, false, notes)
        }
        Call::Readlink { path } => {
            // A trailing slash makes the kernel follow the link and then want a directory:
            // `ENOTDIR` (or `EINVAL` for a directory, which is not a link).
            let slash = path.path.ends_with(b"/");
            let loc = resolve_checked(core, &path, fds, slash, notes)?;
            core.check_path(&loc.path(), Access::STAT, notes)?;
            if slash {
                let st = statx(
                    loc.parent.as_raw_fd(),
                    &loc.name_c(),
                    libc::AT_SYMLINK_NOFOLLOW,
                )?;
                return Err(Errno(if file_type(st.mode) == libc::S_IFDIR {
                    libc::EINVAL
                } else {
                    libc::ENOTDIR
                }));
            }
            let mut buf = vec![0u8; libc::PATH_MAX as usize];
            // SAFETY: name is NUL-terminated; buf has buf.len() writable bytes.
            let n = unsafe {
                libc::readlinkat(
                    loc.parent.as_raw_fd(),
                    loc.name_c().as_ptr(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                )
            };
            if n < 0 {
                return Err(Errno::last());
            }
            buf.truncate(n as usize);
            Ok(Done {
                value: n as i64,
                payload: OutPayload::Bytes(buf),
                fd: None,
            })
        }
        Call::Truncate { path, length } => {
            let file = open_final(
                core,
                &path,
                fds,
                true,
                Access::WRITE,
                libc::O_WRONLY | libc::O_NONBLOCK,
                notes,
            )?;
            // SAFETY: file is an open fd we own.
            check(unsafe { libc::ftruncate(file.as_raw_fd(), length) })?;
            Ok(Done::value(0))
        }
        Call::Chmod { path, mode, flags } => {
            let file = setattr_target(core, &path, fds, flags, notes)?;
            let mode = setid::for_chmod(file.as_fd(), mode)?;
            // fchmodat2(fd, "", mode, AT_EMPTY_PATH) acts on exactly the inode we checked.
            // SAFETY: the empty string is NUL-terminated; file is an open fd.
            let rc = unsafe {
                libc::syscall(
                    452, /* fchmodat2 */
                    file.as_raw_fd(),
                    c"".as_ptr(),
                    mode,
                    libc::AT_EMPTY_PATH,
                )
            };
            check(rc as i32)?;
            Ok(Done::value(0))
        }
        Call::Chown {
            path,
            uid,
            gid,
            flags,
        } => {
            let file = setattr_target(core, &path, fds, flags, notes)?;
            // SAFETY: the empty string is NUL-terminated; file is an open fd.
            check(unsafe {
                libc::fchownat(
                    file.as_raw_fd(),
                    c"".as_ptr(),
                    uid,
                    gid,
                    libc::AT_EMPTY_PATH,
                )
            })?;
            setid::clear_after_chown(file.as_fd())?;
            Ok(Done::value(0))
        }
        Call::Utimens { path, times, flags } => {
            let follow = flags & libc::AT_SYMLINK_NOFOLLOW == 0 || path.path.ends_with(b"/");
            let loc = resolve_checked(core, &path, fds, follow, notes)?;
            core.check_path(&loc.path(), Access::SETATTR, notes)?;
            if loc.trailing_slash {
                let st = statx(
                    loc.parent.as_raw_fd(),
                    &loc.name_c(),
                    libc::AT_SYMLINK_NOFOLLOW,
                )?;
                if file_type(st.mode) != libc::S_IFDIR {
                    return Err(Errno(libc::ENOTDIR));
                }
            }
            let ts = times.map(|t: [Timespec; 2]| {
                t.map(|t| libc::timespec {
                    tv_sec: t.sec,
                    tv_nsec: t.nsec,
                })
            });
            let ptr = ts.as_ref().map_or(std::ptr::null(), |t| t.as_ptr());
            // SAFETY: name is NUL-terminated; ptr is null or points at two timespecs.
            check(unsafe {
                libc::utimensat(
                    loc.parent.as_raw_fd(),
                    loc.name_c().as_ptr(),
                    ptr,
                    libc::AT_SYMLINK_NOFOLLOW,
                )
            })?;
            Ok(Done::value(0))
        }
        Call::Connect { addr } => crate::core::net::connect(core, &addr, fds, notes),
        Call::Bind { addr, umask } => crate::core::net::bind(core, &addr, fds, umask, notes),
        Call::Listen { backlog } => crate::core::net::listen(core, backlog, fds, notes),
        Call::Send {
            addr,
            data,
            flags,
            rights,
            creds,
        } => crate::core::net::send(
            core,
            &crate::core::net::Send {
                addr: addr.as_ref(),
                data,
                flags,
                rights: usize::from(rights),
                creds,
            },
            fds,
            notes,
        ),
        Call::GetNameInfo { addr, flags } => {
            crate::core::net::getnameinfo(core, &addr, flags, notes)
        }
        Call::GetAddrInfo {
            node,
            service,
            flags,
            family,
            socktype,
            protocol,
        } => crate::core::net::getaddrinfo(
            core, node, service, flags, family, socktype, protocol, notes,
        ),
        Call::NetDb(q) => crate::core::netdb::lookup(core, &q, notes),
        // With a report ring, the shim must report what its fast paths answer: the ring
        // travels with them (no fast paths, no ring).
        Call::FastPaths => Ok(Done {
            payload: OutPayload::Bytes(core.fast_paths().to_vec()),
            fd: if core.fast_paths().is_empty() {
                None
            } else {
                core.report_ring()
            },
            ..Done::default()
        }),
    }
}

/// The base directory a path argument is relative to.
fn base<'f>(arg: &PathArg<'_>, fds: &'f [OwnedFd]) -> Result<Base<'f>, Errno> {
    match arg.at {
        At::Absolute if arg.path.starts_with(b"/") => Ok(Base::Root),
        At::Absolute => Err(Errno(libc::EINVAL)),
        At::Fd(i) => fds
            .get(usize::from(i))
            .map(|fd| Base::Dir(fd.as_fd()))
            .ok_or(Errno(libc::EBADF)),
    }
}

/// A readable guess at the path a request named, for deciding when resolution itself failed
/// (so a denied tree answers with the policy's errno, not with what exists inside it).
fn lexical_path(arg: &PathArg<'_>, fds: &[OwnedFd]) -> Option<PathBuf> {
    let rel = Path::new(std::ffi::OsStr::from_bytes(arg.path));
    let start = match base(arg, fds).ok()? {
        Base::Root => PathBuf::from("/"),
        Base::Dir(fd) => resolve::fd_path(fd).ok()?,
    };
    let mut out = PathBuf::from("/");
    for comp in start.join(rel).components() {
        match comp {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::Normal(c) => out.push(c),
            _ => {}
        }
    }
    Some(out)
}

/// Maps a resolution failure: inside a tree the policy denies, the policy's errno wins.
fn resolution_error(
    core: &RequestCore,
    arg: &PathArg<'_>,
    fds: &[OwnedFd],
    err: Errno,
    notes: &mut Notes,
) -> Errno {
    match lexical_path(arg, fds) {
        Some(p) if !core.allows(&p, Access::STAT) => core
            .check_path(&p, Access::STAT, notes)
            .err()
            .unwrap_or(err),
        _ => err,
    }
}

/// Resolves all but the final component (which is followed too when `follow`). A walk that
/// climbed out of a directory the policy hides (`stat` denied) by `..`, or failed in one
/// before such a climb, answers that rule's errno, whether or not what lay beyond exists
/// (see [`walked_through`]).
pub(crate) fn resolve_checked(
    core: &RequestCore,
    arg: &PathArg<'_>,
    fds: &[OwnedFd],
    follow: bool,
    notes: &mut Notes,
) -> Result<Location, Errno> {
    let b = base(arg, fds)?;
    let mut left = Vec::new();
    match resolve::resolve(b, arg.path, follow, &mut left) {
        Ok(loc) => {
            walked_through(core, &left, Some(&loc.parent_path), notes)?;
            Ok(loc)
        }
        Err(e) => {
            walked_through(core, &left, None, notes)?;
            Err(resolution_error(core, arg, fds, e, notes))
        }
    }
}

/// The directories a walk climbed out of (`left`, see [`resolve::walk_dir`]) must each
/// allow `stat`, unless the walk ended beneath them (`parent` is the real directory it ended
/// in; `None` when it failed): their entries' existence would otherwise show through `..`.
/// Refused with the hiding rule's errno.
fn walked_through(
    core: &RequestCore,
    left: &[PathBuf],
    parent: Option<&Path>,
    notes: &mut Notes,
) -> Result<(), Errno> {
    for dir in left {
        if parent.is_some_and(|p| p.starts_with(dir)) {
            continue;
        }
        if core.allows(dir, Access::STAT) {
            // A failed walk's paths join the record, so `arbiter learn` grants what the
            // replay will check (a lookup that fails in `/run` via `/var/run`, say).
            if parent.is_none() && core.audit().enabled() {
                notes.paths.push(dir.clone());
            }
            continue;
        }
        return core.check_path(dir, Access::STAT, notes);
    }
    Ok(())
}

/// [`resolve::follow_once`], refusing a walk through a directory the policy hides as
/// [`resolve_checked`] does.
fn follow_link(
    core: &RequestCore,
    loc: &Location,
    notes: &mut Notes,
) -> Result<Option<Location>, Errno> {
    let mut left = Vec::new();
    match resolve::follow_once(loc, &mut left) {
        Ok(next) => {
            let parent = next.as_ref().map(|n| n.parent_path.as_path());
            walked_through(core, &left, parent.or(Some(&loc.parent_path)), notes)?;
            Ok(next)
        }
        Err(e) => {
            walked_through(core, &left, None, notes)?;
            Err(e)
        }
    }
}

/// The file a chmod/chown acts on, as an `O_PATH` fd, after checking `setattr` on it
/// (`AT_SYMLINK_NOFOLLOW` in `flags` acts on a symlink itself).
fn setattr_target(
    core: &RequestCore,
    path: &PathArg<'_>,
    fds: &[OwnedFd],
    flags: i32,
    notes: &mut Notes,
) -> Result<OwnedFd, Errno> {
    let follow = flags & libc::AT_SYMLINK_NOFOLLOW == 0;
    open_final(
        core,
        path,
        fds,
        follow,
        Access::SETATTR,
        libc::O_PATH,
        notes,
    )
}

/// Opens the final component (never following a symlink there) after checking `access`.
fn open_final(
    core: &RequestCore,
    arg: &PathArg<'_>,
    fds: &[OwnedFd],
    follow: bool,
    access: Access,
    flags: i32,
    notes: &mut Notes,
) -> Result<OwnedFd, Errno> {
    // A trailing slash follows a final symlink and wants a directory, as in the kernel.
    let follow = follow || arg.path.ends_with(b"/");
    for _ in 0..resolve::MAX_SYMLINK_HOPS {
        let loc = resolve_checked(core, arg, fds, follow, notes)?;
        core.check_path(&loc.path(), access, notes)?;
        let dir = if loc.trailing_slash {
            libc::O_DIRECTORY
        } else {
            0
        };
        match openat_raw(
            loc.parent.as_raw_fd(),
            &loc.name_c(),
            flags | dir | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            0,
        ) {
            // A symlink appeared after resolution: resolve again.
            Err(Errno(libc::ELOOP)) if follow => continue,
            other => return other,
        }
    }
    Err(Errno(libc::ELOOP))
}

/// openat(2) of `loc` with `flags` (which carry `O_NOFOLLOW`), and whether it created the
/// file: an `O_CREAT` open without `O_EXCL` tries `O_EXCL` first and, when the file exists,
/// opens it without `O_CREAT`, so the broker knows what to undo.
/// A creating attempt (`O_CREAT | O_EXCL`, which never waits for a FIFO's peer) holds
/// [`SWAPS`] for reading; an open of an existing file (which may wait) holds nothing.
pub(crate) fn open_at(loc: &Location, flags: i32, mode: u32) -> Result<(OwnedFd, bool), Errno> {
    let name = loc.name_c();
    let dir = loc.parent.as_raw_fd();
    if flags & libc::O_CREAT == 0 {
        // (An open that may wait for a FIFO's peer waits without pinning a pool thread.)
        return waiting::open_at(dir, &name, flags, mode).map(|fd| (fd, false));
    }
    if flags & libc::O_EXCL != 0 {
        let _no_moves = no_moves();
        return openat_raw(dir, &name, flags, mode).map(|fd| (fd, true));
    }
    for _ in 0..resolve::MAX_SYMLINK_HOPS {
        let created = {
            let _no_moves = no_moves();
            openat_raw(dir, &name, flags | libc::O_EXCL, mode)
        };
        match created {
            Ok(fd) => return Ok((fd, true)),
            Err(Errno(libc::EEXIST)) => {}
            Err(e) => return Err(e),
        }
        match waiting::open_at(dir, &name, flags & !libc::O_CREAT, mode) {
            Ok(fd) => return Ok((fd, false)),
            // Removed in between: create it after all.
            Err(Errno(libc::ENOENT)) => {}
            Err(e) => return Err(e),
        }
    }
    Err(Errno(libc::EAGAIN))
}

/// Confirms, after the action, that the object held (`fd`, opened at `loc`) is one the
/// policy grants `rights` on where it really is: its real path (`/proc/self/fd`) is the one
/// decided on, or else `rights` are decided again on where it is now. A file removed
/// meanwhile (or an `O_TMPFILE`) has no path: its directory is confirmed instead.
pub(crate) fn confirm_fd(
    core: &RequestCore,
    loc: &Location,
    fd: &OwnedFd,
    rights: Access,
    notes: &mut Notes,
) -> Result<(), Errno> {
    match resolve::fd_path(fd.as_fd()) {
        Ok(real) if real == loc.path() => Ok(()),
        Ok(real) => core.check_path(&real, rights, notes),
        Err(_) => confirm_parent(core, loc, rights, notes),
    }
}

/// Confirms, after the action, that the directory the broker acted in (`loc.parent`) is
/// still where the decision was made (`loc.parent_path`); where it moved meanwhile, decides
/// `rights` again on the name's real location now.
pub(crate) fn confirm_parent(
    core: &RequestCore,
    loc: &Location,
    rights: Access,
    notes: &mut Notes,
) -> Result<(), Errno> {
    let now = resolve::fd_path(loc.parent.as_fd())?;
    if now == loc.parent_path {
        return Ok(());
    }
    let real = if loc.name == b"." {
        now
    } else {
        now.join(std::ffi::OsStr::from_bytes(&loc.name))
    };
    core.check_path(&real, rights, notes)
}

/// Removes the file the broker just created at `loc` (held as `fd`), if it is still there.
pub(crate) fn undo_create(loc: &Location, fd: &OwnedFd) {
    let _no_moves = no_moves();
    let same = match (
        statx(fd.as_raw_fd(), c"", libc::AT_EMPTY_PATH),
        statx(
            loc.parent.as_raw_fd(),
            &loc.name_c(),
            libc::AT_SYMLINK_NOFOLLOW,
        ),
    ) {
        (Ok(a), Ok(b)) => identity(&a) == identity(&b),
        _ => false,
    };
    if same {
        // SAFETY: name is NUL-terminated; the parent fd is open.
        unsafe { libc::unlinkat(loc.parent.as_raw_fd(), loc.name_c().as_ptr(), 0) };
    }
}

/// Whether the program may `stat` `path` and something is there (a final `.`, `..` or `/`
/// always names something): a refused creation is then answered with the kernel's `EEXIST`.
fn visibly_there(core: &RequestCore, loc: &Location, path: &Path) -> bool {
    core.allows(path, Access::STAT)
        && (loc.last != Last::Name
            || statx(
                loc.parent.as_raw_fd(),
                &loc.name_c(),
                libc::AT_SYMLINK_NOFOLLOW,
            )
            .is_ok())
}

/// The `create` right on `loc`, decided before a creation by name (mkdir, mknod, symlink,
/// link). Where the policy refuses it but lets the program `stat` the name and something is
/// there, the answer is the kernel's `EEXIST` (which the kernel gives before any permission
/// check, and which tells nothing `stat` would not): `mkdir -p` and its kind rely on it.
fn check_create(core: &RequestCore, loc: &Location, notes: &mut Notes) -> Result<(), Errno> {
    let path = loc.path();
    if !core.allows(&path, Access::CREATE) && visibly_there(core, loc, &path) {
        return Err(Errno(libc::EEXIST));
    }
    core.check_path(&path, Access::CREATE, notes)
}

/// [`check_create`] for `mkdir`, decided by the policy's `decide_mkdir` (a directory on
/// the way to a rule granting `create` is allowed); `Ok(true)` when allowed only so.
fn check_mkdir(core: &RequestCore, loc: &Location, notes: &mut Notes) -> Result<bool, Errno> {
    let path = loc.path();
    if !core.allows_mkdir(&path) && visibly_there(core, loc, &path) {
        return Err(Errno(libc::EEXIST));
    }
    core.check_mkdir(&path, notes)
}

/// After a creation by name (mkdir, mknod, symlink, link) in `loc`: confirms the parent
/// ([`confirm_parent`]) and, if it moved where the policy refuses, removes what was created
/// (`rmdir` for a directory) and refuses.
fn confirm_created(
    core: &RequestCore,
    loc: &Location,
    dir: bool,
    notes: &mut Notes,
) -> Result<Done, Errno> {
    if let Err(denied) = confirm_parent(core, loc, Access::CREATE, notes) {
        let flags = if dir { libc::AT_REMOVEDIR } else { 0 };
        // SAFETY: name is NUL-terminated; the parent fd is open.
        unsafe { libc::unlinkat(loc.parent.as_raw_fd(), loc.name_c().as_ptr(), flags) };
        return Err(denied);
    }
    Ok(Done::value(0))
}

fn open(
    core: &RequestCore,
    arg: &PathArg<'_>,
    fds: &[OwnedFd],
    flags: i32,
    mode: u32,
    umask: u32,
    notes: &mut Notes,
) -> Result<Done, Errno> {
    let creat = flags & libc::O_CREAT != 0;
    let excl = creat && flags & libc::O_EXCL != 0;
    let tmpfile = flags & libc::O_TMPFILE == libc::O_TMPFILE;
    let follow = flags & libc::O_NOFOLLOW == 0 && !excl;
    let mut access = if flags & libc::O_PATH != 0 {
        Access::STAT
    } else {
        match flags & libc::O_ACCMODE {
            libc::O_RDONLY => Access::READ,
            libc::O_WRONLY => Access::WRITE,
            _ => Access::READ | Access::WRITE,
        }
    };
    if flags & libc::O_TRUNC != 0 {
        access |= Access::WRITE;
    }
    if flags & libc::O_DIRECTORY != 0 && !tmpfile && access == Access::READ {
        access = Access::LIST;
    }
    if tmpfile {
        access = Access::CREATE | Access::WRITE;
    }
    let mode = setid::for_file(mode & 0o7777 & !umask);
    // The final component is opened with O_NOFOLLOW; only when the kernel says it is a
    // symlink (ELOOP) is the link read and its target resolved — no readlink per call.
    let mut loc = resolve_checked(core, arg, fds, false, notes)?;
    if creat && !tmpfile && (loc.trailing_slash || loc.last != Last::Name) {
        // The kernel refuses to create a directory by open(): `EISDIR`, existing or not.
        core.check_path(&loc.path(), access, notes)?;
        return Err(Errno(libc::EISDIR));
    }
    for _ in 0..resolve::MAX_SYMLINK_HOPS {
        let path = loc.path();
        let mut flags = flags | libc::O_NOFOLLOW | libc::O_CLOEXEC;
        if loc.trailing_slash && !tmpfile {
            flags |= libc::O_DIRECTORY;
        }
        if creat && !core.allows(&path, access | Access::CREATE) {
            // No right to create: the open may still succeed on an existing file.
            let exists = statx(
                loc.parent.as_raw_fd(),
                &loc.name_c(),
                libc::AT_SYMLINK_NOFOLLOW,
            )
            .is_ok();
            if excl && exists && core.allows(&path, Access::STAT) {
                // The kernel's EEXIST comes before any permission check; `stat` tells it.
                return Err(Errno(libc::EEXIST));
            }
            core.check_path(&path, access, notes)?;
            if !exists || excl {
                // The policy does not grant creating here; a decider may (`allows` asks
                // only the policy): then the open goes on as asked.
                if let Err(denied) = core.check_path(&path, access | Access::CREATE, notes) {
                    return Err(if exists { Errno(libc::EEXIST) } else { denied });
                }
            } else {
                flags &= !(libc::O_CREAT | libc::O_EXCL);
            }
        } else {
            let needed = if creat {
                access | Access::CREATE
            } else {
                access
            };
            if let Err(denied) = core.check_path(&path, needed, notes) {
                // A denied name may be a symlink to an allowed file: decide on its target.
                match follow.then(|| follow_link(core, &loc, notes)) {
                    Some(Ok(Some(next))) => {
                        loc = next;
                        notes.verdict = None;
                        continue;
                    }
                    _ => return Err(denied),
                }
            }
        }
        let (fd, created) = match open_at(&loc, flags, mode) {
            // A final symlink: ELOOP, or ENOTDIR when O_DIRECTORY (or a trailing slash)
            // asks for a directory. Not a symlink after all: the kernel's answer stands.
            Err(e @ Errno(libc::ELOOP | libc::ENOTDIR)) if follow || loc.trailing_slash => {
                loc = follow_link(core, &loc, notes)?.ok_or(e)?;
                continue;
            }
            other => other?,
        };
        // Decide on what is held: the fd's real location, now.
        let rights = if created {
            access | Access::CREATE
        } else {
            access
        };
        if let Err(denied) = confirm_fd(core, &loc, &fd, rights, notes) {
            if created {
                undo_create(&loc, &fd);
            }
            return Err(denied);
        }
        if flags & libc::O_PATH != 0 && follow {
            // O_PATH|O_NOFOLLOW opens a symlink itself; the caller asked to follow it.
            let st = statx(fd.as_raw_fd(), c"", libc::AT_EMPTY_PATH)?;
            if file_type(st.mode) == libc::S_IFLNK {
                loc = follow_link(core, &loc, notes)?.ok_or(Errno(libc::ELOOP))?;
                continue;
            }
        }
        // An open for reading that turned out to be a directory also needs `list`.
        if access == Access::READ && flags & libc::O_PATH == 0 {
            let st = statx(fd.as_raw_fd(), c"", libc::AT_EMPTY_PATH)?;
            if file_type(st.mode) == libc::S_IFDIR {
                core.check_path(&path, Access::LIST, notes)?;
            }
        }
        return Ok(Done {
            value: 0,
            payload: OutPayload::None,
            fd: Some(fd),
        });
    }
    Err(Errno(libc::ELOOP))
}

fn stat(
    core: &RequestCore,
    arg: &PathArg<'_>,
    fds: &[OwnedFd],
    flags: i32,
    notes: &mut Notes,
) -> Result<Done, Errno> {
    if arg.path.is_empty() && flags & libc::AT_EMPTY_PATH != 0 {
        // fstat of a descriptor the program already holds: no authority involved.
        let fd = fds.first().ok_or(Errno(libc::EBADF))?;
        let st = statx(fd.as_raw_fd(), c"", libc::AT_EMPTY_PATH)?;
        return Ok(Done {
            value: 0,
            payload: OutPayload::Stat(st),
            fd: None,
        });
    }
    let follow = flags & libc::AT_SYMLINK_NOFOLLOW == 0;
    let mut loc = resolve_checked(core, arg, fds, false, notes)?;
    for _ in 0..resolve::MAX_SYMLINK_HOPS {
        // statx has no side effects: look first, follow a symlink only when there is one,
        // and hand out nothing (not even ENOENT) before the policy has allowed the path.
        let st = statx(
            loc.parent.as_raw_fd(),
            &loc.name_c(),
            libc::AT_SYMLINK_NOFOLLOW,
        );
        if let Ok(s) = &st {
            if (follow || loc.trailing_slash) && file_type(s.mode) == libc::S_IFLNK {
                loc = follow_link(core, &loc, notes)?.ok_or(Errno(libc::ELOOP))?;
                continue;
            }
        }
        core.check_path(&loc.path(), Access::STAT, notes)?;
        let st = st?;
        if loc.trailing_slash && file_type(st.mode) != libc::S_IFDIR {
            return Err(Errno(libc::ENOTDIR));
        }
        return Ok(Done {
            value: 0,
            payload: OutPayload::Stat(st),
            fd: None,
        });
    }
    Err(Errno(libc::ELOOP))
}

fn access(
    core: &RequestCore,
    arg: &PathArg<'_>,
    fds: &[OwnedFd],
    mode: i32,
    flags: i32,
    notes: &mut Notes,
) -> Result<Done, Errno> {
    // The kernel refuses flags it does not know before it looks at the path (red team s9a
    // finding 06: they were dropped and the call answered).
    if flags & !(libc::AT_EACCESS | libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH) != 0 {
        return Err(Errno(libc::EINVAL));
    }
    let follow = flags & libc::AT_SYMLINK_NOFOLLOW == 0;
    let mut loc = resolve_checked(core, arg, fds, false, notes)?;
    let mut st = statx(
        loc.parent.as_raw_fd(),
        &loc.name_c(),
        libc::AT_SYMLINK_NOFOLLOW,
    );
    let mut hops = 0;
    while matches!(st, Ok(ref s) if file_type(s.mode) == libc::S_IFLNK)
        && (follow || loc.trailing_slash)
    {
        hops += 1;
        if hops > resolve::MAX_SYMLINK_HOPS {
            return Err(Errno(libc::ELOOP));
        }
        loc = follow_link(core, &loc, notes)?.ok_or(Errno(libc::ELOOP))?;
        st = statx(
            loc.parent.as_raw_fd(),
            &loc.name_c(),
            libc::AT_SYMLINK_NOFOLLOW,
        );
    }
    if st.is_err() || loc.trailing_slash {
        // Nothing there (or a trailing slash on what may not be a directory): the answer
        // is the lookup's, which `stat` alone may learn, whatever rights `mode` asks for
        // (git asks X_OK of hooks that are usually missing).
        core.check_path(&loc.path(), Access::STAT, notes)?;
        let st = st?;
        if loc.trailing_slash && file_type(st.mode) != libc::S_IFDIR {
            return Err(Errno(libc::ENOTDIR));
        }
    }
    let is_dir = matches!(st, Ok(ref s) if file_type(s.mode) == libc::S_IFDIR);
    let mut needed = Access::STAT;
    if mode & libc::R_OK != 0 {
        needed |= if is_dir { Access::LIST } else { Access::READ };
    }
    if mode & libc::W_OK != 0 {
        needed |= if is_dir {
            Access::CREATE
        } else {
            Access::WRITE
        };
    }
    if mode & libc::X_OK != 0 && !is_dir {
        needed |= Access::EXEC;
    }
    core.check_path(&loc.path(), needed, notes)?;
    st?;
    let kflags = (flags & libc::AT_EACCESS) | libc::AT_SYMLINK_NOFOLLOW;
    // SAFETY: name is NUL-terminated; the parent fd is open.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_faccessat2,
            loc.parent.as_raw_fd(),
            loc.name_c().as_ptr(),
            mode,
            kflags,
        )
    };
    check(rc as i32)?;
    Ok(Done::value(0))
}

/// The rights an existing object carries to where it is moved or linked: the destination's
/// rule may grant one of them only if the source's does.
const CARRIED: [Access; 7] = [
    Access::READ,
    Access::LIST,
    Access::WRITE,
    Access::EXEC,
    Access::SETATTR,
    Access::REMOVE,
    Access::RENAME,
];

/// `RENAME_EXCHANGE` of renameat2(2).
const RENAME_EXCHANGE: u32 = 1 << 1;
/// `RENAME_NOREPLACE` of renameat2(2).
const RENAME_NOREPLACE: u32 = 1 << 0;

/// What a rename does with its destination: the `renameat2` flags arbiter classifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RenameMode {
    /// No flags: an existing destination is replaced (removed).
    Replace,
    /// `RENAME_NOREPLACE`: an existing destination is `EEXIST`.
    NoReplace,
    /// `RENAME_EXCHANGE`: the two objects swap names.
    Exchange,
}

impl RenameMode {
    /// Default deny: `0`, `RENAME_NOREPLACE` and `RENAME_EXCHANGE` are classified; their
    /// combination and bits the kernel does not know are `EINVAL`, as the kernel answers
    /// them, and so is `RENAME_WHITEOUT` (which leaves a 0:0 character device at the source
    /// name, a creation nobody decided; `EINVAL` is what a filesystem without whiteouts
    /// answers, so programs take it for "not supported").
    fn of(flags: u32) -> Result<RenameMode, Errno> {
        match flags {
            0 => Ok(RenameMode::Replace),
            RENAME_NOREPLACE => Ok(RenameMode::NoReplace),
            RENAME_EXCHANGE => Ok(RenameMode::Exchange),
            _ => Err(Errno(libc::EINVAL)),
        }
    }

    /// The flags for `renameat2`.
    fn flags(self) -> u32 {
        match self {
            RenameMode::Replace => 0,
            RenameMode::NoReplace => RENAME_NOREPLACE,
            RenameMode::Exchange => RENAME_EXCHANGE,
        }
    }
}

/// How often a rename is decided again when a directory it decided on moved before
/// [`SWAPS`] was taken (the program's own rename in between), before it answers `EXDEV`.
const RENAME_ATTEMPTS: usize = 8;

/// The identity of an inode: device and inode number.
type Identity = (u32, u32, u64);

fn identity(st: &arbiter_protocol::WireStat) -> Identity {
    (st.dev_major, st.dev_minor, st.ino)
}

/// What a rename moves, looked at once without following a symlink: its identity, and
/// whether it is a directory.
fn moved_object(loc: &Location) -> Result<(Identity, bool), Errno> {
    let st = statx(
        loc.parent.as_raw_fd(),
        &loc.name_c(),
        libc::AT_SYMLINK_NOFOLLOW,
    )?;
    Ok((identity(&st), file_type(st.mode) == libc::S_IFDIR))
}

/// Moving the object at `from` (a directory when `is_dir`) to `to` exposes nothing the
/// policy hides: the destination's rule grants no right on it the source's does not, and a
/// directory moves only where one rule decides its whole subtree on both sides (else a
/// denied directory inside it would land beneath another rule). `EXDEV` otherwise, which
/// makes `mv` and its kind copy and remove instead — file by file, each decided.
fn moves_nothing_hidden(
    core: &RequestCore,
    from: &Path,
    to: &Path,
    is_dir: bool,
) -> Result<(), Errno> {
    let policy = core.policy();
    if is_dir && !(policy.decided_alone_beneath(from) && policy.decided_alone_beneath(to)) {
        return Err(Errno(libc::EXDEV));
    }
    if CARRIED
        .iter()
        .any(|&right| core.allows(to, right) && !core.allows(from, right))
    {
        return Err(Errno(libc::EXDEV));
    }
    Ok(())
}

/// Whether the directory the broker acts in (`loc.parent`) is still at the real path the
/// decision was made on.
fn in_place(loc: &Location) -> bool {
    resolve::fd_path(loc.parent.as_fd()).is_ok_and(|now| now == loc.parent_path)
}

/// Whether something is at `loc` (not following a symlink).
fn exists(loc: &Location) -> bool {
    statx(
        loc.parent.as_raw_fd(),
        &loc.name_c(),
        libc::AT_SYMLINK_NOFOLLOW,
    )
    .is_ok()
}

/// What a name holds after a rename, against the object decided about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Held {
    /// The object decided about.
    Decided,
    /// Nothing: removed since (by the program's native removal, or from outside).
    Gone,
    /// Another object: only a process outside the sandbox can have put it there.
    Other,
}

fn held(loc: &Location, decided: Identity) -> Held {
    match moved_object(loc) {
        Ok((id, _)) if id == decided => Held::Decided,
        Err(Errno(libc::ENOENT)) => Held::Gone,
        _ => Held::Other,
    }
}

/// `renameat2(a, b, flags)` on the held directories.
fn renameat2(a: &Location, b: &Location, flags: u32) -> Result<(), Errno> {
    // SAFETY: names are NUL-terminated; both parent fds are open.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            a.parent.as_raw_fd(),
            a.name_as_asked().as_ptr(),
            b.parent.as_raw_fd(),
            b.name_as_asked().as_ptr(),
            flags,
        )
    };
    check(rc as i32).map(|_| ())
}

/// renameat2(2), with the flags [`RenameMode`] classifies: decided on both real paths
/// (`rename` on each; `remove` on the destination when one is there and the call would
/// replace it, as Landlock decides it), then, holding [`SWAPS`] for writing, performed on
/// what was decided about: the directories must still be where the decision found them
/// (else everything is decided again: the program moved one in between), the moved objects
/// are identified and checked ([`moves_nothing_hidden`], both ways for an exchange; a
/// pinned object is `EBUSY`), and after the call confirmed (see [`rename_locked`]).
fn rename(
    core: &RequestCore,
    from: &PathArg<'_>,
    to: &PathArg<'_>,
    fds: &[OwnedFd],
    flags: u32,
    notes: &mut Notes,
) -> Result<Done, Errno> {
    // The kernel checks the flags before it looks up either path.
    let mode = RenameMode::of(flags)?;
    for _ in 0..RENAME_ATTEMPTS {
        let src = resolve_checked(core, from, fds, false, notes)?;
        let dst = resolve_checked(core, to, fds, false, notes)?;
        let (src_path, dst_path) = (src.path(), dst.path());
        core.check_path(&src_path, Access::RENAME, notes)?;
        core.check_path(&dst_path, Access::RENAME, notes)?;
        // A final `.`, `..` or `/` on either side: the kernel's answers, in its order.
        if src.last != Last::Name {
            return Err(Errno(libc::EBUSY));
        }
        if dst.last != Last::Name {
            return Err(Errno(if mode == RenameMode::NoReplace {
                libc::EEXIST
            } else {
                libc::EBUSY
            }));
        }
        // Replacing an existing destination removes it (Landlock adds `REMOVE_FILE` or
        // `REMOVE_DIR` for a positive destination too).
        let replaces = mode == RenameMode::Replace && exists(&dst);
        if replaces {
            core.check_path(&dst_path, Access::REMOVE, notes)?;
        }
        let _swaps = SWAPS.write().unwrap_or_else(|e| e.into_inner());
        if !in_place(&src) || !in_place(&dst) {
            continue; // a directory moved since the decision: decide where it is now
        }
        if mode == RenameMode::Replace && !replaces && exists(&dst) {
            continue; // a destination appeared since: decide its removal
        }
        return rename_locked(core, &src, &dst, mode, notes);
    }
    Err(Errno(libc::EXDEV))
}

/// The part of [`rename`] done holding [`SWAPS`] for writing, with the decisions on both
/// paths made and both directories still in place. What moves is identified (device,
/// inode) and checked now; nothing in the sandbox can swap it before the `renameat2`
/// (brokered calls wait for the lock; the program has no native rename or creation). After
/// the call each name must hold the object decided about, and the directories must still
/// be in place. Only a process outside the sandbox can change either in that window, and
/// the broker then never moves an object it did not decide about:
/// * a name holding another object: left as it is (the broker cannot know which object it
///   moved), `EXDEV`;
/// * a name holding nothing: the program removed what it moved (a native removal), the
///   rename is done;
/// * a directory moved: `rename` is decided again where it is now ([`confirm_parent`]); if
///   refused, the rename is undone, moving back only names that hold the objects decided
///   about, just looked at (an outsider can still swap one in between that look and the
///   undo: the only window left), and answered `EXDEV`.
fn rename_locked(
    core: &RequestCore,
    src: &Location,
    dst: &Location,
    mode: RenameMode,
    notes: &mut Notes,
) -> Result<Done, Errno> {
    let (src_path, dst_path) = (src.path(), dst.path());
    let (moved, moved_dir) = moved_object(src)?;
    // A Landlock rule root, or a directory above one, is in use by the sandbox's kernel
    // confinement: moved, its inode would keep its rights at a path the policy may grant
    // fewer (the kernel's `EBUSY`, as for a mount point).
    if core.is_pinned(moved) {
        return Err(Errno(libc::EBUSY));
    }
    moves_nothing_hidden(core, &src_path, &dst_path, moved_dir)?;
    let swapped = if mode == RenameMode::Exchange {
        let (other, other_dir) = moved_object(dst)?;
        if core.is_pinned(other) {
            return Err(Errno(libc::EBUSY));
        }
        moves_nothing_hidden(core, &dst_path, &src_path, other_dir)?;
        Some(other)
    } else {
        None
    };
    renameat2(src, dst, mode.flags())?;
    let at_dst = held(dst, moved);
    let at_src = swapped.map_or(Held::Gone, |other| held(src, other));
    if at_dst == Held::Other || at_src == Held::Other {
        return Err(Errno(libc::EXDEV));
    }
    if in_place(dst) && in_place(src) {
        return Ok(Done::value(0));
    }
    let refused = confirm_parent(core, dst, Access::RENAME, notes).is_err()
        || (swapped.is_some() && confirm_parent(core, src, Access::RENAME, notes).is_err());
    if !refused {
        return Ok(Done::value(0));
    }
    // Undo, moving back only what was decided about and is still there (looked at again
    // just now: the re-decision may have taken time).
    let at_dst = held(dst, moved);
    let at_src = swapped.map_or(Held::Gone, |other| held(src, other));
    let _ = match (at_dst, at_src) {
        (Held::Decided, Held::Decided) => renameat2(dst, src, RENAME_EXCHANGE),
        (Held::Decided, Held::Gone) => renameat2(dst, src, RENAME_NOREPLACE),
        (Held::Gone, Held::Decided) => renameat2(src, dst, RENAME_NOREPLACE),
        _ => Ok(()),
    };
    Err(Errno(libc::EXDEV))
}

/// A hard link gives a file a second name, possibly under a more generous rule; so the
/// source must already allow every right the destination's rule would grant.
fn link(
    core: &RequestCore,
    from: &PathArg<'_>,
    to: &PathArg<'_>,
    fds: &[OwnedFd],
    flags: i32,
    notes: &mut Notes,
) -> Result<Done, Errno> {
    // A trailing slash on the source makes the kernel follow a final symlink and want a
    // directory, which cannot be linked: follow here (decided on), answer as the kernel.
    let slash = from.path.ends_with(b"/");
    let follow = flags & libc::AT_SYMLINK_FOLLOW != 0 || slash;
    let src = resolve_checked(core, from, fds, follow, notes)?;
    if slash {
        core.check_path(&src.path(), Access::STAT, notes)?;
        let st = statx(
            src.parent.as_raw_fd(),
            &src.name_c(),
            libc::AT_SYMLINK_NOFOLLOW,
        )?;
        return Err(Errno(if file_type(st.mode) == libc::S_IFDIR {
            libc::EPERM
        } else {
            libc::ENOTDIR
        }));
    }
    let dst = resolve_checked(core, to, fds, false, notes)?;
    check_create(core, &dst, notes)?;
    for right in CARRIED {
        if core.allows(&dst.path(), right) {
            core.check_path(&src.path(), right, notes)?;
        }
    }
    // A Landlock rule root (a file the floor names) keeps its rights under any name: it
    // gets no second one (`EPERM`, as for a link the kernel's protected_hardlinks refuses).
    // Looked at before, and confirmed on the new name after.
    let _no_moves = no_moves();
    if core.is_pinned(moved_object(&src)?.0) {
        return Err(Errno(libc::EPERM));
    }
    // SAFETY: names are NUL-terminated; both parent fds are open.
    check(unsafe {
        libc::linkat(
            src.parent.as_raw_fd(),
            src.name_c().as_ptr(),
            dst.parent.as_raw_fd(),
            dst.name_as_asked().as_ptr(),
            0,
        )
    })?;
    if moved_object(&dst).is_ok_and(|(id, _)| core.is_pinned(id)) {
        // SAFETY: the name is NUL-terminated; the parent fd is open.
        unsafe { libc::unlinkat(dst.parent.as_raw_fd(), dst.name_as_asked().as_ptr(), 0) };
        return Err(Errno(libc::EPERM));
    }
    confirm_created(core, &dst, false, notes)
}
