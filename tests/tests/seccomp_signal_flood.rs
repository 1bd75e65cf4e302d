//! A call the broker performs for the program takes effect exactly once, however many
//! signals interrupt the program meanwhile.
//!
//! The seccomp transport's calls are performed by the broker while the program waits in
//! the kernel. A signal arriving in that wait used to interrupt it: the broker's answer was
//! refused, and the kernel restarted the call after the handler (`SA_RESTART`), so the
//! broker performed it a second time and the program saw `EEXIST` or `ENOENT` for a
//! `mkdir`, `rename`, `rmdir`, exclusive create or `unlink` that had succeeded (and a shim
//! channel's registration, a trapped `sendmsg`, registered the channel twice: the CI failure
//! of `a_signal_handler_opening_files_mid_call_does_not_deadlock`). The filter now asks the
//! kernel to wait only killably once the broker holds a notification
//! (`SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV`).
//!
//! From `tests/helpers/signal_flood.c` built static with raw system calls (the seccomp
//! transport) and dynamic through libc (the shim), as the invoking user and as uid 65534,
//! against the native control (the same program without arbiter: every call succeeds).

use arbiter_tests::{compile_libc_and_raw, invoker_and_nobody, run_either_way, Sandbox};

/// The number after `key ` in the helper's report.
fn field(report: &str, key: &str) -> i64 {
    report
        .split_whitespace()
        .skip_while(|w| *w != key)
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {report:?}"))
}

#[test]
fn a_signal_flood_never_makes_a_brokered_call_take_effect_twice() {
    for nobody in invoker_and_nobody() {
        let sb = Sandbox::new();
        let (libc_build, raw_build) = compile_libc_and_raw("signal_flood", &sb);
        for build in [&raw_build, &libc_build] {
            let build = build.to_str().unwrap();
            for under_arbiter in [false, true] {
                let o = run_either_way(&sb, nobody, under_arbiter, build, &[]);
                let report = String::from_utf8_lossy(&o.stdout);
                let what = format!(
                    "{build} as {} {}: {report}{}",
                    if nobody { "65534" } else { "the invoker" },
                    if under_arbiter {
                        "under arbiter"
                    } else {
                        "natively"
                    },
                    String::from_utf8_lossy(&o.stderr)
                );
                // The flood was real, and every call took effect once.
                assert!(field(&report, "handled") > 100, "{what}");
                assert_eq!(field(&report, "bad"), 0, "{what}");
                assert_eq!(o.status.code(), Some(0), "{what}");
            }
        }
    }
}
