//! Socket activation as systemd does it (`LISTEN_FDS`/`LISTEN_PID`/`LISTEN_FDNAMES`,
//! without `--listen`), under `systemd-socket-activate` when it is installed and under a
//! small harness that passes the socket itself; and `arbiter serve --check-config`.

mod serve_common;

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use arbiter_tests::{arbiter, assert_code, have, is_root, stdout, Sandbox};
use serve_common::{output_within, run_client, scratch, Daemon};

/// A listening `SOCK_SEQPACKET` socket bound at `path`, mode 0666.
fn seqpacket_listener(path: &Path) -> OwnedFd {
    // SAFETY: socket with integer arguments.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0) };
    assert!(fd >= 0);
    // SAFETY: a new fd nobody else owns.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: sockaddr_un is plain old data.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (d, s) in addr
        .sun_path
        .iter_mut()
        .zip(path.to_str().unwrap().as_bytes())
    {
        *d = *s as libc::c_char;
    }
    let len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
    // SAFETY: addr is a valid sockaddr_un of `len` bytes.
    let rc = unsafe { libc::bind(fd, (&addr as *const libc::sockaddr_un).cast(), len) };
    assert_eq!(rc, 0);
    // SAFETY: integer arguments.
    let rc = unsafe { libc::listen(fd, 16) };
    assert_eq!(rc, 0);
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
    owned
}

/// Starts `arbiter serve ARGS…` (no `--listen`) as systemd would: the `sockets` at fds
/// 3, 4, …, `LISTEN_FDS`, `LISTEN_FDNAMES` = `names`, and `LISTEN_PID` = the daemon's
/// own pid (a shell sets it to `$$` and execs the daemon, keeping its pid).
fn activated(
    dir: &Path,
    sockets: &[&OwnedFd],
    names: &str,
    pid_is_ours: bool,
    args: &[&str],
) -> Daemon {
    let stderr = dir.join("daemon-activated.err");
    let raw: Vec<i32> = sockets.iter().map(|s| s.as_raw_fd()).collect();
    let pid = if pid_is_ours { "$$" } else { "1" };
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(format!(
            "LISTEN_PID={pid} LISTEN_FDS={} LISTEN_FDNAMES={names} exec \"$0\" serve \"$@\"",
            raw.len()
        ))
        .arg(arbiter())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap());
    // SAFETY: the closure runs in the forked child before exec and only makes dup2 calls
    // on fds that are open (moved to high numbers first so none is overwritten early).
    unsafe {
        c.pre_exec(move || {
            for (i, &fd) in raw.iter().enumerate() {
                if libc::dup2(fd, 100 + i as i32) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            for i in 0..raw.len() as i32 {
                if libc::dup2(100 + i, 3 + i) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let child = c.spawn().unwrap();
    Daemon { child, stderr }
}

fn config(dir: &Path) -> String {
    let cfg = dir.join("serve.toml");
    // SAFETY: geteuid has no preconditions.
    let own = unsafe { libc::geteuid() };
    std::fs::write(
        &cfg,
        format!("[[user]]\nuid = {own}\nallow = [\"default\"]\n\n[[user]]\nuid = 65534\nallow = [\"default\"]\n"),
    )
    .unwrap();
    cfg.to_str().unwrap().to_owned()
}

fn served(sock: &Path) {
    let sb = Sandbox::new();
    let users: &[bool] = if is_root() { &[false, true] } else { &[false] };
    for &nobody in users {
        let o = run_client(
            sock.to_str().unwrap(),
            &sb.dir,
            nobody,
            &[],
            &["cat", "/etc/hostname"],
        );
        assert_code(&o, 0);
        assert_eq!(
            stdout(&o),
            std::fs::read_to_string("/etc/hostname").unwrap()
        );
    }
}

#[test]
fn a_socket_passed_as_systemd_does_is_served_without_listen() {
    let dir = scratch();
    let sock = dir.path().join("activated");
    let l = seqpacket_listener(&sock);
    let cfg = config(dir.path());
    let mut d = activated(
        dir.path(),
        &[&l],
        "arbiter.socket",
        true,
        &["--config", &cfg],
    );
    drop(l);
    d.wait_listening();
    served(&sock);
}

#[test]
fn with_several_sockets_the_one_named_arbiter_is_served() {
    let dir = scratch();
    let other = dir.path().join("other");
    let ours = dir.path().join("ours");
    let (lo, la) = (seqpacket_listener(&other), seqpacket_listener(&ours));
    let cfg = config(dir.path());
    let mut d = activated(
        dir.path(),
        &[&lo, &la],
        "metrics:arbiter",
        true,
        &["--config", &cfg],
    );
    drop(la);
    d.wait_listening();
    served(&ours);
    drop(lo);
}

#[test]
fn variables_meant_for_another_process_are_ignored() {
    let dir = scratch();
    let sock = dir.path().join("activated");
    let l = seqpacket_listener(&sock);
    let mut d = activated(dir.path(), &[&l], "arbiter", false, &[]);
    assert_eq!(d.wait_exit(30), Some(125));
    assert!(d.err().contains("no socket to serve"), "{}", d.err());
}

#[test]
fn systemd_socket_activate_starts_the_daemon_on_the_first_client() {
    if !have("systemd-socket-activate") {
        println!("SKIP: systemd-socket-activate is not installed (Debian package systemd)");
        return;
    }
    let dir = scratch();
    let sock = dir.path().join("sa");
    let cfg = config(dir.path());
    let stderr = dir.path().join("sa.err");
    let child = Command::new("systemd-socket-activate")
        .args(["--seqpacket", "-l"])
        .arg(&sock)
        .arg(arbiter())
        .args(["serve", "--config", &cfg])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    let mut d = Daemon { child, stderr };
    let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !sock.exists() {
        assert!(
            std::time::Instant::now() < until,
            "never listened: {}",
            d.err()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::fs::set_permissions(&sock, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
    // The first client starts the daemon (exec'd in place of systemd-socket-activate).
    served(&sock);
    assert!(
        d.err().contains("listening on inherited socket"),
        "{}",
        d.err()
    );
    d.signal(libc::SIGTERM);
    assert_eq!(d.wait_exit(30), Some(0), "{}", d.err());
}

fn check_config(dir: &Path, name: &str, text: &str) -> (Option<i32>, String) {
    let f = dir.join(name);
    std::fs::write(&f, text).unwrap();
    let o = output_within(
        Command::new(arbiter())
            .args(["serve", "--check-config"])
            .arg(&f)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
        30,
    );
    (o.status.code(), stdout(&o))
}

#[test]
fn check_config_names_each_problem_by_file_line_and_column() {
    let dir = scratch();
    let d = dir.path();
    let (code, out) = check_config(
        d,
        "ok.toml",
        "[[user]]\nuid = 1\nallow = [\"default\"]\n\n[limits]\nsandboxes_per_uid = 2\n",
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.starts_with("ok:") && out.contains("\"sandboxes_per_uid\":2"),
        "{out}"
    );
    let cases = [
        (
            "syntax.toml",
            "[[user]]\nuid = 1\nallow = [\"default\"\n",
            ":4:1: ",
        ),
        (
            "limit.toml",
            "[[user]]\nuid = 1\nallow = [\"default\"]\n[limits]\n  sandbox = 3\n",
            ":5:3: limits.sandbox: unknown limit",
        ),
        (
            "key.toml",
            "[[group]]\ngid = 2\nallow = [\"default\"]\nbogus = 1\n",
            ":4:1: [[group]] #1: unknown key `bogus`",
        ),
        (
            "profile.toml",
            "[[user]]\nuid = 1\nallow = [\"nonesuch\"]\n",
            ":3:1: unknown profile `nonesuch`",
        ),
    ];
    for (name, text, want) in cases {
        let (code, out) = check_config(d, name, text);
        assert_eq!(code, Some(1), "{name}: {out}");
        let expected = format!("{}{want}", d.join(name).display());
        assert!(
            out.contains(&expected),
            "{name}: want {expected:?} in {out:?}"
        );
        assert!(out.contains("invalid: 1 error(s)"), "{out}");
    }
    // A profile file the config names is checked by the policy checker, at its own lines.
    std::fs::write(
        d.join("p.toml"),
        "version = 1\n[[fs]]\npath = 3\nallow = \"ro\"\n",
    )
    .unwrap();
    let (code, out) = check_config(
        d,
        "withprofile.toml",
        "[profiles]\np = \"p.toml\"\n[[user]]\nuid = 1\nallow = [\"p\"]\n",
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("p.toml:3:8:"), "{out}");
}
