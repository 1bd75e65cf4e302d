//! At `--audit-level all` the shim keeps its fast paths and reports the calls they answer
//! through the report ring (docs/audit.md, "Reported calls"): the records appear, marked
//! `"reported": true`; what a hostile program writes into the ring is refused with a reason
//! (or, when well-formed, written as the claim it is) and never crashes or hangs the broker;
//! a full ring, or a path longer than a slot holds, sends calls to the broker, which records
//! them (a full ring is counted); and reports stay right from both
//! sides of a fork (each with its own pid), from a vfork child (as its parent, whose memory
//! it shares) and from a signal handler.
//!
//! Each case runs as root and, when the tests run as root, as uid 65534.

mod audit_common;
use audit_common::{command_all, fast_paths_frame, records, users, User};

use std::path::Path;
use std::process::{Output, Stdio};

use arbiter_protocol::PROTOCOL_VERSION;
use arbiter_tests::{compile_helper, outside_dir, stderr, stdout, Sandbox};
use serde_json::Value;

/// `arbiter run --audit LOG --audit-level all [extra…] -- cmd…` in the sandbox, as `user`.
fn run_all(sb: &Sandbox, user: User, log: &Path, extra: &[&str], cmd: &[&str]) -> Output {
    command_all(sb, user, log, extra, cmd)
        .output()
        .expect("run arbiter")
}

/// Call records of `name` (as given, or joined to the working directory by the broker).
fn calls_of<'a>(recs: &'a [Value], call: &str, name: &str) -> Vec<&'a Value> {
    recs.iter()
        .filter(|r| {
            r["type"] == "call"
                && r["call"] == call
                && r["args"]["path"]
                    .as_str()
                    .is_some_and(|p| p == name || p.ends_with(&format!("/{name}")))
        })
        .collect()
}

fn reported(r: &Value) -> bool {
    r["reported"] == true
}

fn make_files(sb: &Sandbox, names: &[&str]) {
    for n in names {
        std::fs::write(sb.path(n), "x\n").unwrap();
    }
    // uid 65534 writes its log here.
    std::fs::set_permissions(&sb.dir, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
}

#[test]
fn calls_answered_in_process_are_reported_and_marked() {
    for user in users() {
        let sb = Sandbox::new();
        make_files(&sb, &["a.txt", "b.txt"]);
        let log = sb.log("all.jsonl");
        // Records number processes as the broker sees them (docs/audit.md): as root the
        // sandbox has a pid namespace of its own, so the program reads its pid from the
        // host's /proc rather than os.getpid().
        let script = "import os\n\
                      print(open('/proc/self/stat').read().split()[0])\n\
                      for i in range(20):\n    os.stat('a.txt')\n    open('b.txt').close()\n\
                      try:\n    open('/etc/shadow')\nexcept OSError:\n    pass\n";
        let o = run_all(&sb, user, &log, &[], &["python3", "-c", script]);
        assert_eq!(o.status.code(), Some(0), "{user:?}: {}", stderr(&o));
        let pid: i64 = stdout(&o).trim().parse().unwrap();
        let recs = records(&log);
        let stats = calls_of(&recs, "stat", "a.txt");
        let opens = calls_of(&recs, "open", "b.txt");
        // Every call has a record; those the fast paths answered are reported.
        assert_eq!(stats.len(), 20, "{user:?}: {stats:?}");
        assert_eq!(opens.len(), 20, "{user:?}: {opens:?}");
        let rep: Vec<_> = stats.iter().chain(&opens).filter(|r| reported(r)).collect();
        assert!(
            rep.len() >= 38,
            "{user:?}: the fast paths answered and reported: {rep:?}"
        );
        for r in rep {
            assert_eq!(r["pid"], pid, "{r}");
            assert_eq!(r["decision"], "allow", "{r}");
            assert_eq!(r["transport"], "shim", "{r}");
            assert!(
                r.get("uid").is_none(),
                "no identity the kernel did not vouch for: {r}"
            );
        }
        // A denial still reaches the broker, which records it itself.
        let shadow = calls_of(&recs, "open", "/etc/shadow");
        assert_eq!(shadow.len(), 1, "{user:?}");
        assert_eq!(shadow[0]["decision"], "deny");
        assert!(shadow[0].get("reported").is_none());
        assert!(shadow[0].get("uid").is_some());
        assert!(
            !recs
                .iter()
                .any(|r| r["type"] == "invalid_report" || r["type"] == "dropped"),
            "{user:?}: an honest program's reports are all accepted"
        );
        assert_eq!(
            recs.last().unwrap()["type"],
            "exit",
            "reports precede the exit record"
        );

        // --no-fast-path keeps every call at the broker: nothing is reported.
        let log2 = sb.log("nofast.jsonl");
        let o = run_all(
            &sb,
            user,
            &log2,
            &["--no-fast-path"],
            &["python3", "-c", script],
        );
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let recs = records(&log2);
        assert_eq!(calls_of(&recs, "stat", "a.txt").len(), 20);
        assert!(!recs.iter().any(|r| r["reported"] == true));
    }
}

#[test]
fn forged_ring_entries_are_refused_with_a_reason() {
    for user in users() {
        for build in [&["-static"][..], &[][..]] {
            let sb = Sandbox::new();
            make_files(&sb, &[]);
            let helper = compile_helper("ring_forge", &sb.dir, build);
            let claimed = sb.path("forged-claim");
            let log = sb.log("all.jsonl");
            let o = run_all(
                &sb,
                user,
                &log,
                &[],
                &[
                    helper.to_str().unwrap(),
                    "forge",
                    &PROTOCOL_VERSION.to_string(),
                    &fast_paths_frame(),
                    claimed.to_str().unwrap(),
                    "4242",
                ],
            );
            // The control: the program got the ring and its writes landed in it.
            assert_eq!(
                o.status.code(),
                Some(0),
                "{user:?} {build:?}: {}",
                stderr(&o)
            );
            assert_eq!(stdout(&o), "forged 9\n", "{user:?} {build:?}");
            let recs = records(&log);
            let errors: Vec<&str> = recs
                .iter()
                .filter(|r| r["type"] == "invalid_report")
                .map(|r| r["error"].as_str().unwrap())
                .collect();
            for want in [
                "unknown call byte 9",
                "process id 0 out of range",
                "path holds a NUL byte",
                "are never answered in-process for open",
                "result 5 impossible for stat",
                "no time",
                "is outside the sandbox's life",
                // /etc/shadow lies beneath no root the read fast path was offered
                // (red team s6 finding 11: checked before the plain rules).
                "no fast path answers open of /etc/shadow",
            ] {
                assert!(
                    errors.iter().any(|e| e.contains(want)),
                    "{user:?} {build:?}: no refusal saying {want:?} in {errors:?}"
                );
            }
            let dropped: Vec<_> = recs.iter().filter(|r| r["type"] == "dropped").collect();
            assert_eq!(dropped.len(), 1, "{user:?} {build:?}");
            assert_eq!(dropped[0]["invalid"], 8);
            // A well-formed claim is written, as the program's claim.
            let forged = calls_of(&recs, "stat", claimed.to_str().unwrap());
            assert_eq!(forged.len(), 1, "{user:?} {build:?}");
            assert_eq!(forged[0]["reported"], true);
            // As root the sandbox has a pid namespace where no process is 4242: the claimed
            // number cannot be translated and is written as what it is (docs/audit.md).
            let key = match user {
                User::Root if arbiter_tests::is_root() => "ns_pid",
                _ => "pid",
            };
            assert_eq!(forged[0][key], 4242, "{user:?} {build:?}: {}", forged[0]);
            assert_eq!(recs.last().unwrap()["type"], "exit");
        }
    }
}

#[test]
fn a_scribbled_ring_never_crashes_or_hangs_the_broker() {
    for user in users() {
        for build in [&["-static"][..], &[][..]] {
            let sb = Sandbox::new();
            make_files(&sb, &["a.txt"]);
            // Outside the working directory, whose subtree stays one rule's (a fast path).
            let bin = outside_dir();
            let helper = compile_helper("ring_forge", bin.path(), build);
            let rx = bin.path().to_str().unwrap();
            let log = sb.log("all.jsonl");
            let script = format!(
                "{} scribble {} {} && python3 -c 'import os\nfor i in range(50): os.stat(\"a.txt\")\nprint(\"done\")'",
                helper.display(),
                PROTOCOL_VERSION,
                fast_paths_frame()
            );
            let o = run_all(&sb, user, &log, &["--rx", rx], &["sh", "-c", &script]);
            assert_eq!(
                o.status.code(),
                Some(0),
                "{user:?} {build:?}: {}",
                stderr(&o)
            );
            assert_eq!(stdout(&o), "scribbled\ndone\n");
            let recs = records(&log);
            // The honest program after it: every call still recorded (a ring that does not
            // look like one is not used: its calls go to the broker).
            assert_eq!(
                calls_of(&recs, "stat", "a.txt").len(),
                50,
                "{user:?} {build:?}"
            );
            assert_eq!(recs.last().unwrap()["type"], "exit");
        }
    }
}

#[test]
fn a_full_ring_sends_calls_to_the_broker_and_is_counted() {
    for user in users() {
        let sb = Sandbox::new();
        make_files(&sb, &["a.txt"]);
        let bin = outside_dir();
        let helper = compile_helper("ring_forge", bin.path(), &["-static"]);
        let rx = bin.path().to_str().unwrap();
        let log = sb.log("all.jsonl");
        // The filler keeps the ring full while the program runs: the drain skips holes a
        // second after it knew them claimed, all at once.
        let script = format!(
            "{} fill {} {} stop > filled & for i in $(seq 400); do [ -s filled ] && break; sleep 0.05; done; cat filled; python3 -c 'import os\nfor i in range(50): os.stat(\"a.txt\")\nprint(\"done\")'; touch stop; wait",
            helper.display(),
            PROTOCOL_VERSION,
            fast_paths_frame()
        );
        let o = run_all(&sb, user, &log, &["--rx", rx], &["sh", "-c", &script]);
        assert_eq!(o.status.code(), Some(0), "{user:?}: {}", stderr(&o));
        assert!(stdout(&o).starts_with("filled "), "{}", stdout(&o));
        assert!(stdout(&o).ends_with("done\n"));
        let recs = records(&log);
        let stats = calls_of(&recs, "stat", "a.txt");
        assert_eq!(stats.len(), 50, "{user:?}: every call recorded");
        // The ring stays (almost) full, and the calls went to the broker.
        let brokered = stats.iter().filter(|r| !reported(r)).count();
        assert!(brokered >= 40, "{user:?}: {brokered} brokered of 50");
        let dropped: Vec<_> = recs.iter().filter(|r| r["type"] == "dropped").collect();
        assert_eq!(dropped.len(), 1, "{user:?}");
        assert!(dropped[0]["full"].as_u64().unwrap() >= 40, "{}", dropped[0]);
        assert!(
            dropped[0]["stalled"].as_u64().unwrap() >= 1,
            "{}",
            dropped[0]
        );
    }
}

#[test]
fn fork_vfork_and_signal_handlers_report_their_own_calls() {
    for user in users() {
        let sb = Sandbox::new();
        make_files(&sb, &["pf", "cf", "vf", "main", "sig"]);
        let helper = compile_helper("ring_writer", &sb.dir, &[]);
        let h = helper.to_str().unwrap();

        let log = sb.log("fork.jsonl");
        let o = run_all(&sb, user, &log, &[], &[h, "fork", "200"]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{user:?}: {}{}",
            stdout(&o),
            stderr(&o)
        );
        let out = stdout(&o);
        let pid_of = |tag: &str| -> i64 {
            out.lines()
                .find_map(|l| l.strip_prefix(tag))
                .and_then(|p| p.trim().parse().ok())
                .unwrap()
        };
        let (parent, child) = (pid_of("parent "), pid_of("child "));
        let recs = records(&log);
        for (name, pid) in [("pf", parent), ("cf", child)] {
            let calls = calls_of(&recs, "stat", name);
            assert_eq!(calls.len(), 200, "{user:?} {name}");
            let rep: Vec<_> = calls.iter().filter(|r| reported(r)).collect();
            assert!(!rep.is_empty(), "{user:?} {name}: reported");
            assert!(
                rep.iter().all(|r| r["pid"] == pid),
                "{user:?} {name}: {rep:?}"
            );
        }

        let log = sb.log("vfork.jsonl");
        let o = run_all(&sb, user, &log, &[], &[h, "vfork"]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{user:?}: {}{}",
            stdout(&o),
            stderr(&o)
        );
        let out = stdout(&o);
        let pid_of = |tag: &str| -> i64 {
            out.lines()
                .find_map(|l| l.strip_prefix(tag))
                .and_then(|p| p.trim().parse().ok())
                .unwrap()
        };
        let (parent, child) = (pid_of("parent "), pid_of("child "));
        assert_ne!(parent, child);
        let recs = records(&log);
        let vf = calls_of(&recs, "stat", "vf");
        assert_eq!(vf.len(), 1, "{user:?}");
        assert_eq!(vf[0]["reported"], true, "{user:?}: {}", vf[0]);
        // A vfork child shares its parent's memory (and the shim's idea of the process)
        // until it execs: it reports as its parent (docs/audit.md).
        assert_eq!(vf[0]["pid"], parent, "{user:?}: {}", vf[0]);

        let log = sb.log("signal.jsonl");
        let o = run_all(&sb, user, &log, &[], &[h, "signal", "20000"]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{user:?}: {}{}",
            stdout(&o),
            stderr(&o)
        );
        let handled: usize = stdout(&o)
            .trim()
            .strip_prefix("handled ")
            .unwrap()
            .parse()
            .unwrap();
        let recs = records(&log);
        let main = calls_of(&recs, "stat", "main");
        let sig = calls_of(&recs, "stat", "sig");
        assert_eq!(main.len(), 20000, "{user:?}: every call recorded");
        assert_eq!(sig.len(), handled, "{user:?}: every handler call recorded");
        assert!(main.iter().any(|r| reported(r)), "{user:?}");
        if handled > 0 {
            assert!(
                sig.iter().any(|r| reported(r)),
                "{user:?}: a handler's calls are reported"
            );
        } else {
            println!("note: no SIGALRM arrived during the loop ({user:?})");
        }
        assert!(!recs.iter().any(|r| r["type"] == "invalid_report"));
    }
}

/// The drain formats reported records in buffers of many lines and faults the ring's pages
/// in ahead of the program: a run stopped with SIGTERM while its program reports thousands
/// of calls still has a record of every call that completed, in the order it was made, and
/// none after the `exit` record.
#[test]
fn a_run_stopped_with_sigterm_while_reporting_has_every_reported_call_in_order() {
    for user in users() {
        let sb = Sandbox::new();
        make_files(&sb, &["a.txt"]);
        let log = sb.log("term.jsonl");
        let count = sb.path("count");
        // Each round: 100 stats (answered and reported in-process), then the number of
        // completed stats is written (brokered), so every counted stat was reported first.
        let script = format!(
            "import os\nn=0\nwhile True:\n    for i in range(100):\n        os.stat('a.txt')\n    n+=100\n    fd=os.open('{c}.tmp', os.O_WRONLY|os.O_CREAT|os.O_TRUNC)\n    os.write(fd, str(n).encode()); os.close(fd); os.rename('{c}.tmp', '{c}')\n",
            c = count.display()
        );
        let mut child = command_all(&sb, user, &log, &[], &["python3", "-c", &script])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn arbiter");
        let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while std::fs::read_to_string(&count)
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0)
            < 20_000
        {
            if std::time::Instant::now() > until {
                let _ = child.kill();
                panic!("{user:?}: the load never reached 20,000 stats");
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        // SAFETY: kill with integer arguments; the child is ours and not yet reaped.
        assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
        let status = child.wait().unwrap();
        assert!(!status.success(), "{user:?}");
        let done: u64 = std::fs::read_to_string(&count).unwrap().parse().unwrap();
        let recs = records(&log);
        let stats = calls_of(&recs, "stat", "a.txt");
        let rep: Vec<_> = stats.iter().filter(|r| reported(r)).collect();
        assert!(
            stats.len() as u64 >= done,
            "{user:?}: {done} stats completed, {} recorded",
            stats.len()
        );
        // The ring carried some of them (how many depends on how fast the drain ran: a
        // full ring sends calls to the broker, which records them just the same).
        assert!(
            !rep.is_empty(),
            "{user:?}: no stat was answered by the fast path and reported"
        );
        let times: Vec<&str> = rep.iter().map(|r| r["time"].as_str().unwrap()).collect();
        assert!(
            times.windows(2).all(|w| w[0] <= w[1]),
            "{user:?}: reported records in the order the calls were made"
        );
        let exit = recs
            .iter()
            .position(|r| r["type"] == "exit")
            .expect("an exit record");
        assert!(
            recs[exit..].iter().all(|r| r["type"] != "call"),
            "{user:?}: no call record after the exit record: {:?}",
            &recs[exit..]
        );
    }
}

/// Bytes of the report ring's memfd that hold pages, read from the broker's descriptor of
/// it (`/proc/BROKER/fd/N`, named `memfd:arbiter-audit-reports`).
fn ring_bytes_allocated(broker: u32) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let fds = std::fs::read_dir(format!("/proc/{broker}/fd")).expect("the broker's fds");
    for fd in fds.flatten() {
        let target = std::fs::read_link(fd.path()).unwrap_or_default();
        if target
            .to_string_lossy()
            .starts_with("/memfd:arbiter-audit-reports")
        {
            let m = std::fs::metadata(fd.path()).expect("stat the ring's memfd");
            return m.blocks() * 512;
        }
    }
    panic!("the broker {broker} holds no report ring");
}

/// Records of the log whose lines are complete (the writer may be in the middle of one).
fn records_so_far(log: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let complete = text.rfind('\n').map_or("", |end| &text[..end]);
    complete
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

// The drain's look over the whole ring for reports published beyond a hole (made on its
// first pass and at the last drain) used to read every slot, which made the kernel allocate
// and zero all 4 MiB of the ring for every sandbox at `--audit-level all`, on the drain
// thread while the program started and freed at its end; it now reads only the pages that
// hold data.
#[test]
fn the_ring_holds_only_the_pages_its_reports_and_the_prefault_use() {
    use std::io::{BufRead, Write};
    for user in users() {
        let sb = Sandbox::new();
        make_files(&sb, &["a.txt"]);
        let log = sb.log("pages.jsonl");
        // 50 stats (`[ -e ]`), answered and reported in-process, then a wait on stdin.
        let script = "i=0; while [ $i -lt 50 ]; do [ -e a.txt ]; i=$((i+1)); done; \
                      echo ready; read x";
        let mut child = command_all(&sb, user, &log, &[], &["sh", "-c", script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn arbiter");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "{user:?}");
        // Once the drain has written the reports, it has made its first pass, which looked
        // over the whole ring (nothing was published beyond the last report).
        let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while calls_of(&records_so_far(&log), "stat", "a.txt")
            .iter()
            .filter(|r| reported(r))
            .count()
            < 50
        {
            assert!(
                std::time::Instant::now() < until,
                "{user:?}: the 50 reports never reached the log"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let allocated = ring_bytes_allocated(arbiter_tests::broker_of(child.id()));
        // The program waits, and its last report is in the log, so every report it made is.
        let reports = records_so_far(&log).iter().filter(|r| reported(r)).count() as u64;
        // The control: the pages holding the reports are counted.
        assert!(allocated >= 4096, "{user:?}: {allocated} bytes");
        // The header, the slots of the reports (128 bytes each) and the drain's prefault
        // ahead of them (1,024 slots), in pages; the whole ring is 2 MiB.
        let bound = (256 + (reports + 1024) * 128).div_ceil(4096) * 4096 + 4096;
        assert!(
            allocated <= bound,
            "{user:?}: the ring holds {allocated} bytes of pages for {reports} reports \
             (at most {bound} expected)"
        );
        child.stdin.take().unwrap().write_all(b"done\n").unwrap();
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{user:?}: {}", stderr(&o));
        let recs = records(&log);
        assert_eq!(
            calls_of(&recs, "stat", "a.txt")
                .iter()
                .filter(|r| reported(r))
                .count(),
            50,
            "{user:?}"
        );
        assert!(
            !recs
                .iter()
                .any(|r| r["type"] == "invalid_report" || r["type"] == "dropped"),
            "{user:?}"
        );
    }
}

// A slot holds a path of up to 96 bytes (128-byte slots since session 8, 224 before): a call
// on a longer path is not answered in-process at `--audit-level all` but goes to the
// broker, which records it itself, so it is still recorded, once. The control: the same
// calls on a short path are answered in-process and reported, and the long path exists
// (stat succeeds natively and under arbiter). Reporting is the shim's (a raw system call
// never reaches a fast path; the broker records those itself, tests/tests/audit_reach.rs).
#[test]
fn a_path_longer_than_a_slot_holds_is_recorded_by_the_broker() {
    let long_dir = "d".repeat(100);
    let long = format!("{long_dir}/a.txt");
    assert!(long.len() > 96 && long.len() <= 224, "{}", long.len());
    for user in users() {
        let sb = Sandbox::new();
        std::fs::create_dir(sb.path(&long_dir)).unwrap();
        make_files(&sb, &["a.txt", &long]);
        let script = format!(
            "import os\nfor i in range(10):\n    os.stat('a.txt')\n    os.stat('{long}')\n"
        );
        let native = std::process::Command::new("python3")
            .args(["-c", &script])
            .current_dir(&sb.dir)
            .output()
            .expect("python3");
        assert_eq!(native.status.code(), Some(0), "native: {}", stderr(&native));
        let log = sb.log("long.jsonl");
        let o = run_all(&sb, user, &log, &[], &["python3", "-c", &script]);
        assert_eq!(o.status.code(), Some(0), "{user:?}: {}", stderr(&o));
        let recs = records(&log);
        let short = calls_of(&recs, "stat", "a.txt");
        let short: Vec<_> = short
            .iter()
            .filter(|r| !r["args"]["path"].as_str().unwrap().contains(&long_dir))
            .collect();
        assert_eq!(short.len(), 10, "{user:?}: {short:?}");
        assert!(
            short.iter().filter(|r| reported(r)).count() >= 9,
            "{user:?}: the short path's stats are reported: {short:?}"
        );
        let longs = calls_of(&recs, "stat", &long);
        assert_eq!(
            longs.len(),
            10,
            "{user:?}: every call recorded once: {longs:?}"
        );
        for r in &longs {
            assert!(!reported(r), "{user:?}: recorded by the broker: {r}");
            assert_eq!(r["decision"], "allow", "{r}");
            assert_eq!(r["result"]["value"], 0, "{r}");
        }
        assert!(
            !recs
                .iter()
                .any(|r| r["type"] == "invalid_report" || r["type"] == "dropped"),
            "{user:?}"
        );
    }
}
