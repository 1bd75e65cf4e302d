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
