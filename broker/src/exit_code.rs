//! arbiter's exit codes, a documented contract (the conventions of env, chroot and bwrap).
//!
//! * the command's own exit status, or 128 + N when it died of signal N;
//! * [`FAILED`] (125) when arbiter itself failed (bad policy, missing shim, …);
//! * [`CANNOT_EXECUTE`] (126) when the command exists but cannot be executed;
//! * [`NOT_FOUND`] (127) when the command was not found.

/// arbiter itself failed.
pub const FAILED: u8 = 125;
/// The command was found but cannot be executed.
pub const CANNOT_EXECUTE: u8 = 126;
/// The command was not found.
pub const NOT_FOUND: u8 = 127;
