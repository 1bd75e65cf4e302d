//! One client connection: identify it, choose its policy, make its sandbox, hand over the
//! bootstrap socket, and serve the sandbox until its last process is gone.

use std::collections::HashMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use arbiter_policies::{Policy, Vars};
use arbiter_protocol::daemon::{hello_version, split_argv, Hello, HelloReply, DAEMON_VERSION};
use arbiter_protocol::fdpass::{recv_with_fds, send_with_fds};
use arbiter_protocol::{decode, encode, MAX_FDS, MAX_MESSAGE};
use nix::sys::socket::{self, sockopt};
use nix::unistd::{Gid, Group, Uid, User};

use super::config::{Client, Config};
use super::creds::FsCreds;
use super::limits::{Counters, Held, Limits, Refused, Resource};
use super::peer::{Peer, PeerError};
use super::threads::SandboxThreads;
use crate::audit::event::{self, Lifecycle, Who};
use crate::audit::{Audit, Event};
use crate::sandbox::start::{Handover, Sandbox};
use crate::transport::seccomp::Floor;
use crate::transport::shim::{ChannelAdmit, ChannelSetup};

/// How long a client has to send its hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(5);

/// A sandbox the daemon is serving, and the means to end it.
struct Live {
    /// The launcher (the sandbox's supervisor), for SIGKILL when it does not end the
    /// sandbox itself.
    pidfd: Option<OwnedFd>,
    /// A duplicate of the broker's end of the bootstrap socket: shutting it down ends the
    /// sandbox's registrations.
    bootstrap: OwnedFd,
    /// A duplicate of the connection to the launcher: shutting it down asks the launcher to
    /// kill every process of the sandbox and exit.
    conn: Option<OwnedFd>,
    /// The inode of the sandbox's end of the bootstrap socket, which every process of the
    /// sandbox holds ([`super::sweep`]).
    inode: u64,
}

/// State shared by the accept loop and every session.
pub struct Shared {
    /// The current configuration (replaced on a successful SIGHUP reload).
    pub config: RwLock<Arc<Config>>,
    /// The daemon's audit log; each sandbox tags its records with its own id.
    pub audit: Audit,
    live: Mutex<HashMap<u64, Live>>,
    /// The shim the daemon's sandboxes preload (its own build).
    pub shim: PathBuf,
    /// The exact files of the kernel floor, which the seccomp transport opens directly.
    pub floor: Floor,
    /// What every uid holds (sandboxes, channels, pending connections).
    pub counters: Arc<Counters>,
    /// Session threads not yet finished (a stopping daemon waits for them).
    pub sessions: AtomicUsize,
}

/// Counts one session thread in [`Shared::sessions`] until dropped.
pub struct SessionGuard(Arc<Shared>);

impl SessionGuard {
    /// Counts a new session.
    pub fn new(shared: &Arc<Shared>) -> SessionGuard {
        shared.sessions.fetch_add(1, Ordering::SeqCst);
        SessionGuard(Arc::clone(shared))
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.0.sessions.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Shared {
    /// Shared state with `config` and `audit`, serving sandboxes that preload `shim`.
    pub fn new(config: Config, audit: Audit, shim: PathBuf) -> Shared {
        // The same exact-file floor `arbiter run` gives its seccomp transport; no program
        // prefixes (the daemon does not widen a profile for the client's program).
        // No program prefixes here: every entry is a system path.
        // A floor that changed while it was looked at (a racer) leaves the table empty: the
        // core decides every open.
        let surveyed = crate::confine::floor::survey(
            crate::confine::floor::paths(&[], &shim),
            &crate::confine::real_paths::RealPaths::new(),
        )
        .map(|(s, _)| s)
        .unwrap_or_default();
        Shared {
            config: RwLock::new(Arc::new(config)),
            audit,
            live: Mutex::new(HashMap::new()),
            floor: Floor::new(&surveyed),
            shim,
            counters: Arc::new(Counters::default()),
            sessions: AtomicUsize::new(0),
        }
    }

    /// The limits in force (the current configuration's).
    pub fn limits(&self) -> Limits {
        self.current_config().limits.clone()
    }

    fn current_config(&self) -> Arc<Config> {
        self.config
            .read()
            .map(|c| Arc::clone(&c))
            .unwrap_or_else(|p| Arc::clone(&p.into_inner()))
    }

    /// Number of sandboxes still being served.
    pub fn live(&self) -> usize {
        self.live.lock().map(|l| l.len()).unwrap_or(0)
    }

    /// Ends every live sandbox: its connection is shut down (the launcher then kills every
    /// process of the sandbox and exits) and so is its bootstrap socket (a straggler's
    /// calls fail closed). With `kill`, the launcher is also sent SIGKILL (a launcher that
    /// did not end by itself).
    pub fn end_all(&self, kill: bool) {
        let Ok(live) = self.live.lock() else { return };
        for (id, sb) in live.iter() {
            if let Some(conn) = &sb.conn {
                let _ = socket::shutdown(conn.as_raw_fd(), socket::Shutdown::Both);
            }
            let _ = socket::shutdown(sb.bootstrap.as_raw_fd(), socket::Shutdown::Both);
            if let (true, Some(pidfd)) = (kill, &sb.pidfd) {
                // SAFETY: pidfd is an open pidfd; the other arguments are plain integers.
                unsafe {
                    libc::syscall(
                        libc::SYS_pidfd_send_signal,
                        pidfd.as_raw_fd(),
                        libc::SIGKILL,
                        std::ptr::null::<libc::siginfo_t>(),
                        0,
                    )
                };
                sweep_all(sb.inode);
            }
            let why = if kill {
                "the launcher did not end it"
            } else {
                "grace period over"
            };
            self.audit
                .for_sandbox(*id)
                .record(Event::Lifecycle(Lifecycle::Killed {
                    why: why.to_string(),
                    processes: None,
                }));
        }
    }
}

fn random_id() -> u64 {
    let mut b = [0u8; 8];
    // SAFETY: b is a valid 8-byte buffer.
    unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
    u64::from_ne_bytes(b)
}

fn send_reply(conn: &OwnedFd, reply: &HelloReply<'_>, fd: Option<&OwnedFd>) -> Result<(), i32> {
    let mut out = vec![0u8; MAX_MESSAGE];
    let bytes = encode(reply, &mut out).map_err(|_| libc::EMSGSIZE)?;
    let fds: Vec<i32> = fd.map(|f| f.as_raw_fd()).into_iter().collect();
    send_with_fds(conn.as_raw_fd(), bytes, &fds)
}

/// Refuses a client over a limit: an audit record naming the limit, and the reason.
fn refuse_limit(conn: &OwnedFd, audit: &Audit, who: Who, r: &Refused) {
    audit.record(Event::Lifecycle(Lifecycle::Refused {
        client: Some(who),
        what: None,
        uid: None,
        limit: Some(r.key),
        value: Some(r.limit),
        reason: r.reason.clone(),
    }));
    let _ = send_reply(conn, &refusal(&r.reason), None);
}

/// Refuses a connection over the pending limit from the accept loop, without a thread and
/// without waiting: the hello, if it has arrived, is read first (closing a socket with
/// unread data resets the connection, losing the reason).
pub fn refuse_now(conn: &OwnedFd, audit: &Audit, uid: u32, r: &Refused) {
    let who = Who::Client(event::Client {
        uid,
        gid: None,
        pid: None,
        pinned_by: None,
    });
    let mut buf = [0u8; 512];
    // SAFETY: buf is writable for its length; MSG_DONTWAIT never blocks the accept loop.
    unsafe {
        libc::recv(
            conn.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_DONTWAIT,
        )
    };
    refuse_limit(conn, audit, who, r);
}

fn refusal(reason: &str) -> HelloReply<'_> {
    HelloReply {
        version: DAEMON_VERSION,
        accepted: false,
        reason,
        sandbox: 0,
        profile: "",
        tmpdir: b"",
        shim: b"",
    }
}

/// Refuses a client: an audit record and a refused [`HelloReply`] with `reason`.
fn refuse(conn: &OwnedFd, audit: &Audit, who: Who, reason: &str) {
    audit.record(Event::Lifecycle(Lifecycle::Refused {
        client: Some(who),
        what: None,
        uid: None,
        limit: None,
        value: None,
        reason: reason.to_string(),
    }));
    let _ = send_reply(conn, &refusal(reason), None);
}

/// Serves one accepted connection to its end (the end of its sandbox, when accepted).
/// `peer` was read and pinned right after accept ([`Peer::of`]); `pending` counts this
/// connection until its hello is answered.
pub fn handle(conn: OwnedFd, peer: Result<Peer, PeerError>, pending: Held, shared: Arc<Shared>) {
    let audit = &shared.audit;
    let who = match &peer {
        Ok(p) => Who::Client(event::Client {
            uid: p.uid,
            gid: Some(p.gid),
            pid: Some(p.pid),
            pinned_by: Some(p.pinning.name()),
        }),
        Err(_) => Who::Unknown,
    };
    let _ = socket::setsockopt(
        &conn,
        sockopt::ReceiveTimeout,
        &nix::sys::time::TimeVal::new(HELLO_TIMEOUT.as_secs() as _, 0),
    );
    let mut buf = vec![0u8; MAX_MESSAGE];
    let mut raw = [-1; MAX_FDS];
    let got = match recv_with_fds(conn.as_raw_fd(), &mut buf, &mut raw, 0) {
        Ok(g) if g.nfds == 0 && g.len > 0 => g,
        // A liveness probe (another daemon starting on this path): connected and closed.
        Ok(g) if g.nfds == 0 => return,
        Ok(g) => {
            for fd in &raw[..g.nfds] {
                // SAFETY: just received, owned by nobody else.
                drop(unsafe { OwnedFd::from_raw_fd(*fd) });
            }
            return refuse(&conn, audit, who, "malformed hello");
        }
        Err(e) => return refuse(&conn, audit, who, &format!("no hello: {e:?}")),
    };
    let hello = match decode::<Hello>(&buf[..got.len]) {
        Ok(h) if h.version == DAEMON_VERSION => h,
        Ok(h) => {
            let why = format!(
                "daemon protocol version {} is not supported (this daemon speaks {DAEMON_VERSION})",
                h.version
            );
            return refuse(&conn, audit, who, &why);
        }
        Err(e) => {
            // Another version's hello may not decode at all: name its version if it has one.
            let why = match hello_version(&buf[..got.len]) {
                Some(v) if v != DAEMON_VERSION => format!(
                    "daemon protocol version {v} is not supported (this daemon speaks {DAEMON_VERSION})"
                ),
                _ => format!("malformed hello: {e}"),
            };
            return refuse(&conn, audit, who, &why);
        }
    };
    if let Err(e) = hello.check() {
        return refuse(&conn, audit, who, &format!("invalid hello: {e}"));
    }

    let peer = match peer {
        Ok(p) => p,
        Err(e) => return refuse(&conn, audit, who, &e.to_string()),
    };
    let (uid, gid, pid) = (peer.uid, peer.gid, peer.pid);
    let groups = peer.groups.clone();
    let user = User::from_uid(Uid::from_raw(uid)).ok().flatten();
    let group_names = std::iter::once(gid)
        .chain(groups.iter().copied())
        .filter_map(|g| {
            Group::from_gid(Gid::from_raw(g))
                .ok()
                .flatten()
                .map(|gr| (g, gr.name))
        })
        .collect();
    let client = Client {
        uid,
        gid,
        groups: groups.clone(),
        user: user.as_ref().map(|u| u.name.clone()),
        group_names,
    };
    let config = shared.current_config();
    let grant = match config.grant(&client, hello.profile) {
        Ok(g) => g,
        Err(why) => return refuse(&conn, audit, who, &why),
    };
    let sandbox_held = match shared.counters.take(&config.limits, uid, Resource::Sandbox) {
        Ok(h) => h,
        Err(r) => return refuse_limit(&conn, audit, who, &r),
    };
    let creds = FsCreds { uid, gid, groups };
    let own = creds.are_own();
    if !own && !nix::unistd::geteuid().is_root() {
        let why = format!("this daemon cannot act as uid {uid}: it does not run as root");
        return refuse(&conn, audit, who, &why);
    }
    // Every thread serving this sandbox registers itself (so the sandbox's end can interrupt
    // one still blocked for it) and takes on the client's whole identity, without capabilities.
    let threads = Arc::new(SandboxThreads::default());
    let setup: ChannelSetup = {
        let threads = Arc::clone(&threads);
        Arc::new(move || {
            threads.enter();
            if own {
                Ok(())
            } else {
                creds.apply_to_this_thread()
            }
        })
    };

    // The policy's $PWD is where the client really is, never what the hello claims: read
    // through the pinned process's own /proc entry, refused once that process is gone.
    let pwd = match peer.cwd() {
        Ok(p) => p,
        Err(e) => return refuse(&conn, audit, who, &e.to_string()),
    };
    let tmpdir = match private_tmpdir(uid, gid) {
        Ok(t) => t,
        Err(e) => {
            return refuse(
                &conn,
                audit,
                who,
                &format!("cannot create the sandbox's TMPDIR: {e}"),
            )
        }
    };
    let vars = Vars {
        home: user.as_ref().map(|u| u.dir.clone()),
        pwd: pwd.clone(),
        tmpdir: tmpdir.path().to_path_buf(),
        xdg_config_home: None,
        xdg_cache_home: None,
        xdg_data_home: None,
        xdg_runtime_dir: None,
    };
    let policy = match Policy::load(std::slice::from_ref(&grant.source), &vars) {
        Ok(p) => Arc::new(p),
        Err(e) => {
            let why = format!("profile `{}` is invalid: {e}", grant.name);
            return refuse(&conn, audit, who, &why);
        }
    };

    let id = random_id();
    let sb_audit = shared.audit.for_sandbox(id);
    sb_audit.record(Event::Start(Box::new(event::Start {
        command: split_argv(hello.argv)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect(),
        policy: event::PolicyId {
            digest: policy.digest(),
            sources: vec![source_name(&grant.source)],
        },
        uid: Some(uid),
        gid: Some(gid),
        pid: Some(pid),
        profile: Some(grant.name.to_string()),
        pwd: Some(pwd.display().to_string()),
        pinned_by: Some(peer.pinning.name()),
        claimed_cwd: Some(String::from_utf8_lossy(hello.cwd).into_owned()),
        ..event::Start::default()
    })));
    // Both transports, as under `arbiter run`: the launcher sends its notify listener on the
    // bootstrap socket; `setup` gives every channel thread and seccomp worker the client's
    // identity (no capabilities).
    let admit: ChannelAdmit = {
        let counters = Arc::clone(&shared.counters);
        let limits = config.limits.clone();
        let sb_audit = sb_audit.clone();
        Arc::new(
            move || match counters.take(&limits, uid, Resource::Channel) {
                Ok(h) => Ok(Box::new(h) as Box<dyn Send>),
                Err(r) => {
                    sb_audit.record(Event::Lifecycle(Lifecycle::Refused {
                        client: None,
                        what: Some("channel"),
                        uid: Some(uid),
                        limit: Some(r.key),
                        value: Some(r.limit),
                        reason: r.reason.clone(),
                    }));
                    Err(r.reason)
                }
            },
        )
    };
    let handover = Sandbox::new(policy)
        .audit(sb_audit.clone())
        .seccomp_floor(shared.floor.clone())
        .channel_hooks(setup, admit)
        .serve_elsewhere();
    let Handover {
        // Kept to drain what the shim reported before the `exit` record.
        core: reporting,
        child_end,
        broker_end: bootstrap_dup,
        served,
    } = match handover {
        Ok(h) => h,
        Err(e) => return refuse(&conn, audit, who, &e.to_string()),
    };
    let inode = nix::sys::stat::fstat(child_end.as_raw_fd()).map_or(0, |st| st.st_ino);
    if let Ok(mut live) = shared.live.lock() {
        live.insert(
            id,
            Live {
                pidfd: peer.pidfd.try_clone().ok(),
                conn: conn.try_clone().ok(),
                inode,
                bootstrap: bootstrap_dup,
            },
        );
    }
    let reply = HelloReply {
        version: DAEMON_VERSION,
        accepted: true,
        reason: "",
        sandbox: id,
        profile: &grant.name,
        tmpdir: tmpdir.path().as_os_str().as_bytes(),
        shim: shared.shim.as_os_str().as_bytes(),
    };
    if let Err(e) = send_reply(&conn, &reply, Some(&child_end)) {
        sb_audit.record(Event::Lifecycle(Lifecycle::HandoverFailed { errno: e }));
        if let Ok(live) = shared.live.lock() {
            if let Some(sb) = live.get(&id) {
                let _ = socket::shutdown(sb.bootstrap.as_raw_fd(), socket::Shutdown::Both);
            }
        }
    }
    drop(child_end);
    drop(pending);
    // The sandbox lives until every process has closed the bootstrap socket *and* its
    // launcher is gone (a process that closed the socket is still the launcher's to kill,
    // and still counts against the limits). When the launcher's connection closes while the
    // socket is still held, the launcher died before its sandbox: nothing supervises what
    // is left, so the daemon ends it itself — the bootstrap socket shut down (stragglers
    // fail closed) and every process holding it killed.
    let mut conn_open = true;
    while conn_open || !served.is_finished() {
        if !conn_open {
            std::thread::sleep(Duration::from_millis(100));
            continue;
        }
        let mut pfd = libc::pollfd {
            fd: conn.as_raw_fd(),
            events: libc::POLLIN | libc::POLLRDHUP,
            revents: 0,
        };
        // SAFETY: pfd is one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, 100) };
        if n > 0 && pfd.revents != 0 {
            conn_open = false;
            if served.is_finished() {
                break; // the usual end: the launcher exits after its sandbox
            }
            if let Ok(live) = shared.live.lock() {
                if let Some(sb) = live.get(&id) {
                    let _ = socket::shutdown(sb.bootstrap.as_raw_fd(), socket::Shutdown::Both);
                }
            }
            // Nothing is served for it from now on, and the processes it registered call
            // channels from are killed whether or not they still hold the bootstrap socket.
            threads.end();
            let killed = sweep_all(inode) + threads.kill_seen();
            if killed > 0 {
                sb_audit.record(Event::Lifecycle(Lifecycle::Killed {
                    why: "the launcher is gone".into(),
                    processes: Some(killed),
                }));
            }
        }
    }
    drop(conn);
    let _ = served.join();
    // The sandbox has ended: no thread serves it any more (channels shut down, seccomp
    // workers stop when woken, the last one closing the listener), and a process that
    // registered a call channel and outlived its supervisor is killed.
    threads.end();
    let stragglers = threads.kill_seen();
    if stragglers > 0 {
        sb_audit.record(Event::Lifecycle(Lifecycle::Killed {
            why: "left after the sandbox ended".into(),
            processes: Some(stragglers),
        }));
    }
    // Every process has closed the bootstrap socket. Threads still serving the sandbox are
    // blocked on its behalf (a FIFO open with no writer, say): interrupt them, so that
    // nothing the sandbox held outlives it.
    let mut stuck = threads.interrupt_all();
    for _ in 0..250 {
        if stuck == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
        stuck = threads.interrupt_all();
    }
    if stuck > 0 {
        sb_audit.record(Event::Lifecycle(Lifecycle::StuckThreads { threads: stuck }));
    }
    remove_tmpdir(tmpdir);
    // The `exit` record as `arbiter run` writes it: the launcher's status (it exits with
    // the command's, right after it has killed what was left of the sandbox).
    // The kernel keeps the status for the pidfd once the launcher's parent has reaped it
    // (usually at once): wait for that a little, then write the record without a status.
    let mut status = None;
    if peer.wait_exit(Duration::from_secs(2)) {
        for _ in 0..100 {
            status = peer.exit_status();
            if status.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    reporting.finish_reports();
    drop(reporting);
    sb_audit.exit(pid, status);
    // Only now is the sandbox gone for a daemon waiting to stop: its last record is queued
    // and its TMPDIR removed.
    if let Ok(mut live) = shared.live.lock() {
        live.remove(&id);
    }
    drop(sandbox_held);
}

/// Kills every process holding the sandbox's socket `inode`, round after round (a process
/// may fork meanwhile), until none is found; returns how many were killed.
fn sweep_all(inode: u64) -> usize {
    let mut total = 0;
    for _ in 0..100 {
        let n = super::sweep::kill_holders(inode);
        if n == 0 {
            break;
        }
        total += n;
        std::thread::sleep(Duration::from_millis(10));
    }
    total
}

/// How a policy source is named in a `start` record (as `arbiter run` names them).
fn source_name(source: &arbiter_policies::Source) -> String {
    match source {
        arbiter_policies::Source::Builtin(name) => format!("builtin:{name}"),
        arbiter_policies::Source::File(path) => path.display().to_string(),
        arbiter_policies::Source::Text { origin, .. } => origin.clone(),
    }
}

/// Removes a sandbox's TMPDIR and whatever the sandbox left in it.
fn remove_tmpdir(dir: tempfile::TempDir) {
    let path = dir.keep();
    if std::fs::remove_dir(&path).is_err() {
        let _ = std::fs::remove_dir_all(&path);
    }
}

/// A private directory for one sandbox, owned by the client, removed when dropped.
fn private_tmpdir(uid: u32, gid: u32) -> std::io::Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new()
        .prefix("arbiter-sandbox-")
        .tempdir()?;
    std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))?;
    Ok(dir)
}
