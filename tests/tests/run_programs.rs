//! Real programs under the default policy: python3, a bash script, git, sqlite3.

use arbiter_tests::{assert_code, have, outside_dir, stderr, stdout, Sandbox};

#[test]
fn python_reads_and_writes_in_the_working_directory() {
    let sb = Sandbox::new();
    std::fs::write(sb.path("in.txt"), "hello").unwrap();
    let script = "import os\nd=open('in.txt').read()\nopen('out.txt','w').write(d.upper())\nos.mkdir('sub')\nfd=os.open('sub', os.O_RDONLY)\nos.open('f', os.O_WRONLY|os.O_CREAT, dir_fd=fd)\nprint(sorted(os.listdir('.')))";
    let o = sb.run(&[], &["python3", "-c", script]);
    assert_code(&o, 0);
    assert_eq!(
        std::fs::read_to_string(sb.path("out.txt")).unwrap(),
        "HELLO"
    );
    assert!(
        sb.path("sub/f").exists(),
        "dirfd-relative create went elsewhere"
    );
    assert!(stdout(&o).contains("'out.txt'"), "{}", stdout(&o));
}

#[test]
fn python_is_denied_outside_with_permission_error() {
    let sb = Sandbox::new();
    let out = outside_dir();
    let target = out.path().join("x.txt");
    let script = format!("open({:?},'w').write('x')", target.to_str().unwrap());
    let o = sb.run(&[], &["python3", "-c", &script]);
    assert_code(&o, 1);
    assert!(stderr(&o).contains("PermissionError"), "{}", stderr(&o));
    assert!(!target.exists());
}

#[test]
fn bash_script_runs_several_brokered_commands() {
    let sb = Sandbox::new();
    std::fs::write(
        sb.path("script.sh"),
        "set -e\nmkdir -p a/b\necho one > a/b/f\ncat a/b/f > g\nmv g h\nrm a/b/f\nrmdir a/b\nls\n",
    )
    .unwrap();
    let o = sb.run(&[], &["bash", "script.sh"]);
    assert_code(&o, 0);
    assert_eq!(std::fs::read_to_string(sb.path("h")).unwrap(), "one\n");
    assert!(!sb.path("a/b").exists());
    assert!(stdout(&o).contains('h'));
}

#[test]
fn bash_denied_redirect_fails_cleanly() {
    let sb = Sandbox::new();
    let out = outside_dir();
    let target = out.path().join("nope");
    let o = sb.run(
        &[],
        &["bash", "-c", &format!("echo x > {}", target.display())],
    );
    assert_code(&o, 1);
    assert!(stderr(&o).contains("Permission denied"), "{}", stderr(&o));
    assert!(!target.exists());
}

#[test]
fn git_init_add_commit_in_the_working_directory() {
    let sb = Sandbox::new();
    std::fs::write(sb.path("README"), "hi\n").unwrap();
    let script = "set -e\ngit init -q .\ngit add README\ngit -c user.name=t -c user.email=t@e commit -q -m first\ngit log --oneline | wc -l";
    let o = sb.run(&[], &["bash", "-c", script]);
    assert_code(&o, 0);
    assert_eq!(stdout(&o).trim(), "1", "{}", stderr(&o));
    assert!(sb.path(".git/HEAD").exists());
}

#[test]
fn git_cannot_init_outside_the_working_directory() {
    let sb = Sandbox::new();
    let out = outside_dir();
    let repo = out.path().join("repo");
    let o = sb.run(&[], &["git", "init", "-q", repo.to_str().unwrap()]);
    assert_ne!(o.status.code(), Some(0));
    assert!(!repo.join(".git").exists());
}

#[test]
fn sqlite3_creates_a_database_in_the_working_directory() {
    if !have("sqlite3") {
        eprintln!("skipped: sqlite3 is not installed");
        return;
    }
    let sb = Sandbox::new();
    let o = sb.run(
        &[],
        &[
            "sqlite3",
            "t.db",
            "create table t(x); insert into t values (42); select x from t;",
        ],
    );
    assert_code(&o, 0);
    assert_eq!(stdout(&o).trim(), "42");
    assert!(sb.path("t.db").exists());
}

#[test]
fn sqlite3_cannot_create_a_database_outside() {
    if !have("sqlite3") {
        eprintln!("skipped: sqlite3 is not installed");
        return;
    }
    let sb = Sandbox::new();
    let out = outside_dir();
    let db = out.path().join("t.db");
    let o = sb.run(
        &[],
        &["sqlite3", db.to_str().unwrap(), "create table t(x);"],
    );
    assert_ne!(o.status.code(), Some(0));
    assert!(!db.exists());
}

/// Regression: the broker works with umask 0 and the command inherited it, so programs
/// created world-writable files by default.
#[test]
fn the_command_starts_with_the_users_umask() {
    let sb = Sandbox::new();
    let native = std::process::Command::new("sh")
        .args(["-c", "umask"])
        .output()
        .unwrap();
    let o = sb.run(&[], &["sh", "-c", "umask; echo x > f.txt"]);
    assert_code(&o, 0);
    assert_eq!(stdout(&o), String::from_utf8_lossy(&native.stdout));
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(sb.path("f.txt")).unwrap().permissions(),
    ) & 0o777;
    // SAFETY: umask read-and-restore in the test process; no other thread creates files here.
    let mask = unsafe {
        let m = libc::umask(0o022);
        libc::umask(m);
        m
    };
    assert_eq!(
        mode,
        0o666 & !mask,
        "created with mode {mode:o} under umask {mask:o}"
    );
}
