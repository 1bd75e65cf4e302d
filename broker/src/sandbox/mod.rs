//! Starting and supervising a sandboxed command.

pub mod canonical;
pub mod environment;
pub mod fast_table;
pub mod guardian;
pub mod job_control;
pub mod pidns;
pub mod private_tmp;
pub mod procfs;
pub mod program;
pub mod shim_path;
pub mod spawn;
pub mod start;
pub mod supervise;
pub mod tree;
pub mod vfork;

pub use start::{Running, Sandbox, Started};
