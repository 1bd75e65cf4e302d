//! Transports: how calls reach the request core.

pub mod channel_pool;
pub mod listener;
pub mod seccomp;
pub mod shim;
