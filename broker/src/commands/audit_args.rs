//! The audit options, shared by `run` and `serve` so that both open the same sinks the same
//! way (docs/audit.md).

use std::path::PathBuf;

use anyhow::Result;

use arbiter::audit;

/// `--audit` and its companions.
#[derive(Debug, Clone, clap::Args)]
pub struct AuditArgs {
    /// Write the audit log to FILE (appended; created 0600; reopened on SIGHUP), `-` for
    /// stderr, `syslog` for the local syslog socket /dev/log, `syslog://HOST:PORT` for a
    /// collector (RFC 5424 with structured data over UDP), or `journal` for the systemd
    /// journal's native protocol with indexed ARBITER_* fields (write `./syslog` or
    /// `./journal` for files of those names). See docs/audit.md.
    #[arg(long, value_name = "FILE|-|syslog|syslog://HOST:PORT|journal")]
    pub audit: Option<PathBuf>,
    /// Which calls the log records: `deny` (denials only; allowed calls may then be served
    /// in-process, at native speed) or `all` (every call, each through the broker). A rule's
    /// own `audit = "all" | "deny" | "silent"` overrides this for its decisions.
    #[arg(long, value_enum, default_value_t, requires = "audit")]
    pub audit_level: audit::Level,
    /// Audit records as JSON lines (the schema in docs/audit.md) or one human line each.
    #[arg(long, value_enum, default_value_t, requires = "audit")]
    pub audit_format: audit::Format,
    /// fsync the audit log file after each flush (by default it is flushed, not synced).
    #[arg(long, requires = "audit")]
    pub audit_fsync: bool,
    /// Never make a sandboxed program wait for the audit log: when the queue is full, drop
    /// the record and count it (reported in the `exit` record and on stderr).
    #[arg(long, requires = "audit")]
    pub audit_drop: bool,
    /// Audit records that may wait for the writer (tests use a tiny queue).
    #[arg(long, hide = true, value_name = "N", default_value_t = audit::QUEUE, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub audit_queue: usize,
}

impl Default for AuditArgs {
    fn default() -> AuditArgs {
        AuditArgs {
            audit: None,
            audit_level: audit::Level::default(),
            audit_format: audit::Format::default(),
            audit_fsync: false,
            audit_drop: false,
            audit_queue: audit::QUEUE,
        }
    }
}

impl AuditArgs {
    /// How the log is to be written, or `None` without `--audit`.
    pub fn options(&self) -> Result<Option<audit::Options>> {
        let Some(path) = &self.audit else {
            return Ok(None);
        };
        let sink = audit::Sink::from_arg(path, self.audit_fsync).map_err(anyhow::Error::msg)?;
        Ok(Some(audit::Options {
            level: self.audit_level,
            sink,
            format: self.audit_format,
            queue: self.audit_queue,
            drop: self.audit_drop,
        }))
    }
}
