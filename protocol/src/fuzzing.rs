//! The properties the fuzz targets in `fuzz/` check, one function per decoder of untrusted
//! bytes; `protocol/tests/corpus.rs` feeds every file of their seed corpora (and mutations of
//! each) to the same functions in a normal `cargo test`. Each panics when a property fails.

use crate::call::{At, Call, NetDbQuery, PathArg, SockAddr};
use crate::daemon::Hello;
use crate::valid::{Checked, NAME_MAX, PATH_MAX};
use crate::{decode, encode, Register, Request, SeccompListener, MAX_MESSAGE};

fn assert_path_valid(p: &[u8], may_be_empty: bool) {
    assert!(!p.contains(&0), "a checked path holds a NUL");
    assert!(may_be_empty || !p.is_empty(), "a checked path is empty");
    assert!(p.len() < PATH_MAX, "a checked path is too long");
    assert!(
        p.split(|&b| b == b'/').all(|c| c.len() <= NAME_MAX),
        "a checked path has a component over NAME_MAX"
    );
}

fn assert_arg_valid(p: &PathArg<'_>, nfds: usize, may_be_empty: bool) {
    assert_path_valid(p.path, may_be_empty);
    match p.at {
        At::Absolute => assert!(p.path.is_empty() || p.path.starts_with(b"/")),
        At::Fd(i) => assert!(usize::from(i) < nfds),
    }
}

/// A call channel message: any bytes decode to a request or are refused; a request that
/// decodes re-encodes to the same request; a request that passes [`Checked::new`] carries
/// only paths a system call could have been given.
pub fn request(data: &[u8]) {
    let Ok(req) = decode::<Request>(data) else {
        return;
    };
    let mut buf = vec![0u8; MAX_MESSAGE];
    // Postcard accepts non-minimal varints, so the bytes may differ; the request may not.
    let again = encode(&req, &mut buf).expect("a decoded request re-encodes");
    assert_eq!(
        decode::<Request>(again).as_ref(),
        Ok(&req),
        "a decoded request re-encodes to the same request"
    );
    let nfds = req.call.expected_fds();
    let _ = req.call.name();
    let Ok(checked) = Checked::new(req.call, nfds) else {
        return;
    };
    match checked.call() {
        Call::Stat { path, flags } => {
            assert_arg_valid(path, nfds, flags & libc::AT_EMPTY_PATH != 0)
        }
        Call::Open { path, .. }
        | Call::Access { path, .. }
        | Call::Mkdir { path, .. }
        | Call::Mknod { path, .. }
        | Call::Unlink { path, .. }
        | Call::Readlink { path }
        | Call::Truncate { path, .. }
        | Call::Chmod { path, .. }
        | Call::Chown { path, .. }
        | Call::Utimens { path, .. } => assert_arg_valid(path, nfds, false),
        Call::Rename { from, to, .. } | Call::Link { from, to, .. } => {
            assert_arg_valid(from, nfds, false);
            assert_arg_valid(to, nfds, false);
        }
        Call::Symlink { target, path } => {
            assert_path_valid(target, false);
            assert_arg_valid(path, nfds, false);
        }
        Call::Connect { addr }
        | Call::Bind { addr, .. }
        | Call::Send {
            addr: Some(addr), ..
        }
        | Call::GetNameInfo { addr, .. } => match addr {
            SockAddr::Unix(p) => assert_arg_valid(p, nfds, false),
            SockAddr::Abstract(n) => assert!(n.len() <= crate::valid::ABSTRACT_MAX),
            _ => {}
        },
        Call::GetAddrInfo { node, service, .. } => {
            for name in node.iter().chain(service.iter()) {
                let text = std::str::from_utf8(name).expect("a checked name is UTF-8");
                assert!(!text.chars().any(|c| c.is_control() || c.is_whitespace()));
            }
        }
        Call::NetDb(q) => {
            let names = match *q {
                NetDbQuery::ServByName { name, proto } => [Some(name), proto],
                NetDbQuery::ServByPort { proto, .. } => [None, proto],
                NetDbQuery::ProtoByName { name } => [Some(name), None],
                NetDbQuery::ProtoByNumber { .. } => [None, None],
            };
            for name in names.into_iter().flatten() {
                assert!(name.len() <= crate::valid::NETDB_NAME_MAX);
                let text = std::str::from_utf8(name).expect("a checked name is UTF-8");
                assert!(!text.chars().any(|c| c.is_control() || c.is_whitespace()));
            }
        }
        Call::Send { addr: None, .. } | Call::Listen { .. } | Call::FastPaths => {}
    }
}

/// A bootstrap message: a [`Register`] and a [`SeccompListener`] carrying its tag never
/// both decode from the same bytes, and whichever decodes re-encodes to the same message.
/// (Without the tag check both can: `d4 f8 e2 f9 03` is a five-byte version varint and a
/// four-byte tag with version 3 — found by this target; the broker checks the tag.)
pub fn bootstrap(data: &[u8]) {
    let reg = decode::<Register>(data);
    let lis = decode::<SeccompListener>(data);
    assert!(
        reg.is_err() || !matches!(lis, Ok(l) if l.tag == crate::SECCOMP_LISTENER_TAG),
        "a message decodes as a registration and a listener"
    );
    let mut buf = [0u8; 64];
    if let Ok(r) = reg {
        assert_eq!(decode::<Register>(encode(&r, &mut buf).unwrap()), Ok(r));
    }
    if let Ok(l) = lis {
        assert_eq!(
            decode::<SeccompListener>(encode(&l, &mut buf).unwrap()),
            Ok(l)
        );
    }
}

/// A daemon client's hello: decodes or is refused; a hello that passes [`Hello::check`] has
/// a plain profile name and paths without a NUL.
pub fn hello(data: &[u8]) {
    let Ok(h) = decode::<Hello>(data) else {
        return;
    };
    if h.check().is_ok() {
        if let Some(p) = h.profile {
            assert!(!p.is_empty() && !p.contains('/') && !p.contains('\0'));
        }
        assert_path_valid(h.cwd, true);
        if let Some(argv0) = crate::daemon::split_argv(h.argv).next() {
            assert_path_valid(argv0, true);
        }
    }
}

/// A report-ring slot (the first [`crate::ring::SLOT_SIZE`] bytes, zero-padded): any bytes
/// decode to nothing, a report or a refusal, never a panic; a report carries only what a
/// fast path could have reported.
pub fn ring_slot(data: &[u8]) {
    use crate::ring::{self, ReportedCall, SLOT_SIZE};
    let mut slot = [0u8; SLOT_SIZE];
    let n = data.len().min(SLOT_SIZE);
    slot[..n].copy_from_slice(&data[..n]);
    let Ok(Some(r)) = ring::decode_slot(&slot) else {
        return;
    };
    assert!(!r.path.is_empty() && r.path.len() <= ring::REPORT_PATH_MAX);
    assert!(!r.path.contains(&0));
    let lexical = match r.call {
        ReportedCall::Open => ring::trim_directory_suffix(r.path),
        ReportedCall::Stat | ReportedCall::Access => r.path,
    };
    assert!(ring::canonical_components(lexical));
    assert!((1..=ring::PID_MAX).contains(&r.pid));
    assert!(r.time_ns != 0);
    let allowed = match r.call {
        ReportedCall::Open => ring::REPORT_OPEN_FLAGS,
        _ => ring::REPORT_AT_FLAGS,
    };
    assert_eq!(r.flags & !allowed, 0);
    match (r.call, r.result) {
        (_, Err(e)) => assert!((1..=ring::ERRNO_MAX).contains(&e)),
        (ReportedCall::Open, Ok(fd)) => assert!(fd >= 0),
        (_, Ok(v)) => assert_eq!(v, 0),
    }
}

/// A raw socket address (first byte: which socket family to decode for): decodes as the
/// kernel would or is refused with an errno; a unix path is never empty and holds no NUL.
pub fn sockaddr(data: &[u8]) {
    let Some((&which, raw)) = data.split_first() else {
        return;
    };
    let family = [libc::AF_UNIX, libc::AF_INET, libc::AF_INET6][usize::from(which % 3)];
    match crate::sockaddr::decode(family, raw) {
        Ok(crate::sockaddr::Decoded::UnixPath(p)) => {
            assert!(!p.is_empty() && !p.contains(&0) && p.len() <= 108);
        }
        Ok(crate::sockaddr::Decoded::Addr(SockAddr::Abstract(n))) => {
            assert!(n.len() <= crate::valid::ABSTRACT_MAX)
        }
        Ok(_) => {}
        Err(e) => assert!(e == libc::EINVAL || e == libc::EAFNOSUPPORT),
    }
}
