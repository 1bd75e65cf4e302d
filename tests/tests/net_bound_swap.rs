//! A socket this sandbox bound is connectable as "bound here" only as that very object: the
//! broker opens the socket file once (`O_PATH|O_NOFOLLOW` beneath the decided parent),
//! decides on that fd's identity and connects (or sends) through that same fd. Before, it
//! checked the name and then opened the name again, so a program exchanging its own
//! socket with a hard link of a host socket (`renameat2(RENAME_EXCHANGE)`) in a loop
//! reached a host socket the policy denies (red-team finding 01 of issue 18).
//! `tests/helpers/unix_swap.c`, dynamic (libc and raw) and static (raw), native control,
//! as the invoking user and, when that is root, as uid 65534.

mod floor_common;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixDatagram, UnixListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use floor_common::{arbiter, command, users, Who};

/// Attempts per run: natively the first few reach the host; before the fix a few hundred
/// under arbiter did.
const ATTEMPTS: &str = "3000";

fn helpers(dir: &Path) -> Vec<PathBuf> {
    arbiter_tests::compile_dynamic_and_static("unix_swap", dir, &["-pthread"])
}

/// A host-side stream server that greets every client with `HOST-SECRET`, and a host-side
/// datagram socket, both in `dir`, owned by `who` (a hard link needs that, natively).
fn host_sockets(dir: &Path, who: Who) -> UnixDatagram {
    let stream = dir.join("host.sock");
    let listener = UnixListener::bind(&stream).unwrap();
    std::thread::spawn(move || {
        for mut c in listener.incoming().flatten() {
            let _ = c.write_all(b"HOST-SECRET\n");
        }
    });
    let dgram = UnixDatagram::bind(dir.join("hostd.sock")).unwrap();
    for name in ["host.sock", "hostd.sock"] {
        let p = dir.join(name);
        std::fs::set_permissions(&p, PermissionsExt::from_mode(0o777)).unwrap();
        if who == Who::Nobody {
            std::os::unix::fs::chown(&p, Some(65534), Some(65534)).unwrap();
        }
    }
    dgram
}

fn last_line(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or("")
        .to_owned()
}

#[test]
fn a_host_socket_swapped_with_one_bound_here_is_not_reached() {
    let scratch = tempfile::Builder::new()
        .prefix("arbiter-swap-")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(scratch.path(), PermissionsExt::from_mode(0o777)).unwrap();
    let bins = helpers(scratch.path());
    let arb = arbiter();
    for who in users() {
        for h in &bins {
            let static_ = h.to_str().unwrap().ends_with("-static");
            let modes: &[&str] = if static_ {
                &["connect", "sendto"]
            } else {
                &["connect", "connect-libc", "sendto", "sendto-libc"]
            };
            for mode in modes {
                let host = if mode.starts_with("sendto") {
                    "hostd.sock"
                } else {
                    "host.sock"
                };
                let argv = [h.to_str().unwrap(), mode, host, ATTEMPTS];
                for confined in [false, true] {
                    let dir = scratch.path().join(format!(
                        "{who:?}-{}-{mode}-{confined}",
                        h.file_name().unwrap().to_str().unwrap()
                    ));
                    std::fs::create_dir(&dir).unwrap();
                    std::fs::set_permissions(&dir, PermissionsExt::from_mode(0o777)).unwrap();
                    let dgram = host_sockets(&dir, who);
                    let mut full = vec![];
                    if confined {
                        full.extend([arb.to_str().unwrap(), "run", "--strict", "-q", "--"]);
                    }
                    full.extend(argv);
                    let out = command(who, &full)
                        .current_dir(&dir)
                        .stdin(Stdio::null())
                        .output()
                        .unwrap();
                    dgram.set_nonblocking(true).unwrap();
                    let mut buf = [0u8; 64];
                    let host_got = dgram.recv(&mut buf).is_ok();
                    if confined {
                        assert_eq!(
                            last_line(&out),
                            "no success",
                            "{argv:?} under arbiter as {who:?}: {out:?}"
                        );
                        assert!(!host_got, "{argv:?}: the host datagram socket got data");
                    } else {
                        assert_eq!(
                            last_line(&out),
                            "reached host",
                            "control: {argv:?} natively as {who:?}: {out:?}"
                        );
                    }
                }
            }
        }
    }
}
