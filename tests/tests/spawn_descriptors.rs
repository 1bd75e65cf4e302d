//! The command starts with exactly the descriptors it would have natively, plus the
//! sandbox's bootstrap socket (1023) and fast-path table (1022): never the seccomp
//! listener of its own filter, with which it could answer its own brokered calls.
//!
//! `arbiter run`'s child installs the notify filter in a descriptor table it shares with
//! the broker until it execs (`CLONE_FILES`, docs/performance.md "Session 10"): the
//! listener is the broker's from the moment it exists, and the kernel's copy of the table
//! at exec must drop it (a listener is close-on-exec), as it must drop every other
//! descriptor of the broker's. The fixed numbers the child fills in the shared table are
//! closed again by the broker.
//!
//! From `tests/helpers/fd_census.c` built static with raw system calls and dynamic through
//! libc, as the invoking user and as uid 65534. Native controls: the census itself (the
//! same descriptors without arbiter), and the census finding a listener the program made
//! itself (so "no listener" under arbiter is the probe's answer, not its blindness).

use std::collections::BTreeSet;

use arbiter_tests::{compile_libc_and_raw, invoker_and_nobody, run_either_way, Sandbox};

/// The census's lines.
fn census(out: &std::process::Output, what: &str) -> BTreeSet<String> {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{what}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn the_command_holds_no_seccomp_listener_and_only_its_own_descriptors() {
    for nobody in invoker_and_nobody() {
        let sb = Sandbox::new();
        let (libc_build, raw_build) = compile_libc_and_raw("fd_census", &sb);
        for build in [&raw_build, &libc_build] {
            let build = build.to_str().unwrap();
            let who = if nobody { "65534" } else { "the invoker" };
            // The probe recognises a listener: natively, one the program made itself.
            let selftest = census(
                &run_either_way(&sb, nobody, false, build, &["selftest"]),
                &format!("{build} selftest as {who}"),
            );
            assert!(
                selftest.iter().any(|l| l.ends_with(" a listener")),
                "{build} as {who}: the census missed its own listener: {selftest:?}"
            );
            let native = census(
                &run_either_way(&sb, nobody, false, build, &[]),
                &format!("{build} natively as {who}"),
            );
            let sandboxed = census(
                &run_either_way(&sb, nobody, true, build, &[]),
                &format!("{build} under arbiter as {who}"),
            );
            let what = format!("{build} as {who}: native {native:?}, under arbiter {sandboxed:?}");
            assert!(
                !sandboxed
                    .iter()
                    .any(|l| l.ends_with(" listener") || l.ends_with(" a")),
                "{what}"
            );
            assert!(sandboxed.contains("fd 1023 s"), "{what}");
            let own: BTreeSet<String> = sandboxed
                .iter()
                .filter(|l| !l.starts_with("fd 1022 ") && !l.starts_with("fd 1023 "))
                .cloned()
                .collect();
            assert_eq!(own, native, "{what}");
        }
    }
}

/// A launcher holding nearly every descriptor number below the fixed ones (a parent with a
/// thousand files open): the broker's own descriptors — its audit log, its end of the
/// bootstrap socket, the seccomp listener — are made with every lower number taken, and
/// before the fixed numbers were reserved for the command they took 1022 or 1023, where the
/// command's child (sharing the table) placed its own over them and the broker then closed
/// both: audit records lost and the run aborted (red team s10b finding 02), or the listener
/// closed and the start refused (finding 01). Each run must end with the command's status,
/// its denial in the log. Native control: the command reads the file.
#[test]
fn a_launcher_holding_a_thousand_descriptors_loses_no_broker_descriptor() {
    use std::os::unix::process::CommandExt;
    let (_dir, target) = arbiter_tests::outside_file("target.txt", "outside\n");
    for nobody in invoker_and_nobody() {
        let sb = Sandbox::new();
        let native = run_either_way(&sb, nobody, false, "cat", &[target.to_str().unwrap()]);
        assert_eq!(
            String::from_utf8_lossy(&native.stdout),
            "outside\n",
            "native control"
        );
        // Around where the audit log (978–990) and the listener (1003–1007) took the fixed
        // numbers on the build before; every lower number is held from 3 up to `hi`.
        for hi in (978..=990).chain(1003..=1007) {
            let log = sb.log(&format!("audit-{hi}.jsonl"));
            let mut c = arbiter_tests::arbiter_as(nobody);
            c.args(["run", "-q", "--audit"])
                .arg(&log)
                .args(["--audit-level", "all", "--", "cat"])
                .arg(&target)
                .current_dir(&sb.dir)
                .env_remove("LD_LIBRARY_PATH")
                .stdin(std::process::Stdio::null());
            // SAFETY: dup2 is async-signal-safe; the child only fills its own table.
            unsafe {
                c.pre_exec(move || {
                    for fd in 3..=hi {
                        libc::dup2(0, fd);
                    }
                    Ok(())
                });
            }
            let out = c.output().expect("run arbiter");
            let err = String::from_utf8_lossy(&out.stderr);
            if err.contains("no descriptor number free") {
                continue; // refused at the start: a clear error, nothing lost
            }
            assert_eq!(
                out.status.code(),
                Some(1),
                "fds 3..{hi}, nobody={nobody}: {err}"
            );
            let audit = std::fs::read_to_string(&log).unwrap_or_default();
            assert!(
                audit
                    .lines()
                    .any(|l| l.contains("\"deny\"") && l.contains("target.txt")),
                "fds 3..{hi}, nobody={nobody}: no denial recorded:\n{audit}\n{err}"
            );
        }
    }
}
