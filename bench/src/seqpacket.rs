//! The physical limit of arbiter's channel: a SEQPACKET round trip between two processes,
//! built the way the broker serves a channel (a forked server that polls with
//! `MSG_DONTWAIT` for 50 µs after each reply before it blocks), without any decoding,
//! policy or path resolution.
//!
//! * `bare_rt`: 64 bytes each way.
//! * `ideal_open_rt`: the request carries a path, the server opens it and returns the fd by
//!   `SCM_RIGHTS`; the client closes it — what `brokered_open` would cost with a free
//!   broker.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use anyhow::{bail, Context, Result};
use arbiter_protocol::fdpass::{recv_with_fds, send_with_fds, RecvError};
use arbiter_protocol::MAX_FDS;
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};

use crate::stats::{now_ns, summarize, Summary};

/// The broker's poll window after a reply (`transport::shim::SPIN`).
const SPIN_NS: u64 = 50_000;

/// What the server does with each request.
#[derive(Clone, Copy)]
enum Mode {
    Echo,
    Open,
}

fn recv_spinning(
    fd: RawFd,
    buf: &mut [u8],
    raw: &mut [RawFd; MAX_FDS],
) -> Result<usize, RecvError> {
    let until = now_ns() + SPIN_NS;
    loop {
        match recv_with_fds(fd, buf, raw, libc::MSG_DONTWAIT) {
            Err(RecvError::Os(libc::EAGAIN)) if now_ns() < until => std::hint::spin_loop(),
            Err(RecvError::Os(libc::EAGAIN)) => {
                return recv_with_fds(fd, buf, raw, 0).map(|r| r.len)
            }
            Ok(r) if r.len == 0 => return recv_with_fds(fd, buf, raw, 0).map(|r| r.len),
            other => return other.map(|r| r.len),
        }
    }
}

/// The forked server's loop; returns when the client closes its end.
fn serve(fd: RawFd, mode: Mode) {
    let mut buf = [0u8; 4096];
    let mut raw = [-1; MAX_FDS];
    let reply = [0u8; 64];
    loop {
        let len = match recv_spinning(fd, &mut buf, &mut raw) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        match mode {
            Mode::Echo => {
                if send_with_fds(fd, &reply, &[]).is_err() {
                    return;
                }
            }
            Mode::Open => {
                buf[len.min(buf.len() - 1)] = 0;
                // SAFETY: buf holds a NUL-terminated path.
                let f =
                    unsafe { libc::open(buf.as_ptr().cast(), libc::O_RDONLY | libc::O_CLOEXEC) };
                let one = [f];
                let sent = send_with_fds(fd, &reply[..16], if f >= 0 { &one[..] } else { &[] });
                // SAFETY: f is ours, closed once.
                unsafe { libc::close(f) };
                if sent.is_err() {
                    return;
                }
            }
        }
    }
}

fn round_trips(mode: Mode, path: &CString, iters: usize) -> Result<Summary> {
    let (client, server): (OwnedFd, OwnedFd) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .context("socketpair")?;
    // SAFETY: the child only makes system calls (recvmsg, sendmsg, open, close) and leaves
    // with _exit, so forking from a process with threads is sound.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        bail!("fork: {}", std::io::Error::last_os_error());
    }
    if pid == 0 {
        drop(client);
        serve(server.as_raw_fd(), mode);
        // SAFETY: ends the child without running the parent's exit handlers.
        unsafe { libc::_exit(0) };
    }
    drop(server);
    let fd = client.as_raw_fd();
    let request = match mode {
        Mode::Echo => &[1u8; 64][..],
        Mode::Open => path.as_bytes(),
    };
    let mut buf = [0u8; 4096];
    let mut raw = [-1; MAX_FDS];
    let mut one = || -> Result<u64> {
        let start = now_ns();
        send_with_fds(fd, request, &[]).map_err(|e| anyhow::anyhow!("send: errno {e}"))?;
        let got =
            recv_with_fds(fd, &mut buf, &mut raw, 0).map_err(|e| anyhow::anyhow!("recv: {e:?}"))?;
        for &f in &raw[..got.nfds] {
            // SAFETY: f was just received and is ours.
            unsafe { libc::close(f) };
        }
        let end = now_ns();
        if matches!(mode, Mode::Open) && got.nfds != 1 {
            bail!("the server could not open {path:?}");
        }
        Ok(end - start)
    };
    let result = (|| {
        for _ in 0..(iters / 10).clamp(10, 1000) {
            one()?;
        }
        let mut samples = Vec::with_capacity(iters);
        let start = now_ns();
        for _ in 0..iters {
            samples.push(one()?);
        }
        Ok(summarize(&mut samples, now_ns() - start))
    })();
    drop(client);
    let mut status = 0;
    // SAFETY: pid is our child; status a valid out-pointer.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    result
}

/// `bare_rt`: a 64-byte request and a 64-byte reply.
pub fn bare_rt(iters: usize) -> Result<Summary> {
    round_trips(Mode::Echo, &CString::default(), iters)
}

/// `ideal_open_rt`: the server opens `path` and returns the fd by `SCM_RIGHTS`.
pub fn ideal_open_rt(path: &CString, iters: usize) -> Result<Summary> {
    round_trips(Mode::Open, path, iters)
}
