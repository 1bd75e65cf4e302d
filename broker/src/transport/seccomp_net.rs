//! The network calls of the seccomp transport besides `connect`/`bind`: `listen`, `sendto`
//! with a destination, `sendmsg` and `sendmmsg` (every one: seccomp cannot read
//! `msg_name`). The broker takes the program's socket with `pidfd_getfd`, copies the
//! `msghdr`, the destination, the bytes and the control messages out of the target once
//! (`process_vm_readv`, bounded), decides on that copy and performs the send itself on the
//! same open socket: a thread rewriting `msg_name` or `dup2`ing another socket onto the fd
//! meanwhile changes nothing the broker acts on. Never answered with
//! `SECCOMP_USER_NOTIF_FLAG_CONTINUE`.
//!
//! Control messages: `SCM_RIGHTS` fds are taken from the target with `pidfd_getfd` and sent
//! as the broker's copies; `SCM_CREDENTIALS` only when it names the caller itself; any other
//! control message is refused with `EACCES` (not classified). A root broker stamps the
//! caller's pid/uid/gid on unix sends (else the receiver would see the broker's).

use std::os::fd::OwnedFd;

use arbiter_protocol::{Call, SockAddr};

use super::{Addr, Answer, RequestCore, Target};
use crate::audit::event::SeccompRefused;
use crate::audit::Event;

/// Most bytes one brokered send copies: a stream send beyond it is short (as the kernel
/// may make it), a datagram beyond it is `EMSGSIZE`.
const MAX_SEND: usize = 4 << 20;
/// The kernel's `UIO_MAXIOV`: most iovecs in a msghdr, most messages in one sendmmsg.
const UIO_MAXIOV: usize = 1024;
/// Most control bytes read from a msghdr (the kernel's `optmem_max` default is 20480).
const MAX_CONTROL: usize = 20480;
/// `sizeof(struct mmsghdr)` on 64-bit Linux: a msghdr, the u32 `msg_len`, padding.
const MMSGHDR: u64 = 64;

/// Whether the call may block on its peer (counted against the sandbox's budget of slow
/// calls, `core::slow`). A send with `MSG_DONTWAIT` never
/// waits (the shim's own fd-passing sends use it).
pub(super) fn may_block(req: &libc::seccomp_notif) -> bool {
    use crate::confine::syscalls::{brokered, Kind};
    let a = req.data.args;
    let dontwait = |flags: u64| flags as i32 & libc::MSG_DONTWAIT != 0;
    match brokered(i64::from(req.data.nr), &a) {
        Some(Kind::Connect) => true,
        Some(Kind::Sendto | Kind::Sendmmsg | Kind::SendmmsgFastOpen) => !dontwait(a[3]),
        Some(Kind::Sendmsg | Kind::SendmsgFastOpen) => !dontwait(a[2]),
        _ => false,
    }
}

/// The socket families the broker acts on; anything else is refused (audited).
fn socket_of(t: &Target, core: &RequestCore, call: &'static str, fd: i32) -> Result<OwnedFd, i32> {
    let sock = t.target_fd(fd)?;
    let family = super::socket_family(&sock)?;
    if matches!(
        family,
        libc::AF_UNIX | libc::AF_INET | libc::AF_INET6 | libc::AF_NETLINK
    ) {
        return Ok(sock);
    }
    refused(t, core, call, family);
    Err(libc::EACCES)
}

/// Records a `seccomp_refused` event (a socket family or netlink request not served).
fn refused(t: &Target, core: &RequestCore, call: &'static str, family: i32) {
    if core.audit().enabled() {
        core.audit().record(Event::SeccompRefused(SeccompRefused {
            pid: t.tgid().unwrap_or(t.tid),
            call,
            family,
            errno: libc::EACCES,
            transport: "seccomp",
        }));
    }
}

/// `listen(fd, backlog)`.
pub(super) fn listen(t: &mut Target, core: &RequestCore, a: [u64; 6]) -> Result<Answer, i32> {
    let sock = socket_of(t, core, "listen", a[0] as i32)?;
    if super::socket_family(&sock)? == libc::AF_NETLINK {
        return Err(libc::EOPNOTSUPP);
    }
    t.fds.push(sock);
    Ok(t.simple(
        core,
        &Call::Listen {
            backlog: a[1] as i32,
        },
    ))
}

/// `sendto(fd, buf, len, flags, dest, addrlen)` (the filter traps it only with a
/// destination, but a NULL one is served the same way).
pub(super) fn sendto(t: &mut Target, core: &RequestCore, a: [u64; 6]) -> Result<Answer, i32> {
    let sock = socket_of(t, core, "send", a[0] as i32)?;
    let iov = [(a[1], a[2] as usize)];
    let msg = Msg {
        name: a[4],
        namelen: a[5] as u32 as usize,
        iov: &iov,
        control: Vec::new(),
    };
    let flags = a[3] as i32;
    send_one(t, core, sock, &msg, flags).map(|n| signal_pipe(t, n, flags))
}

/// `sendmsg(fd, msg, flags)`.
pub(super) fn sendmsg(t: &mut Target, core: &RequestCore, a: [u64; 6]) -> Result<Answer, i32> {
    let sock = socket_of(t, core, "send", a[0] as i32)?;
    let hdr: libc::msghdr = t.read_struct(a[1])?;
    let (iov, control) = read_msghdr(t, &hdr)?;
    let msg = Msg {
        name: hdr.msg_name as u64,
        namelen: hdr.msg_namelen as usize,
        iov: &iov,
        control,
    };
    let flags = a[2] as i32;
    send_one(t, core, sock, &msg, flags).map(|n| signal_pipe(t, n, flags))
}

/// `sendmmsg(fd, vec, vlen, flags)`: each message decided and sent in turn; the count of
/// those sent, or the first one's error.
pub(super) fn sendmmsg(t: &mut Target, core: &RequestCore, a: [u64; 6]) -> Result<Answer, i32> {
    let sock = socket_of(t, core, "send", a[0] as i32)?;
    let vlen = (a[2] as u32 as usize).min(UIO_MAXIOV);
    let flags = a[3] as i32;
    let mut sent = 0usize;
    for i in 0..vlen {
        let at = a[1].wrapping_add(i as u64 * MMSGHDR);
        let mut one = || {
            let hdr: libc::msghdr = t.read_struct(at)?;
            let (iov, control) = read_msghdr(t, &hdr)?;
            let msg = Msg {
                name: hdr.msg_name as u64,
                namelen: hdr.msg_namelen as usize,
                iov: &iov,
                control,
            };
            let copy = sock.try_clone().map_err(|_| libc::EMFILE)?;
            send_one(t, core, copy, &msg, flags)
        };
        match one() {
            Ok(Answer::Value(n)) => {
                // msg_len follows the msghdr in a struct mmsghdr.
                let len = std::mem::size_of::<libc::msghdr>() as u64;
                if t.write_mem(at + len, &(n as u32).to_ne_bytes()).is_err() {
                    break;
                }
                sent += 1;
            }
            Ok(Answer::Error(e)) | Err(e) if sent == 0 => {
                return Ok(signal_pipe(t, Answer::Error(e), flags))
            }
            Ok(Answer::Gone) => return Ok(Answer::Gone),
            _ => break,
        }
    }
    Ok(Answer::Value(sent as i64))
}

/// `EPIPE` raises `SIGPIPE` in the calling thread unless `MSG_NOSIGNAL`, as the kernel
/// would (the broker's own send never raises it).
fn signal_pipe(t: &Target, answer: Answer, flags: i32) -> Answer {
    if matches!(answer, Answer::Error(libc::EPIPE)) && flags & libc::MSG_NOSIGNAL == 0 {
        if let Ok(tgid) = t.tgid() {
            // SAFETY: tgkill with integer arguments; the thread waits in this call.
            unsafe { libc::syscall(libc::SYS_tgkill, tgid, t.tid, libc::SIGPIPE) };
        }
    }
    answer
}

/// One iovec of the target: address, length.
type Iov = (u64, usize);

/// A msghdr's parts, as read from the target.
struct Msg<'a> {
    name: u64,
    namelen: usize,
    iov: &'a [Iov],
    control: Vec<u8>,
}

/// The iovecs and control bytes of `hdr`, bounded as the kernel bounds them.
fn read_msghdr(t: &Target, hdr: &libc::msghdr) -> Result<(Vec<Iov>, Vec<u8>), i32> {
    let n = hdr.msg_iovlen;
    if n > UIO_MAXIOV {
        return Err(libc::EMSGSIZE);
    }
    let mut raw = vec![0u8; n * 16];
    if n > 0 && t.read_mem(hdr.msg_iov as u64, &mut raw)? != raw.len() {
        return Err(libc::EFAULT);
    }
    let iov = raw
        .chunks_exact(16)
        .map(|c| {
            let w = |i: usize| u64::from_ne_bytes(c[i..i + 8].try_into().unwrap_or([0; 8]));
            (w(0), w(8) as usize)
        })
        .collect();
    let clen = hdr.msg_controllen;
    if clen > MAX_CONTROL {
        return Err(libc::ENOBUFS);
    }
    let mut control = vec![0u8; clen];
    if clen > 0 && t.read_mem(hdr.msg_control as u64, &mut control)? != clen {
        return Err(libc::EFAULT);
    }
    Ok((iov, control))
}

/// Decides and sends one message on `sock`: the core's answer (audited there), or an
/// error found while reading the message.
fn send_one(
    t: &mut Target,
    core: &RequestCore,
    sock: OwnedFd,
    msg: &Msg<'_>,
    flags: i32,
) -> Result<Answer, i32> {
    let family = super::socket_family(&sock)?;
    let stream = crate::sockopt::int(std::os::fd::AsFd::as_fd(&sock), libc::SO_TYPE)
        .map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))?
        == libc::SOCK_STREAM;
    // The destination, read once.
    let mut raw = [0u8; std::mem::size_of::<libc::sockaddr_storage>()];
    let name_len = if msg.name == 0 || msg.namelen == 0 {
        0 // no destination, as the kernel reads a zero-length one
    } else {
        // The kernel's bounds for a destination: at least the family, at most a
        // sockaddr_storage (a shorter one is EINVAL for every family served here).
        if msg.namelen > raw.len() || msg.namelen < std::mem::size_of::<libc::sa_family_t>() {
            return Err(libc::EINVAL);
        }
        if msg.namelen > 0 && t.read_mem(msg.name, &mut raw[..msg.namelen])? != msg.namelen {
            return Err(libc::EFAULT);
        }
        msg.namelen
    };
    // The bytes, read once, up to MAX_SEND.
    let total = msg
        .iov
        .iter()
        .try_fold(0usize, |s, &(_, l)| s.checked_add(l))
        .filter(|&s| s <= isize::MAX as usize)
        .ok_or(libc::EINVAL)?;
    if total > MAX_SEND && !stream {
        return Err(libc::EMSGSIZE);
    }
    // A blocking send may wait on its peer for as long as the program likes: its copy of
    // the payload is kept only within the sandbox's byte budget. Beyond it a stream send
    // without a destination keeps none (re-read piece by piece as the socket has room);
    // any other send is ENOBUFS, as the kernel answers when it cannot allocate.
    let len = total.min(MAX_SEND);
    // SAFETY: F_GETFL on a socket we hold.
    let fl = unsafe { libc::fcntl(std::os::fd::AsRawFd::as_raw_fd(&sock), libc::F_GETFL) };
    if fl < 0 {
        return Err(super::errno());
    }
    let waits = fl & libc::O_NONBLOCK == 0 && flags & libc::MSG_DONTWAIT == 0;
    let kept = if waits {
        core.slow().bytes(len)
    } else {
        core.slow().bytes(0)
    };
    let reread = kept.is_none();
    if reread && !(stream && name_len == 0 && family != libc::AF_NETLINK) {
        return Err(libc::ENOBUFS);
    }
    let mut data = vec![0u8; if reread { 0 } else { len }];
    let mut off = 0;
    for &(base, len) in msg.iov {
        if off == data.len() {
            break;
        }
        let take = len.min(data.len() - off);
        if take > 0 && t.read_mem(base, &mut data[off..off + take])? != take {
            return Err(libc::EFAULT);
        }
        off += take;
    }
    // Control messages: SCM_RIGHTS translated, SCM_CREDENTIALS checked, nothing else.
    let cmsgs = cmsgs(&msg.control)?;
    let passed: usize = cmsgs
        .iter()
        .filter(|&&(level, ty, _)| (level, ty) == (libc::SOL_SOCKET, libc::SCM_RIGHTS))
        .map(|(_, _, body)| body.len() / 4)
        .sum();
    if passed > 253 {
        return Err(libc::EINVAL); // the kernel's SCM_MAX_FD
    }
    // The descriptors taken from the program are held until the send ends, which a
    // blocking send's peer decides: counted against the sandbox's budget (ETOOMANYREFS
    // beyond it, as the kernel answers too many descriptors in flight).
    let _held = core.slow().hold(passed).map_err(|e| e.0)?;
    let mut rights = Vec::new();
    let mut creds = None;
    for (level, ty, body) in cmsgs {
        match (level, ty) {
            (libc::SOL_SOCKET, libc::SCM_RIGHTS) => {
                for c in body.chunks_exact(4) {
                    let fd = i32::from_ne_bytes([c[0], c[1], c[2], c[3]]);
                    rights.push(t.target_fd(fd)?);
                }
            }
            (libc::SOL_SOCKET, libc::SCM_CREDENTIALS) if body.len() >= 12 => {
                let w =
                    |i: usize| u32::from_ne_bytes([body[i], body[i + 1], body[i + 2], body[i + 3]]);
                let st = t.status()?;
                // The caller names itself by its pid as it knows it (in the sandbox's pid
                // namespace, as root); the broker sends its pid in its own namespace.
                let own = w(0) as i32 == st.tgid || w(0) as i32 == st.ns_tgid;
                if !own || w(4) != st.uid || w(8) != st.gid {
                    return Err(libc::EPERM);
                }
                creds = Some((st.tgid, st.uid, st.gid));
            }
            _ => return Err(libc::EACCES),
        }
    }
    // A root broker's own credentials must not be what a unix peer sees.
    // SAFETY: geteuid has no preconditions.
    if creds.is_none() && family == libc::AF_UNIX && unsafe { libc::geteuid() } == 0 {
        let st = t.status()?;
        creds = Some((st.tgid, st.uid, st.gid));
    }
    t.fds.push(sock);
    let addr = if name_len == 0 {
        None
    } else if family == libc::AF_NETLINK {
        netlink_kernel(&raw[..name_len])?;
        None
    } else {
        Some(t.sockaddr(family, &raw[..name_len])?)
    };
    let addr = addr.as_ref().map(|sa| match sa {
        Addr::Unix(at, path) => SockAddr::Unix(super::pa(*at, path)),
        Addr::Abstract(name) => SockAddr::Abstract(name),
        Addr::Other(a) => *a,
    });
    let nrights = rights.len() as u8;
    t.fds.extend(rights);
    let call = Call::Send {
        addr,
        data: &data,
        flags,
        rights: nrights,
        creds,
    };
    let waiter = crate::core::net::StillWaiting {
        check: still_waiting,
        fd: t.listener,
        id: t.id,
        tid: t.tid,
    };
    let answer = if addr.is_none() {
        // No destination, no decision: performed without a call record (one per datagram
        // on a connected socket would drown the log).
        if t.valid() && reread {
            let read = |at: usize, buf: &mut [u8]| read_iov(t, msg.iov, at, buf);
            match crate::core::net::with_waiter(waiter, || {
                crate::core::net::send_rereading(
                    &t.fds,
                    usize::from(nrights),
                    creds,
                    len,
                    flags,
                    read,
                )
            }) {
                Ok(n) => Answer::Value(n as i64),
                Err(e) => Answer::Error(e.0),
            }
        } else if t.valid() {
            let send = crate::core::net::Send {
                addr: None,
                data: &data,
                flags,
                rights: usize::from(nrights),
                creds,
            };
            let mut notes = crate::core::Notes::default();
            match crate::core::net::with_waiter(waiter, || {
                crate::core::net::send(core, &send, &t.fds, &mut notes)
            }) {
                Ok(done) => Answer::Value(done.value),
                Err(e) => {
                    if family == libc::AF_NETLINK && e.0 == libc::EACCES {
                        refused(t, core, "send", family); // a netlink request that writes
                    }
                    Answer::Error(e.0)
                }
            }
        } else {
            Answer::Gone
        }
    } else {
        crate::core::net::with_waiter(waiter, || t.simple(core, &call))
    };
    t.fds.clear();
    Ok(answer)
}

/// Reads `buf.len()` bytes of the payload the iovecs `iov` describe, from byte `at` on.
fn read_iov(
    t: &Target,
    iov: &[Iov],
    at: usize,
    buf: &mut [u8],
) -> Result<(), crate::core::errno::Errno> {
    let fault = crate::core::errno::Errno(libc::EFAULT);
    let (mut skip, mut off) = (at, 0);
    for &(base, len) in iov {
        if off == buf.len() {
            break;
        }
        if skip >= len {
            skip -= len;
            continue;
        }
        let take = (len - skip).min(buf.len() - off);
        let from = base.checked_add(skip as u64).ok_or(fault)?;
        if t.read_mem(from, &mut buf[off..off + take]) != Ok(take) {
            return Err(fault);
        }
        skip = 0;
        off += take;
    }
    if off == buf.len() {
        Ok(())
    } else {
        Err(fault)
    }
}

/// `bind` of a netlink socket: only a `NETLINK_ROUTE` socket, to the kernel-chosen port id
/// (`nl_pid` 0) with no multicast groups, as glibc's `getifaddrs`/`if_nameindex` do before
/// they send their dump requests; every other netlink bind is `EACCES`.
pub(super) fn netlink_bind(t: &Target, sock: &OwnedFd, raw: &[u8]) -> Result<Answer, i32> {
    let proto = crate::sockopt::int(std::os::fd::AsFd::as_fd(sock), libc::SO_PROTOCOL)
        .map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))?;
    if proto != libc::NETLINK_ROUTE {
        return Err(libc::EACCES);
    }
    netlink_kernel(raw)?; // the same shape: nl_pid 0, nl_groups 0
    if !t.valid() {
        return Ok(Answer::Gone);
    }
    // SAFETY: raw holds a sockaddr_nl of raw.len() bytes; the socket is ours.
    let rc = unsafe {
        libc::bind(
            std::os::fd::AsRawFd::as_raw_fd(sock),
            raw.as_ptr().cast(),
            raw.len() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(super::errno());
    }
    Ok(Answer::Value(0))
}

/// Whether the caller, thread `tid`, still waits for notification `id`: the notification
/// is valid (`SECCOMP_IOCTL_NOTIF_ID_VALID`) and no signal that would interrupt a native
/// wait is pending for it ([`super::signals`]).
pub(super) fn still_waiting(listener: libc::c_int, id: u64, tid: i32) -> bool {
    // SAFETY: id is a valid u64 for the call's duration.
    let valid = unsafe { libc::ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_ID_VALID as _, &id) == 0 };
    valid && !super::signals::interrupting(tid)
}

/// A netlink destination must be the kernel (`nl_pid` 0, no multicast groups).
fn netlink_kernel(raw: &[u8]) -> Result<(), i32> {
    if raw.len() < 12 || i32::from(u16::from_ne_bytes([raw[0], raw[1]])) != libc::AF_NETLINK {
        return Err(libc::EINVAL);
    }
    let pid = u32::from_ne_bytes([raw[4], raw[5], raw[6], raw[7]]);
    let groups = u32::from_ne_bytes([raw[8], raw[9], raw[10], raw[11]]);
    if pid != 0 || groups != 0 {
        return Err(libc::EACCES);
    }
    Ok(())
}

/// One control message: level, type, data.
type Cmsg<'a> = (i32, i32, &'a [u8]);

/// The control messages of a msghdr's control buffer.
fn cmsgs(control: &[u8]) -> Result<Vec<Cmsg<'_>>, i32> {
    const HDR: usize = 16; // cmsg_len (usize), cmsg_level, cmsg_type
    let mut out = Vec::new();
    let mut at = 0;
    while control.len().saturating_sub(at) >= HDR {
        let len =
            u64::from_ne_bytes(control[at..at + 8].try_into().map_err(|_| libc::EINVAL)?) as usize;
        let level = i32::from_ne_bytes(
            control[at + 8..at + 12]
                .try_into()
                .map_err(|_| libc::EINVAL)?,
        );
        let ty = i32::from_ne_bytes(
            control[at + 12..at + 16]
                .try_into()
                .map_err(|_| libc::EINVAL)?,
        );
        if len < HDR || len > control.len() - at {
            return Err(libc::EINVAL);
        }
        out.push((level, ty, &control[at + HDR..at + len]));
        at += (len + 7) & !7;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_messages_are_split_and_bounded() {
        let mut c = vec![0u8; 24];
        c[..8].copy_from_slice(&20u64.to_ne_bytes());
        c[8..12].copy_from_slice(&libc::SOL_SOCKET.to_ne_bytes());
        c[12..16].copy_from_slice(&libc::SCM_RIGHTS.to_ne_bytes());
        c[16..20].copy_from_slice(&7i32.to_ne_bytes());
        let got = cmsgs(&c).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].2, &7i32.to_ne_bytes());
        c[..8].copy_from_slice(&200u64.to_ne_bytes());
        assert_eq!(cmsgs(&c), Err(libc::EINVAL));
    }

    #[test]
    fn only_the_kernel_is_a_netlink_destination() {
        let mut nl = [0u8; 12];
        nl[..2].copy_from_slice(&(libc::AF_NETLINK as u16).to_ne_bytes());
        assert_eq!(netlink_kernel(&nl), Ok(()));
        nl[4] = 1;
        assert_eq!(netlink_kernel(&nl), Err(libc::EACCES));
    }
}
