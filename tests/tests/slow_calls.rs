//! Slow calls are budgeted per sandbox (red-team findings 05 and 03 of issue 15;
//! docs/process-model.md, "Slow calls"): sends that block on a full peer while carrying
//! descriptors hold a bounded number of the broker's descriptors (`arbiter run` and
//! `arbiter serve`, where another client is still served), and FIFO opens whose callers
//! were killed leave no broker thread behind, through the shim as through seccomp.
//! `tests/helpers/slow_calls.c`, dynamic (libc, so the shim) and static (raw system
//! calls), run natively (the control) and under arbiter, as the invoking user and, when
//! that is root, as uid 65534.

mod floor_common;
mod serve_common;

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use arbiter_tests::broker_of;
use floor_common::{arbiter, command, host_pid_of, users, Scratch};

/// How long a test waits for something that must happen before it calls it a failure.
const PATIENCE: Duration = Duration::from_secs(60);
/// Blocked senders per sandbox, and descriptors each one passes.
const SENDERS: usize = 16;
const PASSED: usize = 128;
/// The per-sandbox budget of descriptors held by slow calls (`core::slow::SLOW_FDS`).
const SLOW_FDS: usize = 1024;
/// Descriptors a broker holds besides the budgeted ones (channels, listener, pidfds…).
const SLACK: usize = 200;

/// `libc` for the dynamic build (through the shim), `raw` for the static one.
fn mode(helper: &Path) -> &'static str {
    if helper.to_str().unwrap().ends_with("-static") {
        "raw"
    } else {
        "libc"
    }
}

/// Waits until `cond` holds; after [`PATIENCE`], fails with `what`.
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < PATIENCE, "{what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// A helper run: the child, and its stdout's lines as they come (read by a thread, so a
/// wait for a line is bounded).
struct Run {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Run {
    fn start(c: &mut Command) -> Run {
        let mut child = c
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines() {
                let Ok(l) = l else { break };
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Run {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Takes the lines printed so far.
    fn poll(&mut self) {
        while let Ok(l) = self.lines.try_recv() {
            self.seen.push(l);
        }
    }

    /// Waits (at most [`PATIENCE`]) for a line for which `pred` holds; fails with `what`.
    fn wait_line(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let until = Instant::now() + PATIENCE;
        loop {
            if let Some(l) = self.seen.iter().find(|l| pred(l)) {
                return l.clone();
            }
            let left = until.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => self.seen.push(l),
                Err(_) => {
                    let _ = self.child.kill();
                    panic!("{what} (printed: {:?})", self.seen);
                }
            }
        }
    }

    /// Lines printed so far equal to `line`.
    fn count(&mut self, line: &str) -> usize {
        self.poll();
        self.seen.iter().filter(|l| *l == line).count()
    }

    /// Closes stdin and waits for the end: all lines printed, and the exit status.
    fn finish(mut self) -> (Vec<String>, Option<i32>) {
        drop(self.child.stdin.take());
        let until = Instant::now() + PATIENCE;
        while let Ok(l) = self
            .lines
            .recv_timeout(until.saturating_duration_since(Instant::now()))
        {
            self.seen.push(l);
        }
        let st = self.child.wait().unwrap();
        (self.seen, st.code())
    }
}

/// Starts the sends helper (`c`, then `sends N K MODE`); returns it and the helper's pid.
fn start_sends(c: &mut Command, helper: &Path) -> (Run, u32) {
    let (n, k) = (SENDERS.to_string(), PASSED.to_string());
    let mut run = Run::start(c.args(["sends", &n, &k, mode(helper)]));
    let line = run.wait_line("the helper never started", |l| l.starts_with("pid "));
    let pid: u32 = line[4..].trim().parse().unwrap();
    (run, pid)
}

/// Threads of `pid` other than its main one that are inside `sendmsg` now.
fn in_sendmsg(pid: u32) -> usize {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter(|t| {
            t.file_name().to_str() != Some(&pid.to_string())
                && std::fs::read_to_string(t.path().join("syscall")).is_ok_and(|s| {
                    s.split_whitespace().next() == Some(&libc::SYS_sendmsg.to_string())
                })
        })
        .count()
}

/// `sent=A refused=B other=C …` of the helper's last line.
fn counts(out: &[String]) -> (usize, usize, usize) {
    let last = out.last().map(String::as_str).unwrap_or("");
    let get = |key: &str| -> usize {
        last.split_whitespace()
            .find_map(|w| w.strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key} in {out:?}"))
            .parse()
            .unwrap()
    };
    (get("sent="), get("refused="), get("other="))
}

#[test]
fn blocked_sends_hold_a_bounded_number_of_broker_descriptors() {
    let s = Scratch::new("slow_calls", &["-pthread"]);
    let arb = arbiter();
    for who in users() {
        for h in &s.helpers {
            let name = h.file_name().unwrap().to_str().unwrap();
            // Control: natively the senders block on the full queue and are all answered
            // once it drains (ETOOMANYREFS for some as uid 65534: the kernel's own limit
            // on descriptors in flight).
            let work = s.work(&format!("native-{who:?}-{name}"));
            let mut c = command(who, &[h.to_str().unwrap()]);
            c.current_dir(&work);
            let (mut native, pid) = start_sends(&mut c, h);
            wait_for("control: the senders never all blocked", || {
                let returned = native.count("refused") + native.count("sent");
                returned + in_sendmsg(pid) == SENDERS
            });
            let (out, code) = native.finish();
            let (sent, refused, other) = counts(&out);
            assert_eq!(code, Some(0), "control as {who:?} ({name}): {out:?}");
            assert!(
                sent >= 1 && other == 0,
                "control as {who:?} ({name}): {out:?}"
            );
            assert_eq!(
                sent + refused,
                SENDERS,
                "control as {who:?} ({name}): {out:?}"
            );

            // Under arbiter the broker sends on the program's behalf, holding the passed
            // descriptors while the send waits: the sends beyond the sandbox's budget are
            // refused (ETOOMANYREFS), and the broker holds no more than the budget.
            let work = s.work(&format!("arbiter-{who:?}-{name}"));
            let mut c = command(
                who,
                &[arb.to_str().unwrap(), "run", "--", h.to_str().unwrap()],
            );
            c.current_dir(&work);
            let (mut run, _) = start_sends(&mut c, h);
            let broker = broker_of(run.child.id());
            run.wait_line(
                "no send was refused: the broker holds every blocked send's descriptors",
                |l| l == "refused",
            );
            let held = fd_count(broker);
            let (out, code) = run.finish();
            assert!(
                held <= SLOW_FDS + SLACK,
                "the broker holds {held} descriptors for blocked sends ({who:?}, {name}): {out:?}"
            );
            assert_eq!(code, Some(0), "under arbiter as {who:?} ({name}): {out:?}");
            let (sent, refused, other) = counts(&out);
            assert!(
                sent >= 1 && refused >= 1 && other == 0 && sent + refused == SENDERS,
                "under arbiter as {who:?} ({name}): {out:?}"
            );
        }
    }
}

#[test]
fn blocked_sends_under_serve_leave_the_daemon_able_to_serve_others() {
    let s = Scratch::new("slow_calls", &["-pthread"]);
    let dir = serve_common::scratch();
    // A daemon with a small descriptor table (1536), so that the attack of finding 05 —
    // sandboxes whose blocked sends hold every descriptor — fits in a test.
    let sock = dir.path().join("s").to_str().unwrap().to_owned();
    let cfg = dir.path().join("serve.toml");
    // SAFETY: geteuid has no preconditions.
    let own = unsafe { libc::geteuid() };
    std::fs::write(
        &cfg,
        format!("[[user]]\nuid = {own}\nallow = [\"default\"]\n\n[[user]]\nuid = 65534\nallow = [\"default\"]\n"),
    )
    .unwrap();
    let stderr = dir.path().join("daemon.err");
    let mut cmd = Command::new(arbiter());
    cmd.args(["serve", "--listen", &sock, "--mode", "0666", "--config"])
        .arg(&cfg)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap());
    // SAFETY: setrlimit is async-signal-safe; the closure touches nothing else.
    unsafe {
        cmd.pre_exec(|| {
            let rl = libc::rlimit {
                rlim_cur: 1536,
                rlim_max: 1536,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &rl) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut d = serve_common::Daemon {
        child: cmd.spawn().expect("start arbiter serve"),
        stderr,
    };
    d.wait_listening();
    let daemon = d.child.id();
    let victim = |what: &str| {
        let o = serve_common::run_client(&sock, dir.path(), false, &[], &["cat", "/etc/hostname"]);
        assert_eq!(o.status.code(), Some(0), "{what}: {o:?}");
    };
    victim("before the attack");
    let before = fd_count(daemon);

    // One attacking sandbox per helper build and user (two to four).
    let mut attackers = Vec::new();
    for who in users() {
        for h in &s.helpers {
            let name = h.file_name().unwrap().to_str().unwrap();
            let work = s.work(&format!("serve-{who:?}-{name}"));
            let mut c = command(
                who,
                &[
                    arb_str(),
                    "run",
                    "--daemon",
                    &sock,
                    "--",
                    h.to_str().unwrap(),
                ],
            );
            c.current_dir(&work);
            let (mut run, _) = start_sends(&mut c, h);
            // Its sends beyond the budget (its own, or all sandboxes') are refused.
            run.wait_line("no send of the attacker was refused", |l| l == "refused");
            attackers.push((who, name.to_owned(), run));
        }
    }
    let during = fd_count(daemon);
    // Half the table is the budget of every sandbox's slow calls together; the rest is the
    // reserve for the daemon's clients.
    assert!(
        during <= before + 1536 / 2 + SLACK,
        "the daemon holds {during} descriptors ({before} before the attack)"
    );
    victim("while sandboxes block sends carrying descriptors");
    for (who, name, run) in attackers {
        let (out, code) = run.finish();
        assert_eq!(code, Some(0), "attacker {who:?} {name}: {out:?}");
        let (sent, refused, other) = counts(&out);
        assert!(
            other == 0 && sent + refused == SENDERS,
            "attacker {who:?} {name}: {out:?}"
        );
    }
    victim("after the attack");
}

fn arb_str() -> &'static str {
    Box::leak(arbiter().to_str().unwrap().to_owned().into_boxed_str())
}

/// Threads of `pid` whose kernel wait channel (`/proc/PID/task/TID/wchan`) names `wchan`.
fn threads_in(pid: u32, wchan: &str) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| {
            d.flatten()
                .filter(|t| {
                    std::fs::read_to_string(t.path().join("wchan")).is_ok_and(|w| w.contains(wchan))
                })
                .count()
        })
        .unwrap_or(0)
}

/// Threads of `pid` blocked opening a FIFO (the kernel's `wait_for_partner`).
fn in_fifo_open(pid: u32) -> usize {
    threads_in(pid, "wait_for_partner")
}

/// Starts the FIFO helper (`fifo N MODE`); returns it and its children's pids.
fn start_fifo(c: &mut Command, helper: &Path, n: usize) -> (Run, Vec<i32>) {
    let mut run = Run::start(c.args(["fifo", &n.to_string(), mode(helper)]));
    let line = run.wait_line("the helper never forked", |l| l.starts_with("pids "));
    let pids = line
        .strip_prefix("pids ")
        .unwrap_or_else(|| panic!("{line:?}"))
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    (run, pids)
}

fn kill(pid: i32) {
    // SAFETY: kill with integer arguments; the pids are processes this test started.
    unsafe { libc::kill(pid, libc::SIGKILL) };
}

#[test]
fn killed_fifo_openers_leave_no_broker_thread_waiting() {
    const OPENERS: usize = 8;
    let s = Scratch::new("slow_calls", &["-pthread"]);
    let arb = arbiter();
    for who in users() {
        for h in &s.helpers {
            let name = h.file_name().unwrap().to_str().unwrap();
            // Control: natively each child waits in the kernel for a reader.
            let work = s.work(&format!("fifo-native-{who:?}-{name}"));
            let mut c = command(who, &[h.to_str().unwrap()]);
            c.current_dir(&work);
            let (native, pids) = start_fifo(&mut c, h, OPENERS);
            for &p in &pids {
                wait_for("control: a child never waited for a reader", || {
                    in_fifo_open(p as u32) == 1
                });
                kill(p);
            }
            let (out, code) = native.finish();
            assert_eq!(
                (out.last().map(String::as_str), code),
                (Some("ok"), Some(0)),
                "control {who:?} {name}"
            );

            // Under arbiter the broker opens the FIFO for them (the dynamic build through
            // the shim's channel, the static one through seccomp); once they are killed
            // and reaped, no broker thread waits for a reader any more.
            let work = s.work(&format!("fifo-arbiter-{who:?}-{name}"));
            let mut c = command(
                who,
                &[arb.to_str().unwrap(), "run", "--", h.to_str().unwrap()],
            );
            c.current_dir(&work);
            let (mut run, pids) = start_fifo(&mut c, h, OPENERS);
            let broker = broker_of(run.child.id());
            wait_for("the broker never waited for the FIFO opens", || {
                in_fifo_open(broker) >= OPENERS
            });
            // As root the helper printed namespace pids (the sandbox's pid namespace).
            for &p in &pids {
                kill(host_pid_of(broker, p));
            }
            let start = Instant::now();
            while in_fifo_open(broker) > 0 {
                if start.elapsed() > PATIENCE {
                    let _ = run.child.kill();
                    panic!(
                        "{} broker threads still wait for killed callers ({who:?}, {name})",
                        in_fifo_open(broker)
                    );
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let (out, code) = run.finish();
            assert_eq!(
                (out.last().map(String::as_str), code),
                (Some("ok"), Some(0)),
                "{who:?} {name}"
            );
        }
    }
}

/// Senders of 4 MiB each blocked on a full unix stream socket (finding 05 of the second
/// round: each blocked send kept a 4 MiB copy in the broker).
const BIG_SENDERS: usize = 48;
/// The broker's resident memory allowed while they wait: the sandbox's payload budget
/// (`core::slow::SLOW_BYTES`, 8 MiB) and the broker's own (≈ 20 MiB), with room to spare;
/// every copy kept would be 192 MiB.
const BIG_RSS_KB: u64 = 64 << 10;

/// `VmRSS` of `pid` in kB.
fn rss_kb(pid: u32) -> u64 {
    let st = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    st.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Threads of `pid` waiting in `poll` (the broker's sends wait for room in slices).
fn in_poll(pid: u32) -> usize {
    threads_in(pid, "poll_schedule_timeout")
}

/// Starts the big-sends helper (`bigsends N MODE`); returns it and the helper's pid.
fn start_bigsends(c: &mut Command, helper: &Path) -> (Run, u32) {
    let n = BIG_SENDERS.to_string();
    let mut run = Run::start(c.args(["bigsends", &n, mode(helper)]));
    let line = run.wait_line("the helper never started", |l| l.starts_with("pid "));
    (run, line[4..].trim().parse().unwrap())
}

/// Checks the helper's end: every send returned 4 MiB and every byte arrived in order.
fn assert_big_ok(run: Run, what: &str) {
    let (out, code) = run.finish();
    let want = format!("big_ok={BIG_SENDERS} bad=0");
    assert_eq!(
        (out.last().map(String::as_str), code),
        (Some(want.as_str()), Some(0)),
        "{what}: {out:?}"
    );
}

#[test]
fn blocked_big_sends_keep_a_bounded_payload_in_the_broker() {
    let s = Scratch::new("slow_calls", &["-pthread"]);
    let arb = arbiter();
    for who in users() {
        for h in &s.helpers {
            let name = h.file_name().unwrap().to_str().unwrap();
            // Control: natively every 4 MiB send blocks on its full queue and completes,
            // intact, once the reader drains it.
            let work = s.work(&format!("big-native-{who:?}-{name}"));
            let mut c = command(who, &[h.to_str().unwrap()]);
            c.current_dir(&work);
            let (native, pid) = start_bigsends(&mut c, h);
            wait_for("control: the big senders never all blocked", || {
                in_sendmsg(pid) == BIG_SENDERS
            });
            assert_big_ok(native, &format!("control as {who:?} ({name})"));

            // Under arbiter: the raw sends are the broker's (seccomp), each waiting in a
            // poll slice; the broker keeps at most the sandbox's payload budget while they
            // wait, and every send still completes with all its bytes.
            let work = s.work(&format!("big-arbiter-{who:?}-{name}"));
            let mut c = command(
                who,
                &[arb.to_str().unwrap(), "run", "--", h.to_str().unwrap()],
            );
            c.current_dir(&work);
            let (run, pid) = start_bigsends(&mut c, h);
            let broker = broker_of(run.child.id());
            let pid = host_pid_of(broker, pid as i32) as u32;
            wait_for("the big senders never all blocked", || {
                in_sendmsg(pid) == BIG_SENDERS
            });
            if mode(h) == "raw" {
                wait_for("the broker never waited for the big sends", || {
                    in_poll(broker) >= BIG_SENDERS
                });
            }
            let rss = rss_kb(broker);
            assert!(
                rss <= BIG_RSS_KB,
                "the broker holds {rss} kB for {BIG_SENDERS} blocked 4 MiB sends ({who:?}, {name})"
            );
            assert_big_ok(run, &format!("under arbiter as {who:?} ({name})"));
        }
    }
}

/// Threads of `pid` blocked connecting to a unix listener with a full backlog.
fn in_unix_connect(pid: u32) -> usize {
    threads_in(pid, "unix_wait_for_peer")
}

#[test]
fn killed_connecters_leave_no_broker_thread_waiting() {
    const CONNECTERS: usize = 8;
    let s = Scratch::new("slow_calls", &["-pthread"]);
    let arb = arbiter();
    for who in users() {
        for h in &s.helpers {
            let name = h.file_name().unwrap().to_str().unwrap();
            // Control: natively each child waits in the kernel for room in the backlog.
            let work = s.work(&format!("connect-native-{who:?}-{name}"));
            let mut c = command(who, &[h.to_str().unwrap()]);
            c.current_dir(&work);
            let mut native = Run::start(c.args(["connects", &CONNECTERS.to_string(), mode(h)]));
            let line = native.wait_line("control: the helper never forked", |l| {
                l.starts_with("pids ")
            });
            for p in line[5..].split_whitespace() {
                let p: i32 = p.parse().unwrap();
                wait_for("control: a child never waited to connect", || {
                    in_unix_connect(p as u32) == 1
                });
                kill(p);
            }
            let (out, code) = native.finish();
            assert_eq!(
                (out.last().map(String::as_str), code),
                (Some("ok"), Some(0)),
                "control {who:?} {name}"
            );

            // Under arbiter the broker connects for them (the dynamic build through the
            // shim's channel, the static one through seccomp); once they are killed and
            // reaped, no broker thread waits to connect any more, though the listener lives.
            let work = s.work(&format!("connect-arbiter-{who:?}-{name}"));
            let mut c = command(
                who,
                &[arb.to_str().unwrap(), "run", "--", h.to_str().unwrap()],
            );
            c.current_dir(&work);
            let mut run = Run::start(c.args(["connects", &CONNECTERS.to_string(), mode(h)]));
            let line = run.wait_line("the helper never forked", |l| l.starts_with("pids "));
            let broker = broker_of(run.child.id());
            wait_for("the broker never waited for the connects", || {
                in_unix_connect(broker) >= CONNECTERS
            });
            for p in line[5..].split_whitespace() {
                kill(host_pid_of(broker, p.parse().unwrap()));
            }
            let start = Instant::now();
            while in_unix_connect(broker) > 0 {
                if start.elapsed() > PATIENCE {
                    let _ = run.child.kill();
                    panic!(
                        "{} broker threads still connect for killed callers ({who:?}, {name})",
                        in_unix_connect(broker)
                    );
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let (out, code) = run.finish();
            assert_eq!(
                (out.last().map(String::as_str), code),
                (Some("ok"), Some(0)),
                "{who:?} {name}"
            );
        }
    }
}

/// Whether process `pid` has ended (gone, or a zombie not yet reaped).
fn ended(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(true)
}

/// Descriptors of `pid` open on `dir` or a file in it.
fn fds_under(pid: u32, dir: &Path) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.flatten()
                .filter(|e| std::fs::read_link(e.path()).is_ok_and(|l| l.starts_with(dir)))
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn waiting_fifo_opens_hold_no_more_descriptors_than_counted() {
    /// The broker's descriptor table: its slow calls may hold half of it in all.
    const TABLE: u64 = 1024;
    /// Openers: more than the sandbox's 256 slow calls.
    const OPENERS: usize = 300;
    let s = Scratch::new("slow_calls", &["-pthread"]);
    let arb = arbiter();
    for who in users() {
        for h in &s.helpers {
            let name = h.file_name().unwrap().to_str().unwrap();
            // Under arbiter with a 1024-descriptor table, the waiting opens (each a slow
            // call counted with the descriptors it holds) stay within half the table; the
            // openers beyond it fail (ENFILE) and exit. (The control, natively waiting FIFO
            // opens, is `killed_fifo_openers_leave_no_broker_thread_waiting`.)
            let work = s.work(&format!("fifo-fds-{who:?}-{name}"));
            let mut c = command(
                who,
                &[arb.to_str().unwrap(), "run", "--", h.to_str().unwrap()],
            );
            c.current_dir(&work);
            // SAFETY: setrlimit is async-signal-safe; the closure touches nothing else.
            unsafe {
                c.pre_exec(|| {
                    let rl = libc::rlimit {
                        rlim_cur: TABLE,
                        rlim_max: TABLE,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &rl) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            let (run, pids) = start_fifo(&mut c, h, OPENERS);
            let broker = broker_of(run.child.id());
            let pids: Vec<i32> = pids.iter().map(|&p| host_pid_of(broker, p)).collect();
            wait_for("the openers never all waited or gave up", || {
                in_fifo_open(broker) + pids.iter().filter(|&&p| ended(p)).count() == OPENERS
            });
            let (waiting, held) = (in_fifo_open(broker), fds_under(broker, &work));
            for &p in &pids {
                kill(p);
            }
            let (out, code) = run.finish();
            assert!(waiting >= 1, "no open waited ({who:?}, {name})");
            assert!(
                held <= TABLE as usize / 2,
                "the broker holds {held} descriptors of the FIFO and its directory for {waiting} waiting FIFO opens ({who:?}, {name})"
            );
            assert_eq!(
                (out.last().map(String::as_str), code),
                (Some("ok"), Some(0)),
                "{who:?} {name}"
            );
        }
    }
}
