//! The broker's side of the report ring ([`arbiter_protocol::ring`]): at `--audit-level all`
//! the shim keeps its fast paths and reports each call it answered in-process into a shared
//! ring; a thread here drains it, validates every slot as untrusted input, and writes each
//! report as a `call` record marked `"reported": true` (docs/audit.md, "Reported calls").
//!
//! One ring serves one sandbox: every process of it maps the same memfd (handed over with
//! the fast paths), so the ring is written by processes that may be hostile. Nothing read
//! from it is trusted: a slot is copied out once ([`Ring::take`]) and checked
//! ([`decode_slot`], then the time and the policy here); one that fails is refused with an
//! `invalid_report` record (the first [`INVALID_RECORDED`], then only counted), and the
//! counts end up in a `dropped` record when the sandbox's reports are finished.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use std::collections::HashMap;

use arbiter_policies::{Access, Policy, RuleId};
use arbiter_protocol::ring::{
    decode_slot, trim_directory_suffix, Report, ReportedCall, Ring, HEADER_SIZE, RING_BYTES,
    RING_SLOTS, SLOT_SIZE,
};

use super::event::{Dropped, Event, InvalidReport, ReportedCallRecord};
use super::lines::JsonLines;
use super::{Audit, Batch};

/// How long a claimed slot may stay unpublished before it is skipped (its producer was
/// killed mid-write, or a hostile process claimed it and never wrote it).
const STALL: Duration = Duration::from_secs(1);

/// How often the drain thread looks when no producer woke it and its last look found
/// nothing.
const POLL: Duration = Duration::from_millis(5);

/// How often it looks while reports arrive (its last look took some): it keeps up with a
/// busy program in small passes, so that little is left for the last drain, which lengthens
/// the run, its prefault stays ahead of the program, and the ring is less likely to fill.
const BUSY_POLL: Duration = Duration::from_millis(1);

/// Records handed to the writer in one message, at most.
const BATCH: usize = 1024;

/// Messages of reports (batches, or buffers of lines) handed to the writer and not yet
/// written, at most: with this many waiting the drain stops taking slots, the ring fills,
/// and further calls go to the broker, which records them itself (and waits for the sink
/// like any other record). So what the broker holds of the program's reports is bounded
/// by this many messages (plus the one being filled), whatever the program writes into
/// the ring, however slow the sink.
const IN_FLIGHT: usize = 4;

/// Slots beyond its position the drain looks at for published reports when the slot at
/// its position is not published and the shared head says nothing is claimed beyond it
/// (the head is the program's word). Every [`STALL`] it looks at the whole ring instead.
const LOOK_AHEAD: u64 = 64;

/// How many slots beyond its position the drain keeps faulted in (during the ring's first
/// lap, after which every page is): a page of the memfd a producer touches first costs the
/// program a page fault that allocates and zeroes it, in its own thread, with its other
/// threads waiting on the same page's lock; one the broker already faulted in is mapped by
/// the program's first read fault together with its neighbours (fault-around). 1,024 slots
/// are 128 KiB (32 pages): more than a busy program reports between two of the drain's
/// passes ([`BUSY_POLL`]), and what is faulted in beyond the last report is allocated for
/// nothing.
const PREFAULT_AHEAD: usize = 1024;

/// How many `invalid_report` records one sandbox writes before it only counts them.
pub const INVALID_RECORDED: u64 = 100;

/// A report's time may be this far from the broker's clock (the program's clock is the
/// same kernel clock; more than this is a forgery).
const CLOCK_SLACK: Duration = Duration::from_secs(2);

/// The ring of one sandbox, its mapping, and the thread draining it (detached: it holds
/// its own reference to the ring, and stops by itself once asked to).
pub struct Reports {
    inner: Arc<Inner>,
}

struct Inner {
    memfd: OwnedFd,
    map: Mapping,
    ring: Ring,
    audit: Audit,
    policy: Arc<Policy>,
    created: SystemTime,
    stop: AtomicBool,
    /// Slots from the start of the ring whose pages are faulted in ([`PREFAULT_AHEAD`]);
    /// only the drain thread changes it.
    prefaulted: AtomicUsize,
    consumer: Mutex<Consumer>,
    /// The roots the fast paths were offered, per kind of call ([`Reports::offer`]): a
    /// report is checked only against what a fast path could have answered.
    offered: Mutex<Offered>,
}

/// The roots beneath which the shim may answer a call in-process, as the broker sent them.
#[derive(Default)]
struct Offered {
    /// `FAST_STAT` roots: `stat` and `access(F_OK)`.
    stat: Vec<std::path::PathBuf>,
    /// `FAST_OPEN` roots: read-only opens.
    open: Vec<std::path::PathBuf>,
}

/// Which fast path a root was offered for ([`Reports::offer`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FastKind {
    /// The stat fast path (`stat`, `access(F_OK)`).
    Stat,
    /// The read-only open fast path.
    Open,
}

/// A hole the drain waits for: when it first knew that every position before `until` had
/// been claimed (the broker's own clock; nothing the program writes later moves it).
#[derive(Clone, Copy)]
struct Stuck {
    since: Instant,
    until: u64,
}

impl Stuck {
    /// Whether position `pos` was known claimed when this started.
    fn covers(&self, pos: u64) -> bool {
        (self.until.wrapping_sub(pos) as i64) > 0
    }
}

/// The broker's own consumer state: never in shared memory.
struct Consumer {
    /// Records taken and not yet handed to the writer (a sink other than a JSON-lines
    /// file: the writer formats them).
    batch: Batch,
    /// Where the writer hands emptied batches back, where they arrive, and those back.
    back: SyncSender<Batch>,
    spare: Receiver<Batch>,
    pool: Vec<Batch>,
    /// Messages handed to the writer and not handed back yet ([`IN_FLIGHT`]).
    in_flight: usize,
    /// For a JSON-lines file: the formatter, the lines taken and not yet handed to the
    /// writer, how many records they hold, and the buffers the writer hands back.
    lines: Option<Lines>,
    /// The deciding rules' names, made once per rule.
    rules: HashMap<RuleId, Arc<str>>,
    /// The last process id translated into the broker's numbering, in this drain pass.
    pid: Option<(i32, (i32, bool))>,
    tail: u64,
    /// The hole at `tail` (and those before `until`) being waited for.
    stuck: Option<Stuck>,
    /// When the whole ring was last looked at for published reports beyond a hole.
    scanned: Option<Instant>,
    invalid: u64,
    stalled: u64,
    finished: bool,
}

/// The drain's own formatting of a JSON-lines file's records: the writer then only writes
/// bytes (no record is built, moved through a queue of records and dropped there).
struct Lines {
    format: JsonLines,
    sandbox: u64,
    bytes: Vec<u8>,
    records: usize,
    back: SyncSender<Vec<u8>>,
    spare: Receiver<Vec<u8>>,
    pool: Vec<Vec<u8>>,
}

/// Bytes of lines handed to the writer in one message, about (a reported record's line is
/// about 250 bytes): below the allocator's mmap threshold, so buffers come from and return
/// to the heap instead of being mapped, faulted in and unmapped each time.
const LINES_BYTES: usize = 60 * 1024;

impl Consumer {
    fn new(audit: &Audit) -> Consumer {
        // Room for every message in flight: the writer never has to free one.
        let (back, spare) = sync_channel(IN_FLIGHT);
        let lines = audit.writes_json_lines().then(|| {
            let (back, spare) = sync_channel(IN_FLIGHT);
            Lines {
                format: JsonLines::default(),
                sandbox: audit.sandbox_id(),
                bytes: Vec::new(),
                records: 0,
                back,
                spare,
                pool: Vec::new(),
            }
        });
        Consumer {
            batch: Vec::new(),
            back,
            spare,
            pool: Vec::new(),
            in_flight: 0,
            lines,
            rules: HashMap::new(),
            pid: None,
            tail: 0,
            stuck: None,
            scanned: None,
            invalid: 0,
            stalled: 0,
            finished: false,
        }
    }

    /// Queues one record: formatted at once for a JSON-lines file, else kept for the
    /// writer.
    fn push(&mut self, event: Event, time: SystemTime) {
        match &mut self.lines {
            Some(l) => {
                if l.bytes.capacity() == 0 {
                    l.bytes = l
                        .pool
                        .pop()
                        .unwrap_or_else(|| Vec::with_capacity(LINES_BYTES + 1024));
                }
                // Writing into a Vec cannot fail.
                let _ = l.format.write(&mut l.bytes, &event, l.sandbox, time);
                l.records += 1;
            }
            None => self.batch.push((event, time)),
        }
    }

    /// Whether enough waits to hand it over now.
    fn full(&self) -> bool {
        match &self.lines {
            Some(l) => l.bytes.len() >= LINES_BYTES,
            None => self.batch.len() >= BATCH,
        }
    }

    /// Takes back the messages the writer has written (their emptied buffers), and says
    /// whether another may be handed over ([`IN_FLIGHT`]).
    fn credit(&mut self) -> bool {
        match &mut self.lines {
            Some(l) => {
                while let Ok(b) = l.spare.try_recv() {
                    self.in_flight = self.in_flight.saturating_sub(1);
                    l.pool.push(b);
                }
            }
            None => {
                while let Ok(b) = self.spare.try_recv() {
                    self.in_flight = self.in_flight.saturating_sub(1);
                    self.pool.push(b);
                }
            }
        }
        self.in_flight < IN_FLIGHT
    }

    /// Hands what waits to the writer, continuing in an emptied buffer it handed back.
    fn hand_over(&mut self, audit: &Audit) {
        if let Some(l) = &mut self.lines {
            if l.bytes.is_empty() {
                return;
            }
            let full = std::mem::take(&mut l.bytes);
            if audit.record_lines(full, l.records as u64, Some(&l.back)) {
                self.in_flight += 1;
            }
            l.records = 0;
            return;
        }
        if self.batch.is_empty() {
            return;
        }
        let next = self.pool.pop().unwrap_or_else(|| Vec::with_capacity(BATCH));
        let full = std::mem::replace(&mut self.batch, next);
        if audit.record_batch(full, Some(&self.back)) {
            self.in_flight += 1;
        }
    }

    /// The broker's number for the process the shim's report names (see
    /// [`ReportedCallRecord::new`]), asked once per process per drain pass.
    fn host_pid(&mut self, pid: i32) -> (i32, bool) {
        match self.pid {
            Some((p, host)) if p == pid => host,
            _ => {
                let host = ReportedCallRecord::broker_pid(pid);
                self.pid = Some((pid, host));
                host
            }
        }
    }
}

/// Bytes per page of the ring's memfd (shmem pages are base pages; a larger page only makes
/// a hole larger, never a slot straddle two of these).
const PAGE: usize = 4096;

/// Pages of the ring's memfd.
const RING_PAGES: usize = RING_BYTES.div_ceil(PAGE);

/// Which pages of the ring's memfd hold data, as `lseek(SEEK_DATA)` and `lseek(SEEK_HOLE)`
/// say at one moment: every page a process of the sandbox (or the drain's prefault) ever
/// touched, including pages swapped out (shmem counts them as data), and none of the holes,
/// which read as zeros. A zero slot is never a published one, so a look for published
/// reports can skip the holes without missing any. A page written after the look is seen
/// by the next one, as a slot published after it would be.
struct WrittenPages {
    bits: [u64; RING_PAGES.div_ceil(64)],
}

impl WrittenPages {
    /// The map of `memfd`'s data pages now; every page when the kernel cannot say
    /// (`lseek` fails with anything but `ENXIO`, which means no data beyond the offset).
    fn of(memfd: &OwnedFd) -> WrittenPages {
        let mut w = WrittenPages {
            bits: [0; RING_PAGES.div_ceil(64)],
        };
        let fd = memfd.as_raw_fd();
        let seek = |from: usize, whence: libc::c_int| -> Result<Option<usize>, ()> {
            // SAFETY: lseek on a descriptor this Inner owns; it reads no memory. It moves
            // the file offset the shim's copies share, which nobody uses (the ring is only
            // ever mapped).
            let at = unsafe { libc::lseek(fd, from as libc::off_t, whence) };
            if at >= 0 {
                return Ok(Some(usize::try_from(at).map_err(|_| ())?.min(RING_BYTES)));
            }
            match std::io::Error::last_os_error().raw_os_error() {
                Some(libc::ENXIO) => Ok(None),
                _ => Err(()),
            }
        };
        let mut from = 0;
        // Each round covers one range of data and the hole after it: at most one round per
        // two pages, however the program scattered its writes.
        while from < RING_BYTES {
            let start = match seek(from, libc::SEEK_DATA) {
                Ok(Some(s)) => s,
                Ok(None) => break,
                Err(()) => return w.all(),
            };
            let end = match seek(start, libc::SEEK_HOLE) {
                Ok(Some(e)) => e,
                Ok(None) | Err(()) => return w.all(),
            };
            if end <= start {
                return w.all();
            }
            for page in start / PAGE..end.div_ceil(PAGE) {
                w.bits[page / 64] |= 1 << (page % 64);
            }
            from = end;
        }
        w
    }

    /// Every page (the kernel could not tell the holes).
    fn all(mut self) -> WrittenPages {
        self.bits = [u64::MAX; RING_PAGES.div_ceil(64)];
        self
    }

    /// Whether the page holding the slot of position `pos` may hold anything but zeros.
    fn holds_slot(&self, pos: u64) -> bool {
        let page = (HEADER_SIZE + (pos % RING_SLOTS as u64) as usize * SLOT_SIZE) / PAGE;
        self.bits[page / 64] & (1 << (page % 64)) != 0
    }
}

/// A shared mapping of the ring, unmapped on drop.
struct Mapping(*mut u8);

// SAFETY: the mapping is plain shared memory, accessed only through atomics and volatile
// copies (arbiter_protocol::ring).
unsafe impl Send for Mapping {}
// SAFETY: as above.
unsafe impl Sync for Mapping {}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: self.0 is the RING_BYTES mapping made in Reports::create, used by nobody
        // once the Inner holding it is dropped.
        unsafe { libc::munmap(self.0.cast(), RING_BYTES) };
    }
}

impl Reports {
    /// Creates the ring (a memfd sealed at its size, so no process can shrink it under
    /// the broker's mapping) and starts the thread draining it into `audit`.
    pub fn create(audit: Audit, policy: Arc<Policy>) -> std::io::Result<Reports> {
        // SAFETY: a NUL-terminated name and flags; memfd_create has no memory effects.
        let fd = unsafe {
            libc::memfd_create(
                c"arbiter-audit-reports".as_ptr(),
                libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
            )
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor owned by nobody else.
        let memfd = unsafe { OwnedFd::from_raw_fd(fd) };
        let raw = memfd.as_raw_fd();
        // SAFETY: integer arguments only.
        let sized = unsafe { libc::ftruncate(raw, RING_BYTES as libc::off_t) } == 0
            // SAFETY: integer arguments only.
            && unsafe {
                libc::fcntl(
                    raw,
                    libc::F_ADD_SEALS,
                    libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_SEAL,
                )
            } == 0;
        if !sized {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: a fresh shared mapping of the whole (sealed) memfd.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                RING_BYTES,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                raw,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        let map = Mapping(p.cast());
        // SAFETY: map is a RING_BYTES, page-aligned mapping that Inner keeps alive as long
        // as the ring view.
        let ring = unsafe { Ring::from_raw(map.0) };
        ring.init();
        let consumer = Mutex::new(Consumer::new(&audit));
        let inner = Arc::new(Inner {
            memfd,
            map,
            ring,
            audit,
            policy,
            created: SystemTime::now(),
            stop: AtomicBool::new(false),
            prefaulted: AtomicUsize::new(0),
            consumer,
            offered: Mutex::new(Offered::default()),
        });
        let drainer = Arc::clone(&inner);
        std::thread::Builder::new()
            .name("audit-reports".into())
            .spawn(move || drainer.run())?;
        Ok(Reports { inner })
    }

    /// Records that the fast path of `kind` was offered beneath `roots` (as sent to the
    /// shim): a report of that kind of call is accepted only beneath one of them.
    pub fn offer(&self, kind: FastKind, roots: &[std::path::PathBuf]) {
        let mut offered = self.inner.offered.lock().unwrap_or_else(|p| p.into_inner());
        let list = match kind {
            FastKind::Stat => &mut offered.stat,
            FastKind::Open => &mut offered.open,
        };
        list.extend(roots.iter().cloned());
    }

    /// A descriptor of the ring for the shim (sent with the fast paths).
    pub fn share(&self) -> Option<OwnedFd> {
        self.inner.memfd.try_clone().ok()
    }

    /// Drains what is left on the calling thread, writes the `dropped` record when any
    /// report was refused, skipped or sent to the broker for lack of room, and stops the
    /// drain thread (without waiting for it: a sleeping thread may take a while to be
    /// scheduled on a busy machine, and nothing is left for it to do). Call it before the
    /// sandbox's `exit` record; later reports are not drained.
    pub fn finish(&self) {
        self.inner.stop.store(true, Ordering::Release);
        self.inner.drain(true);
        self.inner.ring.sleeping(false);
        futex_wake(&self.inner.ring);
    }
}

impl Drop for Reports {
    fn drop(&mut self) {
        self.finish();
    }
}

fn futex_wake(ring: &Ring) {
    // SAFETY: a futex wake on the ring's wake word, inside the mapping.
    unsafe { libc::syscall(libc::SYS_futex, ring.wake_futex(), libc::FUTEX_WAKE, 1) };
}

impl Inner {
    /// Drains, then sleeps until a producer wakes it (a quarter of the ring waits) or
    /// [`POLL`] has passed: while a program is busy, the drain takes slots in large batches
    /// instead of competing for the CPU with it slot by slot.
    fn run(&self) {
        super::lower_priority();
        while !self.stop.load(Ordering::Acquire) {
            self.prefault();
            let taken = self.drain(false);
            if taken >= BATCH {
                continue;
            }
            let poll = if taken > 0 { BUSY_POLL } else { POLL };
            self.ring.sleeping(true);
            if !self.stop.load(Ordering::Acquire) {
                let timeout = libc::timespec {
                    tv_sec: 0,
                    tv_nsec: poll.as_nanos() as libc::c_long,
                };
                // SAFETY: a futex wait on the ring's wake word (expected 1: sleeping) with a
                // valid timeout.
                let rc = unsafe {
                    libc::syscall(
                        libc::SYS_futex,
                        self.ring.wake_futex(),
                        libc::FUTEX_WAIT,
                        1,
                        &timeout as *const libc::timespec,
                    )
                };
                // The word changed before the wait: a producer woke it (drained next
                // round), or a process scribbled on it. If nothing waits, sleep anyway, so
                // a scribbler cannot make this thread spin.
                if rc < 0
                    && std::io::Error::last_os_error().raw_os_error() == Some(libc::EAGAIN)
                    && self.drain(false) == 0
                {
                    std::thread::sleep(POLL);
                }
            }
            self.ring.sleeping(false);
        }
    }

    /// Faults in the ring's pages up to [`PREFAULT_AHEAD`] slots beyond the drain's own
    /// position (never the program's word), during the first lap: `MADV_POPULATE_WRITE`
    /// allocates and zeroes them without changing what they hold, so a producer writing a
    /// slot at the same time is not disturbed. A kernel without it (before Linux 5.14)
    /// leaves the faults to the producers, as before.
    fn prefault(&self) {
        let done = self.prefaulted.load(Ordering::Relaxed);
        if done >= RING_SLOTS {
            return;
        }
        // The lock is not held while pages are faulted in: the last drain
        // (`Reports::finish`) must not wait for it.
        let tail = match self.consumer.lock() {
            Ok(c) => usize::try_from(c.tail).unwrap_or(usize::MAX),
            Err(_) => return,
        };
        let want = tail.saturating_add(PREFAULT_AHEAD).min(RING_SLOTS);
        if want <= done {
            return;
        }
        let from = (HEADER_SIZE + done * SLOT_SIZE) / PAGE * PAGE;
        let to = ((HEADER_SIZE + want * SLOT_SIZE).div_ceil(PAGE) * PAGE).min(RING_BYTES);
        // SAFETY: [from, to) lies within the RING_BYTES mapping this Inner owns (from is
        // page-aligned, as the mapping is); MADV_POPULATE_WRITE only faults pages in.
        let rc = unsafe {
            libc::madvise(
                self.map.0.add(from).cast(),
                to - from,
                libc::MADV_POPULATE_WRITE,
            )
        };
        // Done, or not possible here: either way, not again.
        let now = if rc == 0 { want } else { RING_SLOTS };
        self.prefaulted.store(now, Ordering::Relaxed);
    }

    /// Drains every published slot; returns how many were taken. `last`: the sandbox is
    /// over, so every slot published within one lap beyond the drain's position is taken,
    /// every claimed but unpublished one before them skipped (and counted) at once, and the
    /// counts are written.
    ///
    /// A hole (a slot claimed and not published) is skipped [`STALL`] after the drain first
    /// knew it was claimed, on the broker's clock: the shared head, or a report published
    /// beyond it, tells the drain so once, and nothing the program writes afterwards
    /// resets or extends the wait (red-team finding 12). Every hole known claimed at that
    /// moment is skipped together, so the wait is per moment, not per hole.
    fn drain(&self, last: bool) -> usize {
        let Ok(mut c) = self.consumer.lock() else {
            return 0;
        };
        if c.finished {
            return 0;
        }
        let mut slot = [0u8; SLOT_SIZE];
        let mut taken = 0;
        let start = c.tail;
        // The last drain looks at the whole lap once (a program still running could keep
        // publishing ahead of it; one lap bounds it anyway).
        let mut lap_looked = false;
        c.pid = None;
        // The clock for this drain's checks, read again after each batch is handed over
        // (which may wait for a slow sink).
        let mut now = SystemTime::now();
        loop {
            if last && c.tail.wrapping_sub(start) >= RING_SLOTS as u64 {
                break; // one lap: all that can have been published before the end
            }
            // A full buffer and the writer behind: take nothing more for now (the ring
            // holds the rest; finding 14). The last drain is bounded by the lap instead.
            if c.full() && !last && !c.credit() {
                break;
            }
            let tail = c.tail;
            if self.ring.take(tail, &mut slot).is_some() {
                c.tail = tail.wrapping_add(1);
                taken += 1;
                self.accept(&mut c, tail, &slot, now);
                if c.full() && (last || c.credit()) {
                    self.ring.set_tail(c.tail);
                    c.hand_over(&self.audit);
                    now = SystemTime::now();
                }
                continue;
            }
            let stuck = match c.stuck.filter(|s| s.covers(tail)) {
                Some(s) => s,
                None => match self.claimed_beyond(&mut c, tail, last && !lap_looked) {
                    Some(until) => {
                        let s = Stuck {
                            since: Instant::now(),
                            until,
                        };
                        c.stuck = Some(s);
                        lap_looked |= last;
                        s
                    }
                    None => {
                        c.stuck = None;
                        self.ring.repair(tail);
                        break;
                    }
                },
            };
            if last || stuck.since.elapsed() >= STALL {
                self.ring.skip_stalled(tail);
                c.tail = tail.wrapping_add(1);
                c.stalled += 1;
                continue;
            }
            break;
        }
        self.ring.set_tail(c.tail);
        if last || c.credit() {
            c.hand_over(&self.audit);
        }
        if last {
            c.finished = true;
            let full = self.ring.full_count();
            if c.invalid > 0 || c.stalled > 0 || full > 0 {
                self.audit.record(Event::Dropped(Dropped {
                    source: "reports",
                    invalid: c.invalid,
                    stalled: c.stalled,
                    full,
                }));
            }
        }
        taken
    }

    /// How far beyond the unpublished slot at `tail` producers are known to have claimed,
    /// from what the drain reads now: the shared head when it lies within a lap, and the
    /// furthest report published within [`LOOK_AHEAD`] slots (the whole lap when `lap`, at
    /// the end, and once every [`STALL`]: a program hiding the head cannot hide published
    /// reports). `None`: nothing beyond `tail` is known claimed (an empty ring, as far as
    /// it shows).
    fn claimed_beyond(&self, c: &mut Consumer, tail: u64, lap: bool) -> Option<u64> {
        let whole = lap || c.scanned.is_none_or(|t| t.elapsed() >= STALL);
        if whole {
            c.scanned = Some(Instant::now());
        }
        let ahead = if whole { RING_SLOTS as u64 } else { LOOK_AHEAD };
        // A whole-lap look reads only the pages of the memfd that hold data: reading a hole
        // would allocate and zero a page for nothing (a hole reads as zeros, which is no
        // published slot), up to the whole 4 MiB ring on the first look of every sandbox.
        let written = whole.then(|| WrittenPages::of(&self.memfd));
        let published = (1..ahead)
            .rev()
            .map(|k| tail.wrapping_add(k))
            .filter(|&p| written.as_ref().is_none_or(|w| w.holds_slot(p)))
            .find(|&p| self.ring.is_published(p))
            .map(|p| p.wrapping_add(1));
        let head = self.ring.claimed_upto(tail);
        match (head, published) {
            (Some(h), Some(p)) => Some(if h.wrapping_sub(tail) >= p.wrapping_sub(tail) {
                h
            } else {
                p
            }),
            (h, p) => h.or(p),
        }
    }

    /// Validates one slot copied out at position `pos` and records it.
    fn accept(&self, c: &mut Consumer, pos: u64, slot: &[u8; SLOT_SIZE], now: SystemTime) {
        let refused = match decode_slot(slot) {
            Ok(None) => return,
            Ok(Some(report)) => match self.check(&mut c.rules, &report, now) {
                Ok(Some(rule)) => {
                    let pid = c.host_pid(report.pid);
                    let rec = ReportedCallRecord::with_pid(&report, rule, pid);
                    let time = rec.time();
                    c.push(Event::Call(rec), time);
                    return;
                }
                Ok(None) => return, // a rule that keeps its allows out of the log
                Err(why) => why,
            },
            Err(e) => e.to_string(),
        };
        c.invalid += 1;
        if c.invalid <= INVALID_RECORDED {
            c.push(
                Event::InvalidReport(InvalidReport {
                    position: pos,
                    error: refused,
                }),
                now,
            );
        }
    }

    /// Whether a fast path of `kind` could have answered a call on the absolute `path`:
    /// beneath a root offered for that kind (red team s6 finding 11: the plain rules alone
    /// also cover places no fast path answers, `/proc/<pid>/…` above all, where the
    /// broker's own decision is stricter), never beneath `/proc` (whose names mean another
    /// object for every process), and with no `..` (which could leave the root lexically).
    fn could_answer(&self, kind: FastKind, path: &Path) -> bool {
        use std::path::Component;
        if path.starts_with("/proc") || path.components().any(|c| matches!(c, Component::ParentDir))
        {
            return false;
        }
        let offered = self.offered.lock().unwrap_or_else(|p| p.into_inner());
        let roots = match kind {
            FastKind::Stat => &offered.stat,
            FastKind::Open => &offered.open,
        };
        roots.iter().any(|root| path.starts_with(root))
    }

    /// Checks what the slot alone cannot: the time against the broker's clock, and, for an
    /// absolute path, that a fast path could have answered it there ([`Inner::could_answer`])
    /// and that the policy grants the call (a fast path never answers another).
    /// A relative path cannot be decided here (the broker does not know the working
    /// directory it was relative to): it is recorded as the program's unchecked claim,
    /// marked `"unchecked": true` ([`ReportedCallRecord::unchecked`]).
    /// `Ok(Some(rule))`: record it (with the deciding rule, for an absolute path);
    /// `Ok(None)`: allowed, but its rule keeps allows out of the log.
    fn check(
        &self,
        rules: &mut HashMap<RuleId, Arc<str>>,
        r: &Report<'_>,
        now: SystemTime,
    ) -> Result<Option<Option<Arc<str>>>, String> {
        let t = UNIX_EPOCH + Duration::from_nanos(r.time_ns);
        if t + CLOCK_SLACK < self.created || t > now + CLOCK_SLACK {
            return Err(format!(
                "time {} is outside the sandbox's life",
                humantime::format_rfc3339_micros(t)
            ));
        }
        if !r.path.starts_with(b"/") {
            return Ok(Some(None));
        }
        use std::os::unix::ffi::OsStrExt;
        let (lexical, access, kind) = match r.call {
            ReportedCall::Open => (trim_directory_suffix(r.path), Access::READ, FastKind::Open),
            ReportedCall::Stat | ReportedCall::Access => (r.path, Access::STAT, FastKind::Stat),
        };
        let path = Path::new(std::ffi::OsStr::from_bytes(lexical));
        if !self.could_answer(kind, path) {
            return Err(format!(
                "no fast path answers {} of {} (not beneath a root offered for it)",
                r.call.name(),
                String::from_utf8_lossy(lexical)
            ));
        }
        let d = self.policy.decide_path(path, access).decision;
        if !d.allow {
            return Err(format!(
                "the policy does not allow {} of {}",
                r.call.name(),
                String::from_utf8_lossy(lexical)
            ));
        }
        if !self.audit.records(d.audit, Some(super::Verdict::Allow)) {
            return Ok(None);
        }
        Ok(Some(d.rule.map(|id| {
            Arc::clone(
                rules
                    .entry(id)
                    .or_insert_with(|| self.policy.rule(id).origin.to_string().into()),
            )
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring_memfd() -> OwnedFd {
        // SAFETY: a NUL-terminated name and flags; memfd_create has no memory effects.
        let fd = unsafe { libc::memfd_create(c"written-pages-test".as_ptr(), libc::MFD_CLOEXEC) };
        assert!(fd >= 0);
        // SAFETY: fd is a fresh descriptor owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: integer arguments only.
        let rc = unsafe { libc::ftruncate(fd.as_raw_fd(), RING_BYTES as libc::off_t) };
        assert_eq!(rc, 0);
        fd
    }

    fn write_at(fd: &OwnedFd, off: usize) {
        // SAFETY: one byte from a valid buffer at an offset within the file.
        let n = unsafe { libc::pwrite(fd.as_raw_fd(), [1u8].as_ptr().cast(), 1, off as _) };
        assert_eq!(n, 1);
    }

    fn slot_offset(pos: u64) -> usize {
        HEADER_SIZE + (pos % RING_SLOTS as u64) as usize * SLOT_SIZE
    }

    #[test]
    fn only_the_pages_written_hold_slots() {
        let fd = ring_memfd();
        let w = WrittenPages::of(&fd);
        assert!(
            (0..RING_SLOTS as u64).all(|p| !w.holds_slot(p)),
            "a fresh ring"
        );
        write_at(&fd, slot_offset(100));
        write_at(&fd, slot_offset(RING_SLOTS as u64 - 1));
        let w = WrittenPages::of(&fd);
        let held: Vec<u64> = (0..RING_SLOTS as u64)
            .filter(|&p| w.holds_slot(p))
            .collect();
        // Each slot lies in one page (the 256-byte header shifts them by one slot): slot
        // 100 shares its page with 15 others, and the last page holds the last slot alone.
        let page_of = |p: u64| slot_offset(p) / PAGE;
        let expected: Vec<u64> = (0..RING_SLOTS as u64)
            .filter(|&p| page_of(p) == page_of(100) || page_of(p) == page_of(16_383))
            .collect();
        assert_eq!(held, expected);
        assert!(w.holds_slot(100) && w.holds_slot(RING_SLOTS as u64 + 100));
        assert!(!w.holds_slot(2_000));
    }

    #[test]
    fn a_descriptor_that_cannot_seek_counts_every_page() {
        let mut fds = [0; 2];
        // SAFETY: fds is a valid array of two ints.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: fresh descriptors owned by nobody else.
        let (r, _w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        let w = WrittenPages::of(&r);
        assert!((0..RING_SLOTS as u64).all(|p| w.holds_slot(p)));
    }
}
