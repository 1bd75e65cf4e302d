//! Transports: how calls reach the request core.

pub mod seccomp;
pub mod shim;
