//! The older resolver entry points — gethostbyname, gethostbyname2 and their `_r` forms —
//! answered from the same brokered resolution as getaddrinfo, so the same resolve rules and
//! the same per-sandbox name-to-address record apply.

use std::cell::UnsafeCell;
use std::ffi::{c_char, c_int};

use arbiter_protocol::reply::addr_info_entries;
use arbiter_protocol::{AddrInfoEntry, Call, Payload, SockAddr};

use crate::channel;
use crate::hooks::{guarded, unbrokered};
use crate::real_fn;
use crate::sys::{bytes, c_str_len, raw_close};

real_fn!(
    real_gethostbyname2_r,
    c"gethostbyname2_r",
    fn(
        *const c_char,
        c_int,
        *mut libc::hostent,
        *mut c_char,
        usize,
        *mut *mut libc::hostent,
        *mut c_int,
    ) -> c_int
);

/// `netdb.h` error codes, set through `h_errno`.
const HOST_NOT_FOUND: c_int = 1;
const TRY_AGAIN: c_int = 2;
const NO_RECOVERY: c_int = 3;
const NO_DATA: c_int = 4;

extern "C" {
    fn __h_errno_location() -> *mut c_int;
}

fn set_h_errno(v: c_int) {
    // SAFETY: glibc returns a valid pointer to this thread's h_errno.
    unsafe { *__h_errno_location() = v };
}

/// Most addresses returned in one hostent.
const MAX_ADDRS: usize = 32;

/// The broker's answer for `name` in family `af`: up to MAX_ADDRS distinct addresses and
/// the canonical name, or an `h_errno` value.
fn lookup(
    name: &[u8],
    af: c_int,
    out: &mut [[u8; 16]; MAX_ADDRS],
    canon: &mut [u8; 256],
) -> Result<(usize, usize), c_int> {
    let call = Call::GetAddrInfo {
        node: Some(name),
        service: None,
        flags: libc::AI_CANONNAME,
        family: af,
        socktype: libc::SOCK_STREAM,
        protocol: 0,
    };
    let result = channel::call(&call, &[], |reply, got| {
        for &f in got {
            raw_close(f);
        }
        match reply.result as c_int {
            0 => {}
            libc::EAI_AGAIN => return Err(TRY_AGAIN),
            libc::EAI_NODATA => return Err(NO_DATA),
            libc::EAI_NONAME => return Err(HOST_NOT_FOUND),
            _ => return Err(NO_RECOVERY),
        }
        let Payload::AddrInfo { canonname, entries } = &reply.payload else {
            return Err(NO_RECOVERY);
        };
        let mut n = 0;
        for AddrInfoEntry { family, addr, .. } in addr_info_entries(entries) {
            if family != af || out[..n].contains(&addr) || n == MAX_ADDRS {
                continue;
            }
            out[n] = addr;
            n += 1;
        }
        let c = canonname.unwrap_or(name);
        let clen = c.len().min(canon.len() - 1);
        canon[..clen].copy_from_slice(&c[..clen]);
        canon[clen] = 0;
        if n == 0 {
            Err(NO_DATA)
        } else {
            Ok((n, clen))
        }
    });
    result.unwrap_or(Err(NO_RECOVERY))
}

/// Lays a hostent's data out in `buf` (pointer arrays first, aligned, then addresses and the
/// name). Returns false when `buf` is too small.
///
/// # Safety
/// `ret` must point at a writable hostent; `buf` at `buflen` writable bytes.
unsafe fn fill(
    ret: *mut libc::hostent,
    buf: *mut c_char,
    buflen: usize,
    af: c_int,
    addrs: &[[u8; 16]],
    canon: &[u8],
) -> bool {
    let len = if af == libc::AF_INET6 { 16 } else { 4 };
    let ptr = std::mem::size_of::<*mut c_char>();
    let align = (buf as usize).wrapping_neg() % ptr;
    let need = align + ptr /* aliases: just NULL */ + (addrs.len() + 1) * ptr + addrs.len() * len + canon.len() + 1;
    if need > buflen {
        return false;
    }
    // SAFETY: every write below stays within the `need` <= buflen bytes checked above, and
    // the pointer arrays start at a pointer-aligned offset.
    unsafe {
        let base = buf.add(align);
        let aliases = base.cast::<*mut c_char>();
        *aliases = std::ptr::null_mut();
        let list = aliases.add(1);
        let data = list.add(addrs.len() + 1).cast::<u8>();
        for (i, a) in addrs.iter().enumerate() {
            let dst = data.add(i * len);
            std::ptr::copy_nonoverlapping(a.as_ptr(), dst, len);
            *list.add(i) = dst.cast();
        }
        *list.add(addrs.len()) = std::ptr::null_mut();
        let name = data.add(addrs.len() * len);
        std::ptr::copy_nonoverlapping(canon.as_ptr(), name, canon.len());
        *name.add(canon.len()) = 0;
        (*ret).h_name = name.cast();
        (*ret).h_aliases = aliases;
        (*ret).h_addrtype = af;
        (*ret).h_length = len as c_int;
        (*ret).h_addr_list = list;
    }
    true
}

/// The reentrant core: glibc's `gethostbyname2_r` contract.
///
/// # Safety
/// libc's contract for gethostbyname2_r.
unsafe fn by_name_r(
    name: *const c_char,
    af: c_int,
    ret: *mut libc::hostent,
    buf: *mut c_char,
    buflen: usize,
    result: *mut *mut libc::hostent,
    h_errnop: *mut c_int,
) -> c_int {
    let fail = |code: c_int, err: c_int| {
        // SAFETY: result and h_errnop are valid out-pointers per the contract (checked non-null).
        unsafe {
            if !result.is_null() {
                *result = std::ptr::null_mut();
            }
            if !h_errnop.is_null() {
                *h_errnop = err;
            }
        }
        code
    };
    if af != libc::AF_INET && af != libc::AF_INET6 {
        return fail(libc::EAFNOSUPPORT, NO_RECOVERY);
    }
    // SAFETY: name is a C string per the contract.
    let Some(len) = (unsafe { c_str_len(name, 1024) }) else {
        return fail(libc::EINVAL, HOST_NOT_FOUND);
    };
    // SAFETY: len bytes precede the NUL.
    let n = unsafe { bytes(name, len) };
    let mut addrs = [[0u8; 16]; MAX_ADDRS];
    let mut canon = [0u8; 256];
    match lookup(n, af, &mut addrs, &mut canon) {
        Err(e) => fail(if e == TRY_AGAIN { libc::EAGAIN } else { 0 }, e),
        Ok((count, clen)) => {
            // SAFETY: the caller's buffers per the contract.
            if !unsafe { fill(ret, buf, buflen, af, &addrs[..count], &canon[..clen]) } {
                return fail(libc::ERANGE, NETDB_INTERNAL);
            }
            // SAFETY: result is a valid out-pointer per the contract.
            unsafe {
                *result = ret;
                if !h_errnop.is_null() {
                    *h_errnop = 0;
                }
            }
            0
        }
    }
}

/// `h_errno` value with errno holding the cause (ERANGE here).
const NETDB_INTERNAL: c_int = -1;

/// Brokered `gethostbyname2_r`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn gethostbyname2_r(
    name: *const c_char,
    af: c_int,
    ret: *mut libc::hostent,
    buf: *mut c_char,
    buflen: usize,
    result: *mut *mut libc::hostent,
    h_errnop: *mut c_int,
) -> c_int {
    guarded!(libc::EIO, {
        if unbrokered() {
            // SAFETY: libc's own function with the caller's arguments.
            return real_gethostbyname2_r().map_or(libc::ENOSYS, |f| unsafe {
                f(name, af, ret, buf, buflen, result, h_errnop)
            });
        }
        // SAFETY: the caller's arguments, passed on.
        unsafe { by_name_r(name, af, ret, buf, buflen, result, h_errnop) }
    })
}

/// Brokered `gethostbyname_r` (IPv4).
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn gethostbyname_r(
    name: *const c_char,
    ret: *mut libc::hostent,
    buf: *mut c_char,
    buflen: usize,
    result: *mut *mut libc::hostent,
    h_errnop: *mut c_int,
) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    unsafe { gethostbyname2_r(name, libc::AF_INET, ret, buf, buflen, result, h_errnop) }
}

/// Per-thread storage for the non-reentrant forms (glibc's is process-wide; per-thread is
/// strictly safer and satisfies the same contract).
struct Static {
    host: UnsafeCell<libc::hostent>,
    buf: UnsafeCell<[c_char; 4096]>,
}

thread_local! {
    static STATIC: Static = const {
        Static {
            host: UnsafeCell::new(libc::hostent { h_name: std::ptr::null_mut(), h_aliases: std::ptr::null_mut(), h_addrtype: 0, h_length: 0, h_addr_list: std::ptr::null_mut() }),
            buf: UnsafeCell::new([0; 4096]),
        }
    };
}

fn by_name_static(name: *const c_char, af: c_int) -> *mut libc::hostent {
    STATIC
        .try_with(|s| {
            let mut result: *mut libc::hostent = std::ptr::null_mut();
            let mut herr: c_int = 0;
            // SAFETY: the thread-local hostent and buffer are valid and used by this thread
            // only; the name is the caller's C string.
            let rc = unsafe {
                gethostbyname2_r(
                    name,
                    af,
                    s.host.get(),
                    s.buf.get().cast(),
                    4096,
                    &mut result,
                    &mut herr,
                )
            };
            if rc != 0 || result.is_null() {
                set_h_errno(if herr == 0 { HOST_NOT_FOUND } else { herr });
                return std::ptr::null_mut();
            }
            result
        })
        .unwrap_or(std::ptr::null_mut())
}

/// Brokered `gethostbyname`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn gethostbyname(name: *const c_char) -> *mut libc::hostent {
    guarded!(std::ptr::null_mut(), by_name_static(name, libc::AF_INET))
}

/// Brokered `gethostbyname2`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn gethostbyname2(name: *const c_char, af: c_int) -> *mut libc::hostent {
    guarded!(std::ptr::null_mut(), by_name_static(name, af))
}

real_fn!(
    real_getnameinfo,
    c"getnameinfo",
    fn(
        *const libc::sockaddr,
        libc::socklen_t,
        *mut c_char,
        libc::socklen_t,
        *mut c_char,
        libc::socklen_t,
        c_int,
    ) -> c_int
);

/// The host name of `sa` from the broker, under the resolve rules, into `host`: 0 or an
/// `EAI_*` code.
fn name_of(sa: &SockAddr<'_>, flags: c_int, host: &mut [u8]) -> c_int {
    let call = Call::GetNameInfo { addr: *sa, flags };
    let result = channel::call(&call, &[], |reply, got| {
        for &f in got {
            raw_close(f);
        }
        if reply.result != 0 {
            return reply.result as c_int;
        }
        let Payload::Bytes(name) = reply.payload else {
            return libc::EAI_FAIL;
        };
        if name.len() >= host.len() {
            return libc::EAI_OVERFLOW;
        }
        host[..name.len()].copy_from_slice(name);
        host[name.len()] = 0;
        0
    });
    result.unwrap_or(libc::EAI_SYSTEM)
}

/// Brokered `getnameinfo` for host names: the broker does the reverse lookup and gives the
/// name only if a resolve rule allows it (a denied name is no name: `EAI_NONAME` with
/// `NI_NAMEREQD`, else the numeric form). Numeric hosts (`NI_NUMERICHOST`), calls without a
/// host buffer, other families and the service part stay in-process.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn getnameinfo(
    sa: *const libc::sockaddr,
    salen: libc::socklen_t,
    host: *mut c_char,
    hostlen: libc::socklen_t,
    serv: *mut c_char,
    servlen: libc::socklen_t,
    flags: c_int,
) -> c_int {
    guarded!(libc::EAI_SYSTEM, {
        let Some(real) = real_getnameinfo() else {
            return libc::EAI_SYSTEM;
        };
        let local = |host: *mut c_char, hostlen| {
            // SAFETY: libc's own getnameinfo with the caller's arguments.
            unsafe { real(sa, salen, host, hostlen, serv, servlen, flags) }
        };
        if unbrokered()
            || sa.is_null()
            || host.is_null()
            || hostlen == 0
            || flags & libc::NI_NUMERICHOST != 0
        {
            return local(host, hostlen);
        }
        if (salen as usize) < std::mem::size_of::<libc::sa_family_t>() {
            return libc::EAI_FAMILY;
        }
        // SAFETY: sa is non-null and salen covers the family field.
        let family = c_int::from(unsafe { (*sa).sa_family });
        let addr = match family {
            libc::AF_INET if salen as usize >= std::mem::size_of::<libc::sockaddr_in>() => {
                // SAFETY: salen covers a sockaddr_in; read unaligned.
                let sin = unsafe { std::ptr::read_unaligned(sa.cast::<libc::sockaddr_in>()) };
                SockAddr::Inet {
                    addr: u32::from_be(sin.sin_addr.s_addr).to_be_bytes(),
                    port: u16::from_be(sin.sin_port),
                }
            }
            libc::AF_INET6 if salen as usize >= std::mem::size_of::<libc::sockaddr_in6>() => {
                // SAFETY: salen covers a sockaddr_in6.
                let sin6 = unsafe { std::ptr::read_unaligned(sa.cast::<libc::sockaddr_in6>()) };
                SockAddr::Inet6 {
                    addr: sin6.sin6_addr.s6_addr,
                    port: u16::from_be(sin6.sin6_port),
                    flowinfo: sin6.sin6_flowinfo,
                    scope_id: sin6.sin6_scope_id,
                }
            }
            _ => return local(host, hostlen),
        };
        // The service part first, in-process (and its errors as glibc reports them).
        if !serv.is_null() && servlen > 0 {
            let rc = local(std::ptr::null_mut(), 0);
            if rc != 0 {
                return rc;
            }
        }
        let mut name = [0u8; 1025];
        let rc = name_of(&addr, flags, &mut name);
        if rc != 0 {
            return rc;
        }
        let len = name.iter().position(|&b| b == 0).unwrap_or(name.len());
        if len >= hostlen as usize {
            return libc::EAI_OVERFLOW;
        }
        // SAFETY: host has hostlen > len bytes; name holds len bytes and we add the NUL.
        unsafe {
            std::ptr::copy_nonoverlapping(name.as_ptr(), host.cast::<u8>(), len);
            *host.add(len) = 0;
        }
        0
    })
}
