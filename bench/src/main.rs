//! `arbiter-bench [--quick] [--threads N…] [--only ROW,…] --out FILE.json [--plot FILE.svg]`: measure
//! brokered calls against native calls and the channel's physical limit (see
//! [`harness`]); `arbiter-bench --from FILE.json --plot FILE.svg` draws an existing
//! report; and `arbiter-bench worker`, the hidden half that times calls inside the sandbox.
//!
//! The harness lives outside the product binary: `arbiter bench ARGS…` runs this program
//! (found next to `arbiter`, then on `PATH`) with `ARBITER_BIN` naming the `arbiter` under
//! test.

mod decided;
mod decider;
mod harness;
mod plot;
mod programs;
mod report;
mod sandboxed;
mod seqpacket;
mod stats;
mod workload;

use std::ffi::CString;
use std::net::SocketAddrV4;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};

use clap::{Parser, Subcommand};

use crate::harness as bench;

/// arbiter-bench: measure brokered calls against native calls and the channel's limit.
#[derive(Debug, Parser)]
#[command(
    name = "arbiter-bench",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    worker: Option<Sub>,
    #[command(flatten)]
    bench: BenchArgs,
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// Time calls inside a sandbox (internal: run by the bench itself).
    #[command(hide = true)]
    Worker(WorkerArgs),
    /// Run the worker in a library sandbox decided by the policy or a Rust master
    /// (internal: run by the bench itself).
    #[command(hide = true)]
    Decided(decided::DecidedArgs),
    /// Answer arbiter's decider requests, allowing all (internal: the `decider_*` rows).
    #[command(hide = true)]
    Decider,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.worker {
        Some(Sub::Worker(args)) => worker(args),
        Some(Sub::Decided(args)) => decided::run(args),
        Some(Sub::Decider) => decider::serve().map(|()| ExitCode::SUCCESS),
        None => run(cli.bench),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("arbiter-bench: {e:#}");
            ExitCode::from(arbiter::exit_code::FAILED)
        }
    }
}

/// The `arbiter` binary under test: `--arbiter`, else `ARBITER_BIN` (set by `arbiter
/// bench`), else the `arbiter` next to this program.
fn arbiter_binary(given: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(p) = given.or_else(|| std::env::var_os("ARBITER_BIN").map(PathBuf::from)) {
        return Ok(p);
    }
    let me = std::env::current_exe().context("cannot find the arbiter-bench binary")?;
    let sibling = me.with_file_name("arbiter");
    if sibling.is_file() {
        Ok(sibling)
    } else {
        anyhow::bail!(
            "no arbiter binary next to {}: pass --arbiter PATH",
            me.display()
        )
    }
}

/// Options of `arbiter-bench`.
#[derive(Debug, clap::Args)]
struct BenchArgs {
    /// The `arbiter` binary to measure (default: `ARBITER_BIN`, else the one next to this).
    #[arg(long, value_name = "PATH")]
    arbiter: Option<PathBuf>,
    /// Fewer iterations: the whole run takes under a minute; the result names are the same.
    #[arg(long)]
    quick: bool,
    /// Thread counts for the multi-threaded brokered runs (suffix `_tN`).
    #[arg(long, num_args = 1.., default_values_t = [2usize, 8])]
    threads: Vec<usize>,
    /// Timed calls per thread of the single-thread brokered runs (others scale from it).
    #[arg(long, value_name = "N")]
    iters: Option<usize>,
    /// Write the JSON report to FILE.
    #[arg(long, value_name = "FILE", required_unless_present = "from")]
    out: Option<PathBuf>,
    /// Do not measure: read the report FILE (written by `--out`), print its table and plot.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["quick", "threads", "iters", "out", "only"])]
    from: Option<PathBuf>,
    /// Measure only these rows, by their exact names in the report (comma-separated or
    /// repeated), e.g. `--only native_git_status,run_git_status,run_audit_all_git_status`;
    /// the rows of one program still run interleaved. Name the `native_*` row too for a
    /// ratio. A name that no row has is an error.
    #[arg(long, value_name = "NAME,…", value_delimiter = ',', num_args = 1..)]
    only: Option<Vec<String>>,
    /// Also draw the p50 latency of each call family as an SVG image in FILE.
    #[arg(long, value_name = "FILE")]
    plot: Option<PathBuf>,
}

/// Runs the bench (or reads a report), writes the report and the plot, prints the table.
fn run(args: BenchArgs) -> Result<ExitCode> {
    let report = match &args.from {
        Some(from) => bench::read_json(from)?,
        None => {
            let opts = bench::Options {
                quick: args.quick,
                iters: args.iters,
                threads: args.threads,
                procs: 4,
                arbiter: arbiter_binary(args.arbiter)?,
                only: args.only.clone(),
            };
            bench::run(&opts)?
        }
    };
    if let Some(out) = &args.out {
        bench::write_json(&report, out)?;
    }
    if let Some(plot) = &args.plot {
        std::fs::write(plot, plot::render(&report))
            .with_context(|| format!("cannot write {}", plot.display()))?;
    }
    print!("{}", report.table());
    Ok(ExitCode::SUCCESS)
}

/// Options of the hidden `arbiter-bench worker`.
#[derive(Debug, clap::Args)]
struct WorkerArgs {
    /// The call to time.
    #[arg(long, value_enum)]
    kind: workload::Kind,
    /// Threads per process.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Processes (forked; each runs one thread).
    #[arg(long, default_value_t = 1)]
    procs: usize,
    /// Timed calls per thread.
    #[arg(long)]
    iters: usize,
    /// File to open, stat and access.
    #[arg(long)]
    file: PathBuf,
    /// Loopback address to connect to.
    #[arg(long)]
    addr: SocketAddrV4,
    /// Host name to resolve.
    #[arg(long)]
    host: String,
}

/// Times the calls and prints one JSON summary on stdout (`ready` for `--kind idle`).
fn worker(args: WorkerArgs) -> Result<ExitCode> {
    let target = workload::Target {
        path: CString::new(args.file.as_os_str().as_bytes())?,
        addr: args.addr,
        host: CString::new(args.host)?,
    };
    if args.kind == workload::Kind::Idle {
        workload::idle(&target, args.threads)?;
        return Ok(ExitCode::SUCCESS);
    }
    let summary = if args.procs > 1 {
        workload::measure_procs(args.kind, &target, args.procs, args.iters)?
    } else {
        workload::measure_threads(args.kind, &target, args.threads, args.iters)?
    };
    println!(
        "{}",
        serde_json::to_string(&summary).context("cannot encode the summary")?
    );
    Ok(ExitCode::SUCCESS)
}
