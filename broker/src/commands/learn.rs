//! `arbiter learn -o POLICY [--merge] -- CMD…`: run a command with everything allowed and
//! write the policy it needed.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use arbiter_policies::{Additions, Policy, Source};

use crate::commands::run::{run_with, RunArgs};
use arbiter::learn::{generate, merge, needs::Needs};

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
    /// Overwrite the `-o` file if it exists (without this, learn refuses before running).
    #[arg(long)]
    pub force: bool,
    /// The command and its arguments (a mistyped option before it is an error, not a
    /// command).
    #[arg(required = true, trailing_var_arg = true, value_name = "CMD")]
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
    check_output(&args)?;
    let recorder = Recorder::default();
    let run_args = RunArgs {
        rules: Default::default(),
        log: Default::default(),
        audit_in_sandbox_reach: false,
        decide: Default::default(),
        strict: false,
        clearenv: false,
        setenv: Vec::new(),
        unsetenv: Vec::new(),
        keep_env: Vec::new(),
        chdir: None,
        quiet: false,
        no_seccomp_transport: false,
        no_pid_namespace: false,
        // Learning needs the real path of every call, which only the broker knows: calls
        // the shim would answer in-process (and report, as the program passed them) go to
        // the broker instead.
        no_fast_path: true,
        wait_descendants: false,
        daemon: None,
        command: args.command.clone(),
    };
    let ran = run_with(run_args, Some(Box::new(recorder.clone())));
    // The pid namespace's init, if the run left it (alone) running.
    arbiter::sandbox::pidns::end();
    let ran = ran?;
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
            let added: String = rules.iter().map(generate::Rule::render).collect();
            warn_secrets(&format!("version = 1\n{added}"), &vars);
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
            let text = generate::policy_text(&rules, &command);
            warn_secrets(&text, &vars);
            std::fs::write(out, text).with_context(|| format!("cannot write {}", out.display()))?;
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

/// Refuses, before the command runs, an output learn could not write or would overwrite.
fn check_output(args: &LearnArgs) -> Result<()> {
    let (path, must_exist) = match (&args.merge, &args.output) {
        (Some(existing), _) => (existing, true),
        (None, Some(out)) => (out, false),
        (None, None) => anyhow::bail!("give -o POLICY or --merge POLICY"),
    };
    if must_exist {
        std::fs::metadata(path)
            .with_context(|| format!("--merge {}: cannot read it", path.display()))?;
    } else if path.exists() && !args.force {
        anyhow::bail!(
            "{} exists; learn does not overwrite a policy without --force (or use --merge {} to extend it)",
            path.display(),
            path.display()
        );
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let c = std::ffi::CString::new(std::os::unix::ffi::OsStrExt::as_bytes(dir.as_os_str()))
        .context("the output path contains a NUL byte")?;
    // SAFETY: c is a valid NUL-terminated string for the call's duration.
    if unsafe { libc::access(c.as_ptr(), libc::W_OK | libc::X_OK) } != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("cannot write the policy into {}", dir.display()));
    }
    Ok(())
}

/// Warns on stderr about every learned grant that reaches a location the built-in `default`
/// profile denies as a secret (its explicit deny rules: `/etc/shadow`, `~/.ssh`, …), whether
/// the grant names the secret itself or a directory above it.
fn warn_secrets(learned_text: &str, vars: &arbiter_policies::Vars) {
    let Ok(learned) = Policy::load(
        &[Source::Text {
            origin: "learned".into(),
            text: learned_text.into(),
        }],
        vars,
    ) else {
        return;
    };
    let Ok(default) = Policy::load(&[Source::Builtin("default".into())], vars) else {
        return;
    };
    // The default profile's literal deny rules name its secrets (pattern rules, such as key
    // files anywhere under /etc, are anchored at a directory that is no secret itself).
    let secrets: Vec<&std::path::Path> = default
        .rules()
        .iter()
        .filter(|r| !r.allows && !r.text.contains('*'))
        .filter_map(|r| r.root.map(|i| default.roots()[i].as_path()))
        .collect();
    let mut said = std::collections::BTreeSet::new();
    let learned_here = learned
        .rules()
        .iter()
        .filter(|r| r.allows && r.origin.origin == "learned");
    for rule in learned_here {
        let Some(root) = rule.root.map(|i| learned.roots()[i].as_path()) else {
            continue;
        };
        for secret in secrets
            .iter()
            .filter(|s| s.starts_with(root) || root.starts_with(s))
        {
            if !said.insert((root.to_path_buf(), secret.to_path_buf())) {
                continue;
            }
            eprintln!(
                "arbiter: warning: the learned policy grants {} ({}), which reaches {}, a secret the default profile denies; review it before use",
                root.display(),
                rule.text,
                secret.display()
            );
        }
    }
}
