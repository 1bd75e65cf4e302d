//! errno parity (issue 18): wherever the policy allows a call, the program sees exactly the
//! errno the kernel gives natively — missing files, trailing slashes (`rename("f", "g/")`,
//! `symlink("x", "l/")`, `unlink("d/")`…), a final `.`/`..`, `EEXIST` before `EACCES`,
//! `ELOOP`, `ENAMETOOLONG`, `access(X_OK)` on a missing file.
//!
//! One table of cases lives in `tests/helpers/errno_table.c`; each case runs on a fresh
//! copy of the same small tree. The helper runs natively (the control) and under
//! `arbiter run` with a policy granting its directory everything (`rw,exec`) and a
//! read-only directory, once built dynamically through libc (the shim answers) and once
//! static through raw system calls (the seccomp transport answers), as root and as uid
//! 65534. Every line must match its native twin. Before the fix 34 cases differed on each
//! transport (trailing slashes accepted or followed, `rmdir("d/.")` removing `d`,
//! `access(X_OK)` of a missing file answering `EACCES`, `O_CREAT` with a trailing slash
//! `EINVAL`, `O_DIRECTORY` of a symlink to a directory `ENOTDIR`, `EACCES` where the name
//! exists in a read-only directory).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use arbiter_tests::{arbiter, compile_helper, is_root, stderr, Sandbox};

/// Lines every native run must contain: the table really exercised what it is about.
const NATIVE_SAMPLES: &[&str] = &[
    "open-r 'missing' => ENOENT",
    "rename 'f' 'g/' => ENOTDIR",
    "symlink 'x' 'g/' => ENOENT",
    "rmdir 'd/.' => EINVAL",
    "access-x 'missing' => ENOENT",
    "mkdir '@ro/sub' => EEXIST",
    "open-r 'loop' => ELOOP",
    "open-r '@256' => ENAMETOOLONG",
];

fn as_user(nobody: bool, program: &Path) -> Command {
    if nobody {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(program)
            .env("HOME", "/nonexistent");
        c
    } else {
        Command::new(program)
    }
}

fn run(mut c: Command, dir: &Path) -> Output {
    c.current_dir(dir)
        .stdin(Stdio::null())
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .expect("run")
}

/// A fresh empty directory both users can write in.
fn scratch(sb: &Sandbox, name: &str) -> PathBuf {
    let d = sb.path(name);
    std::fs::create_dir(&d).unwrap();
    std::fs::set_permissions(&d, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    d
}

/// Runs `helper` natively and under arbiter and returns the lines that differ.
fn compare(sb: &Sandbox, helper: &Path, ro: &Path, nobody: bool, tag: &str) -> Vec<String> {
    let native_dir = scratch(sb, &format!("native-{tag}"));
    let brokered_dir = scratch(sb, &format!("brokered-{tag}"));
    let mut c = as_user(nobody, helper);
    c.arg(&native_dir).arg(ro);
    let native = run(c, &sb.dir);
    assert!(
        native.status.success(),
        "{tag}: native control failed: {}",
        stderr(&native)
    );
    let native = String::from_utf8(native.stdout).unwrap();
    for sample in NATIVE_SAMPLES {
        assert!(
            native.lines().any(|l| l.ends_with(sample)),
            "{tag}: the native run lacks `{sample}`:\n{native}"
        );
    }
    let policy = sb.path(&format!("policy-{tag}.toml"));
    std::fs::write(
        &policy,
        format!(
            "[[fs]]\npath = \"{}\"\nallow = \"rw,exec\"\n\n[[fs]]\npath = \"{}\"\nallow = \"ro\"\n",
            brokered_dir.display(),
            ro.display()
        ),
    )
    .unwrap();
    let mut c = as_user(nobody, &arbiter());
    c.args(["run", "-q", "--policy", "default", "--policy"])
        .arg(&policy)
        .arg("--")
        .arg(helper)
        .arg(&brokered_dir)
        .arg(ro);
    let brokered = run(c, &sb.dir);
    assert!(
        brokered.status.success(),
        "{tag}: the run under arbiter failed: {}",
        stderr(&brokered)
    );
    let brokered = String::from_utf8(brokered.stdout).unwrap();
    assert_eq!(
        brokered.lines().count(),
        native.lines().count(),
        "{tag}: not every case ran under arbiter:\n{brokered}"
    );
    native
        .lines()
        .zip(brokered.lines())
        .filter(|(n, b)| n != b)
        .map(|(n, b)| format!("{tag}: native `{n}`, under arbiter `{b}`"))
        .collect()
}

#[test]
fn errno_values_match_native_ones_where_the_policy_allows_the_call() {
    let sb = Sandbox::new();
    let ro = scratch(&sb, "ro");
    std::fs::create_dir(ro.join("sub")).unwrap();
    std::fs::write(ro.join("file"), b"x").unwrap();
    std::fs::set_permissions(&ro, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let libc_build = compile_helper("errno_table", &sb.dir, &[]);
    let raw_dir = scratch(&sb, "raw");
    let raw_build = compile_helper("errno_table", &raw_dir, &["-static", "-DRAW"]);
    let mut users = vec![false];
    if is_root() {
        users.push(true);
    } else {
        println!("SKIP (unprivileged half): needs root to switch to uid 65534");
    }
    let mut differences = Vec::new();
    for nobody in users {
        let who = if nobody { "nobody" } else { "root" };
        differences.extend(compare(
            &sb,
            &libc_build,
            &ro,
            nobody,
            &format!("libc-{who}"),
        ));
        differences.extend(compare(&sb, &raw_build, &ro, nobody, &format!("raw-{who}")));
    }
    assert!(
        differences.is_empty(),
        "{} case(s) differ:\n{}",
        differences.len(),
        differences.join("\n")
    );
}
