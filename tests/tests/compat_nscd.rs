//! glibc's name-service cache probe (issue 18): `getpwuid()`, `getgrgid()` and friends first
//! connect to nscd's socket (`/var/run/nscd/socket`). Where nscd does not run, that fails
//! natively with `ENOENT` and glibc reads the files; under the default policy it now fails
//! the same way, instead of `EACCES` and a reported denial on every `ls -l`, `id` or
//! `whoami` (the profile grants `stat` on `/run/nscd` and `/var/run/nscd`, the only thing the
//! failed lookup is decided on). A connect to a running nscd stays refused: no `[[connect]]`
//! rule names it.
//!
//! The probe runs through libc (the shim) and static with raw system calls (the seccomp
//! transport), as root and as uid 65534, against its native twin; `id` must print the same
//! and arbiter must report nothing.

use std::path::Path;
use std::process::Stdio;

use arbiter_tests::{
    arbiter_as, compile_libc_and_raw, invoker_and_nobody, run_either_way, stderr, stdout, Sandbox,
};

/// Skips (with a printed reason) where nscd's directory exists: the native answer is then
/// not the one this test is about.
fn nscd_absent() -> bool {
    if Path::new("/run/nscd").exists() || Path::new("/var/run/nscd").exists() {
        println!("SKIP: /run/nscd exists on this machine (nscd installed)");
        return false;
    }
    true
}

#[test]
fn the_nscd_probe_fails_as_natively_and_reports_nothing() {
    if !nscd_absent() {
        return;
    }
    let sb = Sandbox::new();
    let (libc_build, raw_build) = compile_libc_and_raw("nscd_probe", &sb);
    for nobody in invoker_and_nobody() {
        for helper in [&libc_build, &raw_build] {
            let prog = helper.to_str().unwrap();
            let native = run_either_way(&sb, nobody, false, prog, &[]);
            assert_eq!(stdout(&native), "connect => ENOENT\n", "native control");
            let sandboxed = run_either_way(&sb, nobody, true, prog, &[]);
            assert_eq!(
                stdout(&sandboxed),
                stdout(&native),
                "{prog} as nobody={nobody}: stderr {}",
                stderr(&sandboxed)
            );
        }
        // Without -q (which `run_either_way` passes): arbiter reports every denial on
        // stderr, each line starting with `arbiter:`.
        let native = run_either_way(&sb, nobody, false, "id", &[]);
        let sandboxed = arbiter_as(nobody)
            .args(["run", "--", "id"])
            .current_dir(&sb.dir)
            .env_remove("LD_LIBRARY_PATH")
            .stdin(Stdio::null())
            .output()
            .expect("run arbiter");
        assert!(native.status.success(), "native id: {}", stderr(&native));
        assert_eq!(stdout(&sandboxed), stdout(&native), "id as nobody={nobody}");
        assert!(
            !stderr(&sandboxed).contains("arbiter:"),
            "id as nobody={nobody} reported: {}",
            stderr(&sandboxed)
        );
    }
}
