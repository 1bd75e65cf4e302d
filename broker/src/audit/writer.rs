//! The thread that writes audit lines.

use std::io::Write;
use std::sync::mpsc::{sync_channel, SyncSender};
use std::thread::JoinHandle;

/// Records waiting to be written before callers are made to wait.
const QUEUE: usize = 4096;

/// Joins the writer once every sender is gone, so the log is complete on exit.
pub struct WriterHandle(Option<JoinHandle<()>>);

impl WriterHandle {
    /// Waits for the writer to drain (all [`super::Audit`] clones must be dropped first).
    pub fn finish(mut self) {
        if let Some(h) = self.0.take() {
            let _ = h.join();
        }
    }
}

pub(super) fn spawn(mut out: Box<dyn Write + Send>) -> (SyncSender<String>, WriterHandle) {
    let (tx, rx) = sync_channel::<String>(QUEUE);
    let handle = std::thread::Builder::new()
        .name("audit-writer".into())
        .spawn(move || {
            while let Ok(line) = rx.recv() {
                let _ = writeln!(out, "{line}");
                // Flush when the queue is momentarily empty: batches under load, prompt when idle.
                let mut pending = rx.try_iter();
                for more in pending.by_ref() {
                    let _ = writeln!(out, "{more}");
                }
                let _ = out.flush();
            }
            let _ = out.flush();
        })
        .ok();
    (tx, WriterHandle(handle))
}
