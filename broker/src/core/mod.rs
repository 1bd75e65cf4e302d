//! The request core: every call, from every transport, is decided and performed here.
//!
//! A transport (the shim's SEQPACKET channels, or seccomp user notifications) turns what
//! it received into a [`Call`] plus the fds that came with it, and the identity the kernel
//! vouched for ([`Caller`]). [`RequestCore::serve`] validates the call's arguments once, at
//! the edge, into a [`Checked`] call (or refuses it with the kernel's errno and an
//! `invalid_request` audit record); [`RequestCore::handle`], which takes only a [`Checked`]
//! call, decides it against the policy, performs it when allowed, writes the audit record,
//! and returns an [`Outcome`] for the transport to send back.

pub mod arguments;
pub mod decider;
#[cfg(test)]
mod decider_tests;
pub mod denials;
pub mod errno;
#[cfg(test)]
mod escape_tests;
pub mod fs;
#[cfg(test)]
mod integrity_tests;
pub mod net;
pub mod netdb;
pub mod procself;
pub mod resolve;
pub mod setid;
pub mod slow;
pub mod sockname;
pub mod stat;
pub mod waiting;

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arbiter_policies::{Access, AuditSetting, Policy};
use arbiter_protocol::{
    Call, Checked, Invalid, WireStat, FAST_ACCESS, FAST_DENY, FAST_OPEN, FAST_REMOVE, FAST_STAT,
    FAST_TTY,
};

use crate::audit::event::InvalidRequest;
use crate::audit::reports::{FastKind, Reports};
use crate::audit::{Audit, CallRecord, Event, Verdict};
use errno::Errno;

/// Which path brought a call to the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// The LD_PRELOAD shim over a SEQPACKET channel.
    Shim,
    /// seccomp user notification (on unless `--no-seccomp-transport`).
    Seccomp,
}

impl Transport {
    /// The name used in audit records.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Shim => "shim",
            Transport::Seccomp => "seccomp",
        }
    }
}

/// Who is calling, as the kernel reported it (never as the payload claims).
#[derive(Debug, Clone)]
pub struct Caller {
    /// Process id.
    pub pid: i32,
    /// Thread id, when the kernel reported it (the seccomp transport; `SCM_CREDENTIALS`
    /// carries only the process id).
    pub tid: Option<i32>,
    /// The caller's executable (`/proc/PID/exe`), for audit records.
    pub exe: Option<std::sync::Arc<std::path::Path>>,
    /// Real uid.
    pub uid: u32,
    /// Real gid.
    pub gid: u32,
    /// How the call arrived.
    pub transport: Transport,
}

/// Data returned with a result.
#[derive(Debug, Default)]
pub enum OutPayload {
    /// Nothing.
    #[default]
    None,
    /// A stat result.
    Stat(WireStat),
    /// Bytes (readlink).
    Bytes(Vec<u8>),
    /// A getaddrinfo result.
    AddrInfo {
        /// The canonical name, when asked for.
        canonname: Option<Vec<u8>>,
        /// Encoded entries (see `arbiter_protocol::reply::addr_info_entries`).
        entries: Vec<u8>,
        /// errno for `EAI_SYSTEM`.
        errno: i32,
    },
    /// A services or protocols database entry (see `arbiter_protocol::NetDbEntry`).
    NetDbEntry {
        /// The official name.
        name: Vec<u8>,
        /// The aliases, each followed by a NUL.
        aliases: Vec<u8>,
        /// The port (host byte order) or protocol number.
        number: i32,
        /// A service's protocol; empty for a protocol.
        proto: Vec<u8>,
    },
}

/// What the transport sends back.
#[derive(Debug)]
pub struct Outcome {
    /// The result value (-1 on failure).
    pub result: i64,
    /// errno when failed.
    pub errno: i32,
    /// Data besides the result.
    pub payload: OutPayload,
    /// A descriptor to hand to the caller.
    pub fd: Option<OwnedFd>,
}

impl Outcome {
    /// The outcome as the core's own result type (a failed outcome is its errno).
    fn into_result(self) -> Result<Done, Errno> {
        if self.errno != 0 {
            return Err(Errno(self.errno));
        }
        Ok(Done {
            value: self.result,
            payload: self.payload,
            fd: self.fd,
        })
    }

    /// The answer to a call whose caller is gone (`ESRCH`), nothing performed handed out.
    pub fn gone() -> Outcome {
        Outcome::from_result(Err(Errno(libc::ESRCH)))
    }

    fn from_result(r: Result<Done, Errno>) -> Outcome {
        match r {
            Ok(done) => Outcome {
                result: done.value,
                errno: 0,
                payload: done.payload,
                fd: done.fd,
            },
            Err(e) => Outcome {
                result: -1,
                errno: e.0,
                payload: OutPayload::None,
                fd: None,
            },
        }
    }
}

/// A performed call's result.
#[derive(Debug, Default)]
pub struct Done {
    /// Return value.
    pub value: i64,
    /// Data.
    pub payload: OutPayload,
    /// Descriptor for the caller.
    pub fd: Option<OwnedFd>,
}

impl Done {
    fn value(value: i64) -> Done {
        Done {
            value,
            ..Done::default()
        }
    }
}

/// Per-call notes that end up in the audit record.
#[derive(Debug, Default)]
pub struct Notes {
    /// The real path(s) decided on.
    pub paths: Vec<PathBuf>,
    /// The decision, once one was made.
    pub verdict: Option<Verdict>,
    /// The deciding rule, rendered as origin text.
    pub rule: Option<String>,
    /// The network endpoint or name decided on (`tcp:127.0.0.1:80`, `name:example.com`).
    pub endpoint: Option<String>,
    /// The addresses a name resolved to (getaddrinfo).
    pub addresses: Vec<String>,
    /// What the policy denied (the first denial), for the stderr line and the audit hint.
    pub denied: Option<denials::Target>,
    /// The audit setting of the deciding rule (or of the defaults).
    pub audit: arbiter_policies::AuditSetting,
    /// The caller's process id (0: unknown), whose `/proc/<pid>` is decided as
    /// `/proc/self` ([`procself`]).
    pub caller_pid: i32,
    /// The caller and the call's name, kept only when a [`decider::Decider`] may be asked.
    pub asking: Option<(Caller, &'static str)>,
    /// Who decided when it was not the policy (the [`decider::Decider`]'s name).
    pub decided_by: Option<&'static str>,
    /// The call's typed arguments, built only for a per-call decider
    /// ([`decider::Decider::per_call`]).
    pub arguments: Option<decider::Arguments>,
    /// A per-call decider's answer, standing for the call's later undecided checks.
    pub ruled: Option<decider::Answer>,
    /// The result a decider supplied ([`decider::Ruling::Reply`]): returned instead of
    /// what the core would have done; every check after it is refused.
    pub reply: Option<Outcome>,
    /// The call's arguments as the audit log names them, kept only when a
    /// [`decider::Decider`] may be asked ([`decider::Question::args`]).
    pub asking_args: Option<serde_json::Value>,
}

/// The broker's decision-and-action core, shared by every channel of one sandbox.
pub struct RequestCore {
    policy: Arc<Policy>,
    audit: Audit,
    resolved: net::Resolved,
    /// The unix socket files this sandbox bound.
    bound_here: net::BoundHere,
    fast_paths: Vec<u8>,
    /// The native-read roots whose read-only opens the seccomp transport may let the
    /// kernel perform (see [`RequestCore::continued_read_roots`]).
    continued_reads: Vec<PathBuf>,
    /// The continued-read roots beneath which the policy also grants `stat` throughout
    /// (see [`RequestCore::missing_answer_roots`]).
    missing_answers: Vec<PathBuf>,
    /// Whether the shim may act in-process at all (not with `--no-fast-path`, nor with a log
    /// of every call that has no report ring).
    fast_on: bool,
    /// The report ring, when a log of every call lets the shim keep its fast paths and
    /// report what they answer (docs/audit.md, "Reported calls").
    reports: Option<Reports>,
    /// The stderr reporter of denials (off unless [`RequestCore::reporting_denials`]).
    denials: denials::Denials,
    /// Who decides what the policy leaves to its default, if anyone.
    decider: Option<Arc<dyn decider::Decider>>,
    /// The objects the broker never moves (`(major, minor, inode)`): the Landlock rule roots
    /// of this sandbox and the directories above them ([`RequestCore::with_pinned`]).
    pinned: std::collections::HashSet<(u32, u32, u64)>,
    /// This sandbox's calls that wait for a peer and the descriptors they hold.
    slow: slow::Budget,
    /// Calls being served now: from the moment a transport read the request (a
    /// [`RequestCore::serving`] guard) or [`RequestCore::handle`] was entered, until the
    /// answer and every record of the call are queued: [`RequestCore::finish_reports`] waits
    /// for them a little.
    in_flight: AtomicUsize,
}

/// How long the end of a sandbox waits for calls the broker is still serving (for
/// processes already gone) before it writes the `exit` record: a call that takes longer
/// (one blocked on a person or a decider; a call waiting for a peer notices its dead caller
/// within `waiting::TICK`) is recorded after it.
const IN_FLIGHT_GRACE: Duration = Duration::from_secs(2);

/// One call being served, counted in the core's calls in progress until dropped (see
/// [`RequestCore::serving`]).
pub struct Serving<'a>(&'a AtomicUsize);

impl<'a> Serving<'a> {
    fn enter(count: &'a AtomicUsize) -> Serving<'a> {
        count.fetch_add(1, Ordering::AcqRel);
        Serving(count)
    }
}

impl Drop for Serving<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl RequestCore {
    /// A core deciding with `policy` and recording to `audit`. The shim's in-process stat
    /// fast path is offered for subtrees one rule decides alone. Allowed calls need a record
    /// only at `--audit-level all`; denials always reach the broker, and rules with
    /// `audit = "all"` are never offered. At `--audit-level all` the fast paths stay on only
    /// with a report ring for the shim to report what they answer, and only beneath rules
    /// whose allows that level records (`audit = "default"`).
    pub fn new(policy: Arc<Policy>, audit: Audit) -> RequestCore {
        let mut fast_paths = Vec::new();
        let mut reports = None;
        let fast_on = if audit.records_every_call() {
            match Reports::create(audit.clone(), Arc::clone(&policy)) {
                Ok(r) => {
                    reports = Some(r);
                    true
                }
                Err(e) => {
                    eprintln!(
                        "arbiter: warning: cannot create the audit report ring ({e}); every call goes to the broker"
                    );
                    false
                }
            }
        } else {
            true
        };
        if fast_on {
            // Never beneath /proc, which the broker decides on for the caller (the shim also
            // refuses to answer there beneath a wider root: red team s9a finding 02).
            let outside_proc = |roots: Vec<PathBuf>| -> Vec<PathBuf> {
                roots.into_iter().filter(|r| !beneath_proc(r)).collect()
            };
            let grants = outside_proc(if reports.is_some() {
                policy.uniform_grants_audited(Access::STAT, |a| a == AuditSetting::Default)
            } else {
                policy.uniform_grants(Access::STAT)
            });
            let sent = encode_fast_paths(&mut fast_paths, FAST_STAT, &grants);
            if let Some(r) = &reports {
                r.offer(FastKind::Stat, &sent);
            } else {
                // access(R_OK|X_OK) in-process: not reported, so never with the ring.
                let rx = Access::STAT | Access::READ | Access::LIST | Access::EXEC;
                let roots = outside_proc(policy.uniform_grants(rx));
                encode_fast_paths(&mut fast_paths, FAST_ACCESS, &roots);
            }
        }
        RequestCore {
            policy,
            audit,
            resolved: net::Resolved::default(),
            bound_here: net::BoundHere::default(),
            fast_paths,
            continued_reads: Vec::new(),
            missing_answers: Vec::new(),
            fast_on,
            reports,
            denials: denials::Denials::new(false),
            decider: None,
            pinned: std::collections::HashSet::new(),
            slow: slow::Budget::default(),
            in_flight: AtomicUsize::new(0),
        }
    }

    /// This sandbox's budget of slow calls ([`slow`]).
    pub fn slow(&self) -> &slow::Budget {
        &self.slow
    }

    /// Hands what the policy leaves to its default (no rule matched) to `decider`
    /// ([`decider`]); everything a rule decides is still decided by the policy.
    pub fn with_decider(mut self, decider: Arc<dyn decider::Decider>) -> RequestCore {
        self.decider = Some(decider);
        self
    }

    /// Refuses to move (rename, or exchange) the objects `pinned` names — the Landlock rule
    /// roots of this sandbox and every directory above them (`confine::floor::pinned`):
    /// Landlock attaches rights to the inode, so a moved rule root would keep them at a
    /// path where the policy grants fewer.
    pub fn with_pinned(
        mut self,
        pinned: std::collections::HashSet<(u32, u32, u64)>,
    ) -> RequestCore {
        self.pinned = pinned;
        self
    }

    /// Whether the object `(major, minor, inode)` may not be moved ([`RequestCore::with_pinned`]).
    pub(crate) fn is_pinned(&self, id: (u32, u32, u64)) -> bool {
        self.pinned.contains(&id)
    }

    /// Whether the shim may answer calls in-process (the kernel floor's native reads
    /// included): not when a log of every call has no report ring.
    pub fn fast_paths_allowed(&self) -> bool {
        self.fast_on
    }

    /// A descriptor of the report ring, sent to the shim with the fast paths.
    pub(crate) fn report_ring(&self) -> Option<OwnedFd> {
        self.reports.as_ref().and_then(Reports::share)
    }

    /// Waits (at most [`IN_FLIGHT_GRACE`]) for the calls the broker is still serving for the
    /// sandbox's processes, which have ended, so that their records are queued; then drains
    /// what the shim reported and stops draining. Call it once the sandbox's processes are
    /// gone, before its `exit` record.
    pub fn finish_reports(&self) {
        // Calls counted by [`RequestCore::serving`] include those a transport read but has
        // not yet handed to [`RequestCore::handle`], and the records transports write
        // themselves (`process`, `protocol_error`, the seccomp transport's direct answers).
        let until = Instant::now() + IN_FLIGHT_GRACE;
        while self.in_flight.load(Ordering::Acquire) > 0 && Instant::now() < until {
            std::thread::sleep(Duration::from_micros(200));
        }
        if let Some(r) = &self.reports {
            r.finish();
        }
    }

    /// Prints one line per distinct denial on stderr (`arbiter run` without `--quiet`).
    pub fn reporting_denials(mut self) -> RequestCore {
        self.denials = denials::Denials::new(true);
        self
    }

    /// The denial reporter, for the summary at exit.
    pub fn denials(&self) -> &denials::Denials {
        &self.denials
    }

    /// Turns the shim's fast path off: every call reaches the broker (`--no-fast-path`).
    pub fn without_fast_path(mut self) -> RequestCore {
        self.fast_paths.clear();
        self.continued_reads.clear();
        self.missing_answers.clear();
        self.fast_on = false;
        self.reports = None;
        self
    }

    /// Offers the shim native read-only opens beneath `roots` (the kernel-floor paths the
    /// policy grants reading in full; see `confine::floor::native_reads`), unless the fast
    /// paths are off.
    pub fn with_native_reads(mut self, roots: &[PathBuf]) -> RequestCore {
        if self.fast_on {
            // With a report ring, only roots whose allows the log records are offered (a
            // rule with its own `audit` setting keeps its opens at the broker).
            let roots: Vec<PathBuf> = roots
                .iter()
                .filter(|r| {
                    self.reports.is_none()
                        || self.policy.decide_path(r, Access::READ).decision.audit
                            == AuditSetting::Default
                })
                .cloned()
                .collect();
            let sent = encode_fast_paths(&mut self.fast_paths, FAST_OPEN, &roots);
            if let Some(r) = &self.reports {
                r.offer(FastKind::Open, &sent);
            }
            if self.reports.is_none() {
                // The shim may learn there is no controlling terminal by a marked read of
                // it (transport::shim answers the same ENXIO when the policy lets it open).
                let tty = Path::new("/dev/tty");
                let d = self.policy.decide_path(tty, Access::READ | Access::WRITE);
                if d.decision.allow && d.decision.audit == AuditSetting::Default {
                    let _ = encode_fast_paths(&mut self.fast_paths, FAST_TTY, &[tty.into()]);
                }
                self.missing_answers = roots
                    .iter()
                    .filter(|r| {
                        let d = self
                            .policy
                            .decide_path(r, Access::READ | Access::LIST | Access::STAT);
                        d.decision.allow && d.uniform && d.decision.audit == AuditSetting::Default
                    })
                    .cloned()
                    .collect();
                self.continued_reads = roots;
            }
        }
        self
    }

    /// The roots beneath which a read-only open that reached the seccomp transport may be
    /// performed by the kernel itself (`SECCOMP_USER_NOTIF_FLAG_CONTINUE`), Landlock
    /// deciding it as it decides the shim's marked reads: the native-read roots the shim
    /// is offered (the floor paths the policy grants reading in full), and none when the
    /// fast paths are off, when every call is recorded (the record needs the result), or
    /// when a decider or master may be asked (it may want to see them). The transport
    /// checks the rest (`transport::seccomp`, `reads`).
    pub fn continued_read_roots(&self) -> &[PathBuf] {
        if self.decider.is_some() {
            return &[];
        }
        &self.continued_reads
    }

    /// The roots beneath which the seccomp transport may answer `ENOENT` itself for an
    /// `open` or `access` of a name that does not exist, whose directory (or the missing
    /// directory on its way) lies beneath one: the continued-read roots whose rule grants
    /// `read`, `list` and `stat` throughout with the default audit setting, so the broker's
    /// own lookup would answer the same `ENOENT` and record nothing (the directories a
    /// failed lookup shows must allow `stat`: they do). None whenever
    /// [`RequestCore::continued_read_roots`] is none.
    pub fn missing_answer_roots(&self) -> &[PathBuf] {
        if self.decider.is_some() {
            return &[];
        }
        &self.missing_answers
    }

    /// Offers the shim native removals beneath `roots` (the directories where Landlock
    /// grants removing, which the policy grants in full; see
    /// `confine::floor::native_removes`), unless the fast paths are off or every call is
    /// recorded (a native removal is not reported through the ring).
    pub fn with_native_removes(mut self, roots: &[PathBuf]) -> RequestCore {
        if self.fast_on && self.reports.is_none() {
            let _ = encode_fast_paths(&mut self.fast_paths, FAST_REMOVE, roots);
        }
        self
    }

    /// Offers the shim in-process `EACCES` answers to probes beneath those of `dirs` where
    /// the policy refuses everything alike ([`arbiter_protocol::FAST_DENY`]): absolute real
    /// paths (no symlink; outside `/proc` and `/dev`, whose names the broker rewrites) that
    /// no rule beneath decides otherwise (`Policy::decided_alone_beneath`) and whose own
    /// `stat` is refused with `EACCES`. Only while the fast paths are on, no audit log
    /// records anything (every denial would be a record) and no decider may be asked (it
    /// may allow what the policy leaves undecided); `arbiter run` passes the home
    /// directory and the `PATH` entries.
    pub fn with_denied_probes(mut self, dirs: &[PathBuf]) -> RequestCore {
        if !self.fast_on || self.audit.enabled() || self.decider.is_some() {
            return self;
        }
        let mut roots: Vec<PathBuf> = dirs
            .iter()
            .filter(|d| {
                d.is_absolute()
                    && !beneath_proc(d)
                    && !d.starts_with("/dev")
                    && self.policy.decided_alone_beneath(d)
                    && {
                        let pd = self.policy.decide_path(d, Access::STAT).decision;
                        !pd.allow && pd.errno == libc::EACCES
                    }
                    && std::fs::canonicalize(d).is_ok_and(|real| real == **d)
            })
            .cloned()
            .collect();
        roots.sort();
        roots.dedup();
        let _ = encode_fast_paths(&mut self.fast_paths, FAST_DENY, &roots);
        self
    }

    /// Whether the audit log records every call (`--audit-level all`).
    pub fn records_every_call(&self) -> bool {
        self.audit.records_every_call()
    }

    /// What the shim may do in-process, as sent ([`Call::FastPaths`]).
    pub fn fast_paths(&self) -> &[u8] {
        &self.fast_paths
    }

    /// What every process may read from the inherited fast-path table instead of asking
    /// (`sandbox::fast_table`): the [`Call::FastPaths`] reply's bytes, unless that reply
    /// carries the report ring (`--audit-level all`), which only the broker's reply hands
    /// over.
    pub fn inheritable_fast_paths(&self) -> Option<&[u8]> {
        (self.fast_paths.is_empty() || self.reports.is_none()).then_some(&self.fast_paths[..])
    }

    /// The audit sink, for lifecycle and protocol records.
    pub fn audit(&self) -> &Audit {
        &self.audit
    }

    /// Validates `call` once, at the edge (see [`arbiter_protocol::valid`]), then decides
    /// and performs it ([`RequestCore::handle`]). `fds` are the descriptors that came with
    /// it, in order. A call the kernel could not have been given is refused with the
    /// kernel's errno (`EAI_NONAME` for getaddrinfo) and an `invalid_request` audit record
    /// that says why; it never reaches a decision.
    pub fn serve(&self, caller: &Caller, call: Call<'_>, fds: &[OwnedFd]) -> Outcome {
        let name = call.name();
        let is_gai = matches!(call, Call::GetAddrInfo { .. });
        let is_netdb = matches!(call, Call::NetDb(_));
        match Checked::new(call, fds.len()) {
            Ok(checked) => self.handle(caller, &checked, fds),
            Err(invalid) => self.refuse(caller, name, is_gai, is_netdb, invalid),
        }
    }

    fn refuse(
        &self,
        caller: &Caller,
        name: &'static str,
        is_gai: bool,
        is_netdb: bool,
        invalid: Invalid,
    ) -> Outcome {
        // No database line holds a name refused at the edge: not found, as natively.
        let errno = if is_netdb {
            libc::ENOENT
        } else {
            invalid.errno()
        };
        self.audit.record(Event::InvalidRequest(InvalidRequest {
            pid: caller.pid,
            call: name,
            transport: caller.transport.name(),
            error: invalid.to_string(),
            errno: Errno(errno).name(),
        }));
        if is_gai {
            return Outcome {
                result: i64::from(libc::EAI_NONAME),
                errno: 0,
                payload: OutPayload::AddrInfo {
                    canonname: None,
                    entries: Vec::new(),
                    errno: 0,
                },
                fd: None,
            };
        }
        Outcome::from_result(Err(Errno(errno)))
    }

    /// Counts one call as in progress until the guard is dropped: a transport takes it as
    /// soon as it has read a request (before checking or decoding it) and drops it once the
    /// answer is sent, so the end of the sandbox ([`RequestCore::finish_reports`]) waits for
    /// the call's records, whatever of them the transport writes itself.
    pub fn serving(&self) -> Serving<'_> {
        Serving::enter(&self.in_flight)
    }

    /// Decides and performs one call, checked at the edge ([`RequestCore::serve`] checks
    /// and calls this). `fds` are the descriptors that came with it, in order.
    pub fn handle(&self, caller: &Caller, call: &Checked<'_>, fds: &[OwnedFd]) -> Outcome {
        let _serving = Serving::enter(&self.in_flight);
        let started = Instant::now();
        let call = call.call();
        let mut notes = Notes {
            caller_pid: caller.pid,
            asking: self.decider.as_ref().map(|_| (caller.clone(), call.name())),
            arguments: self
                .decider
                .as_ref()
                .filter(|d| d.per_call())
                .and_then(|_| decider::Arguments::of(call, fds)),
            asking_args: self
                .decider
                .as_ref()
                .map(|_| crate::audit::record::args_json(call)),
            ..Notes::default()
        };
        let spelling = match caller.transport {
            Transport::Shim => resolve::Spelling::Sandbox,
            Transport::Seccomp => resolve::Spelling::Host,
        };
        let mut result = resolve::for_caller(caller.pid, spelling, || {
            fs::perform(self, call, fds, &mut notes)
        });
        if let Some(reply) = notes.reply.take() {
            // The decider answered with the result itself: that is what the program gets,
            // and what the record says.
            notes.verdict = Some(if reply.errno == 0 {
                Verdict::Allow
            } else {
                Verdict::Deny
            });
            notes.denied = None;
            result = reply.into_result();
        }
        // The seccomp transport cannot install an `O_PATH` descriptor (the kernel's
        // `SECCOMP_IOCTL_NOTIF_ADDFD` takes none): the program gets `EACCES`, and the record
        // says what it got, not a descriptor it never received (red team s6 rt-cont, 12).
        if caller.transport == Transport::Seccomp
            && matches!(call, Call::Open { flags, .. } if flags & libc::O_PATH != 0)
            && result.as_ref().is_ok_and(|done| done.fd.is_some())
        {
            result = Err(Errno(libc::EACCES));
        }
        let hint = match (&notes.verdict, &notes.denied) {
            (Some(Verdict::Deny), Some(target)) => {
                let d = denials::Denial {
                    call: call.name(),
                    target,
                    rule: notes.rule.as_deref(),
                };
                self.denials.report(&d);
                Some(d.hint())
            }
            _ => None,
        };
        if !matches!(call, Call::FastPaths) && self.audit.records(notes.audit, notes.verdict) {
            let mut record = CallRecord::new(caller, call, notes, &result, started.elapsed());
            if let Some(hint) = hint {
                record.set_hint(hint);
            }
            self.audit.call(record);
        }
        Outcome::from_result(result)
    }

    /// The policy deciding every call.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The names addresses were resolved from in this sandbox.
    pub(crate) fn resolved(&self) -> &net::Resolved {
        &self.resolved
    }

    /// The final word on one check: the policy's decision `d` about `subject`, unless the
    /// policy left it to its default and a [`decider::Decider`] answers otherwise. Every
    /// decision of every call passes here (then [`RequestCore::note_decision`]).
    pub(crate) fn settle(
        &self,
        d: arbiter_policies::Decision,
        subject: decider::Subject<'_>,
        notes: &mut Notes,
    ) -> arbiter_policies::Decision {
        let (Some(decider), Some((caller, call))) = (&self.decider, &notes.asking) else {
            return d;
        };
        let offered = match d.by {
            arbiter_policies::DecidedBy::Default(_) => true,
            // A rule's allow may be routed to the decider; a rule's denial is final.
            _ => d.allow && decider.routed(call),
        };
        if !offered {
            return d;
        }
        if notes.reply.is_some() {
            // The decider already supplied this call's result: nothing more is performed.
            return arbiter_policies::Decision {
                allow: false,
                errno: libc::EACCES,
                ..d
            };
        }
        let answer = match notes.ruled {
            Some(answer) => answer,
            None => {
                let question = decider::Question {
                    caller,
                    call,
                    subject,
                    default_errno: (!d.allow).then_some(d.errno),
                    args: notes.asking_args.as_ref(),
                };
                let ruling = if decider.per_call() {
                    decider.rule(&question, notes.arguments.as_ref())
                } else {
                    decider::Ruling::Answer(decider.decide(&question))
                };
                match ruling {
                    decider::Ruling::Answer(answer) => {
                        if decider.per_call() {
                            notes.ruled = Some(answer);
                        }
                        answer
                    }
                    decider::Ruling::Reply(outcome) => {
                        notes.decided_by = Some(decider.name());
                        notes.reply = Some(outcome);
                        return arbiter_policies::Decision {
                            allow: false,
                            errno: libc::EACCES,
                            ..d
                        };
                    }
                }
            }
        };
        let (allow, errno) = match answer {
            decider::Answer::Allow => (true, 0),
            decider::Answer::Deny(errno) => (false, errno),
            decider::Answer::Default => return d,
        };
        notes.decided_by = Some(decider.name());
        arbiter_policies::Decision { allow, errno, ..d }
    }

    /// The unix socket files this sandbox bound.
    pub(crate) fn bound_here(&self) -> &net::BoundHere {
        &self.bound_here
    }

    /// Records a decision in the call's notes (the first denial sticks).
    pub(crate) fn note_decision(&self, d: arbiter_policies::Decision, notes: &mut Notes) {
        if notes.verdict != Some(Verdict::Deny) {
            notes.verdict = Some(if d.allow {
                Verdict::Allow
            } else {
                Verdict::Deny
            });
            notes.audit = d.audit;
            if self.audit.enabled() || !d.allow {
                notes.rule = d.rule.map(|r| self.policy.rule(r).origin.to_string());
            }
        }
    }

    /// Checks `access` on a real path; records the decision; `Err` with the policy's errno
    /// when denied.
    pub(crate) fn check_path(
        &self,
        path: &Path,
        access: Access,
        notes: &mut Notes,
    ) -> Result<(), Errno> {
        self.check_path_by(path, access, notes, |p| self.policy.decide_path(p, access))
            .map(|_| ())
    }

    /// [`RequestCore::check_path`] for `mkdir` of the directory `path`, decided by
    /// [`arbiter_policies::Policy::decide_mkdir`]; `Ok(true)` when allowed only as a
    /// directory on the way to a rule's path (the caller then restricts its mode).
    pub(crate) fn check_mkdir(&self, path: &Path, notes: &mut Notes) -> Result<bool, Errno> {
        self.check_path_by(path, Access::CREATE, notes, |p| self.policy.decide_mkdir(p))
            .map(|d| d.by == arbiter_policies::DecidedBy::ImplicitMkdir)
    }

    /// Whether `mkdir` of `path` would be allowed, without recording anything.
    pub(crate) fn allows_mkdir(&self, path: &Path) -> bool {
        match procself::classify(path, 0) {
            procself::Proc::Other => self.policy.decide_mkdir(path).decision.allow,
            _ => self.allows(path, Access::CREATE),
        }
    }

    fn check_path_by(
        &self,
        path: &Path,
        access: Access,
        notes: &mut Notes,
        decide: impl Fn(&Path) -> arbiter_policies::PathDecision,
    ) -> Result<arbiter_policies::Decision, Errno> {
        // The notes feed only the audit record: without a log, skip their allocations.
        if self.audit.enabled() {
            notes.paths.push(path.to_path_buf());
        }
        let class = procself::classify(path, notes.caller_pid);
        let d = match &class {
            procself::Proc::Other => {
                let d = decide(path).decision;
                self.settle(d, decider::Subject::Path { path, access }, notes)
            }
            procself::Proc::Caller(alias) => {
                let d = decide(alias).decision;
                self.settle(
                    d,
                    decider::Subject::Path {
                        path: alias,
                        access,
                    },
                    notes,
                )
            }
            // Another process's /proc: only its ptrace-free entries, read-only, as the program
            // itself could read them; the policy decides those, and what it refuses is
            // refused like the broker's own.
            procself::Proc::Foreign(true) if Access::RO.contains(access) => {
                let d = self.policy.decide_path(path, access).decision;
                self.settle(d, decider::Subject::Path { path, access }, notes)
            }
            // Never offered to a decider: nothing may grant the broker's own /proc, another
            // process's memory, environment, descriptors or writes to it, or an entry of the
            // caller's own /proc that is not its own state (procself::OWN, procself::HOST).
            procself::Proc::Broker | procself::Proc::Foreign(_) | procself::Proc::Unlisted => {
                arbiter_policies::Decision {
                    allow: false,
                    errno: libc::EACCES,
                    rule: None,
                    ..self.policy.decide_path(path, access).decision
                }
            }
        };
        self.note_decision(d, notes);
        if d.allow {
            Ok(d)
        } else {
            // No rule can grant the broker's own /proc: no "to allow" hint for it.
            if notes.denied.is_none()
                && !matches!(
                    class,
                    procself::Proc::Broker | procself::Proc::Foreign(_) | procself::Proc::Unlisted
                )
            {
                notes.denied = Some(denials::Target::Path(path.to_path_buf(), access));
            }
            Err(Errno(d.errno))
        }
    }

    /// Whether `access` on `path` would be allowed, without recording anything.
    pub(crate) fn allows(&self, path: &Path, access: Access) -> bool {
        match procself::classify(path, 0) {
            procself::Proc::Broker | procself::Proc::Foreign(false) => false,
            procself::Proc::Foreign(true) if !Access::RO.contains(access) => false,
            _ => self.policy.decide_path(path, access).decision.allow,
        }
    }
}

/// Appends `roots` as the shim reads them: `tag`, the path, a NUL; at most
/// [`arbiter_protocol::FAST_PATHS_MAX`] bytes in all. Roots that do not fit are left out,
/// which only sends their calls to the broker. Returns the roots sent.
/// `/proc` or beneath it: the broker decides there on what the names mean for the caller,
/// so no fast path is offered there.
fn beneath_proc(path: &Path) -> bool {
    path.starts_with("/proc")
}

fn encode_fast_paths(out: &mut Vec<u8>, tag: u8, roots: &[PathBuf]) -> Vec<PathBuf> {
    use arbiter_protocol::FAST_PATHS_MAX;
    use std::os::unix::ffi::OsStrExt;
    let mut sent = Vec::new();
    for root in roots {
        let bytes = root.as_os_str().as_bytes();
        // A NUL would split the entry; such a root just gets no fast path.
        if !bytes.contains(&0) && out.len() + bytes.len() + 2 <= FAST_PATHS_MAX {
            out.push(tag);
            out.extend_from_slice(bytes);
            out.push(0);
            sent.push(root.clone());
        }
    }
    sent
}
