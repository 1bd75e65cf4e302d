//! One module per subcommand, each a thin layer over library code.

pub mod doctor;
pub mod run;
pub mod serve;
