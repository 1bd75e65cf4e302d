//! `arbiter run --daemon PATH|@NAME -- CMD`: the launcher side of the daemon handshake.
//!
//! The launcher asks the daemon for a sandbox, receives the bootstrap socket, places it at
//! fd 1023, confines itself with the same steps `arbiter run` installs in its child
//! (Landlock, then the one seccomp filter with the notify rules, whose listener it sends
//! to the daemon on the bootstrap socket), and starts the command, which inherits both.
//! It stays, confined, as the sandbox's supervisor ([`super::client_supervise`]): a child
//! subreaper that relays signals, and when the command exits or the daemon ends the
//! sandbox (its connection, kept open, closes) kills every process left in the sandbox and
//! exits with the command's status. Its pid is the one the daemon pinned when it accepted
//! the connection.
//!
//! The launcher trusts only a daemon running as root or as its own uid (`SO_PEERCRED` of
//! the server, checked before the hello is sent), and preloads the shim the daemon names
//! only when that file and every directory above it belong to root or the launcher's uid
//! and are not writable by others; otherwise it refuses (exit 125).

use std::ffi::OsString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use arbiter_protocol::daemon::{Hello, HelloReply, DAEMON_VERSION};
use arbiter_protocol::fdpass::{recv_with_fds, send_with_fds, RecvError};
use arbiter_protocol::{
    decode, encode, DEFAULT_BOOTSTRAP_FD, ENV_FD, ENV_SECCOMP, ENV_SHIM, MAX_FDS, MAX_MESSAGE,
};
use nix::sys::socket::{self, sockopt, AddressFamily, SockFlag, SockType};

use super::client_supervise::Supervisor;
use super::listen::Endpoint;
use crate::confine;
use crate::exit_code;
use crate::sandbox::program::{self, ProgramError};

/// How long the launcher waits for the daemon's answer.
const REPLY_TIMEOUT: Duration = Duration::from_secs(60);

/// What the launcher was asked to do.
pub struct Request<'a> {
    /// The daemon's socket.
    pub endpoint: Endpoint,
    /// A profile name to ask for, or the daemon's default for this user.
    pub profile: Option<&'a str>,
    /// Refuse to run unless both kernel layers are enforced.
    pub strict: bool,
    /// The command and its arguments.
    pub command: &'a [OsString],
}

/// A sandbox the daemon made for us.
struct Granted {
    /// The connection to the daemon, kept for the sandbox's life: the daemon shuts it down
    /// to end the sandbox, and sees it close when the launcher is gone.
    conn: OwnedFd,
    bootstrap: OwnedFd,
    tmpdir: OsString,
    /// The daemon's shim (the one its protocol version speaks).
    shim: PathBuf,
}

/// The command line as the hello carries it: each argument NUL-terminated.
fn hello_argv(command: &[OsString]) -> Vec<u8> {
    let mut out = Vec::new();
    for a in command {
        out.extend_from_slice(a.as_bytes());
        out.push(0);
    }
    out
}

fn ask(
    endpoint: &Endpoint,
    profile: Option<&str>,
    command: &[OsString],
) -> Result<Result<Granted, String>> {
    let addr = endpoint.addr().context("invalid daemon address")?;
    let sock = socket::socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .context("socket")?;
    socket::connect(sock.as_raw_fd(), &addr)
        .with_context(|| format!("cannot connect to the daemon at {endpoint}"))?;
    // Nothing goes to a daemon we do not trust: anyone may bind an abstract name (or a path
    // in a directory others can write) while the real daemon is not listening.
    let server = socket::getsockopt(&sock, sockopt::PeerCredentials)
        .context("cannot learn who the daemon is (SO_PEERCRED)")?;
    trusted_daemon(server.uid(), nix::unistd::geteuid().as_raw())
        .map_err(|why| anyhow::anyhow!("refusing the daemon at {endpoint}: {why}"))?;
    let cwd = std::env::current_dir().unwrap_or_default();
    let argv = hello_argv(command);
    let hello = Hello {
        version: DAEMON_VERSION,
        profile,
        cwd: cwd.as_os_str().as_bytes(),
        argv: &argv,
    };
    let mut buf = vec![0u8; MAX_MESSAGE];
    let bytes = encode(&hello, &mut buf).map_err(|e| anyhow::anyhow!("hello: {e}"))?;
    // A daemon that refuses at once (over its limit of waiting connections) may have
    // answered and closed before the hello went out: its answer is still read below.
    match send_with_fds(sock.as_raw_fd(), bytes, &[]) {
        Ok(()) | Err(libc::EPIPE | libc::ECONNRESET) => {}
        Err(e) => {
            return Err(std::io::Error::from_raw_os_error(e))
                .context("cannot send the hello to the daemon")
        }
    }
    let _ = socket::setsockopt(
        &sock,
        sockopt::ReceiveTimeout,
        &nix::sys::time::TimeVal::new(REPLY_TIMEOUT.as_secs() as _, 0),
    );
    let mut raw = [-1; MAX_FDS];
    // A daemon that refused at once closed its end with our hello unread, which resets the
    // connection: the kernel reports that error before the answer already queued (and
    // clears it), so a reset is read past once.
    let mut got = recv_with_fds(sock.as_raw_fd(), &mut buf, &mut raw, 0);
    if let Err(RecvError::Os(libc::ECONNRESET)) = got {
        got = recv_with_fds(sock.as_raw_fd(), &mut buf, &mut raw, 0);
    }
    let got = got.map_err(|e| anyhow::anyhow!("no answer from the daemon: {e:?}"))?;
    // SAFETY: just received; owned by nobody else.
    let mut fds: Vec<OwnedFd> = raw[..got.nfds]
        .iter()
        .map(|&fd| unsafe { OwnedFd::from_raw_fd(fd) })
        .collect();
    if got.len == 0 {
        bail!("the daemon closed the connection without an answer");
    }
    let reply = decode::<HelloReply>(&buf[..got.len])
        .map_err(|e| anyhow::anyhow!("malformed answer from the daemon: {e}"))?;
    if !reply.accepted {
        return Ok(Err(reply.reason.to_owned()));
    }
    if fds.len() != 1 {
        bail!(
            "the daemon accepted but sent {} fds instead of 1",
            fds.len()
        );
    }
    let shim = PathBuf::from(OsString::from_vec(reply.shim.to_vec()));
    if !shim.is_absolute() || !shim.is_file() {
        bail!(
            "the daemon's shim {} is not a file this launcher can load",
            shim.display()
        );
    }
    trusted_file(&shim, nix::unistd::geteuid().as_raw())
        .map_err(|why| anyhow::anyhow!("refusing the daemon's shim: {why}"))?;
    let _ = socket::setsockopt(
        &sock,
        sockopt::ReceiveTimeout,
        &nix::sys::time::TimeVal::new(0, 0),
    );
    Ok(Ok(Granted {
        conn: sock,
        bootstrap: fds.remove(0),
        tmpdir: OsString::from_vec(reply.tmpdir.to_vec()),
        shim,
    }))
}

/// Whether a daemon running as `server` may serve a launcher running as `me`: only root or
/// the launcher's own uid (a daemon of any other uid could run its own code in the
/// command, as the launcher's user, and answer every trapped call itself).
fn trusted_daemon(server: u32, me: u32) -> Result<(), String> {
    if server == 0 || server == me {
        Ok(())
    } else {
        Err(format!(
            "it runs as uid {server}; a daemon must run as root or as this user (uid {me})"
        ))
    }
}

/// Whether `path` (absolute) is a file only root or `me` can have put there or change:
/// the file and every directory above it owned by root or `me`, the file a regular file,
/// none writable by group or others, except a directory with the sticky bit (`/tmp`),
/// where others cannot remove or rename what root or `me` owns. Symbolic links are not
/// followed (a link is refused), so what is checked is what `ld.so` opens.
fn trusted_file(path: &Path, me: u32) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let mut first = true;
    for p in path.ancestors() {
        let m = std::fs::symlink_metadata(p).map_err(|e| format!("{}: {e}", p.display()))?;
        let mode = m.mode();
        let kind_ok = if first {
            m.file_type().is_file()
        } else {
            m.file_type().is_dir()
        };
        if !kind_ok {
            let want = if first {
                "a regular file"
            } else {
                "a directory"
            };
            return Err(format!("{} is not {want}", p.display()));
        }
        if m.uid() != 0 && m.uid() != me {
            return Err(format!(
                "{} is owned by uid {}, not by root or uid {me}",
                p.display(),
                m.uid()
            ));
        }
        let sticky_dir = !first && mode & 0o1000 != 0;
        if mode & 0o022 != 0 && !sticky_dir {
            return Err(format!(
                "{} is writable by others (mode {:o})",
                p.display(),
                mode & 0o7777
            ));
        }
        first = false;
    }
    Ok(())
}

/// Runs the command in a sandbox served by the daemon and returns its exit status.
pub fn launch(req: Request<'_>) -> Result<ExitCode> {
    let path_var = std::env::var_os("PATH");
    let program = match program::find(&req.command[0], path_var.as_deref()) {
        Ok(p) => p,
        Err(e @ ProgramError::NotFound(_)) => {
            eprintln!("arbiter: {e}");
            return Ok(ExitCode::from(exit_code::NOT_FOUND));
        }
        Err(e @ ProgramError::NotExecutable(_)) => {
            eprintln!("arbiter: {e}");
            return Ok(ExitCode::from(exit_code::CANNOT_EXECUTE));
        }
    };
    let granted = match ask(&req.endpoint, req.profile, req.command)? {
        Ok(g) => g,
        Err(reason) => {
            eprintln!("arbiter: the daemon at {} refused: {reason}", req.endpoint);
            return Ok(ExitCode::from(exit_code::FAILED));
        }
    };
    let shim = granted.shim.clone();
    // The daemon's policy is not known here: a file beneath the working directory (which
    // profiles make writable) is never followed to a prefix.
    let cwd = std::env::current_dir()
        .ok()
        .and_then(|d| d.canonicalize().ok());
    let writable = |p: &std::path::Path| cwd.as_ref().is_some_and(|c| p.starts_with(c));
    let install = program::installation(&program, path_var.as_deref(), &writable);
    let prefixes = install.prefixes;
    // The same layers as `arbiter run`: Landlock, and one seccomp filter holding the errno
    // rules and the notify rules, whose listener goes to the daemon on the bootstrap socket.
    // No native reads: the launcher does not know the policy (see docs/serve.md).
    // The daemon's policy is not known here: the floor's execute right is not aligned with
    // its `exec` rules (docs/serve.md).
    let confinement = confine::prepare(
        &prefixes,
        &install.files,
        &shim,
        true,
        crate::confine::seccomp::Handoff::Bootstrap(DEFAULT_BOOTSTRAP_FD),
        None,
        false,
        None,
        crate::confine::real_paths::RealPaths::new(),
    )
    .context("cannot prepare the kernel confinement")?;
    if req.strict && !(confinement.landlock && confinement.seccomp) {
        eprintln!(
            "arbiter: --strict: not enforced on this kernel: {}",
            confinement.missing.join("; ")
        );
        return Ok(ExitCode::from(exit_code::FAILED));
    }
    if !confinement.missing.is_empty() {
        eprintln!(
            "arbiter: warning: running with weaker confinement; missing: {}",
            confinement.missing.join("; ")
        );
    }
    // Before the command starts (the launcher has no other thread): the signals the
    // supervisor waits for queue on its signalfd from here on, SIGCHLD included.
    let supervisor = Supervisor::prepare().context("cannot set up the launcher's supervision")?;
    let notify = confinement.notify;
    let child = match spawn(
        &program,
        req.command,
        &shim,
        &granted,
        notify,
        confinement.steps,
    ) {
        Ok(pid) => pid,
        Err(e) => {
            let code = match e.raw_os_error() {
                Some(libc::ENOENT) => exit_code::NOT_FOUND,
                Some(libc::EACCES | libc::ENOEXEC | libc::EPERM | libc::EISDIR) => {
                    exit_code::CANNOT_EXECUTE
                }
                _ => exit_code::FAILED,
            };
            eprintln!("arbiter: cannot execute {}: {e}", program.display());
            return Ok(ExitCode::from(code));
        }
    };
    // Only the sandbox's processes hold the bootstrap socket from here on.
    drop(granted.bootstrap);
    let ended = supervisor.run(child, &granted.conn);
    Ok(match ended {
        Some(code) => ExitCode::from(code),
        None => {
            eprintln!("arbiter: the daemon at {} ended the sandbox", req.endpoint);
            ExitCode::from(exit_code::FAILED)
        }
    })
}

/// Confines this process (the launcher stays in the sandbox as its supervisor), then
/// starts the command with the bootstrap socket at fd 1023. Returns the command's pid.
fn spawn(
    program: &Path,
    argv: &[OsString],
    shim: &Path,
    granted: &Granted,
    notify: bool,
    steps: Vec<crate::sandbox::spawn::PreExec>,
) -> std::io::Result<i32> {
    let mut preload = shim.as_os_str().to_owned();
    if let Some(existing) = std::env::var_os("LD_PRELOAD").filter(|v| !v.is_empty()) {
        preload.push(":");
        preload.push(existing);
    }
    let mut cmd = Command::new(program);
    if let Some((first, rest)) = argv.split_first() {
        cmd.arg0(first).args(rest);
    }
    cmd.env("LD_PRELOAD", preload)
        .env(ENV_FD, DEFAULT_BOOTSTRAP_FD.to_string())
        .env(ENV_SHIM, shim)
        .env("TMPDIR", &granted.tmpdir);
    if notify {
        // The shim lets connect, bind and listen reach the kernel, where the filter stops
        // them for the daemon (see `arbiter_protocol::ENV_SECCOMP`).
        cmd.env(ENV_SECCOMP, "1");
    } else {
        cmd.env_remove(ENV_SECCOMP);
    }
    // dup2 clears FD_CLOEXEC: the command inherits fd 1023; the seccomp step sends the
    // notify listener on it.
    // SAFETY: dup2 on two valid fd numbers.
    if unsafe { libc::dup2(granted.bootstrap.as_raw_fd(), DEFAULT_BOOTSTRAP_FD) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd 1023 was just made ours by dup2.
    let boot = unsafe { OwnedFd::from_raw_fd(DEFAULT_BOOTSTRAP_FD) };
    // The launcher confines itself, in this (still single) thread, before it forks: the
    // command inherits the Landlock domain and the seccomp filter, and the launcher, inside
    // the same domain, may signal every process of the sandbox and nothing outside it.
    for mut step in steps {
        step()?;
    }
    // SAFETY: the closure runs in the forked child before exec and only makes system calls.
    unsafe {
        cmd.pre_exec(|| {
            // The supervisor's blocked signals are the command's own business again.
            let mut none: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut none);
            libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
            // If the launcher is killed, the command goes with it.
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            // No inherited descriptor poses as the fast-path table: the command's shim
            // asks the daemon (arbiter_protocol::fast_table).
            libc::close(arbiter_protocol::fast_table::FAST_TABLE_FD);
            Ok(())
        });
    }
    let child = cmd.spawn();
    drop(boot);
    Ok(child?.id() as i32)
}
