//! The report ring against a program that writes it to keep other processes' reports out
//! of the log or to make the broker hold its forgeries (red-team findings 11, 12 and 14
//! against docs/audit.md, "Reported calls"):
//!
//! - a hole (a slot claimed and never published) before the end: the last drain still
//!   takes every report published after it, and counts the hole (finding 11);
//! - a hole held while another process flips the shared head: the drain skips it on its
//!   own clock, so the honest process's reports all reach the log (finding 12);
//! - a flood of well-formed forged reports while the audit sink does not take writes:
//!   the broker's memory stays bounded (it stops taking slots, the ring fills, calls go to
//!   the broker), and every report published is in the log once the sink drains (14).
//!
//! Each runs as root and, when the tests run as root, as uid 65534. The holes are made by
//! a dynamic helper (its calls go through the shim's fast path and are reported); the flood
//! by a static one with raw system calls, which takes the ring as the shim does.

mod audit_common;
use audit_common::{command_all, fast_paths_frame, records, users};

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::Stdio;

use arbiter_protocol::PROTOCOL_VERSION;
use arbiter_tests::{compile_helper, stderr, stdout, Sandbox};
use serde_json::Value;

fn lines_to_records(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).expect("a JSON record"))
        .collect()
}

/// Call records of `call` on exactly `path`, and how many of them were reported.
fn calls_on(recs: &[Value], call: &str, path: &str) -> (usize, usize) {
    let all: Vec<&Value> = recs
        .iter()
        .filter(|r| r["type"] == "call" && r["call"] == call && r["args"]["path"] == path)
        .collect();
    let reported = all.iter().filter(|r| r["reported"] == true).count();
    (all.len(), reported)
}

fn dropped(recs: &[Value]) -> Vec<&Value> {
    recs.iter().filter(|r| r["type"] == "dropped").collect()
}

/// A sandbox whose directory uid 65534 may write its log in.
fn sandbox() -> Sandbox {
    let sb = Sandbox::new();
    std::fs::set_permissions(&sb.dir, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    sb
}

/// A path beneath `/usr/lib` that does not exist: `stat` of it is answered in-process (the
/// stat fast path, ENOENT) and reported, and the policy allows it.
fn lib_path(sb: &Sandbox, what: &str) -> String {
    let tag = sb.dir.file_name().unwrap().to_str().unwrap();
    format!("/usr/lib/arbiter-test-{tag}-{what}")
}

// Finding 11: the last drain gave up at the first unpublished slot, discarding every
// report published after it (counted as one stalled slot).
#[test]
fn reports_after_a_hole_at_the_end_are_all_recorded() {
    for user in users() {
        let sb = sandbox();
        let helper = compile_helper("ring_hole", &sb.dir, &[]);
        let h = helper.to_str().unwrap();
        let (before, after) = (lib_path(&sb, "before"), lib_path(&sb, "after"));

        // The control: the same calls without a hole, all reported.
        let log = sb.log("control.jsonl");
        let o = command_all(
            &sb,
            user,
            &log,
            &[],
            &["python3", "-c", &stat_script(&after, 200)],
        )
        .output()
        .unwrap();
        assert_eq!(o.status.code(), Some(0), "{user:?}: {}", stderr(&o));
        let recs = records(&log);
        assert_eq!(calls_on(&recs, "stat", &after), (200, 200), "{user:?}");

        // One process: 200 reports, a hole, 200 reports, exit at once.
        let log = sb.log("stall.jsonl");
        let o = command_all(&sb, user, &log, &[], &[h, "stall", "200", &before, &after])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{user:?}: {}", stderr(&o));
        assert!(stdout(&o).ends_with("done\n"), "{}", stdout(&o));
        let recs = records(&log);
        assert_eq!(calls_on(&recs, "stat", &before), (200, 200), "{user:?}");
        assert_eq!(
            calls_on(&recs, "stat", &after),
            (200, 200),
            "{user:?}: the reports published after the hole"
        );
        let d = dropped(&recs);
        assert_eq!(d.len(), 1, "{user:?}");
        assert_eq!(d[0]["stalled"], 1, "{user:?}: {}", d[0]);
        assert_eq!(recs.last().unwrap()["type"], "exit");

        // Another process's reports behind the hole.
        let log = sb.log("stallfork.jsonl");
        let o = command_all(&sb, user, &log, &[], &[h, "stallfork", "300", &after])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{user:?}: {}", stderr(&o));
        let recs = records(&log);
        assert_eq!(
            calls_on(&recs, "stat", &after),
            (300, 300),
            "{user:?}: the child's reports behind its parent's hole"
        );
        assert_eq!(dropped(&recs)[0]["stalled"], 1, "{user:?}");
    }
}

fn stat_script(path: &str, n: usize) -> String {
    format!("import os\nfor i in range({n}):\n    try:\n        os.stat({path:?})\n    except OSError:\n        pass\n")
}

// Finding 12: the drain's patience with a hole was reset whenever the shared head said
// nothing was claimed beyond it, so a process flipping the head kept it from ever passing
// the hole, and the other processes' reports never reached the log.
#[test]
fn a_hole_held_by_flipping_the_head_does_not_keep_reports_out() {
    for user in users() {
        let sb = sandbox();
        let helper = compile_helper("ring_hole", &sb.dir, &[]);
        let honest = lib_path(&sb, "honest");
        let log = sb.log("hold.jsonl");
        // 3000 calls over about 4 s (13 steps of 300 ms): well past the drain's patience.
        let o = command_all(
            &sb,
            user,
            &log,
            &[],
            &[helper.to_str().unwrap(), "hold", "3000", &honest, "13"],
        )
        .output()
        .unwrap();
        assert_eq!(o.status.code(), Some(0), "{user:?}: {}", stderr(&o));
        assert!(stdout(&o).ends_with("done\n"), "{}", stdout(&o));
        let recs = records(&log);
        let (all, reported) = calls_on(&recs, "stat", &honest);
        // Every call is in the log: reported, or (the ring full, or a claim in a flip
        // window) recorded by the broker.
        assert_eq!(all, 3000, "{user:?}: {reported} reported");
        assert!(reported > 0, "{user:?}: the ring was used");
        let d = dropped(&recs);
        assert_eq!(d.len(), 1, "{user:?}");
        assert!(d[0]["stalled"].as_u64().unwrap() >= 1, "{}", d[0]);
    }
}

/// The largest peak resident size (`VmHWM`, kB) of the `arbiter` processes from `root`
/// down (the broker is one of them).
fn arbiter_peak_kb(root: u32) -> u64 {
    let mut todo = vec![root];
    let mut peak = 0;
    while let Some(pid) = todo.pop() {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        if status
            .lines()
            .next()
            .is_some_and(|l| l.ends_with("arbiter"))
        {
            let hwm = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or(0);
            peak = peak.max(hwm);
        }
        for task in std::fs::read_dir(format!("/proc/{pid}/task"))
            .into_iter()
            .flatten()
        {
            let children =
                std::fs::read_to_string(task.unwrap().path().join("children")).unwrap_or_default();
            todo.extend(
                children
                    .split_whitespace()
                    .filter_map(|c| c.parse::<u32>().ok()),
            );
        }
    }
    peak
}

/// The broker may keep this much more than its peak without a flood (debug build: about
/// 20 MB in all) while a program floods the ring with the sink stalled; before the fix it
/// held every forged record (about 80 MB per 225,000).
const FLOOD_PEAK_KB: u64 = 64 * 1024;

/// How many forged reports the helper publishes at most.
const FLOOD: &str = "400000";

// Finding 14: with the sink stalled, the drain kept handing the writer batches of up to
// 1024 records, 4096 batches deep: a program writing the ring made the broker buffer
// millions of forged records.
#[test]
fn a_flood_of_reports_with_the_sink_stalled_keeps_the_broker_small() {
    for user in users() {
        for sink in ["stderr", "fifo"] {
            let sb = sandbox();
            let helper = compile_helper("ring_forge", &sb.dir, &["-static"]);
            let path = lib_path(&sb, "flood");
            let fifo = sb.log("audit.fifo");
            let mut reader = None;
            let target = if sink == "fifo" {
                let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
                // SAFETY: a NUL-terminated path and a mode.
                assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o666) }, 0);
                std::fs::set_permissions(
                    &fifo,
                    std::os::unix::fs::PermissionsExt::from_mode(0o666),
                )
                .unwrap();
                // Opened for reading (not read) before arbiter opens it for writing: a JSON
                // lines "file" that takes 64 KiB and then nothing.
                use std::os::unix::fs::OpenOptionsExt;
                reader = Some(
                    std::fs::OpenOptions::new()
                        .read(true)
                        .custom_flags(libc::O_NONBLOCK)
                        .open(&fifo)
                        .unwrap(),
                );
                fifo.clone()
            } else {
                Path::new("-").to_path_buf()
            };
            let mut child = command_all(
                &sb,
                user,
                &target,
                &[],
                &[
                    helper.to_str().unwrap(),
                    "flood",
                    &PROTOCOL_VERSION.to_string(),
                    &fast_paths_frame(),
                    &path,
                    "4242",
                    FLOOD,
                ],
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
            // stderr (the stderr sink) is not read until the flood is over.
            let mut out = BufReader::new(child.stdout.take().unwrap());
            let mut line = String::new();
            let mut published = None;
            while out.read_line(&mut line).unwrap() > 0 {
                if let Some(n) = line.trim().strip_prefix("flooded ") {
                    published = Some(n.parse::<usize>().unwrap());
                    break;
                }
                line.clear();
            }
            let peak = arbiter_peak_kb(child.id());
            // Let the sink drain now.
            let mut err = child.stderr.take().unwrap();
            let errs = std::thread::spawn(move || {
                let mut s = String::new();
                let _ = err.read_to_string(&mut s);
                s
            });
            let log = reader.map(|mut r| {
                let mut bytes = Vec::new();
                // Blocking reads from here: the writer ends the file when arbiter exits.
                // SAFETY: an fd this File owns; F_SETFL with plain flags.
                unsafe {
                    use std::os::fd::AsRawFd;
                    libc::fcntl(r.as_raw_fd(), libc::F_SETFL, 0)
                };
                r.read_to_end(&mut bytes).unwrap();
                String::from_utf8(bytes).unwrap()
            });
            let status = child.wait().unwrap();
            let errs = errs.join().unwrap();
            assert_eq!(status.code(), Some(0), "{user:?} {sink}: {errs}");
            let published = published.expect("the helper reports how many it published");
            let recs = lines_to_records(log.as_deref().unwrap_or(&errs));
            assert!(
                peak < FLOOD_PEAK_KB,
                "{user:?} {sink}: the broker peaked at {peak} kB with {published} reports forged"
            );
            // Nothing taken was lost: every report published is in the log.
            assert_eq!(
                calls_on(&recs, "stat", &path),
                (published, published),
                "{user:?} {sink}"
            );
            assert_eq!(recs.last().unwrap()["type"], "exit", "{user:?} {sink}");
        }
    }
}

// Finding 10: a forged report of a relative path was written as an allowed call (with no
// rule) although the broker never checked it: from `/`, `etc/shadow` read as allowed.
#[test]
fn a_relative_reported_path_is_marked_unchecked() {
    for user in users() {
        for build in [&["-static"][..], &[][..]] {
            let sb = sandbox();
            std::fs::write(sb.path("a.txt"), "x\n").unwrap();
            let helper = compile_helper("ring_forge", &sb.dir, build);
            let log = sb.log("rel.jsonl");
            // An honest relative call (reported by the shim) next to the forgery.
            let script = format!(
                "{} rel {} {} etc/shadow 4242 && python3 -c 'import os\nfor i in range(5): os.stat(\"a.txt\")'",
                helper.display(),
                PROTOCOL_VERSION,
                fast_paths_frame()
            );
            let o = command_all(&sb, user, &log, &[], &["sh", "-c", &script])
                .output()
                .unwrap();
            assert_eq!(
                o.status.code(),
                Some(0),
                "{user:?} {build:?}: {}",
                stderr(&o)
            );
            // The control: the program's write landed in the ring.
            assert_eq!(stdout(&o), "forged 1\n", "{user:?} {build:?}");
            let recs = records(&log);
            let forged: Vec<_> = recs
                .iter()
                .filter(|r| r["type"] == "call" && r["args"]["path"] == "etc/shadow")
                .collect();
            assert_eq!(forged.len(), 1, "{user:?} {build:?}");
            assert_eq!(forged[0]["reported"], true);
            assert_eq!(
                forged[0]["unchecked"], true,
                "{user:?} {build:?}: the broker never decided it: {}",
                forged[0]
            );
            assert!(forged[0].get("rule").is_none());
            // Honest relative reports are marked the same way; absolute ones are checked.
            let honest: Vec<_> = recs
                .iter()
                .filter(|r| r["type"] == "call" && r["reported"] == true)
                .filter(|r| r["args"]["path"] == "a.txt")
                .collect();
            assert!(!honest.is_empty(), "{user:?} {build:?}");
            assert!(honest.iter().all(|r| r["unchecked"] == true));
            assert!(recs
                .iter()
                .filter(|r| r["reported"] == true)
                .filter(|r| r["args"]["path"]
                    .as_str()
                    .is_some_and(|p| p.starts_with('/')))
                .all(|r| r.get("unchecked").is_none()));
        }
    }
}

// Red team s6 finding 11: a forged report was checked against the plain rules alone, so a
// read the broker really refuses (`/proc/1/environ` with `--ro /proc`; `/proc/self/root/…`,
// lexically beneath the default policy's `/proc/self` rule) was recorded as a checked,
// rule-attributed allow. No fast path answers beneath `/proc` or outside the roots the broker
// offered for that call: such a report is refused (`invalid_report`).
#[test]
fn a_report_no_fast_path_could_answer_is_refused() {
    let forged_paths = [
        "/proc/1/environ",
        "/proc/1/root/etc/shadow",
        "/proc/self/root/etc/shadow",
        "/proc/thread-self/root/etc/gshadow",
        "/usr/../proc/1/environ",
    ];
    for user in users() {
        for build in [&["-static"][..], &[][..]] {
            for extra in [&[][..], &["--ro", "/proc"][..]] {
                let tag = format!("{user:?} {build:?} {extra:?}");
                let sb = sandbox();
                let helper = compile_helper("ring_forge", &sb.dir, build);
                let log = sb.log("proc.jsonl");
                let honest = lib_path(&sb, "honest");
                // An honest reported stat (the stat fast path beneath /usr/lib) next to the
                // forgeries, and the same reads really made (the broker denies them).
                let script = format!(
                    "{} opens {} {} 4242 {} && python3 -c 'import os\nfor i in range(3):\n    try: os.stat(\"{honest}\")\n    except OSError: pass' && ! head -c1 /proc/1/environ",
                    helper.display(),
                    PROTOCOL_VERSION,
                    fast_paths_frame(),
                    forged_paths.join(" "),
                );
                let o = command_all(&sb, user, &log, extra, &["sh", "-c", &script])
                    .output()
                    .unwrap();
                assert_eq!(o.status.code(), Some(0), "{tag}: {}", stderr(&o));
                // The control: every forgery landed in the ring.
                assert_eq!(
                    stdout(&o),
                    format!("forged {}\n", forged_paths.len()),
                    "{tag}"
                );
                let recs = records(&log);
                for p in forged_paths {
                    let allowed: Vec<&Value> = recs
                        .iter()
                        .filter(|r| r["type"] == "call" && r["reported"] == true)
                        .filter(|r| r["args"]["path"] == p)
                        .collect();
                    assert!(
                        allowed.is_empty(),
                        "{tag}: {p} recorded as reported: {allowed:?}"
                    );
                }
                let invalid: Vec<&str> = recs
                    .iter()
                    .filter(|r| r["type"] == "invalid_report")
                    .filter_map(|r| r["error"].as_str())
                    .collect();
                assert_eq!(invalid.len(), forged_paths.len(), "{tag}: {invalid:?}");
                // Honest reports are still checked and recorded.
                let (_, reported) = calls_on(&recs, "stat", &honest);
                assert!(reported > 0, "{tag}: {recs:?}");
                // The same read really made is denied by the broker.
                assert!(
                    recs.iter().any(|r| r["type"] == "call"
                        && r["args"]["path"] == "/proc/1/environ"
                        && r["decision"] == "deny"),
                    "{tag}"
                );
            }
        }
    }
}
