//! The thread that writes audit records, and the sinks it writes to.
//!
//! Records arrive as JSON values over a bounded queue and are serialised here, off the
//! calling thread. The writer flushes whenever the queue is momentarily empty (batches under
//! load, prompt when idle) and once more when every sender is gone.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use serde_json::Value;

use super::lines::JsonLines;
use super::text;

/// Records waiting to be written before callers are made to wait (or records are dropped).
pub const QUEUE: usize = 4096;

/// Where syslog records go: the local syslog socket (journald listens there too).
pub const SYSLOG_SOCKET: &str = "/dev/log";

/// How records are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// One JSON object per line (the schema in `docs/audit.md`).
    #[default]
    Json,
    /// One human-readable line per record.
    Text,
}

/// What goes through the queue.
pub(super) enum Msg {
    /// One typed record, its sandbox and its time, turned into JSON here.
    Event(Box<super::Event>, u64, std::time::SystemTime),
    /// Typed records of one sandbox, each with its time (the report ring's drain), and
    /// where to hand the emptied vector back for reuse.
    Events(super::Batch, u64, Option<SyncSender<super::Batch>>),
    /// Finished JSON lines (the report ring's drain, for a JSON-lines file), written as
    /// they are, and where to hand the emptied buffer back for reuse.
    Lines(Vec<u8>, Option<SyncSender<Vec<u8>>>),
    /// One call record and its sandbox, turned into JSON here, off the calling thread.
    Call(Box<super::CallRecord>, u64),
    /// Wakes the writer to look at its reopen flag.
    Wake,
    /// Flush (and sync, for a file with fsync) everything before this message, then
    /// answer: a barrier for a daemon that must know its records are on disk.
    Flush(SyncSender<()>),
}

/// A destination for records.
pub enum Sink {
    /// A file opened for appending; reopened by path on request (logrotate).
    File {
        /// The path, to reopen.
        path: PathBuf,
        /// `fsync` after each flush.
        fsync: bool,
    },
    /// arbiter's stderr.
    Stderr,
    /// The local syslog socket, one datagram per record.
    Syslog,
    /// A syslog collector: RFC 5424 with structured data over UDP (RFC 5426).
    Syslog5424(std::net::SocketAddr),
    /// The systemd journal's native protocol, one datagram per entry.
    Journal(PathBuf),
}

/// Where journald listens for native-protocol datagrams (`ARBITER_JOURNAL_SOCKET` overrides
/// it, for tests and for journald in a container).
pub const JOURNAL_SOCKET: &str = "/run/systemd/journal/socket";

impl Sink {
    /// The sink an `--audit` argument names, for `run` and `serve` alike: `-`, `syslog`,
    /// `syslog://HOST:PORT`, `journal`, or a file path (`fsync` applies to files only).
    pub fn from_arg(arg: &Path, fsync: bool) -> Result<Sink, String> {
        let bytes = arg.as_os_str().as_encoded_bytes();
        Ok(match bytes {
            b"-" => Sink::Stderr,
            b"syslog" => Sink::Syslog,
            b"journal" => Sink::Journal(
                std::env::var_os("ARBITER_JOURNAL_SOCKET")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from(JOURNAL_SOCKET)),
            ),
            _ if bytes.starts_with(b"syslog://") => {
                use std::net::ToSocketAddrs;
                let target = String::from_utf8_lossy(&bytes[b"syslog://".len()..]).into_owned();
                let addr = target
                    .to_socket_addrs()
                    .ok()
                    .and_then(|mut a| a.next())
                    .ok_or_else(|| {
                        format!(
                            "--audit syslog://{target}: expected HOST:PORT of a syslog collector"
                        )
                    })?;
                Sink::Syslog5424(addr)
            }
            _ => Sink::File {
                path: arg.to_path_buf(),
                fsync,
            },
        })
    }
}

/// A sink, opened.
enum Open {
    File {
        path: PathBuf,
        fsync: bool,
        out: BufWriter<File>,
        lines: JsonLines,
    },
    Stream(Box<dyn Write + Send>),
    Syslog(UnixDatagram),
    Syslog5424(std::net::UdpSocket),
    Journal(UnixDatagram),
}

/// Errors opening a sink, with what was being opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// `open(2)` of the log file failed.
    #[error("cannot open audit log {path}: {source}")]
    File {
        /// The log file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Nothing listens on `/dev/log`.
    #[error("--audit syslog: cannot connect to {SYSLOG_SOCKET} (is a syslog daemon or systemd-journald running?): {0}")]
    Syslog(std::io::Error),
    /// The UDP socket to a syslog collector could not be set up.
    #[error("--audit syslog://{addr}: {source}")]
    Collector {
        /// The collector.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// Nothing listens on journald's socket.
    #[error("--audit journal: cannot connect to {path} (is systemd-journald running?): {source}")]
    Journal {
        /// The socket.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// The file sink's buffer: a log of every call writes records by the thousand.
const FILE_BUFFER: usize = 64 * 1024;

/// The mode of a new audit log file: readable and writable by its owner only (the log names
/// every path a program tried, which is nobody else's business).
const NEW_FILE_MODE: u32 = 0o600;

/// Opens `path` for appending, creating it with `mode` if needed. The mode is exact: the
/// broker runs with umask 0 (it applies each caller's umask itself), so nothing widens or
/// narrows it.
fn open_file(path: &Path, mode: u32) -> Result<File, OpenError> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(mode)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
        .map_err(|source| OpenError::File {
            path: path.to_path_buf(),
            source,
        })
}

impl Sink {
    fn open(self) -> Result<Open, OpenError> {
        Ok(match self {
            Sink::File { path, fsync } => Open::File {
                out: BufWriter::with_capacity(FILE_BUFFER, open_file(&path, NEW_FILE_MODE)?),
                path,
                fsync,
                lines: JsonLines::default(),
            },
            Sink::Stderr => Open::Stream(Box::new(std::io::stderr())),
            Sink::Syslog => {
                let s = UnixDatagram::unbound().map_err(OpenError::Syslog)?;
                s.connect(SYSLOG_SOCKET).map_err(OpenError::Syslog)?;
                Open::Syslog(s)
            }
            Sink::Syslog5424(addr) => {
                let bind: std::net::SocketAddr = if addr.is_ipv4() {
                    ([0, 0, 0, 0], 0).into()
                } else {
                    (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
                };
                let s = std::net::UdpSocket::bind(bind)
                    .and_then(|s| s.connect(addr).map(|()| s))
                    .map_err(|source| OpenError::Collector { addr, source })?;
                Open::Syslog5424(s)
            }
            Sink::Journal(path) => {
                let s = UnixDatagram::unbound()
                    .and_then(|s| s.connect(&path).map(|()| s))
                    .map_err(|source| OpenError::Journal { path, source })?;
                Open::Journal(s)
            }
        })
    }
}

impl Open {
    /// Writes one record; the error of a file or stream (a datagram sink's loss is not
    /// one: see the comments below), which the writer counts ([`WriteFailure`]).
    fn write(&mut self, format: Format, rec: &Value) -> std::io::Result<()> {
        let mut line = match format {
            Format::Json => rec.to_string(),
            Format::Text => text::line(rec),
        };
        match self {
            Open::File { out, .. } => {
                return writeln!(out, "{line}");
            }
            Open::Stream(out) => {
                // One write(2) per record: stderr is unbuffered, and `writeln!` would write
                // the newline separately, letting the program's own stderr output land
                // between a record and its end of line.
                line.push('\n');
                return out.write_all(line.as_bytes());
            }
            Open::Syslog5424(sock) => {
                // A collector that is down loses the datagram, as UDP syslog always does.
                let _ = sock.send(super::structured::rfc5424(rec, &line).as_bytes());
            }
            Open::Journal(sock) => {
                let _ = sock.send(&super::structured::journal_entry(rec, &line));
            }
            Open::Syslog(sock) => {
                let msg = text::syslog_message(rec, &line);
                if sock.send(msg.as_bytes()).is_err() {
                    // The daemon restarted: connect again once, then give up on this record.
                    if sock.connect(SYSLOG_SOCKET).is_ok() {
                        let _ = sock.send(msg.as_bytes());
                    }
                }
            }
        }
        Ok(())
    }

    /// Writes one typed record: straight into a JSON-lines file, else through its JSON
    /// value (text lines and the structured sinks read fields from it).
    fn write_event(
        &mut self,
        format: Format,
        ev: &super::Event,
        sandbox: u64,
        time: std::time::SystemTime,
    ) -> std::io::Result<()> {
        match (format, self) {
            (Format::Json, Open::File { out, lines, .. }) => lines.write(out, ev, sandbox, time),
            (format, open) => open.write(format, &super::event::to_value(ev, sandbox, time)),
        }
    }

    /// Writes finished JSON lines: to a file or stream as they are (one `write(2)` for a
    /// large buffer); a datagram sink (never sent lines: [`super::Audit::record_lines`] is
    /// for files) gets each line as its own record all the same.
    fn write_lines(&mut self, format: Format, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            // A drain's buffer of lines (about 60 KiB) goes out in a write of its own
            // instead of first being copied into the file buffer (in order: what the
            // buffer holds is written first).
            Open::File { out, .. } if bytes.len() >= FILE_BUFFER / 2 => {
                out.flush()?;
                out.get_mut().write_all(bytes)
            }
            Open::File { out, .. } => out.write_all(bytes),
            Open::Stream(out) if format == Format::Json => out.write_all(bytes),
            open => {
                for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                    if let Ok(rec) = serde_json::from_slice::<Value>(line) {
                        open.write(format, &rec)?;
                    }
                }
                Ok(())
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Open::File { out, fsync, .. } => {
                out.flush()?;
                if *fsync {
                    out.get_ref().sync_data()?;
                }
                Ok(())
            }
            Open::Stream(out) => out.flush(),
            Open::Syslog(_) | Open::Syslog5424(_) | Open::Journal(_) => Ok(()),
        }
    }

    /// Reopens a file sink by its path (after logrotate moved it); other sinks stay. If the
    /// path cannot be opened, records keep going to the old file rather than being lost.
    fn reopen(&mut self) -> std::io::Result<()> {
        let flushed = self.flush();
        if let Open::File { path, out, .. } = self {
            // The new file gets the mode of the one being rotated (logrotate may have made
            // it group-readable for a shipper), never more than that.
            use std::os::unix::fs::PermissionsExt;
            let mode = out
                .get_ref()
                .metadata()
                .map(|m| m.permissions().mode() & 0o777)
                .unwrap_or(NEW_FILE_MODE);
            match open_file(path, mode) {
                Ok(f) => *out = BufWriter::with_capacity(FILE_BUFFER, f),
                Err(e) => eprintln!("arbiter: {e}; still writing to the old file"),
            }
        }
        flushed
    }
}

/// The writes to a file or stream sink that failed (a full filesystem, a closed pipe):
/// the records they carried are missing from the log ([`WriterHandle::finish`] returns it,
/// and `arbiter run` says so on stderr).
#[derive(Debug)]
pub struct WriteFailure {
    /// The first error.
    pub first: std::io::Error,
    /// How many writes and flushes failed.
    pub count: u64,
}

/// Keeps the first error of the writes that failed, and counts them.
#[derive(Default)]
struct Failures(Option<WriteFailure>);

impl Failures {
    fn note(&mut self, result: std::io::Result<()>) {
        if let Err(e) = result {
            match &mut self.0 {
                Some(f) => f.count += 1,
                None => {
                    self.0 = Some(WriteFailure { first: e, count: 1 });
                }
            }
        }
    }
}

/// Joins the writer once every sender is gone, so the log is complete on exit.
pub struct WriterHandle {
    thread: Option<JoinHandle<Option<WriteFailure>>>,
    reopen: Arc<AtomicBool>,
    wake: Option<SyncSender<Msg>>,
}

impl WriterHandle {
    /// Asks the writer to reopen a file sink by path, without waiting. Safe to call from
    /// the signal-handling loop: it never blocks, and the writer swaps the file between two
    /// records, after flushing the old one.
    pub fn reopen(&self) {
        self.reopen.store(true, Ordering::SeqCst);
        if let Some(tx) = &self.wake {
            // A full queue means the writer is busy and will see the flag soon anyway.
            let _ = tx.try_send(Msg::Wake);
        }
    }

    /// Waits for the writer to drain (all [`super::Audit`] clones must be dropped first).
    /// Returns the writes that failed, if any did: their records are missing from the log.
    pub fn finish(mut self) -> Option<WriteFailure> {
        self.wake = None;
        self.thread.take().and_then(|h| h.join().ok().flatten())
    }
}

pub(super) fn spawn(
    sink: Sink,
    format: Format,
    queue: usize,
) -> Result<(SyncSender<Msg>, WriterHandle), OpenError> {
    Ok(spawn_open(sink.open()?, format, queue))
}

/// [`spawn`] for any writer (`arbiter learn` records into memory, `arbiter serve` to its
/// own file).
pub(super) fn spawn_writer(
    out: Box<dyn Write + Send>,
    format: Format,
    queue: usize,
) -> (SyncSender<Msg>, WriterHandle) {
    spawn_open(Open::Stream(out), format, queue)
}

fn spawn_open(mut out: Open, format: Format, queue: usize) -> (SyncSender<Msg>, WriterHandle) {
    let (tx, rx) = sync_channel::<Msg>(queue.max(1));
    let reopen = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&reopen);
    let thread = std::thread::Builder::new()
        .name("audit-writer".into())
        .spawn(move || {
            super::lower_priority();
            run(&mut out, format, &rx, &flag)
        })
        .ok();
    (
        tx.clone(),
        WriterHandle {
            thread,
            reopen,
            wake: Some(tx),
        },
    )
}

fn run(
    out: &mut Open,
    format: Format,
    rx: &Receiver<Msg>,
    reopen: &AtomicBool,
) -> Option<WriteFailure> {
    let mut failed = Failures::default();
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        while let Some(msg) = next {
            if reopen.swap(false, Ordering::SeqCst) {
                failed.note(out.reopen());
            }
            match msg {
                Msg::Event(ev, sandbox, time) => {
                    failed.note(out.write_event(format, &ev, sandbox, time));
                }
                Msg::Events(mut evs, sandbox, back) => {
                    for (ev, time) in &evs {
                        failed.note(out.write_event(format, ev, sandbox, *time));
                    }
                    if let Some(back) = back {
                        evs.clear();
                        // No room: the drain has spares enough; this one is freed.
                        let _ = back.try_send(evs);
                    }
                }
                Msg::Lines(mut bytes, back) => {
                    failed.note(out.write_lines(format, &bytes));
                    if let Some(back) = back {
                        bytes.clear();
                        let _ = back.try_send(bytes);
                    }
                }
                Msg::Call(rec, sandbox) => {
                    failed.note(out.write(format, &rec.into_value(sandbox)));
                }
                Msg::Flush(done) => {
                    failed.note(out.flush());
                    let _ = done.send(());
                }
                Msg::Wake => {}
            }
            next = rx.try_recv().ok();
        }
        if reopen.swap(false, Ordering::SeqCst) {
            failed.note(out.reopen());
        }
        failed.note(out.flush());
    }
    failed.note(out.flush());
    failed.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A stream whose bytes the test reads back.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    const TWO_LINES: &[u8] = b"{\"v\":1,\"time\":\"2026-11-30T16:00:00.000001Z\",\"sandbox\":\"00000000000000ab\",\"type\":\"call\",\"reported\":true,\"pid\":7,\"transport\":\"shim\",\"call\":\"stat\",\"args\":{\"path\":\"a\",\"flags\":[]},\"decision\":\"allow\",\"result\":{\"value\":0}}\n\
{\"v\":1,\"time\":\"2026-11-30T16:00:00.000002Z\",\"sandbox\":\"00000000000000ab\",\"type\":\"call\",\"reported\":true,\"pid\":7,\"transport\":\"shim\",\"call\":\"stat\",\"args\":{\"path\":\"b\",\"flags\":[]},\"decision\":\"allow\",\"result\":{\"value\":0}}\n";

    #[test]
    fn finished_lines_go_out_as_they_are_to_a_json_stream() {
        let buf = Shared::default();
        let mut open = Open::Stream(Box::new(buf.clone()));
        open.write_lines(Format::Json, TWO_LINES).unwrap();
        assert_eq!(&*buf.0.lock().unwrap(), TWO_LINES);
    }

    #[test]
    fn finished_lines_are_written_record_by_record_where_the_format_differs() {
        let buf = Shared::default();
        let mut open = Open::Stream(Box::new(buf.clone()));
        open.write_lines(Format::Text, TWO_LINES).unwrap();
        let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        assert!(lines[0].contains("stat a"), "{out}");
        assert!(lines[1].contains("stat b"), "{out}");
    }
}
