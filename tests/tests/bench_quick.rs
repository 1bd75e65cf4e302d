//! `arbiter bench --quick` runs end to end, reports every required result and draws the
//! plot. Timings are never asserted: they depend on the machine and on whatever else it is
//! running.

use std::process::Command;

/// Every name the issue requires, each with at least one sample.
const REQUIRED: &[&str] = &[
    "native_open",
    "native_stat",
    "native_connect",
    "native_getaddrinfo",
    "bare_rt",
    "ideal_open_rt",
    "run_true",
    "native_true",
    "run_python",
    "native_python",
    "broker_rss_1",
    "broker_rss_100",
    // raw syscall() open/stat through the seccomp transport
    "seccomp_open",
    "seccomp_stat",
    // an open of /etc/ld.so.cache, natively and through the shim's native-read path
    "native_open_floor",
    "brokered_open_floor",
    // the same round trips in a library Sandbox, decided by a rule and by a Rust master
    "policy_stat_rt",
    "master_stat_rt",
    "policy_open_rt",
    "master_open_rt",
    // stat and open of a file no rule covers, answered by an external decider
    "decider_stat",
    "decider_open",
];

const BROKERED: &[&str] = &[
    "open",
    "stat",
    "access",
    "connect",
    "getaddrinfo",
    // stat and open with `arbiter run --no-fast-path`
    "stat_rt",
    "open_rt",
];

/// Whole programs and the tools they need: skipped by the bench without them.
const PROGRAMS: &[(&str, &[&str])] = &[("git_status", &["git"]), ("make", &["make", "cc"])];

#[test]
fn bench_quick_reports_every_result() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("bench.json");
    let plot = dir.path().join("bench.svg");
    let run = Command::new(arbiter_tests::arbiter())
        .current_dir(dir.path())
        .args(["bench", "--quick", "--iters", "100", "--out"])
        .arg(&out)
        .arg("--plot")
        .arg(&plot)
        .output()
        .expect("run arbiter bench");
    assert!(
        run.status.success(),
        "arbiter bench failed: {}\n{}",
        run.status,
        String::from_utf8_lossy(&run.stderr)
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out).expect("report written")).expect("JSON");
    assert!(json["machine"]["cpus"].as_u64().unwrap_or(0) > 0);
    let results = json["results"].as_array().expect("results array");
    let mut names: Vec<String> = REQUIRED.iter().map(|s| s.to_string()).collect();
    for kind in BROKERED {
        for suffix in ["", "_t2", "_t8", "_p4"] {
            names.push(format!("brokered_{kind}{suffix}"));
        }
    }
    for (program, tools) in PROGRAMS {
        if tools.iter().all(|t| arbiter_tests::have(t)) {
            names.push(format!("native_{program}"));
            names.push(format!("run_{program}"));
        } else {
            eprintln!("{program}: a tool is missing ({tools:?}), not expected in the report");
        }
    }
    // The audit workloads (python3 is always there; git_status's only with git).
    for w in ["stat_open", "git_status"] {
        if w == "stat_open" || arbiter_tests::have("git") {
            for row in ["run_audit_deny", "run_audit_all", "run_audit_all_nofast"] {
                names.push(format!("{row}_{w}"));
            }
        }
    }
    for name in &names {
        let entry = results
            .iter()
            .find(|e| e["name"] == name.as_str())
            .unwrap_or_else(|| panic!("{name} missing from the report"));
        assert!(
            entry["n"].as_u64().unwrap_or(0) > 0,
            "{name} has no samples"
        );
        if name.starts_with("broker_rss") {
            assert!(
                entry["bytes"].as_u64().unwrap_or(0) > 0,
                "{name} has no size"
            );
        } else {
            for field in ["p50_ns", "p99_ns", "ops_per_s"] {
                assert!(entry[field].is_number(), "{name} lacks {field}");
            }
        }
    }
    let svg = std::fs::read_to_string(&plot).expect("plot written");
    assert!(svg.contains("<svg"), "not an SVG: {svg}");
    assert!(svg.trim_end().ends_with("</svg>"), "truncated SVG");
    assert!(
        svg.contains(">brokered_stat</text>"),
        "brokered_stat not drawn"
    );
}

#[test]
fn bench_from_redraws_a_report() {
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("in.json");
    std::fs::write(
        &json,
        r#"{"machine": {"cpus": 2, "kernel": "6.1.0", "model": "m", "loadavg": "0"},
            "results": [{"name": "bare_rt", "p50_ns": 9000, "p99_ns": 20000, "ops_per_s": 1e5, "n": 10},
                        {"name": "brokered_stat", "p50_ns": 20000, "p99_ns": 40000, "ops_per_s": 5e4, "n": 10}]}"#,
    )
    .expect("write report");
    let plot = dir.path().join("out.svg");
    let run = Command::new(arbiter_tests::arbiter())
        .args(["bench", "--from"])
        .arg(&json)
        .arg("--plot")
        .arg(&plot)
        .output()
        .expect("run arbiter bench --from");
    assert!(
        run.status.success(),
        "arbiter bench --from failed: {}\n{}",
        run.status,
        String::from_utf8_lossy(&run.stderr)
    );
    let table = String::from_utf8_lossy(&run.stdout);
    assert!(
        table.contains("brokered_stat / bare_rt (p50)"),
        "no ratio table: {table}"
    );
    let svg = std::fs::read_to_string(&plot).expect("plot written");
    assert!(svg.contains("<svg") && svg.contains(">brokered_stat</text>"));
}

#[test]
fn bench_only_measures_the_rows_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("only.json");
    let run = Command::new(arbiter_tests::arbiter())
        .current_dir(dir.path())
        .args([
            "bench",
            "--quick",
            "--only",
            "native_true,run_true",
            "--only",
            "native_stat",
            "--out",
        ])
        .arg(&out)
        .output()
        .expect("run arbiter bench");
    assert!(
        run.status.success(),
        "arbiter bench --only failed: {}\n{}",
        run.status,
        String::from_utf8_lossy(&run.stderr)
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out).expect("report written")).expect("JSON");
    let mut names: Vec<&str> = json["results"]
        .as_array()
        .expect("results array")
        .iter()
        .map(|e| e["name"].as_str().expect("a name"))
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["native_stat", "native_true", "run_true"]);

    // A name no row has is an error naming it, not an empty report.
    let out2 = dir.path().join("none.json");
    let run = Command::new(arbiter_tests::arbiter())
        .current_dir(dir.path())
        .args(["bench", "--quick", "--only", "native_truee", "--out"])
        .arg(&out2)
        .output()
        .expect("run arbiter bench");
    assert!(!run.status.success(), "a misspelt row was accepted");
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("--only native_truee"), "{err}");
    assert!(!out2.exists(), "no report for a failed run");
}
