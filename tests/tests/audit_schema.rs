//! Every record kind arbiter writes validates against docs/audit.schema.json: the records of
//! a run that exercises each (calls allowed and denied through the shim and the seccomp
//! transport, network calls, processes, start and exit, a protocol error), at
//! `--audit-level all`, in run and in serve (a daemon's lifecycle records), and the records
//! of the report ring (reported calls, and a hostile program's `invalid_report` and
//! `dropped`).
//!
//! The validator is Debian's python3-jsonschema (`.ci/run` installs it); without it the
//! test prints SKIP.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use arbiter_tests::{compile_helper, stderr, Sandbox};

const VALIDATOR: &str = "/usr/bin/python3";

fn validator_available() -> bool {
    Command::new(VALIDATOR)
        .args(["-c", "import jsonschema"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn schema() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/audit.schema.json")
}

/// Validates every line of `log`; returns the record types seen.
fn validate(log: &Path) -> Vec<String> {
    let script = r#"
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
v = jsonschema.Draft202012Validator(schema)
types = set()
bad = 0
for n, line in enumerate(open(sys.argv[2]), 1):
    rec = json.loads(line)
    types.add(rec.get("type"))
    for e in v.iter_errors(rec):
        bad += 1
        print(f"line {n}: {e.message} at {list(e.absolute_path)}: {line.strip()[:300]}", file=sys.stderr)
print(" ".join(sorted(t for t in types if t)))
sys.exit(1 if bad else 0)
"#;
    let o = Command::new(VALIDATOR)
        .args(["-c", script])
        .arg(schema())
        .arg(log)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "records do not match the schema:\n{}",
        stderr(&o)
    );
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_record_of_a_run_matches_the_schema() {
    if !validator_available() {
        println!("SKIP: {VALIDATOR} has no jsonschema module (Debian package python3-jsonschema)");
        return;
    }
    let sb = Sandbox::new();
    let log = sb.log("all.jsonl");
    let raw = compile_helper("seccomp_raw", &sb.dir, &["-static"]);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let script = format!(
        "cat /etc/hostname /etc/shadow >/dev/null 2>&1; mkdir d; mv d e; rmdir e; \
         ln -s x l; readlink l; rm l; {raw} /etc/shadow; {raw} /etc/hostname; \
         python3 -c \"import socket\ns=socket.socket()\ntry: s.connect(('127.0.0.1',{port}))\nexcept OSError: pass\ntry: socket.getaddrinfo('example.invalid', 80)\nexcept OSError: pass\n\" ; true",
        raw = raw.display()
    );
    let o = sb.run(
        &[
            "-q",
            "--audit-level",
            "all",
            "--audit",
            log.to_str().unwrap(),
        ],
        &["sh", "-c", &script],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let types = validate(&log);
    for t in ["start", "call", "process", "exit", "seccomp_direct"] {
        assert!(types.iter().any(|x| x == t), "no {t} record in {types:?}");
    }
    // Calls the shim reported through the report ring are among them.
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("\"reported\":true"),
        "no reported call in the log"
    );
    // A hostile program's ring slots: `invalid_report` and `dropped` records, and a forged
    // claim written as a reported call.
    let bin = arbiter_tests::outside_dir();
    let forge = compile_helper("ring_forge", bin.path(), &["-static"]);
    let mut frame = [0u8; 64];
    let frame: String = arbiter_protocol::encode(
        &arbiter_protocol::Request {
            id: 1,
            call: arbiter_protocol::Call::FastPaths,
        },
        &mut frame,
    )
    .unwrap()
    .iter()
    .map(|b| format!("{b:02x}"))
    .collect();
    let forged = sb.log("forged.jsonl");
    let o = sb.run(
        &[
            "-q",
            "--audit-level",
            "all",
            "--audit",
            forged.to_str().unwrap(),
        ],
        &[
            forge.to_str().unwrap(),
            "forge",
            &arbiter_protocol::PROTOCOL_VERSION.to_string(),
            &frame,
            sb.path("claimed").to_str().unwrap(),
            "4242",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let types = validate(&forged);
    for t in ["invalid_report", "dropped", "call"] {
        assert!(types.iter().any(|x| x == t), "no {t} record in {types:?}");
    }
    // The default level writes the same shapes.
    let deny = sb.log("deny.jsonl");
    let o = sb.run(
        &["-q", "--audit", deny.to_str().unwrap()],
        &["sh", "-c", &script],
    );
    assert_eq!(o.status.code(), Some(0));
    validate(&deny);
}

#[test]
fn decider_records_match_the_schema() {
    if !validator_available() {
        println!("SKIP: {VALIDATOR} has no jsonschema module (Debian package python3-jsonschema)");
        return;
    }
    let sb = Sandbox::new();
    let log = sb.log("decider.jsonl");
    // Answers the first request with an allow (a call record with `decided_by`), every later
    // one with garbage, an unknown id, an unknown errno name and a duplicate.
    let decider = sb.path("decider.py");
    std::fs::write(
        &decider,
        r#"
import json, sys
first = True
for line in sys.stdin:
    m = json.loads(line)
    if m.get("type") != "request":
        continue
    i = m["id"]
    if first:
        first = False
        print(json.dumps({"id": i, "decision": "allow"}), flush=True)
        continue
    print("garbage", flush=True)
    print(json.dumps({"id": 999999999, "decision": "allow"}), flush=True)
    print(json.dumps({"id": i, "decision": "deny", "errno": "EBOGUS"}), flush=True)
    print(json.dumps({"id": i, "decision": "allow"}), flush=True)
"#,
    )
    .unwrap();
    let outside = arbiter_tests::outside_dir();
    let f = outside.path().join("f");
    std::fs::write(&f, "x").unwrap();
    let cmd = format!("python3 {}", decider.display());
    let script = format!("cat {0}; cat {0}; true", f.display());
    let o = sb.run(
        &[
            "-q",
            "--audit-level",
            "all",
            "--audit",
            log.to_str().unwrap(),
            "--decider",
            &cmd,
        ],
        &["sh", "-c", &script],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let types = validate(&log);
    assert!(types.iter().any(|x| x == "decider_error"), "{types:?}");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains(r#""decided_by":"decider""#), "{text}");
}
