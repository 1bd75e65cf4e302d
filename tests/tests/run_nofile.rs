//! The open-file limit: arbiter raises its own soft `RLIMIT_NOFILE` for the broker and gives
//! the command back the one it was started with; a hard limit too low for the descriptors
//! every sandboxed process gets at fixed numbers (the bootstrap socket at 1023, the
//! fast-path table at 1022) is refused with a message naming the limit, not a "Bad file
//! descriptor" from the spawn (red team s7). As root and as uid 65534, under `prlimit`.

use std::process::{Command, Output, Stdio};

use arbiter_tests::{arbiter, have, invoker_and_nobody, Sandbox};

/// `prlimit --nofile=LIMITS [setpriv …] CMD…` in `sb`.
fn limited(sb: &Sandbox, nobody: bool, limits: &str, cmd: &[&str]) -> Output {
    let mut c = Command::new("prlimit");
    c.arg(format!("--nofile={limits}"));
    if nobody {
        c.args([
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
        ]);
    }
    c.args(cmd)
        .current_dir(&sb.dir)
        .env("HOME", "/nonexistent")
        .env_remove("LD_LIBRARY_PATH")
        .stdin(Stdio::null())
        .output()
        .expect("run prlimit")
}

#[test]
fn the_command_keeps_its_soft_limit_and_a_hard_limit_below_1024_is_refused_clearly() {
    if !have("prlimit") || !have("setpriv") {
        eprintln!("SKIP: prlimit or setpriv (util-linux) is missing");
        return;
    }
    let arb = arbiter();
    let arb = arb.to_str().unwrap();
    for nobody in invoker_and_nobody() {
        let sb = Sandbox::new();
        let script = ["sh", "-c", "ulimit -n; cat /dev/null && echo ran"];
        // Native control: the limit the command sees.
        let native = limited(&sb, nobody, "256:4096", &script);
        assert_eq!(
            String::from_utf8_lossy(&native.stdout),
            "256\nran\n",
            "{nobody}"
        );
        // Under arbiter: the same soft limit, though arbiter raised its own.
        let mut cmd = vec![arb, "run", "-q", "--"];
        cmd.extend(script);
        let o = limited(&sb, nobody, "256:4096", &cmd);
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            "256\nran\n",
            "{nobody}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        // A hard limit of 256: natively the command runs; arbiter refuses with a message
        // naming the limit and what to do.
        let native = limited(&sb, nobody, "256:256", &script);
        assert_eq!(
            String::from_utf8_lossy(&native.stdout),
            "256\nran\n",
            "{nobody}"
        );
        let o = limited(&sb, nobody, "256:256", &cmd);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(125), "{nobody}: {err}");
        assert!(o.stdout.is_empty(), "{nobody}: the command ran");
        assert!(
            err.contains("open-file limit is 256") && err.contains("ulimit -Hn 1024"),
            "{nobody}: {err}"
        );
        assert!(!err.contains("Bad file descriptor"), "{nobody}: {err}");
    }
}
