//! `arbiter serve`: one long-lived broker for many sandboxes.
//!
//! 1. The daemon listens on a `SOCK_SEQPACKET` unix socket ([`listen`]): a path it binds
//!    with an exact mode, an abstract `@NAME`, or a socket it inherits (fd 0 with
//!    `--inherit-stdin`, fd 3 from systemd's `LISTEN_FDS`).
//! 2. `arbiter run --daemon PATH -- CMD` connects and sends a hello ([`client`],
//!    `arbiter_protocol::daemon`). The daemon identifies it by what the kernel attests
//!    and pins its process at accept ([`peer`]), chooses a profile from its config
//!    ([`config`]), reads `$PWD` through the pinned process's `/proc` entry, makes a
//!    private `TMPDIR` owned by the client, and starts serving a new bootstrap socket with
//!    a [`RequestCore`](crate::core::RequestCore) of its own ([`session`]). For a client of
//!    another uid every call-channel thread first takes on the client's filesystem
//!    credentials ([`creds`]); so does every thread of its seccomp transport.
//! 3. The daemon sends the bootstrap socket back; the launcher places it at fd 1023,
//!    confines itself (Landlock, the seccomp filter with the notify rules, whose listener
//!    it sends to the daemon on the bootstrap socket), and execs the command. From there
//!    on the sandbox is served exactly as under `arbiter run`, by both transports, until
//!    its last process is gone.
//!
//! SIGHUP reloads the config (a broken one is logged and the old one kept; live sandboxes
//! keep the policy they started with). SIGTERM or SIGINT stops accepting, waits up to the
//! grace period for live sandboxes, then kills what is left. See `docs/serve.md`.

pub mod check;
pub mod client;
pub mod client_supervise;
pub mod config;
pub mod creds;
pub mod limits;
pub mod listen;
pub mod peer;
pub mod session;
pub mod sweep;
pub mod threads;

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::audit::event::Lifecycle;
use crate::audit::{Audit, Event};
use config::Config;
use limits::Resource;
use listen::Listener;
use peer::Peer;
use session::Shared;

/// How often the daemon checks that its socket path is still its own.
const STOLEN_CHECK: Duration = Duration::from_secs(1);

/// What the accept loop needs besides the socket.
pub struct Options {
    /// The config file (`None`: own uid, `default` profile).
    pub config: Option<PathBuf>,
    /// Exit when the socket path is replaced or removed.
    pub exit_on_stolen: bool,
    /// How long live sandboxes get after SIGTERM.
    pub grace: Duration,
    /// The shim the sandboxes preload.
    pub shim: PathBuf,
    /// `--max-*` flags: limits set on the command line, over the config file's.
    pub limits: Vec<(&'static str, usize)>,
}

/// Why the accept loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// SIGTERM or SIGINT.
    Signal,
    /// The socket path was stolen and `--exit-on-stolen` was given.
    Stolen,
}

/// The signals the daemon handles through a signalfd. Blocks them in the calling thread;
/// call before any thread starts so every thread inherits the mask.
pub fn block_signals() -> Result<OwnedFd> {
    // SAFETY: set is a valid sigset_t out-parameter, initialised by sigemptyset.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: set is a valid sigset_t; the calls only write it and the thread's mask.
    let fd = unsafe {
        libc::sigemptyset(&mut set);
        for s in [libc::SIGHUP, libc::SIGTERM, libc::SIGINT] {
            libc::sigaddset(&mut set, s);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        libc::signalfd(-1, &set, libc::SFD_CLOEXEC)
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).context("signalfd");
    }
    // SAFETY: a new fd nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn read_signal(sfd: &OwnedFd) -> Option<i32> {
    // SAFETY: signalfd_siginfo is plain old data.
    let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::signalfd_siginfo>();
    // SAFETY: info is a writable buffer of `size` bytes.
    let n = unsafe {
        libc::read(
            sfd.as_raw_fd(),
            (&mut info as *mut libc::signalfd_siginfo).cast(),
            size,
        )
    };
    (n as usize == size).then_some(info.ssi_signo as i32)
}

/// Loads the config named by `path`, or the implicit one, with the command line's
/// `limits` over the file's.
pub fn load_config(
    path: Option<&std::path::Path>,
    limits: &[(&'static str, usize)],
) -> Result<Config> {
    let mut cfg = match path {
        Some(p) => Config::load(p)?,
        None => Config::implicit(nix::unistd::geteuid().as_raw()),
    };
    for (key, value) in limits {
        cfg.limits.set(key, *value);
    }
    Ok(cfg)
}

/// Serves clients on `listener` until SIGTERM/SIGINT (or a stolen path, when asked).
pub fn serve(
    listener: Listener,
    signals: OwnedFd,
    config: Config,
    audit: Audit,
    writer: Option<&crate::audit::WriterHandle>,
    opts: &Options,
) -> Ended {
    let shared = Arc::new(Shared::new(config, audit.clone(), opts.shim.clone()));
    let mut last_check = Instant::now();
    let mut stolen_reported = false;
    let ended = loop {
        let mut fds = [
            libc::pollfd {
                fd: listener.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: signals.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: fds is a valid array of 2 pollfds.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, STOLEN_CHECK.as_millis() as i32) };
        if n > 0 && fds[1].revents & libc::POLLIN != 0 {
            match read_signal(&signals) {
                Some(libc::SIGHUP) => {
                    // The log is reopened by path (logrotate), as under `arbiter run`.
                    if let Some(w) = writer {
                        w.reopen();
                    }
                    reload(&shared, opts)
                }
                Some(_) => break Ended::Signal,
                None => {}
            }
        }
        if n > 0 && fds[0].revents & libc::POLLIN != 0 {
            accept_one(&listener, &shared);
        }
        if last_check.elapsed() >= STOLEN_CHECK {
            last_check = Instant::now();
            if listener.still_ours() == Some(false) && !stolen_reported {
                stolen_reported = true;
                let path = listener.owned.as_ref().map(|o| o.0.display().to_string());
                crate::stderr_lines::say(&format!(
                    "arbiter serve: {}: the socket path was replaced or removed; clients can no longer reach this daemon\n",
                    path.as_deref().unwrap_or("?")
                ));
                audit.record(Event::Lifecycle(Lifecycle::Stolen { path }));
                if opts.exit_on_stolen {
                    break Ended::Stolen;
                }
            }
        }
    };
    // Stop accepting: remove the path (only if still ours), then close the socket.
    listener.remove_if_ours();
    drop(listener);
    audit.record(Event::Lifecycle(Lifecycle::Shutdown {
        live: shared.live(),
        grace_secs: opts.grace.as_secs_f64(),
    }));
    let until = Instant::now() + opts.grace;
    while shared.live() > 0 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    if shared.live() > 0 {
        crate::stderr_lines::say(&format!(
            "arbiter serve: grace period over; ending {} live sandbox(es)\n",
            shared.live()
        ));
        shared.end_all(false);
    }
    // Every session writes its sandbox's `exit` record and removes its TMPDIR before it
    // ends; wait for them (bounded: a session can only be held up by a client that never
    // finishes its hello, at most the hello timeout).
    let sessions = || shared.sessions.load(std::sync::atomic::Ordering::SeqCst);
    let until = Instant::now() + Duration::from_secs(5);
    while sessions() > 0 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    if shared.live() > 0 {
        // A launcher that did not end its sandbox: kill it (its command dies with it).
        shared.end_all(true);
        let until = Instant::now() + Duration::from_secs(5);
        while sessions() > 0 && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    ended
}

fn accept_one(listener: &Listener, shared: &Arc<Shared>) {
    // SAFETY: accept4 with null address pointers; the fd is a listening socket.
    let fd = unsafe {
        libc::accept4(
            listener.fd.as_fd().as_raw_fd(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            libc::SOCK_CLOEXEC,
        )
    };
    if fd < 0 {
        return; // EAGAIN (another accept got it), ECONNABORTED, EMFILE: keep serving
    }
    // SAFETY: a new fd nobody else owns.
    let conn = unsafe { OwnedFd::from_raw_fd(fd) };
    // Identity first, before anything else can happen to the client's process (a failure
    // is answered by the session, after the hello: closing a socket with unread data
    // would reset the connection and lose the reason).
    let peer = Peer::of(&conn);
    // A connection waiting for its hello holds a thread: counted per uid and in total, so
    // a client flooding the socket with connections it never speaks on stops only itself.
    let uid = peer.as_ref().map_or(u32::MAX, |p| p.uid);
    let limits = shared.limits();
    let pending = match shared.counters.take(&limits, uid, Resource::Pending) {
        Ok(h) => h,
        Err(refused) => {
            session::refuse_now(&conn, &shared.audit, uid, &refused);
            return;
        }
    };
    let guard = session::SessionGuard::new(shared);
    let shared = Arc::clone(shared);
    // When no thread can be started, the connection and its counts go with the closure:
    // the client sees the connection close without an answer.
    let _ = std::thread::Builder::new()
        .name("session".into())
        .spawn(move || {
            session::handle(conn, peer, pending, shared);
            drop(guard);
        });
}

fn reload(shared: &Shared, opts: &Options) {
    match load_config(opts.config.as_deref(), &opts.limits) {
        Ok(cfg) => {
            if let Ok(mut c) = shared.config.write() {
                *c = Arc::new(cfg);
            }
            crate::stderr_lines::say("arbiter serve: configuration reloaded\n");
            shared.audit.record(Event::Lifecycle(Lifecycle::Reload {
                ok: true,
                error: None,
            }));
        }
        Err(e) => {
            crate::stderr_lines::say(&format!(
                "arbiter serve: reload failed, keeping the old configuration: {e:#}\n"
            ));
            shared.audit.record(Event::Lifecycle(Lifecycle::Reload {
                ok: false,
                error: Some(format!("{e:#}")),
            }));
        }
    }
}
