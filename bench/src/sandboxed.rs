//! Measurements through the real `arbiter run`: the brokered calls (timed inside the
//! sandbox by `arbiter-bench worker`) and the broker's memory. Whole programs are in
//! [`crate::programs`].

use std::io::{BufRead, BufReader};
use std::net::SocketAddrV4;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

use crate::stats::Summary;
use crate::workload::Kind;

/// How to start `arbiter run` for the bench.
#[derive(Debug, Clone)]
pub struct Runner {
    /// The `arbiter` binary under test (the broker).
    pub exe: PathBuf,
    /// This `arbiter-bench` binary, run inside the sandbox as `arbiter-bench worker`.
    pub worker: PathBuf,
    /// The sandbox's working directory, holding the target file.
    pub dir: PathBuf,
    /// The target file.
    pub file: PathBuf,
    /// The loopback listener.
    pub addr: SocketAddrV4,
    /// Further `arbiter run` options (`--no-fast-path` for the `brokered_stat_rt` entries).
    pub run_flags: Vec<String>,
}

impl Runner {
    fn run_cmd(&self) -> Command {
        let mut c = Command::new(&self.exe);
        c.current_dir(&self.dir).args([
            "run",
            "--connect",
            &self.addr.to_string(),
            "--connect",
            &format!("udp:{}", self.addr),
            "--resolve",
            "localhost",
        ]);
        c.args(&self.run_flags).arg("--");
        c
    }

    fn worker_cmd(&self, kind: Kind, threads: usize, procs: usize, iters: usize) -> Command {
        let mut c = self.run_cmd();
        c.arg(&self.worker).arg("worker").args([
            "--kind",
            kind.name(),
            "--threads",
            &threads.to_string(),
            "--procs",
            &procs.to_string(),
            "--iters",
            &iters.to_string(),
            "--file",
        ]);
        c.arg(&self.file)
            .args(["--addr", &self.addr.to_string(), "--host", "localhost"]);
        c
    }

    /// `brokered_*`: `iters` calls on each of `threads` threads in each of `procs` processes.
    pub fn brokered(
        &self,
        kind: Kind,
        threads: usize,
        procs: usize,
        iters: usize,
    ) -> Result<Summary> {
        let out = self
            .worker_cmd(kind, threads, procs, iters)
            .stdin(Stdio::null())
            .output()
            .context("cannot start arbiter run")?;
        if !out.status.success() {
            bail!(
                "arbiter-bench worker {} failed ({}): {}",
                kind.name(),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        serde_json::from_slice(&out.stdout).with_context(|| {
            format!(
                "arbiter-bench worker printed no summary: {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    /// Broker memory: the resident set of `arbiter run`'s broker process with `threads` idle
    /// sandboxed threads, each holding a registered call channel (one broker thread each).
    pub fn broker_rss(&self, threads: usize) -> Result<u64> {
        let mut child = self
            .worker_cmd(Kind::Idle, threads, 1, 1)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .context("cannot start arbiter run")?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line)?;
        let rss = if line.trim() == "ready" {
            // Let the channel threads settle into their blocking receive.
            std::thread::sleep(std::time::Duration::from_millis(100));
            broker_of(child.id()).and_then(vm_rss)
        } else {
            Err(anyhow::anyhow!("the idle worker did not get ready"))
        };
        drop(child.stdin.take()); // end of file on its stdin releases the worker
        let status = child.wait()?;
        let rss = rss?;
        if !status.success() {
            bail!("the idle worker failed ({status})");
        }
        Ok(rss)
    }
}

/// The broker of the `arbiter run` process `guardian`: its only child (docs/process-model.md).
fn broker_of(guardian: u32) -> Result<u32> {
    let children = std::fs::read_to_string(format!("/proc/{guardian}/task/{guardian}/children"))?;
    children
        .split_whitespace()
        .next()
        .and_then(|p| p.parse().ok())
        .context("arbiter run has no broker process")
}

/// `VmRSS` of a process, in bytes.
fn vm_rss(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .context("no VmRSS")?;
    Ok(kb * 1024)
}
