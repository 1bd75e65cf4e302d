//! The audit log: one JSON object per line for every attempted call and lifecycle event.
//!
//! The format is specified in `docs/audit.md` and by [`record`]. Records are built on the
//! calling thread and handed to a writer thread over a bounded queue: a full queue makes
//! the caller wait (backpressure), so no record is ever silently dropped.

pub mod flags;
pub mod record;
mod writer;

use std::io::Write;
use std::sync::mpsc::SyncSender;

pub use record::{CallRecord, Verdict};

/// Where audit records go. Cloning shares the same writer.
#[derive(Clone, Default)]
pub struct Audit {
    tx: Option<SyncSender<String>>,
    sandbox: u64,
}

impl Audit {
    /// An audit sink that records nothing.
    pub fn disabled() -> Audit {
        Audit::default()
    }

    /// Records to `out` (a file or stderr) from a writer thread.
    pub fn to_writer(out: Box<dyn Write + Send>, sandbox: u64) -> (Audit, writer::WriterHandle) {
        let (tx, handle) = writer::spawn(out);
        (
            Audit {
                tx: Some(tx),
                sandbox,
            },
            handle,
        )
    }

    /// Whether records are wanted at all (skip building them otherwise).
    pub fn enabled(&self) -> bool {
        self.tx.is_some()
    }

    /// Records one call.
    pub fn call(&self, rec: CallRecord) {
        self.emit(rec.into_json(self.sandbox));
    }

    /// Records a lifecycle or protocol event of the given type with extra fields.
    pub fn event(&self, kind: &str, fields: serde_json::Value) {
        if !self.enabled() {
            return;
        }
        let mut obj = serde_json::json!({
            "type": kind,
            "v": record::AUDIT_VERSION,
            "time": record::now_rfc3339(),
            "sandbox": format!("{:016x}", self.sandbox),
        });
        if let (Some(o), serde_json::Value::Object(extra)) = (obj.as_object_mut(), fields) {
            o.extend(extra);
        }
        self.emit(obj.to_string());
    }

    fn emit(&self, line: String) {
        if let Some(tx) = &self.tx {
            // Blocks when the queue is full: backpressure, never a lost record. An error
            // means the writer is gone (arbiter is exiting).
            let _ = tx.send(line);
        }
    }
}
