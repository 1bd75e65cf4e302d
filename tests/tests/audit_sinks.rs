//! Audit sinks and formats: human lines, fsync'd files, syslog, and reopening a rotated
//! file on SIGHUP while SIGHUP still reaches the command.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use arbiter_tests::{arbiter, assert_code, stderr, Sandbox};

fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(20);
    while !ok() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

#[test]
fn text_format_writes_one_human_line_per_record() {
    let sb = Sandbox::new();
    let o = sb.run(
        &[
            "--audit-level",
            "all",
            "--audit",
            "-",
            "--audit-format",
            "text",
        ],
        &["cat", "/etc/shadow"],
    );
    assert_code(&o, 1);
    let err = stderr(&o);
    let line = err
        .lines()
        .find(|l| l.contains(" cat open /etc/shadow "))
        .unwrap_or_else(|| panic!("no line for the denied open:\n{err}"));
    assert!(
        line.contains(" cat open /etc/shadow [O_RDONLY] → deny ("),
        "{line}"
    );
    assert!(line.ends_with(" EACCES"), "{line}");
    assert!(err.lines().any(|l| l.contains(" exit ")), "{err}");
    assert!(!err.contains("{\"type\""), "no JSON in text mode: {err}");
}

#[test]
fn audit_fsync_still_writes_every_record() {
    let sb = Sandbox::new();
    let log = sb.log("audit.jsonl");
    let o = sb.run(
        &[
            "--audit-level",
            "all",
            "--audit",
            log.to_str().unwrap(),
            "--audit-fsync",
        ],
        &["cat", "/etc/hostname"],
    );
    assert_code(&o, 0);
    let text = read(&log);
    assert!(text.contains("\"/etc/hostname\""), "{text}");
    assert!(text.lines().last().unwrap().contains("\"type\":\"exit\""));
}

#[test]
fn syslog_sink_without_dev_log_fails_clearly() {
    if Path::new("/dev/log").exists() {
        eprintln!("skipped: /dev/log exists here, the error path cannot be exercised");
        return;
    }
    let sb = Sandbox::new();
    let o = sb.run(&["--audit", "syslog"], &["true"]);
    assert_code(&o, 125);
    assert!(stderr(&o).contains("/dev/log"), "{}", stderr(&o));
}

#[test]
fn sighup_reopens_the_log_file_and_still_reaches_the_command() {
    let sb = Sandbox::new();
    let log = sb.log("audit.jsonl");
    let rotated = sb.log("audit.jsonl.1");
    // The command waits for its own SIGHUP (relayed by arbiter), then opens /etc/passwd.
    let script = "trap 'touch hupped' HUP; cat /etc/hostname >/dev/null; \
                  while [ ! -e hupped ]; do sleep 0.05; done; cat /etc/passwd >/dev/null";
    let mut child = Command::new(arbiter())
        .args([
            "run",
            "--audit-level",
            "all",
            "--audit",
            log.to_str().unwrap(),
            "--",
            "sh",
            "-c",
            script,
        ])
        .current_dir(&sb.dir)
        .stdin(Stdio::null())
        .env_remove("LD_LIBRARY_PATH")
        .spawn()
        .expect("run arbiter");
    wait_for("the first open in the log", || {
        read(&log).contains("\"/etc/hostname\"")
    });
    std::fs::rename(&log, &rotated).unwrap();
    // SAFETY: kill with integer arguments only; the child is ours and not yet reaped.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGHUP) }, 0);
    let until = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > until {
            let _ = child.kill();
            panic!("arbiter did not finish");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    let old = read(&rotated);
    let new = read(&log);
    assert!(old.contains("\"/etc/hostname\""), "{old}");
    assert!(
        !old.contains("\"/etc/passwd\""),
        "after SIGHUP, records go to the new file"
    );
    assert!(new.contains("\"/etc/passwd\""), "{new}");
    assert!(
        new.lines().last().unwrap().contains("\"type\":\"exit\""),
        "{new}"
    );
}
