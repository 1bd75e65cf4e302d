//! Writes the seed corpus for the decoder fuzz target: one valid encoding of each call.
//! `cargo run -p arbiter-protocol --example make_corpus -- fuzz/corpus/request`

use arbiter_protocol::{encode, At, Call, NetDbQuery, PathArg, Request, SockAddr, Timespec};

fn main() {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "fuzz/corpus/request".into());
    std::fs::create_dir_all(&dir).expect("corpus directory");
    let p = PathArg {
        at: At::Absolute,
        path: b"/etc/hostname",
    };
    let rel = PathArg {
        at: At::Fd(0),
        path: b"sub/file",
    };
    let calls = [
        Call::Open {
            path: p,
            flags: 0o2,
            mode: 0o644,
            umask: 0o22,
        },
        Call::Stat {
            path: rel,
            flags: 0x100,
        },
        Call::Access {
            path: p,
            mode: 4,
            flags: 0,
        },
        Call::Mkdir {
            path: rel,
            mode: 0o755,
            umask: 0o22,
        },
        Call::Mknod {
            path: rel,
            mode: 0o10644,
            dev: 0,
            umask: 0,
        },
        Call::Unlink {
            path: p,
            flags: 0x200,
        },
        Call::Rename {
            from: p,
            to: rel,
            flags: 1,
        },
        Call::Link {
            from: rel,
            to: p,
            flags: 0x400,
        },
        Call::Symlink {
            target: b"../x",
            path: rel,
        },
        Call::Readlink { path: p },
        Call::Truncate {
            path: p,
            length: 42,
        },
        Call::Chmod {
            path: p,
            mode: 0o600,
            flags: 0,
        },
        Call::Chown {
            path: p,
            uid: 1000,
            gid: u32::MAX,
            flags: 0,
        },
        Call::Utimens {
            path: p,
            times: Some([
                Timespec { sec: 1, nsec: 2 },
                Timespec {
                    sec: 3,
                    nsec: (1 << 30) - 2,
                },
            ]),
            flags: 0,
        },
        Call::Connect {
            addr: SockAddr::Inet {
                addr: [127, 0, 0, 1],
                port: 80,
            },
        },
        Call::Connect {
            addr: SockAddr::Unix(rel),
        },
        Call::Bind {
            addr: SockAddr::Abstract(b"name"),
            umask: 0o22,
        },
        Call::Bind {
            addr: SockAddr::Inet6 {
                addr: [0; 16],
                port: 0,
                flowinfo: 0,
                scope_id: 1,
            },
            umask: 0,
        },
        Call::GetAddrInfo {
            node: Some(b"localhost"),
            service: Some(b"http"),
            flags: 0x20,
            family: 2,
            socktype: 1,
            protocol: 0,
        },
        Call::Listen { backlog: 128 },
        Call::Send {
            addr: Some(SockAddr::Inet {
                addr: [127, 0, 0, 1],
                port: 53,
            }),
            data: b"query",
            flags: 0x4000,
            rights: 1,
            creds: Some((1, 2, 3)),
        },
        Call::GetNameInfo {
            addr: SockAddr::Inet {
                addr: [127, 0, 0, 1],
                port: 80,
            },
            flags: 8,
        },
        Call::NetDb(NetDbQuery::ServByName {
            name: b"http",
            proto: Some(b"tcp"),
        }),
        Call::NetDb(NetDbQuery::ServByPort {
            port: 0x1600,
            proto: None,
        }),
        Call::NetDb(NetDbQuery::ProtoByName { name: b"udp" }),
        Call::NetDb(NetDbQuery::ProtoByNumber { number: 6 }),
    ];
    for (i, call) in calls.into_iter().enumerate() {
        let mut buf = vec![0u8; arbiter_protocol::MAX_MESSAGE];
        let bytes = encode(
            &Request {
                id: i as u64 + 1,
                call,
            },
            &mut buf,
        )
        .expect("encode");
        std::fs::write(format!("{dir}/seed-{i:02}"), bytes).expect("write seed");
    }
}
