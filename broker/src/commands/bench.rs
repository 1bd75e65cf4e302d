//! `arbiter bench ARGS…`: runs the benchmark harness, `arbiter-bench`, which lives outside
//! the product binary. It is looked for next to `arbiter`, then on `PATH`, and told which
//! `arbiter` to measure through `ARBITER_BIN`.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

use anyhow::{Context, Result};

/// Options of `arbiter bench`: everything is passed to `arbiter-bench` (see its `--help`).
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Arguments for `arbiter-bench` (`--quick`, `--out FILE`, `--plot FILE`, `--from FILE`…).
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "ARGS"
    )]
    pub args: Vec<OsString>,
}

/// Replaces this process with `arbiter-bench ARGS…`.
pub fn run(args: BenchArgs) -> Result<ExitCode> {
    let me = std::env::current_exe().context("cannot find the arbiter binary")?;
    let sibling = me.with_file_name("arbiter-bench");
    let harness = if sibling.is_file() {
        sibling
    } else {
        PathBuf::from("arbiter-bench")
    };
    let err = Command::new(&harness)
        .args(&args.args)
        .env("ARBITER_BIN", &me)
        .exec();
    Err(err).with_context(|| {
        format!(
            "cannot run {} (the benchmark harness; build it with `cargo build -p arbiter-bench`)",
            harness.display()
        )
    })
}
