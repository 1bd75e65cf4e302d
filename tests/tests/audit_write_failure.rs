//! A log that cannot be written (a full filesystem: `/dev/full` answers every write with
//! `ENOSPC`) loses its records; `arbiter run` says so on stderr at the end, with the first
//! error, instead of nothing (red team s7, finding 01; docs/audit.md, "Delivery"). The
//! command's own exit status is kept. As root and as uid 65534; native control: a write to
//! `/dev/full` fails with "No space left on device".

use std::process::Stdio;

use arbiter_tests::{arbiter_as, invoker_and_nobody, Sandbox};

#[test]
fn a_log_that_cannot_be_written_is_reported_at_the_end_of_the_run() {
    // Native control: the device refuses writes.
    let mut full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let e = std::io::Write::write_all(&mut full, b"x\n").unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ENOSPC), "{e}");
    for nobody in invoker_and_nobody() {
        let sb = Sandbox::new();
        let mut c = arbiter_as(nobody);
        // `/dev/full` is one the default policy lets the program write: the opt-out.
        let o = c
            .args([
                "run",
                "-q",
                "--audit",
                "/dev/full",
                "--audit-in-sandbox-reach",
                "--",
                "sh",
                "-c",
                "exit 3",
            ])
            .current_dir(&sb.dir)
            .env("HOME", "/nonexistent")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(3), "{nobody}: {err}");
        assert!(
            err.contains("arbiter: audit: writing the log failed")
                && err.contains("No space left on device")
                && err.contains("records are missing"),
            "{nobody}: {err}"
        );
    }
}
