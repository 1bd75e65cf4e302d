//! Everyday work in the working directory (issue 18): a program binds a unix socket in
//! `$PWD` or `$TMPDIR` and connects to it (gpg-agent, test servers, Python's
//! multiprocessing), and `cp -a` keeps permissions. Before, the bind was refused (no bind
//! rule) and `cp -a` failed ("preserving permissions": the ACL's `setxattr` answered
//! `EACCES`, where a filesystem without ACLs answers `EOPNOTSUPP` and cp falls back to
//! chmod).
//!
//! What stays closed: a socket bound *outside* the sandbox, even in `$PWD`, cannot be
//! connected to (the native control connects). Raw calls from a static and a dynamic
//! helper, as the invoking user and as uid 65534.

mod compat_common;
mod floor_common;

use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;

use compat_common::helpers;
use floor_common::{command, users, verdict, Floor, Who};

#[test]
fn a_program_binds_and_connects_unix_sockets_in_its_directories() {
    let f = Floor::new();
    let h = helpers(&f);
    for who in users() {
        for bin in &h {
            let b = bin.to_str().unwrap();
            assert_eq!(
                verdict(&f.native(who, &[b, "unix-pair", "s.sock"])),
                Ok(()),
                "control"
            );
            assert_eq!(
                verdict(&f.confined(who, &[], &[b, "unix-pair", "s.sock"])),
                Ok(()),
                "{b} unix-pair s.sock as {who:?}"
            );
            // In $TMPDIR, through a shell (the variable is the sandbox's own; the helper is
            // then not the command, so its directory is named with --rx).
            let script = format!("{b} unix-pair \"${{TMPDIR:-/tmp}}/s-$$.sock\"");
            assert_eq!(verdict(&f.native(who, &["sh", "-c", &script])), Ok(()));
            let dir = f.path("helpers");
            let rx = ["--rx", dir.to_str().unwrap()];
            assert_eq!(
                verdict(&f.confined(who, &rx, &["sh", "-c", &script])),
                Ok(()),
                "{script} as {who:?}"
            );
        }
    }
}

#[test]
fn a_socket_bound_outside_the_sandbox_stays_closed() {
    let f = Floor::new();
    let h = helpers(&f);
    for who in users() {
        let path = f.path(&format!("work/outside-{who:?}.sock"));
        let _ = std::fs::remove_file(&path);
        // Bound by the test, outside any sandbox, in what is the sandbox's $PWD.
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        std::fs::set_permissions(&path, PermissionsExt::from_mode(0o777)).unwrap();
        let name = path.file_name().unwrap().to_str().unwrap();
        for bin in &h {
            let argv = [bin.to_str().unwrap(), "unix-connect", name];
            assert_eq!(verdict(&f.native(who, &argv)), Ok(()), "control");
            assert_eq!(
                verdict(&f.confined(who, &[], &argv)),
                Err(libc::EACCES),
                "{argv:?} as {who:?}"
            );
        }
        drop(listener);
    }
}

#[test]
fn cp_a_keeps_permissions_in_the_working_directory() {
    let f = Floor::new();
    for who in users() {
        let work = f.path("work");
        let src = work.join(format!("src-{who:?}"));
        let _ = std::fs::remove_dir_all(&src);
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(src.join("f"), "f\n").unwrap();
        std::fs::set_permissions(src.join("f"), PermissionsExt::from_mode(0o640)).unwrap();
        std::fs::set_permissions(&src, PermissionsExt::from_mode(0o750)).unwrap();
        if who == Who::Nobody {
            for p in [&src, &src.join("f")] {
                std::os::unix::fs::chown(p, Some(65534), Some(65534)).unwrap();
            }
        }
        for (how, confined) in [("natively", false), ("under arbiter", true)] {
            let dst = work.join(format!("dst-{who:?}"));
            let _ = std::fs::remove_dir_all(&dst);
            let argv = [
                "cp",
                "-a",
                src.file_name().unwrap().to_str().unwrap(),
                dst.file_name().unwrap().to_str().unwrap(),
            ];
            let out = if confined {
                f.confined(who, &[], &argv)
            } else {
                command(who, &argv)
                    .current_dir(&work)
                    .stdin(Stdio::null())
                    .output()
                    .unwrap()
            };
            assert!(out.status.success(), "cp -a {how} as {who:?}: {out:?}");
            let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode();
            assert_eq!(mode(&dst.join("f")) & 0o7777, 0o640, "{how} as {who:?}");
            assert_eq!(mode(&dst) & 0o7777, 0o750, "{how} as {who:?}");
        }
    }
}
