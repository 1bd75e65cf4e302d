//! Typed audit records: one Rust type per record kind, and one serializer ([`to_value`]) that
//! puts every record in its envelope.
//!
//! The envelope is `type` (the variant's name in snake case), `v` ([`AUDIT_VERSION`]), `time`
//! (RFC 3339, UTC, microseconds) and `sandbox` (16 hex digits); the kind's own fields follow.
//! Readers must ignore fields and record types they do not know. Paths that are not UTF-8
//! are written as `{"bytes": "<base64>"}` ([`super::record::path_json`]). The schema is
//! docs/audit.schema.json; docs/audit.md describes each kind. A call the broker decided is a
//! [`super::CallRecord`] (built on the calling thread, turned into JSON on the writer's); a
//! call the shim reported is a [`ReportedCallRecord`] (written by hand on the hot path,
//! [`super::lines`], to the same object).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arbiter_protocol::ring::{Report, ReportedCall, REPORT_PATH_MAX};
use serde::Serialize;
use serde_json::Value;

use super::record::{path_json, AUDIT_VERSION};
use crate::core::errno::Errno;

/// One audit record that is not a brokered call.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[allow(clippy::large_enum_variant)] // Call is inline on purpose: see its doc
pub enum Event {
    /// The sandbox started (`arbiter run`, or a sandbox of `arbiter serve`).
    Start(Box<Start>),
    /// The sandbox ended.
    Exit(Exit),
    /// A process was first seen running a program.
    Process(Process),
    /// A channel broke the protocol and was closed.
    ProtocolError(ProtocolError),
    /// A call refused at the edge, before any decision.
    InvalidRequest(InvalidRequest),
    /// An open the seccomp transport served without the policy.
    SeccompDirect(SeccompDirect),
    /// A socket call the seccomp transport refused outright.
    SeccompRefused(SeccompRefused),
    /// The external decider failed; the default answer applied (`--decide`, `--ask`).
    DeciderError(Box<DeciderError>),
    /// A daemon's lifecycle (`arbiter serve`).
    Lifecycle(Lifecycle),
    /// A call the shim answered in-process and reported (`"reported": true`). Kept
    /// inline (no box): thousands are written per second, and a batch of them from the
    /// report ring is then one allocation, which the writer hands back for reuse.
    Call(ReportedCallRecord),
    /// A report-ring slot that is not a report the shim could have written.
    InvalidReport(InvalidReport),
    /// What was lost or refused on the way to the log.
    Dropped(Dropped),
}

impl Event {
    /// Whether the record must be written even in drop mode (`--audit-drop`).
    pub fn must(&self) -> bool {
        matches!(self, Event::Start(_) | Event::Exit(_))
    }

    /// The record's time: the reported call's own, else now.
    pub fn time(&self) -> SystemTime {
        match self {
            Event::Call(c) => c.time,
            _ => SystemTime::now(),
        }
    }
}

/// The envelope around a record.
#[derive(Serialize)]
struct Envelope<'a> {
    v: u32,
    #[serde(serialize_with = "rfc3339_micros")]
    time: SystemTime,
    #[serde(serialize_with = "hex16")]
    sandbox: u64,
    #[serde(flatten)]
    event: &'a Event,
}

/// RFC 3339, UTC, microseconds, written without an intermediate string.
fn rfc3339_micros<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&humantime::format_rfc3339_micros(*t))
}

/// 16 hex digits.
fn hex16<S: serde::Serializer>(x: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&format_args!("{x:016x}"))
}

fn envelope(event: &Event, sandbox: u64, time: SystemTime) -> Envelope<'_> {
    Envelope {
        v: AUDIT_VERSION,
        time,
        sandbox,
        event,
    }
}

/// The JSON form of `event` in its envelope, for sandbox `sandbox` at `time`.
pub fn to_value(event: &Event, sandbox: u64, time: SystemTime) -> Value {
    // Serialising these types cannot fail (string keys, no maps with other keys).
    serde_json::to_value(envelope(event, sandbox, time)).unwrap_or(Value::Null)
}

/// Writes the JSON form of `event` in its envelope as one line to `out`, without building
/// a JSON value first (the same object as [`to_value`]'s, its keys in another order).
pub fn write_json_line(
    out: &mut impl std::io::Write,
    event: &Event,
    sandbox: u64,
    time: SystemTime,
) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, &envelope(event, sandbox, time))?;
    out.write_all(b"\n")
}

/// `start`.
#[derive(Debug, Default, Serialize)]
pub struct Start {
    /// The command's argv.
    pub command: Vec<String>,
    /// The resolved executable (`arbiter run`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub program: Option<String>,
    /// The effective policy.
    pub policy: PolicyId,
    /// The kernel layers in force (`arbiter run`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layers: Option<Layers>,
    /// The client's uid (`arbiter serve`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    /// The client's gid (`arbiter serve`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
    /// The launcher's pid (`arbiter serve`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<i32>,
    /// The profile granted (`arbiter serve`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// The working directory decided on (`arbiter serve`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pwd: Option<String>,
    /// How the client's identity was pinned (`arbiter serve`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pinned_by: Option<&'static str>,
    /// The working directory the client claimed (`arbiter serve`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claimed_cwd: Option<String>,
}

/// `start.policy`.
#[derive(Debug, Default, Serialize)]
pub struct PolicyId {
    /// `Policy::digest()`.
    pub digest: String,
    /// Where the policy came from, in merge order.
    pub sources: Vec<String>,
}

/// `start.layers`.
#[derive(Debug, Serialize)]
pub struct Layers {
    /// Landlock.
    pub landlock: LandlockLayer,
    /// seccomp.
    pub seccomp: SeccompLayer,
    /// Whether calls that bypass the shim are brokered.
    pub seccomp_transport: bool,
    /// What this kernel does not enforce, in words.
    pub missing: Vec<String>,
}

/// `start.layers.landlock`.
#[derive(Debug, Serialize)]
pub struct LandlockLayer {
    /// Whether it is enforced.
    pub enforced: bool,
    /// The kernel's ABI (null when none).
    pub abi: Option<i32>,
    /// What the enforced ABI governs.
    pub features: Vec<&'static str>,
}

/// `start.layers.seccomp`.
#[derive(Debug, Serialize)]
pub struct SeccompLayer {
    /// Whether it is enforced.
    pub enforced: bool,
    /// `errno` (the floor) and `notify` (the transport).
    pub filters: Vec<&'static str>,
}

/// `exit`.
#[derive(Debug, Serialize)]
pub struct Exit {
    /// The command arbiter started (under serve, the launcher).
    pub pid: i32,
    /// arbiter's exit status; null when unknown.
    pub status: Option<u8>,
    /// Records dropped (with `--audit-drop` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropped: Option<u64>,
}

/// `process`.
#[derive(Debug, Serialize)]
pub struct Process {
    /// The process.
    pub pid: i32,
    /// How it was seen.
    pub transport: &'static str,
    /// Its executable, when readable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exe: Option<Value>,
    /// Its parent at that moment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ppid: Option<i32>,
}

/// `protocol_error`.
#[derive(Debug, Serialize)]
pub struct ProtocolError {
    /// `bootstrap`, `register`, `call` or `seccomp`.
    pub channel: &'static str,
    /// The sender, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<i32>,
    /// What was wrong.
    pub error: String,
    /// The call, when the message decoded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call: Option<&'static str>,
}

/// `invalid_request`.
#[derive(Debug, Serialize)]
pub struct InvalidRequest {
    /// The caller.
    pub pid: i32,
    /// The call.
    pub call: &'static str,
    /// How it arrived.
    pub transport: &'static str,
    /// Which argument, and what is wrong with it.
    pub error: String,
    /// The errno the caller got.
    pub errno: String,
}

/// `seccomp_direct`.
#[derive(Debug, Serialize)]
pub struct SeccompDirect {
    /// The caller's process.
    pub pid: i32,
    /// The calling thread.
    pub tid: i32,
    /// `open`, `stat` or `access`.
    pub call: &'static str,
    /// `floor`, `reopen` or `own_fd`.
    pub how: &'static str,
    /// The path opened.
    pub path: String,
    /// The open flags, numeric.
    pub flags: i32,
    /// Always `seccomp`.
    pub transport: &'static str,
}

/// `seccomp_refused`.
#[derive(Debug, Serialize)]
pub struct SeccompRefused {
    /// The caller's process.
    pub pid: i32,
    /// `connect`, `bind`, `listen` or `send`.
    pub call: &'static str,
    /// The numeric `AF_*`.
    pub family: i32,
    /// The errno returned.
    pub errno: i32,
    /// Always `seccomp`.
    pub transport: &'static str,
}

/// `lifecycle`: what happened to a daemon, in `event`.
#[derive(Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Lifecycle {
    /// The daemon listens.
    Listening {
        /// Where.
        at: String,
        /// The daemon's pid.
        pid: u32,
        /// The limits in force.
        limits: Value,
    },
    /// The socket path was replaced or removed.
    Stolen {
        /// The path.
        path: Option<String>,
    },
    /// A reload was asked for.
    Reload {
        /// Whether the new configuration is in force.
        ok: bool,
        /// Why not.
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// A client or a call channel was refused.
    Refused {
        /// The client, as far as known (a refused call channel has none).
        #[serde(skip_serializing_if = "Option::is_none")]
        client: Option<Who>,
        /// `channel` for a refused call channel.
        #[serde(skip_serializing_if = "Option::is_none")]
        what: Option<&'static str>,
        /// The sandbox's uid, for a refused channel.
        #[serde(skip_serializing_if = "Option::is_none")]
        uid: Option<u32>,
        /// The `[limits]` key that was reached.
        #[serde(skip_serializing_if = "Option::is_none")]
        limit: Option<&'static str>,
        /// Its value.
        #[serde(skip_serializing_if = "Option::is_none")]
        value: Option<usize>,
        /// Why.
        reason: String,
    },
    /// The daemon stops.
    Shutdown {
        /// Sandboxes still running.
        live: usize,
        /// The grace period, seconds.
        grace_secs: f64,
    },
    /// A sandbox's processes were killed.
    Killed {
        /// Why.
        why: String,
        /// How many.
        #[serde(skip_serializing_if = "Option::is_none")]
        processes: Option<usize>,
    },
    /// The seccomp listener could not be handed over.
    HandoverFailed {
        /// The errno.
        errno: i32,
    },
    /// Daemon threads still blocked for an ended sandbox.
    StuckThreads {
        /// How many.
        threads: usize,
    },
}

/// A client of `arbiter serve`, as far as it is known: `null` when its identity could not
/// be established.
#[derive(Debug, Clone, Copy)]
pub enum Who {
    /// Unknown.
    Unknown,
    /// What the kernel told about it.
    Client(Client),
}

/// A client's identity, from the kernel (`SO_PEERCRED`, pinned by a pidfd).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Client {
    /// Its uid.
    pub uid: u32,
    /// Its gid, once pinned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
    /// Its pid, once pinned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<i32>,
    /// How the pid was pinned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pinned_by: Option<&'static str>,
}

impl Serialize for Who {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Who::Unknown => s.serialize_none(),
            Who::Client(c) => c.serialize(s),
        }
    }
}

/// A call the shim answered in-process and reported through the report ring: a `call`
/// record with `"reported": true`. Everything in it but `rule` is the program's claim. It
/// keeps the report's fields as they came and writes them straight out (no intermediate
/// JSON value): thousands of these are written per second.
#[derive(Debug)]
pub struct ReportedCallRecord {
    pub(super) time: SystemTime,
    pub(super) pid: i32,
    /// `pid` is the program's own number in the sandbox's pid namespace, which the broker
    /// could not translate (written as `ns_pid`, never as a `pid` that would name another
    /// process in the host's numbering).
    pub(super) ns_pid: bool,
    pub(super) call: ReportedCall,
    pub(super) flags: i32,
    pub(super) result: Result<i32, i32>,
    /// The path's bytes (the first `path_len`): inline, as the slot had them.
    path: [u8; REPORT_PATH_MAX],
    path_len: u16,
    pub(super) rule: Option<Arc<str>>,
}

impl ReportedCallRecord {
    /// The record of a validated report; `rule` the policy's deciding rule for an absolute
    /// path.
    pub fn new(r: &Report<'_>, rule: Option<Arc<str>>) -> ReportedCallRecord {
        ReportedCallRecord::with_pid(r, rule, ReportedCallRecord::broker_pid(r.pid))
    }

    /// The broker's number for the process a report names, and whether it stayed the
    /// sandbox namespace's number. The shim reports its own `getpid()`: in the sandbox's pid
    /// namespace (as root), the broker's numbering is another, which every other record
    /// uses. A number that cannot be translated is written as what it is (`ns_pid`).
    pub fn broker_pid(pid: i32) -> (i32, bool) {
        match crate::sandbox::pidns::current() {
            None => (pid, false),
            Some(_) => match crate::sandbox::pidns::host_pid(pid) {
                Some(host) => (host, false),
                None => (pid, true),
            },
        }
    }

    /// [`ReportedCallRecord::new`] with the report's process id already translated
    /// ([`ReportedCallRecord::broker_pid`]).
    pub fn with_pid(
        r: &Report<'_>,
        rule: Option<Arc<str>>,
        (pid, ns_pid): (i32, bool),
    ) -> ReportedCallRecord {
        // A validated report's path fits a slot ([`decode_slot`] checks it).
        let len = r.path.len().min(REPORT_PATH_MAX);
        ReportedCallRecord {
            time: UNIX_EPOCH + Duration::from_nanos(r.time_ns),
            pid,
            ns_pid,
            call: r.call,
            flags: r.flags,
            result: r.result,
            path: {
                let mut p = [0u8; REPORT_PATH_MAX];
                p[..len].copy_from_slice(&r.path[..len]);
                p
            },
            path_len: len as u16,
            rule,
        }
    }

    /// The key the pid is written under: `pid` (the broker's numbering, as in every other
    /// record), or `ns_pid` when it is the sandbox namespace's number, untranslated.
    pub fn pid_key(&self) -> &'static str {
        if self.ns_pid {
            "ns_pid"
        } else {
            "pid"
        }
    }

    /// The path as the program passed it.
    pub fn path(&self) -> &[u8] {
        &self.path[..usize::from(self.path_len)]
    }

    /// Whether the broker could not check the report against the policy: a path relative
    /// to a working directory the broker does not know (`"unchecked": true`; red-team
    /// finding 10). Such a record may name a path the policy denies.
    pub fn unchecked(&self) -> bool {
        !self.path().starts_with(b"/")
    }
}

impl ReportedCallRecord {
    /// When the program says the call was made.
    pub fn time(&self) -> SystemTime {
        self.time
    }
}

impl Serialize for ReportedCallRecord {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("ReportedCallRecord", 9)?;
        st.serialize_field("reported", &true)?;
        st.serialize_field(self.pid_key(), &self.pid)?;
        st.serialize_field("transport", "shim")?;
        st.serialize_field("call", self.call.name())?;
        st.serialize_field("args", &ReportedArgs(self))?;
        st.serialize_field("decision", "allow")?;
        if let Some(rule) = &self.rule {
            st.serialize_field("rule", &**rule)?;
        }
        if self.unchecked() {
            st.serialize_field("unchecked", &true)?;
        }
        st.serialize_field("result", &ResultJson(self.result))?;
        st.end()
    }
}

/// `args` of a reported call, as a brokered call of the same kind has them.
struct ReportedArgs<'a>(&'a ReportedCallRecord);

impl Serialize for ReportedArgs<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use super::flags;
        use serde::ser::SerializeMap;
        let r = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("path", &PathJson(r.path()))?;
        match r.call {
            ReportedCall::Open => m.serialize_entry("flags", &flags::open_flags(r.flags))?,
            ReportedCall::Stat => m.serialize_entry("flags", &flags::at_flags(r.flags, false))?,
            ReportedCall::Access => {
                m.serialize_entry("mode", &flags::access_mode(libc::F_OK))?;
                m.serialize_entry("flags", &flags::at_flags(r.flags, true))?;
            }
        }
        m.end()
    }
}

/// A path: a string when UTF-8, else `{"bytes": base64}` (as [`path_json`]).
struct PathJson<'a>(&'a [u8]);

impl Serialize for PathJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(self.0) {
            Ok(text) => s.serialize_str(text),
            Err(_) => path_json(self.0).serialize(s),
        }
    }
}

/// `{"value": N}` or `{"errno": "ENAME"}`.
struct ResultJson(Result<i32, i32>);

impl Serialize for ResultJson {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(1))?;
        match self.0 {
            Ok(v) => m.serialize_entry("value", &v)?,
            Err(e) => match crate::core::errno::errno_name(e) {
                Some(name) => m.serialize_entry("errno", name)?,
                None => m.serialize_entry("errno", &Errno(e).name())?,
            },
        }
        m.end()
    }
}

/// `decider_error`: what went wrong with the external decider, about which request, for
/// which call, and the default answer given instead.
#[derive(Debug, Serialize)]
pub struct DeciderError {
    /// What went wrong (`timeout`, `gone`, `queue_full`, `garbage`, `unknown_id`,
    /// `duplicate`, `bad_answer`, `exited`).
    pub error: &'static str,
    /// The details, in words.
    pub detail: String,
    /// The request's id, when the failure is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// The calling process, when the failure is about a request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<i32>,
    /// The call, when the failure is about a request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call: Option<&'static str>,
    /// What the check was about, when the failure is about a request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<DeciderSubject>,
    /// The default answer given instead (`allow` or `deny`), when one was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<&'static str>,
}

/// `decider_error.subject`: as the request's `subject` names it.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum DeciderSubject {
    /// A real path and the access asked for.
    Path {
        /// The path (`{"bytes": …}` when not UTF-8).
        path: Value,
        /// The access words (`read`, `write`, …).
        access: Vec<&'static str>,
    },
    /// A network endpoint (`tcp:127.0.0.1:80`).
    Endpoint {
        /// The endpoint.
        endpoint: String,
    },
    /// A host name or address to resolve.
    Name {
        /// The name.
        name: String,
    },
}

/// `invalid_report`: a report-ring slot refused.
#[derive(Debug, Serialize)]
pub struct InvalidReport {
    /// The slot's position in the ring (counting from 0 since the sandbox started).
    pub position: u64,
    /// What is wrong with it.
    pub error: String,
}

/// `dropped`: what did not reach the log as it should have.
#[derive(Debug, Serialize)]
pub struct Dropped {
    /// `reports` (the report ring).
    pub source: &'static str,
    /// Slots refused as invalid (each of the first 100 has an `invalid_report` record).
    pub invalid: u64,
    /// Slots claimed but never written, skipped.
    pub stalled: u64,
    /// Calls the shim sent to the broker because the ring was full (the program's count;
    /// the broker recorded those calls itself).
    pub full: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    use serde_json::json;

    #[test]
    fn the_envelope_and_the_kind_are_one_object() {
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let v = to_value(
            &Event::Lifecycle(Lifecycle::Killed {
                why: "x".into(),
                processes: None,
            }),
            0xab,
            t,
        );
        assert_eq!(
            v,
            json!({"type": "lifecycle", "event": "killed", "why": "x", "v": 1,
                   "time": "2023-11-14T22:13:20.000000Z", "sandbox": "00000000000000ab"})
        );
        let v = to_value(
            &Event::Exit(Exit {
                pid: 4,
                status: None,
                dropped: None,
            }),
            1,
            t,
        );
        assert_eq!(v["type"], "exit");
        assert_eq!(v["status"], Value::Null);
        assert!(v.get("dropped").is_none());
    }
}
