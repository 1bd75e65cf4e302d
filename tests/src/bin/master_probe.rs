//! A Rust master driven by the master API tests (tests/tests/master_api.rs): it runs a
//! command in an `arbiter::sandbox::Sandbox` under a policy file and answers the calls the
//! policy leaves undecided by a named scenario, printing one `master: …` line per decision on
//! stderr. The command's stdout is the probe's.
//!
//! `master_probe SCENARIO POLICY [--no-seccomp] [--audit FILE] -- CMD ARGS…`
//!
//! Scenarios:
//! - `log`: performs every call (logging function, path and transport);
//! - `reverse`: waits until two calls (for paths ending in `/a` and `/b`) are outstanding at
//!   once, then answers `b` first with a descriptor the master opened itself (`b.master`,
//!   `reply_with_fds`) and `a` second by performing it; others are performed at once;
//! - `names`: answers every `getaddrinfo` with 127.0.0.7 and ::7, performs the rest;
//! - `drop`: drops every call for a path ending in `/x` unanswered, performs the rest;
//! - `gone`: the master is dropped before the command starts;
//! - `veto-removals`: routes `unlink` and `rmdir` to the master before `start` (so the
//!   removals a rule allows are offered too) and denies each with `EPERM`, performing the
//!   rest; `veto-removals-late`: the same, routed only after `start`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arbiter::master::{Arguments, Call, Endpoint, Master};
use arbiter::sandbox::{program, Sandbox};
use arbiter_policies::{Policy, Source, Vars};

fn main() -> std::process::ExitCode {
    match probe() {
        Ok(code) => std::process::ExitCode::from(code),
        Err(e) => {
            eprintln!("master_probe: {e:#}");
            std::process::ExitCode::from(125)
        }
    }
}

fn probe() -> anyhow::Result<u8> {
    let mut args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let split = args.iter().position(|a| a == "--").ok_or_else(|| {
        anyhow::anyhow!("usage: master_probe SCENARIO POLICY [--no-seccomp] [--audit FILE] -- CMD…")
    })?;
    let command = args.split_off(split + 1);
    args.pop();
    let scenario = args
        .first()
        .and_then(|s| s.to_str())
        .unwrap_or("")
        .to_owned();
    let policy_file = PathBuf::from(args.get(1).cloned().unwrap_or_default());
    let seccomp = !args.iter().any(|a| a == "--no-seccomp");
    let audit_file = args
        .iter()
        .position(|a| a == "--audit")
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from);

    let vars = Vars {
        pwd: std::env::current_dir()?,
        ..Vars::default()
    };
    let path_var = std::env::var_os("PATH");
    let program = program::find(&command[0], path_var.as_deref())?;
    let install = program::installation(&program, path_var.as_deref(), &|_| false);
    // The command's installation prefix is granted read and execute, as `arbiter run`
    // grants it.
    let mut prefixes = String::from("version = 1\n");
    for prefix in &install.prefixes {
        prefixes.push_str(&format!(
            "[[fs]]\npath = \"{}\"\nallow = \"rx\"\n",
            prefix.display()
        ));
    }
    let policy = Arc::new(Policy::load(
        &[
            Source::File(policy_file),
            Source::Text {
                origin: "master_probe: the command's prefix".into(),
                text: prefixes,
            },
        ],
        &vars,
    )?);
    let (audit, writer) = match audit_file {
        Some(f) => {
            let (a, w) = arbiter::audit::Audit::to_writer(Box::new(std::fs::File::create(f)?), 1);
            (a, Some(w))
        }
        None => (arbiter::audit::Audit::disabled(), None),
    };
    let mut sandbox = Sandbox::new(policy)
        .audit(audit.clone())
        .installation(install)
        .seccomp_transport(seccomp);
    let master = sandbox.master();
    if scenario == "veto-removals" {
        master.route(&["unlink", "rmdir"]);
    }
    let master = if scenario == "gone" {
        drop(master);
        None
    } else {
        Some(master)
    };
    let started = sandbox.start()?;
    if scenario == "veto-removals-late" {
        if let Some(m) = &master {
            m.route(&["unlink", "rmdir"]);
        }
    }
    let running = started.spawn(&program, &command, std::env::vars_os().collect())?;
    let waiting = std::thread::spawn(move || running.wait());
    if let Some(master) = master {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()?;
        rt.block_on(serve(master, &scenario))?;
    }
    let ended = waiting
        .join()
        .map_err(|_| anyhow::anyhow!("the waiting thread panicked"))?;
    drop(audit);
    if let Some(w) = writer {
        w.finish();
    }
    Ok(ended.code())
}

/// The path a call is about, for matching and logging.
fn path_of(call: &Call) -> Option<&Path> {
    match call.arguments() {
        Arguments::Open { path, .. }
        | Arguments::Stat { path, .. }
        | Arguments::Access { path, .. }
        | Arguments::Readlink { path }
        | Arguments::Unlink { path }
        | Arguments::Rmdir { path } => Some(path),
        Arguments::Connect(Endpoint::Unix(path)) => Some(path),
        _ => None,
    }
}

fn log(what: &str, call: &Call) {
    eprintln!(
        "master: {what} {} {} {} pid={} uid={}",
        call.function(),
        path_of(call)
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        call.transport(),
        call.pid(),
        call.uid(),
    );
}

fn ends_with(call: &Call, name: &str) -> bool {
    path_of(call).is_some_and(|p| p.file_name().is_some_and(|n| n == name))
}

async fn serve(mut master: Master, scenario: &str) -> anyhow::Result<()> {
    let mut waiting_a: Option<Call> = None;
    let mut waiting_b: Option<Call> = None;
    loop {
        // In `reverse`, a bound on how long the second call may take to arrive, so a broker
        // that serialized calls fails the test instead of hanging it.
        let next = if scenario == "reverse" && (waiting_a.is_some() ^ waiting_b.is_some()) {
            match tokio::time::timeout(Duration::from_secs(60), master.receive()).await {
                Ok(next) => next,
                Err(_) => {
                    eprintln!("master: not concurrent: the second call never arrived");
                    for c in [waiting_a.take(), waiting_b.take()].into_iter().flatten() {
                        c.deny(libc::ETIMEDOUT);
                    }
                    continue;
                }
            }
        } else {
            master.receive().await
        };
        let Ok(call) = next else {
            return Ok(());
        };
        match scenario {
            "reverse" if ends_with(&call, "a") => {
                log("holding", &call);
                waiting_a = Some(call);
            }
            "reverse" if ends_with(&call, "b") => {
                log("holding", &call);
                waiting_b = Some(call);
            }
            "names" if call.function() == "getaddrinfo" => {
                log("replied with addresses", &call);
                let addrs = ["127.0.0.7:0".parse()?, "[::7]:0".parse()?];
                call.reply_addresses(&addrs)?;
            }
            "veto-removals" | "veto-removals-late"
                if matches!(call.function(), "unlink" | "rmdir") =>
            {
                log("denied", &call);
                call.deny(libc::EPERM);
            }
            "drop" if ends_with(&call, "x") => {
                log("dropped", &call);
                drop(call);
            }
            _ => {
                log("performed", &call);
                call.perform();
            }
        }
        if let (Some(_), Some(_)) = (&waiting_a, &waiting_b) {
            let (a, b) = (waiting_a.take().unwrap(), waiting_b.take().unwrap());
            eprintln!("master: both outstanding");
            let mut own = path_of(&b).unwrap().as_os_str().to_owned();
            own.push(".master");
            let fd: std::os::fd::OwnedFd = std::fs::File::open(&own)?.into();
            log("replied with fd", &b);
            b.reply_with_fds(0, vec![fd])?;
            log("performed", &a);
            a.perform();
        }
    }
}
