//! Reported calls never carry a sandbox-namespace pid as a host pid (red team finding 09,
//! docs/audit.md): as root the sandbox runs in a pid namespace of its own, and the shim
//! reports its in-process calls under its `getpid()`, the namespace's number. A fork child
//! that makes only such calls and exits before the broker drains its reports used to be
//! written as `"pid": 3` (the host's kernel thread 3), and one drained partly while alive
//! had its records split between two pids. Now each child's records carry one identity:
//! its host pid, or — when the broker never saw it alive — `"ns_pid"`, its namespace
//! number, marked as such.
//!
//! `tests/helpers/fork_reports.c` forks children one after the other, each `stat`ing its own
//! marker path 10 times (exited before the broker's drain reads them) or 200 times (read
//! partly while alive), answered in-process by the shim's fast path (which the parent set up
//! with its own first call), so reported, with no brokered call of the child's. Built
//! dynamic only: reports come from the shim, and a static program has none (its calls reach
//! the broker through the seccomp transport and are recorded by the broker, pid and all).
//! Controls: `--no-pid-namespace` (and uid 65534, where no namespace is made) number every
//! child's records by the pid its parent saw. As root without the option the children's
//! numbers must be the namespace's (small), or the test proves nothing.

mod floor_common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Stdio;

use floor_common::{arbiter, command, users, Scratch, Who};

/// How many children the helper forks.
const CHILDREN: usize = 5;

/// The pids the helper printed for its children, by index.
fn children(stdout: &str) -> BTreeMap<usize, i64> {
    stdout
        .lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            match w.as_slice() {
                ["child", k, "pid", p] => Some((k.parse().ok()?, p.parse().ok()?)),
                _ => None,
            }
        })
        .collect()
}

/// For each child index, the identities (`("pid" | "ns_pid", n)`) its reported records carry.
fn identities(log: &Path) -> BTreeMap<usize, BTreeSet<(String, i64)>> {
    let mut out: BTreeMap<usize, BTreeSet<(String, i64)>> = BTreeMap::new();
    let text = std::fs::read_to_string(log).unwrap();
    for line in text.lines() {
        let r: serde_json::Value = serde_json::from_str(line).unwrap();
        if r["reported"] != true {
            continue;
        }
        let Some(k) = r["args"]["path"]
            .as_str()
            .and_then(|p| p.strip_prefix("/usr/arbiter-rt09-C"))
            .and_then(|k| k.parse().ok())
        else {
            continue;
        };
        for key in ["pid", "ns_pid"] {
            if let Some(n) = r.get(key) {
                out.entry(k)
                    .or_default()
                    .insert((key.to_string(), n.as_i64().unwrap()));
            }
        }
    }
    out
}

#[test]
fn reported_calls_of_short_lived_fork_children_never_carry_a_namespace_pid_as_pid() {
    let s = Scratch::new("fork_reports", &[]);
    // The dynamic build only: see the module documentation.
    let h = s.helpers[0].to_str().unwrap().to_string();
    let arb = arbiter();
    let arb = arb.to_str().unwrap();
    let n = CHILDREN.to_string();
    for who in users() {
        let namespaced = who == Who::Invoker && arbiter_tests::is_root();
        for (extra, calls) in [
            (&["--no-pid-namespace"][..], "10"),
            (&[][..], "10"),
            (&[][..], "200"),
        ] {
            let in_ns = namespaced && extra.is_empty();
            let work = s.work(&format!("{who:?}-{}-{calls}", extra.len()));
            // Beside the working directory, out of the program's reach (arbiter refuses a
            // log the program could change).
            let log = work.with_file_name(format!("audit-{who:?}-{}-{calls}.jsonl", extra.len()));
            let log_arg = log.to_str().unwrap();
            let mut argv = vec![arb, "run", "-q", "--audit-level", "all", "--audit", log_arg];
            argv.extend_from_slice(extra);
            argv.extend_from_slice(&["--", &h, &n, calls]);
            let out = command(who, &argv)
                .current_dir(&work)
                .stdin(Stdio::null())
                .output()
                .unwrap();
            let what = format!("{extra:?} {calls} calls as {who:?}");
            assert!(
                out.status.success(),
                "{what}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let kids = children(&String::from_utf8_lossy(&out.stdout));
            assert_eq!(kids.len(), CHILDREN, "{what}: {kids:?}");
            if in_ns {
                // The namespace's numbers: the init is 1, the command 2.
                assert!(
                    kids.values().all(|&p| p < 100),
                    "{what}: the run must be in a pid namespace: {kids:?}"
                );
            }
            let ids = identities(&log);
            for (k, &pid) in &kids {
                let got = ids.get(k).cloned().unwrap_or_default();
                assert!(!got.is_empty(), "{what}: child {k} reported nothing");
                assert_eq!(
                    got.len(),
                    1,
                    "{what}: child {k} (pid {pid} as its parent saw it) has one identity in \
                     the log: {got:?}"
                );
                let (key, n) = got.into_iter().next().unwrap();
                if in_ns {
                    // Either its host pid (never its namespace number written as a pid), or
                    // its namespace number, marked as one.
                    match key.as_str() {
                        "pid" => assert_ne!(n, pid, "{what}: child {k}'s namespace pid as pid"),
                        _ => assert_eq!(n, pid, "{what}: child {k}'s ns_pid"),
                    }
                } else {
                    assert_eq!((key.as_str(), n), ("pid", pid), "{what}: child {k}");
                }
            }
        }
    }
}
