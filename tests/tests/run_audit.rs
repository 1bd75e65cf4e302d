//! `--audit FILE` writes one JSON object per attempted call, with the decision and result.

use arbiter_tests::{assert_code, Sandbox};

fn records(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

#[test]
fn denied_and_allowed_opens_are_recorded() {
    let sb = Sandbox::new();
    let log = sb.log("audit.jsonl");
    let o = sb.run(
        &["--audit-level", "all", "--audit", log.to_str().unwrap()],
        &["sh", "-c", "cat /etc/hostname >/dev/null; cat /etc/shadow"],
    );
    assert_code(&o, 1);
    let recs = records(&log);
    assert_eq!(recs.first().unwrap()["type"], "start");
    assert_eq!(recs.last().unwrap()["type"], "exit");
    assert_eq!(recs.last().unwrap()["status"], 1);
    let opens: Vec<_> = recs
        .iter()
        .filter(|r| r["type"] == "call" && r["call"] == "open")
        .collect();
    let shadow = opens
        .iter()
        .find(|r| r["args"]["path"] == "/etc/shadow")
        .expect("shadow open recorded");
    assert_eq!(shadow["decision"], "deny");
    assert_eq!(shadow["result"]["errno"], "EACCES");
    assert!(shadow["pid"].as_i64().unwrap() > 0);
    assert_eq!(shadow["args"]["flags"][0], "O_RDONLY");
    let hostname = opens
        .iter()
        .find(|r| r["args"]["path"] == "/etc/hostname")
        .expect("hostname open recorded");
    assert_eq!(hostname["decision"], "allow");
    for r in &recs {
        assert_eq!(r["v"], 1);
        assert!(r["time"].as_str().unwrap().ends_with('Z'));
    }
}

#[test]
fn audit_to_stderr_keeps_the_programs_output_apart() {
    let sb = Sandbox::new();
    let o = sb.run(
        &["--audit-level", "all", "--audit", "-"],
        &["cat", "/etc/hostname"],
    );
    assert_code(&o, 0);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.lines()
            .any(|l| l.contains("\"call\":\"open\"") && l.contains("/etc/hostname")),
        "{err}"
    );
}
