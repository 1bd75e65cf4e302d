//! arbiter as a library: the request core, both transports, confinement, spawning and the
//! audit log. The `arbiter` binary (src/main.rs and `commands/`) is a thin CLI over it.

pub mod audit;
pub mod confine;
pub mod core;
pub mod decide;
pub mod exit_code;
pub mod learn;
pub mod master;
pub mod policy_lookup;
pub mod sandbox;
pub mod serve;
pub mod sockopt;
pub mod stderr_lines;
pub mod transport;
