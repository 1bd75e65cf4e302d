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
//! typeahead meant for the program never answers one. At the end of the terminal's input
//! (it closed), every question gets the policy's default without being shown.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
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
    /// The "always" answers; held while a question is on screen, which serialises them.
    remembered: Mutex<Remembered>,
    /// The terminal mode to restore while a question is on screen.
    restore: Mutex<Option<libc::termios>>,
    /// The terminal's input ended: no question can be answered any more.
    closed: AtomicBool,
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
            .custom_flags(libc::O_NOCTTY | libc::O_CLOEXEC)
            .open(path)
            .map_err(|source| AskError::NoTerminal {
                path: path.display().to_string(),
                source,
            })?;
        // SAFETY: isatty on an open descriptor.
        if unsafe { libc::isatty(tty.as_raw_fd()) } != 1 {
            return Err(AskError::NotATerminal(path.display().to_string()));
        }
        Ok(Asker {
            tty,
            remembered: Mutex::new(Remembered::default()),
            restore: Mutex::new(None),
            closed: AtomicBool::new(false),
        })
    }

    /// The "always" answers given so far.
    pub fn remembered(&self) -> MutexGuard<'_, Remembered> {
        self.remembered.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Puts the terminal back as it was if a question is still on screen (the run ends
    /// while one waits for its key).
    pub fn finish(&self) {
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
    }

    /// Shows the question and reads one of the four keys; `None` when the terminal's input
    /// ended or failed.
    fn ask(&self, q: &Question<'_>) -> Option<char> {
        let fd = self.tty.as_raw_fd();
        let mut tty = &self.tty;
        // SAFETY: termios is plain old data.
        let mut mode: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: tcgetattr on our open terminal into a valid termios.
        let have_mode = unsafe { libc::tcgetattr(fd, &mut mode) } == 0;
        if have_mode {
            let mut keys = mode;
            keys.c_lflag &= !(libc::ICANON | libc::ECHO);
            keys.c_cc[libc::VMIN] = 1;
            keys.c_cc[libc::VTIME] = 0;
            *self.restore.lock().unwrap_or_else(|p| p.into_inner()) = Some(mode);
            // SAFETY: tcsetattr on our open terminal with a valid termios.
            unsafe { libc::tcsetattr(fd, libc::TCSANOW, &keys) };
        }
        // Keys typed before the question appears are not an answer to it.
        // SAFETY: tcflush on our open terminal.
        unsafe { libc::tcflush(fd, libc::TCIFLUSH) };
        let _ = tty.write_all(prompt(q).as_bytes());
        let mut key = None;
        let mut byte = [0u8; 1];
        loop {
            match tty.read(&mut byte) {
                Ok(1) => {
                    if let c @ ('a' | 'A' | 'd' | 'D') = char::from(byte[0]) {
                        key = Some(c);
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                _ => break,
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
        let said = match key {
            Some('a') => "allowed once\n",
            Some('A') => "allowed always\n",
            Some('d') => "denied once\n",
            Some('D') => "denied always\n",
            _ => "no answer (the terminal closed): the policy's default applies\n",
        };
        let _ = tty.write_all(said.as_bytes());
        key
    }
}

impl Decider for Asker {
    fn name(&self) -> &'static str {
        "person"
    }

    fn decide(&self, q: &Question<'_>) -> Answer {
        let deny = Answer::Deny(q.default_errno.unwrap_or(libc::EACCES));
        // Held until answered: one question on the terminal at a time.
        let mut remembered = self.remembered();
        if let Some(allow) = remembered.lookup(q) {
            return if allow { Answer::Allow } else { deny };
        }
        if self.closed.load(Ordering::Relaxed) {
            return Answer::Default;
        }
        match self.ask(q) {
            Some('a') => Answer::Allow,
            Some('A') => {
                remembered.remember(q, true);
                Answer::Allow
            }
            Some('d') => deny,
            Some('D') => {
                remembered.remember(q, false);
                deny
            }
            _ => {
                self.closed.store(true, Ordering::Relaxed);
                Answer::Default
            }
        }
    }
}

/// The question's text: who, what, and the keys.
fn prompt(q: &Question<'_>) -> String {
    let exe = super::wire::exe_of(q.caller)
        .map(|e| shown(&e.display().to_string()))
        .unwrap_or_else(|| "?".into());
    let what = match q.subject {
        Subject::Path { path, access } => format!(
            "{} ({})",
            shown(&path.display().to_string()),
            access_words(access).join(", ")
        ),
        Subject::Endpoint(ep) => shown(ep),
        Subject::Name(name) => format!("name {}", shown(name)),
    };
    format!(
        "\narbiter: pid {} ({exe}) asks: {} {what}\n\
         arbiter: [a] allow once  [A] allow always  [d] deny once  [D] deny always? ",
        q.caller.pid, q.call
    )
}

/// `s` with control characters escaped: a file name cannot drive the terminal.
fn shown(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_drive_the_terminal() {
        assert_eq!(
            shown("/tmp/a\x1b]0;x\x07b\n"),
            "/tmp/a\\u{1b}]0;x\\u{7}b\\n"
        );
        assert!(matches!(
            Asker::open_at(Path::new("/dev/null")),
            Err(AskError::NotATerminal(_))
        ));
    }
}
