//! Nothing outlives a sandbox served by `arbiter serve`: when the command exits, or the
//! daemon ends the sandbox, every process of it is gone (a background job, a process that
//! called `setsid` and was re-parented) and its TMPDIR is removed; a daemon stopped under
//! load writes every audit record up to the last.

mod serve_common;

use std::path::Path;
use std::process::Command;

use arbiter_tests::{is_root, stderr, stdout, Sandbox};
use serve_common::{
    client, output_within, records, scratch, start_for_both_users, wait_records, Daemon,
};

fn start(dir: &Path, extra: &[&str]) -> (Daemon, String) {
    let mut args = vec!["--audit-level", "all"];
    args.extend_from_slice(extra);
    start_for_both_users(dir, "", &args)
}

/// Whether a process `pid` runs `sleep ARG` (a reused pid runs something else).
fn sleeping(pid: i32, arg: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|c| c == format!("sleep\0{arg}\0").as_bytes())
}

/// Whether `pid` is still one of the processes [`LEAVE_BEHIND`] makes (before or after
/// their `exec` of `sleep`; a reused pid runs something else).
fn one_of_ours(pid: i32) -> bool {
    let Ok(c) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let ours = [
        "sleep\x001000\0".to_owned(),
        "sleep\x001001\0".to_owned(),
        format!("sh\0-c\0{LEAVE_BEHIND}\0"),
        "sh\0-c\0echo $$ > detached; exec sleep 1001\0".to_owned(),
    ];
    ours.iter().any(|o| c == o.as_bytes())
}

/// Waits (at most 30 s) until `pid` runs `sleep ARG`.
fn wait_sleeping(pid: i32, arg: &str) {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !sleeping(pid, arg) {
        assert!(
            std::time::Instant::now() < until,
            "{pid} never ran sleep {arg}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn pid_in(dir: &Path, name: &str) -> i32 {
    std::fs::read_to_string(dir.join(name))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Leaves a background `sleep 1000` and a `setsid`-detached `sleep 1001` behind, records
/// their pids and its TMPDIR, and exits 3.
const LEAVE_BEHIND: &str = "sleep 1000 & echo $! > bg; \
     setsid sh -c 'echo $$ > detached; exec sleep 1001' & \
     echo \"$TMPDIR\" > tmp; touch \"$TMPDIR/left\"; \
     while [ ! -s detached ]; do sleep 0.01; done; exit 3";

#[test]
fn when_the_command_exits_its_leftover_processes_and_tmpdir_are_gone() {
    // The control: natively, the same command leaves both sleeps running.
    let native = Sandbox::new();
    let st = Command::new("sh")
        .args(["-c", LEAVE_BEHIND])
        .current_dir(&native.dir)
        .status()
        .unwrap();
    assert_eq!(st.code(), Some(3));
    let (bg, detached) = (pid_in(&native.dir, "bg"), pid_in(&native.dir, "detached"));
    wait_sleeping(bg, "1000");
    wait_sleeping(detached, "1001");
    let survived = sleeping(bg, "1000") && sleeping(detached, "1001");
    // SAFETY: kill with integer arguments (our own leftovers).
    unsafe {
        libc::kill(bg, libc::SIGKILL);
        libc::kill(detached, libc::SIGKILL);
    }
    assert!(survived, "the control leaves its processes behind");

    let dir = scratch();
    let (_d, sock) = start(dir.path(), &[]);
    let log = dir.path().join("audit.log");
    let users: &[bool] = if is_root() { &[false, true] } else { &[false] };
    for (i, &nobody) in users.iter().enumerate() {
        let sb = Sandbox::new();
        let o = output_within(
            client(&sock, &sb.dir, nobody, &[], &["sh", "-c", LEAVE_BEHIND]),
            60,
        );
        assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
        let (bg, detached) = (pid_in(&sb.dir, "bg"), pid_in(&sb.dir, "detached"));
        assert!(!one_of_ours(bg), "the background job is gone");
        assert!(!one_of_ours(detached), "the detached process is gone");
        let tmp = std::fs::read_to_string(sb.path("tmp")).unwrap();
        wait_records(&log, "the sandbox's exit", |r| {
            r.iter().filter(|r| r["type"] == "exit").count() == i + 1
        });
        assert!(
            !Path::new(tmp.trim()).exists(),
            "the sandbox's TMPDIR {} is removed",
            tmp.trim()
        );
        // The exit record carries the command's status, as under `arbiter run`.
        let r = records(&log);
        let exit = r.iter().rfind(|r| r["type"] == "exit").unwrap();
        assert_eq!(exit["status"], 3, "{exit}");
    }
}

#[test]
fn when_the_daemon_ends_a_sandbox_every_process_of_it_is_gone() {
    let dir = scratch();
    let (mut d, sock) = start(dir.path(), &["--grace", "0"]);
    let log = dir.path().join("audit.log");
    let sb = Sandbox::new();
    let c = client(
        &sock,
        &sb.dir,
        false,
        &[],
        &["sh", "-c", "sleep 1000 & echo $! > bg; wait"],
    );
    wait_records(&log, "the sandbox's start", |r| {
        r.iter().any(|r| r["type"] == "start")
    });
    let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !sb.path("bg").exists()
        || std::fs::read_to_string(sb.path("bg"))
            .unwrap()
            .trim()
            .is_empty()
    {
        assert!(
            std::time::Instant::now() < until,
            "the client never started its job"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let bg = pid_in(&sb.dir, "bg");
    // The job may not have exec'd `sleep` yet.
    wait_sleeping(bg, "1000");
    d.signal(libc::SIGTERM);
    assert_eq!(d.wait_exit(30), Some(0), "{}", d.err());
    let o = output_within(c, 30);
    // The launcher either hears the daemon end the sandbox first (125, and says so) or sees
    // its command killed first (128 + SIGKILL): both are an ended sandbox; what must hold is
    // that nothing of it is left.
    match o.status.code() {
        Some(125) => assert!(stderr(&o).contains("ended the sandbox"), "{}", stderr(&o)),
        Some(137) => {}
        other => panic!("launcher status {other:?}: {}", stderr(&o)),
    }
    assert!(
        !sleeping(bg, "1000"),
        "the sandbox's background job is gone"
    );
}

#[test]
fn when_the_launcher_is_killed_the_daemon_ends_what_is_left() {
    let dir = scratch();
    let (_d, sock) = start(dir.path(), &[]);
    let log = dir.path().join("audit.log");
    let users: &[bool] = if is_root() { &[false, true] } else { &[false] };
    for &nobody in users {
        let sb = Sandbox::new();
        let mut c = client(
            &sock,
            &sb.dir,
            nobody,
            &[],
            &["sh", "-c", "sleep 1000 & echo $! > bg; wait"],
        );
        let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::fs::read_to_string(sb.path("bg")).map_or(true, |t| t.trim().is_empty()) {
            assert!(
                std::time::Instant::now() < until,
                "the client never started its job"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let bg = pid_in(&sb.dir, "bg");
        wait_sleeping(bg, "1000");
        // SIGKILL to the launcher (setpriv execs it: the child's pid is the launcher's).
        c.kill().unwrap();
        let _ = c.wait();
        // Its command dies with it; the daemon finds the job by the sandbox's socket.
        while one_of_ours(bg) {
            assert!(
                std::time::Instant::now() < until,
                "the job of a killed launcher survived"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    wait_records(&log, "the daemon's sweep", |r| {
        r.iter()
            .any(|r| r["event"] == "killed" && r["why"] == "the launcher is gone")
    });
}

#[test]
fn a_daemon_stopped_under_load_has_every_audit_record_on_disk() {
    let dir = scratch();
    let (mut d, sock) = start(dir.path(), &["--grace", "0"]);
    let log = dir.path().join("audit.log");
    // Each client counts the opens of /etc/hostname that completed, one line each.
    let work = "i=0; while head -c0 /etc/hostname; do i=$((i+1)); echo $i; done";
    let users: Vec<bool> = (0..6).map(|i| is_root() && i % 2 == 1).collect();
    let sbs: Vec<Sandbox> = users.iter().map(|_| Sandbox::new()).collect();
    let clients: Vec<_> = users
        .iter()
        .zip(&sbs)
        .map(|(&nobody, sb)| client(&sock, &sb.dir, nobody, &[], &["sh", "-c", work]))
        .collect();
    let pids: Vec<u32> = clients.iter().map(|c| c.id()).collect();
    wait_records(&log, "load from every client", |r| {
        r.iter().filter(|r| r["type"] == "start").count() == 6
            && r.iter()
                .filter(|r| r["call"] == "open" && r["args"]["path"] == "/etc/hostname")
                .count()
                >= 60
    });
    d.signal(libc::SIGTERM);
    assert_eq!(d.wait_exit(60), Some(0), "{}", d.err());
    let outputs: Vec<_> = clients.into_iter().map(|c| output_within(c, 30)).collect();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.ends_with('\n'), "the log ends with a whole record");
    let r = records(&log);
    assert_eq!(
        r.len(),
        text.lines().count(),
        "every line is a whole record"
    );
    for (i, o) in outputs.iter().enumerate() {
        let done = stdout(o).lines().count();
        // setpriv execs: the client's pid is the launcher's either way.
        let start = r
            .iter()
            .find(|r| r["type"] == "start" && r["pid"] == pids[i])
            .expect("a start record for each client");
        let sandbox = &start["sandbox"];
        let recorded = r
            .iter()
            .filter(|r| {
                &r["sandbox"] == sandbox
                    && r["call"] == "open"
                    && r["args"]["path"] == "/etc/hostname"
            })
            .count();
        assert!(done > 0, "client {i} made progress");
        assert!(
            recorded >= done,
            "client {i}: {done} opens completed, {recorded} recorded"
        );
        assert!(
            r.iter()
                .any(|r| &r["sandbox"] == sandbox && r["type"] == "exit"),
            "client {i}'s sandbox has its exit record"
        );
    }
    assert!(r.iter().any(|r| r["event"] == "shutdown"));
}

#[test]
fn a_process_that_closes_the_bootstrap_socket_keeps_its_sandbox() {
    let python = "/usr/bin/python3";
    if !Path::new(python).exists() {
        println!("SKIP: {python} is not installed");
        return;
    }
    let dir = scratch();
    let (_d, sock) = start(dir.path(), &["--limit", "sandboxes_per_uid=1"]);
    let log = dir.path().join("audit.log");
    let sb = Sandbox::new();
    // The command closes fd 1023 with a raw close(2) (past the shim), waits for `go`, then
    // makes a brokered call on the channel it already has.
    let prog = "import ctypes, os, time\nctypes.CDLL(None).syscall(3, 1023)\nopen('ready', 'w').close()\nwhile not os.path.exists('go'):\n    time.sleep(0.02)\ntry:\n    open('/etc/hostname').read()\n    print('ok')\nexcept OSError as e:\n    print('errno', e.errno)\n";
    let held = client(&sock, &sb.dir, false, &[], &[python, "-c", prog]);
    let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !sb.path("ready").exists() {
        assert!(
            std::time::Instant::now() < until,
            "the command never got ready"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // No process holds the bootstrap socket any more, yet the sandbox lives on while its
    // launcher does: the uid's only sandbox slot is still taken, no exit record is
    // written, and the command is still served.
    let o = serve_common::run_client(&sock, &sb.dir, false, &[], &["true"]);
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    assert!(stderr(&o).contains("sandboxes_per_uid"), "{}", stderr(&o));
    assert!(!records(&log).iter().any(|r| r["type"] == "exit"));
    std::fs::write(sb.path("go"), "").unwrap();
    let o = output_within(held, 60);
    assert_eq!(stdout(&o), "ok\n", "{}", stderr(&o));
    wait_records(&log, "the sandbox's exit", |r| {
        r.iter().any(|r| r["type"] == "exit")
    });
}
