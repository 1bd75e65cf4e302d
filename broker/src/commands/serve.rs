//! `arbiter serve --listen PATH|@NAME`: serve sandboxes for `arbiter run --daemon` clients.

use std::ffi::OsString;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::commands::audit_args::AuditArgs;
use arbiter::audit::event::Lifecycle;
use arbiter::audit::{self, Audit, Event};
use arbiter::exit_code;
use arbiter::serve::limits::LIMITS;
use arbiter::serve::listen::{self, Endpoint, Listener};
use arbiter::serve::{self as daemon, Ended, Options};

/// Options of `arbiter serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Listen on this socket path, or on the abstract socket NAME (`@NAME`). Not needed
    /// when systemd passes the socket (LISTEN_FDS/LISTEN_PID) or with --inherit-stdin.
    #[arg(long, value_name = "PATH|@NAME")]
    pub listen: Option<OsString>,
    /// Validate the daemon configuration FILE (and every profile it names), print each
    /// problem as `file:line:column: message`, and exit: 0 when valid, 1 otherwise.
    #[arg(long, value_name = "FILE", exclusive = true)]
    pub check_config: Option<PathBuf>,
    /// Serve the listening SOCK_SEQPACKET socket on fd 0 (bound by someone else, e.g. a
    /// socket binder). systemd's LISTEN_FDS/LISTEN_PID (fd 3) is used without this flag.
    #[arg(long, conflicts_with = "listen")]
    pub inherit_stdin: bool,
    /// The socket file's permissions (octal); it never exists with looser ones.
    #[arg(long, value_name = "OCTAL", default_value = "0600", value_parser = parse_mode)]
    pub mode: u32,
    /// listen(2) backlog.
    #[arg(long, value_name = "N", default_value_t = 128)]
    pub backlog: i32,
    /// Refuse to start (exit 125) when a stale socket from a dead daemon is in the way,
    /// instead of replacing it.
    #[arg(long)]
    pub no_replace_stale: bool,
    /// Exit (status 125) when the socket path is replaced or removed while serving.
    #[arg(long)]
    pub exit_on_stolen: bool,
    /// Which users and groups may use which profiles (see docs/serve.md). Without it, only
    /// the daemon's own uid is served, with the `default` profile.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The audit log.
    #[command(flatten)]
    pub log: AuditArgs,
    /// Seconds live sandboxes get after SIGTERM before they are killed.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub grace: f64,
    /// Set a limit, over the config file's `[limits]` (repeatable): sandboxes,
    /// sandboxes_per_uid, channels, channels_per_uid, pending, pending_per_uid.
    #[arg(long = "limit", value_name = "KEY=N", value_parser = parse_limit)]
    pub limits: Vec<(&'static str, usize)>,
}

fn parse_limit(s: &str) -> Result<(&'static str, usize), String> {
    let keys = || LIMITS.iter().map(|l| l.key).collect::<Vec<_>>().join(", ");
    let (key, value) = s
        .split_once('=')
        .ok_or_else(|| format!("expected KEY=N, where KEY is one of {}", keys()))?;
    let setting = LIMITS
        .iter()
        .find(|l| l.key == key.trim())
        .ok_or_else(|| format!("unknown limit `{key}` (expected one of {})", keys()))?;
    let n: usize = value
        .trim()
        .parse()
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("{key}: expected a positive integer, not `{value}`"))?;
    Ok((setting.key, n))
}

/// Raises the soft limit on open files to the hard one: each channel of each sandbox is
/// an fd, and the default soft limit (1024) is below the default channel limit's needs.
fn raise_nofile() {
    // SAFETY: rl is a valid rlimit out-parameter.
    let mut rl: libc::rlimit = unsafe { std::mem::zeroed() };
    // SAFETY: as above; setrlimit reads rl.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) == 0 && rl.rlim_cur < rl.rlim_max {
            rl.rlim_cur = rl.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &rl);
        }
    }
}

fn parse_mode(s: &str) -> Result<u32, String> {
    let m = u32::from_str_radix(s.trim_start_matches("0o"), 8)
        .map_err(|e| format!("not an octal mode: {e}"))?;
    if m > 0o777 {
        return Err("only the permission bits (at most 0777) are allowed".into());
    }
    Ok(m)
}

/// The audit log as `arbiter run` opens it: the same sinks, format, fsync, queue and drop
/// policy.
fn open_audit(args: &ServeArgs) -> Result<(Audit, Option<audit::WriterHandle>)> {
    let Some(opts) = args.log.options()? else {
        return Ok((Audit::disabled(), None));
    };
    let (a, w) = Audit::open(opts, 0)?;
    Ok((a, Some(w)))
}

fn get_listener(args: &ServeArgs) -> Result<Listener> {
    let inherited = if args.inherit_stdin {
        Some(0)
    } else {
        listen::systemd_fd().map_err(anyhow::Error::msg)?
    };
    if let Some(fd) = inherited {
        // SAFETY: fd 0 or 3 was handed to us by the process that started us; nothing in
        // this process uses it otherwise.
        return Ok(unsafe { listen::inherit(fd) }?);
    }
    let Some(arg) = &args.listen else {
        bail!("no socket to serve: give --listen PATH|@NAME, --inherit-stdin (a socket on fd 0), or start under systemd socket activation (LISTEN_FDS/LISTEN_PID)");
    };
    let opts = listen::Options {
        mode: args.mode,
        backlog: args.backlog,
        replace_stale: !args.no_replace_stale,
        lock_timeout: Duration::from_secs(2),
    };
    Ok(listen::listen(&Endpoint::parse(arg), &opts)?)
}

/// Runs the daemon until SIGTERM/SIGINT (or checks a configuration).
pub fn run(args: ServeArgs) -> Result<ExitCode> {
    if let Some(file) = &args.check_config {
        return Ok(arbiter::serve::check::run(file));
    }
    // Before any thread exists, so every thread inherits the blocked signals.
    let signals = daemon::block_signals()?;
    let config = daemon::load_config(args.config.as_deref(), &args.limits)?;
    raise_nofile();
    arbiter::serve::threads::install_handler()
        .context("cannot install the thread wake-up handler")?;
    let shim = arbiter::sandbox::shim_path::locate().map_err(anyhow::Error::msg)?;
    let listener = get_listener(&args)?;
    // The listener is bound (its mode came from a temporary umask, restored). From here the
    // broker creates files for its clients with exactly the mode each caller's own umask
    // allows, so the daemon's umask is 0, as in `arbiter run`.
    // SAFETY: umask has no memory effects; no thread has started yet.
    unsafe { libc::umask(0) };
    nix::fcntl::fcntl(
        listener.fd.as_raw_fd(),
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    )
    .context("cannot make the listening socket non-blocking")?;
    // From here on the broker creates files with exactly the mode the client's umask gave.
    // SAFETY: umask has no memory effects.
    unsafe { libc::umask(0) };
    let (audit, writer) = match open_audit(&args) {
        Ok(a) => a,
        Err(e) => {
            listener.remove_if_ours();
            return Err(e);
        }
    };
    let place = match (&listener.owned, &args.listen) {
        (Some((p, _)), _) => p.display().to_string(),
        (None, Some(l)) => l.to_string_lossy().into_owned(),
        (None, None) => "inherited socket".into(),
    };
    eprintln!("arbiter serve: listening on {place}");
    audit.record(Event::Lifecycle(Lifecycle::Listening {
        at: place,
        pid: std::process::id(),
        limits: config.limits.to_json(),
    }));
    let opts = Options {
        shim,
        limits: args.limits.clone(),
        config: args.config.clone(),
        exit_on_stolen: args.exit_on_stolen,
        grace: Duration::from_secs_f64(args.grace.max(0.0)),
    };
    let ended = daemon::serve(
        listener,
        signals,
        config,
        audit.clone(),
        writer.as_ref(),
        &opts,
    );
    // Every record up to the last is on disk before the daemon exits (the writer is
    // detached: a thread still blocked for a sandbox cannot hold the exit up).
    if !audit.flush(Duration::from_secs(10)) {
        arbiter::stderr_lines::say(
            "arbiter serve: the audit log did not confirm its last records in 10 s\n",
        );
    }
    arbiter::stderr_lines::finish();
    Ok(match ended {
        Ended::Signal => ExitCode::SUCCESS,
        Ended::Stolen => ExitCode::from(exit_code::FAILED),
    })
}
