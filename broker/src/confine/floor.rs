//! The filesystem floor: what a confined program may reach directly, without the broker.
//!
//! Read and execute only — nothing in the floor is writable. It holds what ld.so and
//! glibc's internal opens need (the loader, libraries, locale, NSS files, zoneinfo), the
//! shim (ld.so silently skips a preload it cannot read), and the program's installation
//! prefixes (exec outside the floor fails with `EACCES`). A handful of character devices
//! that glibc opens internally are read+write, without any right to create or remove.
//!
//! Anything else — the working directory, TMPDIR, home — is reached only through file
//! descriptors the broker opens after consulting the policy.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// How a floor entry may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FloorAccess {
    /// Read files, list directories, execute (and map) binaries.
    ReadExec,
    /// Read and write an existing file (a device); never create, remove or execute.
    ReadWriteFile,
    /// POSIX shared memory (`/dev/shm`): create, read, write and remove regular files,
    /// never execute. glibc's `sem_open`/`shm_open` open there internally, out of the
    /// shim's reach; until such internal opens are brokered through seccomp, the kernel
    /// grants this one tmpfs directly.
    SharedMemory,
}

/// Read+exec trees and files. Entries that do not exist are skipped by the caller.
const READ_EXEC: &[&str] = &[
    "/lib",
    "/lib32",
    "/lib64",
    "/usr/lib",
    "/usr/lib32",
    "/usr/lib64",
    "/usr/libexec",
    "/usr/bin",
    "/usr/sbin",
    "/bin",
    "/sbin",
    "/usr/share",
    // The caller's own /proc entries (/proc/self/fd, /proc/self/maps, /proc/self/exe) are
    // resolved by the kernel in the caller; Landlock cannot name "self", so /proc is read
    // here. Other processes' ptrace-protected entries (environ, maps, mem, fd) stay denied:
    // Landlock refuses ptrace access to processes outside the sandbox's domain.
    "/proc",
    "/usr/local",
    "/etc/ld.so.cache",
    "/etc/ld.so.preload",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/nsswitch.conf",
    "/etc/passwd",
    "/etc/group",
    "/etc/localtime",
    "/etc/hosts",
    "/etc/host.conf",
    "/etc/gai.conf",
    "/etc/resolv.conf",
];

/// Devices glibc (and many programs) open internally.
const DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/urandom",
    "/dev/random",
    "/dev/tty",
];

/// The floor for a program with installation prefixes `program_prefixes` and the shim at
/// `shim_path`, in a stable order. Paths are not checked for existence here.
pub fn paths(program_prefixes: &[PathBuf], shim_path: &Path) -> Vec<(PathBuf, FloorAccess)> {
    let mut out: Vec<(PathBuf, FloorAccess)> = READ_EXEC
        .iter()
        .map(|p| (PathBuf::from(p), FloorAccess::ReadExec))
        .collect();
    out.push((shim_path.to_path_buf(), FloorAccess::ReadExec));
    out.extend(
        program_prefixes
            .iter()
            .map(|p| (p.clone(), FloorAccess::ReadExec)),
    );
    out.extend(
        DEVICES
            .iter()
            .map(|p| (PathBuf::from(p), FloorAccess::ReadWriteFile)),
    );
    out.push((PathBuf::from("/dev/shm"), FloorAccess::SharedMemory));
    out
}

/// A floor entry with what is there: `None` when the path does not exist (or cannot be
/// reached); else whether it is a directory, and whether it is a regular file (symlinks
/// followed).
#[derive(Debug, Clone)]
pub struct Surveyed {
    /// The path.
    pub path: PathBuf,
    /// How it may be used.
    pub access: FloorAccess,
    /// `(is a directory, is a regular file)`, or `None` when it does not exist.
    pub kind: Option<(bool, bool)>,
}

/// Opens each entry of `floor` once (`O_PATH`, symlinks followed) and looks at what it is,
/// for the Landlock ruleset and the seccomp transport's exact-file table alike. Returns the
/// entries and, in the same order, the open fds (`None` where the path does not exist).
pub fn survey(floor: Vec<(PathBuf, FloorAccess)>) -> (Vec<Surveyed>, Vec<Option<OwnedFd>>) {
    floor
        .into_iter()
        .map(|(path, access)| {
            let fd = open_path(&path);
            let kind = fd.as_ref().and_then(kind_of);
            let fd = if kind.is_some() { fd } else { None };
            (Surveyed { path, access, kind }, fd)
        })
        .unzip()
}

/// `(is a directory, is a regular file)` for an open fd.
fn kind_of(fd: &OwnedFd) -> Option<(bool, bool)> {
    // SAFETY: stat is plain old data, filled by fstat.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fd is open; st is a valid out-pointer.
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } < 0 {
        return None;
    }
    let format = st.st_mode & libc::S_IFMT;
    Some((format == libc::S_IFDIR, format == libc::S_IFREG))
}

/// `open(path, O_PATH | O_CLOEXEC)`.
fn open_path(path: &Path) -> Option<OwnedFd> {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: c is NUL-terminated; the fd returned is owned by no one else.
    unsafe {
        let fd = libc::open(c.as_ptr(), libc::O_PATH | libc::O_CLOEXEC);
        (fd >= 0).then(|| OwnedFd::from_raw_fd(fd))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_has_nothing_writable_but_devices() {
        let floor = paths(
            &[PathBuf::from("/opt/tool")],
            Path::new("/x/libarbiter_shim.so"),
        );
        for (p, a) in &floor {
            if *a != FloorAccess::ReadExec {
                assert!(p.starts_with("/dev/"), "{} is writable", p.display());
            }
        }
        assert!(floor.iter().any(|(p, _)| p == Path::new("/opt/tool")));
        assert!(floor
            .iter()
            .any(|(p, _)| p == Path::new("/x/libarbiter_shim.so")));
    }
}
