//! `arbiter-bench` (also run as `arbiter bench`): what a brokered call costs, next to what the same call costs natively
//! and what the channel's physical limit is, all measured in one run on one machine.
//!
//! 1. Native baselines run in this process: `native_open`, `native_stat`, `native_connect`
//!    (to a loopback listener this process starts), `native_getaddrinfo`.
//! 2. The physical limit ([`seqpacket`]): `bare_rt` and `ideal_open_rt`, a forked server
//!    built like a broker channel.
//! 3. Brokered calls ([`sandboxed`]): `arbiter run --connect … --resolve localhost --
//!    arbiter-bench worker …` times the same libc calls inside the sandbox, where the shim
//!    sends them to the broker; with 1, 2 and 8 threads and with 4 processes.
//!    `seccomp_open` and `seccomp_stat` time the same open and stat as raw `syscall()`s,
//!    which bypass the shim and reach the broker by seccomp user notification.
//!    `brokered_stat_rt` (and its `_tN`/`_pN` variants) runs the stat workload with
//!    `arbiter run --no-fast-path`: every call goes to the broker.
//!    `decider_stat` and `decider_open` time the same stat and open of a file no rule
//!    covers under `arbiter run --no-fast-path --decider 'arbiter-bench decider'`: every
//!    call is answered by an external decider over the JSON-lines protocol.
//! 4. Whole programs ([`programs`]): start-up (`run_true`, `run_python`), `git status` in
//!    a 5,000-file repository (`run_git_status`), `make -j2` of a small C project
//!    (`run_make`), the stat+open script and the tree walks, each against its `native_*`
//!    run; the rows of one program (native, `run`, the audit levels, the reference
//!    sandboxes) run interleaved, one run of each per round, so their ratios are side by
//!    side; then the broker's resident memory with 1 and 100 idle registered channels.
//!
//! [`crate::plot`] draws a report's p50 latencies per call family as an SVG.
//!
//! The machine may be busy and its idle CPUs slow to wake, so absolute figures move between
//! runs: compare the ratios, which come from one run.

use std::ffi::CString;
use std::io::{IsTerminal, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::{decided, programs, seqpacket, workload};

use crate::report::{Entry, Machine, Report};
use crate::sandboxed::Runner;
use crate::stats::Summary;
use crate::workload::{Kind, Target};

/// What to measure and how much.
#[derive(Debug, Clone)]
pub struct Options {
    /// Fewer iterations (the whole run under a minute), same result names.
    pub quick: bool,
    /// Timed calls per thread for the brokered single-thread runs (others scale from it).
    pub iters: Option<usize>,
    /// Thread counts for the brokered runs besides 1 (default 2 and 8).
    pub threads: Vec<usize>,
    /// Process count for the brokered multi-process runs.
    pub procs: usize,
    /// The `arbiter` binary under test.
    pub arbiter: PathBuf,
    /// Only these rows (`--only`), by exact name; every row when `None`.
    pub only: Option<Vec<String>>,
}

impl Options {
    /// Whether the row `name` is measured.
    pub fn wants(&self, name: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|only| only.iter().any(|o| o == name))
    }
}

/// The operations measured natively and brokered.
const KINDS: [Kind; 6] = [
    Kind::Open,
    Kind::Stat,
    Kind::Access,
    Kind::Connect,
    Kind::Getaddrinfo,
    Kind::Sendto,
];

/// Accepts and drops connections on a loopback port for the life of the process.
fn start_listener() -> Result<SocketAddrV4> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("bind a loopback port")?;
    let addr = match listener.local_addr()? {
        std::net::SocketAddr::V4(a) => a,
        std::net::SocketAddr::V6(_) => unreachable!("bound to 127.0.0.1"),
    };
    std::thread::Builder::new()
        .name("bench-listener".into())
        .spawn(move || {
            for conn in listener.incoming() {
                drop(conn);
            }
        })?;
    Ok(addr)
}

fn entry(name: impl Into<String>, s: Summary) -> Entry {
    Entry {
        name: name.into(),
        p50_ns: Some(s.p50_ns),
        p99_ns: Some(s.p99_ns),
        ops_per_s: Some(s.ops_per_s),
        n: s.n,
        bytes: None,
        cpu_p50_ns: None,
    }
}

/// Progress on stderr, so a long run shows where it is (`""` clears the line).
fn progress(name: &str) {
    let mut e = std::io::stderr();
    if !e.is_terminal() {
        return;
    }
    let dots = if name.is_empty() { "" } else { "…" };
    let _ = write!(e, "\r\x1b[K{name}{dots}");
    let _ = e.flush();
}

/// `name` (one thread), then `name_tN` for each of `opts.threads` and `name_pN` with
/// `opts.procs` processes, each with half the calls per thread.
fn brokered_family(
    runner: &Runner,
    kind: Kind,
    name: &str,
    iters: usize,
    opts: &Options,
    push: &mut impl FnMut(Entry),
) -> Result<()> {
    if opts.wants(name) {
        progress(name);
        push(entry(name, runner.brokered(kind, 1, 1, iters)?));
    }
    let fewer = (iters / 2).max(1);
    for &t in &opts.threads {
        let n = format!("{name}_t{t}");
        if opts.wants(&n) {
            progress(&n);
            push(entry(n, runner.brokered(kind, t, 1, fewer)?));
        }
    }
    let n = format!("{name}_p{}", opts.procs);
    if opts.wants(&n) {
        progress(&n);
        push(entry(n, runner.brokered(kind, 1, opts.procs, fewer)?));
    }
    Ok(())
}

/// A file every glibc system has, in the kernel floor and granted by the default policy.
const FLOOR_FILE: &str = "/etc/ld.so.cache";

/// Runs every measurement and returns the report.
pub fn run(opts: &Options) -> Result<Report> {
    let base = opts
        .iters
        .unwrap_or(if opts.quick { 2_000 } else { 20_000 });
    let net = (base / 4).max(1); // connect and getaddrinfo are slower per call
    let per_kind = |k: Kind| match k {
        Kind::Connect | Kind::Getaddrinfo | Kind::Sendto => net,
        _ => base,
    };
    let mut results = Vec::new();
    let mut push = |e: Entry| {
        results.push(e);
    };

    let dir = tempfile::Builder::new()
        .prefix("arbiter-bench-")
        .tempdir()
        .context("cannot create the bench directory")?;
    let dir_path = dir.path().canonicalize()?;
    let file = dir_path.join("target.txt");
    std::fs::write(&file, b"arbiter bench\n")?;
    let cfile = CString::new(file.as_os_str().as_bytes())?;

    // The physical limit first, while this process has a single thread.
    if opts.wants("bare_rt") {
        progress("bare_rt");
        push(entry("bare_rt", seqpacket::bare_rt(base)?));
    }
    if opts.wants("ideal_open_rt") {
        progress("ideal_open_rt");
        push(entry(
            "ideal_open_rt",
            seqpacket::ideal_open_rt(&cfile, base)?,
        ));
    }

    let addr = start_listener()?;
    let target = Target {
        path: cfile,
        addr,
        host: CString::new("localhost")?,
    };
    for kind in KINDS {
        if kind == Kind::Access {
            continue; // not a baseline the issue asks for; stat stands for it
        }
        let name = format!("native_{}", kind.name());
        if !opts.wants(&name) {
            continue;
        }
        progress(&name);
        push(entry(
            name,
            workload::measure_threads(kind, &target, 1, per_kind(kind) * 2)?,
        ));
    }

    let runner = Runner {
        exe: opts.arbiter.clone(),
        worker: std::env::current_exe().context("cannot find the arbiter-bench binary")?,
        dir: dir_path.clone(),
        file: PathBuf::from(&file),
        addr,
        run_flags: Vec::new(),
    };
    for kind in KINDS {
        let name = format!("brokered_{}", kind.name());
        brokered_family(&runner, kind, &name, per_kind(kind), opts, &mut push)?;
    }
    // The same stat with every call sent to the broker (no in-process fast path): what the
    // round trip itself costs next to bare_rt.
    let round_trip = Runner {
        run_flags: vec!["--no-fast-path".into()],
        ..runner.clone()
    };
    brokered_family(
        &round_trip,
        Kind::Stat,
        "brokered_stat_rt",
        base,
        opts,
        &mut push,
    )?;
    // The same open with every call sent to the broker: the bench's file lies in the
    // working directory, which the default policy grants in full, so brokered_open is a
    // native read decided by Landlock; this is the round trip to compare with ideal_open_rt.
    brokered_family(
        &round_trip,
        Kind::Open,
        "brokered_open_rt",
        base,
        opts,
        &mut push,
    )?;

    // The same stat and open of a file no rule covers, every call answered by an external
    // decider (`arbiter-bench decider`, allowing all, over the JSON-lines protocol): what a
    // decider's answer costs next to the policy's (brokered_stat_rt, brokered_open_rt).
    let outside = tempfile::Builder::new()
        .prefix("arbiter-bench-outside-")
        .tempdir_in("/var/tmp")
        .context("cannot create a directory outside the policy in /var/tmp")?;
    let outside_file = outside.path().canonicalize()?.join("target.txt");
    std::fs::write(&outside_file, b"arbiter bench\n")?;
    let me = std::env::current_exe().context("cannot find the arbiter-bench binary")?;
    let decided = Runner {
        file: outside_file,
        run_flags: vec![
            "--no-fast-path".into(),
            "--decider".into(),
            format!("{} decider", me.display()),
        ],
        ..runner.clone()
    };
    for kind in [Kind::Stat, Kind::Open] {
        let name = format!("decider_{}", kind.name());
        if !opts.wants(&name) {
            continue;
        }
        progress(&name);
        push(entry(name, decided.brokered(kind, 1, 1, base)?));
    }
    drop(outside);

    // An open of a file in the kernel floor that the policy grants: a native, marked open
    // decided by Landlock (see docs/security.md), next to the same open made natively.
    let floor_file = PathBuf::from(FLOOR_FILE);
    if floor_file.is_file() {
        let floor_target = Target {
            path: CString::new(FLOOR_FILE)?,
            ..target.clone()
        };
        if opts.wants("native_open_floor") {
            progress("native_open_floor");
            push(entry(
                "native_open_floor",
                workload::measure_threads(Kind::Open, &floor_target, 1, base * 2)?,
            ));
        }
        if opts.wants("brokered_open_floor") {
            progress("brokered_open_floor");
            let floor_runner = Runner {
                file: floor_file,
                ..runner.clone()
            };
            push(entry(
                "brokered_open_floor",
                floor_runner.brokered(Kind::Open, 1, 1, base)?,
            ));
        }
    }

    // Who decides: the same round trips in a library sandbox, by a rule and by a Rust master
    // that performs every call (see `decided`).
    for kind in [Kind::Stat, Kind::Open] {
        for by in [decided::By::Policy, decided::By::Master] {
            let name = format!("{}_{}_rt", by.name(), kind.name());
            if !opts.wants(&name) {
                continue;
            }
            progress(&name);
            push(entry(name, decided::measure(by, kind, base, &runner.file)?));
        }
    }

    // The same open and stat as raw system calls: the shim never sees them, the seccomp
    // notify filter sends them to the broker (compare with brokered_open/brokered_stat).
    for kind in [Kind::SeccompOpen, Kind::SeccompStat] {
        if !opts.wants(kind.name()) {
            continue;
        }
        progress(kind.name());
        push(entry(kind.name(), runner.brokered(kind, 1, 1, base)?));
    }

    progress("git_status and make fixtures");
    let (whole, skipped) = programs::all(&dir_path, opts.quick)?;
    for s in &skipped {
        progress("");
        eprintln!(
            "arbiter bench: skipping native_{0} and run_{0}: {1}",
            s.name, s.reason
        );
    }
    let audit_log = dir_path.join("bench-audit.jsonl");
    for program in &whole {
        let (mut rows, skipped) = programs::launches(program, &runner.exe, &audit_log);
        for reason in skipped {
            progress("");
            eprintln!("arbiter bench: skipping {reason}");
        }
        rows.retain(|(name, _)| opts.wants(name));
        if rows.is_empty() {
            continue;
        }
        // The rows compared with each other run interleaved, one run of each per round
        // (programs::interleave), so the machine's drift lands on all of them alike.
        progress(&format!(
            "{} ({} rows interleaved)",
            program.name,
            rows.len()
        ));
        let timed = program.time_rows(&rows, || {
            // Each run starts with an empty log, so its size does not grow from run to run.
            let _ = std::fs::remove_file(&audit_log);
            Ok(())
        })?;
        for ((name, _), t) in rows.into_iter().zip(timed) {
            push(Entry {
                cpu_p50_ns: t.cpu_p50_ns,
                ..entry(name, t.wall)
            });
        }
    }

    for idle in [1, 100] {
        let name = format!("broker_rss_{idle}");
        if !opts.wants(&name) {
            continue;
        }
        progress(&name);
        push(Entry::bytes(name, runner.broker_rss(idle)?));
    }
    progress("");
    drop(dir);
    for name in opts.only.iter().flatten() {
        if !results.iter().any(|e: &Entry| &e.name == name) {
            anyhow::bail!(
                "--only {name}: no row of that name was measured (a row named in the table \
                 of a full run, or one skipped above for a missing tool)"
            );
        }
    }
    Ok(Report {
        machine: Machine::here(),
        results,
    })
}

/// Reads a report written by [`write_json`].
pub fn read_json(path: &std::path::Path) -> Result<Report> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a bench report", path.display()))
}

/// Writes the report as pretty JSON to `out`.
pub fn write_json(report: &Report, out: &std::path::Path) -> Result<()> {
    let json = serde_json::to_string_pretty(report)?;
    std::fs::write(out, json + "\n").with_context(|| format!("cannot write {}", out.display()))
}
