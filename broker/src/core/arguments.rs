//! A call's arguments as a decider sees them: owned, typed, and named as Emilua's
//! `libc_service.master` names them (`open`/`openat`, `stat`/`lstat`, `access`/`eaccess`,
//! `connect_unix`/`connect_inet`/`connect_inet6`, …), built from the checked
//! [`arbiter_protocol::Call`] only when a per-call decider asks (see
//! [`super::decider::Decider::per_call`]).
//!
//! Paths are absolute: a path relative to a directory descriptor the program passed is
//! joined to that directory's current name (`/proc/self/fd/N`). They are the paths *as the
//! program named them*; the policy decides on the real path (every link resolved), which the
//! question's [`super::decider::Subject`] carries.

use std::ffi::OsStr;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use arbiter_protocol::{At, Call, NetDbQuery, PathArg, SockAddr};

/// The `O_*` flags of an open, with the seed's names ([`OpenFlags::names`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFlags(pub i32);

/// The seed's names of open flags, in its order. `read_only` is the absence of both
/// access-mode bits and is handled apart.
const OPEN_FLAG_NAMES: [(i32, &str); 8] = [
    (libc::O_APPEND, "append"),
    (libc::O_CREAT, "create"),
    (libc::O_DIRECTORY, "directory"),
    (libc::O_EXCL, "exclusive"),
    (libc::O_NOFOLLOW, "no_follow"),
    (libc::O_PATH, "path"),
    (libc::O_SYNC, "sync_all_on_write"),
    (libc::O_TRUNC, "truncate"),
];

impl OpenFlags {
    /// The flags as the seed names them: `read_only`, `write_only` or `read_write`, then
    /// `append`, `create`, `directory`, `exclusive`, `no_follow`, `path`,
    /// `sync_all_on_write`, `temporary`, `truncate` as set.
    pub fn names(self) -> Vec<&'static str> {
        let f = self.0;
        let mut out = vec![match f & libc::O_ACCMODE {
            libc::O_WRONLY => "write_only",
            libc::O_RDWR => "read_write",
            _ => "read_only",
        }];
        if f & libc::O_TMPFILE == libc::O_TMPFILE {
            out.push("temporary");
        }
        for (bit, name) in OPEN_FLAG_NAMES {
            // O_TMPFILE includes O_DIRECTORY: named once, as `temporary`.
            let tmp_dir = bit == libc::O_DIRECTORY && f & libc::O_TMPFILE == libc::O_TMPFILE;
            if f & bit == bit && !tmp_dir {
                out.push(name);
            }
        }
        out
    }

    /// Whether the flags create a file (`create` or `temporary`): then a mode applies.
    pub fn creates(self) -> bool {
        self.0 & libc::O_CREAT != 0 || self.0 & libc::O_TMPFILE == libc::O_TMPFILE
    }
}

/// A socket address a program connects or binds to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A pathname unix socket.
    Unix(PathBuf),
    /// An abstract unix socket name (without the leading NUL).
    Abstract(Vec<u8>),
    /// An unnamed unix address (autobind).
    UnixUnnamed,
    /// An IPv4 address and port.
    Inet(SocketAddrV4),
    /// An IPv6 address and port.
    Inet6(SocketAddrV6),
    /// `AF_UNSPEC` (dissolving a datagram socket's association).
    Unspec,
}

impl Endpoint {
    /// The suffix of the seed's function name: `unix`, `inet` or `inet6` (`unspec` for
    /// `AF_UNSPEC`).
    pub fn family(&self) -> &'static str {
        match self {
            Endpoint::Unix(_) | Endpoint::Abstract(_) | Endpoint::UnixUnnamed => "unix",
            Endpoint::Inet(_) => "inet",
            Endpoint::Inet6(_) => "inet6",
            Endpoint::Unspec => "unspec",
        }
    }
}

/// The arguments of one attempted call, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Arguments {
    /// open/openat (`openat` when the path is relative to a directory descriptor).
    Open {
        /// The file, absolute.
        path: PathBuf,
        /// Whether the program named the file relative to a directory descriptor (`openat`).
        at_fd: bool,
        /// The open flags.
        flags: OpenFlags,
        /// The creation mode, when the flags create (`create` or `temporary`).
        mode: Option<u32>,
    },
    /// stat (`follow`) or lstat.
    Stat {
        /// The file.
        path: PathBuf,
        /// Whether a final symlink is followed (`stat`) or not (`lstat`).
        follow: bool,
    },
    /// access (real ids) or eaccess (effective ids, `AT_EACCESS`).
    Access {
        /// The file.
        path: PathBuf,
        /// `F_OK`, or `R_OK|W_OK|X_OK` bits.
        mode: i32,
        /// Whether the effective ids are checked (`eaccess`).
        effective: bool,
    },
    /// mkdir.
    Mkdir {
        /// The new directory.
        path: PathBuf,
        /// The mode bits asked for (before the umask).
        mode: u32,
    },
    /// mknod (FIFOs and regular files).
    Mknod {
        /// The new node.
        path: PathBuf,
        /// Mode with the file type bits.
        mode: u32,
    },
    /// unlink.
    Unlink {
        /// The entry removed.
        path: PathBuf,
    },
    /// rmdir.
    Rmdir {
        /// The directory removed.
        path: PathBuf,
    },
    /// rename (`path1` to `path2`).
    Rename {
        /// The old name.
        path1: PathBuf,
        /// The new name.
        path2: PathBuf,
    },
    /// link (`path1` is the existing file, `path2` the new name).
    Link {
        /// The existing file.
        path1: PathBuf,
        /// The new name.
        path2: PathBuf,
    },
    /// symlink.
    Symlink {
        /// The link's contents.
        target: PathBuf,
        /// Where the link is created.
        path: PathBuf,
    },
    /// readlink.
    Readlink {
        /// The link.
        path: PathBuf,
    },
    /// truncate.
    Truncate {
        /// The file.
        path: PathBuf,
        /// The new length.
        length: i64,
    },
    /// chmod.
    Chmod {
        /// The file.
        path: PathBuf,
        /// The new mode.
        mode: u32,
    },
    /// chown (`u32::MAX` leaves an id unchanged).
    Chown {
        /// The file.
        path: PathBuf,
        /// The new owner.
        uid: u32,
        /// The new group.
        gid: u32,
    },
    /// utimensat.
    Utimens {
        /// The file.
        path: PathBuf,
    },
    /// connect on the program's own socket.
    Connect(Endpoint),
    /// bind on the program's own socket.
    Bind(Endpoint),
    /// listen on the program's own socket.
    Listen {
        /// The backlog.
        backlog: i32,
    },
    /// sendto/sendmsg performed by the broker.
    Send {
        /// The destination, if any.
        to: Option<Endpoint>,
        /// How many bytes.
        len: usize,
    },
    /// getaddrinfo.
    GetAddrInfo {
        /// An Internet host such as `host.example`.
        node: Option<String>,
        /// An Internet service such as `http`.
        service: Option<String>,
        /// `tcp`, `udp`, or neither.
        protocol: Option<&'static str>,
        /// The address family asked for: `inet`, `inet6`, or either.
        family: Option<&'static str>,
    },
    /// getnameinfo (the host name of an address).
    GetNameInfo {
        /// The address.
        addr: Endpoint,
    },
    /// getservbyname, getservbyport, getprotobyname or getprotobynumber (and their `_r`
    /// forms): a lookup in the services or protocols database, decided as a read of
    /// `file`.
    NetDb {
        /// The function, without `_r`.
        function: &'static str,
        /// The name looked up (by-name forms).
        name: Option<String>,
        /// The port (`getservbyport`, host byte order; the raw argument when it is no
        /// port) or protocol number
        /// (`getprotobynumber`).
        number: Option<i32>,
        /// The service's protocol, when one was given.
        proto: Option<String>,
        /// The database file (`/etc/services` or `/etc/protocols`).
        file: PathBuf,
    },
}

impl Arguments {
    /// The typed arguments of `call`; `fds` are the descriptors that came with it, in order
    /// (for a path relative to a directory descriptor). `None` for
    /// [`Call::FastPaths`], which is no libc call.
    pub fn of(call: &Call<'_>, fds: &[OwnedFd]) -> Option<Arguments> {
        let p = |arg: &PathArg<'_>| absolute(arg, fds);
        Some(match *call {
            Call::Open {
                ref path,
                flags,
                mode,
                ..
            } => {
                let flags = OpenFlags(flags);
                Arguments::Open {
                    path: p(path),
                    at_fd: matches!(path.at, At::Fd(_)),
                    flags,
                    mode: flags.creates().then_some(mode),
                }
            }
            Call::Stat { ref path, flags } => Arguments::Stat {
                path: p(path),
                follow: flags & libc::AT_SYMLINK_NOFOLLOW == 0,
            },
            Call::Access {
                ref path,
                mode,
                flags,
            } => Arguments::Access {
                path: p(path),
                mode,
                effective: flags & libc::AT_EACCESS != 0,
            },
            Call::Mkdir { ref path, mode, .. } => Arguments::Mkdir {
                path: p(path),
                mode,
            },
            Call::Mknod { ref path, mode, .. } => Arguments::Mknod {
                path: p(path),
                mode,
            },
            Call::Unlink { ref path, flags } if flags & libc::AT_REMOVEDIR != 0 => {
                Arguments::Rmdir { path: p(path) }
            }
            Call::Unlink { ref path, .. } => Arguments::Unlink { path: p(path) },
            Call::Rename {
                ref from, ref to, ..
            } => Arguments::Rename {
                path1: p(from),
                path2: p(to),
            },
            Call::Link {
                ref from, ref to, ..
            } => Arguments::Link {
                path1: p(from),
                path2: p(to),
            },
            Call::Symlink { target, ref path } => Arguments::Symlink {
                target: PathBuf::from(OsStr::from_bytes(target)),
                path: p(path),
            },
            Call::Readlink { ref path } => Arguments::Readlink { path: p(path) },
            Call::Truncate { ref path, length } => Arguments::Truncate {
                path: p(path),
                length,
            },
            Call::Chmod { ref path, mode, .. } => Arguments::Chmod {
                path: p(path),
                mode,
            },
            Call::Chown {
                ref path, uid, gid, ..
            } => Arguments::Chown {
                path: p(path),
                uid,
                gid,
            },
            Call::Utimens { ref path, .. } => Arguments::Utimens { path: p(path) },
            // The program's socket is fd 0; `At::Fd(i)` of a unix path indexes the message's
            // fds as a whole (the protocol's definition), so the socket counts.
            Call::Connect { ref addr } => Arguments::Connect(endpoint(addr, fds)),
            Call::Bind { ref addr, .. } => Arguments::Bind(endpoint(addr, fds)),
            Call::Listen { backlog } => Arguments::Listen { backlog },
            Call::Send { ref addr, data, .. } => Arguments::Send {
                to: addr.as_ref().map(|a| endpoint(a, fds)),
                len: data.len(),
            },
            Call::GetAddrInfo {
                node,
                service,
                protocol,
                socktype,
                family,
                ..
            } => Arguments::GetAddrInfo {
                node: node.map(|n| String::from_utf8_lossy(n).into_owned()),
                service: service.map(|s| String::from_utf8_lossy(s).into_owned()),
                protocol: match (protocol, socktype) {
                    (libc::IPPROTO_TCP, _) | (0, libc::SOCK_STREAM) => Some("tcp"),
                    (libc::IPPROTO_UDP, _) | (0, libc::SOCK_DGRAM) => Some("udp"),
                    _ => None,
                },
                family: match family {
                    libc::AF_INET => Some("inet"),
                    libc::AF_INET6 => Some("inet6"),
                    _ => None,
                },
            },
            Call::GetNameInfo { ref addr, .. } => Arguments::GetNameInfo {
                addr: endpoint(addr, &[]),
            },
            Call::NetDb(q) => {
                let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
                let (name, number, proto) = match q {
                    NetDbQuery::ServByName { name, proto } => (Some(text(name)), None, proto),
                    NetDbQuery::ServByPort { port, proto } => (
                        None,
                        Some(NetDbQuery::port(port).map_or(port, i32::from)),
                        proto,
                    ),
                    NetDbQuery::ProtoByName { name } => (Some(text(name)), None, None),
                    NetDbQuery::ProtoByNumber { number } => (None, Some(number), None),
                };
                Arguments::NetDb {
                    function: q.function(),
                    name,
                    number,
                    proto: proto.map(text),
                    file: super::netdb::database_file(&q).to_path_buf(),
                }
            }
            Call::FastPaths => return None,
        })
    }

    /// The function's name as the seed spells it: `open`, `openat`, `stat`, `lstat`,
    /// `access`, `eaccess`, `mkdir`, `rmdir`, `unlink`, `rename`, `connect_unix`,
    /// `connect_inet`, `connect_inet6`, `bind_unix`, `bind_inet`, `bind_inet6`,
    /// `getaddrinfo`, and for the calls arbiter brokers beyond the seed's list `mknod`,
    /// `link`, `symlink`, `readlink`, `truncate`, `chmod`, `chown`, `utimens`, `listen`,
    /// `send`, `getnameinfo`, `getservbyname`, `getservbyport`, `getprotobyname`,
    /// `getprotobynumber` (and `connect_unspec` for `AF_UNSPEC`).
    pub fn function(&self) -> &'static str {
        match self {
            Arguments::Open { at_fd: false, .. } => "open",
            Arguments::Open { at_fd: true, .. } => "openat",
            Arguments::Stat { follow: true, .. } => "stat",
            Arguments::Stat { follow: false, .. } => "lstat",
            Arguments::Access {
                effective: false, ..
            } => "access",
            Arguments::Access {
                effective: true, ..
            } => "eaccess",
            Arguments::Mkdir { .. } => "mkdir",
            Arguments::Mknod { .. } => "mknod",
            Arguments::Unlink { .. } => "unlink",
            Arguments::Rmdir { .. } => "rmdir",
            Arguments::Rename { .. } => "rename",
            Arguments::Link { .. } => "link",
            Arguments::Symlink { .. } => "symlink",
            Arguments::Readlink { .. } => "readlink",
            Arguments::Truncate { .. } => "truncate",
            Arguments::Chmod { .. } => "chmod",
            Arguments::Chown { .. } => "chown",
            Arguments::Utimens { .. } => "utimens",
            Arguments::Connect(e) => match e.family() {
                "unix" => "connect_unix",
                "inet" => "connect_inet",
                "inet6" => "connect_inet6",
                _ => "connect_unspec",
            },
            Arguments::Bind(e) => match e.family() {
                "unix" => "bind_unix",
                "inet" => "bind_inet",
                "inet6" => "bind_inet6",
                _ => "bind_unspec",
            },
            Arguments::Listen { .. } => "listen",
            Arguments::Send { .. } => "send",
            Arguments::GetAddrInfo { .. } => "getaddrinfo",
            Arguments::GetNameInfo { .. } => "getnameinfo",
            Arguments::NetDb { function, .. } => function,
        }
    }

    /// The reply shape the function's result takes ([`ResultKind`]).
    pub fn result_kind(&self) -> ResultKind {
        match self {
            Arguments::Open { .. } => ResultKind::Descriptor,
            Arguments::Stat { .. } => ResultKind::Stat,
            Arguments::Readlink { .. } | Arguments::GetNameInfo { .. } => ResultKind::Bytes,
            Arguments::GetAddrInfo { .. } => ResultKind::Addresses,
            Arguments::NetDb { .. } => ResultKind::Entry,
            _ => ResultKind::Integer,
        }
    }
}

/// What a successful call returns to the program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultKind {
    /// A descriptor (open, openat).
    Descriptor,
    /// An integer and nothing else (mkdir, unlink, connect, …).
    Integer,
    /// A `struct stat` (stat, lstat).
    Stat,
    /// Bytes (readlink's contents, getnameinfo's host name).
    Bytes,
    /// A list of addresses (getaddrinfo).
    Addresses,
    /// A services or protocols database entry (getservbyname and its relatives), which
    /// only the broker's libc supplies: a master performs or denies the lookup.
    Entry,
}

/// `arg` as an absolute path: as sent, or joined to its directory descriptor's name.
fn absolute(arg: &PathArg<'_>, fds: &[OwnedFd]) -> PathBuf {
    let path = PathBuf::from(OsStr::from_bytes(arg.path));
    match arg.at {
        At::Absolute => path,
        At::Fd(i) => match fds.get(usize::from(i)).and_then(|fd| fd_path(fd).ok()) {
            Some(dir) if arg.path.is_empty() => dir,
            Some(dir) => dir.join(path),
            None => path,
        },
    }
}

/// The directory descriptor's current name.
fn fd_path(fd: &OwnedFd) -> std::io::Result<PathBuf> {
    std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// `addr` typed; `fds` are the message's fds (a unix path's base among them).
fn endpoint(addr: &SockAddr<'_>, fds: &[OwnedFd]) -> Endpoint {
    match *addr {
        SockAddr::Unix(ref p) => Endpoint::Unix(absolute(p, fds)),
        SockAddr::Abstract(name) => Endpoint::Abstract(name.to_vec()),
        SockAddr::UnixUnnamed => Endpoint::UnixUnnamed,
        SockAddr::Inet { addr, port } => {
            Endpoint::Inet(SocketAddrV4::new(Ipv4Addr::from(addr), port))
        }
        SockAddr::Inet6 {
            addr,
            port,
            flowinfo,
            scope_id,
        } => Endpoint::Inet6(SocketAddrV6::new(
            Ipv6Addr::from(addr),
            port,
            flowinfo,
            scope_id,
        )),
        SockAddr::Unspec => Endpoint::Unspec,
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::OwnedFd;
    use std::path::Path;

    use arbiter_protocol::{At, Call, PathArg, SockAddr};

    use super::{Arguments, Endpoint, OpenFlags};

    #[test]
    fn a_unix_path_relative_to_a_dirfd_is_made_absolute_with_the_socket_counted() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().canonicalize().unwrap();
        let socket: OwnedFd = std::fs::File::open("/dev/null").unwrap().into();
        let base: OwnedFd = std::fs::File::open(&real).unwrap().into();
        let call = Call::Connect {
            addr: SockAddr::Unix(PathArg {
                at: At::Fd(1),
                path: b"s.sock",
            }),
        };
        let args = Arguments::of(&call, &[socket, base]).unwrap();
        assert_eq!(
            args,
            Arguments::Connect(Endpoint::Unix(real.join("s.sock")))
        );
        assert_eq!(args.function(), "connect_unix");
    }

    #[test]
    fn open_flags_and_names_follow_the_seed() {
        let call = Call::Open {
            path: PathArg {
                at: At::Absolute,
                path: b"/tmp/f",
            },
            flags: libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC,
            mode: 0o600,
            umask: 0o022,
        };
        let args = Arguments::of(&call, &[]).unwrap();
        assert_eq!(args.function(), "open");
        let Arguments::Open {
            path, flags, mode, ..
        } = &args
        else {
            panic!("{args:?}");
        };
        assert_eq!(path, Path::new("/tmp/f"));
        assert_eq!(flags.names(), ["write_only", "create", "truncate"]);
        assert_eq!(*mode, Some(0o600));
        assert_eq!(OpenFlags(libc::O_RDONLY).names(), ["read_only"]);
        assert_eq!(
            OpenFlags(libc::O_RDWR | libc::O_TMPFILE).names(),
            ["read_write", "temporary"]
        );
    }
}
