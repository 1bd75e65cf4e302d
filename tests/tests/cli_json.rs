//! `--json` forms for machine use: explain, check, audit summary (the schemas are in their
//! commands' documentation and docs/cli.md).

use std::process::{Command, Stdio};

use arbiter_tests::{arbiter, stderr, stdout, Sandbox};

fn json(o: &std::process::Output) -> serde_json::Value {
    serde_json::from_str(stdout(o).trim())
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}{}", stdout(o), stderr(o)))
}

#[test]
fn explain_json_names_the_deciding_rule() {
    let o = Command::new(arbiter())
        .args(["explain", "--json", "open", "/etc/shadow"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let v = json(&o);
    assert_eq!(v["allow"], false);
    assert_eq!(v["decisions"][0]["errno"], "EACCES");
    assert!(v["decisions"][0]["rule"]
        .as_str()
        .unwrap()
        .starts_with("builtin:default:"));
    let o = Command::new(arbiter())
        .args([
            "explain",
            "--json",
            "--ro",
            "/etc/shadow",
            "open",
            "/etc/shadow",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(json(&o)["decisions"][0]["rule"], "command line:3:1");
}

#[test]
fn check_json_lists_diagnostics_with_locations() {
    let sb = Sandbox::new();
    let bad = sb.path("bad.toml");
    std::fs::write(
        &bad,
        "version = 1\n[[fs]]\npath = \"/x\"\nallow = \"rwz\"\n",
    )
    .unwrap();
    let o = Command::new(arbiter())
        .args(["check", "--json"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let v = json(&o);
    assert_eq!(v["valid"], false);
    let d = &v["diagnostics"][0];
    assert_eq!(
        (d["line"].as_u64(), d["column"].as_u64()),
        (Some(4), Some(10))
    );
    assert_eq!(d["hint"], "did you mean `rw`?");
    let o = Command::new(arbiter())
        .args(["check", "--json", "default"])
        .output()
        .unwrap();
    assert_eq!(json(&o)["valid"], true);
}

#[test]
fn audit_summary_reads_stdin_as_json_and_refuses_text_logs() {
    let sb = Sandbox::new();
    let log = sb.log("a.jsonl");
    let o = sb.run(
        &["-q", "--audit", log.to_str().unwrap()],
        &["cat", "/etc/shadow"],
    );
    assert_eq!(o.status.code(), Some(1));
    let o = Command::new(arbiter())
        .args(["audit", "summary", "--json", "-"])
        .stdin(Stdio::from(std::fs::File::open(&log).unwrap()))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["families"]["open"]["denied"], 1);
    assert_eq!(v["most_denied"][0]["target"], "/etc/shadow");
    // Undecided records (no decision made) are not counted as a rule allowing anything.
    let allowed_by_rules: u64 = v["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["allowed"].as_u64().unwrap())
        .sum();
    assert_eq!(
        allowed_by_rules,
        v["families"]["open"]["allowed"].as_u64().unwrap()
            + v["families"]
                .as_object()
                .unwrap()
                .iter()
                .filter(|(k, _)| *k != "open")
                .map(|(_, f)| f["allowed"].as_u64().unwrap())
                .sum::<u64>()
    );

    let text = sb.log("a.txt");
    let o = sb.run(
        &[
            "-q",
            "--audit",
            text.to_str().unwrap(),
            "--audit-format",
            "text",
        ],
        &["cat", "/etc/shadow"],
    );
    assert_eq!(o.status.code(), Some(1));
    let o = Command::new(arbiter())
        .args(["audit", "summary"])
        .arg(&text)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("text format"), "{}", stderr(&o));
}

#[test]
fn doctor_json_reports_the_shim_and_the_layers() {
    let o = Command::new(arbiter())
        .args(["doctor", "--json"])
        .output()
        .unwrap();
    let v = json(&o);
    assert_eq!(v["shim"]["ok"], true, "{v}");
    assert!(v["landlock"]["features"].is_array());
    assert!(v["seccomp"]["table_rows"].as_u64().unwrap() > 100);
    assert_eq!(o.status.code(), Some(if v["ok"] == true { 0 } else { 125 }));
    // A shim that is not a library makes the report fail.
    let o = Command::new(arbiter())
        .args(["doctor", "--json"])
        .env("ARBITER_SHIM_PATH", "/etc/hostname")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(125));
    assert_eq!(json(&o)["shim"]["ok"], false);
}
