//! Slow calls: calls that may wait for the program's peer (a blocking `connect` or send, a
//! FIFO open waiting for its other end) and the descriptors they hold meanwhile.
//!
//! A waiting call holds a broker thread and descriptors for as long as the peer makes it
//! wait, which the program controls (it can fill its own socketpair's queue first). So each
//! sandbox ([`Budget`], one per [`crate::core::RequestCore`]) may have at most
//! [`SLOW_CALLS`] slow calls counted at once, and its calls may hold at most [`SLOW_FDS`]
//! descriptors taken from the program (a send's socket and every `SCM_RIGHTS` descriptor
//! it carries, a waiting FIFO open's four); and all sandboxes of the broker together at most
//! half of its descriptor table ([`total_fds`]): the other half is the reserve for
//! everything else — accepting clients and their channels under `arbiter serve`, the
//! end-of-run scan, the audit log.
//!
//! What a call over a budget gets (see docs/process-model.md, "Slow calls"):
//! * a send carrying descriptors beyond the descriptor budget: `ETOOMANYREFS`, the kernel's
//!   answer when a user has too many descriptors in flight on unix sockets (unix(7));
//! * a FIFO open that would wait beyond either budget: `ENFILE`;
//! * a blocking `connect` or send without descriptors beyond [`SLOW_CALLS`]: served, but
//!   not counted, so the seccomp transport's pool does not grow for it (the sandbox's other
//!   calls queue behind it; it holds no more than its socket).
//!
//! Bytes: a blocking send keeps its copy of the program's payload (up to 4 MiB) only when
//! [`Budget::bytes`] counts it: at most [`SLOW_BYTES`] per sandbox and [`TOTAL_BYTES`] for
//! all sandboxes of the broker. A stream send beyond it keeps no copy while it waits: it
//! re-reads the next piece from the caller's memory each time the socket has room (the
//! caller, blocked in the call, cannot tell that from the kernel copying late); any other
//! send beyond it fails with `ENOBUFS`, the kernel's answer when it cannot allocate.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use crate::core::errno::Errno;

/// Most slow calls counted at once per sandbox.
pub const SLOW_CALLS: usize = 256;
/// Most descriptors taken from the program that one sandbox's calls hold at once.
pub const SLOW_FDS: usize = 1024;

/// Most payload bytes one sandbox's blocking sends keep copied at once.
pub const SLOW_BYTES: usize = 8 << 20;
/// Most payload bytes the blocking sends of all sandboxes of the broker keep at once.
pub const TOTAL_BYTES: usize = 64 << 20;

/// Descriptors held by the slow calls of every sandbox of this broker.
static TOTAL_FDS: AtomicUsize = AtomicUsize::new(0);
/// Payload bytes kept by the blocking sends of every sandbox of this broker.
static TOTAL_BYTES_HELD: AtomicUsize = AtomicUsize::new(0);

/// Most descriptors all sandboxes' calls may hold at once: half the broker's soft
/// `RLIMIT_NOFILE` (read once, at the first slow call: `arbiter serve` raises its limit
/// before it serves anyone), at least [`SLOW_FDS`]/4.
pub fn total_fds() -> usize {
    static MAX: OnceLock<usize> = OnceLock::new();
    *MAX.get_or_init(|| {
        // SAFETY: rlimit is plain old data; getrlimit fills it.
        let mut rl: libc::rlimit = unsafe { std::mem::zeroed() };
        // SAFETY: rl is a valid out-pointer.
        let soft = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) } == 0 {
            usize::try_from(rl.rlim_cur).unwrap_or(usize::MAX)
        } else {
            1024
        };
        (soft / 2).max(SLOW_FDS / 4)
    })
}

/// One sandbox's slow calls and the descriptors they hold.
#[derive(Debug, Default)]
pub struct Budget {
    calls: AtomicUsize,
    fds: AtomicUsize,
    bytes: AtomicUsize,
}

/// Adds `n` to `counter` unless that passes `max`.
fn take(counter: &AtomicUsize, n: usize, max: usize) -> bool {
    counter
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |have| {
            have.checked_add(n).filter(|&sum| sum <= max)
        })
        .is_ok()
}

impl Budget {
    /// Slow calls counted now (the seccomp pool grows by as many workers).
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::Acquire)
    }

    /// Descriptors held now.
    pub fn fds(&self) -> usize {
        self.fds.load(Ordering::Acquire)
    }

    /// Counts one slow call holding `fds` descriptors, if both budgets (and the broker's
    /// total) allow it; given back when the token is dropped.
    pub fn call(&self, fds: usize) -> Option<Slow<'_>> {
        // Not `then_some`: its argument is built (and dropped, giving back) either way.
        self.enter(fds).then(|| Slow { budget: self, fds })
    }

    /// [`Budget::call`] without a token: true when counted; [`Budget::leave`] gives it back.
    pub fn enter(&self, fds: usize) -> bool {
        if !take(&self.calls, 1, SLOW_CALLS) {
            return false;
        }
        match self.hold(fds) {
            Ok(held) => {
                std::mem::forget(held);
                true
            }
            Err(_) => {
                self.calls.fetch_sub(1, Ordering::AcqRel);
                false
            }
        }
    }

    /// Gives back what a successful [`Budget::enter`] with the same `fds` counted.
    pub fn leave(&self, fds: usize) {
        drop(Held {
            budget: self,
            n: fds,
        });
        self.calls.fetch_sub(1, Ordering::AcqRel);
    }

    /// Counts `n` descriptors a call takes from the program and holds, or `ETOOMANYREFS`
    /// when that passes the sandbox's [`SLOW_FDS`] or the broker's [`total_fds`].
    pub fn hold(&self, n: usize) -> Result<Held<'_>, Errno> {
        if n == 0 {
            return Ok(Held { budget: self, n });
        }
        if !take(&self.fds, n, SLOW_FDS) {
            return Err(Errno(libc::ETOOMANYREFS));
        }
        if !take(&TOTAL_FDS, n, total_fds()) {
            self.fds.fetch_sub(n, Ordering::AcqRel);
            return Err(Errno(libc::ETOOMANYREFS));
        }
        Ok(Held { budget: self, n })
    }
}

impl Budget {
    /// Payload bytes kept now.
    pub fn bytes_held(&self) -> usize {
        self.bytes.load(Ordering::Acquire)
    }

    /// Counts `n` payload bytes a blocking send keeps while it waits, or `None` when that
    /// passes the sandbox's [`SLOW_BYTES`] or the broker's [`TOTAL_BYTES`].
    pub fn bytes(&self, n: usize) -> Option<Bytes<'_>> {
        if n == 0 {
            return Some(Bytes { budget: self, n });
        }
        if !take(&self.bytes, n, SLOW_BYTES) {
            return None;
        }
        if !take(&TOTAL_BYTES_HELD, n, TOTAL_BYTES) {
            self.bytes.fetch_sub(n, Ordering::AcqRel);
            return None;
        }
        Some(Bytes { budget: self, n })
    }
}

/// Payload bytes counted by [`Budget::bytes`], given back when dropped.
#[derive(Debug)]
pub struct Bytes<'a> {
    budget: &'a Budget,
    n: usize,
}

impl Drop for Bytes<'_> {
    fn drop(&mut self) {
        if self.n > 0 {
            self.budget.bytes.fetch_sub(self.n, Ordering::AcqRel);
            TOTAL_BYTES_HELD.fetch_sub(self.n, Ordering::AcqRel);
        }
    }
}

/// Descriptors counted by [`Budget::hold`], given back when dropped.
#[derive(Debug)]
pub struct Held<'a> {
    budget: &'a Budget,
    n: usize,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if self.n > 0 {
            self.budget.fds.fetch_sub(self.n, Ordering::AcqRel);
            TOTAL_FDS.fetch_sub(self.n, Ordering::AcqRel);
        }
    }
}

/// A slow call counted by [`Budget::call`], given back when dropped.
#[derive(Debug)]
pub struct Slow<'a> {
    budget: &'a Budget,
    fds: usize,
}

impl Drop for Slow<'_> {
    fn drop(&mut self) {
        self.budget.leave(self.fds);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_and_descriptors_are_bounded_and_given_back() {
        let b = Budget::default();
        let calls: Vec<_> = (0..SLOW_CALLS).map(|_| b.call(1).unwrap()).collect();
        assert!(b.call(1).is_none(), "a call over the budget");
        assert_eq!(b.calls(), SLOW_CALLS);
        drop(calls);
        assert_eq!((b.calls(), b.fds()), (0, 0));
        let h = b.hold(SLOW_FDS.min(total_fds())).unwrap();
        assert_eq!(b.hold(1).unwrap_err(), Errno(libc::ETOOMANYREFS));
        // A call whose descriptors do not fit is not counted either.
        assert!(b.call(1).is_none());
        assert_eq!(b.calls(), 0);
        drop(h);
        assert_eq!(b.fds(), 0);
        let _h = b.hold(3).unwrap();
        assert_eq!(b.fds(), 3);
    }

    #[test]
    fn payload_bytes_are_bounded_per_sandbox_and_given_back() {
        let b = Budget::default();
        let two: Vec<_> = (0..2).map(|_| b.bytes(SLOW_BYTES / 2).unwrap()).collect();
        assert!(b.bytes(1).is_none(), "bytes over the sandbox's budget");
        assert_eq!(b.bytes_held(), SLOW_BYTES);
        drop(two);
        assert_eq!(b.bytes_held(), 0);
        assert!(b.bytes(SLOW_BYTES + 1).is_none());
        assert_eq!(b.bytes_held(), 0, "a refused count takes nothing");
        let _k = b.bytes(4096).unwrap();
        assert_eq!(b.bytes_held(), 4096);
    }
}
