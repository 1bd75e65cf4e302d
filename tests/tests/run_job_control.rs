//! The program cannot stop arbiter through the terminal's job control (red team s6 finding
//! 10).
//!
//! A program on the caller's terminal leaves arbiter's process group for its own, makes it
//! the terminal's foreground group (`tcsetpgrp`) with `TOSTOP` set, and makes a denied open.
//! arbiter's group is then a background group: the broker's write of the denial line (and
//! under `--ask` its `tcsetattr` and read of the terminal) used to make the kernel send
//! `SIGTTOU`/`SIGTTIN` to arbiter's group, which stopped the guardian and the broker; an
//! interactive shell then took the terminal back while the program kept running and read
//! what the user typed next. Now arbiter ignores both in its own processes: the run ends with
//! the program, the denial line is shown, `--ask` finds the terminal closed. The program
//! still starts with the default dispositions (what the shell gave arbiter).
//!
//! The "interactive shell" is a python driver on a pseudo-terminal: the session leader runs
//! the job in a process group of its own in the foreground and waits for it with
//! `WUNTRACED`, as a shell with job control does (the job's group is not orphaned, so the
//! kernel stops it rather than failing its writes). From `tests/helpers/job_control.c`
//! built dynamic (libc through the shim) and static (raw `openat`), as the invoking user and
//! as uid 65534, against the native control (the same program without arbiter opens the
//! file and ends).

use std::process::{Command, Stdio};

use arbiter_tests::{arbiter, compile_libc_and_raw, have, is_root, outside_file, stderr, Sandbox};

/// A shell with job control on a new pseudo-terminal: runs argv[1:] as a foreground job in
/// a process group of its own, waits for it with WUNTRACED and prints `JOB-STOPPED` (then
/// kills the job) or `JOB-STATUS N`; prints everything the terminal showed. A watchdog turns
/// a hang into a failure.
const SHELL: &str = r#"
import os, pty, signal, sys
signal.alarm(120)
pid, fd = pty.fork()
if pid == 0:
    signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    job = os.fork()
    if job == 0:
        os.setpgid(0, 0)
        os.tcsetpgrp(0, os.getpid())
        signal.signal(signal.SIGTTOU, signal.SIG_DFL)
        os.execvp(sys.argv[1], sys.argv[1:])
    try:
        os.setpgid(job, job)
    except OSError:
        pass
    _, status = os.waitpid(job, os.WUNTRACED)
    os.tcsetpgrp(0, os.getpgrp())
    if os.WIFSTOPPED(status):
        print("JOB-STOPPED", flush=True)
        os.killpg(job, signal.SIGKILL)
        os.waitpid(job, 0)
    else:
        print("JOB-STATUS %d" % os.waitstatus_to_exitcode(status), flush=True)
    os._exit(0)
transcript = b""
while True:
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    if not data:
        break
    transcript += data
os.waitpid(pid, 0)
sys.stdout.write(transcript.decode(errors="replace"))
"#;

/// `argv` as a foreground job of a job-control shell, as uid 65534 when `nobody`; what the
/// terminal showed.
fn as_job(sb: &Sandbox, nobody: bool, argv: &[&str]) -> String {
    let shell = sb.path("shell.py");
    std::fs::write(&shell, SHELL).unwrap();
    let mut c = Command::new("python3");
    c.arg(&shell);
    if nobody {
        c.args([
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
        ])
        .env("HOME", "/nonexistent");
    }
    let out = c
        .args(argv)
        .current_dir(&sb.dir)
        .env("PWD", &sb.dir)
        .env("PATH", "/usr/bin:/bin")
        .env_remove("LD_LIBRARY_PATH")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "shell failed: {}", stderr(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_program_cannot_stop_arbiter_by_job_control() {
    if !have("python3") || !have("cc") || !have("setpriv") {
        eprintln!("SKIP: python3 (the shell), cc (the helper) or setpriv is missing");
        return;
    }
    let sb = Sandbox::new();
    let (libc_build, raw_build) = compile_libc_and_raw("job_control", &sb);
    let (_outside, secret) = outside_file("secret", "TOP-SECRET-rt10\n");
    let secret = secret.to_str().unwrap();
    let users = if is_root() {
        vec![false, true]
    } else {
        vec![false]
    };
    for nobody in users {
        for (kind, helper) in [("libc", &libc_build), ("raw", &raw_build)] {
            let tag = format!("{kind}-{}", if nobody { "nobody" } else { "root" });
            let helper = helper.to_str().unwrap();
            // The native control: the program takes the foreground, opens the file, ends.
            let t = as_job(&sb, nobody, &[helper, secret]);
            assert!(t.contains("ttou=dfl ttin=dfl"), "{tag} native: {t}");
            assert!(t.contains("open=3"), "{tag} native: {t}");
            assert!(t.contains("JOB-STATUS 0"), "{tag} native: {t}");
            for ask in [false, true] {
                let mut argv = vec![arbiter().to_str().unwrap().to_owned(), "run".to_owned()];
                if ask {
                    argv.push("--ask".to_owned());
                }
                argv.extend(["--", helper, secret].map(String::from));
                let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
                let t = as_job(&sb, nobody, &argv);
                let tag = format!("{tag} ask={ask}");
                assert!(
                    !t.contains("JOB-STOPPED"),
                    "{tag}: arbiter was stopped: {t}"
                );
                assert!(t.contains("JOB-STATUS 0"), "{tag}: {t}");
                // The program's dispositions are the ones the shell gave arbiter.
                assert!(t.contains("ttou=dfl ttin=dfl"), "{tag}: {t}");
                assert!(t.contains("open=-1 errno=13"), "{tag}: {t}");
                assert!(!t.contains("TOP-SECRET"), "{tag}: {t}");
                if ask {
                    // arbiter cannot read a key from the background: the question is
                    // shown, and the policy's default (deny) applies.
                    assert!(
                        t.contains("no answer (arbiter is not in the terminal's foreground)"),
                        "{tag}: {t}"
                    );
                } else {
                    assert!(
                        t.contains(&format!("arbiter: denied open {secret}")),
                        "{tag}: the denial line is shown: {t}"
                    );
                }
            }
        }
    }
}
