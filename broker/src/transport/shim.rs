//! The shim transport: the bootstrap socket and the per-thread call channels.
//!
//! Each sandbox has one bootstrap socket. The shim registers a new call channel on it for
//! each thread of each process (see `arbiter_protocol`); the broker serves every channel on
//! its own OS thread (under `arbiter run` a pooled one, `super::channel_pool`), so a slow
//! call (a FIFO with no writer) blocks only the thread that made it. After a reply the
//! channel thread polls briefly before sleeping: on these VMs the wake-up of a sleeping
//! thread costs more than the call itself.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use arbiter_protocol::fdpass::{recv_with_fds, send_with_fds, Credentials, RecvError};
use arbiter_protocol::{
    decode, encode, Call, Payload, Register, Reply, Request, SeccompListener, Welcome, MAX_FDS,
    MAX_MESSAGE, PROTOCOL_VERSION,
};

use crate::audit::event::ProtocolError;
use crate::audit::{process, Event};
use crate::core::{Caller, OutPayload, RequestCore, Transport};

/// How long a channel thread keeps polling after a reply before it sleeps.
const SPIN: Duration = Duration::from_micros(50);

/// Most call channels one sandbox may hold open at once (bounds broker memory).
pub const MAX_CHANNELS: usize = 4096;

/// Stack size of a channel thread: enough for the core, small enough for thousands.
const CHANNEL_STACK: usize = 256 * 1024;

/// Enables `SO_PASSCRED` so every received message carries the sender's credentials.
pub fn pass_credentials(fd: RawFd) -> std::io::Result<()> {
    let one: libc::c_int = 1;
    // SAFETY: &one is a valid c_int for the call's duration.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_PASSCRED,
            (&one as *const libc::c_int).cast(),
            4,
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // And a pidfd of the sender (Linux 6.5+; without it, see `Sender`).
    // SAFETY: as above.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            SO_PASSPIDFD,
            (&one as *const libc::c_int).cast(),
            4,
        )
    };
    Ok(())
}

/// `SO_PASSPIDFD` (Linux 6.5): every received message carries a pidfd of its sender.
const SO_PASSPIDFD: libc::c_int = 76;

/// `SO_PEERPIDFD` (Linux 6.5): a pidfd of the process whose credentials `SO_PEERCRED`
/// reports.
const SO_PEERPIDFD: libc::c_int = 77;

/// The process a message's pid names, held as a pidfd: a pid number is reused once its
/// process is gone, so a request still queued when its sender exited could otherwise be
/// decided with another process's `/proc/<pid>` as the caller's own. The call is served
/// only if the sender has not exited ([`Sender::exited`]), and its result handed out only if
/// it still has not after the call: a process alive before and after the call was alive
/// throughout, so its pid was its own all along.
enum Sender {
    /// No pidfd came (a kernel before 6.5): the pid is trusted as before.
    Unknown,
    /// The kernel could not make a pidfd: the sender was gone already.
    Gone,
    /// The sender's pidfd.
    Pid(OwnedFd),
}

impl Sender {
    /// The sender of a message received with `pidfd` (`SCM_PIDFD`), taking ownership.
    fn of(pidfd: Option<RawFd>) -> Sender {
        match pidfd {
            None => Sender::Unknown,
            Some(fd) if fd < 0 => Sender::Gone,
            // SAFETY: recvmsg just installed this fd for us; nobody else owns it.
            Some(fd) => Sender::Pid(unsafe { OwnedFd::from_raw_fd(fd) }),
        }
    }

    /// The process `SO_PEERCRED` of `channel` names (its creator), when the kernel says.
    fn peer(channel: &OwnedFd) -> Sender {
        let mut fd: libc::c_int = -1;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: fd and len are valid out-pointers of the sizes given.
        let rc = unsafe {
            libc::getsockopt(
                channel.as_raw_fd(),
                libc::SOL_SOCKET,
                SO_PEERPIDFD,
                (&mut fd as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        match (rc, fd) {
            // SAFETY: the kernel just installed fd for us.
            (0, fd) if fd >= 0 => Sender::Pid(unsafe { OwnedFd::from_raw_fd(fd) }),
            (_, _)
                if rc < 0
                    && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH) =>
            {
                Sender::Gone
            }
            _ => Sender::Unknown,
        }
    }

    /// The pidfd, if there is one (not for a sender known to be gone).
    fn pidfd(&self) -> Option<RawFd> {
        match self {
            Sender::Pid(fd) => Some(fd.as_raw_fd()),
            _ => None,
        }
    }

    fn try_clone(&self) -> Sender {
        match self {
            Sender::Unknown => Sender::Unknown,
            Sender::Gone => Sender::Gone,
            Sender::Pid(f) => f.try_clone().map_or(Sender::Gone, Sender::Pid),
        }
    }

    /// Whether the process has exited (its pidfd is readable, or none could be made for
    /// it). `false` without a pidfd (a kernel before 6.5): then the pid is trusted as before
    /// (docs/security.md).
    fn exited(&self) -> bool {
        let fd = match self {
            Sender::Unknown => return false,
            Sender::Gone => return true,
            Sender::Pid(fd) => fd,
        };
        let mut p = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: p is one valid pollfd; a zero timeout only looks.
        let rc = unsafe { libc::poll(&mut p, 1, 0) };
        rc != 0 && (rc < 0 || p.revents != 0)
    }
}

/// A channel's side of an open that may wait for a FIFO's peer: the caller no longer waits
/// once its end of the channel is closed (it was killed; the kernel closed its fds) or its
/// process has exited. Both fds belong to the channel thread, which outlives the call.
struct ChannelWaiter {
    core: Arc<RequestCore>,
    channel: RawFd,
    /// The sender's pidfd, when the kernel gave one.
    pidfd: Option<RawFd>,
}

impl crate::core::waiting::Waiter for ChannelWaiter {
    fn still_waiting(&self) -> bool {
        let mut p = [
            libc::pollfd {
                fd: self.channel,
                events: libc::POLLRDHUP,
                revents: 0,
            },
            libc::pollfd {
                fd: self.pidfd.unwrap_or(-1), // a negative fd is ignored by poll
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: p is two valid pollfds; a zero timeout only looks.
        let rc = unsafe { libc::poll(p.as_mut_ptr(), 2, 0) };
        rc == 0
    }

    fn budget(&self) -> &crate::core::slow::Budget {
        self.core.slow()
    }

    // A channel has a thread of its own: nothing else waits behind this one.
    fn blocking(&self) {}

    fn unblocked(&self) {}
}

fn take_fds(raw: &[RawFd]) -> Vec<OwnedFd> {
    // SAFETY: these fds were just received by recvmsg and are owned by no one else.
    raw.iter()
        .map(|&fd| unsafe { OwnedFd::from_raw_fd(fd) })
        .collect()
}

fn caller(creds: Option<Credentials>) -> Caller {
    let c = creds.unwrap_or(Credentials {
        pid: 0,
        uid: u32::MAX,
        gid: u32::MAX,
    });
    Caller {
        pid: c.pid,
        // SCM_CREDENTIALS carries the process id only; a thread id the shim claimed would
        // be unverified, so none is recorded.
        tid: None,
        exe: None,
        uid: c.uid,
        gid: c.gid,
        transport: Transport::Shim,
    }
}

/// Run at the start of every call-channel thread, before the channel is welcomed; an error
/// refuses the channel (fail closed). `arbiter serve` uses it to take on the client's
/// identity, which Linux keeps per thread.
pub type ChannelSetup = Arc<dyn Fn() -> std::io::Result<()> + Send + Sync>;

/// Admits a new call channel or refuses it with a reason (audited by the caller); what it
/// returns is held for the channel's life and dropped when the channel ends. `arbiter
/// serve` counts channels per uid and in total with it.
pub type ChannelAdmit = Arc<dyn Fn() -> Result<Box<dyn Send>, String> + Send + Sync>;

/// Serves a sandbox's bootstrap socket until every process holding it has exited.
/// Returns when the bootstrap socket reaches end of stream.
/// With `seccomp`, the first [`SeccompListener`] is served by
/// [`super::seccomp::serve`] with that floor.
pub fn serve_bootstrap(
    bootstrap: OwnedFd,
    core: Arc<RequestCore>,
    seccomp: Option<super::seccomp::Floor>,
) -> std::io::Result<JoinHandle<()>> {
    serve_bootstrap_with(bootstrap, core, seccomp, None, None)
}

/// [`serve_bootstrap`], running `setup` first in each call-channel thread and in each
/// thread of the seccomp transport, and asking `admit` before each new channel.
pub fn serve_bootstrap_with(
    bootstrap: OwnedFd,
    core: Arc<RequestCore>,
    seccomp: Option<super::seccomp::Floor>,
    setup: Option<ChannelSetup>,
    admit: Option<ChannelAdmit>,
) -> std::io::Result<JoinHandle<()>> {
    pass_credentials(bootstrap.as_raw_fd())?;
    let seccomp_enabled = seccomp.is_some();
    let seccomp_floor = seccomp.unwrap_or_default();
    // Kept on long lines as it was written (rustfmt left this closure alone).
    #[rustfmt::skip]
    let thread = std::thread::Builder::new().name("bootstrap".into()).spawn(move || {
        let mut listener_taken = false;
        let live = Arc::new(AtomicUsize::new(0));
        let pool = super::channel_pool::Pool::new("channel", CHANNEL_STACK);
        // Its waiting threads end with the bootstrap socket, however this thread returns.
        let _close = CloseOnDrop(Arc::clone(&pool));
        let mut buf = vec![0u8; MAX_MESSAGE];
        let mut raw = [-1; MAX_FDS];
        loop {
            let got = match recv_with_fds(bootstrap.as_raw_fd(), &mut buf, &mut raw, 0) {
                Ok(r) => r,
                Err(e) => {
                    core.audit().record(Event::ProtocolError(ProtocolError { channel: "bootstrap", pid: None, error: format!("{e:?}"), call: None }));
                    if let RecvError::Os(_) = e {
                        return;
                    }
                    continue;
                }
            };
            let fds = take_fds(&raw[..got.nfds]);
            let registrant = Sender::of(got.pidfd);
            if got.len == 0 {
                return; // every sandboxed process has closed the bootstrap socket
            }
            let (who, registrant) = relayed(caller(got.credentials), fds.first(), registrant);
            let msg = &buf[..got.len];
            let listener = decode::<SeccompListener>(msg).ok().filter(|l| l.tag == arbiter_protocol::SECCOMP_LISTENER_TAG);
            let channel = match (decode::<Register>(msg), listener, <[OwnedFd; 1]>::try_from(fds)) {
                (Ok(reg), _, Ok([fd])) if crate::sockopt::int(fd.as_fd(), libc::SO_TYPE).ok() == Some(libc::SOCK_SEQPACKET) => {
                    if reg.version != PROTOCOL_VERSION {
                        refuse(&fd, &core, who, "protocol version mismatch");
                        continue;
                    }
                    fd
                }
                (Err(_), Some(l), Err(_)) if l.version == PROTOCOL_VERSION => {
                    // Only the first listener is served: it comes from arbiter's own child
                    // before exec; a later one would be the program's own filter.
                    if listener_taken || !seccomp_enabled {
                        core.audit().record(Event::ProtocolError(ProtocolError { channel: "bootstrap", pid: Some(who.pid), error: "unexpected seccomp listener".into(), call: None }));
                        continue;
                    }
                    listener_taken = true;
                    // The child waits for this byte before it closes its listener.
                    let taken = super::listener::take(who.pid, l.fd);
                    let _ = send_with_fds(bootstrap.as_raw_fd(), &[1], &[]);
                    let fd = match taken {
                        Ok(fd) => fd,
                        Err(e) => {
                            core.audit().record(Event::ProtocolError(ProtocolError { channel: "bootstrap", pid: Some(who.pid), error: format!("cannot take the seccomp listener: {e}"), call: None }));
                            continue;
                        }
                    };
                    if let Err(e) = super::seccomp::serve(fd, Arc::clone(&core), seccomp_floor.clone(), setup.clone()) {
                        core.audit().record(Event::ProtocolError(ProtocolError { channel: "bootstrap", pid: Some(who.pid), error: format!("cannot serve the seccomp listener: {e}"), call: None }));
                    }
                    continue;
                }
                _ => {
                    // A malformed registration costs the sender only that registration.
                    core.audit().record(Event::ProtocolError(ProtocolError { channel: "bootstrap", pid: Some(who.pid), error: "malformed registration".into(), call: None }));
                    continue;
                }
            };
            if live.load(Ordering::Relaxed) >= MAX_CHANNELS {
                refuse(&channel, &core, who, "too many channels");
                continue;
            }
            let admitted = match admit.as_ref().map(|f| f()) {
                Some(Err(why)) => {
                    refuse(&channel, &core, who, &why);
                    continue;
                }
                other => other,
            };
            let core = Arc::clone(&core);
            let live2 = Arc::clone(&live);
            live.fetch_add(1, Ordering::Relaxed);
            let setup = setup.clone();
            let pooled = setup.is_none();
            let job: super::channel_pool::Job = Box::new(move || {
                match setup.map(|f| f()) {
                    Some(Err(e)) => refuse(&channel, &core, who, &format!("channel setup failed: {e}")),
                    _ => {
                        // `arbiter serve`: the sandbox's end shuts this channel down.
                        crate::serve::threads::attach_channel(channel.as_fd());
                        serve_channel(channel, &core, who.pid, registrant)
                    }
                }
                drop(admitted);
                live2.fetch_sub(1, Ordering::Relaxed);
            });
            // `arbiter run`'s channels go to a thread that waits for one (issue 18);
            // `arbiter serve`'s each get a new thread, which takes on the client's identity.
            let spawned = if pooled {
                pool.run(job)
            } else {
                std::thread::Builder::new().name("channel".into()).stack_size(CHANNEL_STACK).spawn(job).map(drop)
            };
            if spawned.is_err() {
                live.fetch_sub(1, Ordering::Relaxed);
            }
        }
    });
    thread
}

/// Closes a [`super::channel_pool::Pool`] when dropped.
struct CloseOnDrop(Arc<super::channel_pool::Pool>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.close();
    }
}

fn refuse(fd: &OwnedFd, core: &RequestCore, who: Caller, why: &str) {
    let mut out = [0u8; 64];
    if let Ok(bytes) = encode(
        &Welcome {
            version: PROTOCOL_VERSION,
            accepted: false,
        },
        &mut out,
    ) {
        let _ = send_with_fds(fd.as_raw_fd(), bytes, &[]);
    }
    core.audit().record(Event::ProtocolError(ProtocolError {
        channel: "register",
        pid: Some(who.pid),
        error: why.to_string(),
        call: None,
    }));
}

/// Channel threads polling right now.
static SPINNING: AtomicUsize = AtomicUsize::new(0);

/// How many channel threads may poll at once: one per two CPUs, since a polling channel
/// thread and the program thread it serves each keep a CPU busy; more pollers than that
/// would take the CPUs the programs' threads need.
fn spinners_allowed() -> usize {
    static ALLOWED: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *ALLOWED.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get() / 2)
            .max(1)
    })
}

/// Receives one packet, polling for [`SPIN`] before blocking when fewer than
/// [`spinners_allowed`] channel threads already poll.
fn recv_spinning(
    fd: RawFd,
    buf: &mut [u8],
    raw: &mut [RawFd; MAX_FDS],
) -> Result<arbiter_protocol::fdpass::Received, RecvError> {
    if SPINNING.fetch_add(1, Ordering::Relaxed) >= spinners_allowed() {
        SPINNING.fetch_sub(1, Ordering::Relaxed);
        return recv_with_fds(fd, buf, raw, 0);
    }
    let until = Instant::now() + SPIN;
    let polled = loop {
        match recv_with_fds(fd, buf, raw, libc::MSG_DONTWAIT) {
            Err(RecvError::Os(libc::EAGAIN)) if Instant::now() < until => std::hint::spin_loop(),
            other => break other,
        }
    };
    SPINNING.fetch_sub(1, Ordering::Relaxed);
    match polled {
        Err(RecvError::Os(libc::EAGAIN)) => recv_with_fds(fd, buf, raw, 0),
        // A non-blocking read can report 0 while a last packet is still queued: read
        // again, blocking, before believing end of stream.
        Ok(r) if r.len == 0 => recv_with_fds(fd, buf, raw, 0),
        other => other,
    }
}

/// The process facts of a channel's caller, read once per channel for audit records.
///
fn own_pid() -> i32 {
    std::process::id() as i32
}

/// A message the broker's seccomp transport sent on the program's behalf (`sendmsg` with
/// fds is trapped and performed by the broker) carries the broker's credentials unless the
/// broker could stamp the program's (root can): a registration then names its process by
/// the channel's own peer credentials (the process that created the socket pair).
/// Returns the caller with the process that registered, as a [`Sender`].
fn relayed(mut who: Caller, channel: Option<&OwnedFd>, sender: Sender) -> (Caller, Sender) {
    if who.pid != own_pid() {
        return (who, sender);
    }
    let Some(channel) = channel else {
        return (who, sender);
    };
    // SAFETY: ucred is plain old data; zero is valid.
    let mut cred: libc::ucred = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: cred and len are valid out-pointers of the sizes given.
    let rc = unsafe {
        libc::getsockopt(
            channel.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if rc == 0 && cred.pid > 0 {
        who.pid = cred.pid;
        who.uid = cred.uid;
        who.gid = cred.gid;
        return (who, Sender::peer(channel));
    }
    (who, sender)
}

/// A channel belongs to one thread of one process and is close-on-exec, so its process's
/// executable cannot change under it; it is read again only if a message arrives from
/// another pid (a child that forked while holding the channel, before it registers its own).
struct ChannelProcess {
    pid: i32,
    exe: Option<Arc<Path>>,
}

impl ChannelProcess {
    fn new(core: &RequestCore, pid: i32) -> ChannelProcess {
        if !core.audit().enabled() {
            return ChannelProcess { pid, exe: None };
        }
        let exe = process::exe(pid);
        core.audit().process(pid, exe.as_deref(), "shim");
        ChannelProcess { pid, exe }
    }

    fn exe(&mut self, core: &RequestCore, pid: i32) -> Option<Arc<Path>> {
        if pid != self.pid && core.audit().enabled() {
            *self = ChannelProcess::new(core, pid);
        }
        self.exe.clone()
    }
}

/// Serves one call channel until the shim closes it or breaks the protocol. `pid` is the
/// process that registered it.
fn serve_channel(channel: OwnedFd, core: &Arc<RequestCore>, pid: i32, registrant: Sender) {
    let fd = channel.as_raw_fd();
    if pass_credentials(fd).is_err() {
        return;
    }
    // Before the welcome: the registering thread is waiting for it, so its process has
    // not exec'd another program yet.
    let mut process = ChannelProcess::new(core, pid);
    let mut out = vec![0u8; MAX_MESSAGE];
    let welcome = Welcome {
        version: PROTOCOL_VERSION,
        accepted: true,
    };
    match encode(&welcome, &mut out) {
        Ok(bytes) if send_with_fds(fd, bytes, &[]).is_ok() => {}
        _ => return,
    }
    let mut buf = vec![0u8; MAX_MESSAGE];
    let mut raw = [-1; MAX_FDS];
    loop {
        let got = recv_spinning(fd, &mut buf, &mut raw);
        // In progress from here until the answer is sent: the sandbox's `exit` record waits
        // for it and for whatever this thread records on the way (core::finish_reports).
        let _serving = core.serving();
        let got = match got {
            Ok(r) => r,
            Err(e) => {
                core.audit().record(Event::ProtocolError(ProtocolError {
                    channel: "call",
                    pid: None,
                    error: format!("{e:?}"),
                    call: None,
                }));
                return;
            }
        };
        let fds = take_fds(&raw[..got.nfds]);
        let mut sender = Sender::of(got.pidfd);
        if got.len == 0 {
            return;
        }
        let mut who = caller(got.credentials);
        if who.pid == own_pid() {
            // Sent by the broker's seccomp transport on the program's behalf (a message with
            // fds: sendmsg is trapped): the channel is the registering process's own.
            who.pid = process.pid;
            sender = registrant.try_clone();
        }
        who.exe = process.exe(core, who.pid);
        let req = match decode::<Request>(&buf[..got.len]) {
            // A send is built only by the seccomp transport, which copied it out of the
            // program's memory and checked its credentials; from a channel it is refused.
            Ok(r) if matches!(r.call, Call::Send { .. }) => {
                core.audit().record(Event::ProtocolError(ProtocolError {
                    channel: "call",
                    pid: Some(who.pid),
                    error: "send is not a shim call".into(),
                    call: None,
                }));
                return;
            }
            Ok(r) if r.call.expected_fds() == fds.len() => r,
            Ok(r) => {
                core.audit().record(Event::ProtocolError(ProtocolError {
                    channel: "call",
                    pid: Some(who.pid),
                    error: "wrong fd count".into(),
                    call: Some(r.call.name()),
                }));
                return;
            }
            Err(e) => {
                core.audit().record(Event::ProtocolError(ProtocolError {
                    channel: "call",
                    pid: Some(who.pid),
                    error: e.to_string(),
                    call: None,
                }));
                return;
            }
        };
        // A sender gone before the call is not served (its pid may name another process
        // by now); one gone after it gets nothing the call produced. Whoever else reads this
        // channel (a process sharing it) gets ESRCH.
        let outcome = if sender.exited() {
            crate::core::Outcome::gone()
        } else {
            let served = if matches!(req.call, Call::Open { .. }) {
                // An open may wait for a FIFO's peer: only while the caller waits, and
                // counted against the sandbox's budget of slow calls (core::waiting).
                let waiter = Box::new(ChannelWaiter {
                    core: Arc::clone(core),
                    channel: fd,
                    pidfd: sender.pidfd(),
                });
                crate::core::waiting::serving(waiter, || core.serve(&who, req.call, &fds))
            } else {
                core.serve(&who, req.call, &fds)
            };
            match served {
                _ if sender.exited() => crate::core::Outcome::gone(),
                o => o,
            }
        };
        let payload = match &outcome.payload {
            OutPayload::None => Payload::None,
            OutPayload::Stat(st) => Payload::Stat(*st),
            OutPayload::Bytes(b) => Payload::Bytes(b),
            OutPayload::AddrInfo {
                canonname, entries, ..
            } => Payload::AddrInfo {
                canonname: canonname.as_deref(),
                entries,
            },
            OutPayload::NetDbEntry {
                name,
                aliases,
                number,
                proto,
            } => Payload::NetDbEntry(arbiter_protocol::NetDbEntry {
                name,
                aliases,
                number: *number,
                proto,
            }),
        };
        let errno = match &outcome.payload {
            OutPayload::AddrInfo { errno, .. } => *errno,
            _ => outcome.errno,
        };
        let reply = Reply {
            id: req.id,
            result: outcome.result,
            errno,
            payload,
        };
        let Ok(bytes) = encode(&reply, &mut out) else {
            return;
        };
        let fd_out: Vec<RawFd> = outcome
            .fd
            .as_ref()
            .map(|f| f.as_raw_fd())
            .into_iter()
            .collect();
        if send_with_fds(fd, bytes, &fd_out).is_err() {
            return; // the caller died mid-call; its fds are dropped with `outcome`
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message queued by a process that has exited since is seen as its sender's: the
    /// pidfd the kernel attached (`SCM_PIDFD`) tells the broker the sender is gone, so its
    /// pid (perhaps another process's by then) is not trusted; a live sender's is.
    #[test]
    fn a_queued_message_of_an_exited_sender_is_known_as_such() {
        let mut pair = [-1; 2];
        // SAFETY: pair is a valid out array.
        let rc =
            unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_SEQPACKET, 0, pair.as_mut_ptr()) };
        assert_eq!(rc, 0);
        // SAFETY: the fds were just created and are owned here.
        let (ours, theirs) =
            unsafe { (OwnedFd::from_raw_fd(pair[0]), OwnedFd::from_raw_fd(pair[1])) };
        pass_credentials(ours.as_raw_fd()).unwrap();
        // A live sender: this process.
        send_with_fds(theirs.as_raw_fd(), b"alive", &[]).unwrap();
        let mut buf = [0u8; 64];
        let mut raw = [-1; MAX_FDS];
        let got = recv_with_fds(ours.as_raw_fd(), &mut buf, &mut raw, 0).unwrap();
        let Some(pidfd) = got.pidfd else {
            eprintln!("SKIP: the kernel attaches no SCM_PIDFD (before Linux 6.5)");
            return;
        };
        assert!(!Sender::of(Some(pidfd)).exited());
        // A sender that exits after sending, before the message is read.
        // SAFETY: the child only sends and exits with raw system calls.
        let child = unsafe { libc::fork() };
        if child == 0 {
            let _ = send_with_fds(theirs.as_raw_fd(), b"gone", &[]);
            // SAFETY: leaving the forked child at once.
            unsafe { libc::_exit(0) };
        }
        let mut status = 0;
        // SAFETY: waiting for the child just forked.
        assert_eq!(unsafe { libc::waitpid(child, &mut status, 0) }, child);
        let got = recv_with_fds(ours.as_raw_fd(), &mut buf, &mut raw, 0).unwrap();
        assert_eq!(&buf[..got.len], b"gone");
        assert_eq!(got.credentials.map(|c| c.pid), Some(child));
        assert!(Sender::of(got.pidfd).exited());
        // Without a pidfd (an older kernel) nothing is known: trusted as before.
        assert!(!Sender::of(None).exited());
    }
}
