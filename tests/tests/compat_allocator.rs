//! Programs with their own allocator start under arbiter (issue 18): the shim's first call
//! on a thread must not allocate through the program's `malloc`, which may be the very
//! allocator whose initialisation made that call (jemalloc reads `/etc/malloc.conf`;
//! rustc links jemalloc). Before the fix each case below hung (or, for the helper, exited
//! 99 on detecting the re-entry).
//!
//! Each case runs natively first (the control), then under `arbiter run`, as root and as
//! an unprivileged user. A run still going after several minutes is killed and reported
//! as a hang, so a regression fails instead of blocking the suite.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use arbiter_tests::{arbiter, compile_helper, invoker_and_nobody, stderr, stdout, Sandbox};

/// The Debian package `libjemalloc2` installs it here (`.ci/run` installs it).
const JEMALLOC: &str = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2";

/// Far beyond any start-up, only there to turn a hang into a failure.
const HANG: Duration = Duration::from_secs(300);

/// Runs `cmd`, killing it (and failing the test) if it never finishes.
fn output_or_hang(mut cmd: Command, what: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("LD_LIBRARY_PATH")
        .spawn()
        .expect("spawn");
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > HANG {
            let _ = child.kill();
            let o = child.wait_with_output().expect("collect");
            panic!("{what} hung\nstderr:\n{}", stderr(&o));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("collect")
}

/// `arbiter run [extra…] -- cmd…` in `dir`, as root or (with `nobody`) as uid 65534.
fn under_arbiter(dir: &Path, nobody: bool, extra: &[&str], cmd: &[&str]) -> Command {
    let mut c = if nobody {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(arbiter())
            .env("HOME", "/nonexistent");
        c
    } else {
        Command::new(arbiter())
    };
    c.arg("run")
        .arg("-q")
        .args(extra)
        .arg("--")
        .args(cmd)
        .current_dir(dir);
    c
}

fn native(dir: &Path, cmd: &[&str]) -> Command {
    let mut c = Command::new(cmd[0]);
    c.args(&cmd[1..]).current_dir(dir);
    c
}

/// Native and brokered runs give the same output and both succeed.
fn same_as_native(dir: &Path, extra: &[&str], cmd: &[&str], nobody_too: bool) {
    let n = output_or_hang(native(dir, cmd), "the native run");
    assert!(n.status.success(), "native control failed: {}", stderr(&n));
    for nobody in invoker_and_nobody() {
        if nobody && !nobody_too {
            continue;
        }
        let o = output_or_hang(under_arbiter(dir, nobody, extra, cmd), "arbiter run");
        assert_eq!(
            o.status.code(),
            Some(0),
            "as {}: {}\nstdout:\n{}\nstderr:\n{}",
            if nobody { "nobody" } else { "root" },
            cmd.join(" "),
            stdout(&o),
            stderr(&o)
        );
        assert_eq!(stdout(&o), stdout(&n), "{}", stderr(&o));
    }
}

#[test]
fn a_program_whose_own_malloc_opens_files_while_initialising_starts() {
    let sb = Sandbox::new();
    let bin = compile_helper("own_malloc", &sb.dir, &["-pthread"]);
    let bin = bin.to_str().unwrap();
    let n = output_or_hang(native(&sb.dir, &[bin]), "the native run");
    assert_eq!(
        stdout(&n),
        "main: open ok stat ok access ok\nthread: open ok stat ok access ok\ndone\n"
    );
    same_as_native(&sb.dir, &[], &[bin], true);
}

#[test]
fn a_program_with_jemalloc_preloaded_starts() {
    if !Path::new(JEMALLOC).exists() {
        println!("SKIP: {JEMALLOC} is missing (Debian package libjemalloc2)");
        return;
    }
    let sb = Sandbox::new();
    let cmd = [
        "env",
        "LD_PRELOAD=libjemalloc.so.2",
        "python3",
        "-c",
        "import threading; t = threading.Thread(target=lambda: print(open('/etc/hostname').read().strip())); t.start(); t.join(); print('ok')",
    ];
    same_as_native(&sb.dir, &[], &cmd, true);
}

#[test]
fn rustc_version_runs() {
    let sysroot = match Command::new("rustc").args(["--print", "sysroot"]).output() {
        Ok(o) if o.status.success() => stdout(&o).trim().to_owned(),
        _ => {
            println!("SKIP: no rustc on PATH");
            return;
        }
    };
    let rustc = format!("{sysroot}/bin/rustc");
    let sb = Sandbox::new();
    // The toolchain's own directory (under the invoking user's home, usually) is granted:
    // it is the installation prefix the program runs from. uid 65534 cannot read root's
    // home, so that half is not run.
    same_as_native(&sb.dir, &["--rx", &sysroot], &[&rustc, "--version"], false);
}
