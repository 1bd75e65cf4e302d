//! A program that stops its terminal's output cannot hang the broker (red-team finding 13).
//!
//! The program keeps the caller's terminal on fds 0–2; it clears `IXON` and stops output
//! (`tcflow(TCOOFF)`), then makes one denied open. The broker used to write the
//! "arbiter: denied …" line to that terminal from the thread answering the open: the write
//! blocked, the open was never answered and `arbiter run` never ended. Now denial lines go
//! through a queue its own thread writes (broker/src/stderr_lines.rs): the open is answered
//! (refused), and `arbiter run` ends when the program ends even with the terminal left
//! stopped; when the program restarts output, the denial line is shown.
//!
//! Under `script` (a pseudo-terminal), from `tests/helpers/tty_stall.c` built dynamic (raw
//! system calls, and libc through the shim) and static (raw system calls), as the invoking
//! user and as uid 65534, each against the native control (the same program without
//! arbiter: it opens the file and ends). A run that has not ended after [`DEADLINE`] is a
//! hang: it is killed and the test fails.

mod floor_common;

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use arbiter_tests::outside_file;
use floor_common::{arbiter, command, users, Scratch, Who};

/// Far beyond what a run takes (about a second): only a hang reaches it.
const DEADLINE: Duration = Duration::from_secs(60);

/// Records its pid (the session `script` made) in `$1/pid`, runs the rest, and records the
/// exit status in `$1/rc`.
const RUN_SH: &str = "out=$1; shift; echo $$ > \"$out/pid\"; \"$@\"; echo $? > \"$out/rc\"\n";

/// How a run under `script` went.
#[derive(Debug)]
struct Ran {
    /// The exit status recorded by the shell after the command, `None` if it hung.
    rc: Option<i32>,
    /// What reached the terminal.
    screen: String,
}

/// Runs `argv` as `who` under `script`, in `work`, killing it (and its session) if it has
/// not ended after [`DEADLINE`].
fn on_terminal(who: Who, work: &Path, argv: &[&str]) -> Ran {
    let child = start_on_terminal(who, work, argv);
    finish_on_terminal(work, child)
}

/// Starts `argv` as `who` under `script`, in `work`.
fn start_on_terminal(who: Who, work: &Path, argv: &[&str]) -> Child {
    let run_sh = work.join("run.sh");
    std::fs::write(&run_sh, RUN_SH).unwrap();
    let _ = std::fs::remove_file(work.join("rc"));
    let _ = std::fs::remove_file(work.join("pid"));
    let line = std::iter::once(format!("/bin/sh {} {}", run_sh.display(), work.display()))
        .chain(argv.iter().map(|a| a.to_string()))
        .collect::<Vec<_>>()
        .join(" ");
    command(who, &["script", "-qfec", &line, "/dev/null"])
        .current_dir(work)
        // cargo's LD_LIBRARY_PATH (its toolchain) is not the environment a user runs in.
        .env_remove("LD_LIBRARY_PATH")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run script")
}

/// Waits for a run [`start_on_terminal`] started, killing it (and its session) if it has
/// not ended after [`DEADLINE`].
fn finish_on_terminal(work: &Path, mut child: Child) -> Ran {
    let start = Instant::now();
    let ended = loop {
        if child.try_wait().unwrap().is_some() {
            break true;
        }
        if start.elapsed() > DEADLINE {
            break false;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    if !ended {
        kill_session(work, &mut child);
    }
    let out = child.wait_with_output().unwrap();
    let rc = std::fs::read_to_string(work.join("rc"))
        .ok()
        .and_then(|s| s.trim().parse().ok());
    Ran {
        rc: if ended { rc } else { None },
        screen: String::from_utf8_lossy(&out.stdout).replace('\r', ""),
    }
}

/// Kills every process of the session `script` started (its shell recorded the session's
/// pid), then `script`.
fn kill_session(work: &Path, child: &mut Child) {
    if let Some(sid) = std::fs::read_to_string(work.join("pid"))
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
    {
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // Field 6 (session), after the parenthesised command name.
            let after = stat.rsplit_once(')').map(|(_, a)| a).unwrap_or("");
            if after.split_whitespace().nth(3) == Some(&sid.to_string()) {
                // SAFETY: kill has no memory preconditions.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
    let _ = child.kill();
}

/// The cases: each build of the helper, and for the dynamic one libc as well as raw calls.
fn cases(helpers: &[PathBuf]) -> Vec<(String, &'static str)> {
    let mut cases = Vec::new();
    for (i, h) in helpers.iter().enumerate() {
        let h = h.to_str().unwrap().to_owned();
        cases.push((h.clone(), "raw"));
        if i == 0 {
            cases.push((h, "libc"));
        }
    }
    cases
}

#[test]
fn a_program_that_stops_its_terminal_does_not_hang_the_run() {
    if !arbiter_tests::have("script") {
        println!("SKIP: script (util-linux) is not installed: no pseudo-terminal to test with");
        return;
    }
    let s = Scratch::new("tty_stall", &[]);
    let (_outside, secret) = outside_file("secret", "secret\n");
    let secret = secret.to_str().unwrap();
    let a = arbiter();
    let a = a.to_str().unwrap();
    for who in users() {
        for (n, (helper, mode)) in cases(&s.helpers).into_iter().enumerate() {
            for then in ["stay", "resume"] {
                let work = s.work(&format!("{who:?}-{n}-{then}"));
                let what = format!("{helper} {mode} {then} as {who:?}");
                // The control: natively the file opens and the program ends.
                let native = on_terminal(who, &work, &[&helper, mode, then, secret]);
                assert_eq!(native.rc, Some(0), "native {what}: {native:?}");
                // Under arbiter the open is refused, and the run ends; with the audit log
                // on the same terminal too (for one build: the log is the broker's side).
                let mut runs = vec![vec![a, "run", "--"]];
                if n == 0 {
                    runs.push(vec![a, "run", "--audit", "-", "--"]);
                }
                for run in runs {
                    let mut argv = run.clone();
                    argv.extend([helper.as_str(), mode, then, secret]);
                    let confined = on_terminal(who, &work, &argv);
                    assert_eq!(
                        confined.rc,
                        Some(1),
                        "{run:?} {what}: the run did not end with the refused open's status \
                         (None: it hung and was killed after {DEADLINE:?}): {confined:?}"
                    );
                    // Output restarted: the denial line (and the log) reach the terminal.
                    if then == "resume" {
                        assert!(
                            confined.screen.contains("arbiter: denied open")
                                && confined.screen.contains("secret"),
                            "{run:?} {what}: {confined:?}"
                        );
                        if run.contains(&"--audit") {
                            assert!(
                                confined.screen.contains("\"type\":\"exit\""),
                                "{run:?} {what}: {confined:?}"
                            );
                        }
                    }
                }
            }
        }
    }
}

/// The host pid of the process running `helper` with `arg` among its arguments, once it
/// waits in `openat` (system call 257 on x86_64, as `/proc/PID/syscall` shows).
fn waiting_in_open(helper: &str, arg: &str) -> Option<i32> {
    let start = Instant::now();
    while start.elapsed() < DEADLINE {
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
                continue;
            };
            let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
            if args.first() != Some(&helper.as_bytes()) || !args.contains(&arg.as_bytes()) {
                continue;
            }
            let syscall = std::fs::read_to_string(entry.path().join("syscall")).unwrap_or_default();
            if syscall.starts_with("257 ") {
                return Some(pid);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

#[test]
fn a_question_on_a_stopped_terminal_does_not_hang_the_run() {
    // `--ask` writes its question on the terminal the program stopped: the question cannot
    // be seen and the call waits, but when the program is ended the run ends (the asking
    // thread used to block in `write`, and the run's end waited for it forever).
    if !arbiter_tests::have("script") {
        println!("SKIP: script (util-linux) is not installed: no pseudo-terminal to test with");
        return;
    }
    if !cfg!(target_arch = "x86_64") {
        println!("SKIP: the test reads x86_64 system call numbers in /proc/PID/syscall");
        return;
    }
    let s = Scratch::new("tty_stall", &[]);
    let (_outside, secret) = outside_file("secret", "secret\n");
    let secret = secret.to_str().unwrap();
    let a = arbiter();
    let a = a.to_str().unwrap();
    for who in users() {
        // The raw-call builds: their open waits in `openat` itself.
        for (n, (helper, mode)) in cases(&s.helpers).into_iter().enumerate() {
            if mode != "raw" {
                continue;
            }
            let work = s.work(&format!("ask-{who:?}-{n}"));
            let what = format!("{helper} as {who:?}");
            let native = on_terminal(who, &work, &[&helper, mode, "stay", secret]);
            assert_eq!(native.rc, Some(0), "native {what}: {native:?}");
            let child = start_on_terminal(
                who,
                &work,
                &[a, "run", "--ask", "--", &helper, mode, "stay", secret],
            );
            let waiting = waiting_in_open(&helper, secret);
            if let Some(pid) = waiting {
                // SAFETY: kill has no memory preconditions.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            let confined = finish_on_terminal(&work, child);
            assert!(
                waiting.is_some(),
                "{what}: never waited in open: {confined:?}"
            );
            assert_eq!(
                confined.rc,
                Some(128 + libc::SIGKILL),
                "--ask {what}: the run did not end with the killed program's status \
                 (None: it hung and was killed after {DEADLINE:?}): {confined:?}"
            );
        }
    }
}

/// Runs its arguments after the first (a directory) with stdout and stderr piped through
/// `cat`, which writes to the terminal, and exits with their status.
const PIPE_SH: &str =
    "w=$1; shift; { \"$@\"; echo $? > \"$w/inner_rc\"; } 2>&1 | cat; exit $(cat \"$w/inner_rc\")\n";

/// Red team s6 finding 12: with arbiter's stderr a pipe whose reader (`cat`) writes to the
/// terminal the program shares, the program stops that terminal, fills the pipe and makes a
/// denied open. The broker waited without bound for the denial line to be written into the
/// pipe, so the open was never answered and the run never ended. Now a pipe that takes
/// nothing for `stderr_lines::STALL` no longer holds the answer: the open is refused, the
/// program restarts output, and everything (the denial line included) reaches the screen.
#[test]
fn a_pipe_held_up_through_the_terminal_does_not_hold_a_denied_call() {
    if !arbiter_tests::have("script") {
        println!("SKIP: script (util-linux) is not installed: no pseudo-terminal to test with");
        return;
    }
    let s = Scratch::new("tty_stall", &[]);
    let (_outside, secret) = outside_file("secret", "secret\n");
    let secret = secret.to_str().unwrap();
    let a = arbiter();
    let a = a.to_str().unwrap();
    for who in users() {
        for (n, (helper, mode)) in cases(&s.helpers).into_iter().enumerate() {
            let work = s.work(&format!("{who:?}-{n}-pipe"));
            let pipe_sh = work.join("pipe.sh");
            std::fs::write(&pipe_sh, PIPE_SH).unwrap();
            let pipe_sh = pipe_sh.to_str().unwrap().to_owned();
            let w = work.to_str().unwrap().to_owned();
            let what = format!("{helper} {mode} pipe as {who:?}");
            // The control: natively the file opens and the program ends.
            let native = on_terminal(
                who,
                &work,
                &["/bin/sh", &pipe_sh, &w, &helper, mode, "pipe", secret],
            );
            assert_eq!(native.rc, Some(0), "native {what}: {native:?}");
            let confined = on_terminal(
                who,
                &work,
                &[
                    "/bin/sh", &pipe_sh, &w, a, "run", "--", &helper, mode, "pipe", secret,
                ],
            );
            assert_eq!(
                confined.rc,
                Some(1),
                "{what}: the run did not end with the refused open's status \
                 (None: it hung and was killed after {DEADLINE:?}): {confined:?}"
            );
            assert!(
                confined.screen.contains("arbiter: denied open")
                    && confined.screen.contains("secret"),
                "{what}: {confined:?}"
            );
        }
    }
}
