//! The `arbiter` command: a thin CLI over the `arbiter` library. It parses the command line
//! and dispatches to a subcommand (one file each under `commands/`).

// The C runtime calls `main` below: Rust's runtime start is skipped (`entry`).
#![cfg_attr(not(test), no_main)]

mod commands;
mod entry;

use arbiter::exit_code;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// arbiter: run programs with their file and network calls arbitrated by a policy.
#[derive(Debug, Parser)]
#[command(name = "arbiter", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// `arbiter run …` alone: the same `run` subcommand as [`Cli`]'s, parsed without building
/// every other subcommand's arguments (clap builds them all, about 0.1 ms of each start).
/// The test `run_alone_parses_as_the_whole_cli` holds the two equal.
#[derive(Debug, Parser)]
#[command(name = "arbiter", version, about)]
struct RunAlone {
    #[command(subcommand)]
    command: RunCommand,
}

#[derive(Debug, Subcommand)]
enum RunCommand {
    /// Run a command with its calls brokered under a policy.
    Run(commands::run::RunArgs),
}

/// The command line, parsed by [`RunAlone`] when it starts with `run`, else by [`Cli`].
fn parse() -> Result<Cli, clap::Error> {
    parse_from(std::env::args_os().collect())
}

/// [`parse`] of `args` (the program's name first): the plain `arbiter run [-q] [--] CMD…`
/// without clap ([`commands::plain_run`]), the rest of `run`'s command lines with
/// [`RunAlone`], every other one with [`Cli`].
fn parse_from(args: Vec<std::ffi::OsString>) -> Result<Cli, clap::Error> {
    if let Some(args) = commands::plain_run::parse(&args) {
        return Ok(Cli {
            command: Command::Run(args),
        });
    }
    if args.get(1).map(|a| a.as_os_str()) == Some(std::ffi::OsStr::new("run")) {
        let RunAlone {
            command: RunCommand::Run(args),
        } = RunAlone::try_parse_from(args)?;
        return Ok(Cli {
            command: Command::Run(args),
        });
    }
    Cli::try_parse_from(args)
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a command with its calls brokered under a policy.
    Run(commands::run::RunArgs),
    /// Serve sandboxes to `arbiter run --daemon` clients over a unix socket.
    Serve(commands::serve::ServeArgs),
    /// Report the kernel confinement layers available here and what they guarantee.
    Doctor(commands::doctor::DoctorArgs),
    /// Run a command with everything allowed and write the policy it needed.
    Learn(commands::learn::LearnArgs),
    /// Read audit logs.
    Audit {
        #[command(subcommand)]
        command: commands::audit::AuditCommand,
    },
    /// Measure brokered calls against native calls and the channel's physical limit
    /// (runs the `arbiter-bench` harness).
    Bench(commands::bench::BenchArgs),
    /// Validate policy files: print every diagnostic, exit 0 only when valid.
    Check(commands::check::CheckArgs),
    /// Show what a policy decides about one request, and which rule decides it.
    Explain(commands::explain::ExplainArgs),
    /// List the built-in profiles, or print one.
    Profiles(commands::profiles::ProfilesArgs),
    /// Write shell completions for SHELL on stdout.
    Completions(commands::completions::CompletionsArgs),
    /// Write the man page (or, with --dir, every page) generated from this command line.
    Man(commands::completions::ManArgs),
}

/// The process's entry point, called by the C runtime (`#![no_main]`): [`entry::start`]
/// in place of Rust's runtime start, then [`arbiter_main`]; a panic ends the process with
/// status 101, as under Rust's runtime (its message is printed by the panic hook).
#[cfg_attr(not(test), no_mangle)]
extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    entry::start();
    let status = std::panic::catch_unwind(arbiter_main).map_or(101, |code| {
        // `ExitCode` gives no number back: every code arbiter returns is made from a `u8`.
        (0..=u8::MAX)
            .find(|&n| ExitCode::from(n) == code)
            .map_or(i32::from(exit_code::FAILED), i32::from)
    });
    // Flushes stdout, as returning from Rust's `main` does.
    std::process::exit(status)
}

/// What `arbiter` does: parses the command line and runs the subcommand.
fn arbiter_main() -> ExitCode {
    let cli = match parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    if !matches!(
        cli.command,
        Command::Run(_) | Command::Learn(_) | Command::Serve(_)
    ) {
        // Report commands end quietly when their reader goes away (`arbiter profiles | head`),
        // with the conventional status of a process killed by SIGPIPE, as `cat` does.
        restore_sigpipe();
    }
    let result = match cli.command {
        Command::Run(args) => commands::run::run(args),
        Command::Learn(args) => commands::learn::run(args),
        Command::Audit { command } => commands::audit::run(command),
        Command::Serve(args) => commands::serve::run(args),
        Command::Doctor(args) => Ok(commands::doctor::run(args)),
        Command::Bench(args) => commands::bench::run(args),
        Command::Check(args) => commands::check::run(args),
        Command::Explain(args) => commands::explain::run(args),
        Command::Profiles(args) => commands::profiles::run(args),
        Command::Completions(args) => commands::completions::completions::<Cli>(args),
        Command::Man(args) => commands::completions::man::<Cli>(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("arbiter: {e:#}");
            ExitCode::from(exit_code::FAILED)
        }
    }
}

/// Prints a command-line error (with clap's "did you mean" suggestions) and returns the exit
/// status: 0 for `--help` and `--version`, [`exit_code::FAILED`] for every usage error, as
/// the README's exit-status contract promises (clap's own default would be 2).
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let _ = e.print();
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => ExitCode::SUCCESS,
        _ => ExitCode::from(exit_code::FAILED),
    }
}

/// Gives SIGPIPE back its default action (Rust's runtime ignores it, which turns a closed
/// output pipe into a panic in `println!`).
fn restore_sigpipe() {
    // SAFETY: signal() with SIG_DFL installs no handler and touches no memory of ours.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// `arbiter run …` parses, fails and prints help exactly as the whole CLI would: the
    /// same arguments, the same errors (with suggestions and usage), the same help text.
    #[test]
    fn run_alone_parses_as_the_whole_cli() {
        let whole = Cli::command();
        let alone = RunAlone::command();
        let help = |c: &clap::Command| {
            c.clone()
                .find_subcommand_mut("run")
                .expect("a run subcommand")
                .render_long_help()
                .to_string()
        };
        assert_eq!(help(&alone), help(&whole));
        let lines: &[&[&str]] = &[
            &["run", "--", "/bin/true"],
            &["run", "true"],
            &["run", "cat", "-q", "--ro", "x"],
            &[
                "run",
                "-q",
                "--policy",
                "default",
                "--ro",
                "/etc",
                "--",
                "cat",
                "/etc/hostname",
            ],
            &[
                "run",
                "--rw",
                ".",
                "--deny",
                "./x",
                "--connect",
                "127.0.0.1:80",
                "--",
                "sh",
                "-c",
                "exit 3",
            ],
            &[
                "run",
                "--setenv",
                "A",
                "B",
                "--unsetenv",
                "C",
                "--keep-env",
                "D",
                "--",
                "env",
            ],
            &["run", "--audit", "-", "--audit-level", "all", "--", "true"],
            &["run", "--polcy", "x", "--", "true"],
            &["run"],
            &["run", "--help"],
            &["run", "-h"],
            &["run", "--version"],
            &["run", "--setenv", "A"],
            &[
                "run",
                "--daemon",
                "/run/a.sock",
                "--ro",
                "/etc",
                "--",
                "true",
            ],
            &["run", "--frobnicate"],
        ];
        for line in lines {
            let argv: Vec<std::ffi::OsString> = std::iter::once("arbiter")
                .chain(line.iter().copied())
                .map(Into::into)
                .collect();
            let ours = parse_from(argv.clone());
            let theirs = Cli::try_parse_from(argv);
            match (ours, theirs) {
                (Ok(a), Ok(b)) => assert_eq!(format!("{a:?}"), format!("{b:?}"), "{line:?}"),
                (Err(a), Err(b)) => {
                    assert_eq!(a.kind(), b.kind(), "{line:?}");
                    assert_eq!(a.render().to_string(), b.render().to_string(), "{line:?}");
                }
                (a, b) => panic!("{line:?}: {a:?} against {b:?}"),
            }
        }
    }

    /// The plain `run` command lines parsed without clap ([`commands::plain_run`]) give
    /// exactly clap's `RunArgs`; the others are left to clap (and then parse, or fail, as
    /// the whole CLI does: `run_alone_parses_as_the_whole_cli`).
    #[test]
    fn plain_run_lines_parse_as_clap_parses_them() {
        let plain: &[&[&str]] = &[
            &["run", "-q", "--", "/bin/true"],
            &["run", "--", "/bin/true"],
            &["run", "true"],
            &["run", "--quiet", "true"],
            &["run", "-q", "sh", "-c", "exit 3"],
            &["run", "cat", "-q", "--ro", "x", "--"],
            &["run", "--", "--", "x"],
            &["run", "-q", "--", "-q"],
            &["run", "--", "--rw", "."],
            &["run", "--", ""],
            &["run", "help"],
            &["run", "-q", "--", "sh", "-c", "echo \"$@\"", "--", "-x"],
        ];
        let others: &[&[&str]] = &[
            &["run"],
            &["run", "-q"],
            &["run", "--"],
            &["run", "-q", "--"],
            &["run", "-q", "-q", "true"],
            &["run", "-qq", "true"],
            &["run", "--quiet", "--quiet", "true"],
            &["run", "", "x"],
            &["run", "-", "x"],
            &["run", "--rw", ".", "--", "true"],
            &["run", "-q", "--rw", ".", "true"],
            &["run", "--help"],
            &["run", "--version"],
            &["run", "--qiuet", "true"],
            &["run", "--quiet=true", "true"],
            &["serve", "true"],
            &["doctor"],
            &[],
        ];
        let argv = |line: &[&str]| -> Vec<std::ffi::OsString> {
            std::iter::once("arbiter")
                .chain(line.iter().copied())
                .map(Into::into)
                .collect()
        };
        for line in plain {
            let ours = commands::plain_run::parse(&argv(line))
                .unwrap_or_else(|| panic!("{line:?} is a plain run line"));
            let theirs = Cli::try_parse_from(argv(line));
            match theirs {
                Ok(Cli {
                    command: Command::Run(theirs),
                }) => assert_eq!(format!("{ours:?}"), format!("{theirs:?}"), "{line:?}"),
                other => panic!("{line:?}: clap parses it as {other:?}"),
            }
        }
        for line in others {
            assert!(
                commands::plain_run::parse(&argv(line)).is_none(),
                "{line:?} is left to clap"
            );
        }
        // Not UTF-8: passed on as it is, as clap does.
        use std::os::unix::ffi::OsStringExt;
        let mut line = argv(&["run", "-q", "--"]);
        line.push(std::ffi::OsString::from_vec(vec![b'x', 0xff]));
        let ours = commands::plain_run::parse(&line).expect("plain");
        let Ok(Cli {
            command: Command::Run(theirs),
        }) = Cli::try_parse_from(line)
        else {
            panic!("clap refuses a non-UTF-8 command");
        };
        assert_eq!(format!("{ours:?}"), format!("{theirs:?}"));
    }
}
