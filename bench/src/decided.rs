//! Who decides, measured: the same brokered call in a library [`Sandbox`] decided by a
//! policy rule (`policy_*_rt`) and by a Rust master that performs every call
//! (`master_*_rt`), both with every call sent to the broker (no fast path). The ratio
//! `master_*_rt / policy_*_rt` is the cost of handing a call to the master: a channel send,
//! a wake-up of the master's task and a reply back to the waiting broker thread.
//!
//! `arbiter-bench decided --by policy|master …` (hidden) runs the sandbox and its master in a
//! process of its own — starting a sandbox sets the process's umask — with the worker's
//! summary on its stdout.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use arbiter::master::Master;
use arbiter::sandbox::{program, Sandbox};
use arbiter_policies::{Policy, Source, Vars};

use crate::stats::Summary;
use crate::workload::Kind;

/// Who decides the measured calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum By {
    /// A rule of the policy grants the file's directory.
    Policy,
    /// No rule covers the file: a Rust master performs each call.
    Master,
}

impl By {
    /// The name in result names (`policy_stat_rt`, `master_stat_rt`).
    pub fn name(self) -> &'static str {
        match self {
            By::Policy => "policy",
            By::Master => "master",
        }
    }
}

/// Options of the hidden `arbiter-bench decided`.
#[derive(Debug, clap::Args)]
pub struct DecidedArgs {
    /// Who decides.
    #[arg(long, value_enum)]
    pub by: By,
    /// The call to time.
    #[arg(long, value_enum)]
    pub kind: Kind,
    /// Timed calls.
    #[arg(long)]
    pub iters: usize,
    /// The file to open or stat.
    #[arg(long)]
    pub file: PathBuf,
}

/// Times `kind` decided `by`, in a child process ([`run`]); returns the worker's summary.
pub fn measure(by: By, kind: Kind, iters: usize, file: &Path) -> Result<Summary> {
    let me = std::env::current_exe().context("cannot find the arbiter-bench binary")?;
    let out = Command::new(me)
        .args(["decided", "--by", by.name(), "--kind", kind.name()])
        .args(["--iters", &iters.to_string(), "--file"])
        .arg(file)
        .stdin(Stdio::null())
        .output()
        .context("cannot start arbiter-bench decided")?;
    if !out.status.success() {
        bail!(
            "arbiter-bench decided --by {} failed ({}): {}",
            by.name(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "the worker printed no summary: {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// `arbiter-bench decided`: runs the worker in a [`Sandbox`] with the policy or the master
/// deciding; exits with the worker's status.
pub fn run(args: DecidedArgs) -> Result<ExitCode> {
    let dir = args
        .file
        .parent()
        .context("the file has no directory")?
        .canonicalize()?;
    let mut text = String::from("version = 1\nextends = [\"runtime\"]\n");
    if args.by == By::Policy {
        text.push_str(&format!(
            "[[fs]]\npath = \"{}\"\nallow = \"ro\"\n",
            dir.display()
        ));
    }
    let worker = std::env::current_exe()?;
    let path_var = std::env::var_os("PATH");
    let install = program::installation(&worker, path_var.as_deref(), &|_| false);
    // The worker runs from its installation prefix (target/…), which the policy grants as
    // `arbiter run` grants a command's prefix: read and execute.
    for prefix in &install.prefixes {
        text.push_str(&format!(
            "[[fs]]\npath = \"{}\"\nallow = \"rx\"\n",
            prefix.display()
        ));
    }
    let policy = Policy::load(
        &[Source::Text {
            origin: "arbiter-bench decided".into(),
            text,
        }],
        &Vars::default(),
    )?;
    let mut sandbox = Sandbox::new(Arc::new(policy))
        .installation(install)
        .fast_path(false);
    let master = (args.by == By::Master).then(|| sandbox.master());
    let argv: Vec<OsString> = [
        "arbiter-bench",
        "worker",
        "--kind",
        args.kind.name(),
        "--iters",
        &args.iters.to_string(),
        "--addr",
        "127.0.0.1:9",
        "--host",
        "localhost",
        "--file",
    ]
    .iter()
    .map(OsString::from)
    .chain([args.file.into_os_string()])
    .collect();
    let running = sandbox
        .start()?
        .spawn(&worker, &argv, std::env::vars_os().collect())?;
    let waiting = std::thread::spawn(move || running.wait());
    if let Some(master) = master {
        tokio::runtime::Builder::new_current_thread()
            .build()?
            .block_on(perform_all(master));
    }
    let ended = waiting
        .join()
        .map_err(|_| anyhow::anyhow!("the waiting thread panicked"))?;
    Ok(ExitCode::from(ended.code()))
}

/// The master of the bench: performs every call until the sandbox ends.
async fn perform_all(mut master: Master) {
    while let Ok(call) = master.receive().await {
        call.perform();
    }
}
