//! The network floor: listen without bind, datagrams with their own destination (UDP
//! `sendto`, `sendmsg`, `sendmmsg`, unix datagram), TCP Fast Open, a thread rewriting
//! `msg_name` during the call, raw and packet sockets. Every attack runs from a dynamic
//! helper (the shim loaded) and a static one, with raw system calls and through libc, as
//! root and as an unprivileged user; each has a native control that succeeds, and each
//! denial has an allowed twin under a policy that grants exactly that endpoint.

use std::net::{TcpListener, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use arbiter_tests::{arbiter, compile_helper, invoker_and_nobody, is_root, Sandbox};

/// The helpers: dynamic and static.
fn helpers(sb: &Sandbox) -> Vec<PathBuf> {
    let dynamic = compile_helper("net_floor", &sb.dir, &["-pthread"]);
    let st = sb.path("net_floor_static");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("helpers/net_floor.c");
    let ok = Command::new("cc")
        .args(["-O1", "-static", "-pthread", "-o"])
        .arg(&st)
        .arg(&src)
        .status()
        .expect("run cc");
    assert!(ok.success(), "cc -static failed for {}", src.display());
    vec![dynamic, st]
}

fn command(unprivileged: bool, program: &Path) -> Command {
    if unprivileged {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]);
        c.arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn verdict(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or("").to_owned();
    assert!(
        line == "ok" || line.starts_with("errno ") || line.starts_with("sent "),
        "unexpected helper output {text:?}, stderr {:?}, status {:?}",
        String::from_utf8_lossy(&out.stderr),
        out.status
    );
    line
}

fn native(sb: &Sandbox, unprivileged: bool, argv: &[&str]) -> String {
    let mut c = command(unprivileged, Path::new(argv[0]));
    c.args(&argv[1..]).current_dir(&sb.dir).stdin(Stdio::null());
    verdict(&c.output().unwrap())
}

/// [`confined`] without `--strict` (which refuses `--no-seccomp-transport`'s weaker layer).
fn confined_weak(sb: &Sandbox, unprivileged: bool, extra: &[&str], argv: &[&str]) -> String {
    let mut c = command(unprivileged, &arbiter());
    c.arg("run")
        .arg("--quiet")
        .args(extra)
        .arg("--")
        .args(argv)
        .current_dir(&sb.dir)
        .env_remove("LD_LIBRARY_PATH")
        .env("HOME", "/nonexistent")
        .stdin(Stdio::null());
    verdict(&c.output().unwrap())
}

fn confined(sb: &Sandbox, unprivileged: bool, extra: &[&str], argv: &[&str]) -> String {
    let mut c = command(unprivileged, &arbiter());
    c.arg("run")
        .arg("--strict")
        .args(extra)
        .arg("--")
        .args(argv)
        .current_dir(&sb.dir)
        .env_remove("LD_LIBRARY_PATH")
        .env("HOME", "/nonexistent")
        .stdin(Stdio::null());
    verdict(&c.output().unwrap())
}

/// For every helper, mode and user: `step` succeeds natively, is `EACCES` under the
/// default policy, and succeeds under `allow`.
fn attack(step: &str, args: &[&str], allow: &[&str], reset: impl Fn()) {
    let sb = Sandbox::new();
    for unprivileged in invoker_and_nobody() {
        for h in helpers(&sb) {
            for mode in ["raw", "libc"] {
                let mut argv = vec![h.to_str().unwrap(), step, mode];
                argv.extend_from_slice(args);
                let who = if unprivileged {
                    "uid 65534"
                } else {
                    "as we are"
                };
                reset();
                assert_eq!(
                    native(&sb, unprivileged, &argv),
                    "ok",
                    "negative control ({who}): {argv:?} must succeed natively"
                );
                reset();
                assert_eq!(
                    confined(&sb, unprivileged, &[], &argv),
                    "errno 13",
                    "{argv:?} under arbiter ({who})"
                );
                reset();
                assert_eq!(
                    confined(&sb, unprivileged, allow, &argv),
                    "ok",
                    "{argv:?} under arbiter {allow:?} ({who})"
                );
            }
        }
    }
}

fn udp_server() -> (UdpSocket, String) {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = s.local_addr().unwrap().port().to_string();
    (s, port)
}

#[test]
fn listen_without_bind_is_decided_as_a_bind_to_the_wildcard() {
    attack("listen", &[], &["--bind", "0.0.0.0:0"], || {});
}

/// For every helper, mode and user: `step` succeeds natively, is `EACCES` under `deny`
/// and succeeds under `allow`.
fn attack_with(step: &str, args: &[&str], deny: &[&str], allow: &[&str]) {
    let sb = Sandbox::new();
    for unprivileged in invoker_and_nobody() {
        for h in helpers(&sb) {
            for mode in ["raw", "libc"] {
                let mut argv = vec![h.to_str().unwrap(), step, mode];
                argv.extend_from_slice(args);
                let who = if unprivileged {
                    "uid 65534"
                } else {
                    "as we are"
                };
                assert_eq!(
                    native(&sb, unprivileged, &argv),
                    "ok",
                    "negative control ({who}): {argv:?} must succeed natively"
                );
                assert_eq!(
                    confined(&sb, unprivileged, deny, &argv),
                    "errno 13",
                    "{argv:?} under arbiter {deny:?} ({who})"
                );
                assert_eq!(
                    confined(&sb, unprivileged, allow, &argv),
                    "ok",
                    "{argv:?} under arbiter {allow:?} ({who})"
                );
            }
        }
    }
}

/// A closed loopback TCP port: one the kernel gave a listener that is gone.
fn closed_port() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port().to_string()
}

/// Red team finding 12: after a refused connect, `getsockname` still shows the port the
/// kernel released; a listen must not take that for a decided bind.
#[test]
fn listen_after_a_refused_connect_is_decided_as_a_bind() {
    let port = closed_port();
    let connect = format!("tcp:127.0.0.1:{port}");
    attack_with(
        "relisten",
        &[&port],
        &["--connect", &connect],
        &["--connect", &connect, "--bind", "0.0.0.0:*"],
    );
}

/// Red team finding 07: an autobound unix socket's listen is decided as a bind of the
/// abstract name the kernel picked.
#[test]
fn listen_on_an_autobound_unix_socket_is_decided_as_a_bind_of_its_name() {
    attack_with("autolisten", &[], &[], &["--bind", "unix:@*"]);
}

/// Red team finding 11: a sticky source route redirects a decided connection. The table
/// refuses setting one (`EACCES`) whatever the policy; natively it succeeds (the IPv4 one
/// only as root: it needs `CAP_NET_RAW`). Finding 04: joining a netlink multicast group by
/// `setsockopt` (bind with groups is refused) is refused too.
#[test]
fn source_routing_socket_options_are_refused() {
    let sb = Sandbox::new();
    for unprivileged in invoker_and_nobody() {
        for h in helpers(&sb) {
            for mode in ["raw", "libc"] {
                for step in ["rthdr", "ipopts", "nlgroup"] {
                    if step == "ipopts" && unprivileged {
                        continue;
                    }
                    let argv = [h.to_str().unwrap(), step, mode];
                    assert_eq!(
                        native(&sb, unprivileged, &argv),
                        "ok",
                        "negative control: {argv:?} natively (unprivileged {unprivileged})"
                    );
                    assert_eq!(
                        confined(&sb, unprivileged, &["--connect", "udp:*:*"], &argv),
                        "errno 13",
                        "{argv:?} under arbiter (unprivileged {unprivileged})"
                    );
                }
            }
        }
    }
}

/// Red team finding 09: `0.0.0.0`, `::` and `::ffff:0.0.0.0` as a destination reach this
/// host's loopback; they are decided as 127.0.0.1 / ::1 (a rule for the unspecified
/// address itself does not let them through, a loopback rule does).
#[test]
fn unspecified_destinations_are_decided_as_loopback() {
    let server = TcpListener::bind("[::]:0").unwrap();
    let port = server.local_addr().unwrap().port().to_string();
    std::thread::spawn(move || for _ in server.incoming() {});
    for (kind, addr, as_given, as_reached) in [
        ("tcp", "0.0.0.0", "0.0.0.0", "127.0.0.1"),
        ("tcp", "::", "[::]", "[::1]"),
        ("tcp", "::ffff:0.0.0.0", "0.0.0.0", "127.0.0.1"),
        ("udp", "0.0.0.0", "0.0.0.0", "127.0.0.1"),
        ("udp", "::", "[::]", "[::1]"),
    ] {
        let given = format!("{kind}:{as_given}:{port}");
        let reached = format!("{kind}:{as_reached}:{port}");
        attack_with(
            "unspec",
            &[kind, addr, &port],
            &["--connect", &given],
            &["--connect", &reached],
        );
    }
}

/// Red team finding 06: a blocking send with `MSG_FASTOPEN` waits in slices and checks
/// that its caller still waits, as every blocking send does: a thread interrupted again
/// and again (each restart a new notification) does not pin the broker's workers, and a
/// later trapped call is answered (before the fix the helper's `alarm` killed it).
#[test]
fn interrupted_fast_open_sends_do_not_pin_the_workers() {
    let sb = Sandbox::new();
    for unprivileged in invoker_and_nobody() {
        for h in helpers(&sb) {
            for mode in ["raw", "libc"] {
                let argv = [h.to_str().unwrap(), "pin", mode];
                assert_eq!(native(&sb, unprivileged, &argv), "ok", "native {argv:?}");
                assert_eq!(
                    confined(&sb, unprivileged, &[], &argv),
                    "ok",
                    "{argv:?} under arbiter (unprivileged {unprivileged})"
                );
            }
        }
    }
}

#[test]
fn udp_sendto_a_loopback_port_is_decided_as_a_udp_connect() {
    let (_s, port) = udp_server();
    attack(
        "udp",
        &[&port],
        &["--connect", &format!("udp:127.0.0.1:{port}")],
        || {},
    );
}

#[test]
fn sendmsg_with_msg_name_is_decided() {
    let (_s, port) = udp_server();
    attack(
        "sendmsg",
        &[&port],
        &["--connect", &format!("udp:127.0.0.1:{port}")],
        || {},
    );
}

#[test]
fn sendmmsg_decides_every_message() {
    let (_s, port) = udp_server();
    attack(
        "sendmmsg",
        &[&port],
        &["--connect", &format!("udp:127.0.0.1:{port}")],
        || {},
    );
}

#[test]
fn tcp_fast_open_is_decided_as_a_tcp_connect() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port().to_string();
    attack(
        "tfo",
        &[&port],
        &["--connect", &format!("tcp:127.0.0.1:{port}")],
        || {},
    );
}

/// The red-team's form (findings 01 of issue 15's review): `sendmsg(MSG_FASTOPEN)` with
/// `msg_name` connected a fresh TCP socket anywhere while `sendmsg` was native.
#[test]
fn tcp_fast_open_by_sendmsg_is_decided_as_a_tcp_connect() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port().to_string();
    attack(
        "tfomsg",
        &[&port],
        &["--connect", &format!("tcp:127.0.0.1:{port}")],
        || {},
    );
}

#[test]
fn tcp_fast_open_by_sendmmsg_is_decided_as_a_tcp_connect() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port().to_string();
    attack(
        "tfommsg",
        &[&port],
        &["--connect", &format!("tcp:127.0.0.1:{port}")],
        || {},
    );
}

/// Without the notify filter a plain `sendmsg` stays native (the shim's channel), but one
/// with `MSG_FASTOPEN` is a connect the table refuses.
#[test]
fn tcp_fast_open_is_refused_without_the_seccomp_transport() {
    let sb = Sandbox::new();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port().to_string();
    let allow = format!("tcp:127.0.0.1:{port}");
    for unprivileged in invoker_and_nobody() {
        for h in helpers(&sb) {
            for step in ["tfo", "tfomsg", "tfommsg"] {
                for mode in ["raw", "libc"] {
                    let argv = [h.to_str().unwrap(), step, mode, &port];
                    assert_eq!(native(&sb, unprivileged, &argv), "ok", "native {argv:?}");
                    let extra = ["--no-seccomp-transport", "--connect", &allow];
                    let got = confined_weak(&sb, unprivileged, &extra, &argv);
                    assert_eq!(got, "errno 13", "{argv:?} without the transport");
                }
            }
        }
    }
}

#[test]
fn unix_datagram_to_a_path_outside_the_policy_is_decided_as_a_unix_connect() {
    let dir = tempfile::Builder::new()
        .prefix("arbiter-dgram-")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let path = dir.path().canonicalize().unwrap().join("sock");
    let server = UnixDatagram::bind(&path).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    server.set_nonblocking(true).unwrap();
    let p = path.to_str().unwrap();
    // The kernel queues few unix datagrams (net.unix.max_dgram_qlen): read them as they come.
    let drain = || {
        let mut buf = [0u8; 8];
        while server.recv(&mut buf).is_ok() {}
    };
    attack(
        "unixdgram",
        &[p],
        &["--connect", &format!("unix:{p}")],
        drain,
    );
}

/// A datagram sent on a connected UDP socket needs no decision (the connect had one) but is
/// still performed by the broker: it arrives.
#[test]
fn a_connected_udp_socket_sends_without_a_destination() {
    let sb = Sandbox::new();
    let (server, port) = udp_server();
    server.set_nonblocking(true).unwrap();
    for h in helpers(&sb) {
        for mode in ["raw", "libc"] {
            let argv = [h.to_str().unwrap(), "connected", mode, &port];
            let allow = format!("udp:127.0.0.1:{port}");
            assert_eq!(confined(&sb, false, &["--connect", &allow], &argv), "ok");
            let mut buf = [0u8; 8];
            assert_eq!(
                server.recv(&mut buf).ok(),
                Some(1),
                "{argv:?}: nothing arrived"
            );
        }
    }
}

/// SCM_RIGHTS fds are passed as the broker's copies of the program's fds.
#[test]
fn scm_rights_reach_the_receiver() {
    let sb = Sandbox::new();
    let dir = tempfile::Builder::new()
        .prefix("arbiter-rights-")
        .tempdir()
        .unwrap();
    let path = dir.path().canonicalize().unwrap().join("sock");
    let server = UnixDatagram::bind(&path).unwrap();
    server.set_nonblocking(true).unwrap();
    let p = path.to_str().unwrap();
    for h in helpers(&sb) {
        let argv = [h.to_str().unwrap(), "rights", "raw", p];
        assert_eq!(native(&sb, false, &argv), "ok");
        assert_eq!(confined(&sb, false, &[], &argv), "errno 13");
        let mut buf = [0u8; 8];
        assert_eq!(
            server.recv(&mut buf).ok(),
            Some(1),
            "native control arrived"
        );
        assert!(server.recv(&mut buf).is_err(), "a denied send arrived");
        assert_eq!(
            confined(&sb, false, &["--connect", &format!("unix:{p}")], &argv),
            "ok"
        );
        // The fd arrived: recvmsg's control carries one SCM_RIGHTS fd.
        assert_eq!(recv_fds(&server), 1, "{argv:?}");
    }
}

/// Receives one datagram and returns how many fds came with it (closing them).
fn recv_fds(sock: &UnixDatagram) -> usize {
    use std::os::fd::AsRawFd;
    let mut data = [0u8; 8];
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    let mut control = [0u64; 16];
    // SAFETY: msghdr is plain old data; zero is valid.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control);
    // SAFETY: msg points at live buffers.
    let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, 0) };
    assert_eq!(n, 1, "recvmsg");
    let mut count = 0;
    // SAFETY: the kernel filled msg_control with well-formed cmsgs up to msg_controllen.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                let n = ((*c).cmsg_len - libc::CMSG_LEN(0) as usize) / 4;
                for i in 0..n {
                    let fd = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<i32>().add(i));
                    libc::close(fd);
                }
                count += n;
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    count
}

/// A thread flips `msg_name`'s port between an allowed and a denied port while the other
/// sends: the broker decides on the copy it sends to, so the denied port receives nothing
/// (natively it receives some). As root and as uid 65534.
#[test]
fn a_thread_rewriting_msg_name_during_sendmsg_cannot_reach_the_denied_port() {
    let sb = Sandbox::new();
    let (allowed, port) = udp_server();
    let (denied, dport) = udp_server();
    allowed.set_nonblocking(true).unwrap();
    denied.set_nonblocking(true).unwrap();
    let drain = |s: &UdpSocket| {
        let mut n = 0;
        let mut buf = [0u8; 8];
        while s.recv(&mut buf).is_ok() {
            n += 1;
        }
        n
    };
    for unprivileged in invoker_and_nobody() {
        for h in helpers(&sb) {
            let argv = [h.to_str().unwrap(), "race", &port, &dport, "200"];
            assert_eq!(native(&sb, unprivileged, &argv), "ok");
            let (a, d) = (drain(&allowed), drain(&denied));
            assert!(
                a > 0 && d > 0,
                "negative control: {a} allowed, {d} denied natively"
            );
            let allow = format!("udp:127.0.0.1:{port}");
            assert_eq!(
                confined(&sb, unprivileged, &["--connect", &allow], &argv),
                "ok"
            );
            let (a, d) = (drain(&allowed), drain(&denied));
            assert_eq!(
                d, 0,
                "{d} datagrams reached the denied port ({a} the allowed one)"
            );
            assert!(a > 0, "nothing reached the allowed port");
        }
    }
}

/// Raw IP, packet and the legacy `(AF_INET, SOCK_PACKET)` sockets are refused. The natives
/// need CAP_NET_RAW, so only root has a control.
#[test]
fn raw_and_packet_sockets_are_refused() {
    if !is_root() {
        println!("SKIP: raw sockets need root for the native control");
        return;
    }
    let sb = Sandbox::new();
    // The table refuses another family with EAFNOSUPPORT, another type or protocol of
    // inet with EACCES (the kernel itself would answer neither to root).
    let steps = [
        ("raw", libc::EACCES),
        ("packet", libc::EAFNOSUPPORT),
        ("sockpacket", libc::EACCES),
    ];
    for h in helpers(&sb) {
        for (step, errno) in steps {
            for mode in ["raw", "libc"] {
                let argv = [h.to_str().unwrap(), step, mode];
                assert_eq!(native(&sb, false, &argv), "ok", "native control {argv:?}");
                assert_eq!(
                    confined(&sb, false, &[], &argv),
                    format!("errno {errno}"),
                    "{argv:?}"
                );
            }
        }
    }
}

/// SCTP sockets are refused: `SCTP_SOCKOPT_CONNECTX`/`BINDX` connect and bind through
/// `setsockopt`, past the brokered `connect`/`bind`. The native control needs the sctp
/// module; without it the kernel answers EPROTONOSUPPORT/ESOCKTNOSUPPORT, never EACCES, so
/// the confined answer still shows the table refused it.
#[test]
fn sctp_sockets_are_refused() {
    let sb = Sandbox::new();
    for unprivileged in invoker_and_nobody() {
        for h in helpers(&sb) {
            for step in ["sctp", "sctpseq"] {
                for mode in ["raw", "libc"] {
                    let argv = [h.to_str().unwrap(), step, mode];
                    let native = native(&sb, unprivileged, &argv);
                    if native != "ok" {
                        println!("SKIP native control {argv:?}: {native} (no sctp module)");
                        assert_ne!(native, format!("errno {}", libc::EACCES));
                    }
                    assert_eq!(
                        confined(&sb, unprivileged, &[], &argv),
                        format!("errno {}", libc::EACCES),
                        "{argv:?}"
                    );
                }
            }
        }
    }
}

/// Denied sends and listens are audited with the destination they were decided on.
#[test]
fn denials_are_audited_with_the_destination() {
    let sb = Sandbox::new();
    let (_s, port) = udp_server();
    let log = sb.log("audit.log");
    let audit = ["--audit", log.to_str().unwrap()];
    for h in helpers(&sb) {
        let h = h.to_str().unwrap();
        assert_eq!(
            confined(&sb, false, &audit, &[h, "sendmsg", "raw", &port]),
            "errno 13"
        );
        assert_eq!(
            confined(&sb, false, &audit, &[h, "listen", "raw"]),
            "errno 13"
        );
    }
    let records: Vec<serde_json::Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let udp = format!("udp:127.0.0.1:{port}");
    for (call, endpoint) in [("send", udp.as_str()), ("listen", "tcp:0.0.0.0:0")] {
        let n = records
            .iter()
            .filter(|r| {
                r["call"] == call
                    && r["decision"] == "deny"
                    && r["transport"] == "seccomp"
                    && r["endpoint"] == endpoint
            })
            .count();
        assert_eq!(n, 2, "{call} denials to {endpoint} in {records:?}");
    }
}

/// Netlink: the read-only route dumps glibc needs (`getifaddrs`, `if_nameindex`) work; a
/// state-changing request is refused before it reaches the kernel (natively it is sent, and
/// the kernel answers it: the control).
#[test]
fn netlink_route_reads_work_and_writes_are_refused() {
    let sb = Sandbox::new();
    for unprivileged in invoker_and_nobody() {
        for h in helpers(&sb) {
            for mode in ["raw", "libc"] {
                let h = h.to_str().unwrap();
                let read = [h, "nlread", mode];
                assert_eq!(native(&sb, unprivileged, &read), "ok", "{read:?} natively");
                assert_eq!(confined(&sb, unprivileged, &[], &read), "ok", "{read:?}");
                let write = [h, "nlwrite", mode];
                assert_eq!(
                    native(&sb, unprivileged, &write),
                    "ok",
                    "{write:?} natively"
                );
                assert_eq!(
                    confined(&sb, unprivileged, &[], &write),
                    "errno 13",
                    "{write:?}"
                );
            }
        }
    }
}

/// Python's `socket.if_nameindex()` (glibc's netlink dump) lists the same interfaces as
/// natively.
#[test]
fn python_if_nameindex_lists_the_interfaces() {
    if !arbiter_tests::have("python3") {
        println!("SKIP: python3 is not installed");
        return;
    }
    let sb = Sandbox::new();
    let code = "import socket; print(socket.if_nameindex())";
    let native = Command::new("python3").args(["-c", code]).output().unwrap();
    assert!(native.status.success());
    let out = sb.run(&[], &["python3", "-c", code]);
    assert_eq!(
        arbiter_tests::stdout(&out),
        String::from_utf8_lossy(&native.stdout),
        "{}",
        arbiter_tests::stderr(&out)
    );
}

/// Without the notify filter (`--no-seccomp-transport`) `listen` is refused by the errno
/// filter, and a dynamic program's `listen` through libc is still decided (the shim
/// forwards it): allowed under a bind rule for the wildcard, refused without one.
#[test]
fn without_the_notify_filter_listen_is_refused_or_decided_by_the_shim() {
    let sb = Sandbox::new();
    let off = "--no-seccomp-transport";
    let hs = helpers(&sb);
    let (dynamic, static_) = (hs[0].to_str().unwrap(), hs[1].to_str().unwrap());
    for mode in ["raw", "libc"] {
        assert_eq!(native(&sb, false, &[static_, "listen", mode]), "ok");
        assert_eq!(
            confined(
                &sb,
                false,
                &[off, "--bind", "0.0.0.0:0"],
                &[static_, "listen", mode]
            ),
            "errno 13",
            "static {mode}"
        );
    }
    assert_eq!(
        confined(
            &sb,
            false,
            &[off, "--bind", "0.0.0.0:0"],
            &[dynamic, "listen", "raw"]
        ),
        "errno 13"
    );
    assert_eq!(
        confined(&sb, false, &[off], &[dynamic, "listen", "libc"]),
        "errno 13"
    );
    assert_eq!(
        confined(
            &sb,
            false,
            &[off, "--bind", "0.0.0.0:0"],
            &[dynamic, "listen", "libc"]
        ),
        "ok"
    );
    // An inherited ARBITER_SECCOMP=1 (arbiter run inside a sandbox) is not passed on when
    // the notify filter is off: the shim still forwards listen instead of leaving it to a
    // filter that refuses it.
    let mut c = Command::new(arbiter());
    c.args(["run", "--strict", off, "--bind", "0.0.0.0:0", "--"])
        .args([dynamic, "listen", "libc"])
        .current_dir(&sb.dir)
        .env_remove("LD_LIBRARY_PATH")
        .env("HOME", "/nonexistent")
        .env("ARBITER_SECCOMP", "1")
        .stdin(Stdio::null());
    assert_eq!(
        verdict(&c.output().unwrap()),
        "ok",
        "inherited ARBITER_SECCOMP=1"
    );
}

/// A refused netlink write is audited (`seccomp_refused`, `call` "send", `AF_NETLINK`).
#[test]
fn a_refused_netlink_write_is_audited() {
    let sb = Sandbox::new();
    let log = sb.log("audit.log");
    let h = helpers(&sb).remove(1);
    let argv = [h.to_str().unwrap(), "nlwrite", "raw"];
    assert_eq!(
        confined(&sb, false, &["--audit", log.to_str().unwrap()], &argv),
        "errno 13"
    );
    let text = std::fs::read_to_string(&log).unwrap();
    let found = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .any(|r| {
            r["type"] == "seccomp_refused" && r["call"] == "send" && r["family"] == libc::AF_NETLINK
        });
    assert!(found, "no seccomp_refused record for the netlink write");
}

/// Regression: a destination shorter than its family field once reached the address
/// decoder, which indexed past it (a broker panic). It is `EINVAL`, as natively.
#[test]
fn a_one_byte_destination_is_einval_as_natively() {
    let sb = Sandbox::new();
    let (_s, port) = udp_server();
    for h in helpers(&sb) {
        let argv = [h.to_str().unwrap(), "shortname", "raw", &port];
        assert_eq!(native(&sb, false, &argv), "errno 22");
        assert_eq!(confined(&sb, false, &[], &argv), "errno 22");
    }
}
