//! `arbiter serve`'s socket path lifecycle: exact mode, live and stale sockets, stolen
//! paths, and sockets handed over by a binder.

mod serve_common;

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::net::UnixListener;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use arbiter_tests::{assert_code, stderr, stdout, Sandbox};
use serve_common::{run_client, scratch, Daemon};

#[test]
fn socket_mode_is_never_observed_looser_than_asked() {
    let dir = scratch();
    let sock = dir.path().join("s");
    for round in 0..10 {
        let stop = Arc::new(AtomicBool::new(false));
        let watcher = {
            let (sock, stop) = (sock.clone(), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(m) = std::fs::symlink_metadata(&sock) {
                        if m.file_type().is_socket() && m.mode() & 0o7777 != 0o600 {
                            seen.push(m.mode() & 0o7777);
                        }
                    }
                }
                seen
            })
        };
        // Even under a permissive umask of the parent.
        let mut d = Daemon::start(
            dir.path(),
            &["--listen", sock.to_str().unwrap(), "--mode", "600"],
        );
        d.wait_listening();
        d.signal(libc::SIGTERM);
        assert_eq!(d.wait_exit(10), Some(0), "{}", d.err());
        stop.store(true, Ordering::Relaxed);
        let seen = watcher.join().unwrap();
        assert!(seen.is_empty(), "round {round}: modes observed: {seen:?}");
        assert!(
            !sock.exists(),
            "the daemon removes its own path on shutdown"
        );
    }
}

#[test]
fn a_second_daemon_on_a_live_path_exits_125() {
    let dir = scratch();
    let sock = dir.path().join("s");
    let mut first = Daemon::start(dir.path(), &["--listen", sock.to_str().unwrap()]);
    first.wait_listening();
    let mut second = Daemon::start(dir.path(), &["--listen", sock.to_str().unwrap()]);
    assert_eq!(second.wait_exit(10), Some(125));
    assert!(
        second.err().contains("a live server already answers"),
        "{}",
        second.err()
    );
    assert!(
        !dir.path().join("s.lock").exists(),
        "lock released on the error path"
    );
    // The first daemon still owns and serves the path.
    let sb = Sandbox::new();
    let o = run_client(sock.to_str().unwrap(), &sb.dir, false, &[], &["true"]);
    assert_code(&o, 0);
}

#[test]
fn a_stale_socket_of_a_killed_daemon_is_replaced_unless_told_not_to() {
    let dir = scratch();
    let sock = dir.path().join("s");
    let s = sock.to_str().unwrap();
    let mut dead = Daemon::start(dir.path(), &["--listen", s]);
    dead.wait_listening();
    dead.signal(libc::SIGKILL);
    dead.wait_exit(10);
    assert!(sock.exists(), "SIGKILL leaves the path behind");

    let mut keep = Daemon::start(dir.path(), &["--listen", s, "--no-replace-stale"]);
    assert_eq!(keep.wait_exit(10), Some(125));
    assert!(keep.err().contains("stale socket"), "{}", keep.err());
    assert!(sock.exists(), "--no-replace-stale keeps the stale path");

    let mut fresh = Daemon::start(dir.path(), &["--listen", s]);
    fresh.wait_listening();
    let sb = Sandbox::new();
    assert_code(&run_client(s, &sb.dir, false, &[], &["true"]), 0);
}

#[test]
fn a_path_that_is_not_a_socket_is_never_removed() {
    let dir = scratch();
    let file = dir.path().join("s");
    std::fs::write(&file, "precious").unwrap();
    let mut d = Daemon::start(dir.path(), &["--listen", file.to_str().unwrap()]);
    assert_eq!(d.wait_exit(10), Some(125));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "precious");
}

#[test]
fn a_stolen_path_is_noticed_and_exit_on_stolen_exits() {
    let dir = scratch();
    let sock = dir.path().join("s");
    let mut d = Daemon::start(
        dir.path(),
        &["--listen", sock.to_str().unwrap(), "--exit-on-stolen"],
    );
    d.wait_listening();
    std::fs::remove_file(&sock).unwrap();
    let thief = UnixListener::bind(&sock).unwrap();
    assert_eq!(d.wait_exit(10), Some(125));
    assert!(d.err().contains("replaced or removed"), "{}", d.err());
    assert!(
        sock.exists(),
        "the thief's socket is not removed on shutdown"
    );
    drop(thief);
}

fn seqpacket_listener(path: &std::path::Path, listen: bool, ty: i32) -> OwnedFd {
    let l = UnixListener::bind(path);
    drop(l);
    let _ = std::fs::remove_file(path);
    // SAFETY: plain socket creation.
    let fd = unsafe { libc::socket(libc::AF_UNIX, ty | libc::SOCK_CLOEXEC, 0) };
    assert!(fd >= 0);
    // SAFETY: a new fd owned here.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: addr is a zeroed sockaddr_un filled with a short path below.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as _;
    for (i, b) in path.as_os_str().as_encoded_bytes().iter().enumerate() {
        addr.sun_path[i] = *b as _;
    }
    // SAFETY: addr is a valid sockaddr_un of the size given.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_un).cast(),
            std::mem::size_of::<libc::sockaddr_un>() as u32,
        )
    };
    assert_eq!(rc, 0);
    if listen {
        // SAFETY: listen on our socket.
        assert_eq!(unsafe { libc::listen(fd.as_raw_fd(), 16) }, 0);
    }
    fd
}

#[test]
fn an_inherited_seqpacket_socket_on_stdin_is_served() {
    let dir = scratch();
    let sock = dir.path().join("s");
    let fd = seqpacket_listener(&sock, true, libc::SOCK_SEQPACKET);
    let mut d = Daemon::start_with(dir.path(), &["--inherit-stdin"], Stdio::from(fd));
    d.wait_listening();
    let sb = Sandbox::new();
    let o = run_client(
        sock.to_str().unwrap(),
        &sb.dir,
        false,
        &[],
        &["cat", "/etc/hostname"],
    );
    assert_code(&o, 0);
    assert_eq!(
        stdout(&o),
        std::fs::read_to_string("/etc/hostname").unwrap()
    );
}

#[test]
fn an_inherited_stream_or_non_listening_socket_is_refused() {
    let dir = scratch();
    let fd = seqpacket_listener(&dir.path().join("a"), true, libc::SOCK_STREAM);
    let mut d = Daemon::start_with(dir.path(), &["--inherit-stdin"], Stdio::from(fd));
    assert_eq!(d.wait_exit(10), Some(125));
    assert!(d.err().contains("SOCK_STREAM"), "{}", d.err());

    let fd = seqpacket_listener(&dir.path().join("b"), false, libc::SOCK_SEQPACKET);
    let mut d = Daemon::start_with(dir.path(), &["--inherit-stdin"], Stdio::from(fd));
    assert_eq!(d.wait_exit(10), Some(125));
    assert!(d.err().contains("not listening"), "{}", d.err());
}

#[test]
fn an_abstract_socket_needs_no_file() {
    let dir = scratch();
    let name = format!("@arbiter-test-{}", std::process::id());
    let mut d = Daemon::start(dir.path(), &["--listen", &name]);
    d.wait_listening();
    let sb = Sandbox::new();
    let o = run_client(&name, &sb.dir, false, &[], &["true"]);
    assert_code(&o, 0);
    let _ = stderr(&o);
}
