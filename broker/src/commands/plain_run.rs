//! The plain `arbiter run` command line, parsed without clap.
//!
//! clap builds every argument of `run` (about forty, with their help) and validates the
//! parse against all of them before it returns: ~0.15–0.2 ms of each start
//! (docs/performance.md, "Session 9"). The command line scripts use most — `arbiter run
//! [-q|--quiet] [--] CMD [ARG…]` — names none of those options, so [`parse`] reads it
//! directly into the same [`RunArgs`] clap would make; every other command line (any other
//! option, a misspelling, `--help`, a missing command) is left to clap, which parses it or
//! reports the error as before. The test `plain_run_lines_parse_as_clap_parses_them` (in
//! `main.rs`) holds the two equal.

use std::ffi::OsString;

use crate::commands::audit_args::AuditArgs;
use crate::commands::decide_args::DecideArgs;
use crate::commands::policy_args::PolicyArgs;
use crate::commands::run::RunArgs;

/// `args` (the program's name first) as [`RunArgs`] when they are `run`, at most one `-q`
/// or `--quiet`, then either `--` and at least one word, or a first word that is not empty
/// and does not start with `-` and the words after it; `None` otherwise (clap's to parse).
pub fn parse(args: &[OsString]) -> Option<RunArgs> {
    let (run, mut rest) = args.get(1..)?.split_first()?;
    if run != "run" {
        return None;
    }
    let mut quiet = false;
    if let Some(first) = rest.first() {
        if first == "-q" || first == "--quiet" {
            quiet = true;
            rest = &rest[1..];
        }
    }
    let command = match rest.split_first() {
        Some((dashes, words)) if dashes == "--" => words,
        Some((word, _)) if !word.is_empty() && !word.as_encoded_bytes().starts_with(b"-") => rest,
        _ => return None,
    };
    if command.is_empty() {
        return None;
    }
    // Every field is named (no `..`): a new option of `run` does not compile here until its
    // default is given, and the test compares the result with clap's.
    Some(RunArgs {
        rules: PolicyArgs {
            policy: Vec::new(),
            ro: Vec::new(),
            rx: Vec::new(),
            rw: Vec::new(),
            deny: Vec::new(),
            connect: Vec::new(),
            bind: Vec::new(),
            resolve: Vec::new(),
        },
        log: AuditArgs {
            audit: None,
            audit_level: Default::default(),
            audit_format: Default::default(),
            audit_fsync: false,
            audit_drop: false,
            audit_queue: arbiter::audit::QUEUE,
        },
        audit_in_sandbox_reach: false,
        decide: Box::new(DecideArgs {
            decider: None,
            decider_timeout: None,
            decider_default: None,
            ask: false,
            save: None,
        }),
        strict: false,
        clearenv: false,
        setenv: Vec::new(),
        unsetenv: Vec::new(),
        keep_env: Vec::new(),
        chdir: None,
        quiet,
        no_seccomp_transport: false,
        no_pid_namespace: false,
        no_fast_path: false,
        wait_descendants: false,
        daemon: None,
        command: command.to_vec(),
    })
}
