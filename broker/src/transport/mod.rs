//! Transports: how calls reach the request core.

pub mod shim;
