//! `arbiter doctor`: which kernel layers this machine offers, and what they guarantee.

use std::process::ExitCode;

use arbiter::confine::{landlock, seccomp, syscalls};
use arbiter::exit_code;

/// Whether unprivileged user namespaces are allowed (sysctls of Debian/Ubuntu and upstream).
fn user_namespaces() -> Option<bool> {
    let read = |p: &str| std::fs::read_to_string(p).ok().map(|s| s.trim().to_owned());
    let max = read("/proc/sys/user/max_user_namespaces")?;
    if max == "0" {
        return Some(false);
    }
    match read("/proc/sys/kernel/unprivileged_userns_clone") {
        Some(v) => Some(v != "0"),
        None => Some(true),
    }
}

/// Arguments of `arbiter doctor`.
#[derive(Debug, clap::Args)]
pub struct DoctorArgs {
    /// One JSON object instead of text: `{"ok": bool, "shim": {"ok", "report": [..]},
    /// "landlock": {"abi": N|null, "features": [{"what", "enforced"}]}, "seccomp":
    /// {"filter": bool, "user_notification": bool, "table_rows": N}, "root": bool,
    /// "user_namespaces": bool|null, "process_lifetime": {"mechanism", "pid_namespace",
    /// "sandbox_cannot_kill_them"}}`. `ok` is false (and the exit status 125) when nothing can
    /// be enforced or the shim cannot be used.
    #[arg(long)]
    pub json: bool,
}

/// The report as one JSON object (see [`DoctorArgs::json`]).
fn json_report(shim_ok: bool, shim_lines: &[String]) -> (bool, serde_json::Value) {
    let abi = landlock::abi_version();
    let sc = seccomp::available() && seccomp::Filter::compile().is_ok();
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let ok = (abi.is_some() || sc) && shim_ok;
    let pid_namespace = arbiter::sandbox::pidns::permitted() && seccomp::notify_available();
    let features: Vec<serde_json::Value> = landlock::features(abi)
        .into_iter()
        .map(|(what, on)| serde_json::json!({ "what": what, "enforced": on }))
        .collect();
    (
        ok,
        serde_json::json!({
            "ok": ok,
            "shim": { "ok": shim_ok, "report": shim_lines },
            "landlock": { "abi": abi, "features": features },
            "seccomp": {
                "filter": sc,
                "user_notification": seccomp::notify_available(),
                "table_rows": syscalls::TABLE.len(),
            },
            "root": root,
            "user_namespaces": user_namespaces(),
            "process_lifetime": {
                "mechanism": if pid_namespace {
                    "pid namespace, guardian and subreaper broker"
                } else {
                    "guardian and subreaper broker"
                },
                "pid_namespace": pid_namespace,
                "sandbox_cannot_kill_them": abi.is_some_and(|v| v >= 6),
            },
        }),
    )
}

/// Prints the report; exits non-zero (125) when neither layer can be enforced.
pub fn run(args: DoctorArgs) -> ExitCode {
    let (shim_ok, shim_lines) = arbiter::sandbox::shim_path::diagnose();
    if args.json {
        let (ok, report) = json_report(shim_ok, &shim_lines);
        println!("{report}");
        return if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(exit_code::FAILED)
        };
    }
    for line in shim_lines {
        println!("{line}");
    }
    let abi = landlock::abi_version();
    match abi {
        Some(v) => println!("Landlock: ABI {v}"),
        None => println!("Landlock: unavailable (not built in, or not in the lsm= list)"),
    }
    for (what, ok) in landlock::features(abi) {
        println!("  [{}] {what}", if ok { "x" } else { " " });
    }
    let sc = seccomp::available() && seccomp::Filter::compile().is_ok();
    println!(
        "seccomp filter: {}",
        if sc { "available" } else { "unavailable" }
    );
    let notify = seccomp::notify_available();
    println!(
        "seccomp user notification: {}",
        if notify {
            "available (the broker serves static programs and raw syscalls)"
        } else {
            "unavailable"
        }
    );
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    println!(
        "capabilities: {}",
        if root {
            "arbiter runs as root: every capability set is cleared in the sandbox"
        } else {
            "arbiter runs unprivileged: the sandbox has none to clear (no_new_privs)"
        }
    );
    match user_namespaces() {
        Some(true) => println!("unprivileged user namespaces: allowed (not used by arbiter yet)"),
        Some(false) => println!("unprivileged user namespaces: disabled"),
        None => println!("unprivileged user namespaces: unknown"),
    }
    println!();
    println!("Guarantees for `arbiter run` on this machine:");
    if abi.is_some() {
        println!(
            "- A program that bypasses the shim (static binary, raw syscalls, LD_PRELOAD removed)"
        );
        println!(
            "  can read and execute only the floor (system libraries, /usr, a few /etc files,"
        );
        println!(
            "  its own installation) and reach other files only through fds the broker passed."
        );
    } else {
        println!(
            "- NO filesystem confinement: a program that bypasses the shim reaches every file"
        );
        println!("  the user can.");
    }
    if abi.is_some_and(|v| v >= 4) || sc {
        println!("- TCP connect/bind are denied to the program itself; the broker performs them.");
    }
    if abi.is_some_and(|v| v >= 6) {
        println!(
            "- It cannot signal arbiter or other processes outside the sandbox, nor connect to"
        );
        println!("  abstract unix sockets of the host.");
    }
    if abi.is_some_and(|v| v < 6) {
        println!("- NOT covered (Landlock < 6): signals to other processes of the same user.");
    }
    // The end of a run (docs/process-model.md): a pid namespace with CAP_SYS_ADMIN (root),
    // the guardian and the subreaper broker alone without.
    println!(
        "- No process of the sandbox outlives the run: when the command ends, what it left is"
    );
    println!("  ended (SIGTERM, 1 s, SIGKILL; --wait-descendants waits instead); when arbiter is");
    println!("  killed (SIGKILL included), its broker process kills the sandbox.");
    if arbiter::sandbox::pidns::permitted() && notify {
        println!(
            "  pid namespace: used (CAP_SYS_ADMIN): its init dies with the broker, so a SIGKILL"
        );
        println!(
            "  of both arbiter processes at once (`pkill -9 arbiter`) ends the sandbox too (not"
        );
        println!("  with --no-seccomp-transport, which runs without it).");
    } else {
        let why = if notify {
            "no CAP_SYS_ADMIN; run as root for it"
        } else {
            "no seccomp user notification"
        };
        println!("  pid namespace: not used ({why}). Not covered: SIGKILL of arbiter's");
        println!("  guardian and broker processes at once (`pkill -9 arbiter`).");
    }
    if abi.is_none_or(|v| v < 6) {
        println!("  NOT covered here (no Landlock signal scoping): the sandbox can kill them.");
    }
    if sc {
        println!(
            "- Every system call is classified by one table ({} rows): native, brokered or",
            syscalls::TABLE.len()
        );
        println!("  refused; what the table does not name is refused (ENOSYS). Refused: raw and");
        println!(
            "  packet sockets, namespaces, mount, modules, kexec, keyrings, bpf, perf, io_uring,"
        );
        println!("  ptrace, clocks, hostname, terminal injection (TIOCSTI), calls on other pids.");
        println!("- Not covered: sendmsg with a destination on an unconnected datagram socket.");
    } else {
        println!(
            "- NO syscall table: every system call Landlock does not govern reaches the kernel."
        );
    }
    if abi.is_none() && !sc {
        println!("Nothing can be enforced: the shim alone is advisory.");
        return ExitCode::from(exit_code::FAILED);
    }
    if !shim_ok {
        println!("`arbiter run` cannot start programs until the shim is fixed (see above).");
        return ExitCode::from(exit_code::FAILED);
    }
    ExitCode::SUCCESS
}
