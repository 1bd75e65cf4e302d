//! `arbiter learn` writes a policy under which the same run succeeds with no denial, and
//! `--merge` extends a policy without losing the user's comments and order.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;

use arbiter_tests::{arbiter, assert_code, have, stderr, Sandbox};

/// Learns a policy for `cmd`, resets the directory with `reset`, replays under the policy
/// with an audit log, and asserts success with no denial.
fn learn_then_replay(sb: &Sandbox, cmd: &[&str], reset: impl Fn()) -> String {
    let learn = Command::new(arbiter())
        .args(["learn", "-o", "learned.toml", "--"])
        .args(cmd)
        .current_dir(&sb.dir)
        .output()
        .unwrap();
    assert_code(&learn, 0);
    let policy = std::fs::read_to_string(sb.path("learned.toml")).unwrap();
    assert!(policy.contains("extends = [\"runtime\"]"), "{policy}");
    reset();
    let log = sb.log("replay.jsonl");
    let replay = sb.run(
        &[
            "--policy",
            "./learned.toml",
            "--audit-level",
            "all",
            "--audit",
            log.to_str().unwrap(),
        ],
        cmd,
    );
    assert_code(&replay, 0);
    let audit = std::fs::read_to_string(&log).unwrap();
    let denied: Vec<&str> = audit
        .lines()
        .filter(|l| l.contains("\"decision\":\"deny\""))
        .collect();
    assert!(
        denied.is_empty(),
        "denials under the learned policy:\n{}\npolicy:\n{policy}",
        denied.join("\n")
    );
    policy
}

#[test]
fn a_learned_python_policy_replays_without_denials() {
    let sb = Sandbox::new();
    std::fs::write(sb.path("in.txt"), "data").unwrap();
    let script =
        "import os\nprint(open('in.txt').read())\nopen('out.txt','w').write('x')\nos.mkdir('d')";
    let policy = learn_then_replay(&sb, &["python3", "-c", script], || {
        let _ = std::fs::remove_dir(sb.path("d"));
        let _ = std::fs::remove_file(sb.path("out.txt"));
    });
    assert!(
        policy.contains("path = \"$PWD\""),
        "work in the working directory folds into $PWD:\n{policy}"
    );
    assert!(!policy.contains("path = \"/\"\n"), "{policy}");
}

#[test]
fn a_learned_git_policy_replays_without_denials() {
    let sb = Sandbox::new();
    std::fs::write(sb.path("README"), "hi\n").unwrap();
    let script = "rm -rf .git && git init -q . && git add README && git -c user.name=t -c user.email=t@e commit -q -m first";
    learn_then_replay(&sb, &["bash", "-c", script], || {});
}

/// A loopback HTTP server answering `n` requests with "ok".
fn http_server(n: usize) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in listener.incoming().take(n) {
            let Ok(mut s) = s else { return };
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok");
        }
    });
    port
}

#[test]
fn a_learned_python_client_policy_connects_by_host_name() {
    let port = http_server(2);
    let sb = Sandbox::new();
    let script = format!(
        "import urllib.request\nprint(urllib.request.urlopen('http://localhost:{port}/').read())"
    );
    let policy = learn_then_replay(&sb, &["python3", "-c", &script], || {});
    assert!(
        policy.contains("host = \"localhost\""),
        "connect rules go by host name:\n{policy}"
    );
    assert!(
        policy.contains("[[resolve]]\nname = \"localhost\""),
        "{policy}"
    );
}

#[test]
fn a_learned_curl_policy_replays() {
    if !have("curl") {
        eprintln!("skipped: curl is not installed");
        return;
    }
    // curl resolves "localhost" itself (RFC 6761), so it connects by address here.
    let port = http_server(2);
    let sb = Sandbox::new();
    let url = format!("http://127.0.0.1:{port}/");
    let policy = learn_then_replay(&sb, &["curl", "-s", &url], || {});
    assert!(policy.contains(&format!("ports = \"{port}\"")), "{policy}");
}

#[test]
fn merge_keeps_comments_and_order_and_adds_what_was_missing() {
    let sb = Sandbox::new();
    let original = "# My policy, with my comments.\nversion = 1\nextends = [\"runtime\"]\n\n# the project directory\n[[fs]]\npath = \"$PWD\"\nallow = \"rw\" # keep me\n";
    std::fs::write(sb.path("p.toml"), original).unwrap();
    let outside = tempfile::Builder::new()
        .prefix("arbiter-merge-")
        .tempdir_in("/var/tmp")
        .unwrap();
    let data = outside.path().join("data.txt");
    std::fs::write(&data, "x").unwrap();
    let o = Command::new(arbiter())
        .args([
            "learn",
            "--merge",
            "p.toml",
            "--",
            "cat",
            data.to_str().unwrap(),
        ])
        .current_dir(&sb.dir)
        .output()
        .unwrap();
    assert_code(&o, 0);
    let merged = std::fs::read_to_string(sb.path("p.toml")).unwrap();
    assert!(
        merged.starts_with(original.trim_end()),
        "the user's text changed:\n{merged}"
    );
    assert!(
        merged.contains(&format!("path = \"{}\"", data.display())),
        "{merged}"
    );
    let replay = sb.run(&["--policy", "./p.toml"], &["cat", data.to_str().unwrap()]);
    assert_code(&replay, 0);
}

#[test]
fn audit_summary_counts_denials_and_names_rules() {
    let sb = Sandbox::new();
    let log = sb.log("a.jsonl");
    let o = sb.run(
        &["--audit-level", "all", "--audit", log.to_str().unwrap()],
        &[
            "sh",
            "-c",
            "cat /etc/hostname; cat /etc/shadow; cat /etc/shadow",
        ],
    );
    assert_code(&o, 1);
    let s = Command::new(arbiter())
        .args(["audit", "summary", "--top", "50", log.to_str().unwrap()])
        .current_dir(&sb.dir)
        .output()
        .unwrap();
    assert_code(&s, 0);
    let text = String::from_utf8_lossy(&s.stdout);
    assert!(
        text.contains("     2  /etc/shadow"),
        "{text}\n{}",
        stderr(&s)
    );
    assert!(text.contains("builtin:default"), "{text}");
}
