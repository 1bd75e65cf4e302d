//! The [`Sandbox`] value: one sandbox's bootstrap socket, both transports (the shim's
//! channels and seccomp user notification) and its request core, and the command started
//! in it. `arbiter run` and the master API ([`crate::master`]) are callers of it.
//!
//! Three steps, so a caller can look at what the kernel enforces before anything runs:
//! [`Sandbox`] (what to decide with) → [`Sandbox::start`] → [`Started`] (the confinement is
//! prepared and the broker serves the bootstrap socket) → [`Started::spawn`] →
//! [`Running`] (the command runs; wait for it). `arbiter serve`, whose clients' launchers
//! confine themselves and exec the command, uses [`Sandbox::serve_elsewhere`] instead.
//!
//! Starting changes two process-wide settings of the caller: its umask becomes 0 (the
//! broker applies each caller's own umask to what it creates; the command starts with the
//! caller's umask restored), and arbiter's own signal handling is left to the caller
//! ([`Running::wait`] waits for the command alone; `arbiter run` uses
//! [`super::supervise`] instead, which also reaps what the command leaves behind).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::{Context, Result};
use arbiter_policies::Policy;
use arbiter_protocol::{DEFAULT_BOOTSTRAP_FD, ENV_FD, ENV_SECCOMP, ENV_SHIM};

use super::spawn::{self, Launch, PreExec};
use super::supervise::{self, Ended};
use super::{program, shim_path};
use crate::audit::Audit;
use crate::confine::real_paths::RealPaths;
use crate::confine::{self, Confinement};
use crate::core::decider::Decider;
use crate::core::RequestCore;
use crate::master::Master;
use crate::transport;
use crate::transport::shim::{ChannelAdmit, ChannelSetup};

/// What a sandbox decides with, and how it confines; [`Sandbox::start`] sets it up.
pub struct Sandbox {
    policy: Arc<Policy>,
    audit: Audit,
    shim: Option<PathBuf>,
    prefixes: Vec<PathBuf>,
    executables: Vec<PathBuf>,
    seccomp_transport: bool,
    fast_path: bool,
    report_denials: bool,
    decider: Option<Arc<dyn Decider>>,
    /// Directories whose probes the shim may refuse in-process ([`Sandbox::probe_dirs`]).
    probe_dirs: Vec<PathBuf>,
    /// For [`Sandbox::serve_elsewhere`]: the floor of a seccomp listener the launcher sends.
    floor: Option<transport::seccomp::Floor>,
    /// For [`Sandbox::serve_elsewhere`]: run in each channel thread and seccomp worker.
    setup: Option<ChannelSetup>,
    /// For [`Sandbox::serve_elsewhere`]: asked before each new channel.
    admit: Option<ChannelAdmit>,
    /// This start's memo of real paths, when the caller warmed one ([`Sandbox::real_paths`]).
    reals: Option<RealPaths>,
    /// The command's child shares this process's descriptor table until it execs
    /// ([`Sandbox::listener_in_shared_table`]).
    shared_table: bool,
}

/// A sandbox served for a command started elsewhere ([`Sandbox::serve_elsewhere`]).
pub struct Handover {
    /// The request core deciding every call.
    pub core: Arc<RequestCore>,
    /// The sandbox's end of the bootstrap socket, for the launcher.
    pub child_end: OwnedFd,
    /// A duplicate of the broker's end: shutting it down ends the sandbox's registrations.
    pub broker_end: OwnedFd,
    /// The thread serving the bootstrap socket; finished once every process holding the
    /// sandbox's end has exited.
    pub served: JoinHandle<()>,
}

/// Why [`Sandbox::serve_elsewhere`] failed.
#[derive(Debug, thiserror::Error)]
pub enum HandoverError {
    /// The bootstrap socket pair could not be made.
    #[error("socketpair: {0}")]
    Socket(#[source] nix::Error),
    /// The broker's end could not be duplicated.
    #[error("cannot duplicate the bootstrap socket")]
    Duplicate(#[source] std::io::Error),
    /// The serving thread could not start.
    #[error("cannot serve the sandbox: {0}")]
    Serve(#[source] std::io::Error),
}

impl Sandbox {
    /// A sandbox deciding with `policy`, no audit log, both transports, the shim's fast
    /// paths on, the shim found where [`shim_path::locate`] looks.
    pub fn new(policy: Arc<Policy>) -> Sandbox {
        Sandbox {
            policy,
            audit: Audit::disabled(),
            shim: None,
            prefixes: Vec::new(),
            executables: Vec::new(),
            seccomp_transport: true,
            fast_path: true,
            report_denials: false,
            decider: None,
            probe_dirs: Vec::new(),
            floor: None,
            setup: None,
            admit: None,
            reals: None,
            shared_table: false,
        }
    }

    /// A sandbox with no policy of its own: only the built-in `runtime` profile (what any
    /// dynamically linked program needs to start), everything else left to the decider
    /// (a [`Master`], say) — and denied when none decides.
    pub fn without_policy() -> Result<Sandbox> {
        let policy = Policy::load(
            &[arbiter_policies::Source::Text {
                origin: "arbiter::sandbox::Sandbox::without_policy".into(),
                text: "version = 1\nextends = [\"runtime\"]\n".into(),
            }],
            &arbiter_policies::Vars::default(),
        )
        .context("the runtime profile")?;
        Ok(Sandbox::new(Arc::new(policy)))
    }

    /// Starts with `reals`, a memo of real paths made for this start alone and warmed
    /// (`confine::floor::warm`) while the caller did other work: the floor's preparation
    /// asks it instead of the kernel where it already knows the answer, and the survey
    /// confirms every object it remembers (`confine::floor::survey`). Never one shared
    /// with another start.
    pub fn real_paths(mut self, reals: RealPaths) -> Sandbox {
        self.reals = Some(reals);
        self
    }

    /// Starts the command in a child that shares this process's descriptor table until it
    /// execs (`CLONE_FILES`), so the seccomp listener it creates is the broker's at once:
    /// no round trip on the bootstrap socket between the filter's installation and the
    /// exec (docs/performance.md, "Session 10"). Only for a caller none of whose other
    /// threads forks or execs while [`Started::spawn`] runs (`arbiter run`): the command's
    /// fixed descriptors are placed in the shared table, without close-on-exec, until the
    /// child has exec'd. The caller reserves those numbers first, while it has one thread
    /// ([`super::tree::reserve_fixed_descriptors`]): else one of its own descriptors may be
    /// there (replaced by the child's, then closed), and the child's placement waits for
    /// an RCU grace period.
    pub fn listener_in_shared_table(mut self, on: bool) -> Sandbox {
        self.shared_table = on;
        self
    }

    /// Records to `audit`.
    pub fn audit(mut self, audit: Audit) -> Sandbox {
        self.audit = audit;
        self
    }

    /// Preloads this shim instead of the one [`shim_path::locate`] finds.
    pub fn shim(mut self, shim: PathBuf) -> Sandbox {
        self.shim = Some(shim);
        self
    }

    /// The program's installation prefixes: the kernel floor lets it read and execute there
    /// (see [`program::prefixes`]).
    pub fn prefixes(mut self, prefixes: Vec<PathBuf>) -> Sandbox {
        self.prefixes = prefixes;
        self
    }

    /// The program's installation ([`program::installation`]): its prefixes and its real
    /// executable files, as `arbiter run` grants them ([`Sandbox::prefixes`],
    /// [`Sandbox::executables`]).
    pub fn installation(self, install: program::Installation) -> Sandbox {
        self.prefixes(install.prefixes).executables(install.files)
    }

    /// The program's real executable files (the command and each `#!` interpreter,
    /// [`program::installation`]): granted execute one by one where the policy lets the
    /// program execute or read them but a prefix could not be granted whole.
    pub fn executables(mut self, files: Vec<PathBuf>) -> Sandbox {
        self.executables = files;
        self
    }

    /// Whether the path syscalls that bypass the shim are brokered by seccomp user
    /// notification (on by default; off, the kernel floor simply denies them).
    pub fn seccomp_transport(mut self, on: bool) -> Sandbox {
        self.seccomp_transport = on;
        self
    }

    /// Whether the shim may act in-process where the policy allows uniformly (on by default).
    /// While the audit log records every call, the shim keeps them only with a report ring
    /// to report each call it answers in (docs/audit.md, "Reported calls").
    pub fn fast_path(mut self, on: bool) -> Sandbox {
        self.fast_path = on;
        self
    }

    /// Directories the program probes (the home directory, the `PATH` entries): where the
    /// policy refuses everything alike, the shim answers a stat or `access` beneath them with
    /// `EACCES` itself, without a round trip, when no log records the denials and no decider
    /// decides ([`RequestCore::with_denied_probes`]). Such probes are not counted in the
    /// end-of-run denial summary.
    pub fn probe_dirs(mut self, dirs: Vec<PathBuf>) -> Sandbox {
        self.probe_dirs = dirs;
        self
    }

    /// Prints one line per distinct denial on stderr.
    pub fn report_denials(mut self, on: bool) -> Sandbox {
        self.report_denials = on;
        self
    }

    /// Hands what the policy leaves undecided to `decider` ([`crate::core::decider`]).
    pub fn decider(mut self, decider: Arc<dyn Decider>) -> Sandbox {
        self.decider = Some(decider);
        self
    }

    /// Hands what the policy leaves undecided to a Rust master, returned here
    /// ([`crate::master`]). A sandbox has one decider: this replaces any other.
    pub fn master(&mut self) -> Master {
        let (master, decider) = Master::channel();
        self.decider = Some(decider);
        master
    }

    /// [`Sandbox::serve_elsewhere`]: the launcher sends a seccomp notify listener, served
    /// with this floor.
    pub fn seccomp_floor(mut self, floor: transport::seccomp::Floor) -> Sandbox {
        self.floor = Some(floor);
        self
    }

    /// [`Sandbox::serve_elsewhere`]: `setup` runs first in each channel thread and seccomp
    /// worker (`arbiter serve` takes on the client's identity there); `admit` is asked
    /// before each new channel (its limits).
    pub fn channel_hooks(mut self, setup: ChannelSetup, admit: ChannelAdmit) -> Sandbox {
        self.setup = Some(setup);
        self.admit = Some(admit);
        self
    }

    /// Serves a sandbox whose command is started elsewhere — by a launcher that confines
    /// itself and execs the command with [`Handover::child_end`] (`arbiter serve`): no
    /// confinement is prepared here, no umask changed.
    pub fn serve_elsewhere(self) -> Result<Handover, HandoverError> {
        let (broker_end, child_end) = nix::sys::socket::socketpair(
            nix::sys::socket::AddressFamily::Unix,
            nix::sys::socket::SockType::SeqPacket,
            None,
            nix::sys::socket::SockFlag::SOCK_CLOEXEC,
        )
        .map_err(HandoverError::Socket)?;
        let dup = broker_end.try_clone().map_err(HandoverError::Duplicate)?;
        let mut core = RequestCore::new(self.policy, self.audit);
        if self.report_denials {
            core = core.reporting_denials();
        }
        if !self.fast_path {
            core = core.without_fast_path();
        }
        if let Some(decider) = self.decider {
            core = core.with_decider(decider);
        }
        let core = Arc::new(core);
        let served = transport::shim::serve_bootstrap_with(
            broker_end,
            Arc::clone(&core),
            self.floor,
            self.setup,
            self.admit,
        )
        .map_err(HandoverError::Serve)?;
        Ok(Handover {
            core,
            child_end,
            broker_end: dup,
            served,
        })
    }

    /// The policy deciding.
    pub fn policy(&self) -> &Arc<Policy> {
        &self.policy
    }

    /// Prepares the kernel confinement, builds the request core and serves the bootstrap
    /// socket. Sets the process's umask to 0 (see the module documentation).
    pub fn start(self) -> Result<Started> {
        // The broker decides on the processes /proc names: it must be this process's pid
        // namespace's procfs (super::procfs).
        super::procfs::check().context("cannot use /proc")?;
        let shim = match self.shim {
            Some(shim) => shim,
            None => shim_path::locate().map_err(anyhow::Error::msg)?,
        };
        shim_path::check(&shim).map_err(anyhow::Error::msg)?;
        let (broker_end, child_end) = nix::sys::socket::socketpair(
            nix::sys::socket::AddressFamily::Unix,
            nix::sys::socket::SockType::SeqPacket,
            None,
            nix::sys::socket::SockFlag::SOCK_CLOEXEC,
        )
        .context("cannot create the bootstrap socket")?;
        // The broker creates files with exactly the mode the caller's umask allows; the
        // command itself starts with the user's umask (restored between fork and exec).
        // SAFETY: umask has no memory effects.
        let user_umask = unsafe { libc::umask(0) };
        // The shim may act in-process unless the caller turned its fast paths off, or a log
        // of every call has no report ring for the shim to report those calls in (at
        // `--audit-level deny` only denials are recorded, and every denial reaches the
        // broker). The core is made first: it owns the report ring, and says whether the
        // fast paths (the kernel floor's native reads included) may be on.
        let mut core = RequestCore::new(self.policy, self.audit);
        let fast = self.fast_path && core.fast_paths_allowed();
        // Native removals are decided by Landlock alone, so they are on only where the
        // policy alone decides removals: not at `--audit-level all` (they are not reported
        // through the ring), and not with a decider (a master may route `unlink`/`rmdir` to
        // itself, before or after `start`, to veto what a rule allows).
        let removes = fast && !core.records_every_call() && self.decider.is_none();
        let slot = self
            .shared_table
            .then(|| Arc::new(confine::seccomp::ListenerSlot::default()));
        let handoff = match &slot {
            Some(slot) => confine::seccomp::Handoff::SharedTable(Arc::clone(slot)),
            None => confine::seccomp::Handoff::Bootstrap(DEFAULT_BOOTSTRAP_FD),
        };
        let confinement = confine::prepare(
            &self.prefixes,
            &self.executables,
            &shim,
            self.seccomp_transport,
            handoff,
            fast.then_some(core.policy()),
            removes,
            Some(core.policy()),
            self.reals.unwrap_or_default(),
        )
        .context("cannot prepare the kernel confinement")?;
        if self.report_denials {
            core = core.reporting_denials();
        }
        if fast {
            core = core
                .with_native_reads(&confinement.native_reads)
                .with_native_removes(if removes {
                    &confinement.native_removes
                } else {
                    &[]
                });
            if self.decider.is_none() {
                core = core.with_denied_probes(&self.probe_dirs);
            }
        } else {
            core = core.without_fast_path();
        }
        if let Some(decider) = self.decider {
            core = core.with_decider(decider);
        }
        core = core.with_pinned(confinement.pinned.clone());
        // Every process reads the fast paths from an inherited sealed table instead of
        // asking (super::fast_table); without one (it could not be made, or the reply must
        // carry the report ring), the shim asks the broker as before.
        let fast_table = core
            .inheritable_fast_paths()
            .and_then(|paths| match super::fast_table::create(paths) {
                Ok(fd) => Some(fd),
                Err(e) => {
                    eprintln!(
                        "arbiter: warning: cannot create the fast-path table ({e}); each process asks the broker"
                    );
                    None
                }
            });
        let core = Arc::new(core);
        let floor = confinement
            .notify
            .then(|| transport::seccomp::Floor::new(&confinement.floor));
        // The listener comes on the bootstrap socket, or through the shared table to
        // `Started::spawn` (then the bootstrap socket takes none).
        let (on_bootstrap, listener) = match (floor, slot) {
            (Some(floor), Some(slot)) => (None, Some((slot, floor))),
            (floor, _) => (floor, None),
        };
        let bootstrap =
            transport::shim::serve_bootstrap(broker_end, Arc::clone(&core), on_bootstrap)
                .context("cannot start serving the sandbox")?;
        Ok(Started {
            core,
            confinement,
            shim,
            child_end,
            fast_table,
            bootstrap,
            user_umask,
            listener,
        })
    }
}

/// A sandbox whose broker serves, ready to start its command.
pub struct Started {
    core: Arc<RequestCore>,
    confinement: Confinement,
    shim: PathBuf,
    child_end: OwnedFd,
    fast_table: Option<OwnedFd>,
    bootstrap: JoinHandle<()>,
    user_umask: libc::mode_t,
    /// With [`Sandbox::listener_in_shared_table`] and the notify filter: where the child
    /// leaves the listener, and the floor it is served with.
    listener: Option<(
        Arc<confine::seccomp::ListenerSlot>,
        transport::seccomp::Floor,
    )>,
}

impl Started {
    /// The request core deciding every call.
    pub fn core(&self) -> &Arc<RequestCore> {
        &self.core
    }

    /// What the kernel will enforce ([`Confinement::missing`] names what it will not).
    pub fn confinement(&self) -> &Confinement {
        &self.confinement
    }

    /// The shim preloaded.
    pub fn shim_path(&self) -> &Path {
        &self.shim
    }

    /// Starts `argv` (its first word found in `$PATH`) with this process's environment.
    pub fn spawn_command(self, argv: &[OsString]) -> Result<Running> {
        let first = argv.first().context("no command")?;
        let path_var = std::env::var_os("PATH");
        let program = program::find(first, path_var.as_deref())?;
        let env = std::env::vars_os().collect();
        Ok(self.spawn(&program, argv, env)?)
    }

    /// Starts `program` with `argv` and `env` under the sandbox. The sandbox's own
    /// variables (`LD_PRELOAD` with the shim first, the bootstrap fd, the shim's path, the
    /// seccomp transport's flag) are set over `env`. Exec failures come back as the error.
    pub fn spawn(
        self,
        program: &Path,
        argv: &[OsString],
        mut env: BTreeMap<OsString, OsString>,
    ) -> std::io::Result<Running> {
        let mut preload = self.shim.clone().into_os_string();
        if let Some(existing) = env.get(std::ffi::OsStr::new("LD_PRELOAD")) {
            if !existing.is_empty() {
                preload.push(":");
                preload.push(existing);
            }
        }
        env.insert("LD_PRELOAD".into(), preload);
        env.insert(
            ENV_FD.into(),
            OsString::from(DEFAULT_BOOTSTRAP_FD.to_string()),
        );
        env.insert(ENV_SHIM.into(), self.shim.into_os_string());
        // Set exactly when the notify filter is installed: an inherited `ARBITER_SECCOMP=1`
        // (a sandbox started inside a sandbox) would make the shim leave connect/bind/listen
        // to a filter that refuses them.
        if self.confinement.notify {
            env.insert(ENV_SECCOMP.into(), OsString::from("1"));
        } else {
            env.remove(std::ffi::OsStr::new(ENV_SECCOMP));
        }
        let user_umask = self.user_umask;
        let mut pre_exec: Vec<PreExec> = vec![Box::new(move || {
            // SAFETY: umask is async-signal-safe and has no memory effects.
            unsafe { libc::umask(user_umask) };
            Ok(())
        })];
        pre_exec.extend(self.confinement.steps);
        let spawned = spawn::spawn(Launch {
            program,
            argv,
            env,
            bootstrap: self.child_end,
            fast_table: self.fast_table,
            pre_exec,
            share_fds: self.listener.is_some(),
        });
        let pid = match self.listener {
            None => spawned?,
            Some((slot, floor)) => {
                // Taken whether the exec succeeded or not: a child that failed after the
                // filter's installation left the listener in this table too.
                let taken = slot.take();
                let pid = spawned?;
                let served = match taken {
                    Ok(Some(listener)) => {
                        transport::seccomp::serve(listener, Arc::clone(&self.core), floor, None)
                    }
                    Ok(None) => Err(std::io::Error::other(
                        "the command's child left no listener",
                    )),
                    Err(e) => Err(e),
                };
                if let Err(e) = served {
                    // Nobody would answer its brokered calls: killed, not left waiting.
                    // SAFETY: pid is our child, not yet reaped; status is a valid out-pointer.
                    unsafe {
                        libc::kill(pid, libc::SIGKILL);
                        libc::waitpid(pid, std::ptr::null_mut(), 0);
                    }
                    return Err(std::io::Error::other(format!(
                        "cannot serve the seccomp listener: {e}"
                    )));
                }
                pid
            }
        };
        Ok(Running {
            pid,
            core: self.core,
            bootstrap: self.bootstrap,
        })
    }
}

/// A sandbox whose command runs.
pub struct Running {
    pid: libc::pid_t,
    core: Arc<RequestCore>,
    bootstrap: JoinHandle<()>,
}

impl Running {
    /// The command's process id.
    pub fn pid(&self) -> libc::pid_t {
        self.pid
    }

    /// The request core deciding every call.
    pub fn core(&self) -> &Arc<RequestCore> {
        &self.core
    }

    /// Waits for the command, then for the broker to finish serving (every process that
    /// held the sandbox's bootstrap socket has exited). Leftover processes the command
    /// started keep the broker serving until they exit; the sandbox's hook (a
    /// [`Master`]'s queue) ends after that.
    pub fn wait(self) -> Ended {
        let mut status = 0;
        let ended = loop {
            // SAFETY: status is a valid out-pointer.
            let r = unsafe { libc::waitpid(self.pid, &mut status, 0) };
            if r == self.pid {
                break if libc::WIFSIGNALED(status) {
                    Ended::Signaled(libc::WTERMSIG(status))
                } else {
                    Ended::Exited(libc::WEXITSTATUS(status))
                };
            }
            if r < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                break Ended::Exited(125);
            }
        };
        drop(self.core);
        let _ = self.bootstrap.join();
        ended
    }

    /// `arbiter run`'s supervision ([`supervise::wait`]): as a subreaper, waits for the
    /// command, relaying signals, then ends or waits for what it left running as `leftovers`
    /// says; `on_hangup` runs on SIGHUP. The pid namespace's init may still run when this
    /// returns: [`super::pidns::end`] ends it.
    /// Needs [`supervise::prepare`] called before any thread was started.
    pub fn supervise(self, leftovers: supervise::Leftovers, on_hangup: &dyn Fn()) -> Ended {
        let ended = supervise::wait(self.pid, leftovers, on_hangup);
        drop(self.core);
        drop(self.bootstrap);
        ended
    }
}
