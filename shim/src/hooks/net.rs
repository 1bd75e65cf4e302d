//! connect, bind, listen and getaddrinfo: the program's socket travels to the broker, which acts on
//! it; names are resolved by the broker, and the result list is built here with `malloc` so
//! that the program's own `freeaddrinfo` releases it.

use std::ffi::{c_char, c_int};

use arbiter_protocol::reply::addr_info_entries;
use arbiter_protocol::{At, Call, PathArg, Payload, SockAddr};
use libc::{sockaddr, socklen_t};

use crate::forward::{fail, int_call};
use crate::hooks::{guarded, unbrokered};
use crate::path::{prepare, FdList, Prepared, JOIN_BUF};
use crate::real_fn;
use crate::sys::{bytes, c_str_len, raw_close, set_errno};
use crate::{channel, state};

real_fn!(
    real_getaddrinfo,
    c"getaddrinfo",
    fn(*const c_char, *const c_char, *const libc::addrinfo, *mut *mut libc::addrinfo) -> c_int
);

/// Which brokered call a socket address goes with.
#[derive(Clone, Copy)]
enum Op {
    Connect,
    Bind,
}

/// The raw system call, for families the broker does not handle.
fn direct(op: Op, fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    let nr = match op {
        Op::Connect => libc::SYS_connect,
        Op::Bind => libc::SYS_bind,
    };
    // SAFETY: the caller's arguments go to the kernel unchanged.
    unsafe { libc::syscall(nr, fd, addr, len) as c_int }
}

/// Brokers connect or bind of `fd` to `addr`.
///
/// # Safety
/// `addr` must be null or point at `len` readable bytes.
unsafe fn brokered(op: Op, fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    // With the notify filter the kernel stops the call for the broker, which takes the
    // socket itself: one round trip, where passing it here by sendmsg would be two.
    if unbrokered() || state::notify_filter() {
        return direct(op, fd, addr, len);
    }
    if addr.is_null() {
        return fail(libc::EFAULT);
    }
    let len = len as usize;
    if len < std::mem::size_of::<libc::sa_family_t>() {
        return fail(libc::EINVAL);
    }
    // SAFETY: addr has at least the family field.
    let family = c_int::from(unsafe { (*addr).sa_family });
    let mut join = [0u8; JOIN_BUF];
    let mut path_buf = [0u8; 110];
    let mut fds = FdList::default();
    if fds.push(fd).is_none() {
        return fail(libc::EINVAL);
    }
    // The working directory, held for a bind of a relative path (closed below).
    let mut cwd: c_int = -1;
    let sockaddr = match family {
        libc::AF_INET if len >= std::mem::size_of::<libc::sockaddr_in>() => {
            // SAFETY: len covers a sockaddr_in; read unaligned in case the caller's is not.
            let sin = unsafe { std::ptr::read_unaligned(addr.cast::<libc::sockaddr_in>()) };
            SockAddr::Inet {
                addr: u32::from_be(sin.sin_addr.s_addr).to_be_bytes(),
                port: u16::from_be(sin.sin_port),
            }
        }
        libc::AF_INET6 if len >= std::mem::size_of::<libc::sockaddr_in6>() => {
            // SAFETY: len covers a sockaddr_in6.
            let sin6 = unsafe { std::ptr::read_unaligned(addr.cast::<libc::sockaddr_in6>()) };
            SockAddr::Inet6 {
                addr: sin6.sin6_addr.s6_addr,
                port: u16::from_be(sin6.sin6_port),
                flowinfo: sin6.sin6_flowinfo,
                scope_id: sin6.sin6_scope_id,
            }
        }
        libc::AF_INET | libc::AF_INET6 => return fail(libc::EINVAL),
        libc::AF_UNSPEC => SockAddr::Unspec,
        libc::AF_UNIX => {
            let path_len = (len - 2).min(108);
            // SAFETY: sun_path starts 2 bytes in and the caller gave len bytes.
            let raw = unsafe { bytes(addr.cast::<c_char>().add(2), path_len) };
            if raw.is_empty() {
                SockAddr::UnixUnnamed
            } else if raw[0] == 0 {
                SockAddr::Abstract(&raw[1..])
            } else {
                let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
                path_buf[..end].copy_from_slice(&raw[..end]);
                // SAFETY: path_buf holds `end` bytes and a NUL (it is zeroed and longer).
                match unsafe {
                    prepare(
                        libc::AT_FDCWD,
                        path_buf.as_ptr().cast(),
                        &mut join,
                        &mut fds,
                    )
                } {
                    Prepared::Fail(e) => return fail(e),
                    Prepared::PassThrough => return direct(op, fd, addr, len as socklen_t),
                    // A relative bind goes with the working directory and the program's own
                    // string, which the broker binds from that directory so that
                    // getsockname() reports it as natively (the broker's sockname module).
                    Prepared::Forward(_) if matches!(op, Op::Bind) && path_buf[0] != b'/' => {
                        cwd = match open_cwd() {
                            Ok(c) => c,
                            Err(e) => return fail(e),
                        };
                        match fds.push(cwd) {
                            Some(i) => SockAddr::Unix(PathArg {
                                at: At::Fd(i),
                                path: &path_buf[..end],
                            }),
                            None => {
                                raw_close(cwd);
                                return fail(libc::EINVAL);
                            }
                        }
                    }
                    Prepared::Forward(p) => SockAddr::Unix(p),
                }
            }
        }
        // Other families (netlink, …) reach nothing on the filesystem or network the
        // policy speaks of: the kernel and its filters decide.
        _ => return direct(op, fd, addr, len as socklen_t),
    };
    let call = match op {
        Op::Connect => Call::Connect { addr: sockaddr },
        Op::Bind => Call::Bind {
            addr: sockaddr,
            umask: state::umask(),
        },
    };
    let rc = int_call(&call, fds.as_slice());
    if cwd >= 0 {
        let saved = crate::sys::errno();
        raw_close(cwd);
        set_errno(saved);
    }
    rc
}

/// The working directory as an `O_PATH` fd (close-on-exec), by the raw system call: Landlock
/// does not govern `O_PATH` opens, and without the notify filter `openat` runs natively.
fn open_cwd() -> Result<c_int, c_int> {
    // SAFETY: "." is a NUL-terminated string; the flags are plain integers.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat,
            libc::AT_FDCWD,
            c".".as_ptr(),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            0,
        )
    };
    if fd < 0 {
        Err(crate::sys::errno())
    } else {
        Ok(fd as c_int)
    }
}

/// Brokered `connect`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    guarded!(-1, unsafe { brokered(Op::Connect, fd, addr, len) })
}

/// Brokered `bind`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn bind(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    guarded!(-1, unsafe { brokered(Op::Bind, fd, addr, len) })
}

/// Brokered `listen`: an unbound IPv4/IPv6 socket would get a port on every interface, so
/// the broker decides it as a bind to the wildcard address, port 0, and listens on the
/// program's socket. (Without the shim, the seccomp filter stops `listen` for the broker,
/// or refuses it without the notify filter.)
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn listen(fd: c_int, backlog: c_int) -> c_int {
    guarded!(-1, {
        if unbrokered() || state::notify_filter() {
            // SAFETY: the caller's arguments go to the kernel unchanged.
            return unsafe { libc::syscall(libc::SYS_listen, fd, backlog) as c_int };
        }
        int_call(&Call::Listen { backlog }, &[fd])
    })
}

/// Builds one `addrinfo` with its address in the same allocation, as glibc lays them out
/// (its `freeaddrinfo` frees each node and its `ai_canonname`, nothing else).
fn new_node(e: &arbiter_protocol::AddrInfoEntry) -> *mut libc::addrinfo {
    let size = std::mem::size_of::<libc::addrinfo>() + std::mem::size_of::<libc::sockaddr_in6>();
    // SAFETY: calloc returns zeroed memory of `size` bytes or null.
    let node = unsafe { libc::calloc(1, size) }.cast::<libc::addrinfo>();
    if node.is_null() {
        return node;
    }
    // SAFETY: node points at `size` zeroed bytes, room for an addrinfo then a sockaddr_in6.
    unsafe {
        let addr = node.add(1).cast::<u8>();
        (*node).ai_family = e.family;
        (*node).ai_socktype = e.socktype;
        (*node).ai_protocol = e.protocol;
        (*node).ai_addr = addr.cast();
        if e.family == libc::AF_INET6 {
            let sin6 = &mut *addr.cast::<libc::sockaddr_in6>();
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = e.port.to_be();
            sin6.sin6_addr.s6_addr = e.addr;
            sin6.sin6_scope_id = e.scope_id;
            (*node).ai_addrlen = std::mem::size_of::<libc::sockaddr_in6>() as socklen_t;
        } else {
            let sin = &mut *addr.cast::<libc::sockaddr_in>();
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = e.port.to_be();
            sin.sin_addr.s_addr =
                u32::from_be_bytes([e.addr[0], e.addr[1], e.addr[2], e.addr[3]]).to_be();
            (*node).ai_addrlen = std::mem::size_of::<libc::sockaddr_in>() as socklen_t;
        }
    }
    node
}

/// Frees a partly built list (nodes and canonname, as freeaddrinfo would).
fn free_list(mut p: *mut libc::addrinfo) {
    while !p.is_null() {
        // SAFETY: p is a node this module allocated; its next pointer is valid or null.
        unsafe {
            let next = (*p).ai_next;
            libc::free((*p).ai_canonname.cast());
            libc::free(p.cast());
            p = next;
        }
    }
}

/// Brokered `getaddrinfo`: the broker resolves under the policy's resolve rules and returns
/// the whole list, honouring the hints; errors are the `EAI_*` codes glibc gives.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn getaddrinfo(
    node: *const c_char,
    service: *const c_char,
    hints: *const libc::addrinfo,
    res: *mut *mut libc::addrinfo,
) -> c_int {
    guarded!(libc::EAI_SYSTEM, {
        if unbrokered() {
            // SAFETY: libc's own getaddrinfo with the caller's arguments.
            return real_getaddrinfo().map_or(libc::EAI_SYSTEM, |f| unsafe {
                f(node, service, hints, res)
            });
        }
        if res.is_null() {
            return libc::EAI_SYSTEM;
        }
        // SAFETY: node and service are null or C strings per libc's contract.
        let (node_len, service_len) = unsafe { (c_str_len(node, 1025), c_str_len(service, 256)) };
        if (!node.is_null() && node_len.is_none()) || (!service.is_null() && service_len.is_none())
        {
            return libc::EAI_OVERFLOW;
        }
        // SAFETY: the lengths were just measured.
        let node_b = node_len.map(|n| unsafe { bytes(node, n) });
        // SAFETY: as above.
        let service_b = service_len.map(|n| unsafe { bytes(service, n) });
        let (flags, family, socktype, protocol) = if hints.is_null() {
            (
                libc::AI_V4MAPPED | libc::AI_ADDRCONFIG,
                libc::AF_UNSPEC,
                0,
                0,
            )
        } else {
            // SAFETY: a non-null hints points at an addrinfo.
            let h = unsafe { &*hints };
            (h.ai_flags, h.ai_family, h.ai_socktype, h.ai_protocol)
        };
        let call = Call::GetAddrInfo {
            node: node_b,
            service: service_b,
            flags,
            family,
            socktype,
            protocol,
        };
        let outcome = channel::call(&call, &[], |reply, got| {
            for &f in got {
                raw_close(f);
            }
            if reply.result != 0 {
                if reply.result == i64::from(libc::EAI_SYSTEM) {
                    set_errno(reply.errno);
                }
                return reply.result as c_int;
            }
            let Payload::AddrInfo { canonname, entries } = &reply.payload else {
                return libc::EAI_SYSTEM;
            };
            let mut head: *mut libc::addrinfo = std::ptr::null_mut();
            let mut tail: *mut libc::addrinfo = std::ptr::null_mut();
            for e in addr_info_entries(entries) {
                let n = new_node(&e);
                if n.is_null() {
                    free_list(head);
                    return libc::EAI_MEMORY;
                }
                if tail.is_null() {
                    head = n;
                } else {
                    // SAFETY: tail is the last node we built.
                    unsafe { (*tail).ai_next = n };
                }
                tail = n;
            }
            if head.is_null() {
                return libc::EAI_NONAME;
            }
            if let Some(name) = canonname {
                // SAFETY: malloc of len+1 bytes; we write the name and a NUL into it.
                unsafe {
                    let c = libc::malloc(name.len() + 1).cast::<u8>();
                    if !c.is_null() {
                        std::ptr::copy_nonoverlapping(name.as_ptr(), c, name.len());
                        *c.add(name.len()) = 0;
                        (*head).ai_canonname = c.cast();
                    }
                }
            }
            // SAFETY: res is non-null per the check above.
            unsafe { *res = head };
            0
        });
        match outcome {
            Ok(code) => code,
            Err(e) => {
                set_errno(e);
                libc::EAI_SYSTEM
            }
        }
    })
}
