//! What audit records say about the caller and the sandbox: the executable, the thread
//! when the kernel told it, a `process` record per process, and the policy and kernel
//! layers in `start`.

use arbiter_tests::{assert_code, Sandbox};
use serde_json::Value;

fn records(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

fn real(p: &str) -> String {
    std::fs::canonicalize(p).unwrap().display().to_string()
}

#[test]
fn call_records_name_the_callers_executable() {
    let sb = Sandbox::new();
    let log = sb.log("audit.jsonl");
    let o = sb.run(
        &["--audit-level", "all", "--audit", log.to_str().unwrap()],
        &["sh", "-c", "cat /etc/hostname >/dev/null"],
    );
    assert_code(&o, 0);
    let recs = records(&log);
    let cat = real("/usr/bin/cat");
    let open = recs
        .iter()
        .find(|r| r["type"] == "call" && r["args"]["path"] == "/etc/hostname")
        .expect("hostname open recorded");
    assert_eq!(open["exe"], cat.as_str());
    if open["transport"] == "shim" {
        // SCM_CREDENTIALS carries no thread id: the shim's records have none.
        assert!(open.get("tid").is_none(), "{open}");
    }
    // Every seccomp record carries the calling thread.
    for r in recs
        .iter()
        .filter(|r| r["type"] == "call" && r["transport"] == "seccomp")
    {
        assert!(r["tid"].as_i64().unwrap() > 0, "{r}");
        assert!(r["exe"].is_string(), "{r}");
    }
}

#[test]
fn each_process_and_each_exec_gets_one_process_record() {
    let sb = Sandbox::new();
    let log = sb.log("audit.jsonl");
    // sh forks a child that execs cat: two processes, the child seen with cat's executable.
    let o = sb.run(
        &["--audit-level", "all", "--audit", log.to_str().unwrap()],
        &[
            "sh",
            "-c",
            "cat /etc/hostname >/dev/null; cat /etc/hostname >/dev/null",
        ],
    );
    assert_code(&o, 0);
    let recs = records(&log);
    let procs: Vec<&Value> = recs.iter().filter(|r| r["type"] == "process").collect();
    let sh = real("/bin/sh");
    let cat = real("/usr/bin/cat");
    let shell = procs
        .iter()
        .find(|r| r["exe"] == sh.as_str())
        .expect("the shell's process record");
    let cats: Vec<_> = procs.iter().filter(|r| r["exe"] == cat.as_str()).collect();
    assert_eq!(cats.len(), 2, "{procs:?}");
    for c in &cats {
        assert_eq!(c["ppid"], shell["pid"], "cat's parent is the shell");
    }
    // Never two records for the same process running the same program.
    let mut keys: Vec<_> = procs
        .iter()
        .map(|r| (r["pid"].to_string(), r["exe"].to_string()))
        .collect();
    let n = keys.len();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), n, "{procs:?}");
    // Every call the broker recorded had its (pid, exe) introduced by a process record
    // before it. A call the shim reported (answered in-process, drained from the report
    // ring off the program's path) carries no exe and may come before its process's record,
    // but the process has one.
    for (i, r) in recs.iter().enumerate().filter(|(_, r)| r["type"] == "call") {
        if r["reported"] == true {
            assert!(
                procs.iter().any(|p| p["pid"] == r["pid"]),
                "no process record for {r}"
            );
            continue;
        }
        assert!(
            recs[..i]
                .iter()
                .any(|p| p["type"] == "process" && p["pid"] == r["pid"] && p["exe"] == r["exe"]),
            "no process record before {r}"
        );
    }
}

#[test]
fn start_names_the_policy_and_the_enforced_layers() {
    let sb = Sandbox::new();
    let log = sb.log("audit.jsonl");
    let o = sb.run(
        &["--audit-level", "all", "--audit", log.to_str().unwrap()],
        &["true"],
    );
    assert_code(&o, 0);
    let recs = records(&log);
    let start = &recs[0];
    assert_eq!(start["type"], "start");
    assert!(start["policy"]["digest"]
        .as_str()
        .unwrap()
        .starts_with("fnv1a64:"));
    assert_eq!(start["policy"]["sources"][0], "builtin:default");
    let layers = &start["layers"];
    assert!(layers["landlock"]["enforced"].is_boolean(), "{layers}");
    assert!(layers["seccomp"]["enforced"].is_boolean(), "{layers}");
    assert!(layers["seccomp_transport"].is_boolean(), "{layers}");
    if layers["landlock"]["enforced"] == true {
        assert!(layers["landlock"]["abi"].as_i64().unwrap() >= 1);
    }
    if layers["seccomp_transport"] == true {
        assert_eq!(layers["seccomp"]["filters"][1], "notify");
    }
    let exit = recs.last().unwrap();
    assert_eq!(exit["type"], "exit");
    // Without --audit-drop nothing can be dropped, and the field is absent.
    assert!(exit.get("dropped").is_none(), "{exit}");
}
