//! The seccomp transport: path syscalls that never reach the shim (static binaries, raw
//! `syscall()`, ld.so's and glibc's internal opens) arrive as seccomp user notifications.
//!
//! The notify filter (`confine::seccomp::NotifyFilter`) is installed in `arbiter run`'s
//! child, whose listener fd reaches the broker on the bootstrap socket. Worker threads (two,
//! more while all are busy) receive notifications, read the path strings out of the target
//! with `process_vm_readv` (once: the broker decides and acts on its own copy, so a thread
//! that rewrites the buffer meanwhile changes nothing), pin the base directory
//! (`/proc/<tid>/cwd` or `/proc/<tid>/fd/<dirfd>`), check that the notification is still
//! valid (the target has not died and its pid been reused), and hand a [`Call`] to the one
//! [`RequestCore`].
//! Results go back atomically: fds with `SECCOMP_IOCTL_NOTIF_ADDFD` +
//! `SECCOMP_ADDFD_FLAG_SEND`, stat/readlink data written into the target's buffers with
//! `process_vm_writev`, errors as `-errno`. A checked call is never let through with
//! `SECCOMP_USER_NOTIF_FLAG_CONTINUE`, except a plain read beneath the native-read floor
//! whose kernel open ends where the broker's would ([`reads`]).
//!
//! Paths naming the caller's own state (`/proc/self`, `/proc/thread-self`, `/dev/fd/N`,
//! `/dev/std*`) are rewritten to the target's `/proc/<pid>` before the core sees them, so the
//! broker never resolves its own `/proc/self`. An open of `/proc/<pid>/fd/N` (the caller's
//! own fds) re-opens the caller's open file description when it grants the access asked
//! for, and is otherwise decided on the real path of the file it names; pipes, sockets and
//! anonymous inodes are re-opened directly. A `stat` of that name is the fd's `fstat`.

use std::cell::OnceCell;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use arbiter_protocol::{At, Call, PathArg, SockAddr, Timespec, MAX_PATH};

use crate::audit::event::{ProtocolError, SeccompDirect, SeccompRefused};
use crate::audit::process::ExeCache;
use crate::audit::Event;
use crate::confine::floor::{FloorAccess, Surveyed};
use crate::confine::syscalls::{self, Kind};
use crate::core::{Caller, OutPayload, RequestCore, Transport};
use crate::transport::shim::ChannelSetup;

#[path = "seccomp_net.rs"]
mod net;
#[path = "seccomp_reads.rs"]
mod reads;
#[path = "seccomp_signals.rs"]
mod signals;

/// Worker threads started with the listener: one answering, one waiting for the next
/// notification (ld.so's opens arrive one after another).
const FIRST_WORKERS: usize = 2;
/// Most worker threads per listener: another is started whenever every worker is busy with
/// a notification (a slow call, or several threads calling at once), up to this many plus
/// one per slow call the sandbox's budget counts (`core::slow`: blocking connects and
/// sends, FIFO opens waiting in `core::waiting`).
const WORKERS: usize = 4;
/// Stack size of a worker.
const WORKER_STACK: usize = 512 * 1024;
/// `SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP` (Linux 6.6): wake the worker on the CPU of the
/// calling thread, which is about to wait for the answer anyway.
const FD_SYNC_WAKE_UP: u64 = 1;

/// Files the kernel floor grants natively (the shim, a few devices): an open of exactly
/// one of these paths is performed by the transport itself, as Landlock would allow it, on
/// the object the floor's survey found there (same device and inode), never on whatever
/// the name leads to now.
#[derive(Debug, Clone, Default)]
pub struct Floor {
    files: Vec<FloorFile>,
}

/// One exact file of the floor.
#[derive(Debug, Clone)]
struct FloorFile {
    path: PathBuf,
    /// Read+write (a device) or read-only.
    rw: bool,
    /// `(device, inode)` of the surveyed object.
    id: (u64, u64),
}

impl Floor {
    /// The exact-file entries of a kernel floor: regular files read-only, devices read-write.
    /// Entries the survey did not find are left out (the core decides them).
    pub fn new(floor: &[Surveyed]) -> Floor {
        let files = floor
            .iter()
            .filter_map(|e| {
                let rw = match (e.access, e.kind) {
                    (FloorAccess::ReadExec, Some((_, true))) => false,
                    (FloorAccess::ReadWriteFile, Some(_)) => true,
                    _ => return None,
                };
                Some(FloorFile {
                    path: e.path.clone(),
                    rw,
                    id: e.id?,
                })
            })
            .collect();
        Floor { files }
    }

    fn lookup(&self, path: &[u8]) -> Option<&FloorFile> {
        self.files
            .iter()
            .find(|f| f.path.as_os_str().as_bytes() == path)
    }
}

/// What the workers of one listener share.
struct Pool {
    listener: OwnedFd,
    core: Arc<RequestCore>,
    floor: Floor,
    exes: ExeCache,
    /// Run first in every worker and connect thread (`arbiter serve` takes on the client's
    /// filesystem credentials, which Linux keeps per thread); a thread whose setup fails
    /// answers every notification it takes with `EACCES` (fail closed).
    setup: Option<ChannelSetup>,
    /// Workers started.
    workers: AtomicUsize,
    /// Workers answering a notification.
    busy: AtomicUsize,
}

impl Pool {
    /// Starts one more worker. Returns false when the thread could not be started.
    fn start_worker(self: &Arc<Self>) -> bool {
        let pool = Arc::clone(self);
        std::thread::Builder::new()
            .name("seccomp".into())
            .stack_size(WORKER_STACK)
            .spawn(move || worker(&pool))
            .is_ok()
    }

    /// Marks one worker busy, starting another if none is left waiting for notifications.
    fn enter(self: &Arc<Self>) {
        self.busy.fetch_add(1, Ordering::AcqRel);
        self.grow();
    }

    /// Starts another worker if every started one is busy and the limit allows it.
    fn grow(self: &Arc<Self>) {
        let busy = self.busy.load(Ordering::Acquire);
        let mut started = self.workers.load(Ordering::Acquire);
        let limit = WORKERS + self.core.slow().calls();
        while busy >= started && started < limit {
            match self.workers.compare_exchange(
                started,
                started + 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    if !self.start_worker() {
                        self.workers.fetch_sub(1, Ordering::AcqRel);
                    }
                    return;
                }
                Err(now) => started = now,
            }
        }
    }

    fn leave(&self) {
        self.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Starts serving `listener`. The workers end when the last sandboxed process exits.
/// `setup` runs first in every thread that answers notifications.
pub fn serve(
    listener: OwnedFd,
    core: Arc<RequestCore>,
    floor: Floor,
    setup: Option<ChannelSetup>,
) -> std::io::Result<()> {
    // Best effort: older kernels answer EINVAL, and the workers are then woken as usual.
    // SAFETY: the flag is passed by value; the ioctl only sets a flag on our listener.
    unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_SET_FLAGS as _,
            FD_SYNC_WAKE_UP,
        )
    };
    let pool = Arc::new(Pool {
        listener,
        core,
        floor,
        exes: ExeCache::default(),
        setup,
        workers: AtomicUsize::new(FIRST_WORKERS),
        busy: AtomicUsize::new(0),
    });
    for _ in 0..FIRST_WORKERS {
        if !pool.start_worker() {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

fn errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// Runs the pool's setup in this thread; false (audited) when it failed.
fn set_up(pool: &Pool) -> bool {
    match pool.setup.as_ref().map(|f| f()) {
        Some(Err(e)) => {
            pool.core
                .audit()
                .record(Event::ProtocolError(ProtocolError {
                    channel: "seccomp",
                    pid: None,
                    error: format!("worker setup failed: {e}"),
                    call: None,
                }));
            false
        }
        _ => true,
    }
}

fn worker(pool: &Arc<Pool>) {
    let fd = pool.listener.as_raw_fd();
    let ready = set_up(pool);
    // The thread's first allocation sets up its malloc arena (a 64 MiB mapping): done now,
    // while the program is still starting, rather than inside its first call.
    drop(std::hint::black_box(Vec::<u8>::with_capacity(4096)));
    loop {
        // Waiting in the receive itself, not in `poll`: every waiter is woken by each
        // notification, but one that finds it taken sleeps again inside the kernel
        // instead of returning to `poll` through user space (about half the cost of each
        // such wake-up on the program's CPU; docs/performance.md).
        // SAFETY: seccomp_notif is plain old data; the kernel requires it zeroed.
        let mut req: libc::seccomp_notif = unsafe { std::mem::zeroed() };
        // SAFETY: req is a valid, writable seccomp_notif.
        if unsafe { libc::ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_RECV as _, &mut req) } < 0 {
            match errno() {
                // Woken because its sandbox ended (`arbiter serve`): stop serving it.
                libc::EINTR if crate::serve::threads::sandbox_ended() => return,
                libc::EINTR | libc::EAGAIN => continue,
                // Another worker took it, the target died before we received it, or no
                // process is left under the filter (Linux ≥ 6.11 then answers at once):
                // `poll` tells which.
                libc::ENOENT if listener_hung_up(fd) => return,
                libc::ENOENT => continue,
                _ => return,
            }
        }
        // In progress from here until the answer is sent: the sandbox's `exit` record waits
        // for it and for whatever this worker records on the way (core::finish_reports).
        let _serving = pool.core.serving();
        if !ready {
            Answer::Error(libc::EACCES).send(fd, req.id);
            continue;
        }
        // A blocking connect or send may wait for the peer as long as the kernel's SYN
        // retries or the peer's reading: counted against the sandbox's budget (holding its
        // socket), so the pool starts another worker rather than hold path calls up behind
        // it; beyond the budget it is served uncounted (core::slow).
        let slow = if net::may_block(&req) {
            pool.core.slow().call(1)
        } else {
            None
        };
        pool.enter();
        let answer = if opens(&req) {
            // An open may wait for a FIFO's peer: without holding up the pool, and only
            // while its caller waits (core::waiting).
            let waiter = Box::new(OpenWaiter {
                pool: Arc::clone(pool),
                id: req.id,
                tid: req.pid as i32,
            });
            crate::core::waiting::serving(waiter, || {
                serve_one(fd, &pool.core, &pool.floor, &pool.exes, &req)
            })
        } else {
            serve_one(fd, &pool.core, &pool.floor, &pool.exes, &req)
        };
        // No longer busy before the answer goes out: an fd is installed by the target
        // itself (`SECCOMP_IOCTL_NOTIF_ADDFD` waits until it has), which then runs on and
        // makes its next call — ld.so's next open — while this worker is still in the
        // ioctl. Counted busy there, that call found every worker busy and the pool grew
        // by one at each exec, to its limit, and every idle worker is woken by every
        // notification (they all wait on the listener).
        pool.leave();
        answer.restarting(req.pid as i32).send(fd, req.id);
        drop(slow);
    }
}

/// Whether the listener reports `POLLHUP` (no process is left under the filter), looked
/// at without waiting.
fn listener_hung_up(fd: RawFd) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: pfd is one valid pollfd; a zero timeout never waits.
    let n = unsafe { libc::poll(&mut pfd, 1, 0) };
    n < 0 || (n > 0 && pfd.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0)
}

/// Whether the notification is an open (`open`, `openat`, `openat2`, `creat`).
fn opens(req: &libc::seccomp_notif) -> bool {
    matches!(
        syscalls::brokered(i64::from(req.data.nr), &req.data.args),
        Some(Kind::Open | Kind::Openat | Kind::Openat2 | Kind::Creat)
    )
}

/// The pool's side of an open that may wait for a FIFO's peer.
struct OpenWaiter {
    pool: Arc<Pool>,
    id: u64,
    tid: i32,
}

impl crate::core::waiting::Waiter for OpenWaiter {
    fn still_waiting(&self) -> bool {
        net::still_waiting(self.pool.listener.as_raw_fd(), self.id, self.tid)
    }

    fn budget(&self) -> &crate::core::slow::Budget {
        self.pool.core.slow()
    }

    fn blocking(&self) {
        // The budget counts this open now: the pool's limit is one higher.
        self.pool.grow();
    }

    fn unblocked(&self) {}
}

/// Decides one notification; the caller sends the answer.
fn serve_one(
    fd: RawFd,
    core: &RequestCore,
    floor: &Floor,
    exes: &ExeCache,
    req: &libc::seccomp_notif,
) -> Answer {
    // Only a read-only open may take the transport's shortcuts, whose checks run with the
    // program's rights (`reads`); everything else acts with the broker's, which a previous
    // check may have left dropped in this thread.
    let shortcut = matches!(
        syscalls::brokered(i64::from(req.data.nr), &req.data.args),
        Some(Kind::Open | Kind::Openat)
    ) && !core.audit().records_every_call();
    if !shortcut {
        if let Err(e) = reads::full_capabilities() {
            return Answer::Error(e);
        }
    }
    let mut t = Target::new(fd, req);
    // Only a log of every call needs each caller's executable up front (at
    // `--audit-level deny` a record is rare, and /proc/<tid>/status costs a read per call).
    if core.audit().records_every_call() {
        match t.status() {
            Ok(st) => {
                let (exe, first) = exes.get(st.tgid, &st.name);
                if first {
                    core.audit().process(st.tgid, exe.as_deref(), "seccomp");
                }
                t.exe = exe;
                t.handle(core, floor, req)
            }
            Err(e) => Answer::Error(e),
        }
    } else {
        t.handle(core, floor, req)
    }
}

/// How a notification is answered.
enum Answer {
    /// Return this value.
    Value(i64),
    /// Fail with this errno.
    Error(i32),
    /// Install this fd in the target and return its number.
    Fd(OwnedFd, bool),
    /// The notification is no longer valid: nothing to answer.
    Gone,
    /// Let the kernel perform the call itself (`SECCOMP_USER_NOTIF_FLAG_CONTINUE`): only a
    /// read-only open [`reads::open_shortcut`] or [`reads::floor_file_continues`] found to
    /// end where the broker's would.
    Continue,
}

impl Answer {
    /// `EINTR` from a wait the broker gave up because a signal is pending for the caller
    /// (see [`signals`]) becomes `ERESTARTSYS`, so the kernel restarts the call or fails it
    /// as a native interrupted wait; any other answer is unchanged.
    fn restarting(self, tid: i32) -> Answer {
        match self {
            Answer::Error(libc::EINTR) if signals::interrupting(tid) => {
                Answer::Error(signals::ERESTARTSYS)
            }
            other => other,
        }
    }

    fn send(self, listener: RawFd, id: u64) {
        let mut flags = 0;
        let (val, error) = match self {
            Answer::Gone => return,
            Answer::Continue => {
                flags = libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32;
                (0, 0)
            }
            Answer::Value(v) => (v, 0),
            Answer::Error(e) => (0, -e),
            Answer::Fd(fd, cloexec) => {
                // A file open for writing: the broker's copy is closed before the target runs
                // again (the fd is added without SECCOMP_ADDFD_FLAG_SEND, then the answer is
                // sent), else an immediate execve of the file fails with ETXTBSY while the
                // copy lingers here (a static program writing and running a binary). Between
                // the two only a fatal signal interrupts the target (the filter's
                // WAIT_KILLABLE_RECV, confine::seccomp); on a kernel without it, a target
                // interrupted there keeps the fd without the answer.
                let writing = open_for_writing(&fd);
                let mut add = libc::seccomp_notif_addfd {
                    id,
                    flags: if writing {
                        0
                    } else {
                        libc::SECCOMP_ADDFD_FLAG_SEND as u32
                    },
                    srcfd: fd.as_raw_fd() as u32,
                    newfd: 0,
                    newfd_flags: if cloexec { libc::O_CLOEXEC as u32 } else { 0 },
                };
                // SAFETY: add is a valid seccomp_notif_addfd for the call's duration.
                let rc =
                    unsafe { libc::ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_ADDFD as _, &add) };
                if rc >= 0 && !writing {
                    return; // sent atomically
                }
                if rc >= 0 {
                    drop(fd);
                    (i64::from(rc), 0)
                } else {
                    match errno() {
                        libc::EINVAL if writing => {
                            return Answer::Error(libc::EINVAL).send(listener, id)
                        }
                        libc::EINVAL => {}
                        // The notification is no longer valid: the target is gone.
                        libc::ENOENT => return,
                        // The kernel installs no O_PATH fd (fget() skips them): the open is
                        // refused rather than left unanswered (docs/security.md).
                        libc::EBADF if is_o_path(&fd) => {
                            return Answer::Error(libc::EACCES).send(listener, id)
                        }
                        // Anything else (EMFILE at the target's RLIMIT_NOFILE, …) is its answer.
                        e => return Answer::Error(e).send(listener, id),
                    }
                    // Before Linux 5.14: add the fd, then reply with its number.
                    add.flags = 0;
                    // SAFETY: as above.
                    let rc = unsafe {
                        libc::ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_ADDFD as _, &add)
                    };
                    drop(fd);
                    if rc < 0 {
                        (0, -errno())
                    } else {
                        (i64::from(rc), 0)
                    }
                }
            }
        };
        let resp = libc::seccomp_notif_resp {
            id,
            val,
            error,
            flags,
        };
        // SAFETY: resp is a valid seccomp_notif_resp. A failure means the target is gone.
        unsafe { libc::ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_SEND as _, &resp) };
    }
}

/// Whether `fd` was opened for writing (`F_GETFL`).
fn open_for_writing(fd: &OwnedFd) -> bool {
    // SAFETY: fcntl(F_GETFL) on an fd we own.
    let fl = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    fl >= 0 && fl & libc::O_PATH == 0 && fl & libc::O_ACCMODE != libc::O_RDONLY
}

/// The process that made the call.
struct Target {
    listener: RawFd,
    id: u64,
    tid: i32,
    /// `/proc/<tid>/status`, read on first need: reading it costs about as much as the rest
    /// of a notification, and most calls (an open for reading with no audit log) never need it.
    status: OnceCell<Status>,
    /// The executable, when auditing.
    exe: Option<Arc<Path>>,
    /// Base directories for relative paths, passed to the core as `At::Fd(i)`.
    fds: Vec<OwnedFd>,
}

/// What `/proc/<tid>/status` says about the caller.
struct Status {
    tgid: i32,
    /// The process id as the caller knows it (`getpid()`): in the sandbox's pid namespace
    /// (as root, [`crate::sandbox::pidns`]) the innermost `NStgid:`, else `tgid`.
    ns_tgid: i32,
    uid: u32,
    gid: u32,
    umask: u32,
    /// The `comm` name (`Name:`), which exec changes: the key of the executable cache.
    name: String,
}

impl Status {
    fn read(tid: i32) -> Result<Status, i32> {
        let status = read_status(tid).map_err(|_| libc::ESRCH)?;
        let field = |k| status_field(&status, k).ok_or(libc::ESRCH);
        let tgid = field("Tgid:")? as i32;
        let ns_tgid = status
            .lines()
            .find_map(|l| l.strip_prefix("NStgid:"))
            .and_then(|l| l.split_whitespace().last()?.parse().ok())
            .unwrap_or(tgid);
        Ok(Status {
            tgid,
            ns_tgid,
            uid: field("Uid:")?,
            gid: field("Gid:")?,
            umask: field("Umask:").unwrap_or(0o022),
            name: status
                .lines()
                .find_map(|l| l.strip_prefix("Name:"))
                .map(|n| n.trim().to_owned())
                .unwrap_or_default(),
        })
    }
}

/// The first word after `key` on its `/proc/<tid>/status` line.
fn status_word<'a>(status: &'a str, key: &str) -> Option<&'a str> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))?
        .split_whitespace()
        .next()
}

fn status_field(status: &str, key: &str) -> Option<u32> {
    let first = status_word(status, key)?;
    if key == "Umask:" {
        u32::from_str_radix(first, 8).ok()
    } else {
        first.parse().ok()
    }
}

/// `/proc/<tid>/status` (as text, any bytes that are not UTF-8 replaced), in one read where
/// it fits: std's `read_to_string` asks for the
/// file's length (procfs says 0) and position first, then reads in small growing pieces.
fn read_status(tid: i32) -> std::io::Result<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(format!("/proc/{tid}/status"))?;
    let mut buf = vec![0u8; 4096];
    let mut len = 0;
    loop {
        if len == buf.len() {
            buf.resize(len * 2, 0);
        }
        match file.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(len);
    // The fields read are ASCII; the `Name:` line is the program's own choice of bytes,
    // which need not be UTF-8 (prctl(PR_SET_NAME)): it must not make the caller's call fail.
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// Whether `fd` was opened with `O_PATH`.
fn is_o_path(fd: &OwnedFd) -> bool {
    // SAFETY: fcntl(F_GETFL) on an fd we own.
    let fl = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    fl >= 0 && fl & libc::O_PATH != 0
}

fn open_raw(path: &str, flags: i32) -> Result<OwnedFd, i32> {
    let c = CString::new(path).map_err(|_| libc::EINVAL)?;
    // SAFETY: c is NUL-terminated.
    let fd = unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(errno());
    }
    // SAFETY: fd was just opened and is owned by no one else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

impl Target {
    fn new(listener: RawFd, req: &libc::seccomp_notif) -> Target {
        Target {
            listener,
            id: req.id,
            tid: req.pid as i32,
            status: OnceCell::new(),
            exe: None,
            fds: Vec::new(),
        }
    }

    /// The caller's status, read now if no call needed it before.
    fn status(&self) -> Result<&Status, i32> {
        if self.status.get().is_none() {
            let _ = self.status.set(Status::read(self.tid)?);
        }
        self.status.get().ok_or(libc::ESRCH)
    }

    /// The caller's process id.
    fn tgid(&self) -> Result<i32, i32> {
        self.status().map(|s| s.tgid)
    }

    /// The caller's umask, for calls that create.
    fn umask(&self) -> Result<u32, i32> {
        self.status().map(|s| s.umask)
    }

    /// Whether the notification is still pending (its thread alive, the pid not reused).
    fn valid(&self) -> bool {
        // SAFETY: id is a valid u64 for the call's duration.
        unsafe {
            libc::ioctl(
                self.listener,
                libc::SECCOMP_IOCTL_NOTIF_ID_VALID as _,
                &self.id,
            ) == 0
        }
    }

    fn read_mem(&self, addr: u64, buf: &mut [u8]) -> Result<usize, i32> {
        let local = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        let remote = libc::iovec {
            iov_base: addr as *mut libc::c_void,
            iov_len: buf.len(),
        };
        // SAFETY: local describes buf; remote is only read by the kernel in the target.
        let n = unsafe { libc::process_vm_readv(self.tid, &local, 1, &remote, 1, 0) };
        if n < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM) {
                warn_not_dumpable(self.tid);
            }
            Err(libc::EFAULT)
        } else {
            Ok(n as usize)
        }
    }

    /// Writes `data` at `addr` in the target, after confirming the notification is still
    /// pending: a thread killed meanwhile and its tid reused must not get the answer.
    fn write_mem(&self, addr: u64, data: &[u8]) -> Result<(), i32> {
        if !self.valid() {
            return Err(libc::ESRCH);
        }
        let local = libc::iovec {
            iov_base: data.as_ptr() as *mut libc::c_void,
            iov_len: data.len(),
        };
        let remote = libc::iovec {
            iov_base: addr as *mut libc::c_void,
            iov_len: data.len(),
        };
        // SAFETY: local describes data; remote is written by the kernel in the target.
        let n = unsafe { libc::process_vm_writev(self.tid, &local, 1, &remote, 1, 0) };
        if n < 0 || n as usize != data.len() {
            Err(libc::EFAULT)
        } else {
            Ok(())
        }
    }

    fn read_struct<T: Copy>(&self, addr: u64) -> Result<T, i32> {
        let mut buf = vec![0u8; std::mem::size_of::<T>()];
        if self.read_mem(addr, &mut buf)? != buf.len() {
            return Err(libc::EFAULT);
        }
        // SAFETY: buf holds size_of::<T>() bytes; T is plain old data (integers only).
        Ok(unsafe { std::ptr::read_unaligned(buf.as_ptr().cast::<T>()) })
    }

    /// A NUL-terminated string from the target, read page by page up to `PATH_MAX`.
    fn read_cstr(&self, mut addr: u64) -> Result<Vec<u8>, i32> {
        if addr == 0 {
            return Err(libc::EFAULT);
        }
        let mut out = Vec::new();
        let mut page = [0u8; 4096];
        while out.len() <= MAX_PATH {
            let chunk = 4096 - (addr % 4096) as usize;
            let n = self.read_mem(addr, &mut page[..chunk])?;
            if n == 0 {
                return Err(libc::EFAULT);
            }
            if let Some(end) = page[..n].iter().position(|&b| b == 0) {
                out.extend_from_slice(&page[..end]);
                return if out.len() >= MAX_PATH {
                    Err(libc::ENAMETOOLONG)
                } else {
                    Ok(out)
                };
            }
            out.extend_from_slice(&page[..n]);
            addr += n as u64;
        }
        Err(libc::ENAMETOOLONG)
    }

    /// Rewrites paths that name the caller's own state to the target's `/proc/<pid>`.
    fn rewrite(&self, raw: &[u8]) -> Vec<u8> {
        // A pid or thread id as the sandbox knows it (its pid namespace), translated here
        // and only here for this transport (the core leaves `Spelling::Host` paths alone).
        if let Some(own) = crate::core::procself::translate_own(raw) {
            return own;
        }
        // Lexically drop empty and `.` components so `//proc/./self` is caught too.
        let trailing = raw.ends_with(b"/") && raw.len() > 1;
        let parts: Vec<&[u8]> = raw
            .split(|&b| b == b'/')
            .filter(|c| !c.is_empty() && *c != b".")
            .collect();
        if !matches!(parts.first(), Some(&b"proc") | Some(&b"dev")) {
            return raw.to_vec();
        }
        // A target whose status cannot be read is gone; its tid names it as well as anything.
        let pid = self.tgid().unwrap_or(self.tid).to_string().into_bytes();
        let tid = self.tid.to_string().into_bytes();
        let mut new: Vec<Vec<u8>> = match parts.as_slice() {
            [b"proc", b"self", rest @ ..] => [b"proc".as_slice(), &pid]
                .into_iter()
                .chain(rest.iter().copied())
                .map(<[u8]>::to_vec)
                .collect(),
            [b"proc", b"thread-self", rest @ ..] => [b"proc".as_slice(), &pid, b"task", &tid]
                .into_iter()
                .chain(rest.iter().copied())
                .map(<[u8]>::to_vec)
                .collect(),
            [b"dev", b"fd", rest @ ..] => [b"proc".as_slice(), &pid, b"fd"]
                .into_iter()
                .chain(rest.iter().copied())
                .map(<[u8]>::to_vec)
                .collect(),
            [b"dev", b"stdin"] => {
                vec![b"proc".to_vec(), pid.clone(), b"fd".to_vec(), b"0".to_vec()]
            }
            [b"dev", b"stdout"] => {
                vec![b"proc".to_vec(), pid.clone(), b"fd".to_vec(), b"1".to_vec()]
            }
            [b"dev", b"stderr"] => {
                vec![b"proc".to_vec(), pid.clone(), b"fd".to_vec(), b"2".to_vec()]
            }
            _ => return raw.to_vec(),
        };
        let mut out = Vec::new();
        for p in new.drain(..) {
            out.push(b'/');
            out.extend_from_slice(&p);
        }
        if trailing {
            out.push(b'/');
        }
        out
    }

    /// A path argument: `dirfd` and the string at `addr`. Relative paths get a pinned base.
    fn path(&mut self, dirfd: i32, addr: u64) -> Result<(At, Vec<u8>), i32> {
        let raw = self.read_cstr(addr)?;
        self.path_of(dirfd, raw)
    }

    /// A path already read from the target, relative to `dirfd`.
    fn path_of(&mut self, dirfd: i32, raw: Vec<u8>) -> Result<(At, Vec<u8>), i32> {
        if raw.first() == Some(&b'/') {
            return Ok((At::Absolute, self.rewrite(&raw)));
        }
        if raw.is_empty() {
            return Err(libc::ENOENT);
        }
        let base = if dirfd == libc::AT_FDCWD {
            open_raw(
                &format!("/proc/{}/cwd", self.tid),
                libc::O_PATH | libc::O_DIRECTORY,
            )?
        } else if dirfd >= 0 {
            open_raw(&format!("/proc/{}/fd/{dirfd}", self.tid), libc::O_PATH).map_err(|e| {
                if e == libc::ENOENT {
                    libc::EBADF
                } else {
                    e
                }
            })?
        } else {
            return Err(libc::EBADF);
        };
        // From `/` or `/proc` the relative path itself may spell a sandbox pid
        // (`proc/<n>`, `<n>`): translated as the absolute path it makes (both are mount
        // points the program cannot move, so the pinned base and the path agree).
        if let Some(abs) =
            crate::core::procself::translate_relative_to(std::os::fd::AsFd::as_fd(&base), &raw)
        {
            return Ok((At::Absolute, abs));
        }
        self.fds.push(base);
        Ok((At::Fd((self.fds.len() - 1) as u8), raw))
    }

    /// Who is calling, for the audit record and the caller's `/proc/<pid>`. Without an audit
    /// log the status is not read for it unless a call already did (uid and gid are then 0,
    /// and the pid is the thread's id).
    fn caller(&self, core: &RequestCore) -> Caller {
        let status = if core.audit().enabled() {
            self.status().ok()
        } else {
            self.status.get()
        };
        Caller {
            pid: status.map_or(self.tid, |s| s.tgid),
            // The notification's pid is the thread that made the call.
            tid: Some(self.tid),
            exe: self.exe.clone(),
            uid: status.map_or(0, |s| s.uid),
            gid: status.map_or(0, |s| s.gid),
            transport: Transport::Seccomp,
        }
    }

    /// Runs `call` through the core once the notification is known to be still valid.
    fn run(&self, core: &RequestCore, call: &Call<'_>) -> Result<crate::core::Outcome, Answer> {
        if !self.valid() {
            return Err(Answer::Gone);
        }
        let out = core.serve(&self.caller(core), call.clone(), &self.fds);
        if out.result < 0 {
            return Err(Answer::Error(out.errno));
        }
        Ok(out)
    }

    fn simple(&self, core: &RequestCore, call: &Call<'_>) -> Answer {
        match self.run(core, call) {
            Ok(out) => Answer::Value(out.result),
            Err(a) => a,
        }
    }

    fn handle(mut self, core: &RequestCore, floor: &Floor, req: &libc::seccomp_notif) -> Answer {
        match self.dispatch(core, floor, req) {
            Ok(a) => a,
            Err(e) => Answer::Error(e),
        }
    }

    fn dispatch(
        &mut self,
        core: &RequestCore,
        floor: &Floor,
        req: &libc::seccomp_notif,
    ) -> Result<Answer, i32> {
        let a = req.data.args;
        let fd_arg = |i: usize| a[i] as i32;
        let cwd = libc::AT_FDCWD;
        // The table decides what the broker serves: the filter sends exactly these forms.
        let Some(kind) = syscalls::brokered(i64::from(req.data.nr), &a) else {
            return Err(libc::ENOSYS);
        };
        match kind {
            Kind::Open | Kind::Openat | Kind::Creat | Kind::Openat2 => {
                let (dirfd, addr, flags, mode) = match kind {
                    Kind::Open => (cwd, a[0], a[1] as i32, a[2] as u32),
                    Kind::Creat => (
                        cwd,
                        a[0],
                        libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC,
                        a[1] as u32,
                    ),
                    Kind::Openat => (fd_arg(0), a[1], a[2] as i32, a[3] as u32),
                    _ => {
                        // struct open_how { u64 flags; u64 mode; u64 resolve; }
                        if a[3] < 24 {
                            return Err(libc::EINVAL);
                        }
                        let how: [u64; 3] = self.read_struct(a[2])?;
                        if how[2] != 0 {
                            // RESOLVE_* is not brokered yet; glibc and most callers fall
                            // back to openat on ENOSYS.
                            return Err(libc::ENOSYS);
                        }
                        (fd_arg(0), a[1], how[0] as i32, how[1] as u32)
                    }
                };
                let raw = self.read_cstr(addr)?;
                // The program's own absolute path, kept only to see whether the broker's copy
                // is the same path: a rewritten one (`/proc/self`, a sandbox pid, `/dev/fd`)
                // names something else than what the kernel would open for the program.
                let verbatim = (raw.first() == Some(&b'/')).then(|| raw.clone());
                if verbatim.is_none() || !matches!(kind, Kind::Open | Kind::Openat) {
                    reads::full_capabilities()?;
                }
                let (at, path) = self.path_of(dirfd, raw)?;
                // Flags in registers (not `openat2`'s, in the program's memory) may let
                // the kernel perform a plain read beneath the native-read floor, or of the
                // shim; a missing name there is the broker's `ENOENT`.
                if at == At::Absolute
                    && verbatim.as_deref() == Some(path.as_slice())
                    && matches!(kind, Kind::Open | Kind::Openat)
                {
                    let roots = core.continued_read_roots();
                    match floor.lookup(&path) {
                        Some(f) if !f.rw => {
                            if reads::floor_file_continues(roots, &path, flags, f.id) {
                                return Ok(Answer::Continue);
                            }
                        }
                        Some(_) => {}
                        None => match reads::open_shortcut(
                            roots,
                            core.missing_answer_roots(),
                            &path,
                            flags,
                        ) {
                            reads::Shortcut::Continue => return Ok(Answer::Continue),
                            reads::Shortcut::Missing => return Err(libc::ENOENT),
                            reads::Shortcut::Broker => {}
                        },
                    }
                }
                reads::full_capabilities()?;
                self.open(core, floor, at, &path, flags, mode)
            }
            Kind::Stat | Kind::Lstat | Kind::Newfstatat | Kind::Statx => {
                let (dirfd, addr, flags, buf) = match kind {
                    Kind::Stat => (cwd, a[0], 0, a[1]),
                    Kind::Lstat => (cwd, a[0], libc::AT_SYMLINK_NOFOLLOW, a[1]),
                    Kind::Newfstatat => (fd_arg(0), a[1], a[3] as i32, a[2]),
                    _ => (fd_arg(0), a[1], a[2] as i32, a[4]),
                };
                let (at, path) = self.path(dirfd, addr)?;
                let own = match (at, flags & libc::AT_SYMLINK_NOFOLLOW) {
                    (At::Absolute, 0) => self.own_fd(&path),
                    _ => None,
                };
                if let Some(n) = own {
                    let st = self.own_fd_stat(core, n)?;
                    if kind == Kind::Statx {
                        self.write_mem(buf, &statx_bytes(&st))?;
                    } else {
                        self.write_mem(buf, &stat_bytes(&st))?;
                    }
                    return Ok(Answer::Value(0));
                }
                let call = Call::Stat {
                    path: pa(at, &path),
                    flags: flags & (libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH),
                };
                let out = match self.run(core, &call) {
                    Ok(o) => o,
                    Err(a) => return Ok(a),
                };
                let OutPayload::Stat(st) = out.payload else {
                    return Err(libc::EIO);
                };
                if kind == Kind::Statx {
                    self.write_mem(buf, &statx_bytes(&st))?;
                } else {
                    self.write_mem(buf, &stat_bytes(&st))?;
                }
                Ok(Answer::Value(0))
            }
            Kind::Access | Kind::Faccessat | Kind::Faccessat2 => {
                let (dirfd, addr, mode, flags) = match kind {
                    Kind::Access => (cwd, a[0], a[1] as i32, 0),
                    Kind::Faccessat => (fd_arg(0), a[1], a[2] as i32, 0),
                    _ => (fd_arg(0), a[1], a[2] as i32, a[3] as i32),
                };
                let raw = self.read_cstr(addr)?;
                // As for an open: the program's own absolute path, not one rewritten.
                let verbatim = (raw.first() == Some(&b'/')).then(|| raw.clone());
                let (at, path) = self.path_of(dirfd, raw)?;
                if at == At::Absolute
                    && verbatim.as_deref() == Some(path.as_slice())
                    && reads::access_shortcut(core.missing_answer_roots(), &path, mode, flags)
                        == reads::Shortcut::Missing
                {
                    return Err(libc::ENOENT);
                }
                let own = match (at, flags & libc::AT_SYMLINK_NOFOLLOW) {
                    (At::Absolute, 0) => self.own_fd(&path),
                    _ => None,
                };
                if let Some(n) = own {
                    if let Some(answer) = self.own_fd_access(core, n, mode)? {
                        return Ok(answer);
                    }
                }
                Ok(self.simple(
                    core,
                    &Call::Access {
                        path: pa(at, &path),
                        mode,
                        flags,
                    },
                ))
            }
            Kind::Mkdir | Kind::Mkdirat => {
                let (dirfd, addr, mode) = match kind {
                    Kind::Mkdir => (cwd, a[0], a[1] as u32),
                    _ => (fd_arg(0), a[1], a[2] as u32),
                };
                let (at, path) = self.path(dirfd, addr)?;
                Ok(self.simple(
                    core,
                    &Call::Mkdir {
                        path: pa(at, &path),
                        mode,
                        umask: self.umask()?,
                    },
                ))
            }
            Kind::Mknod | Kind::Mknodat => {
                let (dirfd, addr, mode, dev) = match kind {
                    Kind::Mknod => (cwd, a[0], a[1] as u32, a[2]),
                    _ => (fd_arg(0), a[1], a[2] as u32, a[3]),
                };
                let (at, path) = self.path(dirfd, addr)?;
                Ok(self.simple(
                    core,
                    &Call::Mknod {
                        path: pa(at, &path),
                        mode,
                        dev,
                        umask: self.umask()?,
                    },
                ))
            }
            Kind::Unlink | Kind::Rmdir | Kind::Unlinkat => {
                let (dirfd, addr, flags) = match kind {
                    Kind::Unlink => (cwd, a[0], 0),
                    Kind::Rmdir => (cwd, a[0], libc::AT_REMOVEDIR),
                    _ => (fd_arg(0), a[1], a[2] as i32),
                };
                let (at, path) = self.path(dirfd, addr)?;
                Ok(self.simple(
                    core,
                    &Call::Unlink {
                        path: pa(at, &path),
                        flags,
                    },
                ))
            }
            Kind::Rename | Kind::Renameat | Kind::Renameat2 | Kind::Link | Kind::Linkat => {
                let (d1, p1, d2, p2, flags) = match kind {
                    Kind::Rename | Kind::Link => (cwd, a[0], cwd, a[1], 0),
                    Kind::Renameat => (fd_arg(0), a[1], fd_arg(2), a[3], 0),
                    _ => (fd_arg(0), a[1], fd_arg(2), a[3], a[4] as u32),
                };
                let (at1, from) = self.path(d1, p1)?;
                let (at2, to) = self.path(d2, p2)?;
                let call = if matches!(kind, Kind::Link | Kind::Linkat) {
                    Call::Link {
                        from: pa(at1, &from),
                        to: pa(at2, &to),
                        flags: flags as i32,
                    }
                } else {
                    Call::Rename {
                        from: pa(at1, &from),
                        to: pa(at2, &to),
                        flags,
                    }
                };
                Ok(self.simple(core, &call))
            }
            Kind::Symlink | Kind::Symlinkat => {
                let (target, dirfd, addr) = match kind {
                    Kind::Symlink => (a[0], cwd, a[1]),
                    _ => (a[0], fd_arg(1), a[2]),
                };
                let target = self.read_cstr(target)?;
                let (at, path) = self.path(dirfd, addr)?;
                Ok(self.simple(
                    core,
                    &Call::Symlink {
                        target: &target,
                        path: pa(at, &path),
                    },
                ))
            }
            Kind::Readlink | Kind::Readlinkat => {
                let (dirfd, addr, buf, size) = match kind {
                    Kind::Readlink => (cwd, a[0], a[1], a[2] as i32),
                    _ => (fd_arg(0), a[1], a[2], a[3] as i32),
                };
                if size <= 0 {
                    return Err(libc::EINVAL);
                }
                let (at, path) = self.path(dirfd, addr)?;
                let out = match self.run(
                    core,
                    &Call::Readlink {
                        path: pa(at, &path),
                    },
                ) {
                    Ok(o) => o,
                    Err(a) => return Ok(a),
                };
                let OutPayload::Bytes(bytes) = out.payload else {
                    return Err(libc::EIO);
                };
                let n = bytes.len().min(size as usize);
                self.write_mem(buf, &bytes[..n])?;
                Ok(Answer::Value(n as i64))
            }
            Kind::Truncate => {
                let (at, path) = self.path(cwd, a[0])?;
                Ok(self.simple(
                    core,
                    &Call::Truncate {
                        path: pa(at, &path),
                        length: a[1] as i64,
                    },
                ))
            }
            Kind::Chmod | Kind::Fchmodat | Kind::Fchmodat2 | Kind::Fchmod => {
                let (at, path, mode, flags) = match kind {
                    Kind::Fchmod => {
                        let (at, path) = self.fd_object(fd_arg(0), false)?;
                        (at, path, a[1] as u32, libc::AT_SYMLINK_NOFOLLOW)
                    }
                    Kind::Chmod => {
                        let (at, path) = self.path(cwd, a[0])?;
                        (at, path, a[1] as u32, 0)
                    }
                    Kind::Fchmodat => {
                        let (at, path) = self.path(fd_arg(0), a[1])?;
                        (at, path, a[2] as u32, 0)
                    }
                    _ => {
                        let (at, path, flags) = self.path_or_fd(fd_arg(0), a[1], a[3] as i32)?;
                        (at, path, a[2] as u32, flags)
                    }
                };
                Ok(self.simple(
                    core,
                    &Call::Chmod {
                        path: pa(at, &path),
                        mode,
                        flags,
                    },
                ))
            }
            Kind::Chown | Kind::Lchown | Kind::Fchownat | Kind::Fchown => {
                let (uid, gid) = match kind {
                    Kind::Fchownat => (a[2] as u32, a[3] as u32),
                    _ => (a[1] as u32, a[2] as u32),
                };
                let (at, path, flags) = match kind {
                    Kind::Fchown => {
                        let (at, path) = self.fd_object(fd_arg(0), false)?;
                        (at, path, libc::AT_SYMLINK_NOFOLLOW)
                    }
                    Kind::Chown => {
                        let (at, path) = self.path(cwd, a[0])?;
                        (at, path, 0)
                    }
                    Kind::Lchown => {
                        let (at, path) = self.path(cwd, a[0])?;
                        (at, path, libc::AT_SYMLINK_NOFOLLOW)
                    }
                    _ => self.path_or_fd(fd_arg(0), a[1], a[4] as i32)?,
                };
                Ok(self.simple(
                    core,
                    &Call::Chown {
                        path: pa(at, &path),
                        uid,
                        gid,
                        flags,
                    },
                ))
            }
            Kind::Utime | Kind::Utimes | Kind::Futimesat | Kind::Utimensat | Kind::Futimens => {
                let (dirfd, addr, times, flags) = match kind {
                    Kind::Utime | Kind::Utimes => (cwd, a[0], a[1], 0),
                    Kind::Futimesat => (fd_arg(0), a[1], a[2], 0),
                    _ => (fd_arg(0), a[1], a[2], a[3] as i32),
                };
                let times = if times == 0 {
                    None
                } else {
                    let t: [i64; 4] = if kind == Kind::Utime {
                        let u: [i64; 2] = self.read_struct(times)?;
                        [u[0], 0, u[1], 0]
                    } else {
                        self.read_struct(times)?
                    };
                    // timeval carries microseconds, timespec nanoseconds.
                    let scale = if matches!(kind, Kind::Utimes | Kind::Futimesat) {
                        1000
                    } else {
                        1
                    };
                    Some([
                        Timespec {
                            sec: t[0],
                            nsec: t[1] * scale,
                        },
                        Timespec {
                            sec: t[2],
                            nsec: t[3] * scale,
                        },
                    ])
                };
                let (at, path, flags) = if kind == Kind::Futimens {
                    // utimensat(fd, NULL, times, flags): the file fd names.
                    let (at, path) = self.fd_object(dirfd, true)?;
                    (at, path, flags | libc::AT_SYMLINK_NOFOLLOW)
                } else {
                    self.path_or_fd(dirfd, addr, flags)?
                };
                Ok(self.simple(
                    core,
                    &Call::Utimens {
                        path: pa(at, &path),
                        times,
                        flags,
                    },
                ))
            }
            Kind::Connect | Kind::Bind => {
                self.socket_call(core, i64::from(req.data.nr), a[0] as i32, a[1], a[2])
            }
            Kind::Sendto => net::sendto(self, core, a),
            Kind::Sendmsg | Kind::SendmsgFastOpen => net::sendmsg(self, core, a),
            Kind::Sendmmsg | Kind::SendmmsgFastOpen => net::sendmmsg(self, core, a),
            Kind::Listen => net::listen(self, core, a),
            Kind::MemfdCreate => self.memfd_create(a[0], a[1] as u32),
        }
    }

    /// `memfd_create(name, flags)` for the target, with `MFD_NOEXEC_SEAL` added: the fd
    /// goes back like an opened file. The table sends only flags without `MFD_EXEC`.
    fn memfd_create(&self, name: u64, flags: u32) -> Result<Answer, i32> {
        let mut name = self.read_cstr(name)?;
        // The kernel's own bound: 249 bytes of name.
        if name.len() > 249 {
            return Err(libc::EINVAL);
        }
        name.push(0);
        let sealed = flags | crate::confine::syscalls::MFD_NOEXEC_SEAL as u32;
        if !self.valid() {
            return Ok(Answer::Gone);
        }
        // SAFETY: name is NUL-terminated; memfd_create returns a new fd or -1.
        let mut fd = unsafe { libc::syscall(libc::SYS_memfd_create, name.as_ptr(), sealed) };
        if fd < 0 && errno() == libc::EINVAL {
            // A kernel before 6.3 has no MFD_NOEXEC_SEAL: the memfd is made as asked (the
            // gap docs/security.md names), or the flags were wrong and this fails too.
            // SAFETY: as above.
            fd = unsafe { libc::syscall(libc::SYS_memfd_create, name.as_ptr(), flags) };
        }
        if fd < 0 {
            return Err(errno());
        }
        // SAFETY: fd was just returned by the kernel and is owned by no one else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
        Ok(Answer::Fd(fd, flags & libc::MFD_CLOEXEC != 0))
    }

    /// A path argument of a `*at` call with `flags`: with `AT_EMPTY_PATH` and an empty
    /// path, the file `dirfd` itself ([`Self::fd_object`]). Returns the flags for the core
    /// (`AT_SYMLINK_NOFOLLOW` for an fd: it names the file, never a link to follow).
    fn path_or_fd(&mut self, dirfd: i32, addr: u64, flags: i32) -> Result<(At, Vec<u8>, i32), i32> {
        let raw = self.read_cstr(addr)?;
        if raw.is_empty() && flags & libc::AT_EMPTY_PATH != 0 {
            let (at, path) = self.fd_object(dirfd, false)?;
            let flags = (flags & !libc::AT_EMPTY_PATH) | libc::AT_SYMLINK_NOFOLLOW;
            return Ok((at, path, flags));
        }
        let (at, path) = self.path_of(dirfd, raw)?;
        Ok((at, path, flags & !libc::AT_EMPTY_PATH))
    }

    /// The real path of the file the target's fd `fd` names (`AT_FDCWD`: its working
    /// directory), so a change of its metadata is decided like a change by path: taken with
    /// `pidfd_getfd` (the target's own open file description), named by the broker's
    /// `/proc/self/fd`, and confirmed to still be that file (same device and inode) when
    /// the decision is made. Pipes, sockets, anonymous inodes and deleted files have no
    /// path the policy could grant: `EACCES`. `fd_only`: the call takes only a real fd
    /// (`fchmod`, `futimens`), so an `O_PATH` fd is `EBADF`, as natively.
    fn fd_object(&mut self, fd: i32, fd_only: bool) -> Result<(At, Vec<u8>), i32> {
        let file = if fd == libc::AT_FDCWD && !fd_only {
            open_raw(
                &format!("/proc/{}/cwd", self.tid),
                libc::O_PATH | libc::O_DIRECTORY,
            )?
        } else {
            self.target_fd(fd)?
        };
        // SAFETY: fcntl(F_GETFL) on an fd we own.
        let fl = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETFL) };
        if fd_only && (fl < 0 || fl & libc::O_PATH != 0) {
            return Err(libc::EBADF);
        }
        let link = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd()))
            .map_err(|_| libc::EACCES)?;
        let real = link.as_os_str().as_bytes();
        if real.first() != Some(&b'/') || real.ends_with(b" (deleted)") {
            return Err(libc::EACCES);
        }
        let same = match (
            std::fs::metadata(format!("/proc/self/fd/{}", file.as_raw_fd())),
            std::fs::symlink_metadata(&link),
        ) {
            (Ok(a), Ok(b)) => {
                use std::os::unix::fs::MetadataExt;
                a.dev() == b.dev() && a.ino() == b.ino()
            }
            _ => false,
        };
        if !same {
            return Err(libc::EACCES);
        }
        Ok((At::Absolute, real.to_vec()))
    }

    /// `connect(fd, addr, len)` / `bind(fd, addr, len)`, performed by the core on the
    /// target's own socket, fetched with `pidfd_getfd`: the same open file description, so
    /// `O_NONBLOCK` (and `EINPROGRESS`), options and every dup of it behave natively.
    fn socket_call(
        &mut self,
        core: &RequestCore,
        nr: i64,
        fd: i32,
        addr: u64,
        len: u64,
    ) -> Result<Answer, i32> {
        // The kernel's own bounds: an int length, at most a sockaddr_storage.
        let len = usize::try_from(len as i32).map_err(|_| libc::EINVAL)?;
        let mut raw = [0u8; std::mem::size_of::<libc::sockaddr_storage>()];
        if len > raw.len() || len < std::mem::size_of::<libc::sa_family_t>() {
            return Err(libc::EINVAL);
        }
        // Read once: the broker acts on this copy whatever the target does to its buffer.
        if self.read_mem(addr, &mut raw[..len])? != len {
            return Err(libc::EFAULT);
        }
        let sock = self.target_fd(fd)?;
        let family = socket_family(&sock)?;
        if family == libc::AF_NETLINK && nr == libc::SYS_bind {
            return net::netlink_bind(self, &sock, &raw[..len]);
        }
        if !matches!(family, libc::AF_UNIX | libc::AF_INET | libc::AF_INET6) {
            // Netlink and the rest: refused as the syscall table refuses them without the
            // notify filter (seccomp cannot tell the families apart in BPF).
            self.audit_refused(core, nr, family);
            return Err(libc::EACCES);
        }
        // fds[0] is the socket, as in a shim message; a unix path's base follows it.
        self.fds.push(sock);
        let sa = self.sockaddr(family, &raw[..len])?;
        let addr = match &sa {
            Addr::Unix(at, path) => SockAddr::Unix(pa(*at, path)),
            Addr::Abstract(name) => SockAddr::Abstract(name),
            Addr::Other(a) => *a,
        };
        if nr == libc::SYS_connect {
            // A blocking connect waits only while its caller does (core::net).
            let waiter = crate::core::net::StillWaiting {
                check: net::still_waiting,
                fd: self.listener,
                id: self.id,
                tid: self.tid,
            };
            let call = Call::Connect { addr };
            return Ok(crate::core::net::with_waiter(waiter, || {
                self.simple(core, &call)
            }));
        }
        let call = Call::Bind {
            addr,
            umask: self.umask()?,
        };
        Ok(self.simple(core, &call))
    }

    /// The target's fd `fd`, duplicated into the broker with `pidfd_getfd` (Linux ≥ 5.6).
    /// The pidfd names the calling thread where the kernel allows it (`PIDFD_THREAD`,
    /// Linux ≥ 6.9), so a thread with its own fd table is read correctly; else its process.
    fn target_fd(&self, fd: i32) -> Result<OwnedFd, i32> {
        if fd < 0 {
            return Err(libc::EBADF);
        }
        /// `PIDFD_THREAD` (= `O_EXCL`).
        const PIDFD_THREAD: libc::c_uint = libc::O_EXCL as libc::c_uint;
        // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
        let mut pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, self.tid, PIDFD_THREAD) };
        if pidfd < 0 && errno() == libc::EINVAL {
            // SAFETY: as above.
            pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, self.tgid()?, 0u32) };
        }
        if pidfd < 0 {
            return Err(libc::ESRCH);
        }
        // SAFETY: pidfd was just returned by the kernel and is owned by no one else.
        let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd as RawFd) };
        // The pid may have been reused between the notification and pidfd_open: only a
        // still-pending notification proves the pidfd names the caller.
        if !self.valid() {
            return Err(libc::ESRCH);
        }
        // SAFETY: pidfd_getfd takes a pidfd, a target fd number and flags (0); it returns a
        // new fd (close-on-exec) or -1.
        let sock = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0u32) };
        if sock < 0 {
            return Err(errno());
        }
        // SAFETY: sock was just returned by the kernel and is owned by no one else.
        Ok(unsafe { OwnedFd::from_raw_fd(sock as RawFd) })
    }

    /// Decodes a socket address as the kernel would for a socket of `family`
    /// ([`arbiter_protocol::sockaddr::decode`]); a relative unix path gets a pinned base.
    fn sockaddr(&mut self, family: i32, raw: &[u8]) -> Result<Addr, i32> {
        use arbiter_protocol::sockaddr::{decode, Decoded};
        match decode(family, raw)? {
            Decoded::UnixPath(path) => {
                let (at, p) = self.path_of(libc::AT_FDCWD, path.to_vec())?;
                Ok(Addr::Unix(at, p))
            }
            Decoded::Addr(SockAddr::Abstract(name)) => Ok(Addr::Abstract(name.to_vec())),
            Decoded::Addr(SockAddr::Unix(_)) => Err(libc::EINVAL),
            Decoded::Addr(other) => Ok(Addr::Other(match other {
                SockAddr::Inet { addr, port } => SockAddr::Inet { addr, port },
                SockAddr::Inet6 {
                    addr,
                    port,
                    flowinfo,
                    scope_id,
                } => SockAddr::Inet6 {
                    addr,
                    port,
                    flowinfo,
                    scope_id,
                },
                SockAddr::UnixUnnamed => SockAddr::UnixUnnamed,
                _ => SockAddr::Unspec,
            })),
        }
    }

    fn audit_refused(&self, core: &RequestCore, nr: i64, family: i32) {
        if core.audit().enabled() {
            core.audit().record(Event::SeccompRefused(SeccompRefused {
                pid: self.tgid().unwrap_or(self.tid),
                call: if nr == libc::SYS_connect {
                    "connect"
                } else {
                    "bind"
                },
                family,
                errno: libc::EACCES,
                transport: "seccomp",
            }));
        }
    }

    fn open(
        &self,
        core: &RequestCore,
        floor: &Floor,
        at: At,
        path: &[u8],
        flags: i32,
        mode: u32,
    ) -> Result<Answer, i32> {
        let cloexec = flags & libc::O_CLOEXEC != 0;
        if at == At::Absolute {
            if let Some(answer) = self.open_special(core, floor, path, flags)? {
                return Ok(answer);
            }
        }
        let owned;
        let (at, path) = match (at, self.own_fd(path)) {
            (At::Absolute, Some(n)) => match self.reopen_target(core, n, flags)? {
                Reopen::Done(a) => return Ok(a),
                Reopen::Real(real) => {
                    owned = real;
                    (At::Absolute, owned.as_slice())
                }
            },
            _ => (at, path),
        };
        // Only a call that may create needs the umask (and so the status read).
        let creates = flags & libc::O_CREAT != 0 || flags & libc::O_TMPFILE == libc::O_TMPFILE;
        let call = Call::Open {
            path: PathArg { at, path },
            flags,
            mode,
            umask: if creates { self.umask()? } else { 0 },
        };
        match self.run(core, &call) {
            Ok(out) => match out.fd {
                Some(fd) => Ok(Answer::Fd(fd, cloexec)),
                None => Err(libc::EIO),
            },
            Err(a) => Ok(a),
        }
    }

    /// The kernel floor's exact files (the shim, devices): opened as Landlock would allow.
    fn open_special(
        &self,
        core: &RequestCore,
        floor: &Floor,
        path: &[u8],
        flags: i32,
    ) -> Result<Option<Answer>, i32> {
        let Some(file) = floor.lookup(path) else {
            return Ok(None);
        };
        let acc = flags & libc::O_ACCMODE;
        let creating = flags & (libc::O_CREAT | libc::O_TRUNC | libc::O_TMPFILE) != 0;
        if creating || (!file.rw && acc != libc::O_RDONLY) {
            return Ok(None); // the core decides (and refuses) as for any other path
        }
        if !self.valid() {
            return Ok(Some(Answer::Gone));
        }
        // The name may lead elsewhere by now (a shim beneath a directory the program may
        // write, swapped for a symlink): look without opening (O_PATH has no side effect on
        // a device or FIFO), act only on the surveyed object, re-opened through this very
        // fd. Anything else is not the floor's file: the core decides it by policy.
        let p = std::str::from_utf8(path).map_err(|_| libc::EINVAL)?;
        let Ok(o) = open_raw(p, libc::O_PATH) else {
            return Ok(None);
        };
        // SAFETY: stat is plain old data.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: o is open; st is a valid out-pointer.
        if unsafe { libc::fstat(o.as_raw_fd(), &mut st) } < 0 || (st.st_dev, st.st_ino) != file.id {
            return Ok(None);
        }
        let fd = if flags & libc::O_PATH != 0 {
            o
        } else {
            let keep = libc::O_ACCMODE | libc::O_NONBLOCK | libc::O_DIRECTORY;
            open_raw(
                &format!("/proc/self/fd/{}", o.as_raw_fd()),
                (flags & keep) | libc::O_NOCTTY,
            )?
        };
        self.audit_direct(core, "open", "floor", path, flags);
        Ok(Some(Answer::Fd(fd, flags & libc::O_CLOEXEC != 0)))
    }

    /// `N` when `path` is `/proc/<tgid>/fd/N` or `/proc/<tgid>/task/<tid>/fd/N` (what
    /// `/proc/self/fd/N`, `/proc/thread-self/fd/N`, `/dev/fd/N` and `/dev/std*` are rewritten
    /// to), the caller's own descriptor.
    fn own_fd(&self, path: &[u8]) -> Option<i32> {
        if !path.starts_with(b"/proc/") {
            return None;
        }
        let tgid = self.tgid().ok()?;
        let process = format!("/proc/{tgid}/fd/");
        let thread = format!("/proc/{tgid}/task/{}/fd/", self.tid);
        let rest = path
            .strip_prefix(process.as_bytes())
            .or_else(|| path.strip_prefix(thread.as_bytes()))?;
        let n: i32 = std::str::from_utf8(rest).ok()?.parse().ok()?;
        // Only the canonical spelling of a number (`/proc/self/fd/03` is no fd's name).
        (n.to_string().as_bytes() == rest).then_some(n)
    }

    /// `stat` of one of the caller's own fds by its `/proc` name: what `fstat(N)` tells the
    /// caller natively (the name follows the magic link to the open file, whatever it is: a
    /// pipe of a process substitution, a socket, a terminal, a file outside the policy), so
    /// no decision is needed. `ENOENT` when `N` is not open, as natively.
    fn own_fd_stat(&self, core: &RequestCore, n: i32) -> Result<arbiter_protocol::WireStat, i32> {
        let magic = format!("/proc/{}/fd/{n}", self.tgid()?);
        let o = open_raw(&magic, libc::O_PATH)?;
        let st =
            crate::core::stat::statx(o.as_raw_fd(), c"", libc::AT_EMPTY_PATH).map_err(|e| e.0)?;
        self.audit_direct(core, "stat", "own_fd", magic.as_bytes(), 0);
        Ok(st)
    }

    /// `access` of one of the caller's own fds by its `/proc` name, answered from the fd
    /// itself: `F_OK` when it is open (`ENOENT` otherwise, as natively); reading and writing
    /// when the open file description allows them (a pipe, socket or anonymous inode: both,
    /// as its owner natively has). `None` (the caller decides on the real path, as before)
    /// for execute or for more than the fd allows.
    fn own_fd_access(&self, core: &RequestCore, n: i32, mode: i32) -> Result<Option<Answer>, i32> {
        let magic = format!("/proc/{}/fd/{n}", self.tgid()?);
        let o = open_raw(&magic, libc::O_PATH)?;
        // SAFETY: stat is plain old data.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: o is open; st is a valid out-pointer.
        if unsafe { libc::fstat(o.as_raw_fd(), &mut st) } < 0 {
            return Err(errno());
        }
        let granted = if mode == libc::F_OK {
            true
        } else if mode & libc::X_OK != 0 {
            false
        } else if anonymous(&o) {
            true
        } else {
            let held = match self.target_fd(n) {
                Ok(f) => f,
                Err(libc::EBADF) => return Ok(None), // O_PATH: decided on the real path
                Err(e) => return Err(e),
            };
            // SAFETY: fcntl(F_GETFL) on an fd we own.
            let fl = unsafe { libc::fcntl(held.as_raw_fd(), libc::F_GETFL) };
            let want = match (mode & libc::R_OK != 0, mode & libc::W_OK != 0) {
                (true, true) => libc::O_RDWR,
                (false, true) => libc::O_WRONLY,
                _ => libc::O_RDONLY,
            };
            fl >= 0 && fd_grants(fl, want)
        };
        if !granted {
            return Ok(None);
        }
        if !self.valid() {
            return Ok(Some(Answer::Gone));
        }
        self.audit_direct(core, "access", "own_fd", magic.as_bytes(), mode);
        Ok(Some(Answer::Value(0)))
    }

    /// Re-opening one of the caller's own fds (`/dev/stdin`, `/dev/fd/N`,
    /// `/proc/self/fd/N`, …) with exactly the rights that fd has: the broker takes the
    /// caller's open file description (`pidfd_getfd`) and, when it was opened for every
    /// access now asked for (reading, writing; `O_TRUNC` counts as writing), re-opens *that
    /// object* through the broker's own `/proc/self/fd` — never by name. So `echo x >
    /// /dev/stderr`, `cat /dev/stdin` and `diff <(…) <(…)` work whatever file or pipe the
    /// descriptor is, and a read-only fd never becomes writable. Pipes, sockets and
    /// anonymous inodes are re-opened directly whatever the access (a socket answers
    /// `ENXIO`, as natively) — only those without a name in the filesystem ([`anonymous`]).
    /// Any other re-open (a named FIFO, more rights than the fd has, an `O_PATH` fd, which
    /// `pidfd_getfd` does not take) is decided by the policy on the real path of the file,
    /// as an open of that path would be.
    fn reopen_target(&self, core: &RequestCore, n: i32, flags: i32) -> Result<Reopen, i32> {
        let magic = format!("/proc/{}/fd/{n}", self.tgid()?);
        // O_PATH of the magic link: ENOENT when N is not open, as natively.
        let o = open_raw(&magic, libc::O_PATH)?;
        // SAFETY: stat is plain old data.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: o is open; st is a valid out-pointer.
        if unsafe { libc::fstat(o.as_raw_fd(), &mut st) } < 0 {
            return Err(errno());
        }
        let kind = st.st_mode & libc::S_IFMT;
        // Only an object without a name in the filesystem (a pipe, a socket, an anonymous
        // inode) is re-opened whatever the access; a named FIFO is a file the policy decides
        // on its real path for the access asked, like any open (which also waits for its
        // other end without pinning a worker: `core::waiting`).
        let any_access = anonymous(&o);
        let named_fifo = kind == libc::S_IFIFO && !any_access;
        // The caller's own open file description; an O_PATH fd is not taken (EBADF).
        let held = if any_access || named_fifo {
            None
        } else {
            match self.target_fd(n) {
                Ok(f) => Some(f),
                Err(libc::EBADF) => None,
                Err(e) => return Err(e),
            }
        };
        let within = held.as_ref().is_some_and(|f| {
            // SAFETY: fcntl(F_GETFL) on an fd we own.
            let fl = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GETFL) };
            fl >= 0 && fd_grants(fl, flags)
        });
        if any_access || within {
            if flags & libc::O_NOFOLLOW != 0 && flags & libc::O_PATH == 0 {
                return Err(libc::ELOOP); // the name is a symlink, as natively
            }
            if !self.valid() {
                return Ok(Reopen::Done(Answer::Gone));
            }
            let object = held.as_ref().unwrap_or(&o);
            let drop_flags = libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC;
            // An anonymous pipe's open never waits for a peer (the kernel waits only on a
            // FIFO with a name); a named FIFO does not come here.
            let fd = open_raw(
                &format!("/proc/self/fd/{}", object.as_raw_fd()),
                (flags & !drop_flags) | libc::O_NOCTTY,
            )?;
            self.audit_direct(core, "open", "reopen", magic.as_bytes(), flags);
            return Ok(Reopen::Done(Answer::Fd(fd, flags & libc::O_CLOEXEC != 0)));
        }
        let real = std::fs::read_link(&magic).map_err(|_| libc::EACCES)?;
        let bytes = real.as_os_str().as_bytes();
        if !bytes.starts_with(b"/") || bytes.ends_with(b" (deleted)") {
            return Err(libc::EACCES);
        }
        Ok(Reopen::Real(bytes.to_vec()))
    }

    fn audit_direct(
        &self,
        core: &RequestCore,
        call: &'static str,
        how: &'static str,
        path: &[u8],
        flags: i32,
    ) {
        // An allowed open: recorded only when every call is.
        if core.audit().records_every_call() {
            core.audit().record(Event::SeccompDirect(SeccompDirect {
                pid: self.tgid().unwrap_or(self.tid),
                tid: self.tid,
                call,
                how,
                path: String::from_utf8_lossy(path).into_owned(),
                flags,
                transport: "seccomp",
            }));
        }
    }
}

fn pa(at: At, path: &[u8]) -> PathArg<'_> {
    PathArg { at, path }
}

/// A decoded socket address, owning what it read from the target.
enum Addr {
    Unix(At, Vec<u8>),
    Abstract(Vec<u8>),
    Other(SockAddr<'static>),
}

fn socket_family(sock: &OwnedFd) -> Result<i32, i32> {
    let mut dom: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: dom and len are valid out-pointers of the right sizes.
    let rc = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_DOMAIN,
            (&mut dom as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if rc < 0 {
        return Err(errno());
    }
    Ok(dom)
}

/// Whether the object `fd` refers to has no name in any filesystem: it lives on the
/// kernel's pipe, socket or anonymous-inode pseudo filesystem (`fstatfs`), so no policy rule
/// can name it and its owner may re-open it as natively. A named FIFO, a socket file or any
/// other file is not anonymous.
fn anonymous(fd: &OwnedFd) -> bool {
    const PIPEFS_MAGIC: i64 = 0x5049_5045;
    const SOCKFS_MAGIC: i64 = 0x534f_434b;
    const ANON_INODE_FS_MAGIC: i64 = 0x0904_1934;
    // SAFETY: statfs is plain old data; zero is valid.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: fd is open; st is a valid out-pointer.
    if unsafe { libc::fstatfs(fd.as_raw_fd(), &mut st) } < 0 {
        return false;
    }
    matches!(
        st.f_type as i64,
        PIPEFS_MAGIC | SOCKFS_MAGIC | ANON_INODE_FS_MAGIC
    )
}

/// Whether an open file description with status flags `held` (`F_GETFL`) was opened for
/// every access an open with `flags` asks for: reading, writing (`O_TRUNC` writes too).
fn fd_grants(held: i32, flags: i32) -> bool {
    let reads = |acc: i32| acc == libc::O_RDONLY || acc == libc::O_RDWR;
    let writes = |acc: i32| acc == libc::O_WRONLY || acc == libc::O_RDWR;
    let (have, want) = (held & libc::O_ACCMODE, flags & libc::O_ACCMODE);
    let want_write = writes(want) || flags & libc::O_TRUNC != 0;
    held & libc::O_PATH == 0
        && (reads(have) || !reads(want))
        && (writes(have) || !want_write)
        && matches!(want, libc::O_RDONLY | libc::O_WRONLY | libc::O_RDWR)
}

enum Reopen {
    Done(Answer),
    Real(Vec<u8>),
}

/// The kernel's `struct stat` (x86_64 layout, as `libc::stat` defines it).
fn stat_bytes(w: &arbiter_protocol::WireStat) -> Vec<u8> {
    // SAFETY: stat is plain old data; zero is valid.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    w.fill_stat(&mut st);
    as_bytes(&st)
}

/// The kernel's `struct statx`, with every field the broker's statx filled.
fn statx_bytes(w: &arbiter_protocol::WireStat) -> Vec<u8> {
    // SAFETY: statx is plain old data; zero is valid.
    let mut st: libc::statx = unsafe { std::mem::zeroed() };
    w.fill_statx(&mut st, u32::MAX);
    as_bytes(&st)
}

fn as_bytes<T>(v: &T) -> Vec<u8> {
    // SAFETY: v is a live, fully initialised (zeroed then assigned) plain-old-data value.
    unsafe { std::slice::from_raw_parts((v as *const T).cast::<u8>(), std::mem::size_of::<T>()) }
        .to_vec()
}

/// Says once per run, on stderr, why the program's brokered calls fail with `EFAULT` when
/// the broker may not read its memory (`EPERM`): the process is not dumpable — typically
/// after executing a binary it may not read (mode `0111`) — and this broker, without
/// `CAP_SYS_PTRACE`, cannot read a non-dumpable process (docs/security.md, "What is NOT
/// enforced"). Fails closed either way; the line only names the cause.
fn warn_not_dumpable(tid: i32) {
    use std::sync::atomic::{AtomicBool, Ordering};
    static SAID: AtomicBool = AtomicBool::new(false);
    if !SAID.swap(true, Ordering::Relaxed) {
        crate::stderr_lines::say(&format!(
            "arbiter: cannot read the memory of process {tid} (EPERM): it is not dumpable \
             (e.g. it runs an execute-only binary) and this broker has no CAP_SYS_PTRACE, so \
             its brokered calls fail with EFAULT\n"
        ));
    }
}
