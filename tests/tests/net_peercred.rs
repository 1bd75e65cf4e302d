//! Brokered unix connects carry the program's identity, not the broker's: a root
//! `arbiter serve` serving uid 65534 connects the client's socket as uid/gid 65534, so the
//! server's `SO_PEERCRED` names the client (before, it named root: the broker).

mod serve_common;

use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;

use arbiter_tests::{assert_code, is_root, stderr, stdout, Sandbox};
use serve_common::{run_client, scratch, Daemon};

/// The uid and gid `SO_PEERCRED` reports for the next connection accepted on `l`.
fn peer_of_next(l: &UnixListener) -> (u32, u32) {
    let (conn, _) = l.accept().unwrap();
    // SAFETY: ucred is plain old data; zero is valid.
    let mut cred: libc::ucred = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: cred and len are valid out-pointers of the sizes given.
    let rc = unsafe {
        libc::getsockopt(
            conn.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    assert_eq!(rc, 0, "SO_PEERCRED");
    (cred.uid, cred.gid)
}

#[test]
fn a_server_reached_through_a_root_daemon_sees_the_clients_uid_in_so_peercred() {
    if !is_root() {
        println!("SKIP: needs root to serve another uid");
        return;
    }
    if !arbiter_tests::have("python3") {
        println!("SKIP: python3 is not installed");
        return;
    }
    let dir = scratch();
    let sockdir = dir.path().join("srv");
    std::fs::create_dir(&sockdir).unwrap();
    std::fs::set_permissions(&sockdir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let server_path = sockdir.join("peer.sock");
    let server = UnixListener::bind(&server_path).unwrap();
    std::fs::set_permissions(&server_path, std::fs::Permissions::from_mode(0o777)).unwrap();

    let policy = dir.path().join("p.toml");
    std::fs::write(
        &policy,
        format!(
            "version = 1\nextends = [\"default\"]\n\n[[connect]]\nunix = \"{}\"\n",
            server_path.display()
        ),
    )
    .unwrap();
    let cfg = dir.path().join("serve.toml");
    std::fs::write(
        &cfg,
        format!(
            "[profiles]\np = \"{}\"\n\n[[user]]\nuid = 65534\nallow = [\"p\"]\n",
            policy.display()
        ),
    )
    .unwrap();
    let sock = dir.path().join("s").to_str().unwrap().to_owned();
    let mut d = Daemon::start(
        dir.path(),
        &[
            "--listen",
            &sock,
            "--mode",
            "0666",
            "--config",
            cfg.to_str().unwrap(),
        ],
    );
    d.wait_listening();

    let code = format!(
        "import socket; s = socket.socket(socket.AF_UNIX); s.connect({:?}); print('connected')",
        server_path.to_str().unwrap()
    );
    let sb = Sandbox::new();
    let accepted = std::thread::scope(|s| {
        let peer = s.spawn(|| peer_of_next(&server));
        let o = run_client(&sock, &sb.dir, true, &[], &["python3", "-c", &code]);
        assert_code(&o, 0);
        assert_eq!(stdout(&o), "connected\n", "{}", stderr(&o));
        peer.join().unwrap()
    });
    assert_eq!(
        accepted,
        (65534, 65534),
        "SO_PEERCRED of the brokered connect"
    );
}
