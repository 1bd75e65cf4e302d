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
        argv0: b"cat",
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
    };
    let mut bytes = encode(&reply, &mut buf).unwrap().to_vec();
    assert_eq!(decode::<HelloReply>(&bytes).unwrap(), reply);
    bytes.push(0);
    assert_eq!(decode::<HelloReply>(&bytes), Err(CodecError::Malformed));
}
