//! A sandboxed program that speaks garbage to the broker loses only that channel: an audit
//! record says why, and its other calls keep working.

use arbiter_tests::{assert_code, stderr, stdout, Sandbox};

#[test]
fn garbage_on_the_bootstrap_and_a_channel_costs_only_that_channel() {
    let sb = Sandbox::new();
    // A well-formed registration: the protocol version as a postcard varint (one byte).
    const { assert!(arbiter_protocol::PROTOCOL_VERSION < 128) };
    let script = r#"
import array, os, socket
boot = socket.socket(fileno=int(os.environ["ARBITER_FD"]))
boot.send(b"\xff\xfe not a registration")
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
boot.sendmsg([bytes([VERSION])], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [b.fileno()]))])
b.close()
boot.detach()
assert len(a.recv(64)) > 0, "no welcome"
a.send(b"\xde\xad\xbe\xef" * 8)
print("closed:", a.recv(64) == b"")
print(open("/etc/hostname").read().strip() == open("/etc/hostname").read().strip())
"#
    .replace("VERSION", &arbiter_protocol::PROTOCOL_VERSION.to_string());
    let log = sb.log("audit.jsonl");
    let o = sb.run(
        &["--audit-level", "all", "--audit", log.to_str().unwrap()],
        &["python3", "-c", &script],
    );
    assert_code(&o, 0);
    assert_eq!(stdout(&o), "closed: True\nTrue\n", "{}", stderr(&o));
    let audit = std::fs::read_to_string(&log).unwrap();
    let errors: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r["type"] == "protocol_error")
        .collect();
    assert!(
        errors
            .iter()
            .any(|r| r["error"] == "malformed registration"),
        "{audit}"
    );
    assert!(errors.iter().any(|r| r["channel"] == "call"), "{audit}");
}
