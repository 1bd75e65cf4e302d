//! Audit sinks for a host's log pipeline: RFC 5424 syslog with structured data to a UDP
//! collector, and the journal's native protocol with indexed fields (received here by a
//! socket standing in for journald).

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use arbiter_tests::{stderr, Sandbox};

fn drain_udp(sock: &std::net::UdpSocket) -> Vec<String> {
    sock.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut out = Vec::new();
    let mut buf = vec![0u8; 65536];
    while let Ok(n) = sock.recv(&mut buf) {
        out.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    out
}

#[test]
fn syslog_collector_gets_rfc5424_with_structured_data() {
    let collector = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = collector.local_addr().unwrap().port();
    let sb = Sandbox::new();
    let sink = format!("syslog://127.0.0.1:{port}");
    let o = sb.run(&["-q", "--audit", &sink], &["cat", "/etc/shadow"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let msgs = drain_udp(&collector);
    let denied = msgs
        .iter()
        .find(|m| m.contains("path=\"/etc/shadow\""))
        .unwrap_or_else(|| panic!("no record of the denied open in {msgs:#?}"));
    assert!(denied.starts_with("<13>1 "), "{denied}");
    assert!(denied.contains(" arbiter "), "{denied}");
    assert!(
        denied.contains("[arbiter@32473 type=\"call\" sandbox=\""),
        "{denied}"
    );
    assert!(denied.contains(" decision=\"deny\""), "{denied}");
    assert!(denied.contains(" errno=\"EACCES\""), "{denied}");
    // The message is the JSON record.
    let json = &denied[denied.find("] {").unwrap() + 2..];
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(v["decision"], "deny");
    assert!(msgs.iter().any(|m| m.contains(" start [arbiter@32473")));
}

#[test]
fn journal_sink_writes_native_entries_with_indexed_fields() {
    let sb = Sandbox::new();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sock");
    let journal = UnixDatagram::bind(&path).unwrap();
    journal
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    // Read while arbiter writes, as journald does: a unix datagram socket queues only a few
    // datagrams, and a full queue makes the writer wait (backpressure).
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let finished = std::sync::Arc::clone(&done);
    let reader = std::thread::spawn(move || {
        let mut entries = Vec::new();
        let mut buf = vec![0u8; 65536];
        loop {
            match journal.recv(&mut buf) {
                Ok(n) => entries.push(String::from_utf8_lossy(&buf[..n]).into_owned()),
                // Timed out: stop once arbiter has exited and everything was read.
                Err(_) if finished.load(std::sync::atomic::Ordering::SeqCst) => break,
                Err(_) => {}
            }
        }
        (journal, entries)
    });
    let o = std::process::Command::new(arbiter_tests::arbiter())
        .args([
            "run",
            "-q",
            "--audit",
            "journal",
            "--",
            "cat",
            "/etc/shadow",
        ])
        .current_dir(&sb.dir)
        .env("ARBITER_JOURNAL_SOCKET", &path)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let (journal, entries) = reader.join().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let denied = entries
        .iter()
        .find(|e| e.contains("ARBITER_PATH=/etc/shadow\n"))
        .unwrap_or_else(|| panic!("no entry for the denied open: {entries:#?}"));
    for field in [
        "ARBITER_DECISION=deny\n",
        "ARBITER_TYPE=call\n",
        "SYSLOG_IDENTIFIER=arbiter\n",
        "PRIORITY=5\n",
        "ARBITER_ERRNO=EACCES\n",
    ] {
        assert!(denied.contains(field), "{field} missing in {denied}");
    }
    assert!(denied.contains("ARBITER_SANDBOX="), "{denied}");

    // Nothing listening: arbiter refuses to start, naming the sink.
    drop(journal);
    let _ = std::fs::remove_file(&path);
    let o = std::process::Command::new(arbiter_tests::arbiter())
        .args(["run", "--audit", "journal", "--", "true"])
        .env("ARBITER_JOURNAL_SOCKET", &path)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("--audit journal"), "{}", stderr(&o));
}
