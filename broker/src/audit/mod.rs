//! The audit log: one record for every attempted call and lifecycle event.
//!
//! The format is specified in `docs/audit.md`, by [`event`] (one type per record kind, one
//! serializer) and by [`record`] (a brokered call). Records are built on the calling thread
//! as those types and handed to a writer thread over a bounded queue, which serialises them
//! (JSON lines or [`text`] lines) to the sink. A full queue makes the
//! caller wait (backpressure), so no record is ever silently lost; with
//! [`Options::drop`] a call record that finds the queue full is dropped instead and
//! counted, and the count is reported in the `exit` record.

pub mod event;
pub mod flags;
mod lines;
pub mod process;
pub mod record;
pub mod reports;
pub mod structured;
pub mod text;
mod writer;

use std::collections::HashSet;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

pub use event::Event;
pub use record::{CallRecord, Verdict};
pub use writer::{Format, OpenError, Sink, WriteFailure, WriterHandle, QUEUE};

use writer::Msg;

/// Lowers the calling thread's scheduling priority a little (`nice` +5, Linux's per-thread
/// nice): the audit log's threads format and write records off the program's path, and on a
/// busy machine they should take the CPU after the program and the threads serving its
/// calls, not before. Backpressure (a full queue, a full report ring) still bounds how far
/// they may fall behind.
pub(crate) fn lower_priority() {
    // SAFETY: nice(2) changes only the calling thread's scheduling priority.
    unsafe { libc::nice(5) };
}

/// Records of one sandbox handed to the writer in one message, each with its time.
pub type Batch = Vec<(Event, std::time::SystemTime)>;

/// How many distinct processes are remembered for `process` records before the memory is
/// cleared (a process may then be recorded again; never more than once per channel).
const SEEN_MAX: usize = 65_536;

/// Which decisions a run records (`--audit-level`); a rule's own `audit` setting overrides it
/// for the decisions that rule makes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Level {
    /// Denials (and calls the broker refused outright), not allows: the default.
    #[default]
    Deny,
    /// Every call, allows included. Calls the shim's fast paths answer in-process are
    /// reported by the shim through the report ring ([`reports`]) and marked as such; every
    /// other call is recorded by the broker.
    All,
}

/// How an audit log is written.
pub struct Options {
    /// Which decisions are recorded.
    pub level: Level,
    /// Where records go.
    pub sink: Sink,
    /// JSON lines or human lines.
    pub format: Format,
    /// Records that may wait for the writer.
    pub queue: usize,
    /// Drop (and count) call records when the queue is full instead of waiting.
    pub drop: bool,
}

/// Where audit records go. Cloning shares the same writer.
#[derive(Clone, Default)]
pub struct Audit {
    tx: Option<SyncSender<Msg>>,
    level: Level,
    sandbox: u64,
    /// Records dropped because the queue was full (`Some` only with [`Options::drop`]).
    dropped: Option<Arc<AtomicU64>>,
    /// The processes a `process` record was written for: (sandbox, pid, exe).
    seen: Arc<Mutex<HashSet<ProcessKey>>>,
    /// The sink is a JSON-lines file: the report ring's drain may hand the writer finished
    /// lines ([`Audit::record_lines`]) instead of records.
    lines: bool,
}

/// A process as `process` records tell them apart: (sandbox, pid, executable).
type ProcessKey = (u64, i32, Vec<u8>);

impl Audit {
    /// An audit sink that records nothing.
    pub fn disabled() -> Audit {
        Audit::default()
    }

    /// Opens the sink and starts the writer thread.
    pub fn open(opts: Options, sandbox: u64) -> Result<(Audit, WriterHandle), OpenError> {
        let lines = opts.format == Format::Json && matches!(opts.sink, Sink::File { .. });
        let (tx, handle) = writer::spawn(opts.sink, opts.format, opts.queue)?;
        Ok((
            Audit {
                tx: Some(tx),
                level: opts.level,
                sandbox,
                dropped: opts.drop.then(Arc::default),
                seen: Arc::default(),
                lines,
            },
            handle,
        ))
    }

    /// Records every call as JSON lines to `out` from a writer thread, with backpressure
    /// (`arbiter learn`).
    pub fn to_writer(out: Box<dyn Write + Send>, sandbox: u64) -> (Audit, WriterHandle) {
        let (tx, handle) = writer::spawn_writer(out, Format::Json, QUEUE);
        (
            Audit {
                tx: Some(tx),
                level: Level::All,
                sandbox,
                dropped: None,
                seen: Arc::default(),
                lines: false,
            },
            handle,
        )
    }

    /// The same sink, with records tagged by another sandbox id (`arbiter serve` shares one
    /// log between its sandboxes).
    pub fn for_sandbox(&self, sandbox: u64) -> Audit {
        Audit {
            sandbox,
            ..self.clone()
        }
    }

    /// Whether records are wanted at all (skip building them otherwise).
    pub fn enabled(&self) -> bool {
        self.tx.is_some()
    }

    /// Whether every call must be recorded (a log at `--audit-level all`): then a call
    /// answered in-process must be reported through the report ring.
    pub fn records_every_call(&self) -> bool {
        self.enabled() && self.level == Level::All
    }

    /// Whether a call decided under `setting` (its rule's, or the defaults') with `verdict`
    /// (`None`: it failed before any decision) is recorded.
    pub fn records(
        &self,
        setting: arbiter_policies::AuditSetting,
        verdict: Option<Verdict>,
    ) -> bool {
        if !self.enabled() {
            return false;
        }
        let all = self.level == Level::All;
        match verdict {
            None => all,
            Some(v) => setting.records(all, v == Verdict::Allow),
        }
    }

    /// Records one call (dropped and counted when the queue is full in drop mode).
    pub fn call(&self, rec: CallRecord) {
        self.send(Msg::Call(Box::new(rec), self.sandbox), false);
    }

    /// Records one event. `start` and `exit` are never dropped; other events are, like
    /// calls, in drop mode.
    pub fn record(&self, event: Event) {
        if !self.enabled() {
            return;
        }
        let must = event.must();
        let time = event.time();
        self.send(Msg::Event(Box::new(event), self.sandbox, time), must);
    }

    /// Records several events at once (one message to the writer): the report ring's drain.
    /// In drop mode a batch that finds the queue full is dropped and counted whole. The
    /// writer hands the emptied vector back on `back` (when there is room), so a busy drain
    /// reuses its batches instead of allocating (and faulting in) new ones. Returns whether
    /// the writer got the batch (and so will hand it back).
    pub fn record_batch(&self, events: Batch, back: Option<&SyncSender<Batch>>) -> bool {
        if !self.enabled() || events.is_empty() {
            return false;
        }
        let n = events.len() as u64;
        let Some(tx) = &self.tx else { return false };
        let msg = Msg::Events(events, self.sandbox, back.cloned());
        self.send_counted(tx, msg, n)
    }

    /// Sends a message of `n` records: in drop mode without waiting (dropped and counted
    /// whole when the queue is full), else waiting for room. Whether the writer got it.
    fn send_counted(&self, tx: &SyncSender<Msg>, msg: Msg, n: u64) -> bool {
        match &self.dropped {
            Some(count) => match tx.try_send(msg) {
                Ok(()) => true,
                Err(TrySendError::Full(_)) => {
                    count.fetch_add(n, Ordering::Relaxed);
                    false
                }
                Err(TrySendError::Disconnected(_)) => false,
            },
            None => tx.send(msg).is_ok(),
        }
    }

    /// Records that the sandbox ended: the `exit` record, with `dropped` in drop mode.
    /// Returns how many records were dropped.
    pub fn exit(&self, pid: i32, status: Option<u8>) -> u64 {
        let dropped = self.dropped();
        self.record(Event::Exit(event::Exit {
            pid,
            status,
            dropped: self.dropped.is_some().then_some(dropped),
        }));
        dropped
    }

    /// Waits until every record sent before this call is written and flushed (synced with
    /// fsync), at most `timeout`; false when the writer did not confirm in time. Unlike
    /// [`WriterHandle::finish`] it needs no other clone to be dropped.
    pub fn flush(&self, timeout: std::time::Duration) -> bool {
        let Some(tx) = &self.tx else { return true };
        let (done_tx, done_rx) = std::sync::mpsc::sync_channel(1);
        if tx.send(Msg::Flush(done_tx)).is_err() {
            return false;
        }
        done_rx.recv_timeout(timeout).is_ok()
    }

    /// Whether the sink is a JSON-lines file, which takes finished lines
    /// ([`Audit::record_lines`]).
    pub fn writes_json_lines(&self) -> bool {
        self.enabled() && self.lines
    }

    /// The sandbox id its records carry.
    pub fn sandbox_id(&self) -> u64 {
        self.sandbox
    }

    /// Hands the writer `records` finished JSON lines of this sandbox (the report ring's
    /// drain formats its hot records itself when [`Audit::writes_json_lines`]), written to
    /// the file as they are. Like [`Audit::record_batch`]: one message, counted whole as
    /// dropped in drop mode when the queue is full, the emptied buffer handed back on `back`.
    /// Returns whether the writer got the lines (and so will hand the buffer back).
    pub fn record_lines(
        &self,
        lines: Vec<u8>,
        records: u64,
        back: Option<&SyncSender<Vec<u8>>>,
    ) -> bool {
        if !self.enabled() || lines.is_empty() {
            return false;
        }
        let Some(tx) = &self.tx else { return false };
        let msg = Msg::Lines(lines, back.cloned());
        self.send_counted(tx, msg, records)
    }

    /// Records dropped so far because the queue was full (always 0 without drop mode).
    pub fn dropped(&self) -> u64 {
        self.dropped
            .as_ref()
            .map_or(0, |d| d.load(Ordering::Relaxed))
    }

    /// Writes a `process` record the first time this sandbox sees `pid` running `exe`
    /// (a new process after fork, or the same pid after exec). `transport` is how it was
    /// seen.
    pub fn process(&self, pid: i32, exe: Option<&Path>, transport: &'static str) {
        if !self.enabled() || pid <= 0 {
            return;
        }
        let key = (
            self.sandbox,
            pid,
            exe.map(|e| e.as_os_str().as_bytes().to_vec())
                .unwrap_or_default(),
        );
        {
            let Ok(mut seen) = self.seen.lock() else {
                return;
            };
            if seen.len() >= SEEN_MAX {
                seen.clear();
            }
            if !seen.insert(key) {
                return;
            }
        }
        // Its pid in the sandbox's pid namespace (as root), for the calls it reports
        // itself: only a log of every call has them.
        if self.level == Level::All {
            crate::sandbox::pidns::note(pid);
        }
        self.record(Event::Process(event::Process {
            pid,
            transport,
            exe: exe.map(|e| record::path_json(e.as_os_str().as_bytes())),
            ppid: process::parent(pid),
        }));
    }

    fn send(&self, msg: Msg, must: bool) {
        let Some(tx) = &self.tx else { return };
        match &self.dropped {
            Some(count) if !must => {
                if let Err(TrySendError::Full(_)) = tx.try_send(msg) {
                    count.fetch_add(1, Ordering::Relaxed);
                }
            }
            // Blocks when the queue is full: backpressure, never a lost record. An error
            // means the writer is gone (arbiter is exiting).
            _ => {
                let _ = tx.send(msg);
            }
        }
    }
}
