//! The basic cases also hold when arbiter runs as an unprivileged user.

use std::process::Command;

use arbiter_tests::{arbiter, is_root, stderr, stdout, Sandbox};

fn as_nobody(sb: &Sandbox, args: &[&str]) -> std::process::Output {
    Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(arbiter())
        .arg("run")
        .arg("--")
        .args(args)
        .current_dir(&sb.dir)
        .env("HOME", "/nonexistent")
        .output()
        .unwrap()
}

#[test]
fn unprivileged_user_reads_allowed_files_and_is_denied_secrets() {
    if !is_root() {
        eprintln!("skipped: needs root to switch to an unprivileged uid");
        return;
    }
    let sb = Sandbox::new();
    let o = as_nobody(&sb, &["cat", "/etc/hostname"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        std::fs::read_to_string("/etc/hostname").unwrap()
    );

    let o = as_nobody(&sb, &["cat", "/etc/shadow"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("Permission denied"), "{}", stderr(&o));

    let o = as_nobody(&sb, &["sh", "-c", "echo made > mine.txt && cat mine.txt"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "made\n");
}
