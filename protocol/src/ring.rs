//! The report ring: where the shim reports the calls it answered in-process, for the audit
//! log at `--audit-level all`.
//!
//! The broker creates a sealed memfd of [`RING_BYTES`] bytes, maps it, initialises it
//! ([`Ring::init`]) and hands a descriptor of it to the shim with the [`crate::Call::FastPaths`]
//! reply. The shim maps it and, for every call a fast path answers, fills one fixed-size slot
//! ([`Ring::reserve`], [`Pending::finish`]); the broker drains the slots ([`Ring::take`]) and
//! turns each into an audit record marked as *reported*: the program's claim, not the
//! broker's observation (docs/audit.md explains what such a record is worth).
//!
//! # Layout
//! A header of [`HEADER_SIZE`] bytes, then [`RING_SLOTS`] slots of [`SLOT_SIZE`] bytes. The
//! queue is Dmitry Vyukov's bounded multi-producer queue: every slot starts with a sequence
//! number; a producer claims position `p` by moving the shared `head` from `p` to `p + 1`
//! (compare-and-swap) when slot `p % RING_SLOTS` holds sequence `p`, writes the slot, and
//! publishes it by storing `p + 1`; the consumer takes position `t` when its slot holds
//! `t + 1`, and frees it for the next lap by storing `t + RING_SLOTS`. A slot holds its
//! sequence number less its index, so a zero-filled memfd is a fresh ring: no page is
//! touched before a producer uses it.
//!
//! # Who may be lying
//! Everything in the mapping can be written by any process of the sandbox at any time. So
//! neither side trusts it for memory safety: the capacity and slot size are constants of this
//! crate, never read back; every index is reduced modulo [`RING_SLOTS`]; the producer gives
//! up after a bounded number of attempts (a full or scribbled ring sends the call to the
//! broker); the consumer keeps its own position and copies a slot out once
//! before [`decode_slot`] validates the copy, so a slot changing under it yields, at worst,
//! one entry refused as invalid.
//!
//! # Signal, fork and vfork safety
//! The producer side allocates nothing, takes no lock and never waits: a signal handler that
//! interrupts a producer between claim and publish claims the next slot and publishes it; a
//! fork or vfork child writes to the same shared mapping. A producer killed between claim and
//! publish leaves a hole the consumer skips after a while ([`Ring::skip_stalled`]).

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Slots in the ring (a power of two).
pub const RING_SLOTS: usize = 16_384;

/// Bytes per slot: the fixed fields and a path of up to [`REPORT_PATH_MAX`] (96) bytes. Each
/// page of the ring is allocated and zeroed by the kernel the first time it is touched,
/// which costs several microseconds a page, so the slot is no larger than the paths
/// programs mostly report (a relative name, a path under a library directory); a longer
/// path goes to the broker (docs/performance.md, "Session 8").
pub const SLOT_SIZE: usize = 128;

/// Bytes before the first slot.
pub const HEADER_SIZE: usize = 256;

/// The size of the ring's memfd and mapping.
pub const RING_BYTES: usize = HEADER_SIZE + RING_SLOTS * SLOT_SIZE;

/// The ring's first eight bytes.
/// (`2`: 128-byte slots; a shim of the 256-byte layout refuses this ring and keeps its fast
/// paths off.)
pub const RING_MAGIC: u64 = u64::from_le_bytes(*b"ARBRING2");

const OFF_MAGIC: usize = 0;
const OFF_HEAD: usize = 64;
const OFF_TAIL: usize = 128;
const OFF_FULL: usize = 136;
const OFF_WAKE: usize = 192;

const SLOT_SEQ: usize = 0;
const SLOT_TIME: usize = 8;
const SLOT_PID: usize = 16;
const SLOT_FLAGS: usize = 20;
const SLOT_RESULT: usize = 24;
const SLOT_CALL: usize = 28;
const SLOT_PATH_LEN: usize = 30;
const SLOT_PATH: usize = 32;

/// The longest path a slot holds. A call with a longer path is not answered in-process
/// when the ring is on: it goes to the broker, which records it itself.
pub const REPORT_PATH_MAX: usize = SLOT_SIZE - SLOT_PATH;

/// When this many slots wait, a producer wakes a sleeping consumer (futex on the header's
/// wake word); otherwise the consumer looks every few milliseconds.
pub const WAKE_AT: u64 = (RING_SLOTS / 4) as u64;

/// Producers look whether to wake the consumer only when they publish a position that is a
/// multiple of this: the look reads the consumer's tail and the wake word, cache lines the
/// consumer writes, and a miss on each for every report costs the program more than the
/// report itself.
pub const WAKE_CHECK_EVERY: u64 = 64;

/// How many times a producer retries a claim before treating the ring as full.
const CLAIM_TRIES: usize = 64;

/// The largest process id Linux hands out (`PID_MAX_LIMIT` on 64-bit).
pub const PID_MAX: i32 = 4 * 1024 * 1024;

/// The largest errno value a report may carry (`EHWPOISON`).
pub const ERRNO_MAX: i32 = 133;

/// `open` flags a reported open may carry: a read, and the flags that do not change what is
/// opened for what. Anything else (a write, `O_CREAT`, `O_PATH`, an unknown bit) is never
/// answered in-process while the ring is on, so a report claiming it is refused.
pub const REPORT_OPEN_FLAGS: i32 = libc::O_NONBLOCK
    | libc::O_APPEND
    | libc::O_DIRECTORY
    | libc::O_NOFOLLOW
    | libc::O_CLOEXEC
    | libc::O_NOCTTY
    | libc::O_LARGEFILE
    | libc::O_NOATIME
    | libc::O_SYNC
    | libc::O_DSYNC
    | libc::O_DIRECT
    | libc::O_ASYNC
    | libc::O_EXCL;

/// `*at` flags a reported stat or access may carry.
pub const REPORT_AT_FLAGS: i32 = libc::AT_SYMLINK_NOFOLLOW | libc::AT_EACCESS;

/// Which call a slot reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ReportedCall {
    /// `stat`, `lstat`, `fstatat`, `statx` (and the `__xstat` family).
    Stat = 1,
    /// `access`/`faccessat` with `F_OK`.
    Access = 2,
    /// A read-only `open`/`openat`.
    Open = 3,
}

/// A slot a producer claimed and gave up without a call to report (the fast path handed the
/// call to the broker after all).
const VOID: u8 = 0;

impl ReportedCall {
    /// The call's name in audit records.
    pub fn name(self) -> &'static str {
        match self {
            ReportedCall::Stat => "stat",
            ReportedCall::Access => "access",
            ReportedCall::Open => "open",
        }
    }

    fn from_byte(b: u8) -> Option<ReportedCall> {
        match b {
            1 => Some(ReportedCall::Stat),
            2 => Some(ReportedCall::Access),
            3 => Some(ReportedCall::Open),
            _ => None,
        }
    }
}

/// One validated report, borrowing the consumer's private copy of its slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report<'a> {
    /// When the call was made, as the program claims it (`CLOCK_REALTIME`, nanoseconds).
    pub time_ns: u64,
    /// The calling process, as the program claims it.
    pub pid: i32,
    /// Which call.
    pub call: ReportedCall,
    /// Its flags: `open` flags for [`ReportedCall::Open`], `*at` flags otherwise.
    pub flags: i32,
    /// The result: the value (an fd for an open, 0 otherwise) or the errno.
    pub result: Result<i32, i32>,
    /// The path as the program passed it: absolute, or relative to its working directory.
    pub path: &'a [u8],
}

/// Why a slot's contents are not a report the shim could have written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportError {
    /// The call byte names no reported call.
    UnknownCall(u8),
    /// The path length is 0 or more than [`REPORT_PATH_MAX`].
    PathLength(u16),
    /// The path holds a NUL byte.
    NulInPath,
    /// The path has an empty, `.` or `..` component (the fast paths take canonical paths
    /// only).
    NotCanonical,
    /// The process id is not one Linux hands out.
    Pid(i32),
    /// Flags the fast path never answers for this call.
    Flags(ReportedCall, i32),
    /// A result the call cannot have had.
    Result(ReportedCall, i32),
    /// No time.
    Time,
}

impl std::fmt::Display for ReportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReportError::UnknownCall(b) => write!(f, "unknown call byte {b}"),
            ReportError::PathLength(n) => {
                write!(f, "path length {n} (must be 1 to {REPORT_PATH_MAX})")
            }
            ReportError::NulInPath => write!(f, "path holds a NUL byte"),
            ReportError::NotCanonical => {
                write!(f, "path has an empty, '.' or '..' component")
            }
            ReportError::Pid(p) => write!(f, "process id {p} out of range"),
            ReportError::Flags(c, fl) => {
                write!(
                    f,
                    "flags {fl:#x} are never answered in-process for {}",
                    c.name()
                )
            }
            ReportError::Result(c, r) => write!(f, "result {r} impossible for {}", c.name()),
            ReportError::Time => write!(f, "no time"),
        }
    }
}

impl std::error::Error for ReportError {}

/// A path without trailing `/` and `/.` (as `opendir("dir/")` and `open(".")` name a
/// directory), keeping at least `/`.
pub fn trim_directory_suffix(mut path: &[u8]) -> &[u8] {
    loop {
        if path.len() > 1 && path.ends_with(b"/") {
            path = &path[..path.len() - 1];
        } else if path.ends_with(b"/.") {
            path = &path[..path.len() - 1]; // the slash goes next round, unless it is "/"
        } else {
            return path;
        }
    }
}

/// Whether every component of `path` (absolute or relative) is non-empty and neither `.` nor
/// `..`; `/` alone is not.
pub fn canonical_components(path: &[u8]) -> bool {
    let rest = path.strip_prefix(b"/").unwrap_or(path);
    !rest.is_empty()
        && rest
            .split(|&b| b == b'/')
            .all(|c| !c.is_empty() && c != b"." && c != b"..")
}

fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes([b[off], b[off + 1]])
}

fn i32_at(b: &[u8], off: usize) -> i32 {
    i32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[off..off + 8]);
    u64::from_le_bytes(a)
}

/// Validates a private copy of one slot: `Ok(None)` for a slot given up without a call,
/// `Ok(Some(report))` for a report the shim could have written, `Err` saying what is wrong
/// otherwise. The only decoder of ring contents (fuzzed by `fuzz/fuzz_targets/ring_decoder.rs`).
pub fn decode_slot(slot: &[u8; SLOT_SIZE]) -> Result<Option<Report<'_>>, ReportError> {
    let call_byte = slot[SLOT_CALL];
    if call_byte == VOID {
        return Ok(None);
    }
    let call = ReportedCall::from_byte(call_byte).ok_or(ReportError::UnknownCall(call_byte))?;
    let len = u16_at(slot, SLOT_PATH_LEN);
    if len == 0 || usize::from(len) > REPORT_PATH_MAX {
        return Err(ReportError::PathLength(len));
    }
    let path = &slot[SLOT_PATH..SLOT_PATH + usize::from(len)];
    if path.contains(&0) {
        return Err(ReportError::NulInPath);
    }
    let lexical = match call {
        ReportedCall::Open => trim_directory_suffix(path),
        ReportedCall::Stat | ReportedCall::Access => path,
    };
    if !canonical_components(lexical) {
        return Err(ReportError::NotCanonical);
    }
    let pid = i32_at(slot, SLOT_PID);
    if !(1..=PID_MAX).contains(&pid) {
        return Err(ReportError::Pid(pid));
    }
    let flags = i32_at(slot, SLOT_FLAGS);
    let allowed = match call {
        ReportedCall::Open => REPORT_OPEN_FLAGS,
        ReportedCall::Stat => libc::AT_SYMLINK_NOFOLLOW,
        ReportedCall::Access => REPORT_AT_FLAGS,
    };
    if flags & !allowed != 0 {
        return Err(ReportError::Flags(call, flags));
    }
    let raw = i32_at(slot, SLOT_RESULT);
    let result = match (call, raw) {
        (_, r) if (-ERRNO_MAX..=-1).contains(&r) => Err(-r),
        (ReportedCall::Open, fd) if fd >= 0 => Ok(fd),
        (ReportedCall::Stat | ReportedCall::Access, 0) => Ok(0),
        _ => return Err(ReportError::Result(call, raw)),
    };
    let time_ns = u64_at(slot, SLOT_TIME);
    if time_ns == 0 {
        return Err(ReportError::Time);
    }
    Ok(Some(Report {
        time_ns,
        pid,
        call,
        flags,
        result,
        path,
    }))
}

/// The slot index of position `pos`.
fn index(pos: u64) -> u64 {
    pos % RING_SLOTS as u64
}

/// A view of a mapped ring. It holds a raw pointer: see [`Ring::from_raw`].
#[derive(Clone, Copy)]
pub struct Ring {
    base: *mut u8,
}

// SAFETY: every access through a Ring is an atomic or a copy of shared memory that
// stays mapped for the Ring's life (Ring::from_raw's contract).
unsafe impl Send for Ring {}
// SAFETY: as above.
unsafe impl Sync for Ring {}

/// What [`Ring::reserve`] found.
pub enum Claim {
    /// A slot, to be filled and published.
    Slot(Pending),
    /// No room (or a ring too scribbled on to claim in a few tries): the call goes to the
    /// broker.
    Full,
}

/// A claimed slot. [`Pending::finish`] or [`Pending::give_up`] publishes it; dropping it
/// gives it up.
pub struct Pending {
    slot: *mut u8,
    pos: u64,
}

impl Ring {
    /// A view of the ring mapped at `base`.
    ///
    /// # Safety
    /// `base` must be a page-aligned, readable and writable mapping of at least
    /// [`RING_BYTES`] bytes that stays mapped while this view (or any copy) is used.
    pub unsafe fn from_raw(base: *mut u8) -> Ring {
        Ring { base }
    }

    fn atomic_u64(&self, off: usize) -> &AtomicU64 {
        debug_assert!(off + 8 <= RING_BYTES && off.is_multiple_of(8));
        // SAFETY: off is in bounds and 8-aligned (the mapping is page-aligned; every
        // offset used is a multiple of 8), and the mapping lives as long as self.
        unsafe { &*self.base.add(off).cast::<AtomicU64>() }
    }

    fn wake_word(&self) -> &AtomicU32 {
        // SAFETY: as in atomic_u64.
        unsafe { &*self.base.add(OFF_WAKE).cast::<AtomicU32>() }
    }

    fn slot_ptr(&self, pos: u64) -> *mut u8 {
        let index = index(pos) as usize;
        // SAFETY: index < RING_SLOTS, so the slot lies within RING_BYTES.
        unsafe { self.base.add(HEADER_SIZE + index * SLOT_SIZE) }
    }

    /// The stored word of the slot of `pos`: its sequence number less its index.
    fn seq_word(&self, pos: u64) -> &AtomicU64 {
        // SAFETY: a slot pointer is in bounds and 8-aligned (HEADER_SIZE and SLOT_SIZE are
        // multiples of 8).
        unsafe { &*self.slot_ptr(pos).add(SLOT_SEQ).cast::<AtomicU64>() }
    }

    fn load_seq(&self, pos: u64) -> u64 {
        self.seq_word(pos)
            .load(Ordering::Acquire)
            .wrapping_add(index(pos))
    }

    fn store_seq(&self, pos: u64, seq: u64) {
        self.seq_word(pos)
            .store(seq.wrapping_sub(index(pos)), Ordering::Release);
    }

    /// Writes the header of a fresh ring on zero-filled memory (the broker, before sharing
    /// it): zero-filled slots are free for the first lap.
    pub fn init(&self) {
        self.atomic_u64(OFF_HEAD).store(0, Ordering::Relaxed);
        self.atomic_u64(OFF_TAIL).store(0, Ordering::Relaxed);
        self.atomic_u64(OFF_FULL).store(0, Ordering::Relaxed);
        self.wake_word().store(0, Ordering::Relaxed);
        self.atomic_u64(OFF_MAGIC)
            .store(RING_MAGIC, Ordering::Release);
    }

    /// Whether the mapping starts with [`RING_MAGIC`] (the shim checks before using it).
    pub fn looks_valid(&self) -> bool {
        self.atomic_u64(OFF_MAGIC).load(Ordering::Acquire) == RING_MAGIC
    }

    /// Claims a slot (producer side); counts a full ring in the header.
    pub fn reserve(&self) -> Claim {
        let head = self.atomic_u64(OFF_HEAD);
        let mut pos = head.load(Ordering::Relaxed);
        for _ in 0..CLAIM_TRIES {
            let seq = self.load_seq(pos);
            match (seq as i64).wrapping_sub(pos as i64) {
                0 => match head.compare_exchange_weak(
                    pos,
                    pos.wrapping_add(1),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        return Claim::Slot(Pending {
                            slot: self.slot_ptr(pos),
                            pos,
                        })
                    }
                    Err(now) => pos = now,
                },
                d if d < 0 => break,
                _ => pos = head.load(Ordering::Relaxed),
            }
        }
        self.atomic_u64(OFF_FULL).fetch_add(1, Ordering::Relaxed);
        Claim::Full
    }

    /// Whether a producer should wake the consumer: many slots wait and it said it sleeps.
    /// Only one producer gets `true` per sleep, and only at a position that is a multiple
    /// of [`WAKE_CHECK_EVERY`] (every other report reads no line the consumer writes).
    pub fn wants_wake(&self, pos_published: u64) -> bool {
        if !pos_published.is_multiple_of(WAKE_CHECK_EVERY) {
            return false;
        }
        let tail = self.atomic_u64(OFF_TAIL).load(Ordering::Relaxed);
        pos_published.wrapping_sub(tail) >= WAKE_AT
            && self.wake_word().load(Ordering::Relaxed) != 0
            && self.wake_word().swap(0, Ordering::AcqRel) != 0
    }

    /// The futex word a sleeping consumer waits on.
    pub fn wake_futex(&self) -> *const AtomicU32 {
        self.wake_word()
    }

    /// Consumer: says it is about to sleep (producers then wake it when the ring fills).
    pub fn sleeping(&self, on: bool) {
        self.wake_word().store(u32::from(on), Ordering::Release);
    }

    /// Consumer: copies out the slot at position `tail` when it is published and frees it.
    /// `None` when it is not published (yet).
    pub fn take(&self, tail: u64, out: &mut [u8; SLOT_SIZE]) -> Option<()> {
        if self.load_seq(tail) != tail.wrapping_add(1) {
            return None;
        }
        // SAFETY: the slot is SLOT_SIZE in-bounds bytes, published (the Acquire load above
        // pairs with the producer's Release store); a hostile process may still be writing
        // it, which yields some bytes, copied once and then validated by decode_slot.
        unsafe {
            std::ptr::copy_nonoverlapping(self.slot_ptr(tail), out.as_mut_ptr(), SLOT_SIZE);
        }
        self.release(tail);
        Some(())
    }

    fn release(&self, tail: u64) {
        self.store_seq(tail, tail.wrapping_add(RING_SLOTS as u64));
    }

    /// Consumer: says how far it has taken (`tail`, the next position it takes), for
    /// [`Ring::wants_wake`]. Called once per drain pass, not per slot: producers read it,
    /// and a line written per slot would move between the CPUs with every report.
    pub fn set_tail(&self, tail: u64) {
        self.atomic_u64(OFF_TAIL).store(tail, Ordering::Relaxed);
    }

    /// Consumer: whether producers claimed positions at or beyond `tail` (the head is
    /// shared, so this is the program's word; it only decides when to look again).
    pub fn claimed_beyond(&self, tail: u64) -> bool {
        let head = self.atomic_u64(OFF_HEAD).load(Ordering::Relaxed);
        (head.wrapping_sub(tail) as i64) > 0
    }

    /// Consumer: the shared head when it lies within one lap beyond `tail` (producers
    /// claimed every position before it), else `None`. The program's word: it only tells
    /// the consumer from when a hole has been claimed, never for how long to wait.
    pub fn claimed_upto(&self, tail: u64) -> Option<u64> {
        let head = self.atomic_u64(OFF_HEAD).load(Ordering::Relaxed);
        let ahead = head.wrapping_sub(tail);
        (ahead > 0 && ahead <= RING_SLOTS as u64).then_some(head)
    }

    /// Consumer: whether the slot of position `pos` holds a report published for that
    /// position (a producer claimed it, and so every position before it was claimed too).
    pub fn is_published(&self, pos: u64) -> bool {
        self.load_seq(pos) == pos.wrapping_add(1)
    }

    /// Consumer, with nothing claimed at or beyond `tail`: puts back the free sequence
    /// number of the slot at `tail` if something scribbled on it (or a producer published
    /// it after it was skipped), so producers can claim it again.
    pub fn repair(&self, tail: u64) {
        let word = self.seq_word(tail);
        let stored = word.load(Ordering::Acquire);
        let now = stored.wrapping_add(index(tail));
        if now != tail && now != tail.wrapping_add(1) {
            let _ = word.compare_exchange(
                stored,
                tail.wrapping_sub(index(tail)),
                Ordering::AcqRel,
                Ordering::Relaxed,
            );
        }
    }

    /// Consumer: gives up on the slot at `tail`, claimed but never published (its producer
    /// was killed mid-write, or a hostile process claimed it); frees it for the next lap.
    pub fn skip_stalled(&self, tail: u64) {
        self.release(tail);
    }

    /// How many calls producers sent to the broker because the ring was full (the
    /// program's count).
    pub fn full_count(&self) -> u64 {
        self.atomic_u64(OFF_FULL).load(Ordering::Relaxed)
    }
}

impl Pending {
    /// The claimed position.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Fills the slot with a report and publishes it. `path` longer than
    /// [`REPORT_PATH_MAX`] is cut (the caller checks the length before claiming).
    pub fn finish(
        self,
        time_ns: u64,
        pid: i32,
        call: ReportedCall,
        flags: i32,
        result: i32,
        path: &[u8],
    ) {
        let len = path.len().min(REPORT_PATH_MAX);
        let mut head = [0u8; SLOT_PATH - SLOT_TIME];
        let at = |off: usize| off - SLOT_TIME;
        head[at(SLOT_TIME)..at(SLOT_TIME) + 8].copy_from_slice(&time_ns.to_le_bytes());
        head[at(SLOT_PID)..at(SLOT_PID) + 4].copy_from_slice(&pid.to_le_bytes());
        head[at(SLOT_FLAGS)..at(SLOT_FLAGS) + 4].copy_from_slice(&flags.to_le_bytes());
        head[at(SLOT_RESULT)..at(SLOT_RESULT) + 4].copy_from_slice(&result.to_le_bytes());
        head[at(SLOT_CALL)] = call as u8;
        head[at(SLOT_PATH_LEN)..at(SLOT_PATH_LEN) + 2].copy_from_slice(&(len as u16).to_le_bytes());
        self.publish(&head, &path[..len]);
    }

    /// Publishes the slot without a report.
    pub fn give_up(self) {
        let mut head = [0u8; SLOT_PATH - SLOT_TIME];
        head[SLOT_CALL - SLOT_TIME] = VOID;
        self.publish(&head, &[]);
    }

    /// Copies the fixed fields and the path into the claimed slot, then publishes it with
    /// a Release store of its sequence number (the consumer's Acquire load pairs with it).
    fn publish(self, head: &[u8; SLOT_PATH - SLOT_TIME], path: &[u8]) {
        debug_assert!(path.len() <= REPORT_PATH_MAX);
        // SAFETY: the slot is claimed by this producer and is SLOT_SIZE bytes: the fixed
        // fields end at SLOT_PATH, and the path is at most REPORT_PATH_MAX bytes after it.
        // The destination is shared memory other processes may scribble on; what they
        // write there is bytes, which the consumer validates.
        unsafe {
            std::ptr::copy_nonoverlapping(head.as_ptr(), self.slot.add(SLOT_TIME), head.len());
            std::ptr::copy_nonoverlapping(path.as_ptr(), self.slot.add(SLOT_PATH), path.len());
            (*self.slot.add(SLOT_SEQ).cast::<AtomicU64>()).store(
                self.pos.wrapping_add(1).wrapping_sub(index(self.pos)),
                Ordering::Release,
            );
        }
        std::mem::forget(self);
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        // Given up without a word: publish an empty slot so the consumer moves on.
        let p = Pending {
            slot: self.slot,
            pos: self.pos,
        };
        p.give_up();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A heap ring, 8-byte aligned.
    fn heap_ring() -> (Vec<u64>, Ring) {
        let mut mem = vec![0u64; RING_BYTES / 8];
        // SAFETY: mem is RING_BYTES long, 8-aligned, and outlives the ring in each test.
        let ring = unsafe { Ring::from_raw(mem.as_mut_ptr().cast()) };
        ring.init();
        (mem, ring)
    }

    fn claim(r: &Ring) -> Pending {
        match r.reserve() {
            Claim::Slot(p) => p,
            Claim::Full => panic!("full"),
        }
    }

    #[test]
    fn reports_round_trip_in_order() {
        let (_mem, r) = heap_ring();
        claim(&r).finish(
            5,
            42,
            ReportedCall::Stat,
            libc::AT_SYMLINK_NOFOLLOW,
            0,
            b"/usr/lib",
        );
        claim(&r).finish(6, 42, ReportedCall::Open, libc::O_CLOEXEC, 3, b"rel/x");
        claim(&r).give_up();
        claim(&r).finish(7, 43, ReportedCall::Access, 0, -libc::ENOENT, b"/nope");
        let mut buf = [0u8; SLOT_SIZE];
        let mut got = Vec::new();
        let mut tail = 0;
        while r.take(tail, &mut buf).is_some() {
            tail += 1;
            if let Some(rep) = decode_slot(&buf).unwrap() {
                got.push((rep.call, rep.pid, rep.result, rep.path.to_vec()));
            }
        }
        assert_eq!(
            got,
            vec![
                (ReportedCall::Stat, 42, Ok(0), b"/usr/lib".to_vec()),
                (ReportedCall::Open, 42, Ok(3), b"rel/x".to_vec()),
                (
                    ReportedCall::Access,
                    43,
                    Err(libc::ENOENT),
                    b"/nope".to_vec()
                ),
            ]
        );
        assert!(!r.claimed_beyond(tail));
    }

    #[test]
    fn a_full_ring_is_refused_and_counted() {
        let (_mem, r) = heap_ring();
        for _ in 0..RING_SLOTS {
            claim(&r).finish(1, 1, ReportedCall::Stat, 0, 0, b"/a");
        }
        assert!(matches!(r.reserve(), Claim::Full));
        assert_eq!(r.full_count(), 1);
        let mut buf = [0u8; SLOT_SIZE];
        assert!(r.take(0, &mut buf).is_some());
        assert!(matches!(r.reserve(), Claim::Slot(_)));
    }

    #[test]
    fn a_sleeping_consumer_is_woken_once_when_a_quarter_waits_at_a_checked_position() {
        let (_mem, r) = heap_ring();
        r.sleeping(true);
        // Below a quarter: never.
        assert!(!r.wants_wake(WAKE_AT - WAKE_CHECK_EVERY));
        // A quarter waits, but the position is not one producers look at.
        assert!(!r.wants_wake(WAKE_AT + 1));
        // The next checked position wakes it, once.
        assert!(r.wants_wake(WAKE_AT + WAKE_CHECK_EVERY));
        assert!(!r.wants_wake(WAKE_AT + 2 * WAKE_CHECK_EVERY));
        // The tail the consumer publishes per pass counts: nothing waits beyond it.
        r.sleeping(true);
        r.set_tail(WAKE_AT);
        assert!(!r.wants_wake(WAKE_AT + WAKE_CHECK_EVERY));
        assert!(r.wants_wake(2 * WAKE_AT));
    }

    #[test]
    fn a_stalled_slot_is_skipped() {
        let (_mem, r) = heap_ring();
        let stalled = claim(&r);
        claim(&r).finish(1, 1, ReportedCall::Stat, 0, 0, b"/a");
        let mut buf = [0u8; SLOT_SIZE];
        assert!(r.take(0, &mut buf).is_none());
        assert!(r.claimed_beyond(0));
        r.skip_stalled(0);
        assert!(r.take(1, &mut buf).is_some());
        std::mem::forget(stalled);
    }

    #[test]
    fn a_scribbled_head_never_claims_out_of_bounds() {
        let (_mem, r) = heap_ring();
        r.atomic_u64(OFF_HEAD)
            .store(u64::MAX - 3, Ordering::Relaxed);
        // Sequence numbers do not match such a head: the ring reads as full.
        assert!(matches!(r.reserve(), Claim::Full));
    }

    /// Changes a valid slot into a forged one.
    type Forge = dyn Fn(&mut [u8; SLOT_SIZE]);

    fn slot_with(f: impl FnOnce(&mut [u8; SLOT_SIZE])) -> [u8; SLOT_SIZE] {
        let mut s = [0u8; SLOT_SIZE];
        s[SLOT_TIME..SLOT_TIME + 8].copy_from_slice(&1u64.to_le_bytes());
        s[SLOT_PID..SLOT_PID + 4].copy_from_slice(&7i32.to_le_bytes());
        s[SLOT_CALL] = ReportedCall::Stat as u8;
        s[SLOT_PATH_LEN..SLOT_PATH_LEN + 2].copy_from_slice(&2u16.to_le_bytes());
        s[SLOT_PATH..SLOT_PATH + 2].copy_from_slice(b"/a");
        f(&mut s);
        s
    }

    #[test]
    fn forged_slots_are_refused_with_a_reason() {
        assert!(decode_slot(&slot_with(|_| {})).unwrap().is_some());
        let cases: Vec<(Box<Forge>, ReportError)> = vec![
            (Box::new(|s| s[SLOT_CALL] = 9), ReportError::UnknownCall(9)),
            (
                Box::new(|s| {
                    s[SLOT_PATH_LEN..SLOT_PATH_LEN + 2].copy_from_slice(&999u16.to_le_bytes())
                }),
                ReportError::PathLength(999),
            ),
            (Box::new(|s| s[SLOT_PATH + 1] = 0), ReportError::NulInPath),
            (
                Box::new(|s| s[SLOT_PATH..SLOT_PATH + 2].copy_from_slice(b"..")),
                ReportError::NotCanonical,
            ),
            (
                Box::new(|s| s[SLOT_PID..SLOT_PID + 4].copy_from_slice(&(-1i32).to_le_bytes())),
                ReportError::Pid(-1),
            ),
            (
                Box::new(|s| {
                    s[SLOT_FLAGS..SLOT_FLAGS + 4].copy_from_slice(&libc::O_WRONLY.to_le_bytes())
                }),
                ReportError::Flags(ReportedCall::Stat, libc::O_WRONLY),
            ),
            (
                Box::new(|s| s[SLOT_RESULT..SLOT_RESULT + 4].copy_from_slice(&5i32.to_le_bytes())),
                ReportError::Result(ReportedCall::Stat, 5),
            ),
            (
                Box::new(|s| s[SLOT_TIME..SLOT_TIME + 8].copy_from_slice(&0u64.to_le_bytes())),
                ReportError::Time,
            ),
        ];
        for (forge, want) in cases {
            assert_eq!(decode_slot(&slot_with(forge)), Err(want));
        }
        // An open claiming a write is refused.
        let open_write = slot_with(|s| {
            s[SLOT_CALL] = ReportedCall::Open as u8;
            s[SLOT_FLAGS..SLOT_FLAGS + 4].copy_from_slice(&libc::O_RDWR.to_le_bytes());
        });
        assert_eq!(
            decode_slot(&open_write),
            Err(ReportError::Flags(ReportedCall::Open, libc::O_RDWR))
        );
    }

    #[test]
    fn directory_suffixes_are_trimmed() {
        assert_eq!(trim_directory_suffix(b"/w/d6/"), b"/w/d6");
        assert_eq!(trim_directory_suffix(b"/w/."), b"/w");
        assert_eq!(trim_directory_suffix(b"/w/d//./"), b"/w/d");
        assert_eq!(trim_directory_suffix(b"/"), b"/");
        assert!(canonical_components(b"/usr/lib"));
        assert!(canonical_components(b"d3/f3"));
        assert!(!canonical_components(b"/"));
        assert!(!canonical_components(b"a//b"));
        assert!(!canonical_components(b"./a"));
    }
}
