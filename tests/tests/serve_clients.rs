//! Clients of `arbiter serve`: policy by uid, filesystem credentials of the client, many
//! concurrent sandboxes, and reload.

mod serve_common;

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use arbiter_tests::{assert_code, is_root, stderr, stdout, Sandbox};
use serve_common::{client, output_within, run_client, scratch, Daemon};

fn start(dir: &Path, extra: &[&str]) -> (Daemon, String) {
    let sock = dir.join("s").to_str().unwrap().to_owned();
    let mut args = vec!["--listen", sock.as_str(), "--mode", "0666"];
    args.extend_from_slice(extra);
    let mut d = Daemon::start(dir, &args);
    d.wait_listening();
    (d, sock)
}

#[test]
fn a_client_of_the_daemons_uid_reads_allowed_files_and_is_denied_secrets() {
    let dir = scratch();
    let (_d, sock) = start(dir.path(), &[]);
    let sb = Sandbox::new();
    let o = run_client(&sock, &sb.dir, false, &[], &["cat", "/etc/hostname"]);
    assert_code(&o, 0);
    assert_eq!(
        stdout(&o),
        std::fs::read_to_string("/etc/hostname").unwrap()
    );
    let o = run_client(&sock, &sb.dir, false, &[], &["cat", "/etc/shadow"]);
    assert_code(&o, 1);
    assert!(stderr(&o).contains("Permission denied"), "{}", stderr(&o));
}

#[test]
fn a_profile_the_client_may_not_use_is_refused() {
    let dir = scratch();
    let (_d, sock) = start(dir.path(), &[]);
    let sb = Sandbox::new();
    let o = run_client(&sock, &sb.dir, false, &["--policy", "nonesuch"], &["true"]);
    assert_code(&o, 125);
    assert!(stderr(&o).contains("is not allowed"), "{}", stderr(&o));
}

#[test]
fn another_uid_is_refused_without_config_and_acts_with_its_own_credentials_with_one() {
    if !is_root() {
        eprintln!("skipped: needs root to run a client as uid 65534");
        return;
    }
    let sb = Sandbox::new();
    {
        let dir = scratch();
        let (_d, sock) = start(dir.path(), &[]);
        let o = run_client(&sock, &sb.dir, true, &[], &["true"]);
        assert_code(&o, 125);
        assert!(stderr(&o).contains("refused"), "{}", stderr(&o));
        assert!(stderr(&o).contains("uid 65534"), "{}", stderr(&o));
    }
    let dir = scratch();
    let cfg = dir.path().join("serve.toml");
    std::fs::write(&cfg, "[[user]]\nuid = 65534\nallow = [\"default\"]\n").unwrap();
    let (_d, sock) = start(dir.path(), &["--config", cfg.to_str().unwrap()]);
    let o = run_client(
        &sock,
        &sb.dir,
        true,
        &[],
        &[
            "sh",
            "-c",
            "echo made > mine.txt && mkdir d && cat mine.txt",
        ],
    );
    assert_code(&o, 0);
    assert_eq!(stdout(&o), "made\n");
    for f in ["mine.txt", "d"] {
        let m = std::fs::metadata(sb.path(f)).unwrap();
        assert_eq!(
            (m.uid(), m.gid()),
            (65534, 65534),
            "{f} belongs to the client"
        );
    }
    // The daemon runs as root, yet the client cannot read what uid 65534 cannot.
    let private = sb.path("root-only");
    std::fs::write(&private, "secret").unwrap();
    std::fs::set_permissions(
        &private,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let o = run_client(&sock, &sb.dir, true, &[], &["cat", "root-only"]);
    assert_code(&o, 1);
    assert!(stderr(&o).contains("Permission denied"), "{}", stderr(&o));
}

#[test]
fn a_hundred_concurrent_sandboxes_from_two_uids() {
    let two_uids = is_root();
    if !two_uids {
        eprintln!("note: not root; all 100 sandboxes run as the daemon's uid");
    }
    let dir = scratch();
    let cfg = dir.path().join("serve.toml");
    let own = nix_uid();
    std::fs::write(
        &cfg,
        format!("[[user]]\nuid = {own}\nallow = [\"default\"]\n\n[[user]]\nuid = 65534\nallow = [\"default\"]\n"),
    )
    .unwrap();
    // Concurrency, not the limits, is under test here: room for all hundred at once.
    let (_d, sock) = start(
        dir.path(),
        &[
            "--config",
            cfg.to_str().unwrap(),
            "--limit",
            "sandboxes=100",
            "--limit",
            "sandboxes_per_uid=100",
            "--limit",
            "pending=100",
            "--limit",
            "pending_per_uid=100",
            "--limit",
            "channels_per_uid=1024",
        ],
    );
    let sb = Sandbox::new();
    let children: Vec<_> = (0..100)
        .map(|i| {
            let nobody = two_uids && i % 2 == 1;
            (
                nobody,
                client(
                    &sock,
                    &sb.dir,
                    nobody,
                    &[],
                    &["sh", "-c", "cat /etc/hostname; id -u"],
                ),
            )
        })
        .collect();
    let hostname = std::fs::read_to_string("/etc/hostname").unwrap();
    for (nobody, c) in children {
        let o = output_within(c, 120);
        assert_code(&o, 0);
        let uid = if nobody { 65534 } else { own };
        assert_eq!(stdout(&o), format!("{hostname}{uid}\n"));
    }
}

fn nix_uid() -> u32 {
    // SAFETY: getuid has no preconditions.
    unsafe { libc::getuid() }
}

#[test]
fn a_reload_with_a_broken_policy_keeps_the_old_one() {
    let dir = scratch();
    let policy = dir.path().join("p.toml");
    std::fs::write(&policy, "version = 1\nextends = [\"default\"]\n").unwrap();
    let cfg = dir.path().join("serve.toml");
    std::fs::write(
        &cfg,
        format!(
            "[profiles]\np = \"{}\"\n\n[[user]]\nuid = {}\nallow = [\"p\"]\n",
            policy.display(),
            nix_uid()
        ),
    )
    .unwrap();
    let (d, sock) = start(dir.path(), &["--config", cfg.to_str().unwrap()]);
    let sb = Sandbox::new();
    let cat = |want: i32| {
        let o = run_client(&sock, &sb.dir, false, &[], &["cat", "/etc/hostname"]);
        assert_code(&o, want);
    };
    cat(0);

    std::fs::write(&policy, "version = 1\n[[fs]]\npath = \n").unwrap();
    d.signal(libc::SIGHUP);
    wait_for(&d, "reload failed");
    cat(0); // the old policy is still in force

    std::fs::write(
        &policy,
        "version = 1\nextends = [\"default\"]\n\n[[fs]]\npath = \"/etc/hostname\"\ndeny = true\n",
    )
    .unwrap();
    d.signal(libc::SIGHUP);
    wait_for(&d, "configuration reloaded");
    cat(1); // a good reload takes effect for new sandboxes
}

fn wait_for(d: &Daemon, text: &str) {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::time::Instant::now() < until {
        if d.err().contains(text) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("daemon never said {text:?}: {}", d.err());
}

#[test]
fn sigterm_lets_live_sandboxes_finish_then_ends_them_after_the_grace() {
    let dir = scratch();
    let (mut d, sock) = start(dir.path(), &["--grace", "1"]);
    let sb = Sandbox::new();
    let sleeper = client(&sock, &sb.dir, false, &[], &["sleep", "30"]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    d.signal(libc::SIGTERM);
    assert_eq!(d.wait_exit(10), Some(0), "{}", d.err());
    assert!(d.err().contains("grace period over"), "{}", d.err());
    let o = output_within(sleeper, 10);
    assert_ne!(o.status.code(), Some(0), "the sandbox was ended");
    assert!(!Path::new(&sock).exists(), "path removed on shutdown");
}
