//! `arbiter serve` takes `arbiter run`'s audit options and writes the same record shapes.

mod serve_common;

use std::path::Path;

use arbiter_tests::{assert_code, Sandbox};
use serve_common::{records, run_client, scratch, wait_records, Daemon};

fn start(dir: &Path, extra: &[&str]) -> (Daemon, String) {
    let sock = dir.join("s").to_str().unwrap().to_owned();
    let mut args = vec!["--listen", sock.as_str(), "--mode", "0666"];
    args.extend_from_slice(extra);
    let mut d = Daemon::start(dir, &args);
    d.wait_listening();
    (d, sock)
}

/// The JSON type of each of `keys` in `r`, as a name.
fn shape(r: &serde_json::Value, keys: &[&str]) -> Vec<(String, &'static str)> {
    keys.iter()
        .map(|k| {
            let t = match &r[*k] {
                serde_json::Value::Null => "null",
                serde_json::Value::Bool(_) => "bool",
                serde_json::Value::Number(_) => "number",
                serde_json::Value::String(_) => "string",
                serde_json::Value::Array(_) => "array",
                serde_json::Value::Object(_) => "object",
            };
            (k.to_string(), t)
        })
        .collect()
}

#[test]
fn start_and_exit_records_have_the_shapes_run_writes() {
    let sb = Sandbox::new();
    let run_log = sb.log("run.log");
    let o = sb.run(
        &["--audit-level", "all", "--audit", run_log.to_str().unwrap()],
        &["sh", "-c", "cat /etc/hostname; exit 4"],
    );
    assert_code(&o, 4);
    let dir = scratch();
    let log = dir.path().join("audit.log");
    let (_d, sock) = start(
        dir.path(),
        &[
            "--audit-level",
            "all",
            "--audit",
            log.to_str().unwrap(),
            "--audit-fsync",
        ],
    );
    let o = run_client(
        &sock,
        &sb.dir,
        false,
        &[],
        &["sh", "-c", "cat /etc/hostname; exit 4"],
    );
    assert_code(&o, 4);
    wait_records(&log, "the exit record", |r| {
        r.iter().any(|r| r["type"] == "exit")
    });
    let ran = records(&run_log);
    let served = records(&log);
    for (kind, keys) in [
        ("start", &["command", "policy", "sandbox", "time", "v"][..]),
        ("exit", &["pid", "status", "sandbox", "time", "v"][..]),
    ] {
        let a = ran.iter().find(|r| r["type"] == kind).unwrap();
        let b = served.iter().find(|r| r["type"] == kind).unwrap();
        assert_eq!(shape(a, keys), shape(b, keys), "{kind}: {a} against {b}");
        if kind == "start" {
            assert_eq!(a["command"], b["command"]);
            assert_eq!(
                shape(&a["policy"], &["digest", "sources"]),
                shape(&b["policy"], &["digest", "sources"])
            );
        } else {
            assert_eq!(b["status"], 4);
        }
    }
    // The same call records, for the same file.
    for r in [&ran, &served] {
        assert!(r.iter().any(|r| r["type"] == "call"
            && r["call"] == "open"
            && r["args"]["path"] == "/etc/hostname"
            && r["decision"] == "allow"));
    }
}

#[test]
fn the_text_format_and_the_stderr_sink_work_as_under_run() {
    let dir = scratch();
    let (d, sock) = start(dir.path(), &["--audit", "-", "--audit-format", "text"]);
    let sb = Sandbox::new();
    let o = run_client(&sock, &sb.dir, false, &[], &["cat", "/etc/hostname"]);
    assert_code(&o, 0);
    // Human lines on the daemon's stderr, not JSON.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let err = d.err();
        if err.contains("/etc/hostname") {
            assert!(!err.lines().any(|l| l.starts_with('{')), "{err}");
            break;
        }
        assert!(std::time::Instant::now() < until, "no text records: {err}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Finding 05 of the red team: a client's hand-written hello put a newline (and a forged
/// record after it) into the text log's `claimed_cwd`. Every field is now escaped: the
/// forged text stays inside the genuine `start` line.
#[test]
fn the_text_format_escapes_control_characters_in_client_fields() {
    use arbiter_protocol::daemon::{Hello, DAEMON_VERSION};
    use serve_common::{raw_connect, read_reply, send_raw};
    let dir = scratch();
    let log = dir.path().join("audit.txt");
    let (_d, sock) = start(
        dir.path(),
        &["--audit", log.to_str().unwrap(), "--audit-format", "text"],
    );
    let forged = b"/home/alice\n08:44:00.000001 start FORGED uid=0\r\x1b[2K\\x";
    let mut buf = vec![0u8; arbiter_protocol::MAX_MESSAGE];
    let h = Hello {
        version: DAEMON_VERSION,
        profile: None,
        cwd: forged,
        argv: b"true\nFORGED-ARG\0",
    };
    let bytes = arbiter_protocol::encode(&h, &mut buf).unwrap().to_vec();
    let fd = raw_connect(&sock);
    assert!(send_raw(&fd, &bytes) > 0);
    let _bootstrap = read_reply(&fd).expect("accepted");
    let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let text = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("claimed_cwd=") {
            break text;
        }
        assert!(std::time::Instant::now() < until, "no start line: {text}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let start_lines: Vec<&str> = text.lines().filter(|l| l.contains("FORGED")).collect();
    assert_eq!(
        start_lines.len(),
        1,
        "the forged text must stay on one line: {text}"
    );
    let l = start_lines[0];
    assert!(
        l.contains(" start ") && l.contains("claimed_cwd=/home/alice\\n08:44"),
        "{l}"
    );
    assert!(
        l.contains("\\r\\e[2K\\\\x"),
        "CR, ESC and the backslash escaped: {l}"
    );
    assert!(
        l.contains("true\\\\nFORGED-ARG") || l.contains("true\\nFORGED-ARG"),
        "{l}"
    );
    assert!(!text.contains('\r') && !text.contains('\u{1b}'), "{text:?}");
}
