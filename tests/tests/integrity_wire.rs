//! Bytes written straight onto the program's own call channel are validated once, at the
//! edge: a path the kernel could never have been given (an interior NUL, an over-long path
//! or name, a relative path claiming to be absolute) is refused with a clear errno and an
//! audit record, so the policy and the system call always see the same bytes.
//!
//! Each attack is run by `tests/helpers/wire.c` (raw system calls; built static and
//! dynamic), as root and as an unprivileged user, with a native control (the file is
//! readable natively) and an allowed frame through the same channel (the frame mechanism
//! works), so a refusal means the broker refused.

#[path = "integrity_harness/mod.rs"]
mod harness;

use arbiter_protocol::{decode, encode, At, Call, PathArg, Reply, Request, PROTOCOL_VERSION};
use arbiter_tests::invoker_and_nobody;
use harness::{hex, show, tagged, Scene, PUBLIC, SECRET};

/// An `Open` request for reading, encoded.
fn open_frame(id: u64, at: At, path: &[u8]) -> String {
    let req = Request {
        id,
        call: Call::Open {
            path: PathArg { at, path },
            flags: libc::O_RDONLY | libc::O_CLOEXEC,
            mode: 0,
            umask: 0o022,
        },
    };
    let mut buf = vec![0u8; arbiter_protocol::MAX_MESSAGE];
    hex(encode(&req, &mut buf).unwrap())
}

/// One run of the helper: the replies (result, errno), the data read from the fds that
/// came back, and the run's output.
type Run = (Vec<(i64, i32)>, Vec<Vec<u8>>, std::process::Output);

/// Sends `frames` from every helper build, as every user, calling `reset` before each run.
fn send_each(scene: &Scene, extra: &[String], frames: &[String], reset: impl Fn()) -> Vec<Run> {
    let mut out = Vec::new();
    for unprivileged in invoker_and_nobody() {
        for h in &scene.helpers {
            let mut argv = vec![
                h.display().to_string(),
                "frame".into(),
                PROTOCOL_VERSION.to_string(),
            ];
            argv.extend(frames.iter().cloned());
            reset();
            let o = scene.confined(extra, &argv, unprivileged);
            let replies = tagged(&o, "reply")
                .iter()
                .map(|r| {
                    let r: Reply = decode(r).expect("a reply decodes");
                    (r.result, r.errno)
                })
                .collect();
            out.push((replies, tagged(&o, "data"), o));
        }
    }
    out
}

/// Sends `frames` from every helper build, as every user.
fn send(scene: &Scene, extra: &[String], frames: &[String]) -> Vec<Run> {
    send_each(scene, extra, frames, || {})
}

/// The native control: the denied file is readable natively by every user.
fn control(scene: &Scene) {
    for unprivileged in invoker_and_nobody() {
        for h in &scene.helpers {
            let argv = [
                h.display().to_string(),
                "read".into(),
                scene.path("work/private/key").display().to_string(),
            ];
            let o = scene.native(&argv, unprivileged);
            assert_eq!(tagged(&o, "data"), vec![SECRET.to_vec()], "{}", show(&o));
        }
    }
}

/// A NUL inside the directory part once made the broker open the directory the kernel saw
/// (the bytes before the NUL: `work/private`) while the policy decided on the whole string
/// (`work/private\0/x/key`, beneath the allowed `work`): the denied file was read.
#[test]
fn interior_nul_in_a_path_is_refused_at_decode() {
    let scene = Scene::new("wire");
    control(&scene);
    let public = scene.path("work/public.txt");
    let mut attack = scene
        .path("work/private")
        .into_os_string()
        .into_encoded_bytes();
    attack.extend_from_slice(b"\0/x/key");
    let frames = [
        open_frame(1, At::Absolute, public.to_str().unwrap().as_bytes()),
        open_frame(2, At::Absolute, &attack),
    ];
    for (replies, data, o) in send(&scene, &scene.deny_private(), &frames) {
        assert_eq!(replies.len(), 2, "{}", show(&o));
        assert_eq!(replies[0], (0, 0), "the allowed frame: {}", show(&o));
        assert_eq!(
            data,
            vec![PUBLIC.to_vec()],
            "only the allowed fd: {}",
            show(&o)
        );
        assert_eq!(replies[1], (-1, libc::EINVAL), "{}", show(&o));
    }
}

/// Paths and names longer than the kernel accepts (PATH_MAX including the NUL, NAME_MAX per
/// component) are refused with `ENAMETOOLONG`, as the kernel refuses them.
#[test]
fn over_long_paths_and_names_are_refused_at_decode() {
    let scene = Scene::new("wire");
    let work = scene.work().display().to_string();
    let long_name = format!("{work}/{}", "n".repeat(256));
    let mut long_path = format!("{work}/");
    while long_path.len() < 4096 {
        long_path.push_str("d/");
    }
    let frames = [
        open_frame(1, At::Absolute, long_name.as_bytes()),
        open_frame(2, At::Absolute, long_path.as_bytes()),
    ];
    for (replies, data, o) in send(&scene, &[], &frames) {
        assert_eq!(
            replies,
            vec![(-1, libc::ENAMETOOLONG), (-1, libc::ENAMETOOLONG)],
            "{}",
            show(&o)
        );
        assert!(data.is_empty(), "{}", show(&o));
    }
}

/// An `Absolute` path must start with `/`, and a dirfd index must name a passed fd.
#[test]
fn malformed_path_arguments_are_refused_at_decode() {
    let scene = Scene::new("wire");
    let frames = [
        open_frame(1, At::Absolute, b"public.txt"),
        open_frame(2, At::Absolute, b""),
    ];
    for (replies, data, o) in send(&scene, &[], &frames) {
        assert_eq!(
            replies,
            vec![(-1, libc::EINVAL), (-1, libc::ENOENT)],
            "{}",
            show(&o)
        );
        assert!(data.is_empty(), "{}", show(&o));
    }
}

/// Every refusal at the edge leaves an audit record that names the problem.
#[test]
fn refusals_at_decode_are_audited() {
    let scene = Scene::new("wire");
    let log = scene.path("audit.jsonl");
    let mut attack = scene
        .path("work/private")
        .into_os_string()
        .into_encoded_bytes();
    attack.extend_from_slice(b"\0/x/key");
    let mut extra = scene.deny_private();
    extra.extend(["--audit".to_string(), log.display().to_string()]);
    let h = scene.helpers[0].display().to_string();
    let argv = [
        h,
        "frame".into(),
        PROTOCOL_VERSION.to_string(),
        open_frame(1, At::Absolute, &attack),
    ];
    let o = scene.confined(&extra, &argv, false);
    let replies = tagged(&o, "reply");
    assert_eq!(replies.len(), 1, "{}", show(&o));
    let audit = std::fs::read_to_string(&log).unwrap();
    let rec = audit
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|r| r["type"] == "invalid_request")
        .unwrap_or_else(|| panic!("no invalid_request record:\n{audit}"));
    assert_eq!(rec["call"], "open", "{rec}");
    assert_eq!(rec["transport"], "shim", "{rec}");
    assert!(
        rec["error"].as_str().unwrap().contains("NUL"),
        "the record names the problem: {rec}"
    );
}

/// An absolute path argument.
fn abs(path: &str) -> PathArg<'_> {
    PathArg {
        at: At::Absolute,
        path: path.as_bytes(),
    }
}

/// Encodes any request.
fn frame(id: u64, call: Call<'_>) -> String {
    let mut buf = vec![0u8; arbiter_protocol::MAX_MESSAGE];
    hex(encode(&Request { id, call }, &mut buf).unwrap())
}

/// Well-formed frames for the other path calls are decided on what they touch: a symlink
/// the frame creates into the denied directory opens nothing there, and a link, a rename
/// or a `..` walk through it is refused; the allowed symlink and stat succeed.
#[test]
fn hand_written_frames_reach_nothing_the_policy_denies() {
    let scene = Scene::new("wire");
    control(&scene);
    let work = scene.work().display().to_string();
    let p = |rel: &str| format!("{work}/{rel}");
    let (link, key, k2, p2, walk) = (
        p("l"),
        p("private/key"),
        p("k2"),
        p("p2"),
        p("private/../private/key"),
    );
    let private = p("private");
    let frames = [
        frame(
            1,
            Call::Symlink {
                target: b"private/key",
                path: abs(&link),
            },
        ),
        open_frame(2, At::Absolute, link.as_bytes()),
        frame(
            3,
            Call::Link {
                from: abs(&key),
                to: abs(&k2),
                flags: 0,
            },
        ),
        frame(
            4,
            Call::Rename {
                from: abs(&private),
                to: abs(&p2),
                flags: 0,
            },
        ),
        frame(
            5,
            Call::Stat {
                path: abs(&walk),
                flags: 0,
            },
        ),
        frame(
            6,
            Call::Stat {
                path: abs(&link),
                flags: libc::AT_SYMLINK_NOFOLLOW,
            },
        ),
    ];
    let reset = || {
        let _ = std::fs::remove_file(scene.path("work/l"));
    };
    for (replies, data, o) in send_each(&scene, &scene.deny_private(), &frames, reset) {
        let eacces = (-1, libc::EACCES);
        assert_eq!(
            replies,
            vec![(0, 0), eacces, eacces, eacces, eacces, (0, 0)],
            "{}",
            show(&o)
        );
        assert!(data.is_empty(), "{}", show(&o));
        assert!(!scene.path("work/k2").exists() && !scene.path("work/p2").exists());
    }
}

/// Services lookups written straight onto the channel: a well-formed one is answered (and
/// refused when the policy refuses reading `/etc/services`); a name with a NUL, or longer
/// than any database line holds, is refused at the edge as "not found" (`ENOENT`, which the
/// shim turns into glibc's null result) with an `invalid_request` record, never looked up.
#[test]
fn hand_written_database_lookups_are_checked_and_decided() {
    use arbiter_protocol::NetDbQuery;
    let scene = Scene::new("wire");
    let lookup = |id, name: &'static [u8]| {
        frame(
            id,
            Call::NetDb(NetDbQuery::ServByName {
                name,
                proto: Some(b"tcp"),
            }),
        )
    };
    let long: &'static [u8] = Box::leak(vec![b'a'; 256].into_boxed_slice());
    let frames = [
        lookup(1, b"http"),
        lookup(2, b"http\0evil"),
        lookup(3, long),
    ];
    for (replies, _, o) in send(&scene, &[], &frames) {
        assert_eq!(
            replies,
            vec![(0, 0), (-1, libc::ENOENT), (-1, libc::ENOENT)],
            "{}",
            show(&o)
        );
    }
    let deny = ["--deny".to_string(), "/etc/services".to_string()];
    for (replies, _, o) in send(&scene, &deny, &frames[..1]) {
        assert_eq!(replies, vec![(-1, libc::EACCES)], "{}", show(&o));
    }
    let log = scene.path("netdb.jsonl");
    let argv = [
        scene.helpers[0].display().to_string(),
        "frame".into(),
        PROTOCOL_VERSION.to_string(),
        frames[1].clone(),
    ];
    let extra = ["--audit".to_string(), log.display().to_string()];
    let o = scene.confined(&extra, &argv, false);
    let audit = std::fs::read_to_string(&log).unwrap();
    let rec = audit
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|r| r["type"] == "invalid_request")
        .unwrap_or_else(|| panic!("no invalid_request record:\n{audit}\n{}", show(&o)));
    assert_eq!(rec["call"], "getservbyname", "{rec}");
    assert_eq!(rec["errno"], "ENOENT", "{rec}");
    assert!(rec["error"].as_str().unwrap().contains("NUL"), "{rec}");
}
