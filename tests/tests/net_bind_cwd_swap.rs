//! A relative unix bind lands in the directory the broker decided on, whatever is swapped
//! into its path meanwhile (issue 18). The broker binds the program's own string (`sI.sock`,
//! so `getsockname` reports it as natively) from a thread whose working directory is the
//! decided directory's fd, so no path is looked up after the decision. An unconfined
//! process exchanges the working directory `box/` with a symlink `link -> secret` in a loop
//! (`renameat2(RENAME_EXCHANGE)`) while the sandboxed helper binds `sI.sock` a thousand
//! times: no socket may appear in `secret/`, which the policy does not let it bind in.
//! Native control: the same swapper redirects a bind by path (`box/sI.sock`) into
//! `secret/` natively. Before the fix the broker bound the socket's real path (checked just
//! before the bind, by path), and sockets landed in `secret/` under arbiter too.
//! `tests/helpers/unix_bind_swap.c`, dynamic (libc and raw) and static (raw), on the
//! seccomp transport and (libc) the shim's, as the invoking user and, when that is root,
//! as uid 65534.

mod floor_common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use floor_common::{arbiter, command, users, Who};

/// Binds per run.
const BINDS: &str = "1000";

/// `root/box` (the working directory), `root/secret`, `root/link -> secret`, all 0777.
fn layout(root: &Path) {
    for d in ["", "box", "secret"] {
        let p = root.join(d);
        std::fs::create_dir_all(&p).unwrap();
        std::fs::set_permissions(&p, PermissionsExt::from_mode(0o777)).unwrap();
    }
    std::os::unix::fs::symlink("secret", root.join("link")).unwrap();
}

fn sockets_in(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .map(|e| e.file_type().map(|t| t.is_socket()).unwrap_or(false))
                .unwrap_or(false)
        })
        .count()
}

fn exchange(a: &Path, b: &Path) -> bool {
    let a = std::ffi::CString::new(a.as_os_str().as_encoded_bytes()).unwrap();
    let b = std::ffi::CString::new(b.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: both paths are NUL-terminated strings that outlive the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    rc == 0
}

/// Runs `argv` as `who` in `root/box` while `box` and `link` are exchanged in a loop;
/// returns how many binds succeeded (the helper's "bound K of N") and its output.
fn run_swapped(who: Who, root: &Path, argv: &[&str]) -> (usize, String) {
    let mut child = command(who, argv)
        .current_dir(root.join("box"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let stop = stop.clone();
        let (b, l) = (root.join("box"), root.join("link"));
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                assert!(
                    exchange(&b, &l),
                    "renameat2: {}",
                    std::io::Error::last_os_error()
                );
            }
        })
    };
    if first == "ready\n" {
        let _ = child.stdin.take().unwrap().write_all(b"go\n");
    }
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    swapper.join().unwrap();
    if root.join("box").symlink_metadata().unwrap().is_symlink() {
        assert!(exchange(&root.join("box"), &root.join("link")));
    }
    let text = format!("{first}{rest}{err}(status {status})");
    assert_eq!(first, "ready\n", "{argv:?} as {who:?}: {text}");
    let bound = rest
        .lines()
        .find_map(|l| l.strip_prefix("bound "))
        .and_then(|l| l.split(' ').next())
        .and_then(|k| k.parse().ok())
        .unwrap_or_else(|| panic!("{argv:?} as {who:?}: no count: {text}"));
    (bound, text)
}

#[test]
fn a_relative_bind_lands_in_the_decided_directory_whatever_is_swapped_in() {
    let scratch = tempfile::Builder::new()
        .prefix("arbiter-bindswap-")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(scratch.path(), PermissionsExt::from_mode(0o777)).unwrap();
    let bins: Vec<PathBuf> =
        arbiter_tests::compile_dynamic_and_static("unix_bind_swap", scratch.path(), &[]);
    let arb = arbiter();
    let arb = arb.to_str().unwrap();
    for who in users() {
        for h in &bins {
            let name = h.file_name().unwrap().to_str().unwrap();
            let helper = h.to_str().unwrap();
            let libc_forms: &[&str] = if name.ends_with("-static") {
                &[""]
            } else {
                &["", "-libc"]
            };
            for form in libc_forms {
                // The native control: a bind by path follows the swap into secret/.
                let root = scratch.path().join(format!("{who:?}-{name}{form}-native"));
                layout(&root);
                let prefix = root.join("box");
                let mode = format!("abs{form}");
                let argv = [helper, &mode, BINDS, prefix.to_str().unwrap()];
                let (bound, text) = run_swapped(who, &root, &argv);
                assert!(
                    sockets_in(&root.join("secret")) > 0,
                    "control: no bind by path was redirected into secret/ natively \
                     ({bound} bound): {text}"
                );
                // Under arbiter, relative binds in the working directory (allowed by the
                // default profile), on each transport the form reaches.
                let mode = format!("rel{form}");
                let mut transports = vec![vec![arb, "run", "-q", "--"]];
                if *form == "-libc" {
                    transports.push(vec![arb, "run", "-q", "--no-seccomp-transport", "--"]);
                }
                for (t, prefix_argv) in transports.into_iter().enumerate() {
                    let root = scratch.path().join(format!("{who:?}-{name}{form}-{t}"));
                    layout(&root);
                    let mut argv = prefix_argv;
                    argv.extend([helper, &mode, BINDS]);
                    let (bound, text) = run_swapped(who, &root, &argv);
                    let escaped = sockets_in(&root.join("secret"));
                    assert_eq!(
                        escaped, 0,
                        "{argv:?} as {who:?}: {escaped} socket(s) landed in secret/: {text}"
                    );
                    assert!(bound > 0, "{argv:?} as {who:?}: no bind succeeded: {text}");
                    assert_eq!(
                        sockets_in(&root.join("box")),
                        bound,
                        "{argv:?} as {who:?}: the sockets bound are not all in box/: {text}"
                    );
                }
            }
        }
    }
}
