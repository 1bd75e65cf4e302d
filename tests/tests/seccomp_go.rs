//! A Go program under arbiter. Go makes its system calls itself (built with
//! `CGO_ENABLED=0` it is a static binary that never calls libc), so the shim sees nothing
//! and every file and network call below reaches the broker by seccomp notification —
//! including Go's non-blocking connect, which waits for `EINPROGRESS` to complete in epoll.
//! Skipped, with the reason printed, when no `go` toolchain is installed.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use arbiter_tests::{assert_code, bin_dir, have, outside_dir, stderr, stdout, Sandbox};

/// Builds tests/helpers/go/main.go into `dir`.
fn build(dir: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("helpers/go/main.go");
    let out = dir.join("gohelper");
    let cache = bin_dir().join("go-cache");
    let status = Command::new("go")
        .args(["build", "-o"])
        .arg(&out)
        .arg(&src)
        .env("CGO_ENABLED", "0")
        .env("GO111MODULE", "off")
        .env("GOCACHE", &cache)
        .env("GOPATH", cache.join("gopath"))
        .env("HOME", dir)
        .status()
        .expect("run go build");
    assert!(status.success(), "go build failed");
    out
}

#[test]
fn a_static_go_program_is_brokered_for_files_and_network() {
    if !have("go") {
        eprintln!("skipped: no `go` toolchain (apt-get install golang-go)");
        return;
    }
    let sb = Sandbox::new();
    let bin = build(&sb.dir);
    std::fs::write(sb.path("allowed.txt"), "hi\n").unwrap();
    let outside = outside_dir();
    let denied_file = outside.path().join("secret");
    std::fs::write(&denied_file, "secret\n").unwrap();
    let allowed = TcpListener::bind("127.0.0.1:0").unwrap();
    let denied = TcpListener::bind("127.0.0.1:0").unwrap();
    let (ap, dp) = (
        allowed.local_addr().unwrap().port().to_string(),
        denied.local_addr().unwrap().port().to_string(),
    );
    let args = [
        bin.to_str().unwrap(),
        "allowed.txt",
        denied_file.to_str().unwrap(),
        &ap,
        &dp,
    ];
    let log = sb.log("audit.log");
    let rule = format!("127.0.0.1:{ap}");
    let out = sb.run(
        &[
            "--connect",
            &rule,
            "--audit-level",
            "all",
            "--audit",
            log.to_str().unwrap(),
        ],
        &args,
    );
    assert_code(&out, 0);
    assert_eq!(
        stdout(&out),
        "read_allowed ok\nread_denied errno=13\nlist_dir ok\nwrite_cwd ok\n\
         connect_allowed ok\nconnect_denied errno=13\n",
        "stderr:\n{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read_to_string(sb.path("written-by-go.txt")).unwrap(),
        "hello\n"
    );
    let audit = std::fs::read_to_string(&log).unwrap();
    let records: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for (call, decision) in [("open", "deny"), ("connect", "allow"), ("connect", "deny")] {
        assert!(
            records.iter().any(|r| r["call"] == call
                && r["decision"] == decision
                && r["transport"] == "seccomp"),
            "no seccomp {call} {decision} record"
        );
    }

    // Negative control: natively the denied file and port are reachable.
    let native = Command::new(&bin)
        .args(&args[1..])
        .current_dir(&sb.dir)
        .output()
        .unwrap();
    let text = stdout(&native);
    assert!(text.contains("read_denied ok\n"), "{text}");
    assert!(text.contains("connect_denied ok\n"), "{text}");
}
