//! `arbiter learn -o POLICY [--merge] -- CMD…`: run a command with everything allowed and
//! write the policy it needed.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use arbiter_policies::{Additions, Policy, Source};

use crate::commands::run::{run_with, RunArgs};
use crate::learn::{generate, merge, needs::Needs};

/// Options of `arbiter learn`.
#[derive(Debug, clap::Args)]
pub struct LearnArgs {
    /// Where to write the policy.
    #[arg(
        short = 'o',
        long = "output",
        value_name = "POLICY",
        required_unless_present = "merge"
    )]
    pub output: Option<PathBuf>,
    /// Extend this existing policy file in place instead (comments and order are kept).
    #[arg(long, value_name = "POLICY")]
    pub merge: Option<PathBuf>,
    /// The command and its arguments.
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CMD"
    )]
    pub command: Vec<std::ffi::OsString>,
}

/// An in-memory audit sink shared with the run.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<u8>>>);

impl Write for Recorder {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("recorder poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs the command, then writes the learned policy.
pub fn run(args: LearnArgs) -> Result<ExitCode> {
    let recorder = Recorder::default();
    let run_args = RunArgs {
        policy: Vec::new(),
        audit: None,
        audit_format: Default::default(),
        audit_fsync: false,
        audit_drop: false,
        audit_queue: crate::audit::QUEUE,
        strict: false,
        ro: Vec::new(),
        rw: Vec::new(),
        rx: Vec::new(),
        deny: Vec::new(),
        connect: Vec::new(),
        bind: Vec::new(),
        resolve: Vec::new(),
        no_seccomp_transport: false,
        no_fast_path: false,
        daemon: None,
        command: args.command.clone(),
    };
    let ran = run_with(run_args, Some(Box::new(recorder.clone())))?;
    let Some(vars) = ran.vars else {
        return Ok(ran.code); // the command never started; run_with said why
    };
    let bytes = recorder.0.lock().map(|b| b.clone()).unwrap_or_default();
    let records: Vec<serde_json::Value> = bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .filter_map(|l| serde_json::from_slice(l).ok())
        .collect();
    let needs = Needs::from_records(&records);
    // What `arbiter run --policy` grants without being told: runtime plus the prefixes.
    let prefixes = Additions {
        rx: ran.prefixes.clone(),
        ..Additions::default()
    }
    .to_source()
    .context("program prefixes")?;
    let command = args
        .command
        .iter()
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ");
    match (&args.merge, &args.output) {
        (Some(existing), _) => {
            let original = std::fs::read_to_string(existing)
                .with_context(|| format!("cannot read {}", existing.display()))?;
            let implicit = Policy::load(&[Source::File(existing.clone()), prefixes], &vars)
                .context("the policy to merge into is invalid")?;
            let rules = generate::rules(&needs, &implicit, &vars);
            let merged = merge::append(&original, &rules)?;
            std::fs::write(existing, merged)
                .with_context(|| format!("cannot write {}", existing.display()))?;
            eprintln!(
                "arbiter: added {} rule(s) to {}",
                rules.len(),
                existing.display()
            );
        }
        (None, Some(out)) => {
            let implicit = Policy::load(&[Source::Builtin("runtime".into()), prefixes], &vars)
                .context("the runtime profile")?;
            let rules = generate::rules(&needs, &implicit, &vars);
            std::fs::write(out, generate::policy_text(&rules, &command))
                .with_context(|| format!("cannot write {}", out.display()))?;
            eprintln!(
                "arbiter: wrote {} rule(s) to {}",
                rules.len(),
                out.display()
            );
        }
        (None, None) => anyhow::bail!("give -o POLICY or --merge POLICY"),
    }
    Ok(ran.code)
}
