//! The usual `arbiter run` command lines, parsed without clap.
//!
//! clap builds every argument of `run` (about forty, with their help), parses, validates
//! the parse against all of them and drops them again before it returns: ~0.15–0.2 ms of
//! each start, and the heap it grows costs the broker page faults after the guardian's
//! fork (docs/performance.md, "Session 9: arbiter's own start" and "Session 10: options on
//! the command line"). Most command lines name a few options of one simple shape —
//! `arbiter run [-q] [--rx PATH] [--ro PATH] [--connect ENDPOINT] [--policy NAME] [--] CMD
//! [ARG…]` — so [`parse`] reads those directly into the same [`RunArgs`] clap would make.
//!
//! Only a strict subset of clap's grammar is read here, and everything else is left to
//! clap, which parses it or reports the error (with its suggestions and usage) as before:
//! * the options of [`OPTIONS`] only, each written as its own word (`--ro PATH`, `-q`; not
//!   `--ro=PATH`, `-qq`, nor an abbreviation);
//! * a value that is not empty and does not start with `-` (clap would take `--ro -x` for
//!   two options), and UTF-8 where the field is a `String`;
//! * a flag or a single-valued option at most once (clap refuses a repeat);
//! * then `--` and at least one word, or a first word that is not empty and does not start
//!   with `-`, and every word after it (the command's own, as clap's `trailing_var_arg`).
//!
//! The table names where each option goes; its shape is clap's: the tests in `main.rs`
//! (`run_line_options_have_claps_shape`, `run_lines_parse_as_clap_parses_them`,
//! `generated_run_lines_parse_as_clap_parses_them`) check every row against the argument
//! clap builds (long and short name, action, number of values, value type, no default, no
//! conflict with another row, no requirement), that every other argument of `run` is
//! named as clap's alone, and that the lines parsed here — a table and a few thousand
//! generated ones — give exactly clap's `RunArgs`, and the others clap's errors.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::commands::audit_args::AuditArgs;
use crate::commands::decide_args::DecideArgs;
use crate::commands::policy_args::PolicyArgs;
use crate::commands::run::RunArgs;

/// One option of `run` that [`parse`] reads: its long name (without `--`), its short name,
/// and where its value goes.
pub struct Opt {
    /// The long name, as clap's `--NAME`.
    pub long: &'static str,
    /// The short name, as clap's `-C`, if it has one.
    pub short: Option<char>,
    /// What the option takes and which field of [`RunArgs`] it sets.
    pub takes: Takes,
}

/// What an option takes (in clap's terms, its action and value type) and the field of
/// [`RunArgs`] it sets.
pub enum Takes {
    /// `--NAME`, at most once (`ArgAction::SetTrue`).
    Flag(fn(&mut RunArgs) -> &mut bool),
    /// `--NAME PATH`, at most once (`ArgAction::Set` of a `PathBuf`).
    Path(fn(&mut RunArgs) -> &mut Option<PathBuf>),
    /// `--NAME PATH`, repeatable (`ArgAction::Append` of `PathBuf`s).
    Paths(fn(&mut RunArgs) -> &mut Vec<PathBuf>),
    /// `--NAME TEXT`, repeatable (`ArgAction::Append` of UTF-8 `String`s).
    Texts(fn(&mut RunArgs) -> &mut Vec<String>),
    /// `--NAME WORD`, repeatable (`ArgAction::Append` of `OsString`s).
    Words(fn(&mut RunArgs) -> &mut Vec<OsString>),
    /// `--NAME WORD WORD`, repeatable (`ArgAction::Append` of two `OsString`s at a time).
    WordPairs(fn(&mut RunArgs) -> &mut Vec<OsString>),
}

/// The options [`parse`] reads, in the order of [`RunArgs`]. Every other option of `run`
/// (the audit log, the deciders, `--daemon`, `--help`) is clap's alone: those carry
/// requirements, conflicts, defaults or value checks this parser does not repeat.
pub const OPTIONS: &[Opt] = &[
    opt("policy", Takes::Texts(|a| &mut a.rules.policy)),
    opt("ro", Takes::Paths(|a| &mut a.rules.ro)),
    opt("rx", Takes::Paths(|a| &mut a.rules.rx)),
    opt("rw", Takes::Paths(|a| &mut a.rules.rw)),
    opt("deny", Takes::Paths(|a| &mut a.rules.deny)),
    opt("connect", Takes::Texts(|a| &mut a.rules.connect)),
    opt("bind", Takes::Texts(|a| &mut a.rules.bind)),
    opt("resolve", Takes::Texts(|a| &mut a.rules.resolve)),
    opt("strict", Takes::Flag(|a| &mut a.strict)),
    opt("clearenv", Takes::Flag(|a| &mut a.clearenv)),
    opt("setenv", Takes::WordPairs(|a| &mut a.setenv)),
    opt("unsetenv", Takes::Words(|a| &mut a.unsetenv)),
    opt("keep-env", Takes::Words(|a| &mut a.keep_env)),
    opt("chdir", Takes::Path(|a| &mut a.chdir)),
    Opt {
        long: "quiet",
        short: Some('q'),
        takes: Takes::Flag(|a| &mut a.quiet),
    },
    opt(
        "no-seccomp-transport",
        Takes::Flag(|a| &mut a.no_seccomp_transport),
    ),
    opt("no-pid-namespace", Takes::Flag(|a| &mut a.no_pid_namespace)),
    opt("no-fast-path", Takes::Flag(|a| &mut a.no_fast_path)),
    opt("wait-descendants", Takes::Flag(|a| &mut a.wait_descendants)),
];

/// A row of [`OPTIONS`] without a short name.
const fn opt(long: &'static str, takes: Takes) -> Opt {
    Opt {
        long,
        short: None,
        takes,
    }
}

impl Opt {
    /// Whether `word` names this option exactly (`--NAME`, or `-C` for its short name).
    fn named(&self, word: &[u8]) -> bool {
        match word {
            [b'-', b'-', long @ ..] => long == self.long.as_bytes(),
            [b'-', short] => self.short.and_then(|c| u8::try_from(c).ok()) == Some(*short),
            _ => false,
        }
    }

    /// Reads this option's values from `rest` (the words after its name) into `args`;
    /// the words after them, or `None` when clap is to parse the line.
    fn take<'a>(&self, args: &mut RunArgs, rest: &'a [OsString]) -> Option<&'a [OsString]> {
        match &self.takes {
            Takes::Flag(field) => {
                let set = field(args);
                if *set {
                    return None;
                }
                *set = true;
                Some(rest)
            }
            Takes::Path(field) => {
                let (value, rest) = split_value(rest)?;
                let set = field(args);
                if set.is_some() {
                    return None;
                }
                *set = Some(PathBuf::from(value));
                Some(rest)
            }
            Takes::Paths(field) => {
                let (value, rest) = split_value(rest)?;
                field(args).push(PathBuf::from(value));
                Some(rest)
            }
            Takes::Texts(field) => {
                let (value, rest) = split_value(rest)?;
                field(args).push(value.to_str()?.to_owned());
                Some(rest)
            }
            Takes::Words(field) => {
                let (value, rest) = split_value(rest)?;
                field(args).push(value.clone());
                Some(rest)
            }
            Takes::WordPairs(field) => {
                let (name, rest) = split_value(rest)?;
                let (value, rest) = split_value(rest)?;
                field(args).extend([name.clone(), value.clone()]);
                Some(rest)
            }
        }
    }
}

/// The first of `words` as an option's value, and the words after it: `None` when there is
/// none, or it is empty or starts with `-` (clap's to judge).
fn split_value(words: &[OsString]) -> Option<(&OsString, &[OsString])> {
    let (value, rest) = words.split_first()?;
    let bytes = value.as_encoded_bytes();
    (!bytes.is_empty() && !bytes.starts_with(b"-")).then_some((value, rest))
}

/// `args` (the program's name first) as [`RunArgs`] when they are `run`, options of
/// [`OPTIONS`] in the subset of clap's grammar this module describes, then the command;
/// `None` otherwise (clap's to parse).
pub fn parse(args: &[OsString]) -> Option<RunArgs> {
    let (run, mut rest) = args.get(1..)?.split_first()?;
    if run != "run" {
        return None;
    }
    let mut parsed = defaults();
    let command = loop {
        let (word, after) = rest.split_first()?;
        let bytes = word.as_encoded_bytes();
        if bytes == b"--" {
            break after;
        }
        if !bytes.starts_with(b"-") {
            if bytes.is_empty() {
                return None;
            }
            break rest;
        }
        let option = OPTIONS.iter().find(|o| o.named(bytes))?;
        rest = option.take(&mut parsed, after)?;
    };
    if command.is_empty() {
        return None;
    }
    parsed.command = command.to_vec();
    Some(parsed)
}

/// `run`'s arguments when the command line names no option: each field's default as clap
/// gives it. Every field is named (no `..`): a new option of `run` does not compile here
/// until its default is given, and the tests compare the result with clap's.
fn defaults() -> RunArgs {
    RunArgs {
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
        quiet: false,
        no_seccomp_transport: false,
        no_pid_namespace: false,
        no_fast_path: false,
        wait_descendants: false,
        daemon: None,
        command: Vec::new(),
    }
}
