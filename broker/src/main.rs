//! The `arbiter` command: a thin CLI over the `arbiter` library. It parses the command line
//! and dispatches to a subcommand (one file each under `commands/`).

// The C runtime calls `main` below: Rust's runtime start is skipped (`entry`).
#![cfg_attr(not(test), no_main)]

mod commands;
mod entry;
mod loader_path;

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

/// [`parse`] of `args` (the program's name first): the usual `arbiter run [OPTIONS] [--]
/// CMD…` without clap ([`commands::run_line`]), the rest of `run`'s command lines with
/// [`RunAlone`], every other one with [`Cli`].
fn parse_from(args: Vec<std::ffi::OsString>) -> Result<Cli, clap::Error> {
    if let Some(args) = commands::run_line::parse(&args) {
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

/// The process's entry point, called by the C runtime (`#![no_main]`): `LD_LIBRARY_PATH`
/// kept out of arbiter's own loader ([`loader_path::keep_out`]), [`entry::start`] in place
/// of Rust's runtime start, then [`arbiter_main`]; a panic ends the process with
/// status 101, as under Rust's runtime (its message is printed by the panic hook).
#[cfg_attr(not(test), no_mangle)]
extern "C" fn main(_argc: libc::c_int, argv: *const *const libc::c_char) -> libc::c_int {
    loader_path::keep_out(argv);
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

    /// `arbiter` followed by `line`, as the program gets its arguments.
    fn argv(line: &[&str]) -> Vec<std::ffi::OsString> {
        std::iter::once("arbiter")
            .chain(line.iter().copied())
            .map(Into::into)
            .collect()
    }

    /// `args` parsed by [`commands::run_line`], and by the whole CLI: equal `RunArgs` when
    /// `run_line` parses them (clap must then parse them too); whether it did.
    fn run_line_agrees(args: &[std::ffi::OsString]) -> bool {
        let Some(ours) = commands::run_line::parse(args) else {
            return false;
        };
        match Cli::try_parse_from(args) {
            Ok(Cli {
                command: Command::Run(theirs),
            }) => assert_eq!(format!("{ours:?}"), format!("{theirs:?}"), "{args:?}"),
            other => panic!("{args:?}: parsed without clap, but clap gives {other:?}"),
        }
        true
    }

    /// The arguments of `run` that [`commands::run_line`] leaves to clap (a line naming
    /// one is clap's): each has a requirement, a conflict, a default or a value check of
    /// its own, or prints something.
    const CLAP_ONLY: &[&str] = &[
        "audit",
        "audit-level",
        "audit-format",
        "audit-fsync",
        "audit-drop",
        "audit-queue",
        "audit-in-sandbox-reach",
        "decider",
        "decider-timeout",
        "decider-default",
        "ask",
        "save",
        "daemon",
        "help",
    ];

    /// Every row of `run_line::OPTIONS` is an option of clap's `run` of the same shape
    /// (names, action, number and type of values, no default, no requirement, no conflict
    /// with another row), and every other argument of `run` is named clap's alone: an
    /// option added to `run` fails here until it is classified.
    #[test]
    fn run_line_options_have_claps_shape() {
        use clap::ArgAction;
        use commands::run_line::{Takes, OPTIONS};
        use std::any::TypeId;
        use std::ffi::OsString;
        use std::path::PathBuf;
        let mut cli = RunAlone::command();
        cli.build();
        let run = cli.find_subcommand("run").expect("a run subcommand");
        // Settings of `run` itself that would read the rows' words otherwise.
        assert!(!run.is_allow_negative_numbers_set());
        assert!(!run.is_args_override_self());
        assert!(!run.is_dont_delimit_trailing_values_set());
        assert!(!run.is_allow_external_subcommands_set());
        assert_eq!(run.get_subcommands().count(), 0);
        let mut rows = 0;
        for arg in run.get_arguments() {
            let Some(long) = arg.get_long() else {
                // The one positional: the command, every word from its first on.
                assert_eq!(arg.get_id(), "command");
                assert_eq!(arg.get_index(), Some(1));
                assert!(arg.is_required_set() && arg.is_trailing_var_arg_set());
                continue;
            };
            let Some(row) = OPTIONS.iter().find(|o| o.long == long) else {
                assert!(
                    CLAP_ONLY.contains(&long),
                    "--{long} is neither a row of run_line::OPTIONS nor in CLAP_ONLY"
                );
                continue;
            };
            rows += 1;
            assert!(!CLAP_ONLY.contains(&long), "--{long}: a row and CLAP_ONLY");
            assert_eq!(arg.get_short(), row.short, "--{long}");
            assert_eq!(arg.get_all_short_aliases(), None, "--{long}");
            let append = matches!(arg.get_action(), ArgAction::Append);
            let (action, values, value_type) = match row.takes {
                Takes::Flag(_) => (
                    matches!(arg.get_action(), ArgAction::SetTrue),
                    0,
                    TypeId::of::<bool>(),
                ),
                Takes::Path(_) => (
                    matches!(arg.get_action(), ArgAction::Set),
                    1,
                    TypeId::of::<PathBuf>(),
                ),
                Takes::Paths(_) => (append, 1, TypeId::of::<PathBuf>()),
                Takes::Texts(_) => (append, 1, TypeId::of::<String>()),
                Takes::Words(_) => (append, 1, TypeId::of::<OsString>()),
                Takes::WordPairs(_) => (append, 2, TypeId::of::<OsString>()),
            };
            assert!(action, "--{long}: {:?}", arg.get_action());
            let range = arg.get_num_args().expect("set when built");
            assert_eq!(
                (range.min_values(), range.max_values()),
                (values, values),
                "--{long}"
            );
            assert!(arg.get_value_parser().type_id() == value_type, "--{long}");
            // A flag's "false" (clap's default for `SetTrue`) is the only default.
            let defaults: &[&str] = if values == 0 { &["false"] } else { &[] };
            assert!(arg.get_default_values() == defaults, "--{long}");
            assert!(
                !arg.is_required_set()
                    && !arg.is_allow_hyphen_values_set()
                    && !arg.is_allow_negative_numbers_set()
                    && !arg.is_require_equals_set()
                    && !arg.is_exclusive_set()
                    && !arg.is_last_set()
                    && !arg.is_global_set()
                    && arg.get_value_delimiter().is_none()
                    && arg.get_value_terminator().is_none(),
                "--{long}"
            );
            for other in run.get_arg_conflicts_with(arg) {
                let other = other.get_long().unwrap_or_default();
                assert!(
                    CLAP_ONLY.contains(&other),
                    "--{long} conflicts with --{other}, a row too"
                );
            }
        }
        assert_eq!(rows, OPTIONS.len(), "every row is an option of run's");
        // Each row alone, and all of them at once (no requirement, no conflict between
        // them), with its short name too: parsed as clap parses them.
        let values = |row: &commands::run_line::Opt| match row.takes {
            Takes::Flag(_) => 0,
            Takes::WordPairs(_) => 2,
            _ => 1,
        };
        let mut all = vec!["run".to_owned()];
        for row in OPTIONS {
            let mut names = vec![format!("--{}", row.long)];
            names.extend(row.short.map(|c| format!("-{c}")));
            for name in names {
                let mut line = vec!["run".to_owned(), name];
                line.extend((0..values(row)).map(|i| format!("v{i}")));
                all.extend(line[1..].iter().cloned());
                line.extend(["--".into(), "true".into()]);
                let line: Vec<&str> = line.iter().map(String::as_str).collect();
                assert!(run_line_agrees(&argv(&line)), "{line:?} is parsed");
            }
        }
        // The short name and the long one of a flag are the same flag: once.
        all.retain(|w| w != "-q");
        all.push("true".into());
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        assert!(run_line_agrees(&argv(&all)), "{all:?} is parsed");
    }

    /// The `run` command lines parsed without clap ([`commands::run_line`]) give exactly
    /// clap's `RunArgs`; the others are left to clap (and then parse, or fail, as the
    /// whole CLI does: `run_alone_parses_as_the_whole_cli`).
    #[test]
    fn run_lines_parse_as_clap_parses_them() {
        let ours: &[&[&str]] = &[
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
            &["run", "--rx", "build", "--", "true"],
            &["run", "--ro", "/etc/hostname", "--", "cat", "/etc/hostname"],
            &["run", "--connect", "127.0.0.1:80", "--", "true"],
            &["run", "--policy", "git", "--", "git", "status"],
            &["run", "-q", "--rw", ".", "true"],
            &["run", "--rw", ".", "-q", "--deny", "./x", "--", "sh"],
            &["run", "--ro", "a", "--ro", "b", "--rx", "c", "cat", "a"],
            &["run", "--policy", "default", "--policy", "git", "true"],
            &[
                "run",
                "--connect",
                "unix:/run/a.sock",
                "--bind",
                "127.0.0.1:0",
                "x",
            ],
            &["run", "--resolve", "*.example.com", "--", "curl"],
            &["run", "--strict", "--clearenv", "--keep-env", "PATH", "env"],
            &["run", "--setenv", "A", "B", "--setenv", "C", "D", "env"],
            &["run", "--unsetenv", "HOME", "--chdir", "/tmp", "--", "pwd"],
            &[
                "run",
                "--no-seccomp-transport",
                "--no-pid-namespace",
                "true",
            ],
            &["run", "--no-fast-path", "--wait-descendants", "--", "sh"],
            &["run", "--ro", "help", "true"],
            &["run", "--ro", "x", "--", "--ro", "y"],
        ];
        let clap_s: &[&[&str]] = &[
            &["run"],
            &["run", "-q"],
            &["run", "--"],
            &["run", "-q", "--"],
            &["run", "-q", "-q", "true"],
            &["run", "-qq", "true"],
            &["run", "--quiet", "--quiet", "true"],
            &["run", "-q", "--quiet", "true"],
            &["run", "", "x"],
            &["run", "-", "x"],
            &["run", "--help"],
            &["run", "--version"],
            &["run", "--qiuet", "true"],
            &["run", "--quiet=true", "true"],
            &["run", "--ro=x", "true"],
            &["run", "--ro"],
            &["run", "--ro", "x"],
            &["run", "--ro", "x", "--"],
            &["run", "--ro", "", "true"],
            &["run", "--ro", "-", "true"],
            &["run", "--ro", "--", "true"],
            &["run", "--ro", "-x", "true"],
            &["run", "--r", "x", "true"],
            &["run", "--RO", "x", "true"],
            &["run", "--setenv", "A", "--", "true"],
            &["run", "--setenv", "A", "", "true"],
            &["run", "--chdir", "/a", "--chdir", "/b", "true"],
            &["run", "--strict", "--strict", "true"],
            &["run", "--audit", "-", "--", "true"],
            &["run", "--daemon", "/a.sock", "true"],
            &["run", "--ro", "x", "--daemon", "/a.sock", "true"],
            &["run", "--decider", "x", "true"],
            &["run", "--polcy", "x", "--", "true"],
            &["serve", "true"],
            &["doctor"],
            &[],
        ];
        for line in ours {
            assert!(run_line_agrees(&argv(line)), "{line:?} is parsed");
        }
        for line in clap_s {
            assert!(
                commands::run_line::parse(&argv(line)).is_none(),
                "{line:?} is left to clap"
            );
        }
        // Not UTF-8: passed on as it is where clap takes any word, left to clap where it
        // takes UTF-8 only.
        use std::os::unix::ffi::OsStringExt;
        let not_utf8 = || std::ffi::OsString::from_vec(vec![b'x', 0xff]);
        for (line, parsed) in [
            (&["run", "-q", "--"][..], true),
            (&["run", "--ro"][..], true),
            (&["run", "--keep-env"][..], true),
            (&["run", "--policy"][..], false),
            (&["run", "--connect"][..], false),
        ] {
            let mut line = argv(line);
            line.push(not_utf8());
            line.push("true".into());
            assert_eq!(run_line_agrees(&line), parsed, "{line:?}");
        }
    }

    /// Generated `run` command lines: a few thousand, of the rows' options (long and short
    /// names) with as many values as each takes, clap's own options, misspellings, stray
    /// words, and values that are good or empty, start with `-` or are not UTF-8. Each that
    /// `run_line` parses, clap parses to the same `RunArgs`; each clap refuses, `run_line`
    /// leaves to it; and the whole command line parses, fails and prints as the whole CLI
    /// does.
    #[test]
    fn generated_run_lines_parse_as_clap_parses_them() {
        use commands::run_line::{Takes, OPTIONS};
        use std::ffi::OsString;
        use std::os::unix::ffi::OsStringExt;
        let mut values: Vec<OsString> = [
            "x",
            "/etc",
            "build",
            "127.0.0.1:80",
            "unix:/a",
            "git",
            "A",
            "help",
            "a b",
            "true",
            "",
            "-x",
            "--",
            "-",
        ]
        .iter()
        .map(Into::into)
        .collect();
        values.push(OsString::from_vec(vec![b'x', 0xff]));
        let mut strays: Vec<OsString> = [
            "-q",
            "--audit",
            "--daemon",
            "--audit-level",
            "--decider",
            "--help",
            "-h",
            "--version",
            "--polcy",
            "--r",
            "--ro=x",
            "-qq",
            "-x",
            "--",
        ]
        .iter()
        .map(Into::into)
        .collect();
        strays.extend(OPTIONS.iter().map(|o| format!("--{}", o.long).into()));
        strays.extend(values.iter().cloned());
        // xorshift64: the same lines on every run.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = |below: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            usize::try_from(state % u64::try_from(below).unwrap()).unwrap()
        };
        let (mut parsed, mut left) = (0, 0);
        for _ in 0..4000 {
            let mut line = vec![OsString::from("arbiter"), "run".into()];
            for _ in 0..next(6) {
                if next(4) == 0 {
                    line.push(strays[next(strays.len())].clone());
                    continue;
                }
                let row = &OPTIONS[next(OPTIONS.len())];
                let name = match row.short {
                    Some(c) if next(2) == 0 => format!("-{c}"),
                    _ => format!("--{}", row.long),
                };
                line.push(name.into());
                let count = match row.takes {
                    Takes::Flag(_) => 0,
                    Takes::WordPairs(_) => 2,
                    _ => 1,
                };
                for _ in 0..count {
                    // Mostly a good value: the lines must get past it to mean something.
                    let value = if next(3) == 0 {
                        next(values.len())
                    } else {
                        next(10)
                    };
                    line.push(values[value].clone());
                }
            }
            if next(2) == 0 {
                line.push("--".into());
            }
            for _ in 0..next(3) {
                line.push(values[next(values.len())].clone());
            }
            if run_line_agrees(&line) {
                parsed += 1;
            } else {
                left += 1;
            }
            match (parse_from(line.clone()), Cli::try_parse_from(&line)) {
                (Ok(a), Ok(b)) => assert_eq!(format!("{a:?}"), format!("{b:?}"), "{line:?}"),
                (Err(a), Err(b)) => {
                    assert_eq!(a.kind(), b.kind(), "{line:?}");
                    assert_eq!(a.render().to_string(), b.render().to_string(), "{line:?}");
                }
                (a, b) => panic!("{line:?}: {a:?} against {b:?}"),
            }
        }
        // Both kinds in numbers: the test means something either way.
        assert!(
            parsed > 500 && left > 500,
            "{parsed} parsed, {left} left to clap"
        );
    }
}
