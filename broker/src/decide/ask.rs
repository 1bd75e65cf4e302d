//! `arbiter run --ask`: a person at the terminal decides what the policy leaves to its
//! default, one question at a time.
//!
//! The broker opens `/dev/tty` itself (the program's stdin may be anything), shows the
//! call, its subject (the real path and access, the endpoint, or the name) and the
//! program (pid, exe), and reads one key with the terminal in non-canonical, no-echo mode:
//!
//! | key | answer |
//! |---|---|
//! | `a` | allow once |
//! | `A` | allow always: this subject (path and rights, endpoint, name) is not asked again |
//! | `d` | deny once |
//! | `D` | deny always |
//!
//! Other keys are ignored. Keys typed before the question appears are discarded, so
//! typeahead meant for the program never answers one. A key counts only when it is a
//! key press alone: one read of exactly that byte, with nothing else arriving within
//! [`SETTLE_MS`] after it. The program shares the terminal and can make it write replies
//! into its input (device attributes, `XTVERSION`, cursor position, …); a reply comes in a
//! burst, which is discarded whole (with everything up to a quiet [`SETTLE_MS`]), so its
//! bytes never answer a question (red team s6 finding 13). A program that keeps the
//! input busy keeps the question waiting (until the run ends: the policy's default); it
//! cannot answer it. When a run that asked ends, the terminal's pending input is
//! flushed, so replies the program provoked do not reach the shell that started arbiter. At the end of the terminal's input
//! (it closed), every question gets the policy's default without being shown.
//!
//! Questions are asked one at a time (the `asking` lock); the "always" answers are locked
//! only to look up and to record, never across the terminal read. When the run ends
//! ([`Asker::finish`]) a question on screen is abandoned: it gets the policy's default,
//! is not remembered (so not saved), and the terminal is put back.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use super::save::Remembered;
use super::wire::access_words;
use crate::core::decider::{Answer, Decider, Question, Subject};

/// Why `--ask` cannot start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AskError {
    /// The terminal could not be opened (no controlling terminal: ENXIO).
    #[error("--ask needs a terminal to ask on (run arbiter from one; --decider CMD decides without one), and {path} cannot be opened")]
    NoTerminal {
        /// The terminal's path.
        path: String,
        /// The error from `open`.
        source: std::io::Error,
    },
    /// The file opened is not a terminal.
    #[error("--ask needs a terminal to ask on, and {0} is not one")]
    NotATerminal(String),
}

/// A person at a terminal, as a [`Decider`].
pub struct Asker {
    tty: File,
    /// Held while a question is on screen: one question at a time.
    asking: Mutex<()>,
    /// The "always" answers.
    remembered: Mutex<Remembered>,
    /// The terminal mode to restore while a question is on screen.
    restore: Mutex<Option<libc::termios>>,
    /// The terminal's input ended: no question can be answered any more.
    closed: AtomicBool,
    /// The run ended ([`Asker::finish`]): no question is asked or answered any more.
    ended: AtomicBool,
    /// An eventfd [`Asker::finish`] signals, which wakes a question waiting for its key.
    wake: OwnedFd,
    /// A question was shown: the run's end flushes the terminal's input.
    asked: AtomicBool,
}

/// How long the terminal's input must stay quiet after a key for the key to count, in
/// milliseconds: a person's key press arrives alone, a terminal's reply (or a paste) in a
/// burst, and a reply's tail that arrives in a read of its own is followed by more of it.
const SETTLE_MS: libc::c_int = 50;

/// Said once per question when input that was not a key press alone was discarded.
const IGNORED: &str = "\narbiter: input that was not a single key press was ignored \
    (a terminal's reply or a paste never answers); press a key: ";

/// What one read of the terminal gave.
enum Input {
    /// One of the four keys, alone.
    Key(char),
    /// Input that is not a key press alone, discarded.
    Ignored,
    /// The run ended.
    Ended,
    /// The terminal's input ended or failed.
    Closed,
}

/// How draining the terminal's input ended.
enum Drained {
    /// Nothing arrived.
    Quiet,
    /// Input arrived and was discarded; the input is quiet now.
    More,
    /// The run ended.
    Ended,
    /// The terminal's input ended or failed.
    Closed,
}

/// How a question ended.
enum Asked {
    /// One of the four keys.
    Key(char),
    /// The terminal's input ended or failed.
    Closed,
    /// The run ended while the question waited.
    Ended,
    /// arbiter's process group is not the terminal's foreground group (the program took
    /// it, or arbiter runs in the background): no key can be read.
    Background,
}

impl Asker {
    /// Opens the controlling terminal (`/dev/tty`).
    pub fn open() -> Result<Asker, AskError> {
        Asker::open_at(Path::new("/dev/tty"))
    }

    /// Opens the terminal at `path`.
    pub fn open_at(path: &Path) -> Result<Asker, AskError> {
        let tty = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            // Non-blocking: the program shares this terminal and may stop its output
            // (`tcflow(TCOOFF)`); a question then waits in `poll`, where the run's end
            // wakes it, never in `write`. The flag is on our own open file description,
            // not on the program's descriptors.
            .custom_flags(libc::O_NOCTTY | libc::O_CLOEXEC | libc::O_NONBLOCK)
            .open(path)
            .map_err(|source| AskError::NoTerminal {
                path: path.display().to_string(),
                source,
            })?;
        // SAFETY: isatty on an open descriptor.
        if unsafe { libc::isatty(tty.as_raw_fd()) } != 1 {
            return Err(AskError::NotATerminal(path.display().to_string()));
        }
        // SAFETY: eventfd with valid flags; the fd it returns is checked and then owned.
        let wake = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if wake < 0 {
            return Err(AskError::NoTerminal {
                path: path.display().to_string(),
                source: std::io::Error::last_os_error(),
            });
        }
        Ok(Asker {
            tty,
            asking: Mutex::new(()),
            remembered: Mutex::new(Remembered::default()),
            restore: Mutex::new(None),
            closed: AtomicBool::new(false),
            ended: AtomicBool::new(false),
            // SAFETY: `wake` is a new descriptor nothing else owns.
            wake: unsafe { OwnedFd::from_raw_fd(wake) },
            asked: AtomicBool::new(false),
        })
    }

    /// The "always" answers given so far.
    pub fn remembered(&self) -> MutexGuard<'_, Remembered> {
        self.remembered.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Ends the asking (the run ends): a question still on screen is abandoned (the
    /// policy's default, not remembered), no other is asked, and the terminal is put back
    /// as it was.
    pub fn finish(&self) {
        self.ended.store(true, Ordering::SeqCst);
        let one: u64 = 1;
        // SAFETY: an 8-byte write from a u64 to our eventfd.
        unsafe {
            libc::write(
                self.wake.as_raw_fd(),
                (&one as *const u64).cast(),
                std::mem::size_of::<u64>(),
            )
        };
        // The woken question says on the terminal that it was abandoned, and returns.
        drop(self.asking.lock().unwrap_or_else(|p| p.into_inner()));
        if let Some(mode) = self
            .restore
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            // SAFETY: tcsetattr on our open terminal with a termios read from it.
            unsafe { libc::tcsetattr(self.tty.as_raw_fd(), libc::TCSANOW, &mode) };
            let _ = (&self.tty).write_all(b"\n");
        }
        if self.asked.load(Ordering::SeqCst) {
            // Replies to queries the program sent, still pending, would be read by the
            // shell that started arbiter as if typed: they are discarded. A reply the
            // terminal sends after this point is not (docs/security.md).
            // SAFETY: tcflush on our open terminal.
            unsafe { libc::tcflush(self.tty.as_raw_fd(), libc::TCIFLUSH) };
        }
    }

    /// Shows the question and reads one of the four keys, until the terminal's input ends
    /// or the run ends.
    fn ask(&self, q: &Question<'_>) -> Asked {
        let fd = self.tty.as_raw_fd();
        // SAFETY: tcgetpgrp on our open terminal; getpgrp has no preconditions.
        if unsafe { libc::tcgetpgrp(fd) != libc::getpgrp() } {
            // A read from the background fails (arbiter ignores SIGTTIN, see
            // sandbox::job_control): the question is shown and not waited for.
            let said = "no answer (arbiter is not in the terminal's foreground): the policy's default applies";
            self.show(format!("{}{said}\n", prompt(q)).as_bytes());
            return Asked::Background;
        }
        // SAFETY: termios is plain old data.
        let mut mode: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: tcgetattr on our open terminal into a valid termios.
        let have_mode = unsafe { libc::tcgetattr(fd, &mut mode) } == 0;
        {
            // Under the lock `finish` takes: either it has not run yet and will put the
            // mode back, or `ended` is seen here and the terminal is left alone.
            let mut restore = self.restore.lock().unwrap_or_else(|p| p.into_inner());
            if self.ended.load(Ordering::SeqCst) {
                return Asked::Ended;
            }
            if have_mode {
                let mut keys = mode;
                keys.c_lflag &= !(libc::ICANON | libc::ECHO);
                keys.c_cc[libc::VMIN] = 1;
                keys.c_cc[libc::VTIME] = 0;
                *restore = Some(mode);
                // SAFETY: tcsetattr on our open terminal with a valid termios.
                unsafe { libc::tcsetattr(fd, libc::TCSANOW, &keys) };
            }
        }
        self.asked.store(true, Ordering::SeqCst);
        // Keys typed before the question appears are not an answer to it.
        // SAFETY: tcflush on our open terminal.
        unsafe { libc::tcflush(fd, libc::TCIFLUSH) };
        let mut asked = Asked::Closed;
        if !self.show(prompt(q).as_bytes()) {
            asked = Asked::Ended;
        }
        let mut warned = false;
        while matches!(asked, Asked::Closed) {
            match self.key() {
                Input::Key(c) => asked = Asked::Key(c),
                Input::Ignored => {
                    // Once per question: a program provoking replies cannot flood the
                    // terminal with arbiter's text.
                    if !warned {
                        warned = true;
                        if !self.show(IGNORED.as_bytes()) {
                            asked = Asked::Ended;
                        }
                    }
                }
                Input::Ended => asked = Asked::Ended,
                Input::Closed => break,
            }
        }
        if let Some(mode) = self
            .restore
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            // SAFETY: tcsetattr on our open terminal with the termios read from it above.
            unsafe { libc::tcsetattr(fd, libc::TCSANOW, &mode) };
        }
        let said = match asked {
            Asked::Key('a') => "allowed once",
            Asked::Key('A') => "allowed always",
            Asked::Key('d') => "denied once",
            Asked::Key(_) => "denied always",
            Asked::Closed => "no answer (the terminal closed): the policy's default applies",
            Asked::Ended | Asked::Background => {
                "no answer (the run ended): the policy's default applies"
            }
        };
        // The decision re-stated with what it was about, on a line of its own: a question
        // the program repainted on the shared terminal shows up here afterwards.
        let said = format!(
            "{said}\narbiter: {said}: pid {} {} {}\n",
            q.caller.pid,
            q.call,
            subject_text(q)
        );
        self.show(said.as_bytes());
        asked
    }

    /// Reads the terminal's next input: a key press is a read of exactly one of the four
    /// keys with nothing else arriving within [`SETTLE_MS`] after it. Anything else — a
    /// read of more bytes (an escape sequence, a terminal's reply to a query the program
    /// sent, pasted text), any other byte, or a key followed by more input — is discarded
    /// together with whatever follows it until the input has been quiet for
    /// [`SETTLE_MS`]: the bytes of a reply never answer, whichever read they arrive in.
    fn key(&self) -> Input {
        let mut buf = [0u8; 64];
        let n = loop {
            match self.wait(libc::POLLIN, -1) {
                Err(_) => return Input::Closed,
                Ok((_, true)) => return Input::Ended,
                Ok((false, false)) => continue,
                Ok((true, false)) => {}
            }
            match (&self.tty).read(&mut buf) {
                Ok(0) => return Input::Closed,
                Ok(n) => break n,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::Interrupted | std::io::ErrorKind::WouldBlock
                    ) => {}
                Err(_) => return Input::Closed,
            }
        };
        let key = match buf[..n] {
            [b @ (b'a' | b'A' | b'd' | b'D')] => Some(char::from(b)),
            _ => None,
        };
        match self.drain() {
            Drained::Quiet => key.map_or(Input::Ignored, Input::Key),
            Drained::More => Input::Ignored,
            Drained::Ended => Input::Ended,
            Drained::Closed => Input::Closed,
        }
    }

    /// Reads and discards the terminal's input until nothing arrives for [`SETTLE_MS`].
    fn drain(&self) -> Drained {
        let mut more = false;
        let mut buf = [0u8; 256];
        loop {
            match self.wait(libc::POLLIN, SETTLE_MS) {
                Err(_) => return Drained::Closed,
                Ok((_, true)) => return Drained::Ended,
                Ok((false, false)) => {
                    return if more { Drained::More } else { Drained::Quiet };
                }
                Ok((true, false)) => {}
            }
            match (&self.tty).read(&mut buf) {
                Ok(0) => return Drained::Closed,
                Ok(_) => more = true,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::Interrupted | std::io::ErrorKind::WouldBlock
                    ) => {}
                Err(_) => return Drained::Closed,
            }
        }
    }

    /// Waits in `poll` until the terminal is ready for `events` or the end of the run wakes
    /// the asker, or `timeout_ms` passes (-1: no timeout): `Ok((ready, ended))`; an
    /// interrupted or timed-out wait is `Ok((false, ended))`.
    fn wait(
        &self,
        events: libc::c_short,
        timeout_ms: libc::c_int,
    ) -> std::io::Result<(bool, bool)> {
        let mut fds = [
            libc::pollfd {
                fd: self.tty.as_raw_fd(),
                events,
                revents: 0,
            },
            libc::pollfd {
                fd: self.wake.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: poll on two valid pollfds we own.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, timeout_ms) };
        let ended = self.ended.load(Ordering::SeqCst);
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(e);
            }
            return Ok((false, ended));
        }
        Ok((fds[0].revents != 0, fds[1].revents != 0 || ended))
    }

    /// Writes `bytes` to the terminal, waiting in `poll` while it takes nothing (output
    /// stopped); false when the run ended first or the terminal failed.
    fn show(&self, mut bytes: &[u8]) -> bool {
        while !bytes.is_empty() {
            match (&self.tty).write(bytes) {
                Ok(0) => return false,
                Ok(n) => {
                    bytes = &bytes[n..];
                    continue;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => return false,
            }
            match self.wait(libc::POLLOUT, -1) {
                Ok((_, false)) => {}
                _ => return false,
            }
        }
        true
    }
}

impl Decider for Asker {
    fn name(&self) -> &'static str {
        "person"
    }

    fn decide(&self, q: &Question<'_>) -> Answer {
        let deny = Answer::Deny(q.default_errno.unwrap_or(libc::EACCES));
        // Held until answered: one question on the terminal at a time. The "always"
        // answers are locked only to look up and to record: the end of the run takes them
        // while a question may still wait for its key.
        let _turn = self.asking.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(allow) = self.remembered().lookup(q) {
            return if allow { Answer::Allow } else { deny };
        }
        if self.closed.load(Ordering::Relaxed) || self.ended.load(Ordering::SeqCst) {
            return Answer::Default;
        }
        let asked = self.ask(q);
        if self.ended.load(Ordering::SeqCst) {
            // The run ended meanwhile: no answer is acted on or saved.
            return Answer::Default;
        }
        match asked {
            Asked::Key('a') => Answer::Allow,
            Asked::Key('A') => {
                self.remembered().remember(q, true);
                Answer::Allow
            }
            Asked::Key('d') => deny,
            Asked::Key(_) => {
                self.remembered().remember(q, false);
                deny
            }
            Asked::Closed => {
                self.closed.store(true, Ordering::Relaxed);
                Answer::Default
            }
            Asked::Ended | Asked::Background => Answer::Default,
        }
    }
}

/// What the question is about, control characters escaped.
fn subject_text(q: &Question<'_>) -> String {
    match q.subject {
        Subject::Path { path, access } => format!(
            "{} ({})",
            shown(&path.display().to_string()),
            access_words(access).join(", ")
        ),
        Subject::Endpoint(ep) => shown(ep),
        Subject::Name(name) => format!("name {}", shown(name)),
    }
}

/// The question's text: who, what, and the keys.
fn prompt(q: &Question<'_>) -> String {
    let exe = super::wire::exe_of(q.caller)
        .map(|e| shown(&e.display().to_string()))
        .unwrap_or_else(|| "?".into());
    let what = subject_text(q);
    format!(
        "\narbiter: pid {} ({exe}) asks: {} {what}\n\
         arbiter: [a] allow once  [A] allow always  [d] deny once  [D] deny always? ",
        q.caller.pid, q.call
    )
}

/// `s` with control characters, line separators and bidirectional overrides escaped
/// (the audit text format's escaping): a file name cannot drive or reorder the terminal.
fn shown(s: &str) -> String {
    crate::audit::text::escape_controls(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_drive_the_terminal() {
        assert_eq!(
            shown("/tmp/a\x1b]0;x\x07b\n\u{202e}"),
            "/tmp/a\\e]0;x\\x07b\\n\\u{202e}"
        );
        assert!(matches!(
            Asker::open_at(Path::new("/dev/null")),
            Err(AskError::NotATerminal(_))
        ));
    }
}
