//! The file family: open, stat, access, mkdir, unlink, rename, link, symlink, readlink,
//! truncate, chmod, chown, utimensat — each decided on the real path, then performed on
//! `(parent fd, name)` without following the final symlink (see [`crate::core::resolve`]).

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use arbiter_policies::Access;
use arbiter_protocol::{At, Call, PathArg, Timespec};

use crate::core::errno::{check, Errno};
use crate::core::resolve::{self, openat_raw, Base, Location};
use crate::core::stat::{file_type, statx};
use crate::core::{Done, Notes, OutPayload, RequestCore};

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
            core.check_path(&loc.path(), Access::CREATE, notes)?;
            // SAFETY: name is NUL-terminated; the parent fd is open.
            check(unsafe {
                libc::mkdirat(
                    loc.parent.as_raw_fd(),
                    loc.name_c().as_ptr(),
                    mode & 0o7777 & !umask,
                )
            })?;
            Ok(Done::value(0))
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
            core.check_path(&loc.path(), Access::CREATE, notes)?;
            let perm = mode & 0o7777 & !umask;
            // SAFETY: name is NUL-terminated; the parent fd is open.
            check(unsafe {
                libc::mknodat(
                    loc.parent.as_raw_fd(),
                    loc.name_c().as_ptr(),
                    kind | perm,
                    0,
                )
            })?;
            Ok(Done::value(0))
        }
        Call::Unlink { path, flags } => {
            let loc = resolve_checked(core, &path, fds, false, notes)?;
            core.check_path(&loc.path(), Access::REMOVE, notes)?;
            // SAFETY: name is NUL-terminated; the parent fd is open.
            check(unsafe {
                libc::unlinkat(
                    loc.parent.as_raw_fd(),
                    loc.name_c().as_ptr(),
                    flags & libc::AT_REMOVEDIR,
                )
            })?;
            Ok(Done::value(0))
        }
        Call::Rename { from, to, flags } => {
            let src = resolve_checked(core, &from, fds, false, notes)?;
            let dst = resolve_checked(core, &to, fds, false, notes)?;
            core.check_path(&src.path(), Access::RENAME, notes)?;
            core.check_path(&dst.path(), Access::RENAME, notes)?;
            // SAFETY: names are NUL-terminated; both parent fds are open.
            let rc = unsafe {
                libc::syscall(
                    libc::SYS_renameat2,
                    src.parent.as_raw_fd(),
                    src.name_c().as_ptr(),
                    dst.parent.as_raw_fd(),
                    dst.name_c().as_ptr(),
                    flags,
                )
            };
            check(rc as i32)?;
            Ok(Done::value(0))
        }
        Call::Link { from, to, flags } => link(core, &from, &to, fds, flags, notes),
        Call::Symlink { target, path } => {
            let loc = resolve_checked(core, &path, fds, false, notes)?;
            core.check_path(&loc.path(), Access::CREATE, notes)?;
            let target = CString::new(target).map_err(|_| Errno(libc::EINVAL))?;
            // SAFETY: both strings are NUL-terminated; the parent fd is open.
            check(unsafe {
                libc::symlinkat(
                    target.as_ptr(),
                    loc.parent.as_raw_fd(),
                    loc.name_c().as_ptr(),
                )
            })?;
            Ok(Done::value(0))
        }
        Call::Readlink { path } => {
            let loc = resolve_checked(core, &path, fds, false, notes)?;
            core.check_path(&loc.path(), Access::STAT, notes)?;
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
            Ok(Done::value(0))
        }
        Call::Utimens { path, times, flags } => {
            let follow = flags & libc::AT_SYMLINK_NOFOLLOW == 0;
            let loc = resolve_checked(core, &path, fds, follow, notes)?;
            core.check_path(&loc.path(), Access::SETATTR, notes)?;
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
        Call::FastPaths => Ok(Done {
            payload: OutPayload::Bytes(core.fast_paths().to_vec()),
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
    use std::os::unix::ffi::OsStrExt;
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

/// Resolves all but the final component (which is followed too when `follow`).
pub(crate) fn resolve_checked(
    core: &RequestCore,
    arg: &PathArg<'_>,
    fds: &[OwnedFd],
    follow: bool,
    notes: &mut Notes,
) -> Result<Location, Errno> {
    let b = base(arg, fds)?;
    resolve::resolve(b, arg.path, follow).map_err(|e| resolution_error(core, arg, fds, e, notes))
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
    for _ in 0..resolve::MAX_SYMLINK_HOPS {
        let loc = resolve_checked(core, arg, fds, follow, notes)?;
        core.check_path(&loc.path(), access, notes)?;
        match openat_raw(
            loc.parent.as_raw_fd(),
            &loc.name_c(),
            flags | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            0,
        ) {
            // A symlink appeared after resolution: resolve again.
            Err(Errno(libc::ELOOP)) if follow => continue,
            other => return other,
        }
    }
    Err(Errno(libc::ELOOP))
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
    let mode = mode & 0o7777 & !umask;
    // The final component is opened with O_NOFOLLOW; only when the kernel says it is a
    // symlink (ELOOP) is the link read and its target resolved — no readlink per call.
    let mut loc = resolve_checked(core, arg, fds, false, notes)?;
    for _ in 0..resolve::MAX_SYMLINK_HOPS {
        let path = loc.path();
        let mut flags = flags | libc::O_NOFOLLOW | libc::O_CLOEXEC;
        if loc.trailing_slash && !tmpfile {
            flags |= libc::O_DIRECTORY;
        }
        if creat && !core.allows(&path, access | Access::CREATE) {
            // No right to create: the open may still succeed on an existing file.
            core.check_path(&path, access, notes)?;
            let exists = statx(
                loc.parent.as_raw_fd(),
                &loc.name_c(),
                libc::AT_SYMLINK_NOFOLLOW,
            )
            .is_ok();
            if !exists || excl {
                let denied = core.check_path(&path, access | Access::CREATE, notes);
                return Err(if exists {
                    Errno(libc::EEXIST)
                } else {
                    denied.err().unwrap_or(Errno(libc::EACCES))
                });
            }
            flags &= !(libc::O_CREAT | libc::O_EXCL);
        } else {
            let needed = if creat {
                access | Access::CREATE
            } else {
                access
            };
            if let Err(denied) = core.check_path(&path, needed, notes) {
                // A denied name may be a symlink to an allowed file: decide on its target.
                match follow.then(|| resolve::follow_once(&loc)) {
                    Some(Ok(Some(next))) => {
                        loc = next;
                        notes.verdict = None;
                        continue;
                    }
                    _ => return Err(denied),
                }
            }
        }
        let fd = match openat_raw(loc.parent.as_raw_fd(), &loc.name_c(), flags, mode) {
            Err(Errno(libc::ELOOP)) if follow || loc.trailing_slash => {
                loc = resolve::follow_once(&loc)?.ok_or(Errno(libc::ELOOP))?;
                continue;
            }
            other => other?,
        };
        if flags & libc::O_PATH != 0 && follow {
            // O_PATH|O_NOFOLLOW opens a symlink itself; the caller asked to follow it.
            let st = statx(fd.as_raw_fd(), c"", libc::AT_EMPTY_PATH)?;
            if file_type(st.mode) == libc::S_IFLNK {
                loc = resolve::follow_once(&loc)?.ok_or(Errno(libc::ELOOP))?;
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
                loc = resolve::follow_once(&loc)?.ok_or(Errno(libc::ELOOP))?;
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
        loc = resolve::follow_once(&loc)?.ok_or(Errno(libc::ELOOP))?;
        st = statx(
            loc.parent.as_raw_fd(),
            &loc.name_c(),
            libc::AT_SYMLINK_NOFOLLOW,
        );
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
    let follow = flags & libc::AT_SYMLINK_FOLLOW != 0;
    let src = resolve_checked(core, from, fds, follow, notes)?;
    let dst = resolve_checked(core, to, fds, false, notes)?;
    core.check_path(&dst.path(), Access::CREATE, notes)?;
    for right in [
        Access::READ,
        Access::WRITE,
        Access::EXEC,
        Access::SETATTR,
        Access::REMOVE,
        Access::RENAME,
    ] {
        if core.allows(&dst.path(), right) {
            core.check_path(&src.path(), right, notes)?;
        }
    }
    // SAFETY: names are NUL-terminated; both parent fds are open.
    check(unsafe {
        libc::linkat(
            src.parent.as_raw_fd(),
            src.name_c().as_ptr(),
            dst.parent.as_raw_fd(),
            dst.name_c().as_ptr(),
            0,
        )
    })?;
    Ok(Done::value(0))
}
