//! The services and protocols databases: `getservbyname`, `getservbyport`,
//! `getprotobyname`, `getprotobynumber` and their `_r` forms, answered by the broker
//! ([`Call::NetDb`]), which decides each as a read of `/etc/services` (`/etc/protocols`)
//! and looks it up with its own libc. The program's process then never loads an NSS module
//! for them (with `services: db files`, ld.so's search for a missing `libnss_db.so.2` costs
//! ~100 brokered probes).
//!
//! glibc's semantics, kept exactly: the `_r` forms return 0 with a null result when there
//! is no such entry (`errno` 0), `ERANGE` (and `errno` `ERANGE`) when the caller's buffer
//! is too small, and the error itself otherwise (a refused read: the policy's `EACCES`);
//! the other forms return a pointer into per-thread storage, or null with `errno` as the
//! `_r` form left it. Unbrokered processes call libc's own functions.

use std::cell::UnsafeCell;
use std::ffi::{c_char, c_int};

use arbiter_protocol::reply::NETDB_ENTRY_MAX;
use arbiter_protocol::valid::NETDB_NAME_MAX;
use arbiter_protocol::{Call, NetDbEntry, NetDbQuery, Payload};

use crate::channel;
use crate::hooks::{guarded, unbrokered};
use crate::real_fn;
use crate::sys::{bytes, c_str_len, raw_close, set_errno};

real_fn!(
    real_getservbyname_r,
    c"getservbyname_r",
    fn(
        *const c_char,
        *const c_char,
        *mut libc::servent,
        *mut c_char,
        usize,
        *mut *mut libc::servent,
    ) -> c_int
);
real_fn!(
    real_getservbyport_r,
    c"getservbyport_r",
    fn(
        c_int,
        *const c_char,
        *mut libc::servent,
        *mut c_char,
        usize,
        *mut *mut libc::servent,
    ) -> c_int
);
real_fn!(
    real_getprotobyname_r,
    c"getprotobyname_r",
    fn(*const c_char, *mut libc::protoent, *mut c_char, usize, *mut *mut libc::protoent) -> c_int
);
real_fn!(
    real_getprotobynumber_r,
    c"getprotobynumber_r",
    fn(c_int, *mut libc::protoent, *mut c_char, usize, *mut *mut libc::protoent) -> c_int
);

/// What the broker answered, laid out by the caller of [`ask`].
enum Answer {
    /// No such entry.
    NotFound,
    /// A failure with this errno (a refused read, the broker unreachable).
    Failed(c_int),
}

/// A C string argument, at most [`NETDB_NAME_MAX`] bytes: `Ok(None)` for null, `Err` for a
/// longer one (which no database line holds).
///
/// # Safety
/// `p` is null or a NUL-terminated string.
unsafe fn name_arg<'a>(p: *const c_char) -> Result<Option<&'a [u8]>, Answer> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: a C string per the contract; read at most NETDB_NAME_MAX + 1 bytes.
    match unsafe { c_str_len(p, NETDB_NAME_MAX) } {
        // SAFETY: len bytes precede the NUL.
        Some(len) => Ok(Some(unsafe { bytes(p, len) })),
        None => Err(Answer::NotFound),
    }
}

/// Asks the broker about `q`; `lay_out` places a found entry in the caller's memory and
/// returns its result (0 or `ERANGE`).
fn ask(q: NetDbQuery<'_>, lay_out: impl FnOnce(&NetDbEntry<'_>) -> c_int) -> Result<c_int, Answer> {
    let call = Call::NetDb(q);
    let answered = channel::call(&call, &[], |reply, got| {
        for &f in got {
            raw_close(f);
        }
        match (&reply.payload, reply.result) {
            (Payload::NetDbEntry(e), 0) => Ok(lay_out(e)),
            (_, -1) if reply.errno == libc::ENOENT => Err(Answer::NotFound),
            (_, -1) if reply.errno > 0 => Err(Answer::Failed(reply.errno)),
            _ => Err(Answer::Failed(libc::EIO)),
        }
    });
    answered.unwrap_or_else(|e| Err(Answer::Failed(e)))
}

/// A bump allocator over the caller's buffer: strings and one pointer array.
struct Layout {
    at: *mut u8,
    left: usize,
}

impl Layout {
    /// Room for `n` pointers, aligned, at the start of the buffer.
    fn pointers(&mut self, n: usize) -> Option<*mut *mut c_char> {
        let ptr = std::mem::size_of::<*mut c_char>();
        let pad = (self.at as usize).wrapping_neg() % ptr;
        let need = pad.checked_add(n.checked_mul(ptr)?)?;
        if need > self.left {
            return None;
        }
        // SAFETY: pad + n pointers lie within the `left` bytes from `at`.
        let p = unsafe { self.at.add(pad) };
        // SAFETY: as above.
        self.at = unsafe { self.at.add(need) };
        self.left -= need;
        Some(p.cast())
    }

    /// `s` and a NUL, copied in.
    fn string(&mut self, s: &[u8]) -> Option<*mut c_char> {
        if s.len() >= self.left {
            return None;
        }
        let p = self.at;
        // SAFETY: s.len() + 1 <= left bytes from `at` are writable (the caller's buffer).
        unsafe {
            std::ptr::copy_nonoverlapping(s.as_ptr(), p, s.len());
            *p.add(s.len()) = 0;
            self.at = p.add(s.len() + 1);
        }
        self.left -= s.len() + 1;
        Some(p.cast())
    }
}

/// Lays out `e`'s name, aliases and (for a service, `proto`) protocol in `buf`: the alias
/// pointer array first, as glibc does. `None` when `buflen` is too small.
///
/// # Safety
/// `buf` points at `buflen` writable bytes.
unsafe fn strings(
    e: &NetDbEntry<'_>,
    buf: *mut c_char,
    buflen: usize,
    proto: bool,
) -> Option<(*mut c_char, *mut *mut c_char, *mut c_char)> {
    let mut l = Layout {
        at: buf.cast(),
        left: buflen,
    };
    let n = e.aliases().count();
    let list = l.pointers(n + 1)?;
    for (i, a) in e.aliases().enumerate() {
        let s = l.string(a)?;
        // SAFETY: i < n + 1 pointers were reserved.
        unsafe { *list.add(i) = s };
    }
    // SAFETY: the last of the n + 1 pointers.
    unsafe { *list.add(n) = std::ptr::null_mut() };
    let name = l.string(e.name)?;
    let proto = if proto {
        l.string(e.proto)?
    } else {
        std::ptr::null_mut()
    };
    Some((name, list, proto))
}

/// Writes `value` through `p` when it is not null.
///
/// # Safety
/// `p` is null or valid for writes.
unsafe fn put<T>(p: *mut T, value: T) {
    if !p.is_null() {
        // SAFETY: per the contract.
        unsafe { *p = value };
    }
}

/// The `_r` contract for a services lookup: lay out into `ret`/`buf`, store the result.
///
/// # Safety
/// glibc's contract for getservbyname_r.
unsafe fn serv_r(
    q: Result<NetDbQuery<'_>, Answer>,
    ret: *mut libc::servent,
    buf: *mut c_char,
    buflen: usize,
    result: *mut *mut libc::servent,
) -> c_int {
    // SAFETY: result is null or the caller's out-pointer.
    unsafe { put(result, std::ptr::null_mut()) };
    let answer = q.and_then(|q| {
        ask(q, |e| {
            // SAFETY: the caller's buffer of buflen bytes.
            let Some((name, aliases, proto)) = (unsafe { strings(e, buf, buflen, true) }) else {
                return libc::ERANGE;
            };
            // SAFETY: ret and result are the caller's, valid per the contract.
            unsafe {
                (*ret).s_name = name;
                (*ret).s_aliases = aliases;
                (*ret).s_port = c_int::from((e.number as u16).to_be());
                (*ret).s_proto = proto;
                put(result, ret);
            }
            0
        })
    });
    finish(answer)
}

/// The `_r` contract for a protocols lookup.
///
/// # Safety
/// glibc's contract for getprotobyname_r.
unsafe fn proto_r(
    q: Result<NetDbQuery<'_>, Answer>,
    ret: *mut libc::protoent,
    buf: *mut c_char,
    buflen: usize,
    result: *mut *mut libc::protoent,
) -> c_int {
    // SAFETY: result is null or the caller's out-pointer.
    unsafe { put(result, std::ptr::null_mut()) };
    let answer = q.and_then(|q| {
        ask(q, |e| {
            // SAFETY: the caller's buffer of buflen bytes.
            let Some((name, aliases, _)) = (unsafe { strings(e, buf, buflen, false) }) else {
                return libc::ERANGE;
            };
            // SAFETY: ret and result are the caller's, valid per the contract.
            unsafe {
                (*ret).p_name = name;
                (*ret).p_aliases = aliases;
                (*ret).p_proto = e.number;
                put(result, ret);
            }
            0
        })
    });
    finish(answer)
}

/// The `_r` return value and `errno`, as glibc leaves them: 0 and 0 when found or not
/// found, the error and the same `errno` otherwise.
fn finish(answer: Result<c_int, Answer>) -> c_int {
    let rc = match answer {
        Ok(rc) => rc,
        Err(Answer::NotFound) => 0,
        Err(Answer::Failed(e)) => e,
    };
    set_errno(rc);
    rc
}

/// A services query by name, its arguments checked.
///
/// # Safety
/// `name` and `proto` are null or C strings.
unsafe fn by_name<'a>(name: *const c_char, proto: *const c_char) -> Result<NetDbQuery<'a>, Answer> {
    // SAFETY: per the contract.
    let name = unsafe { name_arg(name) }?.ok_or(Answer::NotFound)?;
    // SAFETY: per the contract.
    let proto = unsafe { name_arg(proto) }?;
    Ok(NetDbQuery::ServByName { name, proto })
}

/// A services query by port (network byte order, as libc takes it, passed on as is).
///
/// # Safety
/// `proto` is null or a C string.
unsafe fn by_port<'a>(port: c_int, proto: *const c_char) -> Result<NetDbQuery<'a>, Answer> {
    // SAFETY: per the contract.
    let proto = unsafe { name_arg(proto) }?;
    Ok(NetDbQuery::ServByPort { port, proto })
}

/// Brokered `getservbyname_r`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn getservbyname_r(
    name: *const c_char,
    proto: *const c_char,
    ret: *mut libc::servent,
    buf: *mut c_char,
    buflen: usize,
    result: *mut *mut libc::servent,
) -> c_int {
    guarded!(libc::EIO, {
        if unbrokered() {
            // SAFETY: libc's own function with the caller's arguments.
            return real_getservbyname_r().map_or(libc::ENOSYS, |f| unsafe {
                f(name, proto, ret, buf, buflen, result)
            });
        }
        // SAFETY: the caller's arguments, per the contract.
        unsafe { serv_r(by_name(name, proto), ret, buf, buflen, result) }
    })
}

/// Brokered `getservbyport_r`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn getservbyport_r(
    port: c_int,
    proto: *const c_char,
    ret: *mut libc::servent,
    buf: *mut c_char,
    buflen: usize,
    result: *mut *mut libc::servent,
) -> c_int {
    guarded!(libc::EIO, {
        if unbrokered() {
            // SAFETY: libc's own function with the caller's arguments.
            return real_getservbyport_r().map_or(libc::ENOSYS, |f| unsafe {
                f(port, proto, ret, buf, buflen, result)
            });
        }
        // SAFETY: the caller's arguments, per the contract.
        unsafe { serv_r(by_port(port, proto), ret, buf, buflen, result) }
    })
}

/// Brokered `getprotobyname_r`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn getprotobyname_r(
    name: *const c_char,
    ret: *mut libc::protoent,
    buf: *mut c_char,
    buflen: usize,
    result: *mut *mut libc::protoent,
) -> c_int {
    guarded!(libc::EIO, {
        if unbrokered() {
            // SAFETY: libc's own function with the caller's arguments.
            return real_getprotobyname_r().map_or(libc::ENOSYS, |f| unsafe {
                f(name, ret, buf, buflen, result)
            });
        }
        // SAFETY: name is null or a C string per the contract.
        let q = unsafe { name_arg(name) }
            .and_then(|n| n.ok_or(Answer::NotFound))
            .map(|name| NetDbQuery::ProtoByName { name });
        // SAFETY: the caller's arguments, per the contract.
        unsafe { proto_r(q, ret, buf, buflen, result) }
    })
}

/// Brokered `getprotobynumber_r`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn getprotobynumber_r(
    number: c_int,
    ret: *mut libc::protoent,
    buf: *mut c_char,
    buflen: usize,
    result: *mut *mut libc::protoent,
) -> c_int {
    guarded!(libc::EIO, {
        if unbrokered() {
            // SAFETY: libc's own function with the caller's arguments.
            return real_getprotobynumber_r().map_or(libc::ENOSYS, |f| unsafe {
                f(number, ret, buf, buflen, result)
            });
        }
        let q = Ok(NetDbQuery::ProtoByNumber { number });
        // SAFETY: the caller's arguments, per the contract.
        unsafe { proto_r(q, ret, buf, buflen, result) }
    })
}

/// Per-thread storage for the non-reentrant forms: one for the services functions, one
/// for the protocols functions. glibc's is process-wide, per function, so two threads'
/// lookups overwrite each other's result there; here they never do. Unlike glibc's, a
/// result lives only as long as its thread: a pointer handed to another thread is dangling
/// once the looking-up thread has exited (red team s10a finding 02, documented in
/// docs/network.md). The storage (~2 KiB) is part of every thread's static TLS, which
/// glibc takes from the thread's stack (finding 03).
struct Static {
    serv: UnsafeCell<libc::servent>,
    serv_buf: UnsafeCell<[c_char; NETDB_ENTRY_MAX]>,
    proto: UnsafeCell<libc::protoent>,
    proto_buf: UnsafeCell<[c_char; NETDB_ENTRY_MAX]>,
}

thread_local! {
    static STATIC: Static = const {
        Static {
            serv: UnsafeCell::new(libc::servent {
                s_name: std::ptr::null_mut(),
                s_aliases: std::ptr::null_mut(),
                s_port: 0,
                s_proto: std::ptr::null_mut(),
            }),
            serv_buf: UnsafeCell::new([0; NETDB_ENTRY_MAX]),
            proto: UnsafeCell::new(libc::protoent {
                p_name: std::ptr::null_mut(),
                p_aliases: std::ptr::null_mut(),
                p_proto: 0,
            }),
            proto_buf: UnsafeCell::new([0; NETDB_ENTRY_MAX]),
        }
    };
}

/// A non-reentrant services lookup through `r` (one of the `_r` hooks above, which also
/// pass unbrokered calls to libc): the entry in this thread's storage, or null with the
/// `errno` the `_r` form left (0 when not found).
fn serv_static(
    r: impl FnOnce(*mut libc::servent, *mut c_char, usize, *mut *mut libc::servent) -> c_int,
) -> *mut libc::servent {
    STATIC
        .try_with(|s| {
            let mut result: *mut libc::servent = std::ptr::null_mut();
            let rc = r(
                s.serv.get(),
                s.serv_buf.get().cast(),
                NETDB_ENTRY_MAX,
                &mut result,
            );
            if rc != 0 {
                return std::ptr::null_mut();
            }
            result
        })
        .unwrap_or(std::ptr::null_mut())
}

/// [`serv_static`] for the protocols functions.
fn proto_static(
    r: impl FnOnce(*mut libc::protoent, *mut c_char, usize, *mut *mut libc::protoent) -> c_int,
) -> *mut libc::protoent {
    STATIC
        .try_with(|s| {
            let mut result: *mut libc::protoent = std::ptr::null_mut();
            let rc = r(
                s.proto.get(),
                s.proto_buf.get().cast(),
                NETDB_ENTRY_MAX,
                &mut result,
            );
            if rc != 0 {
                return std::ptr::null_mut();
            }
            result
        })
        .unwrap_or(std::ptr::null_mut())
}

real_fn!(
    real_getservbyname,
    c"getservbyname",
    fn(*const c_char, *const c_char) -> *mut libc::servent
);
real_fn!(
    real_getservbyport,
    c"getservbyport",
    fn(c_int, *const c_char) -> *mut libc::servent
);
real_fn!(
    real_getprotobyname,
    c"getprotobyname",
    fn(*const c_char) -> *mut libc::protoent
);
real_fn!(
    real_getprotobynumber,
    c"getprotobynumber",
    fn(c_int) -> *mut libc::protoent
);

/// Brokered `getservbyname`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn getservbyname(
    name: *const c_char,
    proto: *const c_char,
) -> *mut libc::servent {
    guarded!(std::ptr::null_mut(), {
        if unbrokered() {
            // SAFETY: libc's own function with the caller's arguments (its own storage).
            return real_getservbyname()
                .map_or(std::ptr::null_mut(), |f| unsafe { f(name, proto) });
        }
        serv_static(|ret, buf, len, result| {
            // SAFETY: the caller's strings; this thread's storage.
            unsafe { getservbyname_r(name, proto, ret, buf, len, result) }
        })
    })
}

/// Brokered `getservbyport`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn getservbyport(port: c_int, proto: *const c_char) -> *mut libc::servent {
    guarded!(std::ptr::null_mut(), {
        if unbrokered() {
            // SAFETY: libc's own function with the caller's arguments.
            return real_getservbyport()
                .map_or(std::ptr::null_mut(), |f| unsafe { f(port, proto) });
        }
        serv_static(|ret, buf, len, result| {
            // SAFETY: the caller's string; this thread's storage.
            unsafe { getservbyport_r(port, proto, ret, buf, len, result) }
        })
    })
}

/// Brokered `getprotobyname`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn getprotobyname(name: *const c_char) -> *mut libc::protoent {
    guarded!(std::ptr::null_mut(), {
        if unbrokered() {
            // SAFETY: libc's own function with the caller's argument.
            return real_getprotobyname().map_or(std::ptr::null_mut(), |f| unsafe { f(name) });
        }
        proto_static(|ret, buf, len, result| {
            // SAFETY: the caller's string; this thread's storage.
            unsafe { getprotobyname_r(name, ret, buf, len, result) }
        })
    })
}

/// Brokered `getprotobynumber`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn getprotobynumber(number: c_int) -> *mut libc::protoent {
    guarded!(std::ptr::null_mut(), {
        if unbrokered() {
            // SAFETY: libc's own function with the caller's argument.
            return real_getprotobynumber().map_or(std::ptr::null_mut(), |f| unsafe { f(number) });
        }
        proto_static(|ret, buf, len, result| {
            // SAFETY: this thread's storage.
            unsafe { getprotobynumber_r(number, ret, buf, len, result) }
        })
    })
}
