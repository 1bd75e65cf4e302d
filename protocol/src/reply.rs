//! Replies: the result of a call, its errno, and any data it returns.

use serde::{Deserialize, Serialize};

/// One reply on a call channel, answering the request with the same `id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply<'a> {
    /// The id of the request this answers.
    pub id: u64,
    /// The call's return value (`-1` on failure, as libc returns it; for getaddrinfo the
    /// `EAI_*` code).
    pub result: i64,
    /// The errno to set when `result` says the call failed (0 otherwise).
    pub errno: i32,
    /// Data the call returns besides the result.
    #[serde(borrow)]
    pub payload: Payload<'a>,
}

impl Reply<'_> {
    /// A failed call with this errno and no payload.
    pub fn error(id: u64, errno: i32) -> Reply<'static> {
        Reply {
            id,
            result: -1,
            errno,
            payload: Payload::None,
        }
    }

    /// A successful call returning `result` and no payload.
    pub fn ok(id: u64, result: i64) -> Reply<'static> {
        Reply {
            id,
            result,
            errno: 0,
            payload: Payload::None,
        }
    }
}

/// A `statx` result, the superset from which the shim fills `struct stat` or `struct statx`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)] // the fields are statx(2)'s, same names
pub struct WireStat {
    pub mask: u32,
    pub blksize: u32,
    pub attributes: u64,
    pub nlink: u32,
    pub uid: u32,
    pub gid: u32,
    pub mode: u16,
    pub ino: u64,
    pub size: u64,
    pub blocks: u64,
    pub attributes_mask: u64,
    pub atime: (i64, u32),
    pub btime: (i64, u32),
    pub ctime: (i64, u32),
    pub mtime: (i64, u32),
    pub rdev_major: u32,
    pub rdev_minor: u32,
    pub dev_major: u32,
    pub dev_minor: u32,
    pub mnt_id: u64,
}

impl WireStat {
    /// Fills a `struct stat` (the kernel's and glibc's layout on 64-bit Linux). Fields
    /// `struct stat` has no room for are left as they were.
    pub fn fill_stat(&self, out: &mut libc::stat) {
        out.st_dev = libc::makedev(self.dev_major, self.dev_minor);
        out.st_ino = self.ino;
        out.st_nlink = self.nlink.into();
        out.st_mode = self.mode.into();
        out.st_uid = self.uid;
        out.st_gid = self.gid;
        out.st_rdev = libc::makedev(self.rdev_major, self.rdev_minor);
        out.st_size = self.size as i64;
        out.st_blksize = self.blksize.into();
        out.st_blocks = self.blocks as i64;
        out.st_atime = self.atime.0;
        out.st_atime_nsec = self.atime.1.into();
        out.st_mtime = self.mtime.0;
        out.st_mtime_nsec = self.mtime.1.into();
        out.st_ctime = self.ctime.0;
        out.st_ctime_nsec = self.ctime.1.into();
    }

    /// Fills a `struct statx`, reporting in `stx_mask` only what was asked for (`mask`) and
    /// known, plus the basic fields.
    pub fn fill_statx(&self, out: &mut libc::statx, mask: u32) {
        out.stx_mask = self.mask & (mask | libc::STATX_BASIC_STATS);
        out.stx_blksize = self.blksize;
        out.stx_attributes = self.attributes;
        out.stx_nlink = self.nlink;
        out.stx_uid = self.uid;
        out.stx_gid = self.gid;
        out.stx_mode = self.mode;
        out.stx_ino = self.ino;
        out.stx_size = self.size;
        out.stx_blocks = self.blocks;
        out.stx_attributes_mask = self.attributes_mask;
        for (t, (sec, nsec)) in [
            (&mut out.stx_atime, self.atime),
            (&mut out.stx_btime, self.btime),
            (&mut out.stx_ctime, self.ctime),
            (&mut out.stx_mtime, self.mtime),
        ] {
            t.tv_sec = sec;
            t.tv_nsec = nsec;
        }
        out.stx_rdev_major = self.rdev_major;
        out.stx_rdev_minor = self.rdev_minor;
        out.stx_dev_major = self.dev_major;
        out.stx_dev_minor = self.dev_minor;
        out.stx_mnt_id = self.mnt_id;
    }
}

/// One address of a getaddrinfo result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddrInfoEntry {
    /// `ai_family` (`AF_INET` or `AF_INET6`).
    pub family: i32,
    /// `ai_socktype`.
    pub socktype: i32,
    /// `ai_protocol`.
    pub protocol: i32,
    /// The address octets (4 used for IPv4).
    pub addr: [u8; 16],
    /// The port (host byte order).
    pub port: u16,
    /// `sin6_scope_id` for IPv6.
    pub scope_id: u32,
}

/// Data a reply carries besides the result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Payload<'a> {
    /// Nothing.
    None,
    /// A stat result.
    Stat(WireStat),
    /// Bytes, e.g. a symlink's contents.
    Bytes(#[serde(borrow)] &'a [u8]),
    /// A getaddrinfo result list, in order. `entries` is the postcard encoding of each
    /// [`AddrInfoEntry`] one after the other, so the shim can walk it without allocating;
    /// see [`Payload::addr_info_entries`].
    AddrInfo {
        /// The canonical name, when `AI_CANONNAME` was asked for.
        #[serde(borrow)]
        canonname: Option<&'a [u8]>,
        /// Concatenated encoded entries.
        #[serde(borrow)]
        entries: &'a [u8],
    },
    // Later additions go last: a variant's wire tag is its position.
    /// A services or protocols database entry ([`crate::Call::NetDb`]).
    NetDbEntry(#[serde(borrow)] NetDbEntry<'a>),
}

/// The most bytes a [`NetDbEntry`] takes laid out in a caller's buffer
/// ([`NetDbEntry::layout_len`]): the broker answers a larger entry with `ENOMEM`, and the
/// shim's per-thread storage for the non-reentrant forms is this large.
pub const NETDB_ENTRY_MAX: usize = 1024;

/// One entry of the services or protocols database, as `struct servent` / `struct
/// protoent` hold it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetDbEntry<'a> {
    /// The official name.
    #[serde(borrow)]
    pub name: &'a [u8],
    /// The aliases, each followed by a NUL.
    #[serde(borrow)]
    pub aliases: &'a [u8],
    /// The port (host byte order) of a service, or the number of a protocol.
    pub number: i32,
    /// A service's protocol (`tcp`); empty for a protocol.
    #[serde(borrow)]
    pub proto: &'a [u8],
}

impl<'a> NetDbEntry<'a> {
    /// The aliases, without their NULs.
    pub fn aliases(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let all = self.aliases.strip_suffix(&[0]).unwrap_or(self.aliases);
        all.split(|&b| b == 0).filter(|a| !a.is_empty())
    }

    /// The bytes the entry takes in a caller's buffer, at most: the alias pointer array
    /// (with its NULL, and up to a pointer's alignment), the name, the aliases and (for a
    /// service, `with_proto`) the protocol, each NUL-terminated.
    pub fn layout_len(&self, with_proto: bool) -> usize {
        let ptr = core::mem::size_of::<usize>();
        let mut n = 0;
        let mut bytes = 0;
        for a in self.aliases() {
            n += 1;
            bytes += a.len() + 1;
        }
        (ptr - 1)
            + (n + 1) * ptr
            + self.name.len()
            + 1
            + bytes
            + if with_proto { self.proto.len() + 1 } else { 0 }
    }
}

/// Iterates over the entries of a [`Payload::AddrInfo`].
pub fn addr_info_entries(entries: &[u8]) -> impl Iterator<Item = AddrInfoEntry> + '_ {
    let mut rest = entries;
    core::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        match postcard::take_from_bytes::<AddrInfoEntry>(rest) {
            Ok((entry, tail)) => {
                rest = tail;
                Some(entry)
            }
            Err(_) => {
                rest = &[];
                None
            }
        }
    })
}

/// Appends the encoding of `entry` to `out` at `*len`, for building [`Payload::AddrInfo`].
/// Returns false when `out` is full.
pub fn push_addr_info_entry(out: &mut [u8], len: &mut usize, entry: &AddrInfoEntry) -> bool {
    match postcard::to_slice(entry, &mut out[*len..]) {
        Ok(written) => {
            *len += written.len();
            true
        }
        Err(_) => false,
    }
}
