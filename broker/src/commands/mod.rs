//! One module per subcommand, each a thin layer over library code.

pub mod audit;
pub mod audit_args;
pub mod audit_reach;
pub mod bench;
pub mod check;
pub mod completions;
pub mod decide_args;
pub mod doctor;
pub mod explain;
pub mod learn;
pub mod policy_args;
pub mod profiles;
pub mod run;
pub mod run_line;
pub mod serve;
