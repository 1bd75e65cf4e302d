//! The daemon handshake messages round-trip and reject trailing bytes.

use arbiter_protocol::daemon::{Hello, HelloReply, DAEMON_VERSION};
use arbiter_protocol::{decode, encode, CodecError};

#[test]
fn hello_and_reply_round_trip() {
    let mut buf = [0u8; 512];
    let hello = Hello {
        version: DAEMON_VERSION,
        profile: Some("default"),
        cwd: b"/home/a",
        argv: b"cat\0/etc/hostname\0",
    };
    let bytes = encode(&hello, &mut buf).unwrap().to_vec();
    assert_eq!(decode::<Hello>(&bytes).unwrap(), hello);
    let reply = HelloReply {
        version: DAEMON_VERSION,
        accepted: false,
        reason: "no",
        sandbox: 7,
        profile: "",
        tmpdir: b"",
        shim: b"",
    };
    let mut bytes = encode(&reply, &mut buf).unwrap().to_vec();
    assert_eq!(decode::<HelloReply>(&bytes).unwrap(), reply);
    bytes.push(0);
    assert_eq!(decode::<HelloReply>(&bytes), Err(CodecError::Malformed));
}

#[test]
fn argv_splits_on_nul_terminators() {
    use arbiter_protocol::daemon::split_argv;
    let args: Vec<&[u8]> = split_argv(b"cat\0/etc/hostname\0").collect();
    assert_eq!(args, [&b"cat"[..], &b"/etc/hostname"[..]]);
    let args: Vec<&[u8]> = split_argv(b"a\0\0b").collect();
    assert_eq!(args, [&b"a"[..], &b""[..], &b"b"[..]]);
    assert_eq!(split_argv(b"").count(), 0);
}
