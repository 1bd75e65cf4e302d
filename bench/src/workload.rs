//! The measured operations and the loop that times them, shared by the native baselines
//! (run in the bench process) and `arbiter bench-worker` (run inside a sandbox, where the
//! shim intercepts the same libc calls and sends them to the broker; the `seccomp_*` kinds
//! are raw system calls that bypass the shim and reach the broker by seccomp notification).
//!
//! Each operation is timed on its own with `clock_gettime` (vDSO, about 20 ns, never
//! brokered). Threads and processes warm up (registering their call channel), then start
//! together; throughput is all timed operations over the wall time from that common start
//! to the last one's end.

use std::ffi::CString;
use std::fs::File;
use std::io::{Read, Write};
use std::net::SocketAddrV4;
use std::os::fd::{AsRawFd, FromRawFd};
use std::sync::{Arc, Barrier};

use anyhow::{bail, Context, Result};

use crate::stats::{now_ns, summarize, Summary};

/// One measured libc call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// `open(path, O_RDONLY)` then `close` of a cached file.
    Open,
    /// `stat(path)`.
    Stat,
    /// `access(path, R_OK)`.
    Access,
    /// `connect` of a fresh TCP socket to a loopback listener (socket and close untimed).
    Connect,
    /// `getaddrinfo(host, NULL, SOCK_STREAM)` then `freeaddrinfo`.
    Getaddrinfo,
    /// `sendto` of one byte from a fresh UDP socket to the loopback listener's port (socket
    /// and close untimed): a datagram with its own destination, decided and sent by the
    /// broker under seccomp notification.
    Sendto,
    /// `syscall(SYS_openat, AT_FDCWD, path, O_RDONLY)` then `close`: a raw system call the
    /// shim never sees, so inside a sandbox it reaches the broker by seccomp notification.
    #[value(name = "seccomp_open")]
    SeccompOpen,
    /// `syscall(SYS_newfstatat, AT_FDCWD, path, &st, 0)`, raw as above.
    #[value(name = "seccomp_stat")]
    SeccompStat,
    /// Not measured: register a channel per thread, then wait idle until stdin closes.
    Idle,
}

impl Kind {
    /// The name used in result names (`native_open`, `brokered_open_t2`…).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Open => "open",
            Kind::Stat => "stat",
            Kind::Access => "access",
            Kind::Connect => "connect",
            Kind::Getaddrinfo => "getaddrinfo",
            Kind::Sendto => "sendto",
            Kind::SeccompOpen => "seccomp_open",
            Kind::SeccompStat => "seccomp_stat",
            Kind::Idle => "idle",
        }
    }
}

/// What the operations act on.
#[derive(Debug, Clone)]
pub struct Target {
    /// The file opened, stat'ed and accessed.
    pub path: CString,
    /// The loopback listener connected to.
    pub addr: SocketAddrV4,
    /// The host name resolved.
    pub host: CString,
}

fn last_errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Performs one operation; returns its duration in ns, or the errno / `EAI_*` code.
fn once(kind: Kind, t: &Target) -> Result<u64, i32> {
    match kind {
        Kind::Open => {
            let start = now_ns();
            // SAFETY: t.path is a valid C string.
            let fd = unsafe { libc::open(t.path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
            if fd < 0 {
                return Err(last_errno());
            }
            // SAFETY: fd was just opened by us and is closed once.
            unsafe { libc::close(fd) };
            Ok(now_ns() - start)
        }
        Kind::Stat => {
            let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
            let start = now_ns();
            // SAFETY: t.path is a valid C string; st is a valid out-pointer.
            let rc = unsafe { libc::stat(t.path.as_ptr(), st.as_mut_ptr()) };
            let end = now_ns();
            if rc < 0 {
                return Err(last_errno());
            }
            Ok(end - start)
        }
        Kind::Access => {
            let start = now_ns();
            // SAFETY: t.path is a valid C string.
            let rc = unsafe { libc::access(t.path.as_ptr(), libc::R_OK) };
            let end = now_ns();
            if rc < 0 {
                return Err(last_errno());
            }
            Ok(end - start)
        }
        Kind::Connect => {
            // SAFETY: plain socket(2).
            let fd =
                unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
            if fd < 0 {
                return Err(last_errno());
            }
            // Reset on close: no TIME_WAIT, so a long run cannot exhaust ephemeral ports.
            let linger = libc::linger {
                l_onoff: 1,
                l_linger: 0,
            };
            // SAFETY: &linger is valid for its size.
            unsafe {
                libc::setsockopt(
                    fd,
                    libc::SOL_SOCKET,
                    libc::SO_LINGER,
                    (&linger as *const libc::linger).cast(),
                    std::mem::size_of::<libc::linger>() as libc::socklen_t,
                )
            };
            let sin = sockaddr_in(&t.addr);
            let start = now_ns();
            // SAFETY: sin is a valid sockaddr_in of the given length.
            let rc = unsafe {
                libc::connect(
                    fd,
                    (&sin as *const libc::sockaddr_in).cast(),
                    std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                )
            };
            let end = now_ns();
            let err = last_errno();
            // SAFETY: fd is ours and closed once.
            unsafe { libc::close(fd) };
            if rc < 0 {
                return Err(err);
            }
            Ok(end - start)
        }
        Kind::Sendto => {
            // SAFETY: plain socket(2).
            let fd =
                unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
            if fd < 0 {
                return Err(last_errno());
            }
            let sin = sockaddr_in(&t.addr);
            let start = now_ns();
            // SAFETY: one byte from a static buffer; sin is a valid sockaddr_in.
            let rc = unsafe {
                libc::sendto(
                    fd,
                    b"x".as_ptr().cast(),
                    1,
                    0,
                    (&sin as *const libc::sockaddr_in).cast(),
                    std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                )
            };
            let end = now_ns();
            let err = last_errno();
            // SAFETY: fd is ours and closed once.
            unsafe { libc::close(fd) };
            if rc < 0 {
                return Err(err);
            }
            Ok(end - start)
        }
        Kind::Getaddrinfo => {
            // SAFETY: addrinfo is plain old data; all-zero is an empty hints structure.
            let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
            hints.ai_socktype = libc::SOCK_STREAM;
            let mut res: *mut libc::addrinfo = std::ptr::null_mut();
            let start = now_ns();
            // SAFETY: host is a valid C string, hints and res valid pointers.
            let rc =
                unsafe { libc::getaddrinfo(t.host.as_ptr(), std::ptr::null(), &hints, &mut res) };
            if rc != 0 {
                return Err(rc);
            }
            // SAFETY: res was returned by a successful getaddrinfo and is freed once.
            unsafe { libc::freeaddrinfo(res) };
            Ok(now_ns() - start)
        }
        Kind::SeccompOpen => {
            let start = now_ns();
            // SAFETY: raw openat with a valid C string; returns an fd or -1.
            let fd = unsafe {
                libc::syscall(
                    libc::SYS_openat,
                    libc::AT_FDCWD,
                    t.path.as_ptr(),
                    libc::O_RDONLY | libc::O_CLOEXEC,
                    0,
                )
            };
            if fd < 0 {
                return Err(last_errno());
            }
            // SAFETY: fd was just opened by us and is closed once.
            unsafe { libc::close(fd as i32) };
            Ok(now_ns() - start)
        }
        Kind::SeccompStat => {
            let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
            let start = now_ns();
            // SAFETY: raw newfstatat with a valid C string and a valid out-pointer.
            let rc = unsafe {
                libc::syscall(
                    libc::SYS_newfstatat,
                    libc::AT_FDCWD,
                    t.path.as_ptr(),
                    st.as_mut_ptr(),
                    0,
                )
            };
            let end = now_ns();
            if rc < 0 {
                return Err(last_errno());
            }
            Ok(end - start)
        }
        Kind::Idle => Ok(0),
    }
}

fn check(kind: Kind, t: &Target) -> Result<()> {
    match once(kind, t) {
        Ok(_) => Ok(()),
        Err(e) => bail!(
            "{} failed (code {e}: {})",
            kind.name(),
            std::io::Error::from_raw_os_error(e)
        ),
    }
}

/// Samples of one thread and the span of its timed loop.
struct Run {
    samples: Vec<u64>,
    start: u64,
    end: u64,
}

fn timed_loop(kind: Kind, t: &Target, iters: usize) -> Result<Run> {
    let mut samples = Vec::with_capacity(iters);
    let start = now_ns();
    for _ in 0..iters {
        match once(kind, t) {
            Ok(ns) => samples.push(ns),
            Err(e) => bail!("{} failed mid-run (code {e})", kind.name()),
        }
    }
    Ok(Run {
        samples,
        start,
        end: now_ns(),
    })
}

fn warmup_count(iters: usize) -> usize {
    (iters / 10).clamp(10, 1000)
}

/// Runs `iters` timed operations on each of `threads` threads of this process, started
/// together after a warm-up; returns the merged summary.
pub fn measure_threads(kind: Kind, t: &Target, threads: usize, iters: usize) -> Result<Summary> {
    let runs = threads_runs(kind, t, threads, iters)?;
    Ok(merge(runs))
}

fn threads_runs(kind: Kind, t: &Target, threads: usize, iters: usize) -> Result<Vec<Run>> {
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let b = Arc::clone(&barrier);
            let t = t.clone();
            std::thread::spawn(move || -> Result<Run> {
                let warm = (0..warmup_count(iters)).try_for_each(|_| check(kind, &t));
                b.wait();
                warm?;
                timed_loop(kind, &t, iters)
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|h| {
            h.join()
                .map_err(|_| anyhow::anyhow!("a bench thread panicked"))?
        })
        .collect()
}

fn merge(runs: Vec<Run>) -> Summary {
    let start = runs.iter().map(|r| r.start).min().unwrap_or(0);
    let end = runs.iter().map(|r| r.end).max().unwrap_or(0);
    let mut all: Vec<u64> = runs.into_iter().flat_map(|r| r.samples).collect();
    summarize(&mut all, end.saturating_sub(start))
}

fn pipe() -> Result<(File, File)> {
    let mut fds = [-1; 2];
    // SAFETY: fds is a valid 2-int array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(std::io::Error::last_os_error()).context("pipe2");
    }
    // SAFETY: both fds were just created and are owned by nothing else.
    Ok(unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) })
}

/// Runs `iters` timed operations in each of `procs` forked processes (one thread each),
/// started together after a warm-up; returns the merged summary. Call only while this
/// process has a single thread.
pub fn measure_procs(kind: Kind, t: &Target, procs: usize, iters: usize) -> Result<Summary> {
    let (ready_r, ready_w) = pipe()?;
    let (go_r, go_w) = pipe()?;
    let mut children = Vec::new();
    for _ in 0..procs {
        let (mut res_r, res_w) = pipe()?;
        // SAFETY: this process is single-threaded (the caller's contract), so the child may
        // run ordinary Rust code; it leaves with _exit.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            bail!("fork: {}", std::io::Error::last_os_error());
        }
        if pid == 0 {
            drop(res_r);
            // SAFETY: the child's copy of the go pipe's write end must close, or it would
            // never see the parent's EOF; the parent keeps its own copy.
            unsafe { libc::close(go_w.as_raw_fd()) };
            let code = child(kind, t, iters, &ready_w, &go_r, res_w);
            // SAFETY: ends the child without running the parent's exit handlers.
            unsafe { libc::_exit(code) };
        }
        drop(res_w);
        let mut bytes = Vec::new();
        children.push((pid, move || -> Result<Vec<u8>> {
            res_r.read_to_end(&mut bytes)?;
            Ok(bytes)
        }));
    }
    drop(ready_w);
    drop(go_r);
    // Every child writes one byte when warm; EOF here means all are ready or gone.
    let mut ready = Vec::new();
    (&ready_r).read_to_end(&mut ready)?;
    drop(go_w); // closing the go pipe starts them all at once
    let mut runs = Vec::new();
    for (pid, collect) in children {
        let bytes = collect()?;
        let mut status = 0;
        // SAFETY: pid is our child; status a valid out-pointer.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) || bytes.len() < 16 {
            bail!("a bench process failed (status {status:#x})");
        }
        let words: Vec<u64> = bytes
            .chunks_exact(8)
            .map(|c| u64::from_ne_bytes(c.try_into().expect("8 bytes")))
            .collect();
        runs.push(Run {
            start: words[0],
            end: words[1],
            samples: words[2..].to_vec(),
        });
    }
    Ok(merge(runs))
}

/// A forked measuring process: warm up, signal ready, wait for go, measure, report.
fn child(kind: Kind, t: &Target, iters: usize, ready: &File, go: &File, mut out: File) -> i32 {
    if let Err(e) = (0..warmup_count(iters)).try_for_each(|_| check(kind, t)) {
        eprintln!("arbiter bench: {e:#}");
        return 1;
    }
    let _ = (&*ready).write_all(b"r");
    // SAFETY: closing our copy of the ready pipe's write end (the parent waits for EOF).
    unsafe { libc::close(ready.as_raw_fd()) };
    let mut byte = [0u8; 1];
    let _ = (&*go).read(&mut byte);
    let run = match timed_loop(kind, t, iters) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("arbiter bench: {e:#}");
            return 1;
        }
    };
    let mut bytes = Vec::with_capacity(8 * (run.samples.len() + 2));
    for w in [run.start, run.end].iter().chain(&run.samples) {
        bytes.extend_from_slice(&w.to_ne_bytes());
    }
    if out.write_all(&bytes).is_err() {
        return 1;
    }
    0
}

/// `Kind::Idle`: one `access(R_OK)` per thread (registering its channel with the broker; a
/// stat might be answered by the shim's fast path without one), print
/// `ready`, then hold every thread until stdin reaches end of file.
pub fn idle(t: &Target, threads: usize) -> Result<()> {
    let registered = Arc::new(Barrier::new(threads + 1));
    let release = Arc::new(Barrier::new(threads + 1));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (a, b, t) = (Arc::clone(&registered), Arc::clone(&release), t.clone());
            std::thread::spawn(move || {
                let r = check(Kind::Access, &t);
                a.wait();
                b.wait();
                r
            })
        })
        .collect();
    registered.wait();
    let mut stdout = std::io::stdout();
    writeln!(stdout, "ready")?;
    stdout.flush()?;
    std::io::stdin().read_to_end(&mut Vec::new())?;
    release.wait();
    for h in handles {
        h.join()
            .map_err(|_| anyhow::anyhow!("an idle thread panicked"))??;
    }
    Ok(())
}

/// The target's address as the kernel takes it.
fn sockaddr_in(addr: &std::net::SocketAddrV4) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: addr.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*addr.ip()).to_be(),
        },
        sin_zero: [0; 8],
    }
}
