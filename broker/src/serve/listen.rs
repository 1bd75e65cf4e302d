//! The daemon's listening socket: binding a path with an exact mode, deciding under a lock
//! whether an existing path is a live server or a stale leftover, noticing when the path is
//! stolen, and taking a socket bound by someone else (socket activation).
//!
//! # The mode is set by the umask, not by chmod
//! `bind(2)` creates the socket file with `0777 & !umask`. A `chmod` after `bind` leaves a
//! window in which the path exists with looser permissions, and `fchmod` on the socket fd
//! before `bind` changes the socket's own (sockfs) inode on Linux, not the file `bind`
//! creates. So, as emilua's `unix.listen` does, [`bind_path`] sets the umask to
//! `!mode & 0777` for the `bind` call alone and restores the old one on every path out
//! ([`UmaskGuard`]). The umask is process-wide: the daemon binds before it starts any thread
//! that creates files.
//!
//! # Existing paths (git's `unix-stream-server`)
//! Under `PATH.lock` (created `O_EXCL`, removed on every path out) the daemon probes an
//! existing `PATH` with a `connect`: an answer means a live server (refused, `EADDRINUSE`);
//! `ECONNREFUSED` means a leftover of a dead server, unlinked and replaced unless
//! `--no-replace-stale`. Something that is not a socket is never removed.

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::socket::{self, AddressFamily, Backlog, SockFlag, SockType, UnixAddr};

/// Where the daemon listens, as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A socket file.
    Path(PathBuf),
    /// An abstract socket (`@NAME`): no file, no lock, gone with its last fd.
    Abstract(Vec<u8>),
}

impl Endpoint {
    /// `@NAME` is abstract; anything else is a path.
    pub fn parse(arg: &OsStr) -> Endpoint {
        match arg.as_bytes().strip_prefix(b"@") {
            Some(name) => Endpoint::Abstract(name.to_vec()),
            None => Endpoint::Path(PathBuf::from(arg)),
        }
    }

    /// The socket address.
    pub fn addr(&self) -> io::Result<UnixAddr> {
        match self {
            Endpoint::Path(p) => UnixAddr::new(p.as_path()),
            Endpoint::Abstract(name) => UnixAddr::new_abstract(name),
        }
        .map_err(io::Error::from)
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Path(p) => write!(f, "{}", p.display()),
            Endpoint::Abstract(n) => write!(f, "@{}", String::from_utf8_lossy(n)),
        }
    }
}

/// Why the daemon could not listen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ListenError {
    /// A live server answers on the path (`EADDRINUSE`).
    #[error("{0}: a live server already answers on this socket (EADDRINUSE)")]
    Live(PathBuf),
    /// The path is a stale socket and `--no-replace-stale` was given.
    #[error("{0}: a stale socket is in the way and --no-replace-stale was given")]
    Stale(PathBuf),
    /// The path exists and is not a socket.
    #[error("{0}: exists and is not a socket; not removing it")]
    NotSocket(PathBuf),
    /// Another daemon holds the lock.
    #[error(
        "{0}: lock held by another process for over {1:?} (remove it if no daemon is starting)"
    )]
    Locked(PathBuf, Duration),
    /// The inherited fd is not what the daemon needs.
    #[error("inherited fd {fd}: {why}")]
    Inherited {
        /// The fd number.
        fd: RawFd,
        /// What is wrong with it.
        why: String,
    },
    /// A system call failed.
    #[error("{call} {what}")]
    Os {
        /// The system call.
        call: &'static str,
        /// Its argument.
        what: String,
        /// The error.
        #[source]
        source: io::Error,
    },
}

fn os(call: &'static str, what: impl std::fmt::Display, source: io::Error) -> ListenError {
    ListenError::Os {
        call,
        what: what.to_string(),
        source,
    }
}

/// Sets the umask for its lifetime and restores the previous one when dropped, on every
/// path out (errors and panics included).
pub struct UmaskGuard {
    old: libc::mode_t,
}

impl UmaskGuard {
    /// Sets the umask so that newly created files get at most `mode` (`0777 & !umask`).
    pub fn for_mode(mode: u32) -> UmaskGuard {
        // SAFETY: umask has no memory effects.
        let old = unsafe { libc::umask(!mode & 0o777) };
        UmaskGuard { old }
    }
}

impl Drop for UmaskGuard {
    fn drop(&mut self) {
        // SAFETY: umask has no memory effects.
        unsafe { libc::umask(self.old) };
    }
}

/// Options for [`listen`].
#[derive(Debug, Clone)]
pub struct Options {
    /// The socket file's mode (`0777` bits).
    pub mode: u32,
    /// `listen(2)` backlog.
    pub backlog: i32,
    /// Replace a stale socket left by a dead server.
    pub replace_stale: bool,
    /// How long to wait for another process's `PATH.lock`.
    pub lock_timeout: Duration,
}

/// A listening socket and, for a path the daemon bound, the identity of its file.
pub struct Listener {
    /// The listening `SOCK_SEQPACKET` socket.
    pub fd: OwnedFd,
    /// The path and the (dev, ino) bind created, when the daemon owns a path.
    pub owned: Option<(PathBuf, (u64, u64))>,
}

impl Listener {
    /// Whether the path still names the socket this daemon bound (`None`: no path owned).
    pub fn still_ours(&self) -> Option<bool> {
        let (path, id) = self.owned.as_ref()?;
        Some(match std::fs::symlink_metadata(path) {
            Ok(m) => (m.dev(), m.ino()) == *id,
            Err(_) => false,
        })
    }

    /// Removes the path if it still names this daemon's socket (never someone else's).
    pub fn remove_if_ours(&self) -> bool {
        match (&self.owned, self.still_ours()) {
            (Some((path, _)), Some(true)) => std::fs::remove_file(path).is_ok(),
            _ => false,
        }
    }
}

/// A `PATH.lock` created with `O_EXCL`, removed when dropped.
struct LockFile(PathBuf);

impl LockFile {
    fn take(path: &Path, timeout: Duration) -> Result<LockFile, ListenError> {
        let mut lock = path.as_os_str().to_owned();
        lock.push(".lock");
        let lock = PathBuf::from(lock);
        let until = Instant::now() + timeout;
        loop {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&lock)
            {
                Ok(_) => return Ok(LockFile(lock)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && Instant::now() < until => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    return Err(ListenError::Locked(lock, timeout))
                }
                Err(e) => return Err(os("open", lock.display(), e)),
            }
        }
    }
}

impl Drop for LockFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn seqpacket() -> io::Result<OwnedFd> {
    socket::socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(io::Error::from)
}

/// What a `connect` to an existing path found.
#[derive(Debug, PartialEq, Eq)]
enum Probe {
    Live,
    Stale,
    Gone,
}

fn probe(path: &Path) -> Result<Probe, ListenError> {
    let addr = UnixAddr::new(path).map_err(|e| os("connect", path.display(), e.into()))?;
    let fd = seqpacket().map_err(|e| os("socket", "AF_UNIX SOCK_SEQPACKET", e))?;
    match socket::connect(fd.as_raw_fd(), &addr) {
        Ok(()) => Ok(Probe::Live),
        Err(nix::errno::Errno::ECONNREFUSED) => Ok(Probe::Stale),
        Err(nix::errno::Errno::ENOENT) => Ok(Probe::Gone),
        // A listening socket of another type: someone is serving there.
        Err(nix::errno::Errno::EPROTOTYPE) => Ok(Probe::Live),
        Err(e) => Err(os("connect", path.display(), e.into())),
    }
}

/// Binds `addr` on a fresh socket, with the umask set for `mode` during the call.
fn bind_with_mode(addr: &UnixAddr, mode: u32, what: &str) -> Result<OwnedFd, ListenError> {
    let fd = seqpacket().map_err(|e| os("socket", "AF_UNIX SOCK_SEQPACKET", e))?;
    let bound = {
        let _umask = UmaskGuard::for_mode(mode);
        socket::bind(fd.as_raw_fd(), addr)
    };
    bound.map_err(|e| os("bind", what, e.into()))?;
    Ok(fd)
}

/// Binds and listens on `endpoint`, handling an existing path as the module doc says.
pub fn listen(endpoint: &Endpoint, opts: &Options) -> Result<Listener, ListenError> {
    let addr = endpoint.addr().map_err(|e| os("bind", endpoint, e))?;
    let backlog = Backlog::new(opts.backlog).unwrap_or(Backlog::MAXCONN);
    let path = match endpoint {
        Endpoint::Abstract(_) => {
            let fd = bind_with_mode(&addr, opts.mode, &endpoint.to_string())?;
            socket::listen(&fd, backlog).map_err(|e| os("listen", endpoint, e.into()))?;
            return Ok(Listener { fd, owned: None });
        }
        Endpoint::Path(p) => p,
    };
    let _lock = LockFile::take(path, opts.lock_timeout)?;
    match std::fs::symlink_metadata(path) {
        Ok(m) if !m.file_type().is_socket() => return Err(ListenError::NotSocket(path.clone())),
        Ok(_) => match probe(path)? {
            Probe::Live => return Err(ListenError::Live(path.clone())),
            Probe::Stale if !opts.replace_stale => return Err(ListenError::Stale(path.clone())),
            Probe::Stale => match std::fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(os("unlink", path.display(), e)),
            },
            Probe::Gone => {}
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(os("lstat", path.display(), e)),
    }
    let fd = bind_with_mode(&addr, opts.mode, &path.display().to_string())?;
    // Still under the lock: no contender can have replaced the file since bind.
    let meta = std::fs::symlink_metadata(path).map_err(|e| os("lstat", path.display(), e))?;
    let listener = Listener {
        fd,
        owned: Some((path.clone(), (meta.dev(), meta.ino()))),
    };
    if let Err(e) = socket::listen(&listener.fd, backlog) {
        listener.remove_if_ours();
        return Err(os("listen", path.display(), e.into()));
    }
    Ok(listener)
}

/// Checks that `fd` is a listening `AF_UNIX` `SOCK_SEQPACKET` socket, then owns it.
///
/// # Safety
/// `fd` must be open and owned by nobody else in this process (an inherited fd).
pub unsafe fn inherit(fd: RawFd) -> Result<Listener, ListenError> {
    let bad = |why: String| ListenError::Inherited { fd, why };
    // SAFETY: the caller promises fd is open for the duration of this call.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    let domain = crate::sockopt::int(borrowed, libc::SO_DOMAIN)
        .map_err(|e| bad(format!("not a socket ({e})")))?;
    if domain != libc::AF_UNIX {
        return Err(bad(format!("not a unix socket (domain {domain})")));
    }
    match crate::sockopt::int(borrowed, libc::SO_TYPE).map_err(|e| bad(e.to_string()))? {
        libc::SOCK_SEQPACKET => {}
        libc::SOCK_STREAM => return Err(bad("a SOCK_STREAM socket; arbiter serve needs SOCK_SEQPACKET (s6-ipcserver-socketbinder: bind it with a seqpacket-capable binder)".into())),
        other => return Err(bad(format!("socket type {other}; arbiter serve needs SOCK_SEQPACKET"))),
    }
    if crate::sockopt::int(borrowed, libc::SO_ACCEPTCONN).map_err(|e| bad(e.to_string()))? == 0 {
        return Err(bad("not listening (listen(2) was not called on it)".into()));
    }
    // SAFETY: checked open above; the caller hands over ownership.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // The daemon's accept loop polls; make sure accept itself never blocks it forever.
    let _ = nix::fcntl::fcntl(
        fd.as_raw_fd(),
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    );
    Ok(Listener { fd, owned: None })
}

/// The first fd of systemd's socket passing (`SD_LISTEN_FDS_START`).
const LISTEN_FDS_START: RawFd = 3;

/// The socket systemd passed, if any: `LISTEN_PID` names this process and `LISTEN_FDS`
/// counts the fds from 3. With one fd, that one; with several, the one `LISTEN_FDNAMES`
/// (colon-separated, in fd order) names `arbiter` or `arbiter.socket` (a socket unit's
/// default name, or `FileDescriptorName=arbiter`); the others are made close-on-exec.
/// Unsets the variables so children do not see them. Variables meant for another process
/// (`LISTEN_PID` another pid) are ignored; malformed ones for this one are an error.
pub fn systemd_fd() -> Result<Option<RawFd>, String> {
    let (Some(pid), Some(fds)) = (
        std::env::var_os("LISTEN_PID"),
        std::env::var_os("LISTEN_FDS"),
    ) else {
        return Ok(None);
    };
    let names = std::env::var_os("LISTEN_FDNAMES");
    std::env::remove_var("LISTEN_PID");
    std::env::remove_var("LISTEN_FDS");
    std::env::remove_var("LISTEN_FDNAMES");
    let pid: u32 = pid
        .to_str()
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| format!("LISTEN_PID={pid:?} is not a process id"))?;
    if pid != std::process::id() {
        return Ok(None);
    }
    let n: RawFd = fds
        .to_str()
        .and_then(|n| n.parse().ok())
        .filter(|&n: &RawFd| (1..=1024).contains(&n))
        .ok_or_else(|| format!("LISTEN_FDS={fds:?} is not a count of passed fds (1 to 1024)"))?;
    let names: Vec<String> = names
        .map(|v| v.to_string_lossy().split(':').map(str::to_owned).collect())
        .unwrap_or_default();
    let chosen = if n == 1 {
        LISTEN_FDS_START
    } else {
        let i = names
            .iter()
            .take(n as usize)
            .position(|name| name == "arbiter" || name == "arbiter.socket")
            .ok_or_else(|| {
                format!(
                    "systemd passed {n} sockets (LISTEN_FDNAMES={}); name arbiter's `arbiter` (FileDescriptorName=arbiter)",
                    names.join(":")
                )
            })?;
        LISTEN_FDS_START + i as RawFd
    };
    for fd in LISTEN_FDS_START..LISTEN_FDS_START + n {
        if fd != chosen {
            // SAFETY: fcntl on an fd number; an fd that is not open just fails.
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        }
    }
    Ok(Some(chosen))
}
