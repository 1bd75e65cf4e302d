//! Requests: the libc calls a sandboxed program asks the broker to perform.
//!
//! Paths and names are borrowed from the encoded message, so decoding allocates nothing.
//! Flags travel as the raw Linux values (`O_*`, `AT_*`); the broker validates them.

use serde::{Deserialize, Serialize};

/// One request on a call channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request<'a> {
    /// Chosen by the shim, unique among the requests in flight on this channel.
    pub id: u64,
    /// The call itself.
    #[serde(borrow)]
    pub call: Call<'a>,
}

/// What a path is relative to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum At {
    /// The path is absolute. The shim joins relative paths with the caller's working
    /// directory before sending, so the broker never uses its own.
    Absolute,
    /// The path is relative to the directory fd at this index among the message's fds.
    Fd(u8),
}

/// A path argument of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathArg<'a> {
    /// What the path is relative to.
    pub at: At,
    /// The path bytes, without a terminating NUL. May be empty only with `AT_EMPTY_PATH`.
    #[serde(borrow)]
    pub path: &'a [u8],
}

/// `struct timespec` for utimensat (`nsec` may be `UTIME_NOW` or `UTIME_OMIT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timespec {
    /// Seconds.
    pub sec: i64,
    /// Nanoseconds, or `UTIME_NOW` / `UTIME_OMIT`.
    pub nsec: i64,
}

/// A socket address a program connects or binds to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SockAddr<'a> {
    /// A pathname unix socket (absolute after the shim joins the working directory).
    Unix(#[serde(borrow)] PathArg<'a>),
    /// An abstract unix socket name, without the leading NUL.
    Abstract(&'a [u8]),
    /// An unnamed unix address (autobind on bind).
    UnixUnnamed,
    /// IPv4 address and port (host byte order).
    Inet {
        /// The address octets.
        addr: [u8; 4],
        /// The port.
        port: u16,
    },
    /// IPv6 address and port (host byte order).
    Inet6 {
        /// The address octets.
        addr: [u8; 16],
        /// The port.
        port: u16,
        /// `sin6_flowinfo`.
        flowinfo: u32,
        /// `sin6_scope_id`.
        scope_id: u32,
    },
    /// `AF_UNSPEC`, used to dissolve a datagram socket's association.
    Unspec,
}

/// The calls the broker arbitrates, with the arguments libc received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Call<'a> {
    /// openat(2). Replies with one fd. `umask` is the caller's, applied to `mode`.
    Open {
        /// The file.
        #[serde(borrow)]
        path: PathArg<'a>,
        /// `O_*` flags.
        flags: i32,
        /// Creation mode (only with `O_CREAT` / `O_TMPFILE`).
        mode: u32,
        /// The caller's umask.
        umask: u32,
    },
    /// fstatat(2)/statx(2): `flags` takes `AT_SYMLINK_NOFOLLOW` and `AT_EMPTY_PATH`.
    /// Replies with [`crate::Payload::Stat`].
    Stat {
        /// The file.
        #[serde(borrow)]
        path: PathArg<'a>,
        /// `AT_*` flags.
        flags: i32,
    },
    /// faccessat(2): `mode` is `F_OK` or `R_OK|W_OK|X_OK`; `flags` may hold `AT_EACCESS`
    /// and `AT_SYMLINK_NOFOLLOW`.
    Access {
        /// The file.
        #[serde(borrow)]
        path: PathArg<'a>,
        /// Access mode.
        mode: i32,
        /// `AT_*` flags.
        flags: i32,
    },
    /// mkdirat(2).
    Mkdir {
        /// The new directory.
        #[serde(borrow)]
        path: PathArg<'a>,
        /// Mode.
        mode: u32,
        /// The caller's umask.
        umask: u32,
    },
    /// mknodat(2), for FIFOs and regular files only (`mkfifo`).
    Mknod {
        /// The new node.
        #[serde(borrow)]
        path: PathArg<'a>,
        /// Mode, including the file type bits.
        mode: u32,
        /// Device number (must be 0).
        dev: u64,
        /// The caller's umask.
        umask: u32,
    },
    /// unlinkat(2); `AT_REMOVEDIR` makes it rmdir.
    Unlink {
        /// The entry to remove.
        #[serde(borrow)]
        path: PathArg<'a>,
        /// `AT_*` flags.
        flags: i32,
    },
    /// renameat2(2).
    Rename {
        /// Old name.
        #[serde(borrow)]
        from: PathArg<'a>,
        /// New name.
        #[serde(borrow)]
        to: PathArg<'a>,
        /// `RENAME_*` flags.
        flags: u32,
    },
    /// linkat(2).
    Link {
        /// Existing file.
        #[serde(borrow)]
        from: PathArg<'a>,
        /// New name.
        #[serde(borrow)]
        to: PathArg<'a>,
        /// `AT_*` flags.
        flags: i32,
    },
    /// symlinkat(2).
    Symlink {
        /// The link's contents (not checked: it is only a string until followed).
        #[serde(borrow)]
        target: &'a [u8],
        /// Where the link is created.
        #[serde(borrow)]
        path: PathArg<'a>,
    },
    /// readlinkat(2). Replies with [`crate::Payload::Bytes`].
    Readlink {
        /// The link.
        #[serde(borrow)]
        path: PathArg<'a>,
    },
    /// truncate(2).
    Truncate {
        /// The file.
        #[serde(borrow)]
        path: PathArg<'a>,
        /// New length.
        length: i64,
    },
    /// fchmodat(2).
    Chmod {
        /// The file.
        #[serde(borrow)]
        path: PathArg<'a>,
        /// New mode.
        mode: u32,
        /// `AT_*` flags.
        flags: i32,
    },
    /// fchownat(2). `u32::MAX` leaves an id unchanged.
    Chown {
        /// The file.
        #[serde(borrow)]
        path: PathArg<'a>,
        /// New owner.
        uid: u32,
        /// New group.
        gid: u32,
        /// `AT_*` flags.
        flags: i32,
    },
    /// utimensat(2). `None` sets both times to now.
    Utimens {
        /// The file.
        #[serde(borrow)]
        path: PathArg<'a>,
        /// Access and modification times.
        times: Option<[Timespec; 2]>,
        /// `AT_*` flags.
        flags: i32,
    },
    /// connect(2) on the program's own socket, which travels as fd 0 of the message.
    Connect {
        /// Destination.
        #[serde(borrow)]
        addr: SockAddr<'a>,
    },
    /// bind(2) on the program's own socket, which travels as fd 0 of the message.
    Bind {
        /// Local address.
        #[serde(borrow)]
        addr: SockAddr<'a>,
        /// The caller's umask (a pathname unix socket's mode without a policy mode).
        umask: u32,
    },
    /// getaddrinfo(3). Replies with [`crate::Payload::AddrInfo`]; `result` is 0 or an `EAI_*`.
    GetAddrInfo {
        /// Host name or numeric address.
        #[serde(borrow)]
        node: Option<&'a [u8]>,
        /// Service name or port.
        #[serde(borrow)]
        service: Option<&'a [u8]>,
        /// `ai_flags` of the hints.
        flags: i32,
        /// `ai_family` of the hints.
        family: i32,
        /// `ai_socktype` of the hints.
        socktype: i32,
        /// `ai_protocol` of the hints.
        protocol: i32,
    },
    /// Not a libc call: asks where the shim may act in-process (the fast paths). Replies
    /// with [`crate::Payload::Bytes`]: entries of a tag ([`crate::FAST_STAT`],
    /// [`crate::FAST_OPEN`] or [`crate::FAST_REMOVE`]), an absolute path and a NUL; empty when every call must reach
    /// the broker (the fast paths are off). When the audit log records every call, the
    /// reply carries one fd, the report ring ([`crate::ring`]): every call answered
    /// in-process must then be reported there, and a shim that cannot map it must not
    /// answer any. Never audited.
    FastPaths,
    // Later additions go last: a variant's wire tag is its position.
    /// listen(2) on the program's own socket, which travels as fd 0 of the message. An
    /// unbound IPv4/IPv6 socket is decided as a bind to the wildcard address, port 0.
    Listen {
        /// The backlog.
        backlog: i32,
    },
    /// sendto(2)/sendmsg(2) on the program's own socket (fd 0 of the message), performed by
    /// the broker with these bytes. A destination is decided like a connect of the
    /// socket's protocol; none (a connected socket) is sent without a decision. Built by
    /// the seccomp transport from the program's memory.
    Send {
        /// The destination (`msg_name`), if any.
        #[serde(borrow)]
        addr: Option<SockAddr<'a>>,
        /// The bytes to send.
        #[serde(borrow)]
        data: &'a [u8],
        /// `MSG_*` flags.
        flags: i32,
        /// How many fds at the end of the message travel as `SCM_RIGHTS` (after the
        /// socket and a unix destination's base directory).
        rights: u8,
        /// `SCM_CREDENTIALS` (pid, uid, gid) to attach, already checked to be the caller's.
        creds: Option<(i32, u32, u32)>,
    },
    /// getnameinfo(3) for the host name of an IPv4/IPv6 address (the shim answers numeric
    /// forms and the service itself). Replies with [`crate::Payload::Bytes`], the host
    /// name; `result` is 0 or an `EAI_*`.
    GetNameInfo {
        /// The address (`Inet` or `Inet6`).
        #[serde(borrow)]
        addr: SockAddr<'a>,
        /// `NI_*` flags.
        flags: i32,
    },
    /// A lookup in the services or protocols database (getservbyname(3) and its
    /// relatives, their `_r` forms alike), answered by the broker's own libc under the
    /// host's NSS configuration and decided as a read of the database's file. Replies with
    /// [`crate::Payload::NetDbEntry`] when found; `result` is 0, or -1 with `errno`
    /// (`ENOENT`: no such entry; the policy's errno when the read is refused).
    NetDb(#[serde(borrow)] NetDbQuery<'a>),
}

/// What a [`Call::NetDb`] looks up. Names travel without their NUL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NetDbQuery<'a> {
    /// getservbyname(3): a service by name, of protocol `proto` or any.
    ServByName {
        /// The service name or alias (`http`).
        #[serde(borrow)]
        name: &'a [u8],
        /// The protocol (`tcp`), or any.
        #[serde(borrow)]
        proto: Option<&'a [u8]>,
    },
    /// getservbyport(3): a service by port, of protocol `proto` or any.
    ServByPort {
        /// The argument as the caller passed it: a port in network byte order in the low
        /// 16 bits (a value no port has matches no entry; see [`NetDbQuery::port`]).
        port: i32,
        /// The protocol (`tcp`), or any.
        #[serde(borrow)]
        proto: Option<&'a [u8]>,
    },
    /// getprotobyname(3): a protocol by name or alias (`tcp`).
    ProtoByName {
        /// The protocol name.
        #[serde(borrow)]
        name: &'a [u8],
    },
    /// getprotobynumber(3): a protocol by number (`6`).
    ProtoByNumber {
        /// The protocol number.
        number: i32,
    },
}

impl NetDbQuery<'_> {
    /// The libc function's name (without `_r`), as the audit log spells the call.
    pub fn function(&self) -> &'static str {
        match self {
            NetDbQuery::ServByName { .. } => "getservbyname",
            NetDbQuery::ServByPort { .. } => "getservbyport",
            NetDbQuery::ProtoByName { .. } => "getprotobyname",
            NetDbQuery::ProtoByNumber { .. } => "getprotobynumber",
        }
    }

    /// The port a `getservbyport` argument names, in host byte order: `None` for a value
    /// outside 0..=65535, which no entry has.
    pub fn port(arg: i32) -> Option<u16> {
        u16::try_from(arg).ok().map(u16::from_be)
    }

    /// Whether it looks in the services database (else the protocols database).
    pub fn is_service(&self) -> bool {
        matches!(
            self,
            NetDbQuery::ServByName { .. } | NetDbQuery::ServByPort { .. }
        )
    }
}

impl Call<'_> {
    /// The call's name as the audit log and policy explanations spell it.
    pub fn name(&self) -> &'static str {
        match self {
            Call::Open { .. } => "open",
            Call::Stat { .. } => "stat",
            Call::Access { .. } => "access",
            Call::Mkdir { .. } => "mkdir",
            Call::Mknod { .. } => "mknod",
            Call::Unlink { flags, .. } if flags & libc::AT_REMOVEDIR != 0 => "rmdir",
            Call::Unlink { .. } => "unlink",
            Call::Rename { .. } => "rename",
            Call::Link { .. } => "link",
            Call::Symlink { .. } => "symlink",
            Call::Readlink { .. } => "readlink",
            Call::Truncate { .. } => "truncate",
            Call::Chmod { .. } => "chmod",
            Call::Chown { .. } => "chown",
            Call::Utimens { .. } => "utimens",
            Call::Connect { .. } => "connect",
            Call::Bind { .. } => "bind",
            Call::Listen { .. } => "listen",
            Call::Send { .. } => "send",
            Call::GetAddrInfo { .. } => "getaddrinfo",
            Call::GetNameInfo { .. } => "getnameinfo",
            Call::FastPaths => "fast_paths",
            Call::NetDb(q) => q.function(),
        }
    }

    /// How many fds a well-formed message carrying this call has.
    pub fn expected_fds(&self) -> usize {
        fn at(p: &PathArg<'_>) -> usize {
            match p.at {
                At::Absolute => 0,
                At::Fd(_) => 1,
            }
        }
        match self {
            Call::Open { path, .. }
            | Call::Stat { path, .. }
            | Call::Access { path, .. }
            | Call::Mkdir { path, .. }
            | Call::Mknod { path, .. }
            | Call::Unlink { path, .. }
            | Call::Symlink { path, .. }
            | Call::Readlink { path }
            | Call::Truncate { path, .. }
            | Call::Chmod { path, .. }
            | Call::Chown { path, .. }
            | Call::Utimens { path, .. } => at(path),
            Call::Rename { from, to, .. } | Call::Link { from, to, .. } => at(from) + at(to),
            Call::Connect { addr } | Call::Bind { addr, .. } => {
                1 + match addr {
                    SockAddr::Unix(p) => at(p),
                    _ => 0,
                }
            }
            Call::Listen { .. } => 1,
            Call::Send { addr, rights, .. } => {
                1 + usize::from(*rights)
                    + match addr {
                        Some(SockAddr::Unix(p)) => at(p),
                        _ => 0,
                    }
            }
            Call::GetAddrInfo { .. }
            | Call::GetNameInfo { .. }
            | Call::FastPaths
            | Call::NetDb(_) => 0,
        }
    }
}
