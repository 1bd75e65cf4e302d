//! Calls relative to a directory fd take the fast paths (issue 18: tree walks were ~10×
//! native): `fstatat`/`statx` of a name in a directory fd the shim vouched for beneath a
//! granted subtree are answered by the kernel in-process, and a read-only `openat` there is
//! a marked native open that Landlock decides, as for the path forms (docs/security.md).
//!
//! `tests/helpers/dirfd_walk.c` opens directory fds several ways (by path, relative to
//! another, a `dup`, without `O_DIRECTORY` as tar does, through a symlink, and through a
//! symlink to a directory outside, which the policy reads but for one denied file) and
//! probes names relative to each. Proofs:
//! * with the fast paths and with `--no-fast-path` (every call to the broker) the answers
//!   are identical (the broker's);
//! * with the program cut off from the broker (it closes its own bootstrap socket and
//!   channels by raw system call, so anything forwarded fails with `EIO`), the calls on
//!   the vouched fds are still answered — in-process — while a symlink to follow, `..`, and
//!   every call on the fd outside the subtree still go to the broker (`EIO`): nothing the
//!   program can name through a symlink is vouched for. Before the change every call of
//!   the cut run was `EIO`;
//! * a raw marked open of the denied file is `EACCES` from Landlock: the mark the fast path
//!   uses grants nothing by itself;
//! * a brokered call relative to a vouched fd names the directory by its path only while
//!   the path still leads to it: after the directory is renamed and another made in its
//!   place, `unlinkat(fd, "x")` removes the moved directory's `x`, as natively.
//!
//! As root and as uid 65534.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use arbiter_tests::{arbiter, compile_helper, is_root, outside_dir, stderr, stdout, Sandbox};

fn run_as(nobody: bool, dir: &Path, args: &[&str]) -> Output {
    let mut c = if nobody {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(arbiter())
            .env("HOME", "/nonexistent");
        c
    } else {
        Command::new(arbiter())
    };
    c.arg("run")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .expect("run arbiter")
}

/// The answers a vouched directory fd gives with the broker cut off.
const VOUCHED_CUT: &[(&str, &str)] = &[
    ("stat-file", "ok"),
    ("stat-missing", "ENOENT"),
    ("stat-link", "EIO"),
    ("stat-dotdot", "EIO"),
    ("statx-file", "ok"),
    ("open-file", "ok"),
    ("open-missing", "ENOENT"),
];

#[test]
fn directory_fd_calls_take_the_fast_paths_only_where_vouched_for() {
    let sb = Sandbox::new();
    let outside = outside_dir();
    let out = outside.path();
    std::fs::write(out.join("pub"), b"p").unwrap();
    std::fs::write(out.join("secret"), b"s").unwrap();
    std::os::unix::fs::symlink("pub", out.join("link")).unwrap();
    std::fs::create_dir_all(sb.path("d/sub")).unwrap();
    std::fs::write(sb.path("d/f"), b"x").unwrap();
    std::fs::write(sb.path("d/sub/g"), b"y").unwrap();
    std::os::unix::fs::symlink("f", sb.path("d/link")).unwrap();
    std::os::unix::fs::symlink("g", sb.path("d/sub/link")).unwrap();
    std::os::unix::fs::symlink("d", sb.path("dsym")).unwrap();
    std::os::unix::fs::symlink(out, sb.path("esc")).unwrap();
    let helper = compile_helper("dirfd_walk", &sb.dir, &[]);
    let helper = helper.to_str().unwrap();
    let ro = out.to_str().unwrap().to_owned();
    let deny = out.join("secret").to_str().unwrap().to_owned();
    let policy = ["-q", "--ro", &ro, "--deny", &deny];

    let mut users = vec![false];
    if is_root() {
        users.push(true);
    } else {
        println!("SKIP (unprivileged half): needs root to switch to uid 65534");
    }
    for nobody in users {
        let who = if nobody { "nobody" } else { "root" };
        let args = |extra: &[&'static str]| {
            let mut a: Vec<&str> = policy.to_vec();
            a.extend_from_slice(extra);
            a.push("--");
            a.push(helper);
            a
        };
        let fast = run_as(nobody, &sb.dir, &args(&[]));
        let brokered = run_as(nobody, &sb.dir, &args(&["--no-fast-path"]));
        assert!(fast.status.success(), "{who}: {}", stderr(&fast));
        assert_eq!(stdout(&fast), stdout(&brokered), "{who}: fast vs broker");
        let fast = stdout(&fast);
        for line in [
            "d stat-file ok",
            "sub open-file ok",
            "out stat-file ok",
            "out stat-missing EACCES",
            "out open-missing EACCES",
        ] {
            assert!(
                fast.lines().any(|l| l == line),
                "{who}: no `{line}`:\n{fast}"
            );
        }

        let mut cut_args = args(&[]);
        cut_args.push("cut");
        let cut = run_as(nobody, &sb.dir, &cut_args);
        assert!(cut.status.success(), "{who}: {}", stderr(&cut));
        let cut = stdout(&cut);
        let mut want = String::new();
        for fd in ["d", "sub", "dup", "tree", "dsym"] {
            for (probe, answer) in VOUCHED_CUT {
                want.push_str(&format!("{fd} {probe} {answer}\n"));
            }
        }
        for (probe, _) in VOUCHED_CUT {
            want.push_str(&format!("out {probe} EIO\n"));
        }
        want.push_str("out raw-marked-open-secret EACCES\n");
        assert_eq!(cut, want, "{who}: cut off from the broker");

        // The native control and the run under arbiter, each on a fresh `m`.
        let _ = std::fs::remove_dir_all(sb.path("m"));
        let _ = std::fs::remove_dir_all(sb.path("m2"));
        std::fs::create_dir(sb.path("m")).unwrap();
        let native = Command::new(helper)
            .arg("moved")
            .current_dir(&sb.dir)
            .output()
            .unwrap();
        let want = "moved unlinkat ok\nmoved m/x ok\nmoved m2/x ENOENT\nmoved fstatat ENOENT\n";
        assert_eq!(stdout(&native), want, "native control");
        std::fs::remove_dir_all(sb.path("m")).unwrap();
        std::fs::remove_dir_all(sb.path("m2")).unwrap();
        std::fs::create_dir(sb.path("m")).unwrap();
        std::fs::set_permissions(
            sb.path("m"),
            std::os::unix::fs::PermissionsExt::from_mode(0o777),
        )
        .unwrap();
        let mut moved_args = args(&[]);
        moved_args.push("moved");
        let o = run_as(nobody, &sb.dir, &moved_args);
        assert_eq!(stdout(&o), want, "{who}: {}", stderr(&o));
        std::fs::remove_dir_all(sb.path("m")).unwrap();
        std::fs::remove_dir_all(sb.path("m2")).unwrap();
    }
}

/// At `--audit-level all` the shim keeps its fast paths and reports what they answer
/// (docs/audit.md, "Reported calls"); a call answered through a vouched directory fd is
/// reported too, by its real path (the directory's, as vouched, and the name), so the
/// broker checks it against the policy like any absolute report. The run is the cut one
/// above: the answers the program gets prove the calls were answered in-process (the
/// broker is unreachable), and the log must hold one reported record for each of them.
/// Before the merge of the report ring with the dirfd fast paths those calls were answered
/// and not recorded at all.
#[test]
fn directory_fd_calls_answered_in_process_are_reported_at_audit_level_all() {
    let sb = Sandbox::new();
    let outside = outside_dir();
    let out = outside.path();
    std::fs::write(out.join("pub"), b"p").unwrap();
    std::fs::write(out.join("secret"), b"s").unwrap();
    std::os::unix::fs::symlink("pub", out.join("link")).unwrap();
    std::fs::create_dir_all(sb.path("d/sub")).unwrap();
    std::fs::write(sb.path("d/f"), b"x").unwrap();
    std::fs::write(sb.path("d/sub/g"), b"y").unwrap();
    std::os::unix::fs::symlink("f", sb.path("d/link")).unwrap();
    std::os::unix::fs::symlink("g", sb.path("d/sub/link")).unwrap();
    std::os::unix::fs::symlink("d", sb.path("dsym")).unwrap();
    std::os::unix::fs::symlink(out, sb.path("esc")).unwrap();
    // uid 65534 writes its log here.
    std::fs::set_permissions(&sb.dir, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let helper = compile_helper("dirfd_walk", &sb.dir, &[]);
    let helper = helper.to_str().unwrap();
    let ro = out.to_str().unwrap().to_owned();
    let deny = out.join("secret").to_str().unwrap().to_owned();
    let real = std::fs::canonicalize(&sb.dir).unwrap();
    let real = real.to_str().unwrap();

    let mut users = vec![false];
    if is_root() {
        users.push(true);
    } else {
        println!("SKIP (unprivileged half): needs root to switch to uid 65534");
    }
    for nobody in users {
        let who = if nobody { "nobody" } else { "root" };
        let log = sb.log(&format!("all-{who}.jsonl"));
        let log_s = log.to_str().unwrap().to_owned();
        let args = [
            "-q",
            "--ro",
            &ro,
            "--deny",
            &deny,
            "--audit",
            &log_s,
            "--audit-level",
            "all",
            "--",
            helper,
            "cut",
        ];
        let cut = run_as(nobody, &sb.dir, &args);
        assert!(cut.status.success(), "{who}: {}", stderr(&cut));
        // The same in-process answers as without a log.
        let cut = stdout(&cut);
        for fd in ["d", "sub", "dup", "tree", "dsym"] {
            for (probe, answer) in VOUCHED_CUT {
                let line = format!("{fd} {probe} {answer}");
                assert!(cut.lines().any(|l| l == line), "{who}: no `{line}`:\n{cut}");
            }
        }
        let recs: Vec<serde_json::Value> = std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON record"))
            .collect();
        let count = |call: &str, rel: &str, result: &str| {
            let path = format!("{real}/{rel}");
            recs.iter()
                .filter(|r| {
                    r["type"] == "call"
                        && r["reported"] == true
                        && r["call"] == call
                        && r["args"]["path"] == path.as_str()
                        && r["result"].to_string().contains(result)
                })
                .count()
        };
        // d, dup, tree and dsym name d; sub names d/sub. Each probes stat (fstatat and
        // statx) and open of a file and of a missing name.
        let want = [
            ("stat", "d/f", "value", 8),
            ("stat", "d/missing", "ENOENT", 4),
            ("open", "d/f", "value", 4),
            ("open", "d/missing", "ENOENT", 4),
            ("stat", "d/sub/g", "value", 2),
            ("stat", "d/sub/missing", "ENOENT", 1),
            ("open", "d/sub/g", "value", 1),
            ("open", "d/sub/missing", "ENOENT", 1),
        ];
        for (call, rel, result, n) in want {
            assert_eq!(
                count(call, rel, result),
                n,
                "{who}: reported {call} of {rel} ({result}):\n{}",
                std::fs::read_to_string(&log).unwrap()
            );
        }
        assert!(
            !recs
                .iter()
                .any(|r| r["type"] == "invalid_report" || r["type"] == "dropped"),
            "{who}: every report accepted"
        );
    }
}
