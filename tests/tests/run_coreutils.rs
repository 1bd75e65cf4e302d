//! cat, ls and cp under the default policy: system files readable, secrets and other
//! directories denied with the program's own error, the working directory writable.

use arbiter_tests::{assert_code, outside_dir, stderr, stdout, Sandbox};

#[test]
fn cat_reads_an_allowed_system_file() {
    let sb = Sandbox::new();
    let o = sb.run(&[], &["cat", "/etc/hostname"]);
    assert_code(&o, 0);
    assert_eq!(
        stdout(&o),
        std::fs::read_to_string("/etc/hostname").unwrap()
    );
}

#[test]
fn cat_of_a_secret_is_denied_with_cats_own_message() {
    let sb = Sandbox::new();
    let o = sb.run(&[], &["cat", "/etc/shadow"]);
    assert_code(&o, 1);
    assert!(
        stderr(&o).contains("cat: /etc/shadow: Permission denied"),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).is_empty());
}

#[test]
fn cat_outside_the_working_directory_is_denied() {
    let sb = Sandbox::new();
    let out = outside_dir();
    let secret = out.path().join("secret.txt");
    std::fs::write(&secret, "top secret").unwrap();
    let o = sb.run(&[], &["cat", secret.to_str().unwrap()]);
    assert_code(&o, 1);
    assert!(stderr(&o).contains("Permission denied"), "{}", stderr(&o));
    assert!(!stdout(&o).contains("top secret"));
}

#[test]
fn ls_lists_the_working_directory_but_not_a_denied_one() {
    let sb = Sandbox::new();
    std::fs::write(sb.path("visible.txt"), "x").unwrap();
    let o = sb.run(&[], &["ls", "-la"]);
    assert_code(&o, 0);
    assert!(stdout(&o).contains("visible.txt"), "{}", stdout(&o));

    let out = outside_dir();
    std::fs::write(out.path().join("hidden.txt"), "x").unwrap();
    let o = sb.run(&[], &["ls", "-la", out.path().to_str().unwrap()]);
    assert_code(&o, 2);
    assert!(!stdout(&o).contains("hidden.txt"));
    assert!(stderr(&o).contains("Permission denied"), "{}", stderr(&o));
}

#[test]
fn cp_within_the_working_directory() {
    let sb = Sandbox::new();
    std::fs::write(sb.path("a.txt"), "copy me").unwrap();
    let o = sb.run(&[], &["cp", "a.txt", "b.txt"]);
    assert_code(&o, 0);
    assert_eq!(
        std::fs::read_to_string(sb.path("b.txt")).unwrap(),
        "copy me"
    );
}

#[test]
fn cp_out_of_the_working_directory_is_denied() {
    let sb = Sandbox::new();
    std::fs::write(sb.path("a.txt"), "copy me").unwrap();
    let out = outside_dir();
    let dest = out.path().join("stolen.txt");
    let o = sb.run(&[], &["cp", "a.txt", dest.to_str().unwrap()]);
    assert_code(&o, 1);
    assert!(!dest.exists());
}

#[test]
fn symlink_in_the_working_directory_cannot_reach_a_secret() {
    let sb = Sandbox::new();
    std::os::unix::fs::symlink("/etc/shadow", sb.path("innocent")).unwrap();
    let o = sb.run(&[], &["cat", "innocent"]);
    assert_code(&o, 1);
    assert!(stderr(&o).contains("Permission denied"), "{}", stderr(&o));
}

#[test]
fn dotdot_out_of_the_working_directory_is_denied() {
    let sb = Sandbox::new();
    let out = outside_dir();
    std::fs::write(out.path().join("f"), "x").unwrap();
    let rel = format!("../../../../../../..{}/f", out.path().display());
    let o = sb.run(&[], &["cat", &rel]);
    assert_code(&o, 1);
    assert!(stderr(&o).contains("Permission denied"), "{}", stderr(&o));
}

#[test]
fn home_directory_is_denied_by_default() {
    let sb = Sandbox::new();
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let o = sb.run(&[], &["ls", &home]);
    assert_ne!(o.status.code(), Some(0), "{}", stdout(&o));
}
