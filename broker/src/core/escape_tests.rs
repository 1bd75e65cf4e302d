//! The request core never opens anything outside the policy, whatever path string it gets:
//! random mixes of `..`, `.`, `//`, trailing slashes and symlinks pointing out of the allowed
//! tree, while another thread keeps swapping a directory for a symlink to the secret tree.

use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use arbiter_policies::{Policy, Source, Vars};
use arbiter_protocol::{At, Call, Checked, PathArg};
use proptest::prelude::*;

use crate::audit::Audit;
use crate::core::resolve::fd_path;
use crate::core::{Caller, RequestCore, Transport};

struct Tree {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    allowed: PathBuf,
    core: RequestCore,
}

/// T/allowed (read-write) holds a directory, a file, symlinks out to T/secret and up, and
/// `flip`, which a thread swaps between a real directory and a symlink to T/secret.
fn tree() -> Tree {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().canonicalize().unwrap();
    let allowed = root.join("allowed");
    let secret = root.join("secret");
    std::fs::create_dir_all(allowed.join("a/b")).unwrap();
    std::fs::create_dir_all(&secret).unwrap();
    std::fs::write(allowed.join("a/file"), "ok").unwrap();
    std::fs::write(secret.join("s"), "secret").unwrap();
    std::os::unix::fs::symlink("../secret/s", allowed.join("out")).unwrap();
    std::os::unix::fs::symlink(&secret, allowed.join("abs_out")).unwrap();
    std::os::unix::fs::symlink("..", allowed.join("up")).unwrap();
    std::os::unix::fs::symlink("a", allowed.join("in")).unwrap();
    std::fs::create_dir(allowed.join("flip")).unwrap();
    let text = format!(
        "version = 1\n[[fs]]\npath = \"{}\"\nallow = \"rw\"\n",
        allowed.display()
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
    let core = RequestCore::new(Arc::new(policy), Audit::disabled());
    Tree {
        _tmp: tmp,
        root,
        allowed,
        core,
    }
}

const CALLER: Caller = Caller {
    pid: 1,
    tid: None,
    exe: None,
    uid: 0,
    gid: 0,
    transport: Transport::Shim,
};

/// A call the tests built, checked as a transport checks it.
fn checked(call: Call<'_>) -> Checked<'_> {
    Checked::new(call, 0).expect("a valid call")
}

fn component() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "a", "b", "file", "s", "..", ".", "", "out", "abs_out", "up", "in", "flip", "secret",
        "allowed", "missing",
    ])
}

/// Whether `p` is inside the allowed tree, or (for metadata-only opens) one of its ancestors.
fn permitted(p: &Path, allowed: &Path, o_path: bool) -> bool {
    p.starts_with(allowed) || (o_path && allowed.starts_with(p))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn no_path_string_opens_outside_the_allowed_tree(
        parts in prop::collection::vec(component(), 1..8),
        from_root in any::<bool>(),
        trailing in any::<bool>(),
        mode in 0usize..4,
    ) {
        let t = tree();
        let stop = Arc::new(AtomicBool::new(false));
        let flipper = {
            let (stop, flip, secret) = (Arc::clone(&stop), t.allowed.join("flip"), t.root.join("secret"));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let _ = std::fs::remove_dir(&flip);
                    let _ = std::os::unix::fs::symlink(&secret, &flip);
                    let _ = std::fs::remove_file(&flip);
                    let _ = std::fs::create_dir(&flip);
                }
            })
        };
        let base = if from_root { t.root.clone() } else { t.allowed.clone() };
        let mut path = base.as_os_str().as_bytes().to_vec();
        for p in &parts {
            path.push(b'/');
            path.extend_from_slice(p.as_bytes());
        }
        if trailing {
            path.push(b'/');
        }
        let flags = [libc::O_RDONLY, libc::O_PATH, libc::O_RDONLY | libc::O_DIRECTORY, libc::O_WRONLY | libc::O_CREAT][mode];
        for _ in 0..5 {
            let call = Call::Open { path: PathArg { at: At::Absolute, path: &path }, flags, mode: 0o600, umask: 0 };
            let out = t.core.handle(&CALLER, &checked(call), &[]);
            if let Some(fd) = &out.fd {
                match fd_path(fd.as_fd()) {
                    Ok(real) => prop_assert!(permitted(&real, &t.allowed, flags == libc::O_PATH), "{} opened {}", String::from_utf8_lossy(&path), real.display()),
                    // The flipper removed what was opened (`flip` as a directory): it has no
                    // path any more, so compare identities with the secret tree instead.
                    Err(_) => {
                        let st = crate::core::stat::statx(std::os::fd::AsRawFd::as_raw_fd(fd), c"", libc::AT_EMPTY_PATH).unwrap();
                        for secret in [t.root.join("secret"), t.root.join("secret/s")] {
                            let m = std::fs::metadata(&secret).unwrap();
                            prop_assert!(std::os::unix::fs::MetadataExt::ino(&m) != st.ino, "{} opened {}", String::from_utf8_lossy(&path), secret.display());
                        }
                    }
                }
            }
        }
        stop.store(true, Ordering::Relaxed);
        flipper.join().unwrap();
        prop_assert!(!t.root.join("secret").read_dir().unwrap().any(|e| e.unwrap().file_name() != "s"), "something was created in the secret tree");
    }
}

#[test]
fn traversal_table_is_denied() {
    let t = tree();
    let a = t.allowed.display().to_string();
    let attempts = [
        format!("{a}/out"),
        format!("{a}/abs_out/s"),
        format!("{a}/up/secret/s"),
        format!("{a}/../secret/s"),
        format!("{a}//a/..//..//secret/s"),
        format!("{a}/in/../../secret/s"),
        format!("{a}/a/b/../../up/secret/s"),
        "/proc/self/root/etc/shadow".to_string(),
        format!("/proc/self/root{}/secret/s", t.root.display()),
    ];
    for p in attempts {
        let call = Call::Open {
            path: PathArg {
                at: At::Absolute,
                path: p.as_bytes(),
            },
            flags: libc::O_RDONLY,
            mode: 0,
            umask: 0,
        };
        let out = t.core.handle(&CALLER, &checked(call), &[]);
        assert!(out.fd.is_none(), "{p} was opened");
        assert_eq!(out.errno, libc::EACCES, "{p}: errno {}", out.errno);
    }
    // The allowed file is reachable through the same kinds of detours.
    for p in [
        format!("{a}/in/file"),
        format!("{a}/a/b/../file"),
        format!("{a}/up/allowed/a/file"),
    ] {
        let call = Call::Open {
            path: PathArg {
                at: At::Absolute,
                path: p.as_bytes(),
            },
            flags: libc::O_RDONLY,
            mode: 0,
            umask: 0,
        };
        assert!(
            t.core.handle(&CALLER, &checked(call), &[]).fd.is_some(),
            "{p} was refused"
        );
    }
}
