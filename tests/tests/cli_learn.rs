//! `arbiter learn` tells the truth: it warns about grants to secrets, and checks its output
//! before running anything.

use std::process::{Command, Stdio};

use arbiter_tests::{arbiter, stderr, Sandbox};

fn learn(sb: &Sandbox, args: &[&str]) -> std::process::Output {
    Command::new(arbiter())
        .arg("learn")
        .args(args)
        .current_dir(&sb.dir)
        .stdin(Stdio::null())
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap()
}

#[test]
fn learn_warns_when_a_grant_reaches_a_secret() {
    let sb = Sandbox::new();
    let o = learn(
        &sb,
        &["-o", "p.toml", "--", "cat", "/etc/shadow", "/etc/hostname"],
    );
    let err = stderr(&o);
    assert!(
        err.contains("warning: the learned policy grants /etc/shadow"),
        "{err}"
    );
    assert!(
        !err.contains("grants /etc/hostname"),
        "no warning for a plain file: {err}"
    );
    assert!(sb.path("p.toml").exists());
}

#[test]
fn learn_refuses_to_overwrite_without_force_and_before_running() {
    let sb = Sandbox::new();
    std::fs::write(sb.path("p.toml"), "# mine\n").unwrap();
    let marker = sb.path("ran");
    let o = learn(
        &sb,
        &["-o", "p.toml", "--", "touch", marker.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    assert!(stderr(&o).contains("--force"), "{}", stderr(&o));
    assert!(!marker.exists(), "the command must not run");
    assert_eq!(
        std::fs::read_to_string(sb.path("p.toml")).unwrap(),
        "# mine\n"
    );

    let o = learn(
        &sb,
        &[
            "-o",
            "/nonexistent-dir/p.toml",
            "--",
            "touch",
            marker.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(125));
    assert!(!marker.exists());

    let o = learn(&sb, &["--force", "-o", "p.toml", "--", "true"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(std::fs::read_to_string(sb.path("p.toml"))
        .unwrap()
        .contains("version = 1"));
}
