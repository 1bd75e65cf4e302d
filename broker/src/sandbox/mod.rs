//! Starting and supervising a sandboxed command.

pub mod environment;
pub mod program;
pub mod shim_path;
pub mod spawn;
pub mod start;
pub mod supervise;
pub mod vfork;

pub use start::{Running, Sandbox, Started};
