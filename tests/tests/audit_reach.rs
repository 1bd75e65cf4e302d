//! An audit log the policy lets the program write, create, remove or rename (here
//! `--audit ./audit.log` in the read-write `$PWD`) is refused at start (exit 125), as root
//! and as uid 65534. The control: with `--audit-in-sandbox-reach` the same program does
//! truncate and forge its own log, so the refusal is what protects it. A log outside the
//! program's reach keeps its records although the program tries the same.

use std::process::{Output, Stdio};

use arbiter_tests::{arbiter_as, have, is_root, outside_dir, stderr, Sandbox};

/// Truncates the log and appends a forged record.
const TAMPER: &str =
    "cat /etc/shadow 2>/dev/null; : > \"$1\"; echo '{\"forged\":true}' >> \"$1\"; true";

fn run(sb: &Sandbox, nobody: bool, extra: &[&str], log: &str) -> Output {
    let mut c = arbiter_as(nobody);
    c.arg("run")
        .arg("-q")
        .args(extra)
        .args(["--audit", log, "--", "sh", "-c", TAMPER, "sh", log])
        .current_dir(&sb.dir)
        .stdin(Stdio::null())
        .env_remove("LD_LIBRARY_PATH");
    c.output().expect("run arbiter")
}

fn check(nobody: bool) {
    let sb = Sandbox::new();
    let log = sb.path("audit.log");

    // Control: with the opt-out the program erases the start record and forges one.
    let o = run(&sb, nobody, &["--audit-in-sandbox-reach"], "./audit.log");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("warning"), "{}", stderr(&o));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.lines().any(|l| l.starts_with("{\"forged\"")),
        "the control tampers: {text}"
    );
    assert!(!text.contains("\"start\""), "the control erases: {text}");
    std::fs::remove_file(&log).unwrap();

    // Without it arbiter refuses to start, naming the flag, the path and the rule.
    let o = run(&sb, nobody, &[], "./audit.log");
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("--audit ./audit.log"), "{e}");
    assert!(e.contains(log.to_str().unwrap()), "{e}");
    assert!(e.contains("$PWD"), "names the rule: {e}");
    assert!(e.contains("--audit-in-sandbox-reach"), "{e}");
    assert!(!log.exists(), "nothing ran");

    // Its directory in reach is refused as well (the file itself outside any rule's
    // name does not matter): a log in a subdirectory of $PWD.
    std::fs::create_dir(sb.path("logs")).unwrap();
    let o = run(&sb, nobody, &[], "logs/a.log");
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));

    // A log outside the program's reach keeps every record.
    let out = outside_dir();
    let safe = out.path().join("audit.log");
    let o = run(&sb, nobody, &[], safe.to_str().unwrap());
    // sh stops at the refused `: >` (status 2): the program ran, and its tampering failed.
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("Permission denied"), "{}", stderr(&o));
    let text = std::fs::read_to_string(&safe).unwrap();
    assert!(
        !text.lines().any(|l| l.starts_with("{\"forged\"")),
        "{text}"
    );
    assert!(text.contains("\"start\""), "{text}");
    assert!(text.contains("\"exit\""), "{text}");
}

#[test]
fn a_log_in_the_programs_writable_tree_is_refused_as_root() {
    check(false);
}

#[test]
fn a_log_in_the_programs_writable_tree_is_refused_as_nobody() {
    if !is_root() || !have("setpriv") {
        println!("SKIP: the uid 65534 pass needs root and setpriv");
        return;
    }
    check(true);
}
