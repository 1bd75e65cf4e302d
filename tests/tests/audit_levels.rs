//! What the audit log keeps: the run-wide `--audit-level` and each rule's `audit` setting,
//! honoured on every transport; log files private to their owner; every record of a killed
//! run on disk.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use arbiter_tests::{arbiter, compile_helper, stderr, Sandbox};

fn records(log: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON record"))
        .collect()
}

fn calls<'a>(recs: &'a [serde_json::Value], path: &str) -> Vec<&'a serde_json::Value> {
    recs.iter()
        .filter(|r| r["type"] == "call" && r["args"]["path"] == path)
        .collect()
}

#[test]
fn the_default_level_records_denials_not_allows() {
    let sb = Sandbox::new();
    let log = sb.log("a.jsonl");
    let o = sb.run(
        &["-q", "--audit", log.to_str().unwrap()],
        &["cat", "/etc/hostname", "/etc/shadow"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let recs = records(&log);
    assert!(
        calls(&recs, "/etc/hostname").is_empty(),
        "an allow is not recorded"
    );
    let denied = calls(&recs, "/etc/shadow");
    assert_eq!(denied.len(), 1);
    assert_eq!(denied[0]["decision"], "deny");
    assert!(recs
        .iter()
        .all(|r| r["type"] != "call" || r["decision"] == "deny"));

    let all = sb.log("all.jsonl");
    let o = sb.run(
        &[
            "-q",
            "--audit",
            all.to_str().unwrap(),
            "--audit-level",
            "all",
        ],
        &["cat", "/etc/hostname", "/etc/shadow"],
    );
    assert_eq!(o.status.code(), Some(1));
    let recs = records(&all);
    assert_eq!(calls(&recs, "/etc/hostname")[0]["decision"], "allow");
    assert_eq!(calls(&recs, "/etc/shadow")[0]["decision"], "deny");
}

#[test]
fn a_rules_audit_setting_overrides_the_level_on_both_transports() {
    let sb = Sandbox::new();
    let dir = sb.path("data");
    std::fs::create_dir(&dir).unwrap();
    for f in ["watched.txt", "quiet.txt", "plain.txt"] {
        std::fs::write(dir.join(f), "x").unwrap();
    }
    let d = dir.display();
    let policy = sb.path("p.toml");
    std::fs::write(
        &policy,
        format!(
            "version = 1\nextends = [\"default\"]\n\
             [[fs]]\npath = \"{d}/watched.txt\"\nallow = \"ro\"\naudit = \"all\"\n\
             [[fs]]\npath = \"{d}/quiet.txt\"\ndeny = true\naudit = \"silent\"\n\
             [[fs]]\npath = \"{d}/plain.txt\"\ndeny = true\naudit = \"deny\"\n"
        ),
    )
    .unwrap();
    // The shim transport (cat through libc) and the seccomp transport (raw syscalls from a
    // static helper) must agree.
    let helper = compile_helper("seccomp_raw", &sb.dir, &["-static"]);
    let files = [
        format!("{d}/watched.txt"),
        format!("{d}/quiet.txt"),
        format!("{d}/plain.txt"),
    ];
    for (name, cmd) in [
        ("shim", vec!["cat".to_owned()]),
        ("seccomp", vec![helper.to_str().unwrap().to_owned()]),
    ] {
        for file in &files {
            let log = sb.log(&format!("{name}.jsonl"));
            let _ = std::fs::remove_file(&log);
            let mut args: Vec<String> = cmd.clone();
            args.push(file.clone());
            let o = sb.run(
                &[
                    "-q",
                    "--policy",
                    policy.to_str().unwrap(),
                    "--audit",
                    log.to_str().unwrap(),
                ],
                &args,
            );
            let recs = records(&log);
            let got = calls(&recs, file);
            let want = if file.ends_with("watched.txt") {
                Some("allow")
            } else if file.ends_with("plain.txt") {
                Some("deny")
            } else {
                None
            };
            match want {
                Some(decision) => {
                    assert!(
                        got.iter().any(|r| r["decision"] == decision),
                        "{name} {file}: {got:?} {}",
                        stderr(&o)
                    );
                }
                None => assert!(got.is_empty(), "{name} {file}: silent, yet {got:?}"),
            }
        }
    }
}

#[test]
fn new_log_files_are_private_and_rotation_keeps_the_mode() {
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::new();
    let log = sb.log("private.jsonl");
    let o = sb.run(&["-q", "--audit", log.to_str().unwrap()], &["true"]);
    assert_eq!(o.status.code(), Some(0));
    let mode = std::fs::metadata(&log).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "a new audit log is {mode:o}");
    // An existing file keeps its mode.
    let shared = sb.log("shared.jsonl");
    std::fs::write(&shared, "").unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o640)).unwrap();
    let o = sb.run(&["-q", "--audit", shared.to_str().unwrap()], &["true"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        std::fs::metadata(&shared).unwrap().permissions().mode() & 0o777,
        0o640
    );
}

#[test]
fn a_run_stopped_with_sigterm_under_load_has_every_record_on_disk() {
    let sb = Sandbox::new();
    let log = sb.log("load.jsonl");
    let count = sb.path("count");
    // Each loop: one denied open (a record), then the count of completed calls is written.
    // The broker queues a call's record before it answers, so every counted call has one.
    let script = format!(
        "import os\nn=0\nwhile True:\n    try: open('/etc/shadow')\n    except OSError: pass\n    n+=1\n    fd=os.open('{c}.tmp', os.O_WRONLY|os.O_CREAT|os.O_TRUNC)\n    os.write(fd, str(n).encode()); os.close(fd); os.rename('{c}.tmp', '{c}')\n",
        c = count.display()
    );
    let mut child = Command::new(arbiter())
        .args(["run", "-q", "--audit"])
        .arg(&log)
        .args(["--", "python3", "-c", &script])
        .current_dir(&sb.dir)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .env_remove("LD_LIBRARY_PATH")
        .spawn()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(30);
    while std::fs::read_to_string(&count)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(0)
        < 200
    {
        assert!(Instant::now() < until, "the load never started");
        std::thread::sleep(Duration::from_millis(10));
    }
    // SAFETY: kill with integer arguments; the child is ours and not yet reaped.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let status = child.wait().unwrap();
    assert!(!status.success());
    let done: u64 = std::fs::read_to_string(&count).unwrap().parse().unwrap();
    let recs = records(&log);
    let denied = calls(&recs, "/etc/shadow").len() as u64;
    assert!(
        denied >= done,
        "{done} calls completed but only {denied} records on disk"
    );
    // The exit record is there (a channel torn down by the kill may still add a
    // protocol_error after it).
    let exit = recs
        .iter()
        .find(|r| r["type"] == "exit")
        .expect("an exit record");
    assert!(exit["status"].is_number(), "{exit}");
    assert!(
        recs.iter()
            .skip_while(|r| r["type"] != "exit")
            .all(|r| r["type"] != "call"),
        "no call record after the exit record"
    );
}
