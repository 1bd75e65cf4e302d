//! The daemon identifies a client by what the kernel attests on the connection and pins
//! its process when it accepts: a client whose process has exited is refused, never served
//! with the state (working directory) of another process that took its pid.
//!
//! The client here is made by hand: the test creates the socket, a forked child calls
//! `connect()` on it (so `SO_PEERCRED` names the child) and exits, the test reaps it, and
//! only then sends the hello on the same socket. For the pid-reuse case, a process is
//! created with the dead client's pid (`clone3` with `set_tid`, which needs root) and its
//! working directory elsewhere; a daemon that re-reads `/proc/<pid>` would serve it.

mod serve_common;

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use arbiter_protocol::daemon::{Hello, HelloReply, DAEMON_VERSION};
use arbiter_protocol::{decode, encode, MAX_MESSAGE};
use arbiter_tests::{assert_code, is_root, stderr, Sandbox};
use serve_common::{run_client, scratch, Daemon};

fn start(dir: &Path) -> (Daemon, String) {
    let sock = dir.join("s").to_str().unwrap().to_owned();
    let cfg = dir.join("serve.toml");
    // SAFETY: geteuid has no preconditions.
    let own = unsafe { libc::geteuid() };
    std::fs::write(
        &cfg,
        format!("[[user]]\nuid = {own}\nallow = [\"default\"]\n\n[[user]]\nuid = 65534\nallow = [\"default\"]\n"),
    )
    .unwrap();
    let mut d = Daemon::start(
        dir,
        &[
            "--listen",
            &sock,
            "--mode",
            "0666",
            "--config",
            cfg.to_str().unwrap(),
            "--audit",
            dir.join("audit.log").to_str().unwrap(),
        ],
    );
    d.wait_listening();
    (d, sock)
}

/// A socket connected to `sock` by a child process (as uid 65534 when `nobody`) that has
/// exited and been reaped when this returns. Returns the socket and the child's pid.
fn connected_by_a_dead_child(sock: &str, nobody: bool) -> (std::os::fd::OwnedFd, i32) {
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
    // SAFETY: the child only makes async-signal-safe system calls, then _exit.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: system calls on valid arguments; the child never returns.
        unsafe {
            if nobody
                && (libc::setgroups(0, std::ptr::null()) < 0
                    || libc::setresgid(65534, 65534, 65534) < 0
                    || libc::setresuid(65534, 65534, 65534) < 0)
            {
                libc::_exit(2);
            }
            let rc = libc::connect(fd, (&addr as *const libc::sockaddr_un).cast(), len);
            libc::_exit(if rc == 0 { 0 } else { 1 });
        }
    }
    assert!(pid > 0);
    let mut status = 0;
    // SAFETY: status is a valid out-parameter.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "the child connected"
    );
    (owned, pid)
}

/// Sends a hello on `fd` and returns the daemon's answer: `Ok(tmpdir)` or `Err(reason)`.
fn hello(fd: &std::os::fd::OwnedFd) -> Result<String, String> {
    use std::os::fd::AsRawFd;
    let mut buf = vec![0u8; MAX_MESSAGE];
    let h = Hello {
        version: DAEMON_VERSION,
        profile: None,
        cwd: b"/claimed",
        argv: b"true\0",
    };
    let bytes = encode(&h, &mut buf).unwrap().to_vec();
    // SAFETY: bytes is valid for its length.
    let n = unsafe { libc::send(fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len(), 0) };
    assert_eq!(n as usize, bytes.len());
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
    // Any fd that comes with an accepted reply is closed with the process; not needed here.
    // SAFETY: buf is writable for its length.
    let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n <= 0 {
        return Err(format!(
            "no answer from the daemon ({})",
            std::io::Error::last_os_error()
        ));
    }
    let reply = decode::<HelloReply>(&buf[..n as usize]).expect("a reply");
    if reply.accepted {
        Ok(String::from_utf8_lossy(reply.tmpdir).into_owned())
    } else {
        Err(reply.reason.to_owned())
    }
}

#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// A process made to hold a dead client's pid; killed and reaped when dropped.
struct Impostor(i32);

impl Drop for Impostor {
    fn drop(&mut self) {
        // SAFETY: integer arguments; status is a valid out-parameter.
        unsafe {
            libc::kill(self.0, libc::SIGKILL);
            let mut status = 0;
            libc::waitpid(self.0, &mut status, 0);
        }
    }
}

/// A process with pid `pid` whose working directory is `cwd`, waiting to be killed.
/// `None` when the pid is already taken again by someone else.
fn impostor(pid: i32, cwd: &Path) -> Option<Impostor> {
    let dir = CString::new(cwd.as_os_str().as_bytes()).unwrap();
    let tid: libc::pid_t = pid;
    let args = CloneArgs {
        exit_signal: libc::SIGCHLD as u64,
        set_tid: (&tid as *const libc::pid_t) as u64,
        set_tid_size: 1,
        ..CloneArgs::default()
    };
    // SAFETY: args is a valid clone_args of the size given; without CLONE_VM the child
    // gets a copy of this process and only makes async-signal-safe calls.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if rc == 0 {
        // SAFETY: system calls on valid arguments; the child never returns.
        unsafe {
            libc::chdir(dir.as_ptr());
            loop {
                libc::pause();
            }
        }
    }
    if rc < 0 {
        let e = std::io::Error::last_os_error();
        assert_eq!(
            e.raw_os_error(),
            Some(libc::EEXIST),
            "clone3 with set_tid: {e}"
        );
        return None;
    }
    let held = Impostor(rc as i32);
    assert_eq!(held.0, pid);
    Some(held)
}

#[test]
fn a_client_whose_pid_was_taken_by_another_process_is_refused() {
    if !is_root() {
        println!("SKIP: making a process with a chosen pid (clone3 set_tid) needs root");
        return;
    }
    let dir = scratch();
    let (d, sock) = start(dir.path());
    let elsewhere = Sandbox::new();
    for nobody in [false, true] {
        // Another process may take the freed pid first: try again a few times.
        let mut tried = 0;
        let (fd, held) = loop {
            tried += 1;
            assert!(tried < 20, "could not reuse a client's pid");
            let (fd, pid) = connected_by_a_dead_child(&sock, nobody);
            if let Some(held) = impostor(pid, &elsewhere.dir) {
                break (fd, held);
            }
        };
        let answer = hello(&fd);
        drop(held);
        let reason = answer.expect_err("a client whose process is gone must be refused");
        assert!(
            reason.contains("has exited"),
            "{reason}\ndaemon: {}",
            d.err()
        );
    }
    // The daemon's audit log names the refusal (its writer thread may still be writing it:
    // wait for it); no sandbox started with the impostor's cwd.
    let read_log = || std::fs::read_to_string(dir.path().join("audit.log")).unwrap_or_default();
    let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !read_log().contains("has exited") && std::time::Instant::now() < until {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let log = read_log();
    let start: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("\"type\":\"start\""))
        .collect();
    assert!(start.is_empty(), "{start:?}");
    assert!(log.contains("has exited"), "{log}");
}

#[test]
fn a_client_whose_process_exited_before_its_hello_is_refused() {
    let dir = scratch();
    let (d, sock) = start(dir.path());
    let users: &[bool] = if is_root() { &[false, true] } else { &[false] };
    for &nobody in users {
        let (fd, _pid) = connected_by_a_dead_child(&sock, nobody);
        let reason = hello(&fd).expect_err("refused");
        assert!(
            reason.contains("has exited"),
            "{reason}\ndaemon: {}",
            d.err()
        );
    }
    // The control: a live client of the same daemon is served.
    let sb = Sandbox::new();
    let o = run_client(&sock, &sb.dir, false, &[], &["true"]);
    assert_code(&o, 0);
    if is_root() {
        let o = run_client(&sock, &sb.dir, true, &[], &["true"]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
}
