//! Reporting calls the fast paths answered in-process to the broker's report ring
//! ([`arbiter_protocol::ring`]), when the audit log records every call.
//!
//! The broker hands the ring's memfd over with the fast paths ([`crate::fast_path`]); it is
//! mapped once per process image ([`attach`], before the fast paths are published as ready)
//! and inherited by fork children, which share it. A fast path that may answer a call first
//! claims a slot ([`claim`]): with the ring on and no slot free (or a path too long for a
//! slot), the call goes to the broker instead, which records it itself, so no call goes
//! unrecorded for lack of room. Then it answers and fills the slot ([`Slot::done`]).
//!
//! Signal, fork and vfork safety: no allocation, no lock, no waiting; the process id is the
//! one [`crate::state::pid`] keeps per process (a fork child reads its own; a vfork child,
//! which shares its parent's memory until it execs, reports as its parent), the time comes
//! from `clock_gettime` (vDSO).

use std::ffi::c_int;
use std::sync::atomic::{AtomicPtr, Ordering};

use arbiter_protocol::ring::{Claim, Pending, ReportedCall, Ring, REPORT_PATH_MAX, RING_BYTES};

/// The mapped ring of this process image, or null when calls need no report.
static RING: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());

/// Maps the ring memfd `fd` (the caller closes it). False when it cannot be used: the fast
/// paths must then stay off, since their calls would go unrecorded.
pub fn attach(fd: c_int) -> bool {
    // SAFETY: an all-zero struct stat is a valid value.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: st is a valid, writable struct stat.
    let rc = unsafe { libc::syscall(libc::SYS_fstat, fd, &mut st as *mut libc::stat) };
    if rc < 0 || st.st_size != RING_BYTES as i64 {
        return false;
    }
    // SAFETY: a fresh shared mapping of the whole memfd, whose size was just checked (the
    // broker sealed it against shrinking, so it cannot fault later).
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            RING_BYTES,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return false;
    }
    // SAFETY: p maps RING_BYTES bytes, page-aligned, and is never unmapped.
    let ring = unsafe { Ring::from_raw(p.cast()) };
    if !ring.looks_valid() {
        // SAFETY: p is the mapping made above, used by nobody else.
        unsafe { libc::munmap(p, RING_BYTES) };
        return false;
    }
    RING.store(p.cast(), Ordering::Release);
    true
}

fn ring() -> Option<Ring> {
    let p = RING.load(Ordering::Acquire);
    // SAFETY: a non-null RING is a mapping made by attach, never unmapped.
    (!p.is_null()).then(|| unsafe { Ring::from_raw(p) })
}

/// Whether calls answered in-process must be reported (a ring is mapped).
pub fn on() -> bool {
    !RING.load(Ordering::Acquire).is_null()
}

/// What a fast path may do about recording a call.
pub enum Record {
    /// No report is wanted (no ring: the audit log does not record every call).
    Off,
    /// A claimed slot, to fill when the call is answered (dropping it gives it up).
    Slot(Slot),
    /// The call must go to the broker: the ring is full, or the path does not fit a slot.
    Broker,
}

/// A claimed slot.
pub struct Slot {
    ring: Ring,
    pending: Pending,
}

/// Whether every call answered in-process must be reported (the ring is mapped).
pub fn wanted() -> bool {
    ring().is_some()
}

/// Claims a slot for a call on a path of `path_len` bytes, if reports are wanted.
pub fn claim(path_len: usize) -> Record {
    let Some(ring) = ring() else {
        return Record::Off;
    };
    if path_len == 0 || path_len > REPORT_PATH_MAX {
        return Record::Broker;
    }
    match ring.reserve() {
        Claim::Slot(pending) => Record::Slot(Slot { ring, pending }),
        Claim::Full => Record::Broker,
    }
}

impl Slot {
    /// Reports `call` on `path` with `flags`, answered with `result` (a value, or an errno).
    pub fn done(self, call: ReportedCall, flags: c_int, path: &[u8], result: Result<c_int, c_int>) {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: ts is a valid, writable timespec; clock_gettime is async-signal-safe.
        unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
        let time_ns = (ts.tv_sec as u64)
            .saturating_mul(1_000_000_000)
            .saturating_add(ts.tv_nsec as u64);
        let pid = crate::state::pid();
        let raw = match result {
            Ok(v) => v,
            Err(e) => -e,
        };
        let pos = self.pending.position();
        self.pending.finish(time_ns, pid, call, flags, raw, path);
        if self.ring.wants_wake(pos.wrapping_add(1)) {
            // SAFETY: a futex wake on the ring's wake word, inside the shared mapping (not
            // FUTEX_PRIVATE: the consumer is another process).
            unsafe { libc::syscall(libc::SYS_futex, self.ring.wake_futex(), libc::FUTEX_WAKE, 1) };
        }
    }
}
