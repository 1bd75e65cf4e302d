//! Native read-only opens: a read-only `openat` carrying `NATIVE_OPEN_MARK` is left to
//! Landlock only when the floor grants nothing the policy does not, and only for reading;
//! every other marked open still reaches the broker. A hostile program setting the mark
//! itself gains nothing.

use arbiter_tests::{assert_code, outside_dir, stderr, stdout, Sandbox};

/// Raw `openat(AT_FDCWD, path, flags | MARK)` for each `path:flags` argument (flags: `r`
/// read-only, `w` write-only, `d` read-only directory); prints `path ok` or the errno name.
const RAW_OPEN: &str = r#"
import ctypes, errno, os, sys
libc = ctypes.CDLL(None, use_errno=True)
MARK = int(os.environ["MARK"])
FLAGS = {"r": os.O_RDONLY, "w": os.O_WRONLY, "d": os.O_RDONLY | os.O_DIRECTORY}
for arg in sys.argv[1:]:
    path, how = arg.rsplit(":", 1)
    fd = libc.syscall(257, -100, path.encode(), FLAGS[how] | MARK, 0)
    if fd >= 0:
        os.close(fd)
        print(arg, "ok")
    else:
        print(arg, errno.errorcode[ctypes.get_errno()])
"#;

fn raw_open(sb: &Sandbox, extra: &[&str], probes: &[String]) -> String {
    let mut cmd = vec![
        "env".to_string(),
        format!("MARK={}", arbiter_protocol::NATIVE_OPEN_MARK),
        "python3".into(),
        "-c".into(),
        RAW_OPEN.into(),
    ];
    cmd.extend_from_slice(probes);
    let o = sb.run(extra, &cmd);
    assert_code(&o, 0);
    stdout(&o)
}

fn has(out: &str, line: &str) {
    assert!(
        out.lines().any(|l| l == line),
        "missing {line:?} in:\n{out}"
    );
}

#[test]
fn a_marked_open_is_native_only_for_reads_the_policy_grants() {
    let sb = Sandbox::new();
    let outside = outside_dir();
    std::fs::write(outside.path().join("secret"), b"s").unwrap();
    std::fs::write(sb.path("f"), b"x").unwrap();
    let secret = format!("{}/secret:r", outside.path().display());
    let mine = format!("{}:w", sb.path("f").display());
    let mine_read = format!("{}:r", sb.path("f").display());
    let probes = vec![
        "/usr/share:d".to_string(),
        "/usr/bin/env:r".to_string(),
        "/usr/bin/env:w".to_string(),
        "/proc/1/cmdline:r".to_string(),
        "/etc/shadow:r".to_string(),
        secret.clone(),
        mine.clone(),
        mine_read.clone(),
    ];
    for extra in [&[][..], &["--no-fast-path"][..]] {
        let out = raw_open(&sb, extra, &probes);
        has(&out, "/usr/share:d ok");
        has(&out, "/usr/bin/env:r ok");
        // Writing is always the broker's to decide: denied in /usr, granted in $PWD.
        has(&out, "/usr/bin/env:w EACCES");
        has(&out, &format!("{mine} ok"));
        // $PWD, which the policy grants in full, is read natively too (read-only).
        has(&out, &format!("{mine_read} ok"));
        // Reads the policy denies stay denied, by Landlock or by the broker.
        has(&out, "/proc/1/cmdline:r EACCES");
        has(&out, "/etc/shadow:r EACCES");
        has(&out, &format!("{secret} EACCES"));
    }
}

#[test]
fn no_native_reads_where_the_policy_is_narrower_than_the_floor() {
    let sb = Sandbox::new();
    // A deny beneath /usr: the floor would grant what the policy does not, so the marked
    // open must still reach the broker, which denies it.
    let out = raw_open(
        &sb,
        &["--deny", "/usr/share/doc"],
        &["/usr/share/doc:d".to_string(), "/usr/share:d".to_string()],
    );
    has(&out, "/usr/share/doc:d EACCES");
    has(&out, "/usr/share:d ok");
}

/// With `--no-fast-path` the filter lets no marked open through: a log of every call sees
/// a program's own marked opens too. (At `--audit-level all` with the fast paths on, a marked
/// read the program makes itself, bypassing the shim, is native and unrecorded — a read
/// Landlock allows on the floor, which the policy grants in full; docs/audit.md, "What a
/// reported record is worth". The shim's own native reads are reported:
/// `tests/tests/audit_reports.rs`.)
#[test]
fn an_audit_log_without_fast_paths_sees_marked_opens_too() {
    let sb = Sandbox::new();
    let log = sb.log("audit.jsonl");
    let out = raw_open(
        &sb,
        &[
            "--audit-level",
            "all",
            "--no-fast-path",
            "--audit",
            log.to_str().unwrap(),
        ],
        &["/usr/share:d".to_string()],
    );
    has(&out, "/usr/share:d ok");
    let audit = std::fs::read_to_string(&log).unwrap();
    assert!(
        audit.lines().any(|l| {
            let r: serde_json::Value = serde_json::from_str(l).unwrap();
            r["type"] == "call"
                && r["call"] == "open"
                && r["transport"] == "seccomp"
                && r["paths"][0] == "/usr/share"
        }),
        "no seccomp record of the marked open:\n{audit}"
    );
}

#[test]
fn programs_reading_the_floor_natively_still_work() {
    let sb = Sandbox::new();
    let o = sb.run(
        &[],
        &[
            "python3",
            "-c",
            "import json, email.parser; print(open('/etc/hostname').read() == open('/etc/hostname').read())",
        ],
    );
    assert_code(&o, 0);
    assert_eq!(stdout(&o), "True\n", "{}", stderr(&o));
}

#[test]
fn the_working_directory_joins_the_floor_for_reading_only() {
    let sb = Sandbox::new();
    std::fs::write(sb.path("s.sh"), "#!/bin/sh\necho ran\n").unwrap();
    std::fs::set_permissions(
        sb.path("s.sh"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    for extra in [&[][..], &["--no-fast-path"][..]] {
        let o = sb.run(
            extra,
            &[
                "python3",
                "-c",
                "import subprocess\nprint(open('s.sh').read().split()[1])\ntry:\n    subprocess.run(['./s.sh'])\nexcept PermissionError:\n    print('exec denied')\nopen('new.txt', 'w').write('w')\nprint(open('new.txt').read())",
            ],
        );
        assert_code(&o, 0);
        // Read natively or by the broker alike; exec is the default profile's (issue 18),
        // never the native-reads floor's (the `Read` entry grants no execute); writes still
        // reach the broker.
        assert_eq!(stdout(&o), "echo\nran\nw\n", "{}", stderr(&o));
    }
}
