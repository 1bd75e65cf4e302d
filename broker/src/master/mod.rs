//! The master API: deciding a sandboxed program's calls in Rust, as Emilua's
//! `libc_service.master` does in Lua — but with many calls outstanding at once.
//!
//! A [`Master`] is the receiving end of a sandbox's decider hook
//! ([`crate::core::decider`]). Each call the policy leaves undecided (no rule matched; or, with
//! [`Master::route`], a call of a routed family that a rule allows) arrives at
//! [`Master::receive`] as a [`Call`]: the function and its typed [`Arguments`], who is calling
//! (pid, thread, uid, gid, executable), and what the policy would answer by default. The
//! master answers each [`Call`] exactly once:
//!
//! - [`Call::perform`]: the broker performs the call as the policy core does when a rule
//!   allows it — on the real path, acting on the object decided about, confirmed afterwards;
//! - [`Call::deny`]: the call fails with that errno (`getaddrinfo` with `EAI_NONAME`);
//! - [`Call::reply`], [`Call::reply_with_fds`], [`Call::reply_stat`], [`Call::reply_bytes`],
//!   [`Call::reply_addresses`]:
//!   the master supplies the result itself (and the descriptor of an `open`); the broker
//!   performs nothing for the call and the program gets exactly that result;
//! - [`Call::keep_default`]: the policy's default answer stands.
//!
//! Whoever decides, the kernel floor (Landlock, seccomp) still confines the program itself:
//! a master can let the broker open a file on the program's behalf, never let the program
//! open it natively. Every answer is audited with `"decided_by": "master"`.
//!
//! # Ordering
//!
//! Calls arrive in the order their undecided checks reached the broker; each program thread
//! waits for its own call only, so answers may be given in any order and many calls may be
//! outstanding at once (one per waiting program thread).
//!
//! # Dropping
//!
//! A [`Call`] dropped without an answer is denied with `EACCES` at once. When the [`Master`]
//! is dropped, every call waiting in its queue is denied with `EACCES`, and so is every
//! later call the policy leaves undecided: nothing is left hanging, nothing is allowed by
//! default.
//!
//! # Example
//!
//! ```no_run
//! use std::sync::Arc;
//! use arbiter::master::{Arguments, Master};
//! use arbiter::sandbox::Sandbox;
//!
//! # async fn demo(policy: arbiter_policies::Policy) -> anyhow::Result<()> {
//! let mut sandbox = Sandbox::new(Arc::new(policy));
//! let mut master: Master = sandbox.master();
//! let running = sandbox.start()?.spawn_command(&["cat".into(), "/etc/hostname".into()])?;
//! let waiting = std::thread::spawn(move || running.wait());
//! while let Ok(call) = master.receive().await {
//!     match call.arguments() {
//!         Arguments::Open { path, .. } if path.starts_with("/etc") => call.perform(),
//!         _ => call.deny(libc::EACCES),
//!     }
//! }
//! let _status = waiting.join();
//! # Ok(()) }
//! ```
//!
//! The runnable program is `broker/examples/master.rs`. Below, the request core a sandbox
//! would run is driven directly, as a program thread's `open` would reach it, and the master
//! answers it:
//!
//! ```
//! use std::sync::Arc;
//! use arbiter::core::{Caller, RequestCore, Transport};
//! use arbiter::master::{Arguments, Master};
//! use arbiter_policies::{Policy, Source};
//! use arbiter_protocol::{At, Call, Checked, PathArg};
//!
//! let text = "version = 1\n".to_string(); // no rule: every call is the master's
//! let source = Source::Text { origin: "doc".into(), text };
//! let policy = Policy::load(&[source], &Default::default()).unwrap();
//! let (mut master, decider) = Master::channel();
//! let core = RequestCore::new(Arc::new(policy), arbiter::audit::Audit::disabled())
//!     .with_decider(decider);
//! let program = std::thread::spawn(move || {
//!     let caller = Caller {
//!         pid: std::process::id() as i32, tid: None, exe: None, uid: 0, gid: 0,
//!         transport: Transport::Shim,
//!     };
//!     let path = PathArg { at: At::Absolute, path: b"/etc/hostname" };
//!     let call = Call::Open { path, flags: libc::O_RDONLY, mode: 0, umask: 0 };
//!     core.handle(&caller, &Checked::new(call, 0).unwrap(), &[]).errno
//! });
//! let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! rt.block_on(async {
//!     let call = master.receive().await.unwrap();
//!     assert_eq!(call.function(), "open");
//!     assert!(matches!(call.arguments(), Arguments::Open { path, .. } if path.ends_with("hostname")));
//!     call.deny(libc::EPERM);
//!     // The program thread is done and the core dropped with it: the queue ends.
//!     assert!(master.receive().await.is_err());
//! });
//! assert_eq!(program.join().unwrap(), libc::EPERM);
//! ```

use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Arc;

use arbiter_protocol::WireStat;
use tokio::sync::mpsc;

use crate::core::decider::{Answer, Decider, Question, Ruling, Subject};
use crate::core::{Caller, OutPayload, Outcome};

pub use crate::core::arguments::{Arguments, Endpoint, OpenFlags, ResultKind};

/// The receiving end of a sandbox's decider hook.
#[derive(Debug)]
pub struct Master {
    calls: mpsc::UnboundedReceiver<Call>,
    routes: Arc<Routes>,
}

/// The call families routed to the master although a rule allows them.
#[derive(Debug, Default)]
struct Routes(std::sync::RwLock<Vec<String>>);

/// The decider a [`Master`] installs in a sandbox's request core.
struct Hook {
    calls: mpsc::UnboundedSender<Call>,
    routes: Arc<Routes>,
}

/// Every [`Decider`] handing calls to one [`Master`] has gone: the sandbox has ended, and no
/// call can arrive any more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the sandbox has ended: no call can arrive any more")]
pub struct Ended;

impl Master {
    /// A master and the decider to install in a request core
    /// ([`crate::core::RequestCore::with_decider`]); [`crate::sandbox::Sandbox::master`]
    /// does both.
    pub fn channel() -> (Master, Arc<dyn Decider>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let routes = Arc::new(Routes::default());
        let hook = Hook {
            calls: tx,
            routes: Arc::clone(&routes),
        };
        (Master { calls: rx, routes }, Arc::new(hook))
    }

    /// The next call the policy left to the master; [`Ended`] once the sandbox has ended
    /// (every process of it has exited and the broker has let go of the hook).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a call is taken from the queue only when `receive` returns it, so
    /// dropping the future (in `tokio::select!`) loses no call.
    pub async fn receive(&mut self) -> Result<Call, Ended> {
        self.calls.recv().await.ok_or(Ended)
    }

    /// Also offers the master the calls of these families (`"connect"`, `"bind"`, `"open"`,
    /// … as [`Question::call`] names them) that a rule *allows*; a rule's denial is final
    /// and is never offered. Without routes the master sees only what no rule decides.
    pub fn route(&self, families: &[&str]) {
        if let Ok(mut routes) = self.routes.0.write() {
            routes.extend(families.iter().map(|f| f.to_string()));
        }
    }
}

impl Decider for Hook {
    fn name(&self) -> &'static str {
        "master"
    }

    fn decide(&self, question: &Question<'_>) -> Answer {
        match self.rule(question, None) {
            Ruling::Answer(answer) => answer,
            // Not reached: the core asks `rule` of a per-call decider.
            Ruling::Reply(_) => Answer::Deny(libc::EACCES),
        }
    }

    fn per_call(&self) -> bool {
        true
    }

    fn routed(&self, call: &'static str) -> bool {
        self.routes
            .0
            .read()
            .is_ok_and(|r| r.iter().any(|f| f == call))
    }

    fn rule(&self, question: &Question<'_>, arguments: Option<&Arguments>) -> Ruling {
        let denied = Ruling::Answer(Answer::Deny(libc::EACCES));
        let Some(arguments) = arguments else {
            return denied;
        };
        let (tx, rx) = sync_channel(1);
        let call = Call {
            arguments: arguments.clone(),
            subject: OwnedSubject::of(&question.subject),
            caller: question.caller.clone(),
            default_errno: question.default_errno,
            answer: Some(tx),
        };
        // The master is gone: deny (the Call comes back and is dropped unanswered, which
        // answers on a channel nobody reads any more).
        if self.calls.send(call).is_err() {
            return denied;
        }
        // The channel closes without a ruling only if the Call was dropped somewhere its
        // Drop could not run first (its Drop always answers): deny then too.
        rx.recv()
            .unwrap_or(Ruling::Answer(Answer::Deny(libc::EACCES)))
    }
}

/// What one check was about, owned ([`Subject`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnedSubject {
    /// A real path (every link resolved) and the access asked for.
    Path {
        /// The path the policy decided on.
        path: std::path::PathBuf,
        /// The access asked for.
        access: arbiter_policies::Access,
    },
    /// A network endpoint as the audit log names it (`tcp:127.0.0.1:80`).
    Endpoint(String),
    /// A host name to resolve, or an address to name.
    Name(String),
}

impl OwnedSubject {
    fn of(subject: &Subject<'_>) -> OwnedSubject {
        match *subject {
            Subject::Path { path, access } => OwnedSubject::Path {
                path: path.to_path_buf(),
                access,
            },
            Subject::Endpoint(e) => OwnedSubject::Endpoint(e.to_owned()),
            Subject::Name(n) => OwnedSubject::Name(n.to_owned()),
        }
    }
}

/// One attempted call the policy left to the master. Answer it exactly once; dropped
/// unanswered, it is denied with `EACCES`.
#[derive(Debug)]
pub struct Call {
    arguments: Arguments,
    subject: OwnedSubject,
    caller: Caller,
    default_errno: Option<i32>,
    answer: Option<SyncSender<Ruling>>,
}

/// A reply that does not fit the call (an `open` answered without a descriptor, a `stat`
/// without a stat). The call comes back unanswered ([`WrongReply::into_call`]); dropped, it
/// is denied like any unanswered call.
#[derive(Debug, thiserror::Error)]
#[error("{function}: {reason}")]
pub struct WrongReply {
    function: &'static str,
    reason: &'static str,
    call: Box<Call>,
}

impl WrongReply {
    /// The call, still waiting for an answer.
    pub fn into_call(self) -> Call {
        *self.call
    }
}

impl Call {
    /// The function as the seed names it (`open`, `openat`, `lstat`, `connect_inet6`, …;
    /// see [`Arguments::function`]).
    pub fn function(&self) -> &'static str {
        self.arguments.function()
    }

    /// The call's typed arguments (paths absolute, as the program named them).
    pub fn arguments(&self) -> &Arguments {
        &self.arguments
    }

    /// What the policy's check was about: the real path (every link resolved) and the
    /// access, or the endpoint or name. This, not a path in [`Call::arguments`], is what
    /// [`Call::perform`] acts on.
    pub fn subject(&self) -> &OwnedSubject {
        &self.subject
    }

    /// The calling process's id, as the kernel reported it.
    pub fn pid(&self) -> i32 {
        self.caller.pid
    }

    /// The calling thread's id, when the kernel reported it (calls that arrived by seccomp
    /// user notification).
    pub fn tid(&self) -> Option<i32> {
        self.caller.tid
    }

    /// The caller's real uid.
    pub fn uid(&self) -> u32 {
        self.caller.uid
    }

    /// The caller's real gid.
    pub fn gid(&self) -> u32 {
        self.caller.gid
    }

    /// The calling process's executable (`/proc/PID/exe`), when known.
    pub fn exe(&self) -> Option<&std::path::Path> {
        self.caller.exe.as_deref()
    }

    /// How the call reached the broker: `"shim"` or `"seccomp"`.
    pub fn transport(&self) -> &'static str {
        self.caller.transport.name()
    }

    /// What the policy's default would answer: `Some(errno)` to deny, `None` to allow.
    pub fn default_errno(&self) -> Option<i32> {
        self.default_errno
    }

    /// Performs the call as the policy core does for a call a rule allows.
    pub fn perform(self) {
        self.send(Ruling::Answer(Answer::Allow));
    }

    /// Refuses the call with `errno` (`getaddrinfo` and `getnameinfo` fail with
    /// `EAI_NONAME`, as for a policy's denial).
    pub fn deny(self, errno: i32) {
        self.send(Ruling::Answer(Answer::Deny(errno)));
    }

    /// Lets the policy's default answer stand ([`Call::default_errno`]).
    pub fn keep_default(self) {
        self.send(Ruling::Answer(Answer::Default));
    }

    /// The call succeeds with `result` as its return value, performed by nobody: for
    /// functions whose result is an integer alone ([`ResultKind::Integer`]: `access`,
    /// `mkdir`, `unlink`, `rename`, `connect_*`, `bind_*`, …).
    pub fn reply(self, result: i64) -> Result<(), WrongReply> {
        self.reply_with_fds(result, Vec::new())
    }

    /// The call succeeds with the master's result and descriptors: an `open`/`openat`
    /// takes exactly one descriptor, which the program receives as the call's return value
    /// (`result` must then be 0: the descriptor's number in the program is the result);
    /// an integer-valued function takes none, as [`Call::reply`].
    pub fn reply_with_fds(
        self,
        result: i64,
        fds: Vec<std::os::fd::OwnedFd>,
    ) -> Result<(), WrongReply> {
        let kind = self.arguments.result_kind();
        let mut fds = fds.into_iter();
        let (first, more) = (fds.next(), fds.next().is_some());
        let outcome = match (kind, first, more) {
            (_, _, true) => return Err(self.wrong("at most one descriptor can be returned")),
            (ResultKind::Descriptor, Some(fd), false) if result == 0 => Outcome {
                result: 0,
                errno: 0,
                payload: OutPayload::None,
                fd: Some(fd),
            },
            (ResultKind::Descriptor, Some(_), false) => {
                return Err(self.wrong("the descriptor is the result: pass 0 as the result"))
            }
            (ResultKind::Descriptor, None, _) => {
                return Err(self.wrong("the result is a descriptor: use reply_with_fds"))
            }
            (ResultKind::Integer, None, _) if result >= 0 => Outcome {
                result,
                errno: 0,
                payload: OutPayload::None,
                fd: None,
            },
            (ResultKind::Integer, None, _) => {
                return Err(self.wrong("a failure is answered with deny(errno)"))
            }
            (ResultKind::Integer, Some(_), _) => {
                return Err(self.wrong("this function returns no descriptor"))
            }
            (ResultKind::Stat, ..) => {
                return Err(self.wrong("the result is a stat: use reply_stat"))
            }
            (ResultKind::Bytes, ..) => {
                return Err(self.wrong("the result is bytes: use reply_bytes"))
            }
            (ResultKind::Addresses, ..) => {
                return Err(self.wrong("the result is addresses: use reply_addresses"))
            }
            (ResultKind::Entry, ..) => {
                return Err(self.wrong("the result is a database entry: perform or deny the lookup"))
            }
        };
        self.send(Ruling::Reply(outcome));
        Ok(())
    }

    /// A `stat`/`lstat` succeeds with `stat` (fill one with
    /// [`crate::core::stat::statx`] on a file the master opened).
    pub fn reply_stat(self, stat: WireStat) -> Result<(), WrongReply> {
        if self.arguments.result_kind() != ResultKind::Stat {
            return Err(self.wrong("this function's result is not a stat"));
        }
        self.send(Ruling::Reply(Outcome {
            result: 0,
            errno: 0,
            payload: OutPayload::Stat(stat),
            fd: None,
        }));
        Ok(())
    }

    /// A `readlink` succeeds with these contents, or a `getnameinfo` with this host name.
    pub fn reply_bytes(self, bytes: Vec<u8>) -> Result<(), WrongReply> {
        let value = match self.arguments {
            Arguments::Readlink { .. } => i64::try_from(bytes.len()).unwrap_or(i64::MAX),
            Arguments::GetNameInfo { .. } => 0,
            _ => return Err(self.wrong("this function's result is not bytes")),
        };
        self.send(Ruling::Reply(Outcome {
            result: value,
            errno: 0,
            payload: OutPayload::Bytes(bytes),
            fd: None,
        }));
        Ok(())
    }

    /// A `getaddrinfo` succeeds with these addresses, in this order (the seed's array of
    /// results): one entry per address and socket type — the protocol asked for, else
    /// stream and datagram. Addresses of a family the program did not ask for are left
    /// out; none left (or none given) is a wrong reply — answer `deny` for "no such name".
    /// The addresses are the master's word: a policy's host-name `connect` rules are not
    /// extended to them (a later `connect` to one is decided as any address is).
    pub fn reply_addresses(self, addrs: &[std::net::SocketAddr]) -> Result<(), WrongReply> {
        use arbiter_protocol::reply::push_addr_info_entry;
        use arbiter_protocol::AddrInfoEntry;
        let Arguments::GetAddrInfo {
            protocol, family, ..
        } = self.arguments
        else {
            return Err(self.wrong("this function's result is not addresses"));
        };
        let kinds: &[(i32, i32)] = match protocol {
            Some("tcp") => &[(libc::SOCK_STREAM, libc::IPPROTO_TCP)],
            Some("udp") => &[(libc::SOCK_DGRAM, libc::IPPROTO_UDP)],
            _ => &[
                (libc::SOCK_STREAM, libc::IPPROTO_TCP),
                (libc::SOCK_DGRAM, libc::IPPROTO_UDP),
            ],
        };
        let mut entries = vec![0u8; arbiter_protocol::MAX_MESSAGE / 2];
        let mut len = 0;
        let mut any = false;
        'all: for addr in addrs {
            let (fam, octets, scope_id) = match addr {
                std::net::SocketAddr::V4(a) if family != Some("inet6") => {
                    let mut o = [0u8; 16];
                    o[..4].copy_from_slice(&a.ip().octets());
                    (libc::AF_INET, o, 0)
                }
                std::net::SocketAddr::V6(a) if family != Some("inet") => {
                    (libc::AF_INET6, a.ip().octets(), a.scope_id())
                }
                _ => continue,
            };
            for &(socktype, proto) in kinds {
                let entry = AddrInfoEntry {
                    family: fam,
                    socktype,
                    protocol: proto,
                    addr: octets,
                    port: addr.port(),
                    scope_id,
                };
                if !push_addr_info_entry(&mut entries, &mut len, &entry) {
                    break 'all; // more than one reply carries: the first ones are kept
                }
                any = true;
            }
        }
        if !any {
            return Err(self.wrong("no address of the family asked for"));
        }
        entries.truncate(len);
        self.send(Ruling::Reply(Outcome {
            result: 0,
            errno: 0,
            payload: OutPayload::AddrInfo {
                canonname: None,
                entries,
                errno: 0,
            },
            fd: None,
        }));
        Ok(())
    }

    fn wrong(self, reason: &'static str) -> WrongReply {
        WrongReply {
            function: self.function(),
            reason,
            call: Box::new(self),
        }
    }

    fn send(mut self, ruling: Ruling) {
        if let Some(tx) = self.answer.take() {
            // The waiting thread is gone only if the broker is: nothing to answer then.
            let _ = tx.send(ruling);
        }
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        if let Some(tx) = self.answer.take() {
            let _ = tx.send(Ruling::Answer(Answer::Deny(libc::EACCES)));
        }
    }
}

#[cfg(test)]
mod tests;
