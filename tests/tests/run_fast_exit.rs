//! At the end of a run the broker reports the exit status to the guardian (the pid the user
//! started), which exits with it at once instead of waiting for the broker's own exit
//! (`broker/src/sandbox/guardian.rs`, docs/process-model.md). Whatever the run writes —
//! the command's output, arbiter's denial lines and summary, the audit log's `exit` record —
//! is complete when arbiter's status is known, and the status is the command's, exit codes
//! and signals alike. The outputs go to files (not pipes, whose end of file would wait for
//! the broker anyway) and are read the moment arbiter has been waited for. As root and as
//! uid 65534.

use std::process::{Command, ExitStatus, Stdio};

use arbiter_tests::{arbiter_as, invoker_and_nobody, Sandbox};

/// Runs `arbiter run EXTRA -- CMD` in `sb` (as uid 65534 with `nobody`), stdout and stderr
/// to files in `sb`; returns its status and what the files hold once it has been waited for.
fn run(sb: &Sandbox, nobody: bool, extra: &[&str], cmd: &[&str]) -> (ExitStatus, String, String) {
    let out = sb.path("out.txt");
    let err = sb.path("err.txt");
    let mut c = arbiter_as(nobody);
    c.arg("run")
        .args(extra)
        .arg("--")
        .args(cmd)
        .current_dir(&sb.dir)
        .env("HOME", "/nonexistent")
        .env_remove("LD_LIBRARY_PATH")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap());
    let status = c.status().expect("run arbiter");
    (
        status,
        std::fs::read_to_string(&out).unwrap(),
        std::fs::read_to_string(&err).unwrap(),
    )
}

#[test]
fn the_status_is_the_commands_exit_codes_and_signals_alike() {
    for nobody in invoker_and_nobody() {
        let sb = Sandbox::new();
        for (script, code) in [
            ("exit 0", 0),
            ("exit 1", 1),
            ("exit 7", 7),
            ("exit 255", 255),
            ("kill -TERM $$", 128 + 15),
            ("kill -KILL $$", 128 + 9),
        ] {
            // Native control: the shell itself ends so.
            let native = Command::new("sh").args(["-c", script]).status().unwrap();
            use std::os::unix::process::ExitStatusExt;
            let native_code = native
                .code()
                .unwrap_or_else(|| 128 + native.signal().unwrap());
            assert_eq!(native_code, code, "native {script}");
            let (status, _, err) = run(&sb, nobody, &["-q"], &["sh", "-c", script]);
            assert_eq!(status.code(), Some(code), "nobody={nobody} {script}: {err}");
        }
    }
}

#[test]
fn everything_the_run_writes_is_written_when_its_status_is_known() {
    for nobody in invoker_and_nobody() {
        let sb = Sandbox::new();
        let log = sb.log("audit.jsonl");
        // Native control: the secret is unreadable to the sandbox's policy only (as root
        // natively readable; as uid 65534 natively refused as well, which the line shows).
        let (status, out, err) = run(
            &sb,
            nobody,
            &["--audit", log.to_str().unwrap()],
            &["sh", "-c", "echo out; cat /etc/shadow >/dev/null; exit 3"],
        );
        assert_eq!(status.code(), Some(3), "nobody={nobody}: {err}");
        assert_eq!(out, "out\n", "nobody={nobody}");
        assert!(
            err.lines()
                .any(|l| l.starts_with("arbiter: denied open /etc/shadow")),
            "nobody={nobody}: the denial line: {err}"
        );
        assert!(
            err.lines()
                .last()
                .is_some_and(|l| l.contains("call(s) denied")),
            "nobody={nobody}: the summary, last: {err}"
        );
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(text.ends_with('\n'), "a whole last record: {text}");
        let last: serde_json::Value =
            serde_json::from_str(text.lines().last().unwrap()).expect("JSON");
        assert_eq!(last["type"], "exit", "nobody={nobody}: {last}");
        assert_eq!(last["status"], 3, "nobody={nobody}: {last}");
    }
}
