//! A daemon client's hello is validated at the edge: a profile name that is not a plain
//! name, or a working directory or command name the kernel could not have given, is refused
//! with a reason that names the problem — before the daemon looks anything up by it.

#[path = "serve_common/mod.rs"]
mod serve_common;

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use arbiter_protocol::daemon::{Hello, HelloReply, DAEMON_VERSION};
use arbiter_protocol::{decode, encode};
use serve_common::{scratch, Daemon};

/// Connects to the daemon at `sock`, sends `hello` and returns (accepted, reason).
fn hello(sock: &str, hello: &Hello<'_>) -> (bool, String) {
    // SAFETY: socket with integer arguments; the fd is owned below.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0) };
    assert!(fd >= 0);
    // SAFETY: fd was just returned by socket and is owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: sockaddr_un is plain old data.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (d, s) in addr.sun_path.iter_mut().zip(sock.bytes()) {
        *d = s as libc::c_char;
    }
    // SAFETY: addr is a valid sockaddr_un of the size passed.
    let rc = unsafe {
        libc::connect(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_un).cast(),
            std::mem::size_of::<libc::sockaddr_un>() as u32,
        )
    };
    assert_eq!(rc, 0, "connect: {}", std::io::Error::last_os_error());
    let mut buf = vec![0u8; 8192];
    let bytes = encode(hello, &mut buf).unwrap().to_vec();
    // SAFETY: bytes is valid for its length.
    let n = unsafe { libc::send(fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len(), 0) };
    assert_eq!(n as usize, bytes.len());
    // SAFETY: buf is valid for its length.
    let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
    assert!(n > 0, "no reply: {}", std::io::Error::last_os_error());
    let reply: HelloReply = decode(&buf[..n as usize]).unwrap();
    (reply.accepted, reply.reason.to_owned())
}

#[test]
fn a_hello_with_an_invalid_profile_name_or_path_is_refused_with_the_reason() {
    let dir = scratch();
    let sock = dir.path().join("s").to_str().unwrap().to_owned();
    let mut d = Daemon::start(dir.path(), &["--listen", &sock, "--mode", "0666"]);
    d.wait_listening();
    let good = Hello {
        version: DAEMON_VERSION,
        profile: None,
        cwd: b"/tmp",
        argv: b"true\0",
    };
    // The control: a well-formed hello is accepted.
    assert_eq!(hello(&sock, &good), (true, String::new()));
    for (bad, what) in [
        (
            Hello {
                profile: Some("../../etc/passwd"),
                ..good
            },
            "profile name",
        ),
        (
            Hello {
                profile: Some("default\0"),
                ..good
            },
            "profile name",
        ),
        (
            Hello {
                cwd: b"/tmp\0/x",
                ..good
            },
            "working directory contains a NUL",
        ),
    ] {
        let (accepted, reason) = hello(&sock, &bad);
        assert!(!accepted, "{bad:?} was accepted");
        assert!(
            reason.contains("invalid hello") && reason.contains(what),
            "{bad:?}: {reason}"
        );
    }
}
