//! A Rust master that logs and decides: `cargo run --example master -- CMD [ARGS…]` runs CMD
//! under only the built-in `runtime` profile and decides everything else here — reads
//! anywhere but `/etc/shadow` and `~/.ssh`, writes only beneath the working directory, no
//! network — logging each call and answer on stderr. Exits with the command's status.

use std::ffi::OsString;
use std::path::Path;

use arbiter::master::{Arguments, Call, Master};
use arbiter::sandbox::Sandbox;

fn main() -> anyhow::Result<std::process::ExitCode> {
    let argv: Vec<OsString> = std::env::args_os().skip(1).collect();
    anyhow::ensure!(!argv.is_empty(), "usage: master CMD [ARGS…]");
    let mut sandbox = Sandbox::without_policy()?;
    let master: Master = sandbox.master();
    let running = sandbox.start()?.spawn_command(&argv)?;
    // The command is waited for on a thread; the master answers on a small runtime.
    let waiting = std::thread::spawn(move || running.wait());
    let cwd = std::env::current_dir()?;
    tokio::runtime::Builder::new_current_thread()
        .build()?
        .block_on(decide_all(master, &cwd));
    let ended = waiting
        .join()
        .map_err(|_| anyhow::anyhow!("the waiting thread panicked"))?;
    Ok(std::process::ExitCode::from(ended.code()))
}

/// Answers every call until the sandbox ends.
async fn decide_all(mut master: Master, cwd: &Path) {
    while let Ok(call) = master.receive().await {
        let allow = decide(&call, cwd);
        eprintln!(
            "master: pid {} {} {:?} -> {}",
            call.pid(),
            call.function(),
            call.arguments(),
            if allow { "perform" } else { "deny" }
        );
        if allow {
            call.perform();
        } else {
            call.deny(libc::EACCES);
        }
    }
}

/// Files no program of ours reads.
fn secret(path: &Path) -> bool {
    path == Path::new("/etc/shadow") || path.components().any(|c| c.as_os_str() == ".ssh")
}

fn decide(call: &Call, cwd: &Path) -> bool {
    match call.arguments() {
        Arguments::Open { path, flags, .. } => {
            let writes = flags.0 & libc::O_ACCMODE != libc::O_RDONLY
                || flags.0 & libc::O_TRUNC != 0
                || flags.creates();
            !secret(path) && (!writes || path.starts_with(cwd))
        }
        Arguments::Stat { path, .. } | Arguments::Access { path, .. } => !secret(path),
        Arguments::Mkdir { path, .. } | Arguments::Unlink { path } | Arguments::Rmdir { path } => {
            path.starts_with(cwd)
        }
        Arguments::Rename { path1, path2 } => path1.starts_with(cwd) && path2.starts_with(cwd),
        // No network, no names resolved, nothing else.
        _ => false,
    }
}
