//! The `arbiter` command: parses the command line and dispatches to a subcommand.

mod audit;
mod commands;
mod confine;
mod core;
mod exit_code;
mod sandbox;
mod serve;
mod transport;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// arbiter: run programs with their file and network calls arbitrated by a policy.
#[derive(Debug, Parser)]
#[command(name = "arbiter", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a command with its calls brokered under a policy.
    Run(commands::run::RunArgs),
    /// Serve sandboxes to `arbiter run --daemon` clients over a unix socket.
    Serve(commands::serve::ServeArgs),
    /// Report the kernel confinement layers available here and what they guarantee.
    Doctor,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => commands::run::run(args),
        Command::Serve(args) => commands::serve::run(args),
        Command::Doctor => Ok(commands::doctor::run()),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("arbiter: {e:#}");
            ExitCode::from(exit_code::FAILED)
        }
    }
}
