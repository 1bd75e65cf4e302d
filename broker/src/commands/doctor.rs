//! `arbiter doctor`: which kernel layers this machine offers, and what they guarantee.

use std::process::ExitCode;

use crate::confine::{landlock, seccomp};
use crate::exit_code;

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

/// Prints the report; exits non-zero (125) when neither layer can be enforced.
pub fn run() -> ExitCode {
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
    if sc {
        println!(
            "- seccomp denies connect/bind on any socket, sendto with a destination, path-based"
        );
        println!("  chmod/chown/utimes/xattr, device nodes, ptrace, mount and kexec.");
        println!("- Not covered: sendmsg with a destination on an unconnected datagram socket.");
    }
    if abi.is_none() && !sc {
        println!("Nothing can be enforced: the shim alone is advisory.");
        return ExitCode::from(exit_code::FAILED);
    }
    ExitCode::SUCCESS
}
