//! A pathname unix socket bound through the broker reports its real name (issue 18):
//! `getsockname()` of the listener and `getpeername()` of a client that connected to it
//! say the path the program bound, as natively — not the `/proc/self/fd/N/name` the broker
//! used to bind through (which Python's multiprocessing then hands its children as the
//! address to connect to). Through libc (the shim) and raw system calls from a static
//! helper (the seccomp transport), as root and as uid 65534, each with a native control.
//! Before the fix every brokered run printed `/proc/self/fd/N/…` for both.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use arbiter_tests::{arbiter, compile_helper, is_root, stderr, stdout, Sandbox};

fn as_user(nobody: bool, program: &Path) -> Command {
    if nobody {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(program)
            .env("HOME", "/nonexistent");
        c
    } else {
        Command::new(program)
    }
}

fn run(mut c: Command, dir: &Path) -> Output {
    c.current_dir(dir)
        .stdin(Stdio::null())
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .expect("run")
}

fn expected(path: &Path) -> String {
    format!("sockname {p}\npeername {p}\n", p = path.to_str().unwrap())
}

#[test]
fn a_socket_bound_through_the_broker_reports_its_real_path() {
    let sb = Sandbox::new();
    let libc_build = compile_helper("unix_name", &sb.dir, &[]);
    let raw_dir = sb.path("raw");
    std::fs::create_dir(&raw_dir).unwrap();
    let raw_build = compile_helper("unix_name", &raw_dir, &["-static", "-DRAW"]);
    let mut users = vec![false];
    if is_root() {
        users.push(true);
    } else {
        println!("SKIP (unprivileged half): needs root to switch to uid 65534");
    }
    for nobody in users {
        for (kind, helper) in [("libc", &libc_build), ("raw", &raw_build)] {
            let tag = format!("{kind}-{}", if nobody { "nobody" } else { "root" });
            // The native control.
            let native = sb.path(&format!("n-{tag}.sock"));
            let mut c = as_user(nobody, helper);
            c.arg(&native);
            let o = run(c, &sb.dir);
            assert_eq!(stdout(&o), expected(&native), "{tag}: {}", stderr(&o));
            // The same under arbiter, the bind and connect allowed.
            let brokered = sb.path(&format!("a-{tag}.sock"));
            let endpoint = format!("unix:{}", brokered.display());
            let mut c = as_user(nobody, &arbiter());
            c.args([
                "run",
                "-q",
                "--bind",
                &endpoint,
                "--connect",
                &endpoint,
                "--",
            ])
            .arg(helper)
            .arg(&brokered);
            let o = run(c, &sb.dir);
            assert_eq!(stdout(&o), expected(&brokered), "{tag}: {}", stderr(&o));
            assert!(
                std::fs::symlink_metadata(&brokered).is_ok(),
                "{tag}: no socket file at {}",
                brokered.display()
            );
        }
    }
}
