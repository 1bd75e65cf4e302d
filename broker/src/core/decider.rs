//! Deciders besides the policy: what the policy leaves to its default (no rule matched) can
//! be handed to code — a Rust master, an external decider process, a person at a terminal.
//!
//! The request core asks its [`Decider`] at the one place every decision passes
//! ([`RequestCore::settle`](super::RequestCore::settle)), after the policy and before the
//! decision is recorded, so the integrity rules (decide on the real path, act on the object
//! decided about, confirm afterwards) and the kernel floor apply unchanged whoever decides.
//! Each answer is audited with who gave it (`decided_by` in the call record).

use std::path::Path;

use arbiter_policies::Access;

use super::Caller;

/// What one check is about.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    /// A real path (every link resolved) and the access asked for.
    Path {
        /// The path decided on.
        path: &'a Path,
        /// The access asked for.
        access: Access,
    },
    /// A network endpoint as the audit log names it (`tcp:127.0.0.1:80`, `unix:/run/x`,
    /// `unix:@name`).
    Endpoint(&'a str),
    /// A host name to resolve (`getaddrinfo`), or an address to name (`getnameinfo`).
    Name(&'a str),
}

/// One check the policy left undecided, as offered to a [`Decider`].
#[derive(Debug, Clone, Copy)]
pub struct Question<'a> {
    /// Who is calling, as the kernel reported it.
    pub caller: &'a Caller,
    /// The call's name as the audit log names it (`openat`, `connect`, `getaddrinfo`…).
    pub call: &'static str,
    /// What this check is about (one call may make several checks, e.g. `rename`).
    pub subject: Subject<'a>,
    /// What the policy's default would answer: `Some(errno)` to deny, `None` to allow.
    pub default_errno: Option<i32>,
    /// The call's arguments as the audit record's `args` names them (`path`, `flags`,
    /// `addr`, `node`…), when the core kept them.
    pub args: Option<&'a serde_json::Value>,
}

/// A decider's answer to one [`Question`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Let the check pass: the broker performs the call as the policy would.
    Allow,
    /// Refuse with this errno.
    Deny(i32),
    /// Keep the policy's default answer.
    Default,
}

/// Decides what the policy leaves undecided. Called on the broker's channel threads and
/// seccomp workers, possibly many at once: implementations must be thread-safe, and must
/// always answer (a timeout answering [`Answer::Default`] is the usual way to bound a slow
/// one) — a call waits for its answer.
pub trait Decider: Send + Sync {
    /// Who decides, as audit records name it (`master`, `decider`, `person`).
    fn name(&self) -> &'static str;
    /// The answer to one check.
    fn decide(&self, question: &Question<'_>) -> Answer;
    /// Whether a call is offered at most once: the first check of a call the policy leaves
    /// undecided is offered (to [`Decider::rule`], with the call's [`Arguments`]), and that
    /// answer stands for the call's other undecided checks (a `rename` whose source and
    /// destination no rule covers is one question, not two). The default, `false`, offers
    /// every check to [`Decider::decide`].
    fn per_call(&self) -> bool {
        false
    }
    /// Whether checks of `call` (as [`Question::call`] names it) that a rule *allows* are
    /// offered too (a master routing a call family to itself). A rule's denial is final and
    /// never offered. The default, `false`, offers only what no rule decides.
    fn routed(&self, call: &'static str) -> bool {
        let _ = call;
        false
    }
    /// The ruling on one check; `arguments` are the call's typed arguments when
    /// [`Decider::per_call`] holds. The default is [`Decider::decide`]'s answer; a Rust
    /// master overrides it to supply whole replies ([`Ruling::Reply`]).
    fn rule(&self, question: &Question<'_>, arguments: Option<&Arguments>) -> Ruling {
        let _ = arguments;
        Ruling::Answer(self.decide(question))
    }
}

/// A decider's ruling on one check: an [`Answer`], or the call's whole result supplied by the
/// decider itself ([`Ruling::Reply`]), which the core returns instead of performing the call.
#[derive(Debug)]
pub enum Ruling {
    /// Allow, deny, or keep the policy's default, as [`Decider::decide`] answers.
    Answer(Answer),
    /// The decider supplies the result (and any descriptor) itself: the broker performs
    /// nothing further for this call — every later check of it is refused — and the program
    /// receives this outcome. Audited with the decider's name and the reply's result.
    Reply(super::Outcome),
}

pub use super::arguments::Arguments;
