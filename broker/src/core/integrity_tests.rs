//! The broker acts on exactly what it decided, whatever the program does meanwhile: random
//! sequences of requests (open, create, mkdir, symlink, rename, exchange, link, unlink,
//! stat) on random paths, while another thread keeps renaming and swapping directories and
//! symlinks inside the allowed tree as the program itself could, checked against a
//! reference model of the policy (`allowed` read-write, `allowed/private` and `secret`
//! denied): no fd the broker hands out is a denied object, and nothing denied changes.
//!
//! CI runs a fixed seed; a longer run with another seed:
//! `ARBITER_PROPTEST_CASES=5000 ARBITER_PROPTEST_SEED=$RANDOM cargo test --release -p arbiter integrity_tests`.

use std::collections::{BTreeMap, HashSet};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use arbiter_policies::{Policy, Source, Vars};
use arbiter_protocol::{At, Call, Checked, PathArg};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

use crate::audit::Audit;
use crate::core::resolve::fd_path;
use crate::core::stat::statx;
use crate::core::{Caller, RequestCore, Transport};

const CALLER: Caller = Caller {
    pid: 1,
    tid: None,
    exe: None,
    uid: 0,
    gid: 0,
    transport: Transport::Shim,
};

/// Where a request's path starts: `allowed`, the scratch root, or (relative) a directory fd
/// of `allowed/a`, which the swapper keeps exchanging with `allowed/c`.
#[derive(Debug, Clone, Copy)]
enum Base {
    Allowed,
    Root,
    DirFd,
}

/// A request, with paths as component lists under a [`Base`] (or `allowed`).
#[derive(Debug, Clone)]
enum Op {
    Open(Vec<&'static str>, Base, i32),
    Mkdir(Vec<&'static str>, Base),
    Symlink(&'static str, Vec<&'static str>, Base),
    Rename(Vec<&'static str>, Vec<&'static str>, bool),
    Link(Vec<&'static str>, Vec<&'static str>),
    Unlink(Vec<&'static str>, bool),
    Stat(Vec<&'static str>, Base),
}

fn base() -> impl Strategy<Value = Base> {
    prop_oneof![3 => Just(Base::Allowed), 1 => Just(Base::Root), 2 => Just(Base::DirFd)]
}

const COMPONENTS: &[&str] = &[
    "a", "b", "c", "d", "e", "f", "g", "private", "key", "flip", "up", "..", ".", "", "secret",
    "s", "allowed", "new", "missing",
];

const TARGETS: &[&str] = &[
    "d/private",
    "d/private/key",
    "private",
    "../secret",
    "../secret/s",
    "a",
    "..",
    "flip/b",
    "/",
];

const FLAGS: &[i32] = &[
    libc::O_RDONLY,
    libc::O_WRONLY | libc::O_CREAT,
    libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC,
    libc::O_RDONLY | libc::O_DIRECTORY,
    libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL,
    libc::O_RDONLY | libc::O_NOFOLLOW,
];

/// The names a plain request uses.
const PLAIN: &[&str] = &[
    "a", "b", "c", "d", "f", "g", "new", "flip", "private", "key",
];

/// Mostly short plain paths (the renames and creations that matter), sometimes anything.
fn path() -> impl Strategy<Value = Vec<&'static str>> {
    prop_oneof![
        3 => prop::collection::vec(prop::sample::select(PLAIN), 1..3),
        2 => prop::collection::vec(prop::sample::select(COMPONENTS), 1..6),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (path(), base(), prop::sample::select(FLAGS)).prop_map(|(p, r, f)| Op::Open(p, r, f)),
        (path(), base()).prop_map(|(p, r)| Op::Mkdir(p, r)),
        (prop::sample::select(TARGETS), path(), base()).prop_map(|(t, p, r)| Op::Symlink(t, p, r)),
        (path(), path(), any::<bool>()).prop_map(|(a, b, x)| Op::Rename(a, b, x)),
        (path(), path()).prop_map(|(a, b)| Op::Link(a, b)),
        (path(), any::<bool>()).prop_map(|(p, d)| Op::Unlink(p, d)),
        (path(), base()).prop_map(|(p, r)| Op::Stat(p, r)),
    ]
}

struct Scene {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    allowed: PathBuf,
    core: RequestCore,
}

/// root/allowed (read-write) with a/b/, a/f, c/, g, flip/ and d/ holding the denied
/// private/{key,e/}; root/secret/s outside every rule.
fn scene() -> Scene {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().canonicalize().unwrap();
    let allowed = root.join("allowed");
    for d in [
        "allowed/a/b",
        "allowed/c",
        "allowed/flip",
        "allowed/d/private/e",
        "secret",
    ] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::write(allowed.join("a/f"), "ok").unwrap();
    std::fs::write(allowed.join("g"), "ok").unwrap();
    std::fs::write(allowed.join("d/private/key"), "private").unwrap();
    std::fs::write(root.join("secret/s"), "secret").unwrap();
    std::os::unix::fs::symlink("..", allowed.join("up")).unwrap();
    let text = format!(
        "version = 1\n[[fs]]\npath = \"{a}\"\nallow = \"rw\"\n[[fs]]\npath = \"{a}/d/private\"\ndeny = true\n",
        a = allowed.display()
    );
    let vars = Vars {
        pwd: allowed.clone(),
        tmpdir: allowed.clone(),
        ..Vars::default()
    };
    let policy = Policy::load(
        &[Source::Text {
            origin: "test".into(),
            text,
        }],
        &vars,
    )
    .unwrap();
    Scene {
        _tmp: tmp,
        root,
        allowed,
        core: RequestCore::new(Arc::new(policy), Audit::disabled()),
    }
}

/// What a tree holds: relative path → (kind, contents or link target, mode).
type Tree = BTreeMap<PathBuf, (u32, Vec<u8>, u32)>;

/// Everything beneath `dir`; `None` when `dir` is not there any more.
fn snapshot(dir: &Path) -> Option<Tree> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).ok()? {
            let p = e.unwrap().path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let data = if m.file_type().is_symlink() {
                std::fs::read_link(&p)
                    .unwrap()
                    .as_os_str()
                    .as_bytes()
                    .to_vec()
            } else if m.is_file() {
                std::fs::read(&p).unwrap()
            } else {
                todo.push(p.clone());
                Vec::new()
            };
            out.insert(
                p.strip_prefix(dir).unwrap().to_path_buf(),
                (m.mode() & libc::S_IFMT, data, m.mode() & 0o7777),
            );
        }
    }
    Some(out)
}

/// (dev, ino) of `dir` and everything beneath it.
fn inodes(dir: &Path) -> HashSet<(u64, u64)> {
    let mut out = HashSet::new();
    let m = std::fs::metadata(dir).unwrap();
    out.insert((m.dev(), m.ino()));
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            out.insert((m.dev(), m.ino()));
            if m.is_dir() {
                todo.push(p);
            }
        }
    }
    out
}

fn join(base: &Path, parts: &[&str]) -> Vec<u8> {
    let mut p = base.as_os_str().as_bytes().to_vec();
    for c in parts {
        p.push(b'/');
        p.extend_from_slice(c.as_bytes());
    }
    p
}

/// Renames and swaps inside `allowed` that the program could make itself, until `stop`.
fn swapper(allowed: PathBuf, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let (a, c, flip) = (allowed.join("a"), allowed.join("c"), allowed.join("flip"));
        let mut i = 0u32;
        while !stop.load(Ordering::Relaxed) {
            i = i.wrapping_add(1);
            // SAFETY: paths are NUL-terminated C strings built here.
            let exchange = |x: &Path, y: &Path| unsafe {
                let (x, y) = (
                    std::ffi::CString::new(x.as_os_str().as_bytes()).unwrap(),
                    std::ffi::CString::new(y.as_os_str().as_bytes()).unwrap(),
                );
                libc::syscall(
                    libc::SYS_renameat2,
                    libc::AT_FDCWD,
                    x.as_ptr(),
                    libc::AT_FDCWD,
                    y.as_ptr(),
                    2u32,
                )
            };
            exchange(&a, &c);
            let _ = std::fs::remove_dir(&flip);
            let _ = std::fs::remove_file(&flip);
            match i % 3 {
                0 => {
                    let _ = std::os::unix::fs::symlink("d/private", &flip);
                }
                1 => {
                    let _ = std::os::unix::fs::symlink("../secret", &flip);
                }
                _ => {
                    let _ = std::fs::create_dir(&flip);
                }
            }
        }
    })
}

fn config() -> Config {
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse().ok());
    Config {
        cases: env("ARBITER_PROPTEST_CASES").map_or(96, |n: u64| n as u32),
        rng_seed: RngSeed::Fixed(env("ARBITER_PROPTEST_SEED").unwrap_or(14)),
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn no_fd_or_side_effect_lands_outside_the_policy(ops in prop::collection::vec(op(), 1..16)) {
        let s = scene();
        let denied_dirs = [s.allowed.join("d/private"), s.root.join("secret")];
        let before: Vec<_> = denied_dirs.iter().map(|d| snapshot(d)).collect();
        let denied_inodes: HashSet<(u64, u64)> =
            denied_dirs.iter().flat_map(|d| inodes(d)).collect();
        let stop = Arc::new(AtomicBool::new(false));
        let swapping = swapper(s.allowed.clone(), Arc::clone(&stop));
        // A request relative to a dirfd carries an fd of allowed/a (or c, swapped).
        let arg = |b: Base, parts: &[&str]| match b {
            Base::Allowed => (At::Absolute, join(&s.allowed, parts)),
            Base::Root => (At::Absolute, join(&s.root, parts)),
            Base::DirFd => (At::Fd(0), parts.join("/").into_bytes()),
        };
        for op in &ops {
            let (p1, p2);
            let mut at = At::Absolute;
            let call = match op {
                Op::Open(p, r, flags) => {
                    (at, p1) = arg(*r, p);
                    Call::Open { path: PathArg { at, path: &p1 }, flags: *flags, mode: 0o644, umask: 0o022 }
                }
                Op::Mkdir(p, r) => {
                    (at, p1) = arg(*r, p);
                    Call::Mkdir { path: PathArg { at, path: &p1 }, mode: 0o755, umask: 0o022 }
                }
                Op::Symlink(t, p, r) => {
                    (at, p1) = arg(*r, p);
                    Call::Symlink { target: t.as_bytes(), path: PathArg { at, path: &p1 } }
                }
                Op::Rename(a, b, x) => {
                    p1 = join(&s.allowed, a);
                    p2 = join(&s.allowed, b);
                    Call::Rename {
                        from: PathArg { at: At::Absolute, path: &p1 },
                        to: PathArg { at: At::Absolute, path: &p2 },
                        flags: if *x { 2 } else { 0 },
                    }
                }
                Op::Link(a, b) => {
                    p1 = join(&s.allowed, a);
                    p2 = join(&s.allowed, b);
                    Call::Link {
                        from: PathArg { at: At::Absolute, path: &p1 },
                        to: PathArg { at: At::Absolute, path: &p2 },
                        flags: 0,
                    }
                }
                Op::Unlink(p, dir) => {
                    p1 = join(&s.allowed, p);
                    Call::Unlink { path: PathArg { at: At::Absolute, path: &p1 }, flags: if *dir { libc::AT_REMOVEDIR } else { 0 } }
                }
                Op::Stat(p, r) => {
                    (at, p1) = arg(*r, p);
                    Call::Stat { path: PathArg { at, path: &p1 }, flags: 0 }
                }
            };
            let fds: Vec<std::os::fd::OwnedFd> = match at {
                At::Fd(_) => match crate::core::resolve::openat_raw(
                    libc::AT_FDCWD,
                    &std::ffi::CString::new(s.allowed.join("a").as_os_str().as_bytes()).unwrap(),
                    libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
                    0,
                ) {
                    Ok(fd) => vec![fd],
                    // Mid-exchange: try the next request.
                    Err(_) => continue,
                },
                At::Absolute => Vec::new(),
            };
            // What the edge refuses (an empty relative path) never reaches the core.
            let Ok(call) = Checked::new(call, fds.len()) else {
                continue;
            };
            let out = s.core.handle(&CALLER, &call, &fds);
            if let Some(fd) = &out.fd {
                let st = statx(fd.as_raw_fd(), c"", libc::AT_EMPTY_PATH).unwrap();
                let dev = libc::makedev(st.dev_major, st.dev_minor);
                prop_assert!(!denied_inodes.contains(&(dev, st.ino)), "{op:?} handed out a denied object");
                if let Ok(real) = fd_path(fd.as_fd()) {
                    prop_assert!(
                        real.starts_with(&s.allowed) && !real.starts_with(s.allowed.join("d/private")),
                        "{op:?} opened {}", real.display()
                    );
                }
            }
            if let crate::core::OutPayload::Stat(st) = out.payload {
                let dev = libc::makedev(st.dev_major, st.dev_minor);
                prop_assert!(!denied_inodes.contains(&(dev, st.ino)), "{op:?} stat'ed a denied object");
            }
        }
        stop.store(true, Ordering::Relaxed);
        swapping.join().unwrap();
        let after: Vec<_> = denied_dirs.iter().map(|d| snapshot(d)).collect();
        prop_assert_eq!(before, after, "a denied tree changed after {:?}", ops);
    }
}

/// An object that moved, between the decision and the action, to where the policy refuses
/// it is refused after the action, and what the broker created there is removed.
#[test]
fn an_object_moved_where_the_policy_denies_is_refused_after_the_action() {
    use crate::core::fs::{confirm_fd, confirm_parent, open_at, undo_create};
    use crate::core::resolve::{resolve, Base};
    use crate::core::Notes;
    use arbiter_policies::Access;
    let s = scene();
    let mut notes = Notes::default();
    // Decided on allowed/a/f; meanwhile allowed/a moves to secret/a.
    let p = join(&s.allowed, &["a", "f"]);
    let loc = resolve(Base::Root, &p, false, &mut Vec::new()).unwrap();
    let (fd, created) = open_at(&loc, libc::O_RDONLY | libc::O_NOFOLLOW, 0).unwrap();
    assert!(!created);
    assert!(confirm_fd(&s.core, &loc, &fd, Access::READ, &mut notes).is_ok());
    std::fs::rename(s.allowed.join("a"), s.root.join("secret/a")).unwrap();
    assert_eq!(
        confirm_fd(&s.core, &loc, &fd, Access::READ, &mut notes).err(),
        Some(crate::core::errno::Errno(libc::EACCES))
    );
    assert!(confirm_parent(&s.core, &loc, Access::CREATE, &mut notes).is_err());
    // A file created in allowed/c after allowed/c moved to secret/c is removed again.
    let p = join(&s.allowed, &["c", "new"]);
    let loc = resolve(Base::Root, &p, false, &mut Vec::new()).unwrap();
    std::fs::rename(s.allowed.join("c"), s.root.join("secret/c")).unwrap();
    let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_NOFOLLOW;
    let (fd, created) = open_at(&loc, flags, 0o600).unwrap();
    assert!(created);
    assert!(s.root.join("secret/c/new").exists());
    assert!(confirm_fd(
        &s.core,
        &loc,
        &fd,
        Access::WRITE | Access::CREATE,
        &mut notes
    )
    .is_err());
    undo_create(&loc, &fd);
    assert!(!s.root.join("secret/c/new").exists());
}
