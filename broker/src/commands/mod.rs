//! One module per subcommand, each a thin layer over library code.

pub mod audit;
pub mod bench;
pub mod doctor;
pub mod learn;
pub mod run;
pub mod serve;
