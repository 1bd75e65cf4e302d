//! Kernel confinement of the sandboxed command: the layers that hold even when the shim is
//! bypassed (a static binary, raw `syscall()`, `env -u LD_PRELOAD`).
//!
//! 1. [`landlock`]: a filesystem floor of read+exec trees (the loader, libraries, the
//!    program's own installation prefixes, the shim), no TCP bind/connect, abstract unix
//!    sockets and signals scoped to the sandbox. Everything else is reached only through
//!    file descriptors the broker passes.
//! 2. [`seccomp`]: the program generated from the one syscall table ([`syscalls`]): every
//!    system call is native, brokered (user notification, answered by the broker) or
//!    refused; what no row names is refused.
//!
//! 0. [`privilege`]: every capability set cleared, so a sandbox started by root has no
//!    privilege either.
//!
//! All are prepared in the parent (where allocation is allowed) and installed in the
//! child between fork and exec by [`PreExec`] steps that only make system calls.
//! See `docs/security.md` for the threat model and the known gaps.

pub mod bpf;
pub mod floor;
pub mod landlock;
pub mod privilege;
pub mod real_paths;
pub mod seccomp;
pub mod seccomp_program;
pub mod syscall_numbers;
pub mod syscalls;

use crate::sandbox::spawn::PreExec;

/// What confinement could be prepared on this kernel, and the steps that install it.
pub struct Confinement {
    /// The steps to run in the child, in order (capabilities dropped, then Landlock, then
    /// seccomp).
    pub steps: Vec<PreExec>,
    /// Layers or features that are not enforced, in plain words (empty when all are).
    pub missing: Vec<String>,
    /// Whether a Landlock domain will be applied.
    pub landlock: bool,
    /// The kernel's Landlock ABI version (`None` without Landlock).
    pub landlock_abi: Option<i32>,
    /// Whether the seccomp filter will be applied.
    pub seccomp: bool,
    /// Whether the notify filter will be applied (calls then also arrive by seccomp).
    pub notify: bool,
    /// The floor's entries as found on disk (see [`floor::survey`]).
    pub floor: Vec<floor::Surveyed>,
    /// Where the shim may open for reading natively (empty when it may not; see
    /// [`floor::native_reads`]).
    pub native_reads: Vec<std::path::PathBuf>,
    /// Where the shim may remove natively (empty when it may not; see
    /// [`floor::native_removes`]).
    pub native_removes: Vec<std::path::PathBuf>,
    /// The Landlock rule roots and every directory above them, which the broker refuses to
    /// move ([`floor::pinned`]).
    pub pinned: std::collections::HashSet<floor::Identity>,
}

/// Prepares every layer for a program whose installation prefixes are `prefixes` and which
/// executes the real files `executables` (the command, its interpreters:
/// `sandbox::program::Installation`).
/// A layer that the kernel lacks is reported in [`Confinement::missing`], not an error;
/// an error means the layer exists but could not be built (a bug or a hostile floor).
/// With `seccomp_transport`, the table's program with its brokered rows notified (see
/// [`seccomp::NotifyFilter`]) is installed instead of [`seccomp::Filter`], and its listener
/// handed to the broker as `handoff` says. With `native_reads` (a policy, when the shim's fast
/// paths are on) and the notify filter, read-only opens the floor and the policy both grant
/// may run natively ([`floor::native_reads`]); with `native_removes` too, removals beneath
/// the directories the policy grants `remove` in full ([`floor::native_removes`]).
/// `reals` is this start's memo of real paths: new, or warmed for this start only
/// ([`floor::warm`], `arbiter run` does while the policy compiles); the survey confirms
/// what it remembers whenever it learnt it.
#[allow(clippy::too_many_arguments)]
pub fn prepare(
    prefixes: &[std::path::PathBuf],
    executables: &[std::path::PathBuf],
    shim: &std::path::Path,
    seccomp_transport: bool,
    handoff: seccomp::Handoff,
    native_reads: Option<&arbiter_policies::Policy>,
    native_removes: bool,
    exec_policy: Option<&arbiter_policies::Policy>,
    reals: real_paths::RealPaths,
) -> anyhow::Result<Confinement> {
    use anyhow::Context;
    // No capability survives into the sandbox; first, since the steps after it need none.
    let mut steps = vec![privilege::drop_all(privilege::last_cap())];
    let mut missing = Vec::new();
    let mut paths = floor::paths(prefixes, shim);
    // Landlock's execute right only where the policy grants `exec` (when arbiter knows the
    // policy: `arbiter serve`'s launcher does not).
    if let Some(policy) = exec_policy {
        // Exempt: the shim only. An installation prefix is granted whole only where the
        // policy decides its whole subtree alone with `exec` allowed, like every floor
        // directory: a narrower rule beneath it (`--deny ./secretbin` when the command is
        // `./run-tests`) keeps its exec denial.
        let (aligned, note) = floor::align_exec(paths, policy, &[shim], &reals);
        paths = aligned;
        missing.extend(note);
        // The files the user asked to run, in a prefix outside the system's floor
        // directories, execute even where their prefix is not granted whole — where the
        // policy lets the program execute or read them.
        let outside: Vec<&std::path::Path> = prefixes
            .iter()
            .filter(|p| !floor::is_system(p, &reals))
            .map(|p| p.as_path())
            .collect();
        paths.extend(floor::command_files(&paths, executables, &outside, policy));
        // And where the policy grants `exec` beyond the system floor ($PWD, $TMPDIR).
        let exec_trees = floor::policy_exec(&paths, policy, &reals);
        paths.extend(exec_trees);
    }
    let notify = seccomp_transport && seccomp::notify_available();
    let native = match native_reads {
        Some(policy) if notify && seccomp::available() => {
            floor::native_reads(&mut paths, shim, policy, &reals)
        }
        _ => None,
    };
    let removes = match native_reads {
        Some(policy) if native_removes && notify && seccomp::available() => {
            floor::native_removes(&mut paths, policy, &reals)
        }
        _ => Vec::new(),
    };
    // Every entry is opened at its real path without following symlinks, and must be what
    // the floor was decided on: a process racing the start-up makes it refuse, naming the
    // path, rather than grant whatever a swapped-in symlink leads to.
    let (floor, fds) = floor::survey(paths, &reals)?;
    // The shim: arbiter's own library, read+exec for ld.so; never a directory.
    if let Some(e) = floor.iter().find(|e| e.path == shim) {
        if e.kind.is_some_and(|(_, file)| !file) {
            anyhow::bail!(
                "the shim {} is not a regular file now (it was while the sandbox started); \
                 refusing to grant it",
                shim.display()
            );
        }
    }
    let pinned = floor::pinned(&floor, &fds)?;
    let ll = landlock::prepare(&floor, fds).context("cannot build the Landlock ruleset")?;
    let landlock_on = ll.domain.is_some();
    missing.extend(ll.missing.iter().cloned());
    if let Some(domain) = ll.domain {
        steps.push(domain.into_pre_exec());
    }
    if seccomp_transport && !notify {
        missing.push("seccomp transport (the kernel lacks SECCOMP_RET_USER_NOTIF)".into());
    }
    // With the transport, one program holds the errno rules and the notify rules.
    if notify {
        // The dispatch's index of the table: embedded by build.rs; in a cross-compiled
        // build, built now rather than on the first notification, which the program would
        // wait for.
        let _ = syscalls::row_for(0);
    }
    let step = if notify {
        seccomp::NotifyFilter::compile(native.is_some(), !removes.is_empty())
            .context("cannot compile the seccomp notify filter")?
            .into_pre_exec(handoff)?
    } else {
        seccomp::Filter::compile()
            .context("cannot compile the seccomp filter")?
            .into_pre_exec()
    };
    let seccomp_on = seccomp::available();
    if seccomp_on {
        steps.push(step);
    } else {
        missing.push("seccomp (the kernel does not support SECCOMP_SET_MODE_FILTER)".into());
    }
    Ok(Confinement {
        steps,
        missing,
        landlock: landlock_on,
        landlock_abi: landlock::abi_version(),
        seccomp: seccomp_on,
        notify: notify && seccomp_on,
        floor,
        native_reads: native.unwrap_or_default(),
        native_removes: removes,
        pinned,
    })
}

/// Sets `PR_SET_NO_NEW_PRIVS`: both layers require it for an unprivileged caller, and a
/// confined program must not regain privileges through a set-uid binary.
/// Async-signal-safe.
fn no_new_privs() -> std::io::Result<()> {
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
