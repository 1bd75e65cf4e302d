//! Native removals (issue 18: `rm -r` took a broker round trip per file): an `unlinkat`
//! carrying `NATIVE_REMOVE_MARK` (bit 32 of its flags register, which the kernel does not
//! read) runs natively under Landlock, which grants removing only beneath the directories
//! the policy grants `remove` in full (`$PWD` with the default profile). The shim makes
//! `unlinkat` so first, and sends every failure to the broker.
//!
//! `tests/helpers/native_remove.c` removes files and a directory in the working directory
//! by path and relative to a directory fd, and tries the attacks: a symlink planted in the
//! tree to a directory the policy only reads (by path and by a fd opened through it), a
//! vouched directory fd whose directory the test moves out of the working directory into
//! that one meanwhile, and an absolute path there — through libc and with raw system calls
//! carrying the mark as a hostile program would. Proofs, as root and as uid 65534, for the
//! dynamic build (the shim) and the static one (raw system calls, the seccomp transport):
//! * native control: without arbiter every removal succeeds (so a denial means something);
//! * under arbiter the removals in the working directory succeed and every attack is
//!   `EACCES` (by Landlock, then by the broker), the outside files intact;
//! * cut off from the broker (the helper closes its bootstrap socket and channels, so
//!   anything forwarded fails with `EIO`), the libc removals in the working directory still
//!   succeed — made in-process — while the attacks through libc are `EIO` (Landlock
//!   refused the native attempt, and the broker is unreachable). Before the change every
//!   libc removal of the cut run was `EIO`.
//! * With `--no-fast-path` the filter lets no marked `unlinkat` through: the same answers,
//!   all decided by the broker.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use arbiter_tests::{arbiter, compile_dynamic_and_static, is_root, outside_dir, Sandbox};

/// Builds the fixture of `native_remove.c` in `w`, with the outside directory `x`.
fn fixture(w: &Path, x: &Path) {
    let mode = |p: &Path, m: u32| {
        std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(m)).unwrap()
    };
    for d in ["in", "mv"] {
        let _ = std::fs::remove_dir_all(w.join(d));
    }
    let _ = std::fs::remove_dir_all(x.join("mv"));
    let _ = std::fs::remove_file(w.join("link"));
    std::fs::create_dir_all(w.join("in/sub")).unwrap();
    std::fs::create_dir_all(w.join("mv")).unwrap();
    for d in ["in", "in/sub", "mv"] {
        mode(&w.join(d), 0o777);
    }
    for f in ["in/f1", "in/f2", "in/f3", "in/f4", "mv/f", "mv/g"] {
        std::fs::write(w.join(f), b"x").unwrap();
    }
    for i in 1..=5 {
        std::fs::write(x.join(format!("victim{i}")), b"v").unwrap();
    }
    std::os::unix::fs::symlink(x, w.join("link")).unwrap();
}

/// Runs `argv` in `w` (as uid 65534 when `nobody`), moves `w/mv` to `x/mv` once it is
/// ready, and returns its output after the `ready` line.
fn run(nobody: bool, w: &Path, x: &Path, argv: &[&str]) -> String {
    let mut c = if nobody {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]);
        c.env("HOME", "/nonexistent");
        c
    } else {
        Command::new(argv[0])
    };
    let args = if nobody { argv } else { &argv[1..] };
    c.args(args)
        .current_dir(w)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("LD_LIBRARY_PATH");
    let mut child = c.spawn().expect("spawn");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    if line != "ready\n" {
        let o = child.wait_with_output().unwrap();
        panic!(
            "{argv:?}: not ready: {line:?}\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    std::fs::rename(w.join("mv"), x.join("mv")).unwrap();
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(
        o.status.success(),
        "{argv:?}: {}\n{rest}",
        String::from_utf8_lossy(&o.stderr)
    );
    rest
}

/// The probes in order, with (native, under arbiter, under arbiter cut off) answers.
const PROBES: &[(&str, &str, &str)] = &[
    ("path-in", "ok", "ok"),
    ("fd-file", "ok", "ok"),
    ("fd-rmdir", "ok", "ok"),
    ("symlink-path", "EACCES", "EIO"),
    ("symlink-fd", "EACCES", "EIO"),
    ("moved", "EACCES", "EIO"),
    ("abs-outside", "EACCES", "EIO"),
    ("raw-in", "ok", "ok"),
    ("raw-fd", "ok", "ok"),
    ("raw-symlink", "EACCES", "EACCES"),
    ("raw-moved", "EACCES", "EACCES"),
    ("raw-outside", "EACCES", "EACCES"),
];

fn want(pick: impl Fn(&(&'static str, &'static str, &'static str)) -> &'static str) -> String {
    PROBES
        .iter()
        .map(|p| format!("{} {}\n", p.0, pick(p)))
        .collect()
}

fn victims_intact(x: &Path, who: &str) {
    for i in 1..=5 {
        assert!(
            x.join(format!("victim{i}")).exists(),
            "{who}: victim{i} removed"
        );
    }
    assert!(
        x.join("mv/f").exists() && x.join("mv/g").exists(),
        "{who}: mv/ emptied"
    );
}

#[test]
fn removals_run_natively_only_where_the_policy_grants_remove_throughout() {
    let sb = Sandbox::new();
    std::fs::set_permissions(&sb.dir, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let outside = outside_dir();
    let x = outside.path();
    let xs = x.to_str().unwrap();
    let helpers = compile_dynamic_and_static("native_remove", &sb.dir, &[]);

    let mut users = vec![false];
    if is_root() {
        users.push(true);
    } else {
        println!("SKIP (unprivileged half): needs root to switch to uid 65534");
    }
    let arb = arbiter();
    let arb = arb.to_str().unwrap();
    for nobody in users {
        for helper in &helpers {
            let h = helper.to_str().unwrap();
            let dynamic = !h.ends_with("-static");
            let who = format!("{} {h}", if nobody { "nobody" } else { "root" });

            // The native control: every removal succeeds.
            fixture(&sb.dir, x);
            let native = run(nobody, &sb.dir, x, &[h, xs]);
            assert_eq!(native, want(|_| "ok"), "{who}: native control");

            for extra in [&[][..], &["--no-fast-path"][..]] {
                fixture(&sb.dir, x);
                let mut argv = vec![arb, "run", "-q", "--ro", xs];
                argv.extend_from_slice(extra);
                argv.extend_from_slice(&["--", h, xs]);
                let got = run(nobody, &sb.dir, x, &argv);
                assert_eq!(got, want(|p| p.1), "{who} {extra:?}: under arbiter");
                victims_intact(x, &who);
            }

            if dynamic {
                fixture(&sb.dir, x);
                let argv = [arb, "run", "-q", "--ro", xs, "--", h, xs, "cut"];
                let got = run(nobody, &sb.dir, x, &argv);
                assert_eq!(got, want(|p| p.2), "{who}: cut off from the broker");
                victims_intact(x, &who);
            }
        }
    }
}

/// At `--audit-level all` native removals are off (they are not reported through the
/// ring): the cut-off program's removals fail with `EIO` like any forwarded call, and a
/// raw marked `unlinkat` goes to the broker, which records it.
#[test]
fn no_native_removals_when_every_call_is_recorded() {
    let sb = Sandbox::new();
    std::fs::set_permissions(&sb.dir, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let outside = outside_dir();
    let x = outside.path();
    let xs = x.to_str().unwrap();
    let helpers = compile_dynamic_and_static("native_remove", &sb.dir, &[]);
    let h = helpers[0].to_str().unwrap();
    let arb = arbiter();
    let log = sb.log("all.jsonl");
    let argv = [
        arb.to_str().unwrap(),
        "run",
        "-q",
        "--ro",
        xs,
        "--audit",
        log.to_str().unwrap(),
        "--audit-level",
        "all",
        "--",
        h,
        xs,
        "cut",
    ];
    fixture(&sb.dir, x);
    let got = run(false, &sb.dir, x, &argv);
    for line in [
        "path-in EIO",
        "fd-file EIO",
        "raw-in ok",
        "raw-outside EACCES",
    ] {
        assert!(got.lines().any(|l| l == line), "no `{line}`:\n{got}");
    }
    let audit = std::fs::read_to_string(&log).unwrap();
    let real = std::fs::canonicalize(&sb.dir).unwrap();
    let f3 = format!("{}/in/f3", real.display());
    assert!(
        audit.lines().any(|l| {
            let r: serde_json::Value = serde_json::from_str(l).unwrap();
            r["type"] == "call"
                && r["call"] == "unlink"
                && r["transport"] == "seccomp"
                && r["paths"][0] == f3.as_str()
        }),
        "no seccomp record of the raw marked unlinkat:\n{audit}"
    );
    victims_intact(x, "root");
}
