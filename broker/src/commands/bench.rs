//! `arbiter bench [--quick] [--threads N…] --out FILE.json [--plot FILE.svg]`: measure
//! brokered calls against native calls and the channel's physical limit (see
//! [`crate::bench`]); `arbiter bench --from FILE.json --plot FILE.svg` draws an existing
//! report; and `arbiter bench-worker`, the hidden half that times calls inside the sandbox.

use std::ffi::CString;
use std::net::SocketAddrV4;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::bench::{self, workload};

/// Options of `arbiter bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Fewer iterations: the whole run takes under a minute; the result names are the same.
    #[arg(long)]
    pub quick: bool,
    /// Thread counts for the multi-threaded brokered runs (suffix `_tN`).
    #[arg(long, num_args = 1.., default_values_t = [2usize, 8])]
    pub threads: Vec<usize>,
    /// Timed calls per thread of the single-thread brokered runs (others scale from it).
    #[arg(long, value_name = "N")]
    pub iters: Option<usize>,
    /// Write the JSON report to FILE.
    #[arg(long, value_name = "FILE", required_unless_present = "from")]
    pub out: Option<PathBuf>,
    /// Do not measure: read the report FILE (written by `--out`), print its table and plot.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["quick", "threads", "iters", "out"])]
    pub from: Option<PathBuf>,
    /// Also draw the p50 latency of each call family as an SVG image in FILE.
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
}

/// Runs the bench (or reads a report), writes the report and the plot, prints the table.
pub fn run(args: BenchArgs) -> Result<ExitCode> {
    let report = match &args.from {
        Some(from) => bench::read_json(from)?,
        None => {
            let opts = bench::Options {
                quick: args.quick,
                iters: args.iters,
                threads: args.threads,
                procs: 4,
            };
            bench::run(&opts)?
        }
    };
    if let Some(out) = &args.out {
        bench::write_json(&report, out)?;
    }
    if let Some(plot) = &args.plot {
        std::fs::write(plot, bench::plot::render(&report))
            .with_context(|| format!("cannot write {}", plot.display()))?;
    }
    print!("{}", report.table());
    Ok(ExitCode::SUCCESS)
}

/// Options of the hidden `arbiter bench-worker`.
#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    /// The call to time.
    #[arg(long, value_enum)]
    pub kind: workload::Kind,
    /// Threads per process.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Processes (forked; each runs one thread).
    #[arg(long, default_value_t = 1)]
    pub procs: usize,
    /// Timed calls per thread.
    #[arg(long)]
    pub iters: usize,
    /// File to open, stat and access.
    #[arg(long)]
    pub file: PathBuf,
    /// Loopback address to connect to.
    #[arg(long)]
    pub addr: SocketAddrV4,
    /// Host name to resolve.
    #[arg(long)]
    pub host: String,
}

/// Times the calls and prints one JSON summary on stdout (`ready` for `--kind idle`).
pub fn worker(args: WorkerArgs) -> Result<ExitCode> {
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
