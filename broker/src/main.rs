//! The `arbiter` command.
//!
//! Minimal wiring of the policy commands (`check`, `explain`, `profiles`) so they can be tried
//! on the policies branch; the lead's `main.rs` supersedes it.

use clap::Parser;
use std::process::ExitCode;

mod commands {
    pub mod check;
    pub mod explain;
    pub mod profiles;
}

#[derive(Debug, Parser)]
#[command(
    name = "arbiter",
    about = "A libc-arbitration broker for sandboxed programs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Validate policy files: print every diagnostic, exit 0 only when valid.
    Check(commands::check::CheckArgs),
    /// Show what a policy decides about one request, and which rule decides it.
    Explain(commands::explain::ExplainArgs),
    /// List the built-in profiles, or print one.
    Profiles(commands::profiles::ProfilesArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check(args) => commands::check::run(args),
        Command::Explain(args) => commands::explain::run(args),
        Command::Profiles(args) => commands::profiles::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("arbiter: {e:#}");
            ExitCode::from(125)
        }
    }
}
