//! The lines arbiter says on its stderr while a program runs (denial lines, the decider's
//! first failures, the exit summary, the daemon's notes), written by a thread of their own.
//!
//! The sandboxed program usually shares that stderr: the caller's terminal. It may stop it
//! (`tcflow(TCOOFF)` after clearing `IXON`, so ^Q no longer restarts it), fill a pipe it
//! shares, or set `O_NONBLOCK` on the open file description. A thread answering one of the
//! program's calls therefore never writes there: [`say`] only queues the line (at most
//! [`MAX_PENDING`] bytes; lines beyond that are counted) and returns, and one writer thread
//! writes the queue out, each line with one `write(2)`. [`say_in_order`] (denial lines)
//! also waits a moment ([`ORDER_WAIT`]) for its line to be written, so that the line comes
//! before the program's own reaction to the denial whenever stderr moves. When stderr moves again after lines
//! were counted, the writer says how many were lost.
//!
//! [`finish`] waits for the queue to be written as long as stderr keeps taking lines. When
//! stderr is a terminal, after [`STALL`] without progress it gives up: the lines still
//! queued are discarded (their number is returned) and later [`say`]s are dropped, so
//! `arbiter run` ends when the command ends even if the program left its terminal stopped
//! (nothing restarts it then: the program cleared `IXON`, so not even ^Q). Any other stderr
//! (a pipe to a pager, a file) is waited for at the end, as a native pipeline waits for its
//! reader; while the program runs, a denial line waits for such a stderr at most [`STALL`]
//! without progress (the reader may write to the terminal the program stopped).

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// Bytes queued at most; a line that does not fit is counted, not kept.
pub const MAX_PENDING: usize = 64 * 1024;

/// How long [`finish`] waits for a terminal to take a line before it gives up.
pub const STALL: Duration = Duration::from_secs(2);

#[derive(Default)]
struct Pending {
    lines: VecDeque<String>,
    bytes: usize,
    /// Lines not queued (the queue was full) and not yet reported.
    dropped: u64,
    /// A line is being written (taken off the queue, not yet done).
    writing: bool,
    /// Lines written so far: [`finish`] watches it for progress.
    written: u64,
    /// Lines queued so far: the sequence number of the last one.
    queued: u64,
    /// Queued lines written (or failed) so far, in order.
    done: u64,
    /// The writer thread runs.
    started: bool,
    /// [`finish`] gave up: nothing more is queued.
    closed: bool,
}

impl Pending {
    fn fits(&self, line: &str) -> bool {
        self.bytes + line.len() <= MAX_PENDING
    }

    /// Queues the line if it fits (returning its sequence number), else counts it.
    fn queue(&mut self, line: &str) -> Option<u64> {
        if self.fits(line) {
            self.bytes += line.len();
            self.lines.push_back(line.to_owned());
            self.queued += 1;
            Some(self.queued)
        } else {
            self.dropped += 1;
            None
        }
    }
}

static PENDING: Mutex<Pending> = Mutex::new(Pending {
    lines: VecDeque::new(),
    bytes: 0,
    dropped: 0,
    writing: false,
    written: 0,
    queued: 0,
    done: 0,
    started: false,
    closed: false,
});
static CHANGED: Condvar = Condvar::new();

fn pending() -> MutexGuard<'static, Pending> {
    PENDING.lock().unwrap_or_else(|p| p.into_inner())
}

/// How long [`say_in_order`] waits for its line to be written.
pub const ORDER_WAIT: Duration = Duration::from_millis(250);

/// Queues `line` (which ends with its newline) for stderr and returns without writing.
/// Never blocks on stderr: a full queue counts the line instead.
pub fn say(line: &str) {
    queue(line);
}

/// Queues `line` like [`say`], then waits until it is written: a denial line then comes
/// before whatever the program writes after the call is answered (as when the line was
/// written by the thread answering it). On a terminal, which the program sharing it can
/// stop, the wait is at most [`ORDER_WAIT`]; a pipe or file is waited for as long as it
/// takes lines, and at most [`STALL`] without one written (its reader may write to the
/// terminal the program stopped).
pub fn say_in_order(line: &str) {
    let Some(seq) = queue(line) else { return };
    let p = pending();
    let unwritten = |p: &mut Pending| p.done < seq && !p.closed;
    if stderr_is_terminal() {
        drop(
            CHANGED
                .wait_timeout_while(p, ORDER_WAIT, unwritten)
                .unwrap_or_else(|e| e.into_inner()),
        );
    } else {
        // A pipe or file is waited for while it takes lines; one that takes nothing for
        // STALL no longer holds the call: its reader outside the sandbox can be held up by
        // the program (it writes to the terminal the program stopped, red team s6 finding
        // 12). The line stays queued and is written when the pipe moves again.
        let mut p = p;
        loop {
            let before = p.written;
            let (next, timeout) = CHANGED
                .wait_timeout_while(p, STALL, |p| unwritten(p) && p.written == before)
                .unwrap_or_else(|e| e.into_inner());
            p = next;
            if !unwritten(&mut p) || (timeout.timed_out() && p.written == before) {
                return;
            }
        }
    }
}

/// [`is_terminal`], asked once: the broker's stderr is set when it starts.
fn stderr_is_terminal() -> bool {
    static TERMINAL: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *TERMINAL.get_or_init(is_terminal)
}

fn queue(line: &str) -> Option<u64> {
    let mut p = pending();
    if p.closed {
        return None;
    }
    if !p.fits(line) {
        p.dropped += 1;
        return None;
    }
    if !p.started {
        let spawned = std::thread::Builder::new()
            .name("stderr".into())
            .spawn(writer);
        if spawned.is_err() {
            p.dropped += 1;
            return None;
        }
        p.started = true;
    }
    let seq = p.queue(line);
    CHANGED.notify_all();
    seq
}

/// Waits until every queued line is written, for as long as stderr keeps taking them;
/// after [`STALL`] without a line written, gives up. Returns how many lines were not
/// written (0 when all were). Later [`say`]s are dropped once it gave up.
pub fn finish() -> u64 {
    let mut p = pending();
    loop {
        if p.lines.is_empty() && !p.writing && p.dropped == 0 {
            return 0;
        }
        if !p.started {
            // Only counted lines, and no thread to report them.
            return std::mem::take(&mut p.dropped);
        }
        let before = p.written;
        let give_up = is_terminal();
        let (next, timeout) = CHANGED
            .wait_timeout_while(p, STALL, |p| {
                p.written == before && (!p.lines.is_empty() || p.writing || p.dropped > 0)
            })
            .unwrap_or_else(|e| e.into_inner());
        p = next;
        if give_up && timeout.timed_out() && p.written == before {
            let lost = p.lines.len() as u64 + u64::from(p.writing) + p.dropped;
            p.done += p.lines.len() as u64;
            p.lines.clear();
            p.bytes = 0;
            p.dropped = 0;
            p.closed = true;
            CHANGED.notify_all();
            return lost;
        }
    }
}

/// Whether stderr is a terminal (which the program sharing it can stop).
pub fn is_terminal() -> bool {
    // SAFETY: isatty on a descriptor number; no memory is passed.
    unsafe { libc::isatty(2) == 1 }
}

/// Whether stderr is a terminal that takes nothing for [`STALL`] (output stopped).
pub fn stalled() -> bool {
    if !is_terminal() {
        return false;
    }
    let mut fd = libc::pollfd {
        fd: 2,
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: poll on one valid pollfd we own.
    let n = unsafe { libc::poll(&mut fd, 1, STALL.as_millis() as libc::c_int) };
    n == 0
}

/// The writer thread: takes lines off the queue and writes them, blocking only itself.
fn writer() {
    let mut p = pending();
    loop {
        let (line, queued) = match p.lines.pop_front() {
            Some(line) => {
                p.bytes -= line.len();
                (line, true)
            }
            None if p.dropped > 0 && !p.closed => {
                let n = std::mem::take(&mut p.dropped);
                let note = format!("arbiter: {n} line(s) for stderr were not shown: it did not take them in time (output stopped?)\n");
                (note, false)
            }
            None => {
                p = CHANGED.wait(p).unwrap_or_else(|e| e.into_inner());
                continue;
            }
        };
        p.writing = true;
        drop(p);
        write_all(line.as_bytes());
        p = pending();
        p.writing = false;
        p.written += 1;
        if queued {
            p.done += 1;
        }
        CHANGED.notify_all();
    }
}

/// Writes `bytes` to fd 2: one `write(2)` when stderr takes it whole; waits (in `poll`)
/// when the program made the description non-blocking; gives up on other errors.
fn write_all(mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: bytes is a valid buffer of bytes.len() bytes for the call's duration.
        let n = unsafe { libc::write(2, bytes.as_ptr().cast(), bytes.len()) };
        if n > 0 {
            bytes = &bytes[n as usize..];
            continue;
        }
        match std::io::Error::last_os_error().raw_os_error() {
            Some(libc::EINTR) => {}
            Some(libc::EAGAIN) => {
                let mut fd = libc::pollfd {
                    fd: 2,
                    events: libc::POLLOUT,
                    revents: 0,
                };
                // SAFETY: poll on one valid pollfd we own.
                unsafe { libc::poll(&mut fd, 1, -1) };
            }
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_counts_lines_instead_of_keeping_them() {
        // On a queue of its own, not through `say` (whose writer would write to the test's
        // stderr).
        let mut p = Pending::default();
        let line = "x".repeat(1000);
        for _ in 0..100 {
            p.queue(&line);
        }
        assert_eq!(p.lines.len(), MAX_PENDING / 1000);
        assert!(p.bytes <= MAX_PENDING);
        assert_eq!(p.dropped, 100 - (MAX_PENDING / 1000) as u64);
    }
}
