//! The network family: connect and bind on the program's own socket, and name resolution.
//!
//! The program's socket travels to the broker with the request (`SCM_RIGHTS`), so the
//! broker acts on the very same open socket: the fd number, `O_NONBLOCK`, `FD_CLOEXEC` and
//! socket options stay the program's, a non-blocking connect reports `EINPROGRESS` exactly
//! as natively, and `getsockname` after a bind to port 0 shows the real port.
//!
//! * Pathname unix sockets are resolved like any path (real parent, held open) and reached
//!   through `/proc/self/fd/N`, which pins what was checked and lifts the 108-byte limit.
//! * A unix socket the broker binds gets its mode atomically: the broker's umask is 0 and
//!   the socket inode is `fchmod`ed before `bind`, so the file never exists with looser
//!   permissions — and no process-wide umask is touched, so concurrent binds cannot race.
//! * An existing path is never silently removed: `EADDRINUSE`, unless the rule allows
//!   replacing a stale socket; then, under `<path>.lock`, a probe connect tells a live
//!   server (kept) from a dead one (replaced).
//! * Host-name rules hold for connect: the addresses a name resolved to *for this sandbox*
//!   carry that name when connect decides.

use std::collections::HashMap;
use std::ffi::CString;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::sync::Mutex;

use arbiter_policies::{Decision, Endpoint};
use arbiter_protocol::reply::push_addr_info_entry;
use arbiter_protocol::{AddrInfoEntry, PathArg, SockAddr, MAX_MESSAGE};

use crate::core::errno::{check, Errno};
use crate::core::resolve::{openat_raw, Location};
use crate::core::{Done, Notes, OutPayload, RequestCore};

/// Most remembered (address → names) entries per sandbox.
const MAX_RESOLVED: usize = 4096;

/// The names each address was resolved from in one sandbox.
#[derive(Default)]
pub struct Resolved(Mutex<HashMap<IpAddr, Vec<String>>>);

impl Resolved {
    fn remember(&self, ip: IpAddr, name: &str) {
        let Ok(mut map) = self.0.lock() else { return };
        if map.len() >= MAX_RESOLVED && !map.contains_key(&ip) {
            return;
        }
        let names = map.entry(ip).or_default();
        if !names.iter().any(|n| n == name) && names.len() < 16 {
            names.push(name.to_owned());
        }
    }

    fn names(&self, ip: IpAddr) -> Vec<String> {
        self.0
            .lock()
            .map(|m| m.get(&ip).cloned().unwrap_or_default())
            .unwrap_or_default()
    }
}

/// The policy endpoint of an inet address on `sock`: UDP for a datagram socket, else TCP.
fn inet_policy_endpoint(
    sock: &OwnedFd,
    addr: &SockAddr<'_>,
) -> Result<(SocketAddr, Endpoint), Errno> {
    let sa = inet_endpoint(addr).ok_or(Errno(libc::EINVAL))?;
    let ep = if sock_type(sock)? == libc::SOCK_DGRAM {
        Endpoint::Udp(sa)
    } else {
        Endpoint::Tcp(sa)
    };
    Ok((sa, ep))
}

/// A destination on `sock` as the kernel reaches it, and its policy endpoint: an
/// unspecified address (`0.0.0.0`, `::`, `::ffff:0.0.0.0`) is the kernel's shorthand for
/// this host — for IPv4 the socket's bound address, else 127.0.0.1; for IPv6 `::1` — so it
/// is decided as, and connected or sent to, that address (deny rules for loopback hold).
fn inet_destination(sock: &OwnedFd, addr: &SockAddr<'_>) -> Result<(SocketAddr, Endpoint), Errno> {
    let (mut sa, ep) = inet_policy_endpoint(sock, addr)?;
    let ip = match sa.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(own_v4(sock)?),
        IpAddr::V6(v6) if v6.to_ipv4_mapped() == Some(Ipv4Addr::UNSPECIFIED) => {
            IpAddr::V6(own_v4(sock)?.to_ipv6_mapped())
        }
        IpAddr::V6(v6) if v6.is_unspecified() => match local_inet(sock)? {
            // A socket bound to a mapped address connects over IPv4.
            SockAddr::Inet6 { addr, .. } if Ipv6Addr::from(addr).to_ipv4_mapped().is_some() => {
                IpAddr::V6(Ipv4Addr::LOCALHOST.to_ipv6_mapped())
            }
            _ => IpAddr::V6(Ipv6Addr::LOCALHOST),
        },
        _ => return Ok((sa, ep)),
    };
    sa.set_ip(ip);
    let ep = match ep {
        Endpoint::Udp(_) => Endpoint::Udp(sa),
        _ => Endpoint::Tcp(sa),
    };
    Ok((sa, ep))
}

/// The IPv4 address the kernel puts for an unspecified IPv4 destination: the socket's bound
/// address, else 127.0.0.1.
fn own_v4(sock: &OwnedFd) -> Result<Ipv4Addr, Errno> {
    let bound = match local_inet(sock)? {
        SockAddr::Inet { addr, .. } => Some(Ipv4Addr::from(addr)),
        SockAddr::Inet6 { addr, .. } => Ipv6Addr::from(addr).to_ipv4_mapped(),
        _ => None,
    };
    Ok(bound
        .filter(|a| !a.is_unspecified())
        .unwrap_or(Ipv4Addr::LOCALHOST))
}

fn io_errno(e: std::io::Error) -> Errno {
    Errno(e.raw_os_error().unwrap_or(libc::EIO))
}

fn sock_type(fd: &OwnedFd) -> Result<i32, Errno> {
    crate::sockopt::int(fd.as_fd(), libc::SO_TYPE).map_err(io_errno)
}

fn sock_family(fd: &OwnedFd) -> Result<i32, Errno> {
    crate::sockopt::int(fd.as_fd(), libc::SO_DOMAIN).map_err(io_errno)
}

/// A `sockaddr_storage` and its length.
pub(crate) struct RawAddr {
    storage: libc::sockaddr_storage,
    /// How many bytes of `storage` the address takes.
    pub(crate) len: libc::socklen_t,
}

impl RawAddr {
    fn zeroed() -> RawAddr {
        // SAFETY: sockaddr_storage is plain old data; zero is valid.
        let storage = unsafe { std::mem::zeroed() };
        RawAddr { storage, len: 0 }
    }

    fn inet(addr: SocketAddr) -> RawAddr {
        let mut r = RawAddr::zeroed();
        match addr {
            SocketAddr::V4(a) => {
                // SAFETY: sockaddr_storage is large and aligned enough for sockaddr_in.
                let sin = unsafe { &mut *(&mut r.storage as *mut _ as *mut libc::sockaddr_in) };
                sin.sin_family = libc::AF_INET as libc::sa_family_t;
                sin.sin_port = a.port().to_be();
                sin.sin_addr.s_addr = u32::from(*a.ip()).to_be();
                r.len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            }
            SocketAddr::V6(a) => {
                // SAFETY: sockaddr_storage is large and aligned enough for sockaddr_in6.
                let sin6 = unsafe { &mut *(&mut r.storage as *mut _ as *mut libc::sockaddr_in6) };
                sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
                sin6.sin6_port = a.port().to_be();
                sin6.sin6_addr.s6_addr = a.ip().octets();
                sin6.sin6_flowinfo = a.flowinfo();
                sin6.sin6_scope_id = a.scope_id();
                r.len = std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t;
            }
        }
        r
    }

    /// A unix address naming `path` (at most 107 bytes) or, with `abstract_name`, an
    /// abstract name.
    pub(crate) fn unix(bytes: &[u8], abstract_name: bool) -> Result<RawAddr, Errno> {
        let mut r = RawAddr::zeroed();
        // SAFETY: sockaddr_storage is large and aligned enough for sockaddr_un.
        let sun = unsafe { &mut *(&mut r.storage as *mut _ as *mut libc::sockaddr_un) };
        sun.sun_family = libc::AF_UNIX as libc::sa_family_t;
        let offset = if abstract_name { 1 } else { 0 };
        if bytes.len() + offset >= sun.sun_path.len() {
            return Err(Errno(libc::ENAMETOOLONG));
        }
        for (i, b) in bytes.iter().enumerate() {
            sun.sun_path[i + offset] = *b as libc::c_char;
        }
        let base = std::mem::size_of::<libc::sa_family_t>();
        r.len = (base + offset + bytes.len() + usize::from(!abstract_name)) as libc::socklen_t;
        Ok(r)
    }

    /// The address, for the system calls that take one.
    pub(crate) fn ptr(&self) -> *const libc::sockaddr {
        (&self.storage as *const libc::sockaddr_storage).cast()
    }
}

fn inet_endpoint(addr: &SockAddr<'_>) -> Option<SocketAddr> {
    match *addr {
        SockAddr::Inet { addr, port } => {
            Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::from(addr)), port))
        }
        SockAddr::Inet6 {
            addr,
            port,
            flowinfo,
            scope_id,
        } => Some(SocketAddr::V6(std::net::SocketAddrV6::new(
            Ipv6Addr::from(addr),
            port,
            flowinfo,
            scope_id,
        ))),
        _ => None,
    }
}

/// The endpoint text of a pathname unix socket: `unix:` and [`name_text`] of its path.
fn unix_text(path: &[u8]) -> String {
    format!("unix:{}", name_text(path))
}

/// The endpoint text of an abstract unix socket: `unix:@` and [`name_text`] of its name.
fn abstract_text(name: &[u8]) -> String {
    format!("unix:@{}", name_text(name))
}

/// A socket name's bytes as text that tells every two names apart: UTF-8 as is, a
/// backslash as `\\`, every byte that is not part of valid UTF-8 as `\xNN`.
/// [`name_bytes`] reads it back.
pub fn name_text(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '\\' {
                out.push_str("\\\\");
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// The bytes [`name_text`] wrote `text` from; `None` if `text` is not its output.
pub fn name_bytes(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        if b != b'\\' {
            out.push(b);
            rest = tail;
            continue;
        }
        match tail {
            [b'\\', more @ ..] => {
                out.push(b'\\');
                rest = more;
            }
            [b'x', h, l, more @ ..] => {
                let hex = std::str::from_utf8(&[*h, *l]).ok()?.to_owned();
                out.push(u8::from_str_radix(&hex, 16).ok()?);
                rest = more;
            }
            _ => return None,
        }
    }
    Some(out)
}

fn record(core: &RequestCore, what: String, d: Decision, notes: &mut Notes) -> Result<(), Errno> {
    let d = core.settle(d, super::decider::Subject::Endpoint(&what), notes);
    if !d.allow && notes.denied.is_none() {
        notes.denied = Some(super::denials::Target::Endpoint(what.clone()));
    }
    notes.endpoint = Some(what);
    core.note_decision(d, notes);
    if d.allow {
        Ok(())
    } else {
        Err(Errno(d.errno))
    }
}

/// Resolves a unix socket path to its real location (following symlinks for connect).
fn unix_location(
    core: &RequestCore,
    path: &PathArg<'_>,
    fds: &[OwnedFd],
    follow: bool,
    notes: &mut Notes,
) -> Result<Location, Errno> {
    // fds[0] is the socket; a dirfd, if any, follows it, and `At::Fd(i)` indexes the
    // message's fds as a whole (the protocol's definition), so the socket counts.
    crate::core::fs::resolve_checked(core, path, fds, follow, notes)
}

/// Most socket files remembered per sandbox as bound by it.
const MAX_BOUND_HERE: usize = 4096;

/// The pathname unix sockets one sandbox bound (after an allowed decision), by the socket
/// file's device, inode and birth time (where the filesystem reports one, so an inode
/// number reused by a file made outside later does not match): a connect to one of them is
/// communication inside the sandbox, decided as a bind of its path (see
/// [`decide_destination`]).
#[derive(Default)]
pub struct BoundHere(Mutex<std::collections::HashSet<FileId>>);

/// A socket file's identity: device, inode, birth time (0 when unknown).
type FileId = (u64, u64, i64, u32);

/// The identity of the file `name` in the directory `dir` (not following a symlink).
fn file_id(dir: &OwnedFd, name: &std::ffi::CStr) -> Option<FileId> {
    id_of(dir.as_raw_fd(), name, libc::AT_SYMLINK_NOFOLLOW)
}

/// The identity of the file `file` is open on (an `O_PATH` fd is enough).
fn fd_id(file: &OwnedFd) -> Option<FileId> {
    id_of(
        file.as_raw_fd(),
        c"",
        libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW,
    )
}

fn id_of(dir: i32, name: &std::ffi::CStr, flags: i32) -> Option<FileId> {
    let st = crate::core::stat::statx(dir, name, flags).ok()?;
    let born = if st.mask & libc::STATX_BTIME != 0 {
        st.btime
    } else {
        (0, 0)
    };
    Some((
        libc::makedev(st.dev_major, st.dev_minor),
        st.ino,
        born.0,
        born.1,
    ))
}

impl BoundHere {
    fn remember(&self, loc: &Location) {
        let (Some(id), Ok(mut set)) = (file_id(&loc.parent, &loc.name_c()), self.0.lock()) else {
            return;
        };
        if set.len() < MAX_BOUND_HERE {
            set.insert(id);
        }
    }

    /// Whether `file` (an fd, not a name: the object the caller acts on) is a socket file
    /// this sandbox bound.
    fn holds(&self, file: &OwnedFd) -> bool {
        let Some(id) = fd_id(file) else {
            return false;
        };
        self.0.lock().map(|s| s.contains(&id)).unwrap_or(false)
    }
}

/// connect(2) on the program's socket (fds[0]).
pub fn connect(
    core: &RequestCore,
    addr: &SockAddr<'_>,
    fds: &[OwnedFd],
    notes: &mut Notes,
) -> Result<Done, Errno> {
    let sock = fds.first().ok_or(Errno(libc::EBADF))?;
    let raw = match addr {
        SockAddr::UnixUnnamed => return Err(Errno(libc::EINVAL)),
        SockAddr::Unspec => {
            // Dissolving a datagram association grants nothing.
            let mut r = RawAddr::zeroed();
            r.storage.ss_family = libc::AF_UNSPEC as libc::sa_family_t;
            r.len = std::mem::size_of::<libc::sa_family_t>() as libc::socklen_t;
            r
        }
        _ => {
            let (raw, pin) = decide_destination(core, sock, addr, fds, notes)?;
            return finish_connect(sock, &raw, pin);
        }
    };
    finish_connect(sock, &raw, None)
}

/// Decides a destination the program names (a `connect`, or a send's `msg_name`) as a
/// connect of that endpoint, and returns the address to act on with, for a unix path, the
/// `O_PATH` fd of the socket file it goes through (`/proc/self/fd/N`: the file decided on,
/// whatever is renamed meanwhile; keep it open until the call is made). Only pathname, abstract
/// and IP addresses name a destination (`EINVAL` otherwise).
fn decide_destination(
    core: &RequestCore,
    sock: &OwnedFd,
    addr: &SockAddr<'_>,
    fds: &[OwnedFd],
    notes: &mut Notes,
) -> Result<(RawAddr, Option<OwnedFd>), Errno> {
    match addr {
        SockAddr::Unix(path) => {
            let loc = unix_location(core, path, fds, true, notes)?;
            let real = loc.path();
            let mut d = core
                .policy()
                .decide_connect(&Endpoint::Unix(real.clone()), &[]);
            let open = || {
                openat_raw(
                    loc.parent.as_raw_fd(),
                    &loc.name_c(),
                    libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                    0,
                )
            };
            let mut file = None;
            if !d.allow {
                // A socket this sandbox bound: decided as that bind (the policy still lets
                // the sandbox bind there), communication inside the sandbox. Decided on the
                // object the call then goes through (this fd), never on the name again: a
                // rename may put another socket there at any time.
                file = open().ok();
                if file.as_ref().is_some_and(|f| core.bound_here().holds(f)) {
                    let b = core.policy().decide_bind(&Endpoint::Unix(real.clone()));
                    if b.decision.allow {
                        d = b.decision;
                    }
                }
            }
            record(core, unix_text(real.as_os_str().as_bytes()), d, notes)?;
            let file = match file {
                Some(f) => f,
                None => open()?,
            };
            let via = format!("/proc/self/fd/{}", file.as_raw_fd());
            Ok((RawAddr::unix(via.as_bytes(), false)?, Some(file)))
        }
        SockAddr::Abstract(name) => {
            record(
                core,
                abstract_text(name),
                core.policy()
                    .decide_connect(&Endpoint::Abstract(name.to_vec()), &[]),
                notes,
            )?;
            Ok((RawAddr::unix(name, true)?, None))
        }
        SockAddr::Inet { .. } | SockAddr::Inet6 { .. } => {
            let (sa, ep) = inet_destination(sock, addr)?;
            let names = core.resolved().names(sa.ip());
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            record(
                core,
                ep_text(&ep),
                core.policy().decide_connect(&ep, &refs),
                notes,
            )?;
            Ok((RawAddr::inet(sa), None))
        }
        SockAddr::UnixUnnamed | SockAddr::Unspec => Err(Errno(libc::EINVAL)),
    }
}

/// Connects `sock` to `raw` (a blocking socket waits here). A call whose transport can
/// tell when its caller went away (a seccomp notification no longer valid, a shim channel
/// hung up) waits in ticks of [`crate::core::waiting::TICK`] and gives up (`EINTR`) once the
/// caller is gone: a killed caller's connect to a listener whose backlog stays full no
/// longer keeps a broker thread. An interrupted unix connect is simply made again; a TCP
/// connect goes on in the kernel, so made again it waits for that one (`EISCONN`: done
/// meanwhile).
fn finish_connect(sock: &OwnedFd, raw: &RawAddr, _pin: Option<OwnedFd>) -> Result<Done, Errno> {
    // SAFETY: F_GETFL on a socket we hold.
    let fl = check(unsafe { libc::fcntl(sock.as_raw_fd(), libc::F_GETFL) })?;
    // A non-blocking connect never waits: no tick needed.
    let watched = fl & libc::O_NONBLOCK == 0
        && (WAITER.with(|w| w.get()).is_some() || crate::core::waiting::watched());
    let identity = program_identity(sock)?;
    let mut again = false;
    loop {
        let connect = || {
            // SAFETY: raw points at a valid sockaddr of raw.len bytes.
            let call = || check(unsafe { libc::connect(sock.as_raw_fd(), raw.ptr(), raw.len) });
            if watched {
                crate::core::waiting::ticking(call)?
            } else {
                call()
            }
        };
        let done = match identity {
            Some((uid, gid)) => as_identity(uid, gid, connect),
            None => connect(),
        };
        match done {
            Ok(_) => break,
            Err(Errno(libc::EINTR)) if watched => {
                if caller_gone() {
                    return Err(Errno(libc::EINTR));
                }
                again = true;
            }
            Err(Errno(libc::EISCONN)) if again => break,
            Err(e) => return Err(e),
        }
    }
    Ok(Done {
        value: 0,
        ..Done::default()
    })
}

/// Whether a transport says the caller of this thread's call went away.
fn caller_gone() -> bool {
    WAITER
        .with(|w| w.get())
        .is_some_and(|w| !(w.check)(w.fd, w.id, w.tid))
        || crate::core::waiting::caller_gone()
}

/// Whose identity a unix peer must see for a connect the broker performs: the socket's
/// creator (the kernel stamps a socket inode with its creator's filesystem uid and gid),
/// when the broker is root and that is someone else (`arbiter serve` serving another uid, or
/// a program that dropped root). `None`: the broker's own identity is the program's, or the
/// broker cannot take on another (it is not root), or the socket is not a unix socket.
fn program_identity(sock: &OwnedFd) -> Result<Option<(u32, u32)>, Errno> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 || sock_family(sock)? != libc::AF_UNIX {
        return Ok(None);
    }
    // SAFETY: stat is plain old data; fstat fills it for a socket we hold.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: st is a valid out-pointer.
    check(unsafe { libc::fstat(sock.as_raw_fd(), &mut st) })?;
    // SAFETY: getegid has no preconditions.
    if st.st_uid == 0 && st.st_gid == unsafe { libc::getegid() } {
        return Ok(None);
    }
    Ok(Some((st.st_uid, st.st_gid)))
}

/// Runs `f` on a thread of its own that took on `uid`/`gid` (real, effective, saved and
/// filesystem ids; `gid` as its only group) with the raw per-thread system calls — glibc's
/// wrappers would change every thread of the broker — and then ends, so the broker never
/// has to switch back.
fn as_identity<T: std::marker::Send>(
    uid: u32,
    gid: u32,
    f: impl FnOnce() -> Result<T, Errno> + std::marker::Send,
) -> Result<T, Errno> {
    std::thread::scope(|s| {
        let worker = s.spawn(move || {
            let groups = [gid];
            // SAFETY: raw credential system calls of this thread only; setgroups reads one
            // gid from a live array.
            unsafe {
                if libc::syscall(libc::SYS_setgroups, 1, groups.as_ptr()) < 0
                    || libc::syscall(libc::SYS_setresgid, gid, gid, gid) < 0
                    || libc::syscall(libc::SYS_setresuid, uid, uid, uid) < 0
                {
                    return Err(Errno::last());
                }
            }
            f()
        });
        worker.join().unwrap_or(Err(Errno(libc::EIO)))
    })
}

fn ep_text(ep: &Endpoint) -> String {
    match ep {
        Endpoint::Tcp(a) => format!("tcp:{a}"),
        Endpoint::Udp(a) => format!("udp:{a}"),
        Endpoint::Unix(p) => unix_text(p.as_os_str().as_bytes()),
        Endpoint::Abstract(n) => abstract_text(n),
    }
}

/// bind(2) on the program's socket (fds[0]).
pub fn bind(
    core: &RequestCore,
    addr: &SockAddr<'_>,
    fds: &[OwnedFd],
    umask: u32,
    notes: &mut Notes,
) -> Result<Done, Errno> {
    let sock = fds.first().ok_or(Errno(libc::EBADF))?;
    let raw = match addr {
        SockAddr::Unix(path) => {
            let done = bind_unix_path(core, sock, path, fds, umask, notes)?;
            remember_bound(sock);
            return Ok(done);
        }
        SockAddr::Abstract(name) => {
            let d = core
                .policy()
                .decide_bind(&Endpoint::Abstract(name.to_vec()));
            record(core, abstract_text(name), d.decision, notes)?;
            RawAddr::unix(name, true)?
        }
        SockAddr::UnixUnnamed => {
            // Autobind: the kernel picks a fresh abstract name; nothing is reached.
            let mut r = RawAddr::zeroed();
            r.storage.ss_family = libc::AF_UNIX as libc::sa_family_t;
            r.len = std::mem::size_of::<libc::sa_family_t>() as libc::socklen_t;
            r
        }
        SockAddr::Unspec => return Err(Errno(libc::EAFNOSUPPORT)),
        SockAddr::Inet { .. } | SockAddr::Inet6 { .. } => {
            let (sa, ep) = inet_policy_endpoint(sock, addr)?;
            record(
                core,
                ep_text(&ep),
                core.policy().decide_bind(&ep).decision,
                notes,
            )?;
            RawAddr::inet(sa)
        }
    };
    let autobind = matches!(addr, SockAddr::UnixUnnamed);
    // SAFETY: raw points at a valid sockaddr of raw.len bytes.
    check(unsafe { libc::bind(sock.as_raw_fd(), raw.ptr(), raw.len) })?;
    if !autobind {
        remember_bound(sock);
    }
    Ok(Done::default())
}

/// Binds a pathname unix socket with the policy's mode, atomically, in the real parent.
fn bind_unix_path(
    core: &RequestCore,
    sock: &OwnedFd,
    path: &PathArg<'_>,
    fds: &[OwnedFd],
    umask: u32,
    notes: &mut Notes,
) -> Result<Done, Errno> {
    if sock_family(sock)? != libc::AF_UNIX {
        return Err(Errno(libc::EINVAL));
    }
    let loc = unix_location(core, path, fds, false, notes)?;
    let real = loc.path();
    let d = core.policy().decide_bind(&Endpoint::Unix(real.clone()));
    record(
        core,
        unix_text(real.as_os_str().as_bytes()),
        d.decision,
        notes,
    )?;
    let mode = d.mode.unwrap_or(0o777 & !umask) & 0o777;
    // The socket inode's mode becomes the file's mode at bind; the broker's umask is 0.
    // SAFETY: fchmod on a socket fd we hold.
    check(unsafe { libc::fchmod(sock.as_raw_fd(), mode) })?;
    let given = crate::core::sockname::as_given(path, &loc);
    match bind_at(&loc, &real, given, sock) {
        Ok(()) => {}
        Err(err) if err.0 != libc::EADDRINUSE || !d.replace_stale => return Err(err),
        Err(_) => replace_stale(&loc, &real, || bind_at(&loc, &real, given, sock)).map(|_| ())?,
    }
    let done = confirm_bound(core, &loc, notes)?;
    core.bound_here().remember(&loc);
    Ok(done)
}

/// bind(2) of `sock` to the decided location `loc` (real path `real`): by the program's own
/// relative string `given` from the held directory itself where
/// [`crate::core::sockname::as_given`] found one, else by the real path where
/// [`by_real_path`] allows, else through the held directory's `/proc/self/fd` name.
fn bind_at(
    loc: &Location,
    real: &std::path::Path,
    given: Option<&[u8]>,
    sock: &OwnedFd,
) -> Result<(), Errno> {
    if let Some(given) = given {
        let raw = RawAddr::unix(given, false)?;
        // A creation by name: no rename runs meanwhile (see `SWAPS`).
        let _no_moves = crate::core::fs::SWAPS
            .read()
            .unwrap_or_else(|e| e.into_inner());
        return crate::core::sockname::bind_in(&loc.parent, sock, &raw);
    }
    // No symlink can be swapped into the real path while this bind runs (see `SWAPS`);
    // held only for the check and the bind, which never wait on a peer.
    let _no_swaps = crate::core::fs::SWAPS
        .write()
        .unwrap_or_else(|e| e.into_inner());
    let raw = match by_real_path(loc, real) {
        Some(raw) => raw,
        None => {
            // Through the held directory: the name's own bytes, as decided (never a UTF-8
            // rendering of them). The socket then reports this `/proc/self/fd` name.
            let mut via = format!("/proc/self/fd/{}/", loc.parent.as_raw_fd()).into_bytes();
            via.extend_from_slice(&loc.name);
            RawAddr::unix(&via, false)?
        }
    };
    // SAFETY: raw points at a valid sockaddr of raw.len bytes.
    check(unsafe { libc::bind(sock.as_raw_fd(), raw.ptr(), raw.len) }).map(|_| ())
}

/// The address to bind a pathname socket by its real path, so that `getsockname` (and a
/// client's `getpeername`) report that path, as natively, rather than a `/proc/self/fd`
/// name: only when the real path fits in `sun_path` and its directory part, opened now
/// without following any symlink, is the very directory decided on (`loc.parent`). The
/// caller holds [`crate::core::fs::SWAPS`] for writing until the bind is done, so no
/// symlink or directory can be moved or made on that path meanwhile by any sandbox this
/// broker serves; the program cannot make either natively (the kernel floor grants no
/// `make_sym`, `make_dir` or `refer` outside `/dev/shm`'s regular files).
fn by_real_path(loc: &Location, real: &std::path::Path) -> Option<RawAddr> {
    if loc.name == b"." {
        return None;
    }
    let raw = RawAddr::unix(real.as_os_str().as_bytes(), false).ok()?;
    let dir = crate::core::resolve::open_plain_dir_exact(&loc.parent_path)?;
    let same = |fd: RawFd| {
        crate::core::stat::statx(fd, c"", libc::AT_EMPTY_PATH)
            .ok()
            .map(|st| (st.dev_major, st.dev_minor, st.ino))
    };
    let held = same(loc.parent.as_raw_fd())?;
    (same(dir.as_raw_fd()) == Some(held)).then_some(raw)
}

/// Confirms, after the bind, that the directory the socket file was made in is still where
/// the decision was made; where it moved meanwhile, the bind is decided again on the
/// socket's real path now, and if refused the socket file is removed and the bind refused.
fn confirm_bound(core: &RequestCore, loc: &Location, notes: &mut Notes) -> Result<Done, Errno> {
    let now = crate::core::resolve::fd_path(loc.parent.as_fd())?;
    if now == loc.parent_path {
        return Ok(Done::default());
    }
    let real = now.join(std::ffi::OsStr::from_bytes(&loc.name));
    let d = core.policy().decide_bind(&Endpoint::Unix(real.clone()));
    if let Err(e) = record(
        core,
        unix_text(real.as_os_str().as_bytes()),
        d.decision,
        notes,
    ) {
        // SAFETY: name is NUL-terminated; the parent fd is open.
        unsafe { libc::unlinkat(loc.parent.as_raw_fd(), loc.name_c().as_ptr(), 0) };
        return Err(e);
    }
    Ok(Done::default())
}

/// The git unix-stream-server dance: under `<path>.lock`, replace the socket file only if
/// no server answers on it.
fn replace_stale(
    loc: &Location,
    real: &std::path::Path,
    rebind: impl FnOnce() -> Result<(), Errno>,
) -> Result<Done, Errno> {
    let mut lock_name = loc.name.clone();
    lock_name.extend_from_slice(b".lock");
    let lock_c = CString::new(lock_name).map_err(|_| Errno(libc::EINVAL))?;
    let _lock = openat_raw(
        loc.parent.as_raw_fd(),
        &lock_c,
        libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_CLOEXEC,
        0o600,
    )
    .map_err(|_| Errno(libc::EADDRINUSE))?;
    let unlock = || {
        // SAFETY: lock_c is NUL-terminated; the parent fd is open.
        unsafe { libc::unlinkat(loc.parent.as_raw_fd(), lock_c.as_ptr(), 0) };
    };
    let live = probe_live(real);
    let result = if live {
        Err(Errno(libc::EADDRINUSE))
    } else {
        // SAFETY: name is NUL-terminated; the parent fd is open.
        let removed = unsafe { libc::unlinkat(loc.parent.as_raw_fd(), loc.name_c().as_ptr(), 0) };
        if removed < 0 {
            Err(Errno::last())
        } else {
            rebind().map(|_| Done::default())
        }
    };
    unlock();
    result
}

/// Whether a server answers on the unix socket at `path` (any socket type).
fn probe_live(path: &std::path::Path) -> bool {
    for ty in [libc::SOCK_STREAM, libc::SOCK_SEQPACKET, libc::SOCK_DGRAM] {
        // SAFETY: socket with integer arguments.
        let fd = unsafe { libc::socket(libc::AF_UNIX, ty | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            continue;
        }
        let ok = RawAddr::unix(path.as_os_str().as_bytes(), false)
            // SAFETY: raw points at a valid sockaddr of raw.len bytes.
            .map(|raw| unsafe { libc::connect(fd, raw.ptr(), raw.len) } == 0)
            .unwrap_or(true);
        let err = Errno::last();
        // SAFETY: closing our probe socket.
        unsafe { libc::close(fd) };
        if ok || err.0 != libc::ECONNREFUSED && err.0 != libc::EPROTOTYPE {
            return ok || err.0 != libc::ECONNREFUSED;
        }
    }
    false
}

/// The sockets whose local address the broker bound after an allowed decision, by
/// `SO_COOKIE` (unique until reboot, so a closed socket's entry never names another): a
/// listen on one of them listens where that bind was decided. Anything else — an unbound
/// socket, a port left over from a refused connect, an autobound unix name, a socket from
/// outside — is decided again at listen.
static BOUND: Mutex<std::collections::BTreeSet<u64>> =
    Mutex::new(std::collections::BTreeSet::new());

/// Remembers that the broker bound `sock` after an allowed decision.
fn remember_bound(sock: &OwnedFd) {
    if let (Ok(c), Ok(mut set)) = (crate::sockopt::cookie(sock.as_fd()), BOUND.lock()) {
        set.insert(c);
    }
}

/// Whether the broker bound `sock` after an allowed decision.
fn bound_by_broker(sock: &OwnedFd) -> Result<bool, Errno> {
    let c = crate::sockopt::cookie(sock.as_fd()).map_err(io_errno)?;
    Ok(BOUND.lock().map(|set| set.contains(&c)).unwrap_or(false))
}

/// listen(2) on the program's socket (fds[0]). Unless the broker bound the socket after an
/// allowed decision, the listen is decided as a bind of the socket's current local address
/// (`getsockname`): the wildcard address, port 0, when unbound (the kernel would pick a
/// port on every interface); the address an earlier connect left (after a refused
/// connect the kernel released that port and picks another; confirmed after the listen:
/// a changed address is decided as a bind of its address, port 0, and the socket is shut
/// down when that is denied); for unix, the autobound abstract name.
pub fn listen(
    core: &RequestCore,
    backlog: i32,
    fds: &[OwnedFd],
    notes: &mut Notes,
) -> Result<Done, Errno> {
    let sock = fds.first().ok_or(Errno(libc::EBADF))?;
    let family = sock_family(sock)?;
    if !matches!(family, libc::AF_INET | libc::AF_INET6 | libc::AF_UNIX) {
        return Err(Errno(libc::EACCES));
    }
    if bound_by_broker(sock)? {
        // SAFETY: listen on a socket we hold.
        check(unsafe { libc::listen(sock.as_raw_fd(), backlog) })?;
        return Ok(Done::default());
    }
    if family == libc::AF_UNIX {
        // Not bound (no name): the kernel refuses the listen (EINVAL).
        if let Some(ep) = local_unix(sock)? {
            let d = core.policy().decide_bind(&ep).decision;
            record(core, ep_text(&ep), d, notes)?;
        }
        // SAFETY: listen on a socket we hold.
        check(unsafe { libc::listen(sock.as_raw_fd(), backlog) })?;
        return Ok(Done::default());
    }
    let before = local_inet(sock)?;
    let (_, ep) = inet_policy_endpoint(sock, &before)?;
    record(
        core,
        ep_text(&ep),
        core.policy().decide_bind(&ep).decision,
        notes,
    )?;
    // SAFETY: listen on a socket we hold.
    check(unsafe { libc::listen(sock.as_raw_fd(), backlog) })?;
    let after = local_inet(sock)?;
    if port_of(&before) != 0 && after != before {
        let any_port = with_port(&after, 0);
        let (_, ep) = inet_policy_endpoint(sock, &any_port)?;
        if let Err(e) = record(
            core,
            ep_text(&ep),
            core.policy().decide_bind(&ep).decision,
            notes,
        ) {
            // SAFETY: shutdown on a socket we hold; it stops listening.
            unsafe { libc::shutdown(sock.as_raw_fd(), libc::SHUT_RDWR) };
            return Err(e);
        }
    }
    Ok(Done::default())
}

fn port_of(a: &SockAddr<'_>) -> u16 {
    match a {
        SockAddr::Inet { port, .. } | SockAddr::Inet6 { port, .. } => *port,
        _ => 0,
    }
}

fn with_port(a: &SockAddr<'static>, p: u16) -> SockAddr<'static> {
    let mut a = *a;
    if let SockAddr::Inet { port, .. } | SockAddr::Inet6 { port, .. } = &mut a {
        *port = p;
    }
    a
}

/// `getsockname` of `sock` into raw storage.
fn local_raw(sock: &OwnedFd) -> Result<RawAddr, Errno> {
    let mut raw = RawAddr::zeroed();
    raw.len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: raw.storage is writable for raw.len bytes.
    check(unsafe {
        libc::getsockname(
            sock.as_raw_fd(),
            (&mut raw.storage as *mut libc::sockaddr_storage).cast(),
            &mut raw.len,
        )
    })?;
    Ok(raw)
}

/// The local address of an inet socket (the wildcard address, port 0, when unbound).
fn local_inet(sock: &OwnedFd) -> Result<SockAddr<'static>, Errno> {
    let raw = local_raw(sock)?;
    match i32::from(raw.storage.ss_family) {
        libc::AF_INET6 => {
            // SAFETY: the kernel wrote a sockaddr_in6 (family AF_INET6) into the storage,
            // which is large and aligned enough for it.
            let s = unsafe {
                &*(&raw.storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            Ok(SockAddr::Inet6 {
                addr: s.sin6_addr.s6_addr,
                port: u16::from_be(s.sin6_port),
                flowinfo: s.sin6_flowinfo,
                scope_id: s.sin6_scope_id,
            })
        }
        libc::AF_INET => {
            // SAFETY: the kernel wrote a sockaddr_in (family AF_INET) into the storage,
            // which is large and aligned enough for it.
            let s = unsafe {
                &*(&raw.storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>()
            };
            Ok(SockAddr::Inet {
                addr: s.sin_addr.s_addr.to_ne_bytes(),
                port: u16::from_be(s.sin_port),
            })
        }
        _ => Err(Errno(libc::EINVAL)),
    }
}

/// The policy endpoint of a unix socket's local name: its abstract name (autobound or
/// bound outside the broker) or path; `None` when it has none.
fn local_unix(sock: &OwnedFd) -> Result<Option<Endpoint>, Errno> {
    let raw = local_raw(sock)?;
    // SAFETY: sockaddr_storage is large and aligned enough for a sockaddr_un.
    let s =
        unsafe { &*(&raw.storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_un>() };
    let family = std::mem::size_of::<libc::sa_family_t>();
    let len = (raw.len as usize).min(std::mem::size_of::<libc::sockaddr_un>());
    if len <= family {
        return Ok(None);
    }
    let bytes: Vec<u8> = s.sun_path[..len - family]
        .iter()
        .map(|&c| c as u8)
        .collect();
    Ok(Some(match bytes.split_first() {
        Some((0, name)) => Endpoint::Abstract(name.to_vec()),
        _ => {
            let path = bytes.split(|&b| b == 0).next().unwrap_or(&[]);
            Endpoint::Unix(std::path::PathBuf::from(std::ffi::OsStr::from_bytes(path)))
        }
    }))
}

/// One send the broker performs on the program's socket (fds[0]) with bytes it copied.
pub struct Send<'a> {
    /// The destination (`msg_name`), if any.
    pub addr: Option<&'a SockAddr<'a>>,
    /// The bytes.
    pub data: &'a [u8],
    /// `MSG_*` flags of the caller.
    pub flags: i32,
    /// How many of the last fds travel as `SCM_RIGHTS`.
    pub rights: usize,
    /// `SCM_CREDENTIALS` to attach (pid, uid, gid), checked by the transport.
    pub creds: Option<(i32, u32, u32)>,
}

/// The `MSG_*` flags a brokered send keeps; the others are dropped (`MSG_ZEROCOPY` would
/// pin the broker's copy, `MSG_PROBE` and the receive-side flags mean nothing here).
const SEND_FLAGS: i32 = libc::MSG_DONTWAIT
    | libc::MSG_NOSIGNAL
    | libc::MSG_MORE
    | libc::MSG_EOR
    | libc::MSG_OOB
    | libc::MSG_CONFIRM
    | libc::MSG_DONTROUTE
    | libc::MSG_FASTOPEN;

/// How a transport tells a send waiting for buffer space, or a connect, that its caller
/// went away or was interrupted (the seccomp transport: the notification is no longer
/// valid, or a signal is pending for the caller). `check(fd, id, tid)` is true while the
/// caller still waits.
#[derive(Clone, Copy)]
pub struct StillWaiting {
    /// The check.
    pub check: fn(libc::c_int, u64, i32) -> bool,
    /// Its first argument.
    pub fd: libc::c_int,
    /// Its second argument.
    pub id: u64,
    /// Its third argument: the caller's thread.
    pub tid: i32,
}

thread_local! {
    static WAITER: std::cell::Cell<Option<StillWaiting>> = const { std::cell::Cell::new(None) };
}

/// Runs `f` with `waiter` consulted by the blocking sends `f` performs on this thread.
pub fn with_waiter<R>(waiter: StillWaiting, f: impl FnOnce() -> R) -> R {
    WAITER.with(|w| w.set(Some(waiter)));
    let r = f();
    WAITER.with(|w| w.set(None));
    r
}

/// How long a blocking send waits for buffer space before it checks whether its caller is
/// still there.
const SEND_WAIT_MS: libc::c_int = 250;
/// How long a blocking send waits before it tries again when `poll` said writable but the
/// send would still block (a unix datagram peer with a full queue).
const SEND_RETRY_MS: u64 = 5;

/// sendmsg(2) on the program's socket (fds[0]): the destination, if any, decided like a
/// connect of the socket's protocol (UDP for datagram sockets, TCP otherwise — a TCP
/// destination is TCP Fast Open — unix rules for unix sockets); none means a connected
/// socket, whose connect was decided. Netlink: only `NETLINK_ROUTE` read requests to the
/// kernel.
pub fn send(
    core: &RequestCore,
    s: &Send<'_>,
    fds: &[OwnedFd],
    notes: &mut Notes,
) -> Result<Done, Errno> {
    let sock = fds.first().ok_or(Errno(libc::EBADF))?;
    if s.rights > fds.len().saturating_sub(1) {
        return Err(Errno(libc::EINVAL));
    }
    let family = sock_family(sock)?;
    let mut pin = None;
    let raw = match (family, s.addr) {
        (libc::AF_NETLINK, None) => {
            netlink_read_only(sock, s.data)?;
            None
        }
        (libc::AF_UNIX | libc::AF_INET | libc::AF_INET6, None) => None,
        (libc::AF_UNIX, Some(addr @ (SockAddr::Unix(_) | SockAddr::Abstract(_))))
        | (
            libc::AF_INET | libc::AF_INET6,
            Some(addr @ (SockAddr::Inet { .. } | SockAddr::Inet6 { .. })),
        ) => {
            let (raw, file) = decide_destination(core, sock, addr, fds, notes)?;
            pin = file;
            Some(raw)
        }
        (libc::AF_UNIX, Some(SockAddr::UnixUnnamed)) => return Err(Errno(libc::EINVAL)),
        // AF_UNSPEC to a UDP socket still names a destination (the kernel reads its
        // address): refused, as is every family the policy cannot express.
        _ => return Err(Errno(libc::EACCES)),
    };
    let rights: Vec<libc::c_int> = fds[fds.len() - s.rights..]
        .iter()
        .map(AsRawFd::as_raw_fd)
        .collect();
    let mut control = Control::new(&rights, s.creds)?;
    let sent = send_all(
        sock,
        raw.as_ref(),
        s.data,
        s.flags & SEND_FLAGS,
        &mut control,
    );
    drop(pin);
    Ok(Done::value(sent? as i64))
}

/// Only requests that read: every message in `data` a `NETLINK_ROUTE` `RTM_GET*` (or
/// `NLMSG_NOOP`/`NLMSG_DONE`), on a `NETLINK_ROUTE` socket.
/// `RTM_BASE`: the first rtnetlink message type; `RTM_GET*` are those with `type & 3 == 2`.
const RTM_BASE: u16 = 16;

fn netlink_read_only(sock: &OwnedFd, data: &[u8]) -> Result<(), Errno> {
    if crate::sockopt::int(sock.as_fd(), libc::SO_PROTOCOL).map_err(io_errno)?
        != libc::NETLINK_ROUTE
    {
        return Err(Errno(libc::EACCES));
    }
    let mut rest = data;
    while !rest.is_empty() {
        if rest.len() < 16 {
            return Err(Errno(libc::EACCES));
        }
        let len = u32::from_ne_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let ty = u16::from_ne_bytes([rest[4], rest[5]]);
        let reads = ty == libc::NLMSG_NOOP as u16
            || ty == libc::NLMSG_DONE as u16
            || (ty >= RTM_BASE && ty & 3 == 2);
        if !reads || len < 16 || len > rest.len() {
            return Err(Errno(libc::EACCES));
        }
        rest = &rest[((len + 3) & !3).min(rest.len())..];
    }
    Ok(())
}

/// The control buffer of a brokered send: `SCM_RIGHTS` and `SCM_CREDENTIALS`.
struct Control {
    buf: Vec<u64>,
    len: usize,
}

impl Control {
    fn new(rights: &[libc::c_int], creds: Option<(i32, u32, u32)>) -> Result<Control, Errno> {
        /// The kernel's `SCM_MAX_FD`.
        const SCM_MAX_FD: usize = 253;
        if rights.len() > SCM_MAX_FD {
            return Err(Errno(libc::EINVAL));
        }
        let rights_bytes = std::mem::size_of_val(rights) as u32;
        let ucred = std::mem::size_of::<libc::ucred>() as u32;
        // SAFETY: CMSG_SPACE is a pure computation.
        let space = unsafe {
            (if rights.is_empty() {
                0
            } else {
                libc::CMSG_SPACE(rights_bytes)
            }) + if creds.is_some() {
                libc::CMSG_SPACE(ucred)
            } else {
                0
            }
        } as usize;
        let mut c = Control {
            buf: vec![0u64; space.div_ceil(8)],
            len: space,
        };
        if space == 0 {
            return Ok(c);
        }
        // SAFETY: msghdr is plain old data; zero is valid.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_control = c.buf.as_mut_ptr().cast();
        msg.msg_controllen = space;
        // SAFETY: the buffer holds `space` bytes, 8-byte aligned, sized with CMSG_SPACE for
        // exactly the headers written below, so each CMSG_FIRSTHDR/NXTHDR is inside it and
        // CMSG_DATA has room for its payload.
        unsafe {
            let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
            if !rights.is_empty() {
                (*cmsg).cmsg_level = libc::SOL_SOCKET;
                (*cmsg).cmsg_type = libc::SCM_RIGHTS;
                (*cmsg).cmsg_len = libc::CMSG_LEN(rights_bytes) as usize;
                std::ptr::copy_nonoverlapping(
                    rights.as_ptr().cast::<u8>(),
                    libc::CMSG_DATA(cmsg),
                    rights_bytes as usize,
                );
                cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
            }
            if let Some((pid, uid, gid)) = creds {
                let uc = libc::ucred { pid, uid, gid };
                (*cmsg).cmsg_level = libc::SOL_SOCKET;
                (*cmsg).cmsg_type = libc::SCM_CREDENTIALS;
                (*cmsg).cmsg_len = libc::CMSG_LEN(ucred) as usize;
                std::ptr::copy_nonoverlapping(
                    (&uc as *const libc::ucred).cast::<u8>(),
                    libc::CMSG_DATA(cmsg),
                    ucred as usize,
                );
            }
        }
        Ok(c)
    }
}

/// Sends `data` (to `to`, if given). A blocking socket is waited on here, in slices of
/// [`SEND_WAIT_MS`], so a send whose caller went away does not hold a thread forever; a
/// stream socket may send less than all (the count is returned once some bytes went).
/// Starts a Fast Open without blocking: the bytes the kernel put in the SYN (0 when it
/// answered `EINPROGRESS`).
fn fast_open(
    sock: &OwnedFd,
    to: Option<&RawAddr>,
    data: &[u8],
    flags: i32,
    control: &mut Control,
) -> Result<usize, Errno> {
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    // SAFETY: msghdr is plain old data; zero is valid.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if let Some(to) = to {
        msg.msg_name = to.ptr() as *mut libc::c_void;
        msg.msg_namelen = to.len;
    }
    if control.len > 0 {
        msg.msg_control = control.buf.as_mut_ptr().cast();
        msg.msg_controllen = control.len;
    }
    let f = flags | libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT;
    loop {
        // SAFETY: msg points at live buffers (data, the address, the control buffer).
        let n = unsafe { libc::sendmsg(sock.as_raw_fd(), &msg, f) };
        if n >= 0 {
            return Ok(n as usize);
        }
        match Errno::last().0 {
            libc::EINTR => continue,
            libc::EINPROGRESS => return Ok(0),
            e => return Err(Errno(e)),
        }
    }
}

/// Waits in slices for a connect the kernel is making on `sock` (a Fast Open), checking
/// between them that the caller still waits; then the connect's own error, if any.
/// `sent` bytes already went out (in the SYN): a caller gone then is told those (`false`:
/// stop there).
fn wait_connected(sock: &OwnedFd, sent: usize) -> Result<bool, Errno> {
    loop {
        let mut pfd = libc::pollfd {
            fd: sock.as_raw_fd(),
            events: libc::POLLOUT,
            revents: 0,
        };
        // SAFETY: pfd is one valid pollfd.
        let ready = unsafe { libc::poll(&mut pfd, 1, SEND_WAIT_MS) } > 0;
        if ready {
            let err = crate::sockopt::int(sock.as_fd(), libc::SO_ERROR).map_err(io_errno)?;
            return if err == 0 { Ok(true) } else { Err(Errno(err)) };
        }
        let gone = WAITER
            .with(|w| w.get())
            .is_some_and(|w| !(w.check)(w.fd, w.id, w.tid));
        if gone {
            return if sent > 0 {
                Ok(false)
            } else {
                Err(Errno(libc::EINTR))
            };
        }
    }
}

fn send_all(
    sock: &OwnedFd,
    to: Option<&RawAddr>,
    data: &[u8],
    flags: i32,
    control: &mut Control,
) -> Result<usize, Errno> {
    // SAFETY: F_GETFL on a socket we hold.
    let fl = check(unsafe { libc::fcntl(sock.as_raw_fd(), libc::F_GETFL) })?;
    // Every blocking send waits in slices, checking that its caller still waits.
    let waits = fl & libc::O_NONBLOCK == 0 && flags & libc::MSG_DONTWAIT == 0;
    let stream = sock_type(sock)? == libc::SOCK_STREAM;
    let mut sent = 0usize;
    let mut was_ready = false;
    let (mut to, mut flags) = (to, flags);
    let inet = matches!(sock_family(sock)?, libc::AF_INET | libc::AF_INET6);
    if waits && stream && inet && flags & libc::MSG_FASTOPEN != 0 {
        // A blocking Fast Open connects first: started without blocking (the kernel
        // answers EINPROGRESS, or the bytes it put in the SYN), then waited for in slices.
        // (Elsewhere the flag means nothing to the kernel.)
        sent = fast_open(sock, to, data, flags, control)?;
        if !wait_connected(sock, sent)? || sent >= data.len() {
            return Ok(sent);
        }
        flags &= !libc::MSG_FASTOPEN;
        to = None;
    }
    loop {
        let mut iov = libc::iovec {
            iov_base: data[sent..].as_ptr() as *mut libc::c_void,
            iov_len: data.len() - sent,
        };
        // SAFETY: msghdr is plain old data; zero is valid.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        if let Some(to) = to {
            msg.msg_name = to.ptr() as *mut libc::c_void;
            msg.msg_namelen = to.len;
        }
        if sent == 0 && control.len > 0 {
            msg.msg_control = control.buf.as_mut_ptr().cast();
            msg.msg_controllen = control.len;
        }
        let f = flags | libc::MSG_NOSIGNAL | if waits { libc::MSG_DONTWAIT } else { 0 };
        // SAFETY: msg points at live buffers (data, the address, the control buffer).
        let n = unsafe { libc::sendmsg(sock.as_raw_fd(), &msg, f) };
        if n >= 0 {
            sent += n as usize;
            if !stream || !waits || sent >= data.len() {
                return Ok(sent);
            }
            continue;
        }
        let err = Errno::last();
        if sent > 0 && err.0 != libc::EINTR && err.0 != libc::EAGAIN {
            return Ok(sent);
        }
        match err.0 {
            libc::EINTR => continue,
            libc::EAGAIN if waits => {
                let mut pfd = libc::pollfd {
                    fd: sock.as_raw_fd(),
                    events: libc::POLLOUT,
                    revents: 0,
                };
                // SAFETY: pfd is one valid pollfd.
                let ready = unsafe { libc::poll(&mut pfd, 1, SEND_WAIT_MS) } > 0;
                if ready && was_ready {
                    // A unix datagram socket polls writable while its peer's queue is
                    // full: wait a little instead of spinning.
                    std::thread::sleep(std::time::Duration::from_millis(SEND_RETRY_MS));
                }
                was_ready = ready;
                let gone = WAITER
                    .with(|w| w.get())
                    .is_some_and(|w| !(w.check)(w.fd, w.id, w.tid));
                if gone {
                    return if sent > 0 {
                        Ok(sent)
                    } else {
                        Err(Errno(libc::EINTR))
                    };
                }
            }
            _ => return Err(err),
        }
    }
}

/// How much of a re-read send's payload is copied from the caller at a time.
const REREAD_CHUNK: usize = 64 << 10;

/// A blocking stream send of `total` bytes that keeps no copy of them while it waits (its
/// sandbox's payload budget, `core::slow`, is spent): whenever the socket has room, the
/// next piece (at most [`REREAD_CHUNK`]) is read afresh with `read(offset, buf)` from the
/// caller's memory and sent without waiting; the piece is dropped before any wait. Waits
/// in slices of [`SEND_WAIT_MS`], giving up when the caller is gone (as [`send`] does).
/// `fds[0]` is the socket, the last `rights` of `fds` are passed with the first piece;
/// `creds` go with every piece. The count sent (short only when the caller went away or
/// the payload could not be read after some bytes went), else the error.
pub fn send_rereading(
    fds: &[OwnedFd],
    rights: usize,
    creds: Option<(i32, u32, u32)>,
    total: usize,
    flags: i32,
    mut read: impl FnMut(usize, &mut [u8]) -> Result<(), Errno>,
) -> Result<usize, Errno> {
    let sock = fds.first().ok_or(Errno(libc::EBADF))?;
    if rights > fds.len().saturating_sub(1) {
        return Err(Errno(libc::EINVAL));
    }
    let raw_rights: Vec<libc::c_int> = fds[fds.len() - rights..]
        .iter()
        .map(AsRawFd::as_raw_fd)
        .collect();
    let mut first = Control::new(&raw_rights, creds)?;
    let mut rest = Control::new(&[], creds)?;
    let flags = (flags & SEND_FLAGS) | libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT;
    let mut sent = 0usize;
    loop {
        if sent >= total {
            return Ok(sent);
        }
        let mut piece = vec![0u8; (total - sent).min(REREAD_CHUNK)];
        if let Err(e) = read(sent, &mut piece) {
            return if sent > 0 { Ok(sent) } else { Err(e) };
        }
        let mut iov = libc::iovec {
            iov_base: piece.as_mut_ptr().cast(),
            iov_len: piece.len(),
        };
        // SAFETY: msghdr is plain old data; zero is valid.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        let control = if sent == 0 { &mut first } else { &mut rest };
        if control.len > 0 {
            msg.msg_control = control.buf.as_mut_ptr().cast();
            msg.msg_controllen = control.len;
        }
        // SAFETY: msg points at live buffers (the piece, the control buffer).
        let n = unsafe { libc::sendmsg(sock.as_raw_fd(), &msg, flags) };
        let err = Errno::last();
        drop(piece); // never kept across a wait
        if n >= 0 {
            sent += n as usize;
            continue;
        }
        match err.0 {
            libc::EINTR => continue,
            libc::EAGAIN => {
                let mut pfd = libc::pollfd {
                    fd: sock.as_raw_fd(),
                    events: libc::POLLOUT,
                    revents: 0,
                };
                // SAFETY: pfd is one valid pollfd.
                unsafe { libc::poll(&mut pfd, 1, SEND_WAIT_MS) };
                let gone = WAITER
                    .with(|w| w.get())
                    .is_some_and(|w| !(w.check)(w.fd, w.id, w.tid));
                if gone {
                    return if sent > 0 {
                        Ok(sent)
                    } else {
                        Err(Errno(libc::EINTR))
                    };
                }
            }
            _ if sent > 0 => return Ok(sent),
            _ => return Err(err),
        }
    }
}

/// getnameinfo(3) for a host name, performed by the broker: the reverse lookup's answer is
/// a name like any other, given only if a resolve rule allows it. A denied name is treated
/// as no name: `EAI_NONAME` with `NI_NAMEREQD`, else the numeric form (as glibc answers
/// when nothing is found). The name is not remembered for host-name connect rules (a PTR
/// record is whatever the address's owner says).
pub fn getnameinfo(
    core: &RequestCore,
    addr: &SockAddr<'_>,
    flags: i32,
    notes: &mut Notes,
) -> Result<Done, Errno> {
    let sa = inet_endpoint(addr).ok_or(Errno(libc::EAFNOSUPPORT))?;
    let raw = RawAddr::inet(sa);
    let lookup = |ni: i32| -> Result<Vec<u8>, i32> {
        let mut host = [0u8; 1025];
        // SAFETY: raw is a valid sockaddr of raw.len bytes; host is writable for its length.
        let rc = unsafe {
            libc::getnameinfo(
                raw.ptr(),
                raw.len,
                host.as_mut_ptr().cast(),
                host.len() as libc::socklen_t,
                std::ptr::null_mut(),
                0,
                ni,
            )
        };
        if rc != 0 {
            return Err(rc);
        }
        let end = host.iter().position(|&b| b == 0).unwrap_or(host.len());
        Ok(host[..end].to_vec())
    };
    let name_flags = flags & (libc::NI_NOFQDN | libc::NI_NAMEREQD) | libc::NI_NAMEREQD;
    let found = match lookup(name_flags) {
        Ok(name) => {
            let text = String::from_utf8_lossy(&name).into_owned();
            notes.endpoint = Some(format!("name:{text}"));
            notes.addresses.push(sa.ip().to_string());
            let d = core.policy().decide_resolve(&text);
            let d = core.settle(d, super::decider::Subject::Name(&text), notes);
            core.note_decision(d, notes);
            d.allow.then_some(name)
        }
        Err(_) => None,
    };
    let answer = match found {
        Some(name) => name,
        None if flags & libc::NI_NAMEREQD != 0 => {
            return Ok(Done::value(i64::from(libc::EAI_NONAME)));
        }
        None => match lookup(libc::NI_NUMERICHOST) {
            Ok(numeric) => numeric,
            Err(rc) => return Ok(Done::value(i64::from(rc))),
        },
    };
    Ok(Done {
        value: 0,
        payload: OutPayload::Bytes(answer),
        fd: None,
    })
}

/// getaddrinfo(3), performed by the broker under the resolve rules.
#[allow(clippy::too_many_arguments)]
pub fn getaddrinfo(
    core: &RequestCore,
    node: Option<&[u8]>,
    service: Option<&[u8]>,
    flags: i32,
    family: i32,
    socktype: i32,
    protocol: i32,
    notes: &mut Notes,
) -> Result<Done, Errno> {
    let node_s = node.map(|n| String::from_utf8_lossy(n).into_owned());
    let numeric = node_s
        .as_deref()
        .is_none_or(|n| n.parse::<IpAddr>().is_ok())
        || flags & libc::AI_NUMERICHOST != 0;
    if let (Some(name), false) = (&node_s, numeric) {
        notes.endpoint = Some(format!("name:{name}"));
        let d = core.policy().decide_resolve(name);
        let d = core.settle(d, super::decider::Subject::Name(name), notes);
        if !d.allow {
            notes.denied = Some(super::denials::Target::Endpoint(format!("name:{name}")));
        }
        core.note_decision(d, notes);
        if !d.allow {
            return Ok(Done {
                value: i64::from(libc::EAI_NONAME),
                ..Done::default()
            });
        }
    }
    // A service named rather than numbered is looked up in the services database: a read
    // of it, decided as `getservbyname`'s (glibc's own answer when it cannot read the file
    // is EAI_SERVICE).
    let named_service = service.is_some_and(|s| s.is_empty() || !s.iter().all(u8::is_ascii_digit));
    if named_service
        && flags & libc::AI_NUMERICSERV == 0
        && super::netdb::check_services_read(core, notes).is_err()
    {
        return Ok(Done::value(i64::from(libc::EAI_SERVICE)));
    }
    let c_node = node
        .map(|n| CString::new(n).map_err(|_| Errno(libc::EINVAL)))
        .transpose()?;
    let c_service = service
        .map(|s| CString::new(s).map_err(|_| Errno(libc::EINVAL)))
        .transpose()?;
    // SAFETY: addrinfo is plain old data; zero is a valid hints value.
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_flags = flags;
    hints.ai_family = family;
    hints.ai_socktype = socktype;
    hints.ai_protocol = protocol;
    let mut res: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: the strings are NUL-terminated or null; hints and res are valid pointers.
    let rc = unsafe {
        libc::getaddrinfo(
            c_node.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
            c_service.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
            &hints,
            &mut res,
        )
    };
    if rc != 0 {
        let errno = if rc == libc::EAI_SYSTEM {
            Errno::last().0
        } else {
            0
        };
        return Ok(Done {
            value: i64::from(rc),
            payload: OutPayload::AddrInfo {
                canonname: None,
                entries: Vec::new(),
                errno,
            },
            fd: None,
        });
    }
    let mut entries = vec![0u8; MAX_MESSAGE / 2];
    let mut len = 0usize;
    let mut canonname = None;
    let mut p = res;
    while !p.is_null() {
        // SAFETY: p walks the list getaddrinfo returned, until its NULL end.
        let ai = unsafe { &*p };
        if canonname.is_none() && !ai.ai_canonname.is_null() {
            // SAFETY: a non-null ai_canonname is a C string owned by the list.
            canonname = Some(
                unsafe { std::ffi::CStr::from_ptr(ai.ai_canonname) }
                    .to_bytes()
                    .to_vec(),
            );
        }
        if let Some(entry) = entry_of(ai) {
            if let (Some(name), false) = (&node_s, numeric) {
                let ip = if entry.family == libc::AF_INET {
                    IpAddr::V4(Ipv4Addr::new(
                        entry.addr[0],
                        entry.addr[1],
                        entry.addr[2],
                        entry.addr[3],
                    ))
                } else {
                    IpAddr::V6(Ipv6Addr::from(entry.addr))
                };
                core.resolved().remember(ip, name);
                let text = ip.to_string();
                if !notes.addresses.contains(&text) {
                    notes.addresses.push(text);
                }
            }
            if !push_addr_info_entry(&mut entries, &mut len, &entry) {
                break; // more addresses than one reply carries: the first ones are kept
            }
        }
        p = ai.ai_next;
    }
    // SAFETY: res came from getaddrinfo and is freed once.
    unsafe { libc::freeaddrinfo(res) };
    entries.truncate(len);
    Ok(Done {
        value: 0,
        payload: OutPayload::AddrInfo {
            canonname,
            entries,
            errno: 0,
        },
        fd: None,
    })
}

fn entry_of(ai: &libc::addrinfo) -> Option<AddrInfoEntry> {
    if ai.ai_addr.is_null() {
        return None;
    }
    let mut e = AddrInfoEntry {
        family: ai.ai_family,
        socktype: ai.ai_socktype,
        protocol: ai.ai_protocol,
        addr: [0; 16],
        port: 0,
        scope_id: 0,
    };
    match ai.ai_family {
        libc::AF_INET => {
            // SAFETY: an AF_INET entry's ai_addr points at a sockaddr_in.
            let sin = unsafe { &*(ai.ai_addr as *const libc::sockaddr_in) };
            e.addr[..4].copy_from_slice(&u32::from_be(sin.sin_addr.s_addr).to_be_bytes());
            e.port = u16::from_be(sin.sin_port);
        }
        libc::AF_INET6 => {
            // SAFETY: an AF_INET6 entry's ai_addr points at a sockaddr_in6.
            let sin6 = unsafe { &*(ai.ai_addr as *const libc::sockaddr_in6) };
            e.addr = sin6.sin6_addr.s6_addr;
            e.port = u16::from_be(sin6.sin6_port);
            e.scope_id = sin6.sin6_scope_id;
        }
        _ => return None,
    }
    Some(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_name_text_tells_every_two_names_apart() {
        let names: [&[u8]; 7] = [
            b"x\xff",
            b"x\xfe",
            b"x\\xff",
            b"x\\\\xff",
            "x\u{fffd}".as_bytes(),
            b"\\",
            b"caf\xc3\xa9 \xc3",
        ];
        let texts: Vec<String> = names.iter().map(|n| name_text(n)).collect();
        for (i, t) in texts.iter().enumerate() {
            assert_eq!(name_bytes(t).as_deref(), Some(names[i]), "{t}");
            for u in &texts[i + 1..] {
                assert_ne!(t, u);
            }
        }
        assert_eq!(abstract_text(b"x\xff"), "unix:@x\\xff");
        assert_eq!(unix_text(b"/a\\b"), "unix:/a\\\\b");
        assert_eq!(name_bytes("a\\q"), None);
    }

    #[test]
    fn abstract_and_path_addresses_have_the_kernels_lengths() {
        let a = RawAddr::unix(b"name", true).unwrap();
        assert_eq!(a.len as usize, 2 + 1 + 4);
        let p = RawAddr::unix(b"/tmp/s", false).unwrap();
        assert_eq!(p.len as usize, 2 + 6 + 1);
        assert_eq!(
            RawAddr::unix(&[b'a'; 200], false).err(),
            Some(Errno(libc::ENAMETOOLONG))
        );
    }

    #[test]
    fn resolved_names_are_remembered_per_address() {
        let r = Resolved::default();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        r.remember(ip, "localhost");
        r.remember(ip, "localhost");
        assert_eq!(r.names(ip), vec!["localhost".to_string()]);
    }
}
