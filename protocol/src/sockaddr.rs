//! Decoding a raw `struct sockaddr` (the bytes a program passed to `connect`/`bind`) as the
//! kernel reads it for a socket of a given family. The seccomp transport copies those bytes
//! out of the target and decodes them here, once; the result is what the policy decides on.

use crate::call::SockAddr;

/// `offsetof(struct sockaddr_un, sun_path)`.
const SUN_PATH_OFFSET: usize = 2;
/// `sizeof(struct sockaddr_un)`: the kernel refuses a longer unix address (`EINVAL`).
const SOCKADDR_UN_LEN: usize = 110;
/// `sizeof(struct sockaddr_in)`.
const SOCKADDR_IN_LEN: usize = 16;
/// `SIN6_LEN_RFC2133`: the kernel accepts an IPv6 address without `sin6_scope_id`.
const SOCKADDR_IN6_MIN: usize = 24;
/// `sizeof(struct sockaddr_storage)`: the longest address any family takes.
pub const SOCKADDR_MAX: usize = 128;

/// A decoded address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// Everything but a pathname unix socket.
    Addr(SockAddr<'a>),
    /// A pathname unix socket: the bytes of `sun_path` up to its first NUL, never empty.
    /// Relative paths are relative to the caller's working directory (the transport pins it).
    UnixPath(&'a [u8]),
}

/// Decodes `raw` (the caller's `addrlen` bytes, at most [`SOCKADDR_MAX`]) for a socket of
/// `socket_family` (`AF_UNIX`, `AF_INET`, `AF_INET6`), with the kernel's errno otherwise:
/// `EINVAL` for a short or over-long address, `EAFNOSUPPORT` for an address of another
/// family than the socket's.
pub fn decode(socket_family: i32, raw: &[u8]) -> Result<Decoded<'_>, i32> {
    if raw.len() < 2 || raw.len() > SOCKADDR_MAX {
        return Err(libc::EINVAL);
    }
    let sa_family = i32::from(u16::from_ne_bytes([raw[0], raw[1]]));
    // Fixed-layout reads see zeros past the caller's length (sin6_scope_id may be absent).
    let mut storage = [0u8; SOCKADDR_MAX];
    storage[..raw.len()].copy_from_slice(raw);
    let word = |at: usize| {
        u32::from_ne_bytes([
            storage[at],
            storage[at + 1],
            storage[at + 2],
            storage[at + 3],
        ])
    };
    let port = u16::from_be_bytes([storage[2], storage[3]]);
    match sa_family {
        libc::AF_UNSPEC => Ok(Decoded::Addr(SockAddr::Unspec)),
        libc::AF_INET if socket_family == libc::AF_INET => {
            if raw.len() < SOCKADDR_IN_LEN {
                return Err(libc::EINVAL);
            }
            Ok(Decoded::Addr(SockAddr::Inet {
                addr: [storage[4], storage[5], storage[6], storage[7]],
                port,
            }))
        }
        libc::AF_INET6 if socket_family == libc::AF_INET6 => {
            if raw.len() < SOCKADDR_IN6_MIN {
                return Err(libc::EINVAL);
            }
            let mut addr = [0u8; 16];
            addr.copy_from_slice(&storage[8..24]);
            Ok(Decoded::Addr(SockAddr::Inet6 {
                addr,
                port,
                flowinfo: word(4),
                scope_id: word(24),
            }))
        }
        libc::AF_UNIX if socket_family == libc::AF_UNIX => {
            if raw.len() > SOCKADDR_UN_LEN {
                return Err(libc::EINVAL);
            }
            let path = &raw[SUN_PATH_OFFSET..];
            if path.is_empty() {
                Ok(Decoded::Addr(SockAddr::UnixUnnamed))
            } else if path[0] == 0 {
                Ok(Decoded::Addr(SockAddr::Abstract(&path[1..])))
            } else {
                let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
                Ok(Decoded::UnixPath(&path[..end]))
            }
        }
        // An address of another family than the socket's: the kernel's answer.
        libc::AF_UNIX | libc::AF_INET | libc::AF_INET6 => Err(if socket_family == libc::AF_UNIX {
            libc::EINVAL
        } else {
            libc::EAFNOSUPPORT
        }),
        _ => Err(libc::EAFNOSUPPORT),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn un(path: &[u8]) -> Vec<u8> {
        let mut v = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
        v.extend_from_slice(path);
        v
    }

    #[test]
    fn unix_addresses_decode_as_the_kernel_reads_them() {
        assert_eq!(
            decode(libc::AF_UNIX, &un(b"/run/x.sock\0junk")),
            Ok(Decoded::UnixPath(b"/run/x.sock"))
        );
        assert_eq!(
            decode(libc::AF_UNIX, &un(b"\0name\0x")),
            Ok(Decoded::Addr(SockAddr::Abstract(b"name\0x")))
        );
        assert_eq!(
            decode(libc::AF_UNIX, &un(b"")),
            Ok(Decoded::Addr(SockAddr::UnixUnnamed))
        );
        // Longer than sockaddr_un: the kernel says EINVAL, whatever the path.
        assert_eq!(decode(libc::AF_UNIX, &un(&[b'a'; 109])), Err(libc::EINVAL));
        assert!(decode(libc::AF_UNIX, &un(&[b'a'; 108])).is_ok());
        assert_eq!(decode(libc::AF_INET, &un(b"/x")), Err(libc::EAFNOSUPPORT));
    }

    #[test]
    fn inet_addresses_need_their_length() {
        let mut v = (libc::AF_INET as u16).to_ne_bytes().to_vec();
        v.extend_from_slice(&[0x1f, 0x90, 127, 0, 0, 1]);
        assert_eq!(decode(libc::AF_INET, &v), Err(libc::EINVAL));
        v.resize(16, 0);
        assert_eq!(
            decode(libc::AF_INET, &v),
            Ok(Decoded::Addr(SockAddr::Inet {
                addr: [127, 0, 0, 1],
                port: 8080
            }))
        );
        assert_eq!(decode(libc::AF_UNIX, &v), Err(libc::EINVAL));
        assert_eq!(decode(libc::AF_INET, &[0]), Err(libc::EINVAL));
    }
}
