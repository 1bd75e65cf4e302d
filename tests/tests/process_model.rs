//! Threads, fork, exec, signals: replies never reach the wrong thread or process, nothing
//! deadlocks, nothing leaks, and exec'd programs stay brokered.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use arbiter_tests::{arbiter, assert_code, broker_of, compile_helper, stderr, stdout, Sandbox};

fn audit_records(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Number of open fds of a process.
fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[test]
fn sixteen_threads_with_fork_exec_and_a_blocked_fifo_get_every_result_right() {
    let sb = Sandbox::new();
    let bin = compile_helper("stress", &sb.dir, &["-pthread"]);
    let mut child = Command::new(arbiter())
        .args(["run", "--"])
        .arg(&bin)
        .args(["16", "10000"])
        .current_dir(&sb.dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let broker = broker_of(child.id());
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert!(line.starts_with("fds-before"), "{line}");
    let child_before: i64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    let broker_before = fd_count(broker);
    let mut rest = String::new();
    while !rest.contains("failures") {
        let mut l = String::new();
        if out.read_line(&mut l).unwrap() == 0 {
            break;
        }
        rest.push_str(&l);
    }
    // Worker threads have exited: their channels are gone on both sides.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let broker_after = fd_count(broker);
    let rss = rss_kib(broker);
    child.stdin.take().unwrap().write_all(b"done\n").unwrap();
    let status = child.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(status.success(), "stress failed: {rest}\n{err}");
    assert!(rest.contains("failures 0"), "{rest}");
    let child_after: i64 = rest
        .lines()
        .find_map(|l| l.strip_prefix("fds-after "))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(
        child_after, child_before,
        "the sandboxed process leaked fds"
    );
    assert!(
        broker_after <= broker_before + 2,
        "broker fds grew from {broker_before} to {broker_after}"
    );
    assert!(rss < 64 * 1024, "broker RSS {rss} KiB");
}

#[test]
fn a_signal_handler_opening_files_mid_call_does_not_deadlock() {
    let sb = Sandbox::new();
    let bin = compile_helper("signal_reentry", &sb.dir, &[]);
    let o = sb.run(&[], &[bin.to_str().unwrap()]);
    assert_code(&o, 0);
    assert!(stdout(&o).contains("handler_failures 0"), "{}", stdout(&o));
}

#[test]
fn exec_with_a_cleared_environment_stays_brokered() {
    let sb = Sandbox::new();
    let log = sb.log("audit.jsonl");
    let script = "import subprocess\nr = subprocess.run(['/bin/cat', '/etc/shadow'], env={}, capture_output=True)\nprint(r.returncode)";
    let o = sb.run(
        &["--audit-level", "all", "--audit", log.to_str().unwrap()],
        &["python3", "-c", script],
    );
    assert_code(&o, 0);
    assert_eq!(stdout(&o).trim(), "1", "{}", stderr(&o));
    let recs = audit_records(&log);
    let denied = recs
        .iter()
        .find(|r| r["call"] == "open" && r["args"]["path"] == "/etc/shadow")
        .expect("the child's open reached the broker");
    assert_eq!(denied["decision"], "deny");
}

#[test]
fn posix_spawn_and_system_children_are_brokered() {
    let sb = Sandbox::new();
    let script = "import os\npid = os.posix_spawn('/bin/sh', ['sh', '-c', 'echo spawned > spawned.txt'], {})\nos.waitpid(pid, 0)\nos.system('echo sys > system.txt')\nprint(open('spawned.txt').read().strip(), open('system.txt').read().strip())";
    let o = sb.run(&[], &["python3", "-c", script]);
    assert_code(&o, 0);
    assert_eq!(stdout(&o).trim(), "spawned sys", "{}", stderr(&o));
}

#[test]
fn fork_from_a_threaded_program_gives_each_process_its_own_channel() {
    let sb = Sandbox::new();
    let script = r#"
import os, threading
stop = False
errors = []
def spin():
    while not stop:
        try:
            os.stat('/etc/hostname')
        except Exception as e:
            errors.append(e)
threads = [threading.Thread(target=spin) for _ in range(4)]
for t in threads: t.start()
for i in range(30):
    pid = os.fork()
    if pid == 0:
        ok = all(open('/etc/hostname').read() for _ in range(20))
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert status == 0, status
stop = True
for t in threads: t.join()
print('errors', len(errors))
"#;
    let o = sb.run(&[], &["python3", "-c", script]);
    assert_code(&o, 0);
    assert_eq!(stdout(&o).trim(), "errors 0", "{}", stderr(&o));
}

#[test]
fn close_range_and_dup2_cannot_unplug_the_broker() {
    let sb = Sandbox::new();
    let script = r#"
import os, subprocess
boot = int(os.environ['ARBITER_FD'])
os.closerange(3, 2000)
os.dup2(1, boot)
r = subprocess.run(['sh', '-c', 'cat /etc/hostname >/dev/null && cat /etc/shadow'], capture_output=True)
print(r.returncode, b'Permission denied' in r.stderr)
"#;
    let o = sb.run(&[], &["python3", "-c", script]);
    assert_code(&o, 0);
    assert_eq!(stdout(&o).trim(), "1 True", "{}", stderr(&o));
}

#[test]
fn multiprocessing_and_pipelines_work() {
    let sb = Sandbox::new();
    let script = "import multiprocessing as mp\ndef f(i):\n    open(f'mp{i}.txt','w').write(str(i))\n    return open(f'mp{i}.txt').read()\nif __name__ == '__main__':\n    with mp.Pool(3) as p:\n        print(''.join(p.map(f, range(6))))";
    std::fs::write(sb.path("mp.py"), script).unwrap();
    let o = sb.run(&[], &["python3", "mp.py"]);
    assert_code(&o, 0);
    assert_eq!(stdout(&o).trim(), "012345", "{}", stderr(&o));
    let o = sb.run(
        &[],
        &[
            "bash",
            "-c",
            "seq 1 100 | sort -rn | head -3 | tee top.txt | wc -l",
        ],
    );
    assert_code(&o, 0);
    assert_eq!(stdout(&o).trim(), "3");
    assert_eq!(
        std::fs::read_to_string(sb.path("top.txt")).unwrap(),
        "100\n99\n98\n"
    );
}

#[test]
fn a_daemonizing_program_is_waited_for_and_stays_brokered() {
    let sb = Sandbox::new();
    // The daemon outlives its parent, writes after a delay, and arbiter (asked to) waits
    // for it.
    let o = sb.run(
        &["--wait-descendants"],
        &[
            "sh",
            "-c",
            "(setsid sh -c 'sleep 0.3; echo daemon > d.txt; cat /etc/shadow 2>> d.txt' &) ; exit 0",
        ],
    );
    assert_code(&o, 0);
    let d = std::fs::read_to_string(sb.path("d.txt")).unwrap();
    assert!(
        d.starts_with("daemon\n") && d.contains("Permission denied"),
        "{d}"
    );
}

#[test]
fn make_j4_builds_a_small_c_project() {
    let sb = Sandbox::new();
    for i in 0..6 {
        std::fs::write(
            sb.path(&format!("f{i}.c")),
            format!("int f{i}(void) {{ return {i}; }}\n"),
        )
        .unwrap();
    }
    let decls: String = (0..6).map(|i| format!("int f{i}(void);\n")).collect();
    let sum: String = (0..6).map(|i| format!("f{i}()+")).collect();
    std::fs::write(sb.path("main.c"), format!("#include <stdio.h>\n{decls}int main(void) {{ printf(\"%d\\n\", {sum}0); return 0; }}\n")).unwrap();
    let objs: String = (0..6).map(|i| format!("f{i}.o ")).collect();
    std::fs::write(
        sb.path("Makefile"),
        format!("prog: main.o {objs}\n\tcc -o $@ $^\n%.o: %.c\n\tcc -c -o $@ $<\n"),
    )
    .unwrap();
    let o = sb.run(&[], &["make", "-j4", "-s"]);
    assert_code(&o, 0);
    let run = std::process::Command::new(sb.path("prog"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&run.stdout).trim(), "15");
}
