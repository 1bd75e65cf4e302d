//! Terminal job control and arbiter's own processes.
//!
//! The program shares the caller's terminal and session, and may make itself the terminal's
//! foreground process group (`setpgid` + `tcsetpgrp` are native). arbiter's group is then a
//! background group: its write to the terminal with `TOSTOP` set, or any `tcsetattr` or
//! read of it (`--ask`), makes the kernel send `SIGTTOU`/`SIGTTIN` to arbiter's group,
//! which by default stops the guardian and the broker while the program runs on, and the
//! user's shell takes the terminal back (red team s6 finding 10). So arbiter ignores both
//! in all its own processes, set before the guardian forks ([`detach`]): a background write
//! then goes through despite `TOSTOP`, a `tcsetattr` too, and a background read fails `EIO`
//! (which `--ask` takes as the terminal closed).
//!
//! The program starts with the dispositions arbiter was given ([`restore_for_exec`], in
//! the child before `exec`): default unless the caller had them ignored. `SIGTSTP` (Ctrl-Z)
//! is left alone: the terminal sends it only to its foreground group, which is arbiter's
//! own (the program included) unless the program left it, so Ctrl-Z stops the whole run as
//! it stops a native command, and `fg` continues it (docs/process-model.md).

use std::sync::atomic::{AtomicU8, Ordering};

/// The signals arbiter ignores in its own processes.
const SIGNALS: [libc::c_int; 2] = [libc::SIGTTOU, libc::SIGTTIN];

/// Not recorded ([`detach`] has not run): nothing to restore.
const UNTOUCHED: u8 = 0;
/// The caller left the signal at its default: the command gets the default back.
const WAS_DEFAULT: u8 = 1;
/// The caller ignored the signal: the command inherits that.
const WAS_IGNORED: u8 = 2;

/// What the caller had, per entry of [`SIGNALS`].
static BEFORE: [AtomicU8; 2] = [AtomicU8::new(UNTOUCHED), AtomicU8::new(UNTOUCHED)];

/// Ignores `SIGTTOU` and `SIGTTIN` in this process (and so in every process it forks
/// from now on), remembering what the caller had. Call once, before the guardian forks.
pub fn detach() -> std::io::Result<()> {
    for (sig, before) in SIGNALS.iter().zip(&BEFORE) {
        // SAFETY: sigaction is plain old data; zeroed is a valid value to be overwritten.
        let mut new: libc::sigaction = unsafe { std::mem::zeroed() };
        new.sa_sigaction = libc::SIG_IGN;
        // SAFETY: as above.
        let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: sigaction on a valid signal number with valid in and out structures.
        if unsafe { libc::sigaction(*sig, &new, &mut old) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let was = if old.sa_sigaction == libc::SIG_IGN {
            WAS_IGNORED
        } else {
            WAS_DEFAULT
        };
        before.store(was, Ordering::Release);
    }
    Ok(())
}

/// Puts back the dispositions [`detach`] found, in a child between `fork` and `exec`: only
/// atomic loads and `signal(2)`, so it is async-signal-safe.
pub fn restore_for_exec() {
    for (sig, before) in SIGNALS.iter().zip(&BEFORE) {
        if before.load(Ordering::Acquire) == WAS_DEFAULT {
            // SAFETY: signal(2) with a valid signal number and SIG_DFL.
            unsafe { libc::signal(*sig, libc::SIG_DFL) };
        }
    }
}
