//! One module per subcommand, each a thin layer over library code.

pub mod bench;
pub mod doctor;
pub mod run;
