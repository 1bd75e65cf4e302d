//! `arbiter run` gives the command a private `$TMPDIR`: a new directory, mode 0700, owned
//! by the user, inside the temporary directory arbiter was given, removed when the run
//! ends — also when the run fails after it was made (an invalid policy), since arbiter
//! creates it while the policy compiles (`sandbox::private_tmp`).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use arbiter_tests::{arbiter, is_root, stderr, stdout, Sandbox};

/// `arbiter run` (as `uid`, when given) with `TMPDIR=parent`.
fn run(sb: &Sandbox, parent: &Path, uid: Option<u32>, args: &[&str]) -> std::process::Output {
    let mut cmd = match uid {
        Some(uid) => {
            let mut c = Command::new("setpriv");
            c.args([
                &format!("--reuid={uid}"),
                &format!("--regid={uid}"),
                "--clear-groups",
                "--",
            ])
            .arg(arbiter());
            c
        }
        None => Command::new(arbiter()),
    };
    cmd.args(args)
        .current_dir(&sb.dir)
        .env("TMPDIR", parent)
        .env("HOME", "/nonexistent")
        .output()
        .expect("run arbiter")
}

/// What `parent` holds (names).
fn entries(parent: &Path) -> Vec<String> {
    std::fs::read_dir(parent)
        .expect("list the parent")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect()
}

fn private_tmpdir_is_made_and_removed(uid: Option<u32>) {
    let sb = Sandbox::new();
    let parent = tempfile::tempdir().expect("parent");
    let parent_path = parent.path().canonicalize().expect("canonical parent");
    std::fs::set_permissions(&parent_path, std::fs::Permissions::from_mode(0o1777))
        .expect("chmod parent");
    // Native control: the same script, without arbiter, sees the parent itself.
    let script = "printf '%s\\n' \"$TMPDIR\" && stat -c '%a %u' \"$TMPDIR\" && echo x > \"$TMPDIR/f\" && cat \"$TMPDIR/f\"";
    let native = Command::new("sh")
        .args(["-c", script])
        .env("TMPDIR", &parent_path)
        .output()
        .expect("native control");
    assert!(native.status.success(), "{}", stderr(&native));
    std::fs::remove_file(parent_path.join("f")).expect("native control's file");

    let o = run(&sb, &parent_path, uid, &["run", "--", "sh", "-c", script]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let mut lines = out.lines();
    let tmpdir = Path::new(lines.next().expect("the TMPDIR line"));
    assert_eq!(tmpdir.parent(), Some(parent_path.as_path()), "{out}");
    let name = tmpdir.file_name().unwrap().to_string_lossy().into_owned();
    // As long as tempfile's names were: unix socket paths beneath it must fit 108 bytes
    // (regression: 32 characters broke Python's multiprocessing in the corpus).
    assert_eq!(name.len(), "arbiter-".len() + 6, "{name}");
    assert!(name.starts_with("arbiter-"), "{name}");
    assert_eq!(
        lines.next(),
        Some(format!("700 {}", uid.unwrap_or(0)).as_str()),
        "mode and owner of {}",
        tmpdir.display()
    );
    assert_eq!(lines.next(), Some("x"), "{out}");
    assert!(
        !tmpdir.exists(),
        "{} outlived the run (with the file the command left in it)",
        tmpdir.display()
    );
    assert!(
        entries(&parent_path).is_empty(),
        "{:?}",
        entries(&parent_path)
    );
}

#[test]
fn private_tmpdir_is_made_0700_and_removed_with_its_contents() {
    if !is_root() {
        eprintln!("SKIP: the owner check expects uid 0 here (the unprivileged case is below)");
        return;
    }
    private_tmpdir_is_made_and_removed(None);
}

#[test]
fn private_tmpdir_is_made_0700_and_removed_for_an_unprivileged_user() {
    if !is_root() {
        eprintln!("SKIP: needs root to switch to an unprivileged uid");
        return;
    }
    private_tmpdir_is_made_and_removed(Some(65534));
}

/// An invalid policy fails the run after the directory was started: nothing is left.
#[test]
fn a_run_that_fails_on_its_policy_leaves_no_tmpdir() {
    let sb = Sandbox::new();
    let parent = tempfile::tempdir().expect("parent");
    let parent_path = parent.path().canonicalize().expect("canonical parent");
    let policy = sb.path("bad.toml");
    std::fs::write(
        &policy,
        "version = 1\n[[fs]]\npath = \"/x\"\nallow = \"fly\"\n",
    )
    .expect("policy");
    let o = run(
        &sb,
        &parent_path,
        None,
        &["run", "--policy", policy.to_str().unwrap(), "--", "true"],
    );
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    assert!(stderr(&o).contains("invalid policy"), "{}", stderr(&o));
    assert!(
        entries(&parent_path).is_empty(),
        "{:?}",
        entries(&parent_path)
    );
    // Control: the same run with a valid policy succeeds, and also leaves nothing.
    std::fs::write(&policy, "version = 1\nextends = [\"default\"]\n").expect("policy");
    let o = run(
        &sb,
        &parent_path,
        None,
        &["run", "--policy", policy.to_str().unwrap(), "--", "true"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        entries(&parent_path).is_empty(),
        "{:?}",
        entries(&parent_path)
    );
}

/// The directory is started before the rules are checked and the program is looked up
/// (docs/performance.md, session 8): a run that ends there — a command not found (127), one
/// that cannot be executed (126) — leaves nothing either.
#[test]
fn a_run_that_ends_before_the_policy_leaves_no_tmpdir() {
    let sb = Sandbox::new();
    let parent = tempfile::tempdir().expect("parent");
    let parent_path = parent.path().canonicalize().expect("canonical parent");
    let plain = sb.path("not-executable");
    std::fs::write(&plain, "#!/bin/sh\n").expect("write");
    std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let cases: [(&[&str], i32); 2] = [
        (&["run", "--", "no-such-command-anywhere"], 127),
        (&["run", "--", "./not-executable"], 126),
    ];
    for (args, code) in cases {
        let o = run(&sb, &parent_path, None, args);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {}", stderr(&o));
        assert!(
            entries(&parent_path).is_empty(),
            "{args:?} left {:?}",
            entries(&parent_path)
        );
    }
}
