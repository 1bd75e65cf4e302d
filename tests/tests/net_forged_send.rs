//! A program that speaks the channel protocol itself cannot have the broker send for it:
//! `Send` carries credentials the seccomp transport checked, so a channel that asks for one
//! (here claiming pid 1, uid 0) loses the channel and nothing is sent. Before, a root broker
//! sent the datagram stamped with the forged credentials.

use std::os::fd::AsRawFd;
use std::os::unix::net::UnixDatagram;

use arbiter_protocol::{encode, At, Call, PathArg, Request, SockAddr, MAX_MESSAGE};
use arbiter_tests::{assert_code, have, stderr, stdout, Sandbox};

#[test]
fn a_send_asked_on_a_shim_channel_is_refused() {
    if !have("python3") {
        println!("SKIP: python3 is not installed");
        return;
    }
    let sb = Sandbox::new();
    let dir = tempfile::Builder::new()
        .prefix("arbiter-forged-")
        .tempdir()
        .unwrap();
    let path = dir.path().canonicalize().unwrap().join("sock");
    let server = UnixDatagram::bind(&path).unwrap();
    server.set_nonblocking(true).unwrap();
    let one: libc::c_int = 1;
    // SAFETY: &one is a valid c_int for the call's duration.
    unsafe {
        libc::setsockopt(
            server.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PASSCRED,
            (&one as *const libc::c_int).cast(),
            4,
        )
    };
    let p = path.to_str().unwrap();
    let mut buf = vec![0u8; MAX_MESSAGE];
    let req = encode(
        &Request {
            id: 1,
            call: Call::Send {
                addr: Some(SockAddr::Unix(PathArg {
                    at: At::Absolute,
                    path: p.as_bytes(),
                })),
                data: b"forged",
                flags: 0,
                rights: 0,
                creds: Some((1, 0, 0)),
            },
        },
        &mut buf,
    )
    .unwrap()
    .to_vec();
    let hex: String = req.iter().map(|b| format!("{b:02x}")).collect();
    let script = r#"
import array, os, socket
boot = socket.socket(fileno=int(os.environ["ARBITER_FD"]))
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
boot.sendmsg([bytes([VERSION])], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [b.fileno()]))])
b.close()
boot.detach()
assert len(a.recv(64)) > 0, "no welcome"
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
a.sendmsg([bytes.fromhex("HEX")], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [s.fileno()]))])
print("closed:", a.recv(64) == b"")
"#
    .replace("VERSION", &arbiter_protocol::PROTOCOL_VERSION.to_string())
    .replace("HEX", &hex);
    let allow = format!("unix:{p}");
    let o = sb.run(&["--connect", &allow], &["python3", "-c", &script]);
    assert_code(&o, 0);
    assert_eq!(stdout(&o), "closed: True\n", "{}", stderr(&o));
    let mut got = [0u8; 16];
    assert!(
        server.recv(&mut got).is_err(),
        "the broker sent a datagram a channel asked for"
    );
}
