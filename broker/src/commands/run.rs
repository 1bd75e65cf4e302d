//! `arbiter run [OPTIONS] -- CMD [ARGS…]`: run a command with its calls brokered.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use arbiter_policies::{Access, Loading, Policy, Source, Vars};

use crate::commands::audit_args::AuditArgs;
use crate::commands::decide_args::DecideArgs;
use crate::commands::policy_args::PolicyArgs;
use arbiter::audit::{self, event, Audit, Event};
use arbiter::confine;
use arbiter::confine::real_paths::RealPaths;
use arbiter::exit_code;
use arbiter::sandbox::private_tmp::PrivateTmp;
use arbiter::sandbox::program::{self, ProgramError};
use arbiter::sandbox::{environment, guardian, pidns, shim_path, supervise, Sandbox};
use arbiter::serve;

/// Options of `arbiter run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The policy and the rules added to it.
    #[command(flatten)]
    pub rules: PolicyArgs,
    /// The audit log.
    #[command(flatten)]
    pub log: AuditArgs,
    /// Accept an `--audit` file that lies where the policy lets the program write, create,
    /// remove or rename it (or its directory): the program can then truncate, forge or
    /// delete its own log. Without it such a log is refused (exit 125). A warning is printed.
    #[arg(long, requires = "audit")]
    pub audit_in_sandbox_reach: bool,
    /// Who decides what the policy leaves to its default (`--decider`, `--ask`).
    #[command(flatten)]
    pub decide: Box<DecideArgs>,
    /// Refuse to run (exit 125) unless both kernel layers, Landlock and seccomp, are enforced.
    #[arg(long)]
    pub strict: bool,
    /// Start the command with an empty environment (plus `--keep-env` and `--setenv`).
    #[arg(long)]
    pub clearenv: bool,
    /// Set NAME to VALUE in the command's environment.
    #[arg(long, num_args = 2, value_names = ["NAME", "VALUE"], action = clap::ArgAction::Append)]
    pub setenv: Vec<OsString>,
    /// Remove NAME from the command's environment.
    #[arg(long, value_name = "NAME")]
    pub unsetenv: Vec<OsString>,
    /// Pass NAME on although `--clearenv` is given or it looks like a credential (by default
    /// variables named like `*TOKEN*`, `*SECRET*`, `*PASSWORD*`, `*ACCESS_KEY*`, `SSH_AUTH_SOCK` are
    /// withheld; see docs/environment.md).
    #[arg(long, value_name = "NAME")]
    pub keep_env: Vec<OsString>,
    /// Start the command in DIR (it becomes the policy's `$PWD`; relative paths in other
    /// options and the command's own name are relative to it, as with `env --chdir`).
    #[arg(long, value_name = "DIR")]
    pub chdir: Option<PathBuf>,
    /// Do not print arbiter's notes on stderr (withheld variables, denials); warnings about
    /// weaker confinement and errors are still printed.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Do not broker the path syscalls that bypass the shim (static binaries, raw
    /// `syscall()`, ld.so's and glibc's internal opens) through seccomp user notification;
    /// the kernel floor then simply denies them.
    #[arg(long)]
    pub no_seccomp_transport: bool,
    /// Do not put the sandbox in a pid namespace of its own, even with `CAP_SYS_ADMIN` (as
    /// root, by default, it is one: nothing of it survives a SIGKILL of both arbiter
    /// processes; see docs/process-model.md). Without it a program sees its host pid.
    #[arg(long)]
    pub no_pid_namespace: bool,
    /// Send every call to the broker: no in-process fast paths (with `--audit-level all`,
    /// every record is then the broker's; none is reported by the shim).
    #[arg(long)]
    pub no_fast_path: bool,
    /// When the command ends, wait for the processes it left running (background jobs,
    /// daemons) instead of ending them; SIGINT, SIGTERM or SIGQUIT to arbiter then ends them
    /// all. By default they get SIGTERM, a second of grace, then SIGKILL, and arbiter
    /// exits with the command's status.
    #[arg(long, conflicts_with = "daemon")]
    pub wait_descendants: bool,
    /// Do not broker the command here: ask the `arbiter serve` daemon listening on PATH
    /// (or the abstract socket `@NAME`) for a sandbox, then become the command. The daemon
    /// chooses the policy; `--policy NAME` asks for one of the profiles it allows.
    #[arg(long, value_name = "PATH|@NAME", conflicts_with_all = ["audit", "audit_format", "audit_fsync", "audit_drop", "ro", "rx", "rw", "deny", "connect", "bind", "resolve"])]
    pub daemon: Option<OsString>,
    /// The command and its arguments. Options of arbiter's own come first; everything from
    /// the command's name on (or after `--`) is the command's, so a mistyped option before it
    /// is an error, not a command.
    #[arg(required = true, trailing_var_arg = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

fn random_id() -> u64 {
    let mut b = [0u8; 8];
    // SAFETY: b is a valid 8-byte buffer.
    unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
    u64::from_ne_bytes(b)
}

/// Runs the command; returns its exit status (see [`arbiter::exit_code`]).
pub fn run(args: RunArgs) -> Result<ExitCode> {
    if let Some(daemon) = &args.daemon {
        return run_via_daemon(&args, daemon);
    }
    let ran = run_with(args, None)?;
    // Every record is written (run_with waited for the audit log and the stderr lines) and
    // the sandbox has ended: the guardian may exit with the status now, without waiting for
    // this process's own exit (its threads and memory torn down by the kernel).
    use std::io::Write;
    let _ = std::io::stdout().flush();
    guardian::report(ran.status);
    // The pid namespace's init, alone since the command ended, goes now: its exit (and the
    // wait for it, during which the guardian runs) is off the path to arbiter's exit.
    pidns::end();
    Ok(ran.code)
}

/// The policy of a learning run: everything the broker can do is allowed and recorded. One
/// rule with nothing narrower beneath it (no `runtime`, whose read-only `/proc/self` would
/// refuse a JVM's write to its own `coredump_filter`), so the kernel floor also lets the
/// program execute anything, as the toolchain being learned does.
const LEARN_POLICY: &str = "version = 1\n[[fs]]\npath = \"/\"\nallow = \"all\"\n[[connect]]\nproto = \"any\"\n[[bind]]\nproto = \"any\"\n[[resolve]]\nname = \"*\"\n";

/// What a finished run leaves for its caller.
pub struct Ran {
    /// arbiter's exit status.
    pub code: ExitCode,
    /// The same status as a number (what `arbiter run` reports to its guardian).
    pub status: u8,
    /// The variables the policy was expanded with (None when the command never started).
    pub vars: Option<Vars>,
    /// The program's installation prefixes.
    pub prefixes: Vec<PathBuf>,
}

/// Runs the command; with `learning`, under a policy that allows everything the broker can
/// do, writing every call's audit record to that sink (see `arbiter learn`).
pub fn run_with(args: RunArgs, learning: Option<Box<dyn std::io::Write + Send>>) -> Result<Ran> {
    let early = |code: u8| Ran {
        code: ExitCode::from(code),
        status: code,
        vars: None,
        prefixes: Vec::new(),
    };
    // Every pid arbiter acts on is looked up in /proc: it must number processes as the
    // kernel numbers them for arbiter (red team finding 08), before anything is read there.
    arbiter::sandbox::procfs::check().context("cannot use /proc")?;
    // Before any thread exists, so every thread inherits the blocked signals.
    supervise::prepare().context("cannot set up signal handling")?;
    // The command's bootstrap socket and fast-path table take fixed descriptor numbers
    // just below 1024: a hard open-file limit below them leaves no room (say so here,
    // rather than "Bad file descriptor" from the spawn).
    arbiter::sandbox::tree::check_fixed_descriptors()?;
    // Still single-threaded and small: the user's pid stays behind as the guardian, this
    // process goes on as the broker (nothing of the sandbox survives either's death).
    guardian::fork().context("cannot start arbiter's guardian process")?;
    // In the broker (a fork copies only the table's used part), while it has one thread:
    // the command's fixed numbers are kept free of the broker's own descriptors, and the
    // table widened to them, since the command's child places its descriptors there in
    // the broker's table, shared until its exec (`listener_in_shared_table` below).
    arbiter::sandbox::tree::reserve_fixed_descriptors();
    // With CAP_SYS_ADMIN the sandbox gets a pid namespace whose init dies with this process
    // (nothing of it survives a SIGKILL of both arbiter processes); without, the guardian
    // and the subreaper stand alone. Only with the seccomp transport: a raw
    // `open("/proc/<getpid()>/…")` must reach the broker, which translates the sandbox's
    // pids (the kernel would resolve it on the host's /proc). Started below, on the main
    // thread, while the policy compiles.
    let pid_namespace = !args.no_pid_namespace
        && !args.no_seccomp_transport
        && confine::seccomp::notify_available();
    let env_choice = env_choice(&args)?;
    if let Some(dir) = &args.chdir {
        std::env::set_current_dir(dir)
            .with_context(|| format!("--chdir {}: cannot change to it", dir.display()))?;
    }
    // Created by a thread from here on, while this thread checks the rules, finds the
    // program and compiles the policy with the directory's name (private_tmp): on a busy
    // ext4 `/tmp` the `mkdir` alone takes ~1.4 ms of kernel time (docs/performance.md,
    // "session 8"). After `--chdir`, so a relative `$TMPDIR` means what it meant before.
    // A run that ends early (the program not found) removes it again when it is dropped.
    let tmpdir_making =
        PrivateTmp::start().context("cannot create the sandbox's private TMPDIR")?;
    // Paths in rules are real paths: `--rw ../x` becomes the path it names (after --chdir).
    let rules = args.rules.canonical()?;
    let args = RunArgs { rules, ..args };
    let path_var = std::env::var_os("PATH");
    let program = match program::find(&args.command[0], path_var.as_deref()) {
        Ok(p) => p,
        Err(e @ ProgramError::NotFound(_)) => {
            eprintln!("arbiter: {e}");
            return Ok(early(exit_code::NOT_FOUND));
        }
        Err(e @ ProgramError::NotExecutable(_)) => {
            eprintln!("arbiter: {e}");
            return Ok(early(exit_code::CANNOT_EXECUTE));
        }
    };
    let shim = shim_path::locate().map_err(anyhow::Error::msg)?;
    let pwd = std::env::current_dir().context("cannot read the current directory")?;
    let env_dir = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let pwd_now = pwd.clone();
    let vars = Vars {
        home: env_dir("HOME"),
        pwd: pwd.canonicalize().unwrap_or(pwd),
        tmpdir: tmpdir_making.path().to_path_buf(),
        xdg_config_home: env_dir("XDG_CONFIG_HOME"),
        xdg_cache_home: env_dir("XDG_CACHE_HOME"),
        xdg_data_home: env_dir("XDG_DATA_HOME"),
        xdg_runtime_dir: env_dir("XDG_RUNTIME_DIR"),
    };
    let mut sources: Vec<Source> = if learning.is_some() {
        vec![Source::Text {
            origin: "arbiter learn".into(),
            text: LEARN_POLICY.into(),
        }]
    } else {
        args.rules.sources()
    };
    // The sources are parsed once: the command-line additions are merged over them below.
    // They are compiled on a second thread while this one forks the pid namespace's init
    // (the init's death signal follows the thread that forked it: the main thread, which
    // lives as long as the broker); one after the other, the two took ~0.35 and ~0.18 ms
    // (docs/performance.md, "The critical path of `arbiter run`").
    let compile = || {
        let mut loading = Loading::new(&vars);
        for source in &sources {
            loading.add(source);
        }
        let base = loading.policy();
        (loading, base)
    };
    let reals = RealPaths::new();
    let (compiled, namespace) = std::thread::scope(|scope| {
        let compiling = std::thread::Builder::new()
            .name("policy".into())
            .spawn_scoped(scope, compile);
        let namespace = if pid_namespace {
            pidns::start().map(drop)
        } else {
            Ok(())
        };
        // While the policy compiles: the floor's fixed entries resolved for this start's
        // memo (each confirmed again by the survey when it opens them), which the floor's
        // preparation would otherwise ask the kernel for after the policy is ready.
        confine::floor::warm(&reals, &shim);
        let compiled = match compiling {
            Ok(thread) => thread
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            // No second thread: one after the other.
            Err(_) => compile(),
        };
        (compiled, namespace)
    });
    namespace.context("cannot start the sandbox's pid namespace")?;
    let (mut loading, base) = compiled;
    let base = base.context("invalid policy")?;
    // An installation prefix only ever adds access: where the policy already lets the
    // program read it (e.g. a tool in the writable working directory), no rule is added,
    // and the kernel floor still grants exec on it. A file the program may write or create
    // (its `#!` line, a symlink's target) is never followed to a prefix.
    let writable = |p: &std::path::Path| {
        base.decide_path(p, Access::WRITE).decision.allow
            || base.decide_path(p, Access::CREATE).decision.allow
    };
    let install = program::installation(&program, path_var.as_deref(), &writable);
    let mut prefixes = install.prefixes;
    // `--rx` paths are installation prefixes the user names: the kernel floor grants
    // executing from them, and the policy reading them (below, when it does not already).
    for p in &args.rules.rx {
        let real = p
            .canonicalize()
            .with_context(|| format!("--rx {}", p.display()))?;
        prefixes.push(real);
    }
    let unreadable: Vec<PathBuf> = prefixes
        .iter()
        .filter(|p| {
            !base
                .decide_path(p, Access::READ | Access::LIST)
                .decision
                .allow
        })
        .cloned()
        .collect();
    let additions = args.rules.additions_with_rx(unreadable);
    let source = additions
        .to_source()
        .context("invalid command-line addition")?;
    let policy = if additions.is_empty() {
        // No rule to merge (the source is a comment): the policy is the one just compiled.
        base
    } else {
        loading.add(&source);
        loading.policy().context("invalid policy")?
    };
    let policy = Arc::new(policy);
    drop(loading);
    sources.push(source);

    // From here on the directory is looked at on disk (the kernel floor's survey).
    let tmpdir = tmpdir_making.wait().with_context(|| {
        format!(
            "cannot create the sandbox's private TMPDIR {}",
            vars.tmpdir.display()
        )
    })?;
    let sandbox = random_id();
    let mut log_options = args.log.options()?;
    if let (Some(o), Some(arg)) = (&log_options, &args.log.audit) {
        let reach = crate::commands::audit_reach::check(&policy, &o.sink, "--audit", arg);
        match (reach, args.audit_in_sandbox_reach) {
            (Ok(()), _) => {}
            (Err(e), false) => return Err(e),
            (Err(e), true) => eprintln!("arbiter: warning: --audit-in-sandbox-reach: {e:#}"),
        }
    }
    // `--audit -` on a terminal the program shares: it can stop the terminal, so no call
    // waits for the log: records the queue cannot hold are dropped and counted, as with
    // `--audit-drop`, and the end of the run does not wait for a stopped terminal.
    let audit_on_terminal = matches!(&log_options, Some(o) if matches!(o.sink, audit::Sink::Stderr))
        && arbiter::stderr_lines::is_terminal();
    if let (true, Some(o)) = (audit_on_terminal, log_options.as_mut()) {
        o.drop = true;
    }
    let (audit, writer) = match (log_options, learning) {
        (_, Some(sink)) => {
            let (a, w) = Audit::to_writer(sink, sandbox);
            (a, Some(w))
        }
        (None, None) => (Audit::disabled(), None),
        (Some(opts), None) => {
            let (a, w) = Audit::open(opts, sandbox)?;
            (a, Some(w))
        }
    };

    let deciding = args.decide.start(&audit)?;
    let mut sandbox = Sandbox::new(policy)
        .audit(audit.clone())
        .shim(shim)
        .prefixes(prefixes.clone())
        .executables(install.files.clone())
        .seccomp_transport(!args.no_seccomp_transport)
        // No other thread of this broker forks or execs while the command is started.
        .listener_in_shared_table(true)
        .fast_path(!args.no_fast_path)
        .probe_dirs(probe_dirs())
        .report_denials(!args.quiet);
    if let Some(d) = &deciding {
        sandbox = sandbox.decider(d.decider());
    }
    let started = sandbox.real_paths(reals).start()?;
    let reporter = Arc::clone(started.core());
    audit.record(Event::Start(Box::new(start_record(
        &args,
        &program,
        reporter.policy(),
        &sources,
        started.confinement(),
    ))));
    let confinement = started.confinement();
    // --strict: every layer and feature, or nothing (each missing one is named).
    if args.strict && !confinement.missing.is_empty() {
        eprintln!(
            "arbiter: --strict: not enforced on this kernel: {}",
            confinement.missing.join("; ")
        );
        return Ok(early(exit_code::FAILED));
    }
    if !confinement.missing.is_empty() {
        eprintln!(
            "arbiter: warning: running with weaker confinement; missing: {}",
            confinement.missing.join("; ")
        );
    }

    let built = environment::build(std::env::vars_os(), &env_choice);
    if !built.withheld.is_empty() && !args.quiet {
        eprintln!(
            "arbiter: withheld {} environment variable(s) that look like credentials: {} (pass one with --keep-env NAME)",
            built.withheld.len(),
            built.withheld.join(", ")
        );
    }
    let mut env = built.vars;
    if args.chdir.is_some() {
        env.insert("PWD".into(), pwd_now.clone().into_os_string());
    }
    // The user's own preloads follow the shim, whatever the environment options say.
    match std::env::var_os("LD_PRELOAD").filter(|v| !v.is_empty()) {
        Some(existing) => env.insert("LD_PRELOAD".into(), existing),
        None => env.remove(std::ffi::OsStr::new("LD_PRELOAD")),
    };
    env.insert("TMPDIR".into(), vars.tmpdir.clone().into_os_string());
    let running = match started.spawn(&program, &args.command, env) {
        Ok(running) => running,
        Err(e) => {
            let code = match e.raw_os_error() {
                Some(libc::ENOENT) => exit_code::NOT_FOUND,
                Some(libc::EACCES | libc::ENOEXEC | libc::EPERM | libc::EISDIR) => {
                    exit_code::CANNOT_EXECUTE
                }
                _ => exit_code::FAILED,
            };
            eprintln!("arbiter: cannot execute {}: {e}", program.display());
            return Ok(early(code));
        }
    };
    let leftovers = if args.wait_descendants {
        supervise::Leftovers::Wait
    } else {
        supervise::Leftovers::End
    };
    // The decider process is arbiter's child but not the sandbox's: it is neither waited
    // for nor ended with the sandbox.
    for pid in deciding.as_ref().map(|d| d.besides()).unwrap_or_default() {
        supervise::exempt(pid);
    }
    let pid = running.pid();
    let ended = running.supervise(leftovers, &|| {
        if let Some(w) = &writer {
            w.reopen();
        }
    });
    if let Some(d) = &deciding {
        if let Err(e) = d.finish(&sources, &args.command) {
            arbiter::core::denials::write_line(&format!("arbiter: {e:#}\n"));
        }
    }
    if let Some(summary) = reporter.denials().summary() {
        arbiter::core::denials::write_line(&format!("{summary}\n"));
    }
    // What the shim reported goes in before the `exit` record.
    reporter.finish_reports();
    drop(reporter);
    let code = ended.code();
    let dropped = if audit_on_terminal {
        end_log_on_terminal(audit, writer, pid, code)
    } else {
        let dropped = audit.exit(pid, Some(code));
        drop(audit);
        if let Some(failed) = writer.and_then(|w| w.finish()) {
            // The log is missing records (a full filesystem, say): said here, since the
            // log itself cannot say it (docs/audit.md, "Delivery").
            arbiter::core::denials::write_line(&format!(
                "arbiter: audit: writing the log failed {} time(s) (first: {}): records are missing from it\n",
                failed.count, failed.first
            ));
        }
        dropped
    };
    if dropped > 0 {
        let why = if audit_on_terminal {
            "the log is on a terminal"
        } else {
            "--audit-drop"
        };
        arbiter::core::denials::write_line(&format!(
            "arbiter: audit: {dropped} records dropped ({why}: the log could not keep up)\n"
        ));
    }
    // The lines still queued for stderr are written while it takes them; a terminal the
    // program left stopped does not keep the run from ending (src/stderr_lines.rs).
    arbiter::stderr_lines::finish();
    drop(tmpdir);
    Ok(Ran {
        code: ended.into(),
        status: ended.code(),
        vars: Some(vars),
        prefixes,
    })
}

/// Writes the `exit` record and waits for the log on a terminal to be written, while the
/// terminal takes output: a terminal the program left stopped ([`stderr_lines::stalled`])
/// is given up on, and the records not yet written are lost. Returns the records dropped.
///
/// [`stderr_lines::stalled`]: arbiter::stderr_lines::stalled
fn end_log_on_terminal(
    audit: Audit,
    writer: Option<arbiter::audit::WriterHandle>,
    pid: i32,
    code: u8,
) -> u64 {
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let ending = std::thread::Builder::new()
        .name("audit-end".into())
        .spawn(move || {
            let dropped = audit.exit(pid, Some(code));
            drop(audit);
            if let Some(w) = writer {
                // A terminal that fails (closed, hung up) has nobody to tell.
                let _ = w.finish();
            }
            let _ = done_tx.send(dropped);
        });
    if ending.is_err() {
        return 0;
    }
    loop {
        match done_rx.recv_timeout(std::time::Duration::from_millis(100)) {
            Ok(dropped) => return dropped,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return 0,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if arbiter::stderr_lines::stalled() {
                    return 0;
                }
            }
        }
    }
}

/// The environment options, checked before anything runs.
fn env_choice(args: &RunArgs) -> Result<environment::EnvChoice> {
    let mut choice = environment::EnvChoice {
        clear: args.clearenv,
        keep: args.keep_env.clone(),
        unset: args.unsetenv.clone(),
        set: args
            .setenv
            .chunks(2)
            .map(|pair| (pair[0].clone(), pair[1].clone()))
            .collect(),
    };
    let names = choice
        .keep
        .iter()
        .chain(choice.unset.iter())
        .chain(choice.set.iter().map(|(n, _)| n));
    for name in names {
        environment::valid_name(name).map_err(anyhow::Error::msg)?;
    }
    choice.keep.dedup();
    Ok(choice)
}

/// The `start` record: the command, the policy that decides (its digest and where it came
/// from) and the kernel layers enforced under it.
fn start_record(
    args: &RunArgs,
    program: &std::path::Path,
    policy: &Policy,
    sources: &[Source],
    confinement: &confine::Confinement,
) -> event::Start {
    let sources: Vec<String> = sources
        .iter()
        .map(|s| match s {
            Source::Builtin(name) => format!("builtin:{name}"),
            Source::File(path) => path.display().to_string(),
            Source::Text { origin, .. } => origin.clone(),
        })
        .collect();
    let features: Vec<&str> = confine::landlock::features(confinement.landlock_abi)
        .into_iter()
        .filter(|(_, on)| *on && confinement.landlock)
        .map(|(what, _)| what)
        .collect();
    let mut filters = Vec::new();
    if confinement.seccomp {
        filters.push("errno");
        if confinement.notify {
            filters.push("notify");
        }
    }
    event::Start {
        command: args
            .command
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
        program: Some(program.display().to_string()),
        policy: event::PolicyId {
            digest: policy.digest(),
            sources,
        },
        layers: Some(event::Layers {
            landlock: event::LandlockLayer {
                enforced: confinement.landlock,
                abi: confinement.landlock_abi,
                features,
            },
            seccomp: event::SeccompLayer {
                enforced: confinement.seccomp,
                filters,
            },
            seccomp_transport: confinement.notify,
            missing: confinement.missing.clone(),
        }),
        ..event::Start::default()
    }
}

/// `arbiter run --daemon PATH|@NAME`: the daemon decides the policy, so only a profile
/// name may be asked for.
fn run_via_daemon(args: &RunArgs, daemon: &std::ffi::OsStr) -> Result<ExitCode> {
    let profile = match args.rules.policy.as_slice() {
        [] => None,
        [one] if arbiter::policy_lookup::is_name(one) => Some(one.as_str()),
        _ => anyhow::bail!(
            "with --daemon, --policy takes one profile name the daemon allows, not a file"
        ),
    };
    serve::client::launch(serve::client::Request {
        endpoint: serve::listen::Endpoint::parse(daemon),
        profile,
        strict: args.strict,
        command: &args.command,
    })
}

/// The directories a command probes most where the policy usually refuses everything: the
/// home directory and each `PATH` entry (a shell's command search stats each candidate).
fn probe_dirs() -> Vec<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(std::env::var_os("HOME").map(PathBuf::from))
        .filter(|d| d.is_absolute())
        .collect()
}
