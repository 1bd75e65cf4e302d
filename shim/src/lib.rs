//! arbiter's shim.
