//! arbiter's policy language: parse, validate, compile, decide; and the built-in profiles.
//!
//! # Where this crate sits
//! The shim inside a sandboxed program forwards path and network calls to the broker; the
//! broker asks a [`Policy`] whether each is allowed, then performs it (or not). This crate is
//! that policy: pure (`#![forbid(unsafe_code)]`, no I/O in matching, no async). Loading files
//! ([`Policy::load`], [`check`]) is a thin edge around it.
//!
//! 1. [`Policy::load`] reads [`Source`]s — built-in profiles, files, generated text such as
//!    [`Additions`] — follows their `extends`, expands `~` and `$VARS` ([`Vars`]) once, and
//!    merges them, later over earlier.
//! 2. It compiles the result: path rules into a trie of literal components, with wildcard
//!    patterns hung on the node of their literal prefix; network rules into hash maps by
//!    address, CIDR prefix length and name suffix. A decision walks the path once: its cost
//!    follows the path's depth, not the number of rules (see `benches/decide.rs`).
//! 3. The broker asks [`Policy::decide_path`], [`Policy::decide_connect`],
//!    [`Policy::decide_bind`], [`Policy::decide_resolve`]; audit records and
//!    `arbiter explain` name the deciding rule through [`Policy::rule`] and
//!    [`Policy::explain`].
//! 4. [`Policy::kernel_floor`] lists what the kernel (Landlock) may grant without asking
//!    the broker.
//!
//! # A policy
//! ```toml
//! version = 1
//! extends = ["default"]
//!
//! [[fs]]
//! path = "~/src/proj"
//! allow = "rw"
//!
//! [[fs]]
//! path = "~/src/proj/secrets"
//! deny = true
//! errno = "ENOENT"      # look absent rather than forbidden
//!
//! [[connect]]
//! host = "*.example.com"
//! ports = "443"
//!
//! [[resolve]]
//! name = "*.example.com"
//! ```
//! `docs/policy.md` is the full reference.
//!
//! # How a path is decided
//! * **Most specific wins.** A rule's specificity is the number of literal leading
//!   components of its path (`/home/u/proj` has 3; `/home/*/.ssh` has 1). At equal depth, a
//!   rule on exactly the asked path beats a pattern, which beats a directory rule covering
//!   the path from above. Among equally specific rules, the request must satisfy all of
//!   them: deny wins.
//! * **The deciding rule alone decides.** If its rights contain every right asked for, the
//!   request is allowed; otherwise it is denied by that rule, even if a less specific rule
//!   would have allowed it. With `/home/u/proj` `rw` and `/home/u/proj/secrets` `deny`:
//!   `/home/u/proj/src/a.rs` is read-write, `/home/u/proj/secrets/key` is denied, and with
//!   `/home/u/proj/secrets` `ro` instead, writing there is denied.
//! * **Components, not strings.** `/tmp/good` covers `/tmp/good/x`, never `/tmp/good_extra`.
//! * **Patterns cover subtrees too.** `/home/*/.ssh` covers `/home/u/.ssh/id_rsa`.
//! * **One implicit right:** `stat` alone on every ancestor of an allow rule's root (so
//!   `mkdir -p`, `getcwd` and path walkers work), even where a rule denies the ancestor.
//!   Nothing else is implicit.
//! * **Symlinks:** the broker resolves symlinks itself and asks about real paths; rules are
//!   matched as written (after expansion), so write real paths. [`check`] warns about a
//!   rule path that runs through a symlink and names its target.
//!
//! # Merging
//! Sources apply in order, each after what it `extends`. A later source's rules on a target
//! (the same expanded path or pattern, address and ports, or name) replace an earlier
//! source's rules on that target; within one source, rules on the same target all apply.
//! Each source is applied once, where it first appears; cycles are errors.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod access;
mod additions;
mod check;
mod compile;
mod decide;
mod digest;
mod errno;
mod error;
mod expand;
mod explain;
mod glob;
mod load;
mod loading;
mod net;
mod policy;
pub mod profiles;
mod rule;
mod source;
mod syntax;
mod tree;
mod trie;

pub use access::{Access, RIGHTS};
pub use additions::{Additions, ADDITIONS_ORIGIN};
pub use check::check;
pub use decide::{BindDecision, DecidedBy, Decision, PathDecision};
pub use error::{Diagnostic, Diagnostics, ErrorKind, Location, PolicyError, Severity};
pub use loading::Loading;
pub use net::Endpoint;
pub use policy::{FloorEntry, Policy};
pub use rule::{AuditSetting, Family, RuleId, RuleInfo};
pub use source::{Source, Vars};

/// The name of an errno value as policies write it (`EACCES`), or its number.
pub fn errno_name(errno: i32) -> String {
    errno::name(errno)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_policy_can_be_shared_between_threads() {
        fn shareable<T: Send + Sync + 'static>() {}
        shareable::<super::Policy>();
        shareable::<super::PolicyError>();
    }
}
