//! connect and bind from a static binary (no shim): trapped by the seccomp notify filter,
//! decided by the same policy and performed by the broker on the program's own socket, with
//! `"transport": "seccomp"` in the audit log. Each allow has its deny, and a negative
//! control shows the denied operations work natively.

use std::net::TcpListener;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use arbiter_tests::{assert_code, compile_helper, stderr, stdout, Sandbox};

fn helper(sb: &Sandbox) -> PathBuf {
    compile_helper("seccomp_net", &sb.dir, &["-static"])
}

fn listener() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port().to_string();
    (l, port)
}

/// A loopback port nothing listens on (bound, then released).
fn free_port() -> String {
    listener().1
}

/// Runs one step of the helper under `arbiter run extra…` and returns its line.
fn step(sb: &Sandbox, extra: &[&str], bin: &Path, args: &[&str]) -> String {
    let mut cmd = vec![bin.to_str().unwrap()];
    cmd.extend_from_slice(args);
    let out = sb.run(extra, &cmd);
    assert_code(&out, 0);
    let text = stdout(&out);
    assert!(!text.is_empty(), "no output; stderr:\n{}", stderr(&out));
    text
}

fn audit_records(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_static_connect_reaches_an_allowed_port_and_is_refused_on_another() {
    let sb = Sandbox::new();
    let bin = helper(&sb);
    let (_allowed, port) = listener();
    let (_other, denied) = listener();
    let log = sb.log("audit.log");
    let allow = format!("127.0.0.1:{port}");
    let extra = [
        "--connect",
        &allow,
        "--audit-level",
        "all",
        "--audit",
        log.to_str().unwrap(),
    ];
    assert_eq!(step(&sb, &extra, &bin, &["connect", &port]), "connect ok\n");
    assert_eq!(
        step(&sb, &extra, &bin, &["connect", &denied]),
        "connect errno=13\n"
    );
    let records = audit_records(&log);
    for (port, decision) in [(&port, "allow"), (&denied, "deny")] {
        let endpoint = format!("tcp:127.0.0.1:{port}");
        assert!(
            records.iter().any(|r| r["call"] == "connect"
                && r["decision"] == decision
                && r["transport"] == "seccomp"
                && r["endpoint"] == endpoint.as_str()),
            "no {decision} record for {endpoint}: {records:?}"
        );
    }
}

#[test]
fn negative_control_the_same_binary_connects_to_the_denied_port_natively() {
    let sb = Sandbox::new();
    let bin = helper(&sb);
    let (_l, port) = listener();
    let out = Command::new(&bin)
        .args(["connect", &port])
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "connect ok\n");
    let out = Command::new(&bin)
        .args(["bind", &free_port()])
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "bind ok\n");
}

#[test]
fn a_static_bind_gets_an_allowed_port_and_not_a_denied_one() {
    let sb = Sandbox::new();
    let bin = helper(&sb);
    let (port, other) = (free_port(), free_port());
    let log = sb.log("audit.log");
    let allow = format!("127.0.0.1:{port}");
    let extra = [
        "--bind",
        &allow,
        "--audit-level",
        "all",
        "--audit",
        log.to_str().unwrap(),
    ];
    // "bind ok" also checks getsockname: the program's own socket was bound.
    assert_eq!(step(&sb, &extra, &bin, &["bind", &port]), "bind ok\n");
    assert_eq!(
        step(&sb, &extra, &bin, &["bind", &other]),
        "bind errno=13\n"
    );
    let records = audit_records(&log);
    assert!(records
        .iter()
        .any(|r| r["call"] == "bind" && r["decision"] == "deny" && r["transport"] == "seccomp"));
}

#[test]
fn static_getaddrinfo_resolves_localhost_through_etc_hosts_then_connects() {
    // Static glibc (≥ 2.34 has nss_files built in) reads /etc/nsswitch.conf and /etc/hosts
    // with trapped opens; the connect to what it found is decided on the address (the broker
    // never saw the name, so host-name rules cannot admit it).
    let sb = Sandbox::new();
    let bin = helper(&sb);
    let (_l, port) = listener();
    let allow = format!("127.0.0.1:{port}");
    assert_eq!(
        step(
            &sb,
            &["--connect", &allow],
            &bin,
            &["resolve", "localhost", &port]
        ),
        "resolve ok\n"
    );
    assert_eq!(
        step(&sb, &[], &bin, &["resolve", "localhost", &port]),
        "resolve errno=13\n"
    );
}

#[test]
fn a_nonblocking_static_connect_reports_einprogress_as_natively() {
    let sb = Sandbox::new();
    let bin = helper(&sb);
    let (_l, port) = listener();
    let allow = format!("127.0.0.1:{port}");
    let text = step(&sb, &["--connect", &allow], &bin, &["nonblock", &port]);
    // Loopback may complete at once; either way the socket stays non-blocking and connected.
    assert!(text.lines().any(|l| l == "nonblock ok"), "{text}");
    assert!(text.starts_with("nonblock first="), "{text}");
}

#[test]
fn a_static_program_reaches_a_unix_socket_by_a_relative_path_only_with_a_rule() {
    let sb = Sandbox::new();
    let bin = helper(&sb);
    let _l = UnixListener::bind(sb.path("s.sock")).unwrap();
    let rule = format!("unix:{}", sb.path("s.sock").display());
    assert_eq!(
        step(&sb, &["--connect", &rule], &bin, &["unix", "s.sock"]),
        "unix ok\n"
    );
    assert_eq!(step(&sb, &[], &bin, &["unix", "s.sock"]), "unix errno=13\n");
    let rule = format!("unix:{}", sb.path("b.sock").display());
    assert_eq!(
        step(&sb, &["--bind", &rule], &bin, &["unix_bind", "b.sock"]),
        "unix_bind ok\n"
    );
    assert!(
        sb.path("b.sock").exists(),
        "the socket was bound in the cwd"
    );
    // The default profile binds in $PWD (issue 18); a policy granting files there but no
    // bind rule does not.
    let dir = sb.dir.to_str().unwrap().to_owned();
    assert_eq!(
        step(
            &sb,
            &["--policy", "runtime", "--rw", &dir],
            &bin,
            &["unix_bind", "c.sock"]
        ),
        "unix_bind errno=13\n"
    );
    assert!(!sb.path("c.sock").exists());
}

#[test]
fn other_socket_families_stay_refused() {
    // Netlink (sock_diag): the syscall table refuses the socket itself (only route netlink
    // is created natively), so its bind never reaches the broker (which would refuse a
    // family other than unix/inet too). Only NETLINK_ROUTE's read-only forms are served
    // (tests/tests/net_floor.rs).
    let sb = Sandbox::new();
    let bin = helper(&sb);
    let text = step(&sb, &[], &bin, &["netlink"]);
    assert_eq!(text, "netlink_socket errno=13\n");
    let native = Command::new(&bin).arg("netlink").output().unwrap();
    assert_eq!(stdout(&native), "netlink ok\n", "negative control");
}

#[test]
fn without_the_transport_a_static_connect_is_refused_by_the_errno_filter() {
    let sb = Sandbox::new();
    let bin = helper(&sb);
    let (_l, port) = listener();
    let allow = format!("127.0.0.1:{port}");
    let text = step(
        &sb,
        &["--no-seccomp-transport", "--connect", &allow],
        &bin,
        &["connect", &port],
    );
    assert_eq!(text, "connect errno=13\n");
}
