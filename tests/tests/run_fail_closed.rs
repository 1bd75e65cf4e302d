//! When the broker cannot be reached the shim fails calls with EIO; it never falls back
//! to the real libc.

use std::process::Command;

use arbiter_tests::{shim, stderr};

#[test]
fn calls_fail_with_eio_when_the_broker_is_gone() {
    // A bootstrap socket whose broker end is already closed.
    let script = r#"
import os, socket, sys
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
b.close()
fd = a.detach()
os.set_inheritable(fd, True)
env = dict(os.environ, LD_PRELOAD=sys.argv[1], ARBITER_FD=str(fd))
os.execve("/bin/cat", ["cat", "/etc/hostname"], env)
"#;
    let o = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(shim())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("Input/output error"), "{}", stderr(&o));
    assert!(o.stdout.is_empty(), "the file was read without a broker");
}

#[test]
fn without_arbiter_the_shim_passes_through() {
    let o = Command::new("cat")
        .arg("/etc/hostname")
        .env("LD_PRELOAD", shim())
        .env_remove("ARBITER_FD")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        std::fs::read_to_string("/etc/hostname").unwrap()
    );
}
