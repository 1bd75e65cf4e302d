//! Deciders outside the policy, for `arbiter run`: an external process speaking JSON lines
//! ([`external`], `--decider CMD`) and a person at the terminal ([`ask`], `--ask`), whose
//! "always" answers can be written as policy rules ([`save`], `--save FILE`).
//!
//! Both plug into the request core's one decider hook ([`crate::core::decider`]): they are
//! asked only about checks the policy leaves to its default, after the path is resolved
//! and before the call is performed, so the integrity rules and the kernel floor apply
//! unchanged whoever answers. docs/master.md specifies the protocol and the keys.

pub mod ask;
pub mod external;
pub mod save;
pub mod wire;
pub mod words;
