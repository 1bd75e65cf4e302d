//! Shared harness for the `arbiter serve` tests: a daemon killed when the test ends, and
//! bounded waits so no test can hang.
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use arbiter_tests::arbiter;

/// A running `arbiter serve`, SIGKILLed and reaped when dropped.
pub struct Daemon {
    pub child: Child,
    pub stderr: PathBuf,
}

impl Daemon {
    /// Starts `arbiter serve ARGS…` with stderr going to `dir/daemon.err`.
    pub fn start(dir: &Path, args: &[&str]) -> Daemon {
        Daemon::start_with(dir, args, Stdio::null())
    }

    /// Like [`Daemon::start`], with `stdin` given (an inherited listening socket).
    pub fn start_with(dir: &Path, args: &[&str], stdin: Stdio) -> Daemon {
        let stderr = dir.join(format!("daemon-{}.err", unique()));
        let child = Command::new(arbiter())
            .arg("serve")
            .args(args)
            .stdin(stdin)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("start arbiter serve");
        Daemon { child, stderr }
    }

    /// Waits until the daemon says it listens (or fails the test).
    pub fn wait_listening(&mut self) {
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if self.err().contains("listening on") {
                return;
            }
            if let Some(st) = self.child.try_wait().unwrap() {
                panic!("daemon exited early ({st}): {}", self.err());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("daemon did not start listening: {}", self.err());
    }

    /// The daemon's stderr so far.
    pub fn err(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Sends `sig` to the daemon.
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill with integer arguments.
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }

    /// Waits for the daemon to exit within `secs`; returns its exit code.
    pub fn wait_exit(&mut self, secs: u64) -> Option<i32> {
        let until = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < until {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st.code();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("daemon did not exit within {secs}s: {}", self.err());
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// A scratch directory every uid may traverse (the socket lives here).
pub fn scratch() -> tempfile::TempDir {
    let t = tempfile::Builder::new()
        .prefix("arbiter-serve-")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    t
}

/// Waits for `child` at most `secs`, killing it on timeout (the test then fails).
pub fn output_within(mut child: Child, secs: u64) -> Output {
    let until = Instant::now() + Duration::from_secs(secs);
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() > until {
            let _ = child.kill();
            let o = child.wait_with_output().unwrap();
            panic!(
                "client did not finish within {secs}s: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `arbiter run --daemon SOCK [extra…] -- cmd…` in `cwd`, optionally as uid 65534.
pub fn client(sock: &str, cwd: &Path, nobody: bool, extra: &[&str], cmd: &[&str]) -> Child {
    let mut c = if nobody {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(arbiter());
        c
    } else {
        Command::new(arbiter())
    };
    c.arg("run")
        .arg("--daemon")
        .arg(sock)
        .args(extra)
        .arg("--")
        .args(cmd)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c.spawn().expect("start client")
}

/// Runs a client to its end (at most 30 s).
pub fn run_client(sock: &str, cwd: &Path, nobody: bool, extra: &[&str], cmd: &[&str]) -> Output {
    output_within(client(sock, cwd, nobody, extra, cmd), 30)
}

/// A `SOCK_SEQPACKET` connection to the daemon at `sock`, made by this process.
pub fn raw_connect(sock: &str) -> std::os::fd::OwnedFd {
    use std::os::fd::FromRawFd;
    // SAFETY: socket with integer arguments.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0) };
    assert!(fd >= 0);
    // SAFETY: a new fd nobody else owns.
    let owned = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
    // SAFETY: sockaddr_un is plain old data.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (d, s) in addr.sun_path.iter_mut().zip(sock.as_bytes()) {
        *d = *s as libc::c_char;
    }
    let len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
    // SAFETY: addr is a valid sockaddr_un of `len` bytes.
    let rc = unsafe { libc::connect(fd, (&addr as *const libc::sockaddr_un).cast(), len) };
    assert_eq!(rc, 0, "connect: {}", std::io::Error::last_os_error());
    owned
}

/// Sends `bytes` as one packet on `fd` (a zero-length packet when empty).
pub fn send_raw(fd: &std::os::fd::OwnedFd, bytes: &[u8]) -> isize {
    use std::os::fd::AsRawFd;
    // SAFETY: bytes is valid for its length.
    unsafe {
        libc::send(
            fd.as_raw_fd(),
            bytes.as_ptr().cast(),
            bytes.len(),
            libc::MSG_NOSIGNAL,
        )
    }
}

/// A hello of this build's handshake for the default profile.
pub fn hello_bytes() -> Vec<u8> {
    use arbiter_protocol::daemon::{Hello, DAEMON_VERSION};
    let mut buf = vec![0u8; arbiter_protocol::MAX_MESSAGE];
    let h = Hello {
        version: DAEMON_VERSION,
        profile: None,
        cwd: b"/claimed",
        argv: b"raw\0",
    };
    arbiter_protocol::encode(&h, &mut buf).unwrap().to_vec()
}

/// Reads the daemon's answer on `fd` (at most 30 s): the bootstrap socket when accepted,
/// the reason when refused.
pub fn read_reply(fd: &std::os::fd::OwnedFd) -> Result<std::os::fd::OwnedFd, String> {
    use arbiter_protocol::daemon::HelloReply;
    use arbiter_protocol::fdpass::recv_with_fds;
    use std::os::fd::{AsRawFd, FromRawFd};
    let tv = libc::timeval {
        tv_sec: 30,
        tv_usec: 0,
    };
    // SAFETY: tv is a valid timeval.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as u32,
        )
    };
    let mut buf = vec![0u8; arbiter_protocol::MAX_MESSAGE];
    let mut raw = [-1; arbiter_protocol::MAX_FDS];
    let got = recv_with_fds(fd.as_raw_fd(), &mut buf, &mut raw, 0)
        .map_err(|e| format!("no answer from the daemon: {e:?}"))?;
    // SAFETY: just received, owned by nobody else.
    let mut fds: Vec<std::os::fd::OwnedFd> = raw[..got.nfds]
        .iter()
        .map(|&f| unsafe { std::os::fd::OwnedFd::from_raw_fd(f) })
        .collect();
    if got.len == 0 {
        return Err("the daemon closed the connection without an answer".into());
    }
    let reply = arbiter_protocol::decode::<HelloReply>(&buf[..got.len]).expect("a reply");
    if reply.accepted {
        assert_eq!(fds.len(), 1, "one bootstrap socket");
        Ok(fds.remove(0))
    } else {
        Err(reply.reason.to_owned())
    }
}

/// The daemon's audit records (JSON lines) in `log`.
pub fn records(log: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Waits (at most 30 s) until `pred` holds for the audit records in `log`.
pub fn wait_records(log: &Path, what: &str, pred: impl Fn(&[serde_json::Value]) -> bool) {
    let until = Instant::now() + Duration::from_secs(30);
    while Instant::now() < until {
        if pred(&records(log)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("never saw {what} in {}", log.display());
}

/// A daemon listening on `dir/s` (mode 0666) for the invoking uid and uid 65534, both allowed
/// the `default` profile, with `more` appended to its config file, its audit log in
/// `dir/audit.log`, and `extra` flags. Returns it and the socket path.
pub fn start_for_both_users(dir: &Path, more: &str, extra: &[&str]) -> (Daemon, String) {
    let sock = dir.join("s").to_str().unwrap().to_owned();
    let cfg = dir.join("serve.toml");
    // SAFETY: geteuid has no preconditions.
    let own = unsafe { libc::geteuid() };
    std::fs::write(
        &cfg,
        format!("[[user]]\nuid = {own}\nallow = [\"default\"]\n\n[[user]]\nuid = 65534\nallow = [\"default\"]\n{more}"),
    )
    .unwrap();
    let log = dir.join("audit.log");
    let mut args = vec![
        "--listen",
        &sock,
        "--mode",
        "0666",
        "--config",
        cfg.to_str().unwrap(),
        "--audit",
        log.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let mut d = Daemon::start(dir, &args);
    d.wait_listening();
    (d, sock)
}
