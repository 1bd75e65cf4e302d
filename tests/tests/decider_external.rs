//! `arbiter run --decider CMD`: an external process answers, over JSON lines, the checks the
//! policy leaves to its default. Each behaviour is shown against a file outside every rule of
//! the default policy (so without a decider it is denied) that the caller can read natively
//! (the control), as root and as an unprivileged user. A misbehaving decider never hangs the
//! program: the default answer applies and a `decider_error` record says why.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use arbiter_tests::{
    arbiter, compile_helper, have, invoker_and_nobody, outside_dir, stderr, stdout, Sandbox,
};
use serde_json::Value;

/// Answers by the path's last component: `allowed` allow, `hidden` deny with ENOENT, else
/// deny; reports the hello on stderr (which arbiter passes through).
const BY_NAME: &str = r#"
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("type") == "hello":
        sys.stderr.write("decider saw hello v%s\n" % m["v"]); sys.stderr.flush()
        continue
    name = m["subject"].get("path", "").rsplit("/", 1)[-1]
    if name == "allowed":
        a = {"id": m["id"], "decision": "allow"}
    elif name == "hidden":
        a = {"id": m["id"], "decision": "deny", "errno": "ENOENT"}
    else:
        a = {"id": m["id"], "decision": "deny"}
    print(json.dumps(a), flush=True)
"#;

/// Holds the requests about `one` and `two` until both are outstanding, then answers `two`
/// first; answers anything else at once (deny).
const OUT_OF_ORDER: &str = r#"
import json, sys
held = {}
for line in sys.stdin:
    m = json.loads(line)
    if m.get("type") != "request":
        continue
    name = m["subject"].get("path", "").rsplit("/", 1)[-1]
    if name in ("one", "two"):
        held[name] = m["id"]
        if len(held) == 2:
            print(json.dumps({"id": held["two"], "decision": "allow"}), flush=True)
            print(json.dumps({"id": held["one"], "decision": "allow"}), flush=True)
            sys.stderr.write("decider: answered two before one\n"); sys.stderr.flush()
    else:
        print(json.dumps({"id": m["id"], "decision": "deny"}), flush=True)
"#;

/// Reads every request and answers none.
const SILENT: &str = "import sys\nfor line in sys.stdin:\n    pass\n";

/// Reads the hello and the first request, then kills itself.
const CRASHES: &str =
    "import os, sys\nsys.stdin.readline()\nsys.stdin.readline()\nos.kill(os.getpid(), 9)\n";

/// Exits before reading anything.
const EXITS: &str = "import sys\nsys.exit(3)\n";

/// Answers each request with garbage, an unknown id, an unknown errno name, then an allow
/// that comes too late (a duplicate).
const GARBAGE: &str = r#"
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("type") != "request":
        continue
    i = m["id"]
    print("this is not json", flush=True)
    print("[1, 2]", flush=True)
    print(json.dumps({"id": 999999999, "decision": "allow"}), flush=True)
    print(json.dumps({"id": i, "decision": "deny", "errno": "EBOGUS"}), flush=True)
    print(json.dumps({"id": i, "decision": "allow"}), flush=True)
"#;

/// Never reads its stdin.
const NEVER_READS: &str = "import time\ntime.sleep(3600)\n";

/// Allows everything.
const ALLOW_ALL: &str = r#"
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("type") == "request":
        print(json.dumps({"id": m["id"], "decision": "allow"}), flush=True)
"#;

struct Ran {
    out: Output,
    records: Vec<Value>,
}

static RUNS: AtomicUsize = AtomicUsize::new(0);

/// `arbiter run --audit LOG --audit-level all EXTRA… -- CMD…` in `sb`, as root or (with
/// `nobody`) as uid 65534.
fn run(sb: &Sandbox, nobody: bool, extra: &[&str], cmd: &[&str]) -> Ran {
    let log = sb.log(&format!(
        "audit-{}.log",
        RUNS.fetch_add(1, Ordering::Relaxed)
    ));
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
        .arg("--audit")
        .arg(&log)
        .args(["--audit-level", "all"])
        .args(extra)
        .arg("--")
        .args(cmd)
        .current_dir(&sb.dir)
        .env("PATH", "/usr/bin:/bin")
        .env_remove("LD_LIBRARY_PATH")
        .stdin(Stdio::null());
    let out = c.output().expect("run arbiter");
    let records = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("audit line is JSON"))
        .collect();
    Ran { out, records }
}

/// Writes a decider script into the sandbox directory; returns its `--decider` value.
fn decider(sb: &Sandbox, name: &str, script: &str) -> String {
    let p = sb.path(&format!("{name}.py"));
    std::fs::write(&p, script).unwrap();
    format!("python3 {}", p.display())
}

/// A directory outside the default policy with world-readable files `name` → `name\n`.
fn outside(names: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let dir = outside_dir();
    let real = dir.path().canonicalize().unwrap();
    for n in names {
        std::fs::write(real.join(n), format!("{n}\n")).unwrap();
    }
    (dir, real)
}

fn skip() -> bool {
    if !have("python3") {
        eprintln!("SKIP: python3 is not installed (the test deciders are Python)");
        return true;
    }
    false
}

fn errors<'a>(r: &'a Ran, kind: &str) -> Vec<&'a Value> {
    r.records
        .iter()
        .filter(|v| v["type"] == "decider_error" && v["error"] == kind)
        .collect()
}

fn open_record<'a>(r: &'a Ran, path: &Path) -> Option<&'a Value> {
    let p = path.to_str().unwrap();
    r.records
        .iter()
        .find(|v| v["type"] == "call" && v["call"] == "open" && v["paths"][0] == p)
}

#[track_caller]
fn assert_status(r: &Ran, code: i32) {
    assert_eq!(
        r.out.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}\nrecords:\n{:#?}",
        stdout(&r.out),
        stderr(&r.out),
        r.records
            .iter()
            .filter(|v| v["type"] != "call")
            .collect::<Vec<_>>()
    );
}

#[test]
fn a_decider_allows_and_denies_with_its_errno_and_is_audited() {
    if skip() {
        return;
    }
    let (_d, out) = outside(&["allowed", "hidden", "other"]);
    for nobody in invoker_and_nobody() {
        let sb = Sandbox::new();
        // Controls: each file is readable natively, and the default policy denies them.
        for n in ["allowed", "hidden", "other"] {
            assert_eq!(
                std::fs::read_to_string(out.join(n)).unwrap(),
                format!("{n}\n")
            );
        }
        let plain = run(
            &sb,
            nobody,
            &[],
            &["cat", out.join("allowed").to_str().unwrap()],
        );
        assert_status(&plain, 1);
        assert!(stderr(&plain.out).contains("Permission denied"));

        let cmd = decider(&sb, "by_name", BY_NAME);
        let script = format!(
            "cat {0}/allowed; cat {0}/hidden; cat {0}/other; exit 0",
            out.display()
        );
        let r = run(&sb, nobody, &["--decider", &cmd], &["sh", "-c", &script]);
        assert_status(&r, 0);
        assert_eq!(stdout(&r.out), "allowed\n");
        let err = stderr(&r.out);
        assert!(err.contains("decider saw hello v1"), "{err}");
        assert!(err.contains("hidden: No such file or directory"), "{err}");
        assert!(err.contains("other: Permission denied"), "{err}");
        let allowed = open_record(&r, &out.join("allowed")).expect("record of the allowed open");
        assert_eq!(allowed["decision"], "allow");
        assert_eq!(allowed["decided_by"], "decider");
        let hidden = open_record(&r, &out.join("hidden")).expect("record of the hidden open");
        assert_eq!(hidden["decision"], "deny");
        assert_eq!(hidden["decided_by"], "decider");
        assert_eq!(hidden["result"]["errno"], "ENOENT");
        // Rules still decide what they cover: nothing the policy decides reaches the decider.
        assert!(r
            .records
            .iter()
            .filter(|v| v["type"] == "call" && v["rule"].is_string())
            .all(|v| v.get("decided_by").is_none()));
        assert!(errors(&r, "timeout").is_empty() && errors(&r, "garbage").is_empty());
    }
}

#[test]
fn answers_may_come_in_any_order_with_requests_outstanding_at_once() {
    if skip() {
        return;
    }
    let (_d, out) = outside(&["one", "two"]);
    let sb = Sandbox::new();
    let cmd = decider(&sb, "out_of_order", OUT_OF_ORDER);
    // A broker that asked one question at a time would never show the decider both: the
    // first would time out (60 s) and be denied.
    let script = format!("cat {0}/one & cat {0}/two & wait", out.display());
    let r = run(
        &sb,
        false,
        &["--decider", &cmd, "--decider-timeout", "60s"],
        &["sh", "-c", &script],
    );
    assert_status(&r, 0);
    let mut lines: Vec<String> = stdout(&r.out).lines().map(str::to_owned).collect();
    lines.sort();
    assert_eq!(lines, ["one", "two"], "{}", stderr(&r.out));
    assert!(stderr(&r.out).contains("answered two before one"));
    for n in ["one", "two"] {
        assert_eq!(
            open_record(&r, &out.join(n)).unwrap()["decided_by"],
            "decider"
        );
    }
    assert!(errors(&r, "timeout").is_empty());
}

#[test]
fn a_decider_that_never_answers_gets_the_default_after_its_timeout() {
    if skip() {
        return;
    }
    let (_d, out) = outside(&["allowed"]);
    let file = out.join("allowed");
    for nobody in invoker_and_nobody() {
        let sb = Sandbox::new();
        let cmd = decider(&sb, "silent", SILENT);
        let r = run(
            &sb,
            nobody,
            &["--decider", &cmd, "--decider-timeout", "300ms"],
            &["cat", file.to_str().unwrap()],
        );
        assert_status(&r, 1);
        assert!(stderr(&r.out).contains("Permission denied"));
        // Said on stderr too, once, so it is seen without an audit log.
        assert_eq!(
            stderr(&r.out)
                .matches("arbiter: decider: timeout: ")
                .count(),
            1,
            "{}",
            stderr(&r.out)
        );
        let t = errors(&r, "timeout");
        assert!(
            t.iter()
                .any(|v| v["call"] == "open" && v["answer"] == "deny"),
            "{t:#?}"
        );
        // The default deny is the policy's own: the record says the policy decided.
        assert!(open_record(&r, &file).unwrap().get("decided_by").is_none());

        let r = run(
            &sb,
            nobody,
            &[
                "--decider",
                &cmd,
                "--decider-timeout",
                "300ms",
                "--decider-default",
                "allow",
            ],
            &["cat", file.to_str().unwrap()],
        );
        assert_status(&r, 0);
        assert_eq!(stdout(&r.out), "allowed\n");
        assert!(errors(&r, "timeout").iter().any(|v| v["answer"] == "allow"));
        assert_eq!(open_record(&r, &file).unwrap()["decided_by"], "decider");
    }
}

#[test]
fn a_decider_that_crashes_or_exits_gets_the_default_at_once() {
    if skip() {
        return;
    }
    let (_d, out) = outside(&["allowed"]);
    let file = out.join("allowed");
    let sb = Sandbox::new();
    for (name, script) in [("crashes", CRASHES), ("exits", EXITS)] {
        let cmd = decider(&sb, name, script);
        // A long timeout: the default must come from noticing the exit, not from waiting.
        let script = format!("cat {0}; cat {0}", file.display());
        let r = run(
            &sb,
            false,
            &["--decider", &cmd, "--decider-timeout", "120s"],
            &["sh", "-c", &script],
        );
        assert_status(&r, 1);
        assert_eq!(stdout(&r.out), "", "{name}");
        assert_eq!(
            stderr(&r.out).matches("Permission denied").count(),
            2,
            "{name}: {}",
            stderr(&r.out)
        );
        assert!(!errors(&r, "exited").is_empty(), "{name}");
        assert!(
            errors(&r, "gone")
                .iter()
                .any(|v| v["call"] == "open" && v["answer"] == "deny"),
            "{name}"
        );
        assert!(errors(&r, "timeout").is_empty(), "{name}");
    }
}

#[test]
fn a_decider_writing_garbage_gets_the_default_and_each_line_is_audited() {
    if skip() {
        return;
    }
    let (_d, out) = outside(&["allowed"]);
    let file = out.join("allowed");
    let sb = Sandbox::new();
    let cmd = decider(&sb, "garbage", GARBAGE);
    let r = run(
        &sb,
        false,
        &["--decider", &cmd, "--decider-timeout", "120s"],
        &["cat", file.to_str().unwrap()],
    );
    assert_status(&r, 1);
    assert!(stderr(&r.out).contains("Permission denied"));
    assert!(errors(&r, "garbage").len() >= 2);
    assert!(!errors(&r, "unknown_id").is_empty());
    let bad = errors(&r, "bad_answer");
    assert!(
        bad.iter()
            .any(|v| v["detail"].as_str().unwrap().contains("EBOGUS")),
        "{bad:#?}"
    );
    // The allow that followed came after the request was settled: it changes nothing.
    assert!(!errors(&r, "duplicate").is_empty());
    assert_eq!(open_record(&r, &file).unwrap()["decision"], "deny");
}

#[test]
fn a_decider_that_never_reads_does_not_block_the_broker() {
    if skip() {
        return;
    }
    let (_d, out) = outside(&[]);
    let sb = Sandbox::new();
    let cmd = decider(&sb, "never_reads", NEVER_READS);
    // Each probe is a request of some 500 bytes: the pipe (64 KiB) and then the queue (256)
    // fill up; from then on requests are answered at once.
    let script = format!(
        "i=0; while [ $i -lt 700 ]; do [ -e {}/absent$i ]; i=$((i+1)); done; echo done",
        out.display()
    );
    let r = run(
        &sb,
        false,
        &["--decider", &cmd, "--decider-timeout", "20ms"],
        &["sh", "-c", &script],
    );
    assert_status(&r, 0);
    assert_eq!(stdout(&r.out), "done\n");
    assert!(!errors(&r, "timeout").is_empty());
    assert!(!errors(&r, "queue_full").is_empty());
}

#[test]
fn the_kernel_floor_holds_whatever_the_decider_answers() {
    if skip() {
        return;
    }
    let (_d, out) = outside(&["secret"]);
    let file = out.join("secret");
    let f = file.to_str().unwrap();
    for nobody in invoker_and_nobody() {
        let sb = Sandbox::new();
        let raw = compile_helper("raw_open", &sb.dir, &["-static"]);
        let raw = raw.to_str().unwrap();
        // Control: the raw open succeeds natively.
        let native = Command::new(raw).arg(f).output().unwrap();
        assert_eq!(stdout(&native), "secret\n");
        let cmd = decider(&sb, "allow_all", ALLOW_ALL);
        // Without the seccomp transport the raw open meets Landlock, which no decider can
        // widen, while the brokered libc open the decider allows succeeds and is audited.
        let flags = ["--no-seccomp-transport", "--decider", &cmd];
        let r = run(&sb, nobody, &flags, &[raw, f]);
        assert_status(&r, 1);
        assert_eq!(stdout(&r.out), "errno 13\n", "{}", stderr(&r.out));
        let r = run(&sb, nobody, &flags, &["cat", f]);
        assert_status(&r, 0);
        assert_eq!(stdout(&r.out), "secret\n");
        let rec = open_record(&r, &file).expect("the libc open is audited");
        assert_eq!(
            (&rec["decided_by"], &rec["transport"]),
            (&Value::from("decider"), &Value::from("shim"))
        );
        // With the seccomp transport the raw open is brokered: decided (and audited) by the
        // decider like any other call, the object opened by the broker.
        let r = run(&sb, nobody, &["--decider", &cmd], &[raw, f]);
        assert_status(&r, 0);
        assert_eq!(stdout(&r.out), "secret\n");
        let rec = open_record(&r, &file).expect("the raw open is audited");
        assert_eq!(
            (&rec["decided_by"], &rec["transport"]),
            (&Value::from("decider"), &Value::from("seccomp"))
        );
    }
}

#[test]
fn bad_decider_options_are_refused_before_anything_runs() {
    let sb = Sandbox::new();
    let marker = sb.path("ran");
    let touch = format!("touch {}", marker.display());
    let cases: [(&[&str], &str); 4] = [
        (&["--ask", "--decider", "x"], "cannot be used with"),
        (&["--decider", "'unclosed"], "unclosed ' quote"),
        (
            &["--decider", "/nonexistent/decider"],
            "cannot start the decider",
        ),
        (&["--decider-timeout", "5s"], "--decider"),
    ];
    for (extra, says) in cases {
        let r = run(&sb, false, extra, &["sh", "-c", &touch]);
        assert_status(&r, 125);
        assert!(
            stderr(&r.out).contains(says),
            "{extra:?}: {}",
            stderr(&r.out)
        );
        assert!(!marker.exists(), "{extra:?} ran the command");
    }
}
