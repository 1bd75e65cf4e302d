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

use std::ffi::{CStr, CString, OsStr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::core::errno::Errno;

/// The kernel's limit on symlinks followed during one resolution.
pub const MAX_SYMLINK_HOPS: usize = 40;

/// Where a request's path starts.
#[derive(Clone, Copy)]
pub enum Base<'a> {
    /// The filesystem root (absolute paths).
    Root,
    /// A directory fd the program passed (dirfd-relative calls).
    Dir(BorrowedFd<'a>),
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

/// Opens `path` relative to `base` as an `O_PATH` directory, following symlinks as the
/// kernel would.
fn open_dir(base: Base<'_>, path: &[u8]) -> Result<OwnedFd, Errno> {
    let c = CString::new(path).map_err(|_| Errno(libc::EINVAL))?;
    let dirfd = match base {
        Base::Root => libc::AT_FDCWD,
        Base::Dir(fd) => fd.as_raw_fd(),
    };
    if matches!(base, Base::Root) && !path.starts_with(b"/") {
        return Err(Errno(libc::EINVAL));
    }
    openat_raw(
        dirfd,
        &c,
        libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        0,
    )
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
/// The final component is not touched.
pub fn locate(base: Base<'_>, path: &[u8]) -> Result<Location, Errno> {
    if path.is_empty() {
        return Err(Errno(libc::ENOENT));
    }
    if path.len() > libc::PATH_MAX as usize {
        return Err(Errno(libc::ENAMETOOLONG));
    }
    let (dir, name, trailing_slash) = split_last(path);
    if let (Base::Root, Some(d)) = (base, dir) {
        if is_plain_name(name) {
            if let Some(parent) = open_plain_dir(d)? {
                return Ok(Location {
                    parent,
                    parent_path: PathBuf::from(OsStr::from_bytes(d)),
                    name: name.to_vec(),
                    trailing_slash,
                });
            }
        }
    }
    let parent = match dir {
        Some(d) => open_dir(base, d)?,
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
        return locate_real_dir(real, dir);
    }
    let parent_path = fd_path(parent.as_fd())?;
    Ok(Location {
        parent,
        parent_path,
        name: name.to_vec(),
        trailing_slash,
    })
}

/// A Location for a directory whose real path is known and which is held open as `dir`.
fn locate_real_dir(real: PathBuf, dir: OwnedFd) -> Result<Location, Errno> {
    if real == Path::new("/") {
        return Ok(Location {
            parent: dir,
            parent_path: real,
            name: b".".to_vec(),
            trailing_slash: true,
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
    })
}

/// If `loc` names a symlink, returns the location of its target (resolved from the link's
/// directory); `Ok(None)` when it is not a symlink (or does not exist).
pub fn follow_once(loc: &Location) -> Result<Option<Location>, Errno> {
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
    let mut next = if buf.starts_with(b"/") {
        locate(Base::Root, &buf)?
    } else {
        locate(Base::Dir(loc.parent.as_fd()), &buf)?
    };
    next.trailing_slash |= loc.trailing_slash;
    Ok(Some(next))
}

/// Resolves `path` fully when `follow` is set (every symlink, including the last component),
/// or all but the last component otherwise.
pub fn resolve(base: Base<'_>, path: &[u8], follow: bool) -> Result<Location, Errno> {
    let mut loc = locate(base, path)?;
    if !follow && !loc.trailing_slash {
        return Ok(loc);
    }
    for _ in 0..MAX_SYMLINK_HOPS {
        match follow_once(&loc)? {
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
        let loc = resolve(Base::Root, p.as_bytes(), true).unwrap();
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
        let loc = resolve(Base::Root, p.as_bytes(), false).unwrap();
        assert_eq!(loc.parent_path, real.join("b/c"));
        assert_eq!(loc.path(), real.join("b/c/file"));
        // A plain directory takes the fast way and reports the same real path.
        let p = format!("{}/b/c/file", real.display());
        assert_eq!(
            resolve(Base::Root, p.as_bytes(), false).unwrap().path(),
            real.join("b/c/file")
        );
        // Errors are the kernel's, as on the general way.
        let p = format!("{}/missing/file", real.display());
        assert_eq!(
            resolve(Base::Root, p.as_bytes(), false).err(),
            Some(Errno(libc::ENOENT))
        );
        std::fs::write(real.join("f"), b"x").unwrap();
        let p = format!("{}/f/file", real.display());
        assert_eq!(
            resolve(Base::Root, p.as_bytes(), false).err(),
            Some(Errno(libc::ENOTDIR))
        );
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
            resolve(Base::Root, p.as_bytes(), false).unwrap().path(),
            real.join("l")
        );
        assert_eq!(
            resolve(Base::Root, p.as_bytes(), true).unwrap().path(),
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
            resolve(Base::Root, p.as_bytes(), true).err(),
            Some(Errno(libc::ELOOP))
        );
    }

    #[test]
    fn root_and_dot_paths_name_directories() {
        let loc = resolve(Base::Root, b"/", true).unwrap();
        assert_eq!(loc.path(), PathBuf::from("/"));
        let loc = resolve(Base::Root, b"/usr/.", true).unwrap();
        assert_eq!(loc.path(), PathBuf::from("/usr"));
        let loc = resolve(Base::Root, b"/usr/lib/..", true).unwrap();
        assert_eq!(loc.path(), PathBuf::from("/usr"));
    }
}
