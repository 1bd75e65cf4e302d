//! `arbiter learn`: turn a run into a policy.
//!
//! The command runs with everything the broker can do allowed (the kernel confinement still
//! applies: what bypasses the broker stays denied), every call is recorded, and the records
//! become rules: see [`generate`] for how paths are folded and written.

pub mod generate;
pub mod merge;
pub mod needs;
