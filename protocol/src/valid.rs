//! Validation at the edge: a decoded [`Call`] becomes a [`Checked`] call, the only form the
//! broker's request core accepts, once every path, name and address in it is one the kernel
//! could have been given.
//!
//! Postcard decodes any byte string, but a system call sees a C string: a path with a NUL
//! inside means one thing to the policy (all its bytes) and another to the kernel (the bytes
//! before the NUL). So every transport — the shim's call channels, the seccomp transport, and
//! anything built in tests — passes its call through [`Checked::new`], and the core takes only
//! [`Checked`]: a call that was not checked cannot reach a decision. The checks:
//!
//! | argument | refused when | errno |
//! |---|---|---|
//! | a path ([`PathArg`]) | it holds a NUL | `EINVAL` |
//! | | it is empty (only `stat` with `AT_EMPTY_PATH` may be) | `ENOENT` |
//! | | it is [`PATH_MAX`] bytes or longer (the kernel counts the NUL) | `ENAMETOOLONG` |
//! | | a component is longer than [`NAME_MAX`] | `ENAMETOOLONG` |
//! | | [`At::Absolute`] but it does not start with `/` | `EINVAL` |
//! | | [`At::Fd`] names an fd the message does not carry | `EBADF` |
//! | a symlink's target | as a path (it may be relative) | as above |
//! | an abstract socket name | longer than [`ABSTRACT_MAX`] (`sun_path` less its NUL) | `EINVAL` |
//! | a host name or service | a NUL, not UTF-8, a control character or whitespace, or longer than [`HOST_MAX`] / [`SERVICE_MAX`] | `EAI_NONAME` |
//! | a services/protocols database name ([`NetDbQuery`]) | as a host name, or longer than [`NETDB_NAME_MAX`] | not found (no database line holds such a name) |
//!
//! Empty components (`a//b`), `.` and `..` are accepted: the kernel accepts them, and the
//! broker decides on the real path the kernel resolves, never on the request's spelling.

use crate::call::{At, Call, NetDbQuery, PathArg, SockAddr};
use crate::MAX_PATH;

/// Linux `PATH_MAX`: a path, with its terminating NUL, fits in this many bytes.
pub const PATH_MAX: usize = MAX_PATH;

/// Linux `NAME_MAX`: the longest component of a path.
pub const NAME_MAX: usize = 255;

/// The longest abstract unix socket name: `sun_path` (108 bytes) less the leading NUL.
pub const ABSTRACT_MAX: usize = 107;

/// The longest host name `getaddrinfo` is asked about (`NI_MAXHOST` less the NUL).
pub const HOST_MAX: usize = 1024;

/// The longest service name (`NI_MAXSERV` less the NUL).
pub const SERVICE_MAX: usize = 31;

/// The longest service or protocol name a [`Call::NetDb`] lookup carries (a database line
/// holding a longer one would not fit [`crate::reply::NETDB_ENTRY_MAX`] anyway).
pub const NETDB_NAME_MAX: usize = 255;

/// Why a call was refused at the edge. [`Invalid::errno`] is what the caller sees; the
/// [`Display`](core::fmt::Display) text is what the audit log records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Invalid {
    /// The argument holds a NUL byte, which the kernel would have read as its end.
    Nul(Arg),
    /// The argument is empty.
    Empty(Arg),
    /// The argument is longer than the kernel accepts.
    TooLong {
        /// Which argument.
        what: Arg,
        /// Its length in bytes.
        len: usize,
        /// The most the kernel accepts.
        max: usize,
    },
    /// A component of the path is longer than [`NAME_MAX`].
    NameTooLong {
        /// Which argument.
        what: Arg,
        /// The component's length in bytes.
        len: usize,
    },
    /// Sent as absolute but does not start with `/`.
    NotAbsolute(Arg),
    /// Relative to a directory fd the message does not carry.
    NoSuchFd {
        /// Which argument.
        what: Arg,
        /// The fd's index among the message's fds.
        index: u8,
    },
    /// Not a name of the allowed characters (host names, services, profile names).
    NotText(Arg),
}

impl Invalid {
    /// The errno the caller gets: the kernel's (or libc's) answer to the same argument.
    pub fn errno(self) -> i32 {
        match self {
            Invalid::Nul(_) | Invalid::NotAbsolute(_) | Invalid::NotText(_) => libc::EINVAL,
            Invalid::Empty(_) => libc::ENOENT,
            Invalid::TooLong { what, .. } if !what.is_path() => libc::EINVAL,
            Invalid::TooLong { .. } | Invalid::NameTooLong { .. } => libc::ENAMETOOLONG,
            Invalid::NoSuchFd { .. } => libc::EBADF,
        }
    }
}

impl core::fmt::Display for Invalid {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Invalid::Nul(what) => write!(f, "{what} contains a NUL byte"),
            Invalid::Empty(what) => write!(f, "{what} is empty"),
            Invalid::TooLong { what, len, max } => {
                write!(f, "{what} is {len} bytes long (at most {max})")
            }
            Invalid::NameTooLong { what, len } => write!(
                f,
                "{what} has a component of {len} bytes (at most {NAME_MAX})"
            ),
            Invalid::NotAbsolute(what) => write!(f, "{what} is sent as absolute but is relative"),
            Invalid::NoSuchFd { what, index } => {
                write!(
                    f,
                    "{what} is relative to fd #{index}, which the message lacks"
                )
            }
            Invalid::NotText(what) => write!(f, "{what} holds a character it may not"),
        }
    }
}

impl std::error::Error for Invalid {}

/// Which argument of a call was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Arg {
    /// The call's path.
    Path,
    /// The old path of a rename or link.
    OldPath,
    /// The new path of a rename or link.
    NewPath,
    /// A symlink's contents.
    Target,
    /// A pathname unix socket's path.
    SocketPath,
    /// An abstract unix socket's name.
    AbstractName,
    /// A host name to resolve.
    Host,
    /// A service name to resolve.
    Service,
    /// The profile a daemon client asks for.
    Profile,
    /// A daemon client's working directory.
    Cwd,
    /// A daemon client's command name.
    Argv0,
    /// A name looked up in the services or protocols database.
    DbName,
    /// The protocol a service lookup names.
    DbProto,
}

impl Arg {
    fn name(self) -> &'static str {
        match self {
            Arg::Path => "path",
            Arg::OldPath => "old path",
            Arg::NewPath => "new path",
            Arg::Target => "symlink target",
            Arg::SocketPath => "socket path",
            Arg::AbstractName => "abstract socket name",
            Arg::Host => "host name",
            Arg::Service => "service",
            Arg::Profile => "profile name (letters, digits, `-`, `_`, `.`; at most 64 bytes)",
            Arg::Cwd => "working directory",
            Arg::Argv0 => "command name",
            Arg::DbName => "database name",
            Arg::DbProto => "service protocol",
        }
    }

    /// Whether the kernel would read this argument as a path (so over-long is
    /// `ENAMETOOLONG`, not `EINVAL`).
    fn is_path(self) -> bool {
        matches!(
            self,
            Arg::Path | Arg::OldPath | Arg::NewPath | Arg::Target | Arg::SocketPath
        )
    }
}

impl core::fmt::Display for Arg {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// Checks path bytes as the kernel's `getname` and path walk would: no NUL, shorter than
/// [`PATH_MAX`], no component longer than [`NAME_MAX`]; empty only when `may_be_empty`.
pub fn check_path_bytes(what: Arg, path: &[u8], may_be_empty: bool) -> Result<(), Invalid> {
    if path.contains(&0) {
        return Err(Invalid::Nul(what));
    }
    if path.is_empty() && !may_be_empty {
        return Err(Invalid::Empty(what));
    }
    if path.len() >= PATH_MAX {
        return Err(Invalid::TooLong {
            what,
            len: path.len(),
            max: PATH_MAX - 1,
        });
    }
    if let Some(c) = path.split(|&b| b == b'/').find(|c| c.len() > NAME_MAX) {
        return Err(Invalid::NameTooLong { what, len: c.len() });
    }
    Ok(())
}

fn check_path(what: Arg, p: &PathArg<'_>, nfds: usize, may_be_empty: bool) -> Result<(), Invalid> {
    check_path_bytes(what, p.path, may_be_empty)?;
    match p.at {
        At::Absolute if !p.path.starts_with(b"/") && !p.path.is_empty() => {
            Err(Invalid::NotAbsolute(what))
        }
        At::Fd(index) if usize::from(index) >= nfds => Err(Invalid::NoSuchFd { what, index }),
        _ => Ok(()),
    }
}

/// A host name or service: UTF-8 (an internationalized name reaches libc's IDN support
/// as UTF-8) without control characters or whitespace, at most `max` bytes. The policy
/// decides on exactly these characters.
fn check_name(what: Arg, name: &[u8], max: usize) -> Result<(), Invalid> {
    if name.contains(&0) {
        return Err(Invalid::Nul(what));
    }
    if name.len() > max {
        return Err(Invalid::TooLong {
            what,
            len: name.len(),
            max,
        });
    }
    match std::str::from_utf8(name) {
        Ok(text) if !text.chars().any(|c| c.is_control() || c.is_whitespace()) => {}
        _ => return Err(Invalid::NotText(what)),
    }
    Ok(())
}

fn check_addr(addr: &SockAddr<'_>, nfds: usize) -> Result<(), Invalid> {
    match addr {
        SockAddr::Unix(p) => check_path(Arg::SocketPath, p, nfds, false),
        SockAddr::Abstract(name) if name.len() > ABSTRACT_MAX => Err(Invalid::TooLong {
            what: Arg::AbstractName,
            len: name.len(),
            max: ABSTRACT_MAX,
        }),
        _ => Ok(()),
    }
}

fn check_netdb(q: &NetDbQuery<'_>) -> Result<(), Invalid> {
    let (name, proto) = match *q {
        NetDbQuery::ServByName { name, proto } => (Some(name), proto),
        NetDbQuery::ServByPort { proto, .. } => (None, proto),
        NetDbQuery::ProtoByName { name } => (Some(name), None),
        NetDbQuery::ProtoByNumber { .. } => (None, None),
    };
    if let Some(n) = name {
        check_name(Arg::DbName, n, NETDB_NAME_MAX)?;
    }
    if let Some(p) = proto {
        check_name(Arg::DbProto, p, NETDB_NAME_MAX)?;
    }
    Ok(())
}

/// A call whose every path, name and address passed the checks of this module; the only
/// form the broker's request core accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked<'a> {
    call: Call<'a>,
}

impl<'a> Checked<'a> {
    /// Checks `call`, which arrived with `nfds` descriptors.
    pub fn new(call: Call<'a>, nfds: usize) -> Result<Checked<'a>, Invalid> {
        match &call {
            Call::Stat { path, flags } => {
                check_path(Arg::Path, path, nfds, flags & libc::AT_EMPTY_PATH != 0)?
            }
            Call::Open { path, .. }
            | Call::Access { path, .. }
            | Call::Mkdir { path, .. }
            | Call::Mknod { path, .. }
            | Call::Unlink { path, .. }
            | Call::Readlink { path }
            | Call::Truncate { path, .. }
            | Call::Chmod { path, .. }
            | Call::Chown { path, .. }
            | Call::Utimens { path, .. } => check_path(Arg::Path, path, nfds, false)?,
            Call::Rename { from, to, .. } | Call::Link { from, to, .. } => {
                check_path(Arg::OldPath, from, nfds, false)?;
                check_path(Arg::NewPath, to, nfds, false)?;
            }
            Call::Symlink { target, path } => {
                check_path_bytes(Arg::Target, target, false)?;
                check_path(Arg::Path, path, nfds, false)?;
            }
            Call::Connect { addr } | Call::Bind { addr, .. } => check_addr(addr, nfds)?,
            Call::Send {
                addr: Some(addr), ..
            }
            | Call::GetNameInfo { addr, .. } => check_addr(addr, nfds)?,
            Call::Send { addr: None, .. } | Call::Listen { .. } => {}
            Call::GetAddrInfo { node, service, .. } => {
                if let Some(n) = node {
                    check_name(Arg::Host, n, HOST_MAX)?;
                }
                if let Some(s) = service {
                    check_name(Arg::Service, s, SERVICE_MAX)?;
                }
            }
            Call::NetDb(q) => check_netdb(q)?,
            Call::FastPaths => {}
        }
        Ok(Checked { call })
    }

    /// The call.
    pub fn call(&self) -> &Call<'a> {
        &self.call
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(path: &[u8]) -> Call<'_> {
        Call::Open {
            path: PathArg {
                at: At::Absolute,
                path,
            },
            flags: 0,
            mode: 0,
            umask: 0,
        }
    }

    #[test]
    fn paths_the_kernel_could_not_have_been_given_are_refused() {
        let err = |p: &[u8]| Checked::new(open(p), 0).err().map(Invalid::errno);
        assert_eq!(err(b"/etc/\0/shadow"), Some(libc::EINVAL));
        assert_eq!(err(b""), Some(libc::ENOENT));
        assert_eq!(err(b"etc/passwd"), Some(libc::EINVAL));
        assert_eq!(err(&[b'/'; PATH_MAX]), Some(libc::ENAMETOOLONG));
        assert_eq!(err(&[b'/'; PATH_MAX - 1]), None);
        let mut long = b"/".to_vec();
        long.extend([b'n'; NAME_MAX + 1]);
        assert_eq!(err(&long), Some(libc::ENAMETOOLONG));
        long.pop();
        assert_eq!(err(&long), None);
        assert_eq!(err(b"/a//b/./../c/"), None);
    }

    #[test]
    fn only_stat_with_at_empty_path_may_name_nothing() {
        let stat = |flags| Call::Stat {
            path: PathArg {
                at: At::Fd(0),
                path: b"",
            },
            flags,
        };
        assert!(Checked::new(stat(libc::AT_EMPTY_PATH), 1).is_ok());
        assert_eq!(
            Checked::new(stat(0), 1).err(),
            Some(Invalid::Empty(Arg::Path))
        );
        assert_eq!(
            Checked::new(stat(libc::AT_EMPTY_PATH), 0)
                .err()
                .map(Invalid::errno),
            Some(libc::EBADF)
        );
    }

    #[test]
    fn names_and_addresses_are_checked() {
        let gai = |node: &'static [u8]| Call::GetAddrInfo {
            node: Some(node),
            service: None,
            flags: 0,
            family: 0,
            socktype: 0,
            protocol: 0,
        };
        assert!(Checked::new(gai(b"example.com"), 0).is_ok());
        assert!(Checked::new(gai(b"fe80::1%eth0"), 0).is_ok());
        assert_eq!(
            Checked::new(gai(b"example.com\0.evil"), 0).err(),
            Some(Invalid::Nul(Arg::Host))
        );
        assert_eq!(
            Checked::new(gai(b"ex\xffample.com"), 0).err(),
            Some(Invalid::NotText(Arg::Host))
        );
        assert_eq!(
            Checked::new(gai(b"a b.example"), 0).err(),
            Some(Invalid::NotText(Arg::Host))
        );
        assert!(Checked::new(gai("bücher.example".as_bytes()), 0).is_ok());
        let abs = |name| Call::Connect {
            addr: SockAddr::Abstract(name),
        };
        assert!(Checked::new(abs(&[b'a'; ABSTRACT_MAX]), 1).is_ok());
        assert_eq!(
            Checked::new(abs(&[b'a'; ABSTRACT_MAX + 1]), 1)
                .err()
                .map(Invalid::errno),
            Some(libc::EINVAL)
        );
        let sym = Call::Symlink {
            target: b"a\0b",
            path: PathArg {
                at: At::Absolute,
                path: b"/x",
            },
        };
        assert_eq!(Checked::new(sym, 0).err(), Some(Invalid::Nul(Arg::Target)));
    }

    #[test]
    fn database_names_are_checked_as_names() {
        let by_name = |name, proto| Call::NetDb(NetDbQuery::ServByName { name, proto });
        assert!(Checked::new(by_name(b"http", Some(b"tcp")), 0).is_ok());
        assert!(Checked::new(by_name(b"http", None), 0).is_ok());
        assert_eq!(
            Checked::new(by_name(b"ht\0tp", None), 0).err(),
            Some(Invalid::Nul(Arg::DbName))
        );
        assert_eq!(
            Checked::new(by_name(b"http", Some(b"tcp udp")), 0).err(),
            Some(Invalid::NotText(Arg::DbProto))
        );
        let long = [b'a'; NETDB_NAME_MAX + 1];
        assert_eq!(
            Checked::new(Call::NetDb(NetDbQuery::ProtoByName { name: &long }), 0).err(),
            Some(Invalid::TooLong {
                what: Arg::DbName,
                len: NETDB_NAME_MAX + 1,
                max: NETDB_NAME_MAX
            })
        );
        assert!(Checked::new(
            Call::NetDb(NetDbQuery::ProtoByName {
                name: &long[..NETDB_NAME_MAX]
            }),
            0
        )
        .is_ok());
        assert!(Checked::new(Call::NetDb(NetDbQuery::ProtoByNumber { number: -1 }), 0).is_ok());
    }
}
