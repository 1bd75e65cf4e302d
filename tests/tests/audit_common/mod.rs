//! What the audit tests share: who runs arbiter, the command line of a run that records
//! every call, and reading the log back.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Stdio};

use arbiter_protocol::{encode, Call, Request};
use arbiter_tests::{arbiter, is_root, Sandbox};
use serde_json::Value;

/// Who runs arbiter.
#[derive(Clone, Copy, Debug)]
pub enum User {
    Root,
    Nobody,
}

/// Root and uid 65534 when the tests run as root; else only the caller (SKIP said).
pub fn users() -> Vec<User> {
    if is_root() {
        vec![User::Root, User::Nobody]
    } else {
        println!("SKIP (uid 65534 runs): the tests do not run as root");
        vec![User::Root]
    }
}

/// `arbiter run -q --audit LOG --audit-level all [extra…] -- cmd…` in the sandbox, as `user`.
pub fn command_all(sb: &Sandbox, user: User, log: &Path, extra: &[&str], cmd: &[&str]) -> Command {
    let mut c = match user {
        User::Root => Command::new(arbiter()),
        User::Nobody => {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
                .arg(arbiter());
            c.env("HOME", "/nonexistent");
            c
        }
    };
    c.args(["run", "-q", "--audit"])
        .arg(log)
        .args(["--audit-level", "all"])
        .args(extra)
        .arg("--")
        .args(cmd)
        .current_dir(&sb.dir)
        .stdin(Stdio::null())
        .env_remove("LD_LIBRARY_PATH");
    c
}

/// Every record of the JSON-lines log at `log` (none when it does not exist).
pub fn records(log: &Path) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON record"))
        .collect()
}

/// The FastPaths request a shim sends first, encoded as the forging helper sends it.
pub fn fast_paths_frame() -> String {
    let mut buf = [0u8; 64];
    let bytes = encode(
        &Request {
            id: 1,
            call: Call::FastPaths,
        },
        &mut buf,
    )
    .unwrap();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
