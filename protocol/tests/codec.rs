//! Encoding round trips and the decoder's refusals.

use arbiter_protocol::fdpass::{recv_with_fds, send_with_fds, RecvError};
use arbiter_protocol::{
    decode, encode, At, Call, CodecError, PathArg, Payload, Reply, Request, MAX_MESSAGE, MAX_PATH,
};

#[test]
fn a_request_round_trips_without_copying_paths() {
    let path = b"/etc/hostname";
    let req = Request {
        id: 7,
        call: Call::Open {
            path: PathArg {
                at: At::Absolute,
                path,
            },
            flags: libc::O_RDONLY,
            mode: 0,
            umask: 0o022,
        },
    };
    let mut buf = [0u8; 256];
    let bytes = encode(&req, &mut buf).unwrap().to_vec();
    let back: Request = decode(&bytes).unwrap();
    assert_eq!(back, req);
}

#[test]
fn a_rename_of_two_maximal_paths_fits_one_message() {
    let long = vec![b'a'; MAX_PATH];
    let req = Request {
        id: u64::MAX,
        call: Call::Rename {
            from: PathArg {
                at: At::Fd(0),
                path: &long,
            },
            to: PathArg {
                at: At::Fd(1),
                path: &long,
            },
            flags: 0,
        },
    };
    let mut buf = vec![0u8; MAX_MESSAGE];
    assert!(encode(&req, &mut buf).is_ok());
}

#[test]
fn empty_truncated_trailing_and_garbage_messages_are_refused() {
    assert_eq!(decode::<Request>(&[]), Err(CodecError::Empty));
    let reply = Reply {
        id: 1,
        result: 0,
        errno: 0,
        payload: Payload::None,
    };
    let mut buf = [0u8; 64];
    let bytes = encode(&reply, &mut buf).unwrap().to_vec();
    assert_eq!(
        decode::<Reply>(&bytes[..bytes.len() - 1]),
        Err(CodecError::Malformed)
    );
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert_eq!(decode::<Reply>(&trailing), Err(CodecError::Malformed));
    assert!(decode::<Request>(&[0xff; 32]).is_err());
    assert_eq!(
        decode::<Request>(&vec![0u8; MAX_MESSAGE + 1]),
        Err(CodecError::TooLarge)
    );
}

#[test]
fn random_bytes_never_panic_the_decoder() {
    let mut state = 0x2545f4914f6cdd1du64;
    for len in 0..2000usize {
        let bytes: Vec<u8> = (0..len % 300)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        let _ = decode::<Request>(&bytes);
        let _ = decode::<Reply>(&bytes);
    }
}

#[test]
fn fds_travel_with_a_message_and_arrive_close_on_exec() {
    let mut pair = [0; 2];
    // SAFETY: pair is a valid out array.
    let rc = unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_SEQPACKET, 0, pair.as_mut_ptr()) };
    assert_eq!(rc, 0);
    let file = std::fs::File::open("/etc/hostname").unwrap();
    use std::os::fd::AsRawFd;
    send_with_fds(pair[0], b"hello", &[file.as_raw_fd()]).unwrap();
    let mut buf = [0u8; 64];
    let mut fds = [-1; 4];
    let got = recv_with_fds(pair[1], &mut buf, &mut fds, 0).unwrap();
    assert_eq!((&buf[..got.len], got.nfds), (&b"hello"[..], 1));
    // SAFETY: fcntl on an fd we just received.
    let flags = unsafe { libc::fcntl(fds[0], libc::F_GETFD) };
    assert_eq!(flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
    // An empty payload is never sent.
    assert_eq!(send_with_fds(pair[0], b"", &[]), Err(libc::EINVAL));
    // A packet larger than the buffer is a protocol error, not a silent truncation.
    send_with_fds(pair[0], &[1u8; 100], &[]).unwrap();
    assert_eq!(
        recv_with_fds(pair[1], &mut buf, &mut fds, 0).unwrap_err(),
        RecvError::Truncated
    );
    // SAFETY: closing fds this test owns.
    unsafe {
        libc::close(pair[0]);
        libc::close(pair[1]);
        libc::close(fds[0]);
    }
}

/// The fuzz target's corpus (fuzz/corpus/request_decoder) replayed on every test run: each seed
/// decodes, re-encodes identically, and every truncation and bit flip of it is refused or
/// decodes without panicking — a short, deterministic fuzz pass in the suite.
#[test]
fn fuzz_corpus_replays_and_mutations_never_panic() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/request_decoder");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let req: Request = decode(&bytes).expect("every seed is a valid request");
        let mut buf = vec![0u8; MAX_MESSAGE];
        assert_eq!(encode(&req, &mut buf).unwrap(), &bytes[..]);
        for cut in 0..bytes.len() {
            let _ = decode::<Request>(&bytes[..cut]);
        }
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut m = bytes.clone();
                m[i] ^= 1 << bit;
                let _ = decode::<Request>(&m);
            }
        }
        seen += 1;
    }
    assert!(seen >= 15, "the corpus lost seeds");
}
