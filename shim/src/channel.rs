//! Call channels: one private SEQPACKET channel per thread of each process.
//!
//! A thread's first brokered call makes a socketpair, keeps one end (moved to a high fd,
//! close-on-exec) and sends the other to the broker over the inherited bootstrap socket,
//! which is only ever written to, so threads and processes sharing it never read each
//! other's replies. Calls on the private channel are strictly send-then-receive and each
//! reply's id is checked.
//!
//! * After `fork` the child notices a new generation (see [`crate::state::generation`]),
//!   closes the parent's channels it inherited and registers its own.
//! * A signal handler that interrupts a call on the same thread, finding the thread's
//!   channel busy, uses the thread's second channel, kept like the first (registered on
//!   first use), so a handler's call costs what any call costs; a handler interrupting that
//!   handler's call uses a one-shot channel. Neither touches the busy channel's state.
//! * A vfork child (found by [`state::in_vfork_child`]) shares the thread-locals of the
//!   thread it interrupted and uses a one-shot channel for every call.
//! * If the broker is gone, calls fail with `EIO`: the shim never falls back to libc.

use std::cell::Cell;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use arbiter_protocol::fdpass::{recv_with_fds, send_with_fds};
use arbiter_protocol::{
    decode, encode, Call, Register, Reply, Request, Welcome, MAX_FDS, MAX_MESSAGE, PROTOCOL_VERSION,
};

use crate::mapped_buf::MappedBuf;
use crate::state;
use crate::sys::raw_close;

/// The errno a call fails with when the broker cannot be reached.
pub const BROKER_GONE: i32 = libc::EIO;

/// Lowest fd number for the shim's own channels, out of the way of the program's fds.
const CHANNEL_FD_MIN: i32 = 512;

/// Channel fds of this process's threads with the generation that made each, so a fork
/// child can close the ones it inherited and none of its own. A slot packs the generation's
/// low 32 bits above the fd; [`EMPTY`] is a free slot.
const REGISTRY_SLOTS: usize = 256;
static REGISTRY: [AtomicU64; REGISTRY_SLOTS] = [const { AtomicU64::new(EMPTY) }; REGISTRY_SLOTS];
const EMPTY: u64 = u64::MAX;

fn registry_entry(fd: RawFd, generation: u64) -> u64 {
    (u64::from(generation as u32) << 32) | u64::from(fd as u32)
}

fn registry_add(fd: RawFd, generation: u64) {
    let entry = registry_entry(fd, generation);
    for slot in &REGISTRY {
        if slot
            .compare_exchange(EMPTY, entry, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            return;
        }
    }
}

fn registry_remove(fd: RawFd, generation: u64) {
    let entry = registry_entry(fd, generation);
    for slot in &REGISTRY {
        if slot
            .compare_exchange(entry, EMPTY, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            return;
        }
    }
}

/// In a fork child: closes every channel registered by an earlier generation (the parent's
/// threads'), leaving those this process registered. Safe to run more than once, and from
/// a signal handler that interrupted it: each slot is emptied by one compare-and-swap.
fn registry_close_stale(generation: u64) {
    let current = generation as u32;
    for slot in &REGISTRY {
        let entry = slot.load(Ordering::Acquire);
        if entry == EMPTY || (entry >> 32) as u32 == current {
            continue;
        }
        if slot
            .compare_exchange(entry, EMPTY, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            raw_close(entry as u32 as RawFd);
        }
    }
}

struct ThreadChannel {
    fd: Cell<RawFd>,
    generation: Cell<u64>,
    busy: Cell<bool>,
    welcomed: Cell<bool>,
    next_id: Cell<u64>,
    /// The channel's message buffer: a [`MappedBuf`] given up with `into_raw`, mapped on the
    /// channel's first call (null until then), outside the thread's static TLS
    /// ([`crate::mapped_buf`] says why).
    buf: Cell<*mut u8>,
}

impl ThreadChannel {
    const fn new() -> Self {
        ThreadChannel {
            fd: Cell::new(-1),
            generation: Cell::new(0),
            busy: Cell::new(false),
            welcomed: Cell::new(false),
            next_id: Cell::new(1),
            buf: Cell::new(std::ptr::null_mut()),
        }
    }

    /// Claims the channel and returns its buffer's start (a live mapping of [`MAX_MESSAGE`]
    /// bytes that only the claimer uses until `busy` is cleared); `None` when it is busy or
    /// its buffer cannot be mapped. A signal handler that interrupted a call finds that
    /// call's channel busy; `replace` claims it, and a handler that ran between its load and
    /// store found the channel free and freed it again before returning.
    fn claim(&self) -> Option<*mut u8> {
        if self.busy.replace(true) {
            return None;
        }
        let mut ptr = self.buf.get();
        if ptr.is_null() {
            match MappedBuf::new() {
                Some(buf) => ptr = buf.into_raw(),
                None => {
                    self.busy.set(false);
                    return None;
                }
            }
            self.buf.set(ptr);
        }
        Some(ptr)
    }

    /// At thread exit: unmaps the buffer of a channel not in use (the caller checked).
    fn release_buf(&self) {
        let ptr = self.buf.replace(std::ptr::null_mut());
        if !ptr.is_null() {
            // SAFETY: the channel's mapping, no longer referenced by the thread.
            drop(unsafe { MappedBuf::from_raw(ptr) });
        }
    }
}

/// Channels kept per thread: the thread's own, and one for a signal handler's call made
/// while the first is busy (a handler interrupting that handler's call uses a one-shot
/// channel).
const KEPT_CHANNELS: usize = 2;

// No `Drop`: a thread-local with a destructor registers it through
// `__cxa_thread_atexit_impl`, which calls the program's `calloc` on the thread's first
// call — inside that allocator's own initialisation when the call came from there
// (jemalloc reads `/etc/malloc.conf`), a deadlock. The channels are closed and their
// buffers unmapped at thread exit by a pthread key destructor instead (see
// [`close_at_thread_exit`]).
thread_local! {
    static CHANNELS: [ThreadChannel; KEPT_CHANNELS] =
        const { [const { ThreadChannel::new() }; KEPT_CHANNELS] };
}

/// The pthread key whose destructor closes a thread's channel when the thread exits;
/// [`KEY_NONE`] until made, [`KEY_FAILED`] when it could not be made.
static EXIT_KEY: AtomicU32 = AtomicU32::new(KEY_NONE);
const KEY_NONE: u32 = u32::MAX;
const KEY_FAILED: u32 = u32::MAX - 1;

/// glibc keeps the values of the first 32 keys inside the thread descriptor
/// (`PTHREAD_KEY_2NDLEVEL_SIZE`); `pthread_setspecific` on a higher key may `calloc`.
const KEYS_WITHOUT_ALLOCATION: u32 = 32;

/// Makes the thread-exit key (lock-free in glibc: a compare-and-swap on its key table, no
/// allocation). Called from the library's constructor, so the key is one of the first.
pub fn make_exit_key() {
    if EXIT_KEY.load(Ordering::Acquire) != KEY_NONE {
        return;
    }
    let mut key: libc::pthread_key_t = 0;
    // SAFETY: key is a valid out-parameter; the destructor is an `extern "C"` fn that
    // never unwinds.
    let made = unsafe { libc::pthread_key_create(&mut key, Some(close_at_thread_exit)) } == 0;
    let value = if made && key < KEY_FAILED {
        key
    } else {
        KEY_FAILED
    };
    if EXIT_KEY
        .compare_exchange(KEY_NONE, value, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
        && made
    {
        // Another thread made one first.
        // SAFETY: key is ours and no thread has a value for it.
        unsafe { libc::pthread_key_delete(key) };
    }
}

/// Arranges for this thread's channel to be closed when the thread exits. Allocates
/// nothing: a key beyond glibc's in-descriptor block is not used (the channel then stays
/// open until the process ends or forks, and the broker's end with it).
fn close_at_exit() {
    make_exit_key();
    let key = EXIT_KEY.load(Ordering::Acquire);
    if key < KEYS_WITHOUT_ALLOCATION {
        // SAFETY: the key exists; any non-null value makes glibc run the destructor.
        unsafe {
            libc::pthread_setspecific(key, std::ptr::NonNull::<u8>::dangling().as_ptr().cast())
        };
    }
}

/// The exit key's destructor: closes the exiting thread's channels (except any inherited
/// from a parent process, whose channels a fork child closes). The thread's thread-locals
/// are still in place while pthread key destructors run.
extern "C" fn close_at_thread_exit(_: *mut libc::c_void) {
    let _ = CHANNELS.try_with(|channels| {
        for ch in channels {
            if ch.busy.get() {
                continue;
            }
            if ch.generation.get() == state::generation() {
                reset(ch);
            } else {
                ch.fd.set(-1);
            }
            ch.release_buf();
        }
    });
}

/// Makes a new channel and registers it with the broker; returns our end.
fn open_channel(bootstrap: RawFd) -> Result<RawFd, i32> {
    let mut pair = [-1; 2];
    // SAFETY: pair is a valid 2-int out array.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_socketpair,
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            pair.as_mut_ptr(),
        )
    };
    if rc < 0 {
        return Err(crate::sys::errno());
    }
    // SAFETY: fcntl with integer arguments only.
    let high = unsafe {
        libc::syscall(
            libc::SYS_fcntl,
            pair[0],
            libc::F_DUPFD_CLOEXEC,
            CHANNEL_FD_MIN,
        )
    } as RawFd;
    let ours = if high >= 0 {
        raw_close(pair[0]);
        high
    } else {
        pair[0]
    };
    // The broker's end must stamp credentials from the very first message, which this
    // thread sends before the broker has even seen the channel.
    let one: libc::c_int = 1;
    // SAFETY: &one is a valid c_int for the call's duration.
    unsafe {
        libc::syscall(
            libc::SYS_setsockopt,
            pair[1],
            libc::SOL_SOCKET,
            libc::SO_PASSCRED,
            &one as *const libc::c_int,
            4,
        )
    };
    let mut msg = [0u8; 16];
    let sent = match encode(
        &Register {
            version: PROTOCOL_VERSION,
        },
        &mut msg,
    ) {
        Ok(bytes) => send_with_fds(bootstrap, bytes, &[pair[1]]),
        Err(_) => Err(libc::EINVAL),
    };
    raw_close(pair[1]);
    if sent.is_err() {
        raw_close(ours);
        return Err(BROKER_GONE);
    }
    Ok(ours)
}

/// Sends one request on `fd` and receives its reply into `buf`, consuming the broker's
/// welcome first when `welcomed` is false. Returns the reply's length and fds.
fn exchange(
    fd: RawFd,
    welcomed: &Cell<bool>,
    buf: &mut [u8],
    id: u64,
    call: &Call<'_>,
    fds: &[RawFd],
    got_fds: &mut [RawFd; MAX_FDS],
) -> Result<(usize, usize), i32> {
    let bytes = encode(
        &Request {
            id,
            call: call.clone(),
        },
        buf,
    )
    .map_err(|_| libc::ENAMETOOLONG)?;
    send_with_fds(fd, bytes, fds).map_err(|_| BROKER_GONE)?;
    loop {
        let got = recv_with_fds(fd, buf, got_fds, 0).map_err(|_| BROKER_GONE)?;
        if got.len == 0 {
            return Err(BROKER_GONE);
        }
        if !welcomed.get() {
            for &f in &got_fds[..got.nfds] {
                raw_close(f);
            }
            match decode::<Welcome>(&buf[..got.len]) {
                Ok(w) if w.accepted && w.version == PROTOCOL_VERSION => {
                    welcomed.set(true);
                    continue;
                }
                _ => return Err(BROKER_GONE),
            }
        }
        return Ok((got.len, got.nfds));
    }
}

/// Performs `call` through the broker, handing the decoded reply and any received fds
/// (close-on-exec) to `on_reply`. `Err(errno)` when the broker cannot be reached; the
/// caller then fails the libc call with that errno.
pub fn call<R>(
    call: &Call<'_>,
    fds: &[RawFd],
    on_reply: impl FnOnce(&Reply<'_>, &[RawFd]) -> R,
) -> Result<R, i32> {
    let bootstrap = state::bootstrap();
    if bootstrap < 0 {
        return Err(BROKER_GONE);
    }
    if state::in_vfork_child() {
        // The thread's channels are the parent's: registering one here would put an fd of
        // the child's table into the parent's thread-locals.
        return one_shot(bootstrap, call, fds, on_reply);
    }
    let generation = state::generation();
    let mut got_fds = [-1; MAX_FDS];
    let mut on_reply = Some(on_reply);
    let outcome = CHANNELS.try_with(|channels| {
        let (ch, buf) = channels.iter().find_map(|ch| Some((ch, ch.claim()?)))?;
        // SAFETY: the claimed channel's live mapping of MAX_MESSAGE bytes; `busy` makes this
        // the only reference to it until the call ends.
        let buf = unsafe { std::slice::from_raw_parts_mut(buf, MAX_MESSAGE) };
        let result = (|| {
            if ch.generation.get() != generation {
                // A new thread's first call, or a fork child's: channels inherited from the
                // parent process belong to it (any thread of the parent may have made them).
                registry_close_stale(generation);
                ch.fd.set(-1);
                ch.generation.set(generation);
            }
            if ch.fd.get() < 0 {
                let fd = open_channel(bootstrap)?;
                registry_add(fd, generation);
                ch.fd.set(fd);
                close_at_exit();
                ch.welcomed.set(false);
            }
            let id = ch.next_id.get();
            ch.next_id.set(id.wrapping_add(1));
            match exchange(ch.fd.get(), &ch.welcomed, buf, id, call, fds, &mut got_fds) {
                Ok((len, nfds)) => match decode::<Reply>(&buf[..len]) {
                    Ok(reply) if reply.id == id => match on_reply.take() {
                        Some(f) => Ok(f(&reply, &got_fds[..nfds])),
                        None => Err(BROKER_GONE),
                    },
                    _ => {
                        for &f in &got_fds[..nfds] {
                            raw_close(f);
                        }
                        reset(ch);
                        Err(BROKER_GONE)
                    }
                },
                Err(e) => {
                    reset(ch);
                    Err(e)
                }
            }
        })();
        ch.busy.set(false);
        Some(result)
    });
    match outcome {
        Ok(Some(r)) => r,
        // Every kept channel busy (a handler interrupted a handler's call), or the thread
        // is exiting: a private one-shot channel.
        _ => match on_reply.take() {
            Some(f) => one_shot(bootstrap, call, fds, f),
            None => Err(BROKER_GONE),
        },
    }
}

/// Drops a thread's channel after an error; the next call registers a fresh one.
fn reset(ch: &ThreadChannel) {
    let fd = ch.fd.replace(-1);
    if fd >= 0 {
        registry_remove(fd, ch.generation.get());
        raw_close(fd);
    }
}

/// A call on a channel made for it alone (signal handlers, exiting threads).
fn one_shot<R>(
    bootstrap: RawFd,
    call: &Call<'_>,
    fds: &[RawFd],
    on_reply: impl FnOnce(&Reply<'_>, &[RawFd]) -> R,
) -> Result<R, i32> {
    // Mapped, not on the stack: a handler may run on a small alternate stack.
    let mut buf = MappedBuf::new().ok_or(libc::ENOMEM)?;
    let buf = buf.bytes();
    let fd = open_channel(bootstrap)?;
    let mut got_fds = [-1; MAX_FDS];
    let welcomed = Cell::new(false);
    let result = match exchange(fd, &welcomed, buf, 1, call, fds, &mut got_fds) {
        Ok((len, nfds)) => match decode::<Reply>(&buf[..len]) {
            Ok(reply) if reply.id == 1 => Ok(on_reply(&reply, &got_fds[..nfds])),
            _ => {
                for &f in &got_fds[..nfds] {
                    raw_close(f);
                }
                Err(BROKER_GONE)
            }
        },
        Err(e) => Err(e),
    };
    raw_close(fd);
    result
}
