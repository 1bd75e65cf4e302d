//! No audit record is silently lost: with a sink slower than the program, the program waits
//! (backpressure) and every record arrives; with `--audit-drop` it does not wait, and the
//! `exit` record says how many were dropped.
//!
//! The sink is a FIFO the test reads slowly; `--audit-queue` makes the queue tiny so the
//! pipe buffer, not the queue, is what fills.

use std::ffi::CString;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use arbiter_tests::{arbiter, Sandbox};
use serde_json::Value;

/// Calls the program makes: stats of /etc/hostname by the shell's `[ -e ]` builtin.
const CALLS: usize = 1000;

fn script() -> String {
    format!("i=0; while [ $i -lt {CALLS} ]; do [ -e /etc/hostname ]; i=$((i+1)); done; echo done")
}

fn mkfifo(path: &Path) {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: c is NUL-terminated.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

fn spawn(sb: &Sandbox, fifo: &Path, extra: &[&str]) -> Child {
    Command::new(arbiter())
        .arg("run")
        .args(["--audit-level", "all", "--audit"])
        .arg(fifo)
        .args(["--audit-queue", "1"])
        .args(extra)
        .args(["--", "sh", "-c", &script()])
        .current_dir(&sb.dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("LD_LIBRARY_PATH")
        .spawn()
        .expect("run arbiter")
}

/// Reads the FIFO in small pieces with a pause between them, once `go` says so.
fn slow_reader(fifo: PathBuf, go: mpsc::Receiver<()>) -> std::thread::JoinHandle<Vec<Value>> {
    std::thread::spawn(move || {
        // Opening blocks until arbiter opens its end.
        let mut f = std::fs::File::open(&fifo).expect("open fifo");
        let _ = go.recv();
        let mut all = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            match f.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => all.extend_from_slice(&chunk[..n]),
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        all.split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).expect("each line is JSON"))
            .collect()
    })
}

fn wait_bounded(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let until = Instant::now() + limit;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if Instant::now() > until {
            let _ = child.kill();
            panic!("arbiter did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stats(recs: &[Value]) -> usize {
    recs.iter()
        .filter(|r| r["type"] == "call" && r["args"]["path"] == "/etc/hostname")
        .count()
}

#[test]
fn with_backpressure_every_call_is_recorded_despite_a_slow_sink() {
    let sb = Sandbox::new();
    let fifo = sb.log("audit.fifo");
    mkfifo(&fifo);
    let (go, ready) = mpsc::channel();
    let reader = slow_reader(fifo.clone(), ready);
    let mut child = spawn(&sb, &fifo, &[]);
    go.send(()).unwrap();
    let status = wait_bounded(&mut child, Duration::from_secs(60));
    assert!(status.success(), "{status:?}");
    let recs = reader.join().unwrap();
    assert_eq!(
        stats(&recs),
        CALLS,
        "every call the program made is in the log"
    );
    let exit = recs.last().unwrap();
    assert_eq!(exit["type"], "exit");
    assert!(exit.get("dropped").is_none(), "{exit}");
}

#[test]
fn with_audit_drop_a_stalled_sink_does_not_block_the_run_and_drops_are_counted() {
    let sb = Sandbox::new();
    let fifo = sb.log("audit.fifo");
    mkfifo(&fifo);
    let (go, ready) = mpsc::channel();
    let reader = slow_reader(fifo.clone(), ready);
    let mut child = spawn(&sb, &fifo, &["--audit-drop"]);
    // The reader reads nothing until the program has finished all its calls: were the
    // program waiting for the log, it would never get there.
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = out.read_line(&mut line);
        let _ = done_tx.send(line);
    });
    let line = done_rx.recv_timeout(Duration::from_secs(60));
    go.send(()).unwrap();
    let status = wait_bounded(&mut child, Duration::from_secs(60));
    assert_eq!(
        line.as_deref().map(str::trim),
        Ok("done"),
        "the program finished while the log was stalled"
    );
    assert!(status.success(), "{status:?}");
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let recs = reader.join().unwrap();
    let exit = recs.last().unwrap();
    assert_eq!(exit["type"], "exit", "the exit record is never dropped");
    let dropped = exit["dropped"].as_u64().expect("exit reports dropped");
    assert!(dropped > 0, "{exit}");
    assert!(stats(&recs) < CALLS);
    assert!(
        err.contains(&format!("{dropped} records dropped")),
        "stderr says so too: {err}"
    );
    assert_eq!(
        recs[0]["type"], "start",
        "the start record is never dropped"
    );
}
