//! `arbiter run --decider CMD`: an external process decides what the policy leaves to its
//! default, over the JSON-lines protocol of [`super::wire`].
//!
//! Threads: the channel threads and seccomp workers asking ([`External::decide`]) each
//! put their request on a bounded queue and wait on their own slot, so many requests are
//! outstanding at once and answers may come in any order; one writer thread writes the
//! queue to the decider's stdin (a decider that never reads blocks only that thread, and a
//! full queue answers at once); one reader thread reads the decider's stdout and hands each
//! answer to the slot its `id` names. Whatever the decider does — garbage, unknown or
//! repeated ids, silence past the timeout, exiting, closing its output — a waiting call
//! gets the default answer and a `decider_error` audit record says what happened.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt as _;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::wire::{self, Decision, DefaultAnswer, Reply, MAX_LINE};
use crate::audit::event::DeciderError;
use crate::audit::{Audit, Event};
use crate::core::decider::{Answer, Decider, Question};

/// How many requests may wait for the writer thread before further ones are answered
/// with the default (a decider that stopped reading its stdin).
pub const QUEUE: usize = 256;

/// The default `--decider-timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// How `--decider` starts and is bounded.
#[derive(Debug, Clone)]
pub struct Options {
    /// The command and its arguments ([`super::words::command`]).
    pub command: Vec<String>,
    /// How long one request waits for its answer.
    pub timeout: Duration,
    /// What applies when no usable answer comes.
    pub default: DefaultAnswer,
}

/// Why the decider could not be started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// Spawning the command failed.
    #[error("cannot start the decider `{command}`")]
    Spawn {
        /// The command's first word.
        command: String,
        /// The error from `execve` or `fork`.
        source: std::io::Error,
    },
    /// `pidfd_open` on the started decider failed.
    #[error("pidfd_open on the decider")]
    Pidfd(#[source] std::io::Error),
}

/// What went wrong with the decider, as a `decider_error` record's `error` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No answer within the timeout.
    Timeout,
    /// The decider has exited or closed its stdout (or its stdin): no answer can come.
    Gone,
    /// The queue to the decider's stdin is full (it does not read).
    QueueFull,
    /// A line that names no request (not JSON, not an object, no numeric `id`).
    Garbage,
    /// An answer naming a request never sent.
    UnknownId,
    /// An answer to a request already answered or given up on (after its timeout).
    Duplicate,
    /// An answer whose `decision` or `errno` is not understood.
    BadAnswer,
    /// The decider's stdout reached its end.
    Exited,
}

impl Failure {
    /// The record's `error` word.
    pub fn word(self) -> &'static str {
        match self {
            Failure::Timeout => "timeout",
            Failure::Gone => "gone",
            Failure::QueueFull => "queue_full",
            Failure::Garbage => "garbage",
            Failure::UnknownId => "unknown_id",
            Failure::Duplicate => "duplicate",
            Failure::BadAnswer => "bad_answer",
            Failure::Exited => "exited",
        }
    }
}

/// One `decider_error` audit record: what went wrong, about which request (`id`), for
/// which call (`pid`, `call`), and the default answer given instead (`answer`).
struct FailureRecord<'a> {
    failure: Failure,
    id: Option<u64>,
    question: Option<&'a Question<'a>>,
    answer: Option<DefaultAnswer>,
    detail: String,
}

impl FailureRecord<'_> {
    fn write(self, shared: &Shared) {
        let Some(audit) = shared.audit() else {
            return;
        };
        // The first failure of each kind is also said on stderr: without an audit log it
        // would otherwise go unseen.
        let bit = 1u32 << (self.failure as u32);
        if shared.told.fetch_or(bit, Ordering::Relaxed) & bit == 0 {
            let answer = match self.answer {
                Some(a) => format!("; the default answer ({}) applies", a.word()),
                None => String::new(),
            };
            crate::core::denials::write_line(&format!(
                "arbiter: decider: {}: {}{answer} (further ones: `decider_error` in the audit log)\n",
                self.failure.word(),
                self.detail
            ));
        }
        audit.record(Event::DeciderError(Box::new(DeciderError {
            error: self.failure.word(),
            detail: self.detail,
            id: self.id,
            pid: self.question.map(|q| q.caller.pid),
            call: self.question.map(|q| q.call),
            subject: self.question.map(|q| wire::subject_record(&q.subject)),
            answer: self.answer.map(DefaultAnswer::word),
        })));
    }
}

/// The slot a waiting request is answered in: the decision, or `None` when the answer
/// was malformed (the reader has recorded why).
type Slot = SyncSender<Option<Decision>>;

/// The requests waiting for an answer, and whether any answer can still come.
#[derive(Default)]
struct Pending {
    slots: HashMap<u64, Slot>,
    gone: bool,
}

struct Shared {
    pending: Mutex<Pending>,
    next_id: AtomicU64,
    /// Taken at [`External::finish`], so the audit log can end while a reader thread still
    /// waits for the end of a stdout some orphan of the decider holds open.
    audit: Mutex<Option<Audit>>,
    default: DefaultAnswer,
    /// The [`Failure`] kinds already said on stderr (one bit each).
    told: std::sync::atomic::AtomicU32,
    /// Set by [`External::finish`]: the end of the decider's output is then expected, not a
    /// failure to record.
    finishing: std::sync::atomic::AtomicBool,
}

impl Shared {
    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn audit(&self) -> Option<Audit> {
        self.audit.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// A running external decider (see the module documentation).
pub struct External {
    shared: Arc<Shared>,
    queue: Mutex<Option<SyncSender<String>>>,
    timeout: Duration,
    child: Mutex<Option<Child>>,
    pid: libc::pid_t,
    pidfd: OwnedFd,
    /// Disconnected when the reader thread has read the decider's output to its end.
    reader_done: Mutex<Option<mpsc::Receiver<()>>>,
}

impl External {
    /// Starts `opts.command` with piped stdin and stdout (its stderr is arbiter's), writes
    /// the hello line and starts the writer and reader threads.
    pub fn start(opts: &Options, audit: Audit) -> Result<External, StartError> {
        let mut command = Command::new(&opts.command[0]);
        command
            .args(&opts.command[1..])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        // SAFETY: between fork and exec the closure makes only async-signal-safe calls
        // (sigprocmask, signal, setpgid) on local data.
        unsafe {
            command.pre_exec(|| {
                // arbiter blocks the signals it waits for; the decider starts with none
                // blocked and SIGPIPE at its default, in a process group of its own so that
                // a Ctrl-C meant for the program does not end it (it ends at the end of its
                // input).
                let mut none: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut none);
                libc::pthread_sigmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
                libc::signal(libc::SIGPIPE, libc::SIG_DFL);
                libc::setpgid(0, 0);
                Ok(())
            })
        };
        let mut child = command.spawn().map_err(|source| StartError::Spawn {
            command: opts.command[0].clone(),
            source,
        })?;
        let pid = child.id() as libc::pid_t;
        // Our own child, not yet reaped (nothing waits for children before the sandbox
        // runs), so the pidfd names exactly it.
        // SAFETY: pidfd_open with integer arguments only.
        let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if raw < 0 {
            let e = std::io::Error::last_os_error();
            let _ = child.kill();
            let _ = child.wait();
            return Err(StartError::Pidfd(e));
        }
        // SAFETY: pidfd_open returned a new descriptor that nothing else owns.
        let pidfd = unsafe { OwnedFd::from_raw_fd(raw as i32) };
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending::default()),
            next_id: AtomicU64::new(1),
            audit: Mutex::new(Some(audit)),
            default: opts.default,
            told: std::sync::atomic::AtomicU32::new(0),
            finishing: std::sync::atomic::AtomicBool::new(false),
        });
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        // The queue is empty: the hello line always fits.
        let _ = tx.try_send(wire::hello(opts.timeout, opts.default));
        std::thread::Builder::new()
            .name("decider-writer".into())
            .spawn(move || write_lines(rx, stdin))
            .map_err(|source| StartError::Spawn {
                command: "a thread for the decider".into(),
                source,
            })?;
        let reader_shared = Arc::clone(&shared);
        let (done_tx, done_rx) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("decider-reader".into())
            .spawn(move || {
                read_answers(stdout, &reader_shared);
                drop(done_tx);
            })
            .map_err(|source| StartError::Spawn {
                command: "a thread for the decider".into(),
                source,
            })?;
        Ok(External {
            shared,
            queue: Mutex::new(Some(tx)),
            timeout: opts.timeout,
            child: Mutex::new(Some(child)),
            pid,
            pidfd,
            reader_done: Mutex::new(Some(done_rx)),
        })
    }

    /// The decider's process id (a child of arbiter that is not part of the sandbox).
    pub fn pid(&self) -> libc::pid_t {
        self.pid
    }

    /// Ends the decider: closes its stdin (a decider exits at the end of its input), gives
    /// it a second to do so, then kills it; reaps it. Idempotent.
    pub fn finish(&self) {
        let Some(mut child) = self.child.lock().unwrap_or_else(|p| p.into_inner()).take() else {
            return;
        };
        // The sandbox is gone: the end of the decider's output is no failure to record.
        self.shared.finishing.store(true, Ordering::Relaxed);
        // Dropping the sender ends the writer thread once it has written what is queued,
        // which closes the decider's stdin.
        drop(self.queue.lock().unwrap_or_else(|p| p.into_inner()).take());
        let mut pfd = libc::pollfd {
            fd: self.pidfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: pfd is one valid pollfd.
        let exited = unsafe { libc::poll(&mut pfd, 1, 1000) } > 0;
        if !exited {
            // SAFETY: pidfd_send_signal on our pidfd with no siginfo.
            unsafe {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    self.pidfd.as_raw_fd(),
                    libc::SIGKILL,
                    std::ptr::null::<libc::siginfo_t>(),
                    0,
                )
            };
        }
        // What the decider wrote before it ended (a late or duplicate answer, garbage) is
        // still recorded: the reader reads to the end of its output, for at most a second
        // (an orphan of the decider may hold that output open).
        if let Some(done) = self
            .reader_done
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            let _ = done.recv_timeout(Duration::from_secs(1));
        }
        // Only now may the audit log end.
        drop(
            self.shared
                .audit
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take(),
        );
        // ECHILD when the supervisor already reaped it (it exited during the run).
        let _ = child.wait();
    }

    fn default_answer(&self, q: &Question<'_>) -> Answer {
        match self.shared.default {
            DefaultAnswer::Allow => Answer::Allow,
            // The policy's own default denial stands (and the call record says the policy
            // decided); a policy whose default allows is refused with EACCES.
            DefaultAnswer::Deny if q.default_errno.is_some() => Answer::Default,
            DefaultAnswer::Deny => Answer::Deny(libc::EACCES),
        }
    }

    fn fail(&self, q: &Question<'_>, id: Option<u64>, failure: Failure, detail: String) -> Answer {
        FailureRecord {
            failure,
            id,
            question: Some(q),
            answer: Some(self.shared.default),
            detail,
        }
        .write(&self.shared);
        self.default_answer(q)
    }
}

impl Drop for External {
    fn drop(&mut self) {
        self.finish();
    }
}

impl Decider for External {
    fn name(&self) -> &'static str {
        "decider"
    }

    fn decide(&self, q: &Question<'_>) -> Answer {
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx): (Slot, Receiver<Option<Decision>>) = mpsc::sync_channel(1);
        {
            let mut pending = self.shared.pending();
            if pending.gone {
                drop(pending);
                return self.fail(q, Some(id), Failure::Gone, GONE.into());
            }
            pending.slots.insert(id, tx);
        }
        let line = wire::request(id, q);
        let sent = match &*self.queue.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(queue) => queue.try_send(line),
            None => Err(TrySendError::Disconnected(String::new())),
        };
        if let Err(e) = sent {
            self.shared.pending().slots.remove(&id);
            return match e {
                TrySendError::Full(_) => self.fail(
                    q,
                    Some(id),
                    Failure::QueueFull,
                    format!(
                        "{QUEUE} requests wait to be written: the decider does not read its stdin"
                    ),
                ),
                TrySendError::Disconnected(_) => self.fail(
                    q,
                    Some(id),
                    Failure::Gone,
                    "the decider's stdin is closed".into(),
                ),
            };
        }
        let got = match rx.recv_timeout(self.timeout) {
            Err(RecvTimeoutError::Timeout) => {
                // Given up on: an answer arriving from now on is a duplicate. One may have
                // arrived between the timeout and the removal.
                self.shared.pending().slots.remove(&id);
                rx.try_recv().map_err(|_| RecvTimeoutError::Timeout)
            }
            other => other,
        };
        match got {
            Ok(Some(Decision::Allow)) => Answer::Allow,
            Ok(Some(Decision::Deny(errno))) => Answer::Deny(errno),
            // Malformed: the reader recorded the `bad_answer`.
            Ok(None) => self.default_answer(q),
            Err(RecvTimeoutError::Timeout) => self.fail(
                q,
                Some(id),
                Failure::Timeout,
                format!("no answer within {} ms", self.timeout.as_millis()),
            ),
            Err(RecvTimeoutError::Disconnected) => {
                self.fail(q, Some(id), Failure::Gone, GONE.into())
            }
        }
    }
}

const GONE: &str = "the decider has exited or closed its stdout";

/// The writer thread: writes queued lines to the decider's stdin until the queue closes or
/// a write fails (the decider closed its stdin or exited).
fn write_lines(rx: Receiver<String>, mut stdin: ChildStdin) {
    for line in rx {
        if stdin.write_all(line.as_bytes()).is_err() {
            break;
        }
    }
}

/// The reader thread: hands each answer to its request's slot, records everything else,
/// and at the end of the decider's output releases every waiting request.
fn read_answers(stdout: ChildStdout, shared: &Shared) {
    let mut reader = BufReader::with_capacity(16 * 1024, stdout);
    let mut line = Vec::new();
    let record = |failure: Failure, id: Option<u64>, detail: String| {
        FailureRecord {
            failure,
            id,
            question: None,
            answer: None,
            detail,
        }
        .write(shared)
    };
    loop {
        match read_line(&mut reader, &mut line) {
            Ok(Some(false)) => {}
            Ok(Some(true)) => {
                record(
                    Failure::Garbage,
                    None,
                    format!("a line longer than {MAX_LINE} bytes"),
                );
                continue;
            }
            Ok(None) | Err(_) => break,
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let reply = wire::parse(&line);
        let (id, answer, bad) = match reply {
            Reply::Garbage(why) => {
                record(Failure::Garbage, None, format!("{why}: {}", excerpt(&line)));
                continue;
            }
            Reply::Answer { id, decision } => (id, Some(decision), None),
            Reply::Bad { id, error } => (id, None, Some(error)),
        };
        let slot = shared.pending().slots.remove(&id);
        match slot {
            Some(slot) => {
                if let Some(error) = bad {
                    FailureRecord {
                        failure: Failure::BadAnswer,
                        id: Some(id),
                        question: None,
                        answer: Some(shared.default),
                        detail: format!("{error}: {}", excerpt(&line)),
                    }
                    .write(shared);
                }
                // The waiter may have just timed out and gone: nothing to do then.
                let _ = slot.try_send(answer);
            }
            None if id < shared.next_id.load(Ordering::Relaxed) => record(
                Failure::Duplicate,
                Some(id),
                format!(
                    "request {id} was already answered or given up on: {}",
                    excerpt(&line)
                ),
            ),
            None => record(
                Failure::UnknownId,
                Some(id),
                format!("no request {id} was sent: {}", excerpt(&line)),
            ),
        }
    }
    // No answer can come any more: every waiting request gets its default now.
    let waiting = {
        let mut pending = shared.pending();
        pending.gone = true;
        std::mem::take(&mut pending.slots)
    };
    if !shared.finishing.load(Ordering::Relaxed) {
        record(
            Failure::Exited,
            None,
            format!(
                "the decider closed its stdout (exited?); {} request(s) were waiting",
                waiting.len()
            ),
        );
    }
}

/// Reads one line (without its newline) into `line`: `Some(false)` for a line,
/// `Some(true)` for a line longer than [`MAX_LINE`] (skipped), `None` at the end.
fn read_line(r: &mut impl BufRead, line: &mut Vec<u8>) -> std::io::Result<Option<bool>> {
    line.clear();
    let mut too_long = false;
    let mut any = false;
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok(any.then_some(too_long));
        }
        any = true;
        let (part, used, end) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], i + 1, true),
            None => (buf, buf.len(), false),
        };
        if !too_long {
            if line.len() + part.len() > MAX_LINE {
                too_long = true;
                line.clear();
            } else {
                line.extend_from_slice(part);
            }
        }
        r.consume(used);
        if end {
            return Ok(Some(too_long));
        }
    }
}

/// At most 200 bytes of a line, for a record.
fn excerpt(line: &[u8]) -> String {
    let cut = &line[..line.len().min(200)];
    format!("{:?}", String::from_utf8_lossy(cut))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_bounded_and_the_last_one_may_lack_a_newline() {
        let long = vec![b'x'; MAX_LINE + 1];
        let mut input = b"one\n".to_vec();
        input.extend_from_slice(&long);
        input.extend_from_slice(b"\ntwo");
        let mut r = std::io::Cursor::new(input);
        let mut line = Vec::new();
        assert_eq!(read_line(&mut r, &mut line).unwrap(), Some(false));
        assert_eq!(line, b"one");
        assert_eq!(read_line(&mut r, &mut line).unwrap(), Some(true));
        assert_eq!(read_line(&mut r, &mut line).unwrap(), Some(false));
        assert_eq!(line, b"two");
        assert_eq!(read_line(&mut r, &mut line).unwrap(), None);
    }
}
