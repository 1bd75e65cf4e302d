//! The `arbiter` command: parses the command line and dispatches to a subcommand.

mod audit;
mod bench;
mod commands;
mod confine;
mod core;
mod exit_code;
mod learn;
mod sandbox;
mod serve;
mod sockopt;
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
    /// Run a command with everything allowed and write the policy it needed.
    Learn(commands::learn::LearnArgs),
    /// Read audit logs.
    Audit {
        #[command(subcommand)]
        command: commands::audit::AuditCommand,
    },
    /// Measure brokered calls against native calls and the channel's physical limit.
    Bench(commands::bench::BenchArgs),
    /// Time calls inside a sandbox for `arbiter bench` (internal).
    #[command(hide = true)]
    BenchWorker(commands::bench::WorkerArgs),
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
        Command::Run(args) => commands::run::run(args),
        Command::Learn(args) => commands::learn::run(args),
        Command::Audit { command } => commands::audit::run(command),
        Command::Serve(args) => commands::serve::run(args),
        Command::Doctor => Ok(commands::doctor::run()),
        Command::Bench(args) => commands::bench::run(args),
        Command::BenchWorker(args) => commands::bench::worker(args),
        Command::Check(args) => commands::check::run(args),
        Command::Explain(args) => commands::explain::run(args),
        Command::Profiles(args) => commands::profiles::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("arbiter: {e:#}");
            ExitCode::from(exit_code::FAILED)
        }
    }
}
