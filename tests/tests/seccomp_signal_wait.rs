//! A signal interrupts a brokered call that waits for a peer as it interrupts the native
//! call, and a program waiting in one can always be stopped.
//!
//! The notify filter waits only killably once the broker holds a call (so a call is never
//! performed twice: `seccomp_signal_flood.rs`). A FIFO open with no peer then ignored
//! handled signals, and a handled signal left pending kept the kernel from making a later
//! `SIGTERM` fatal: the program, and `arbiter run` with it, could only be ended with
//! `SIGKILL` (red team s8, finding 03). Now such a wait gives up when a signal is pending
//! for its caller and answers `ERESTARTSYS`: the kernel runs the handler and fails the call
//! with `EINTR` (no `SA_RESTART`) or restarts it, and `SIGTERM` kills. A process-wide signal
//! counts when no other live thread leaves it unblocked: with the main thread gone through
//! `pthread_exit` (a zombie that takes no signal) the waiting thread's signals were not
//! noticed (red team s8b, finding 01; the `term-leader-exit` case).
//!
//! From `tests/helpers/signal_during_wait.c` built static with a raw `openat` (the seccomp
//! transport) and dynamic through libc (the shim), as the invoking user and as uid 65534,
//! each against the native control. The shim's channel does not return `EINTR` for a
//! handler without `SA_RESTART` (it waits on for the broker's answer: docs/process-model.md,
//! "Signals"), so the `eintr` case runs on the raw build only.

use std::os::unix::process::ExitStatusExt;

use arbiter_tests::{compile_libc_and_raw, invoker_and_nobody, run_either_way, Sandbox};

#[test]
fn a_signal_interrupts_a_waiting_fifo_open_and_sigterm_ends_it() {
    for nobody in invoker_and_nobody() {
        let sb = Sandbox::new();
        let (libc_build, raw_build) = compile_libc_and_raw("signal_during_wait", &sb);
        for (build, modes) in [
            (
                &raw_build,
                &["eintr", "restart", "term", "term-leader-exit"][..],
            ),
            (&libc_build, &["restart", "term", "term-leader-exit"][..]),
        ] {
            let build = build.to_str().unwrap();
            for &mode in modes {
                for under_arbiter in [false, true] {
                    let fifo = format!("fifo-{mode}-{under_arbiter}");
                    let o = run_either_way(&sb, nobody, under_arbiter, build, &[mode, &fifo]);
                    let what = format!(
                        "{build} {mode} as {} {}: {:?} {}{}",
                        if nobody { "65534" } else { "the invoker" },
                        if under_arbiter {
                            "under arbiter"
                        } else {
                            "natively"
                        },
                        o.status,
                        String::from_utf8_lossy(&o.stdout),
                        String::from_utf8_lossy(&o.stderr)
                    );
                    match mode {
                        "eintr" => assert_eq!(
                            (String::from_utf8_lossy(&o.stdout).as_ref(), o.status.code()),
                            ("eintr handled 1\n", Some(0)),
                            "{what}"
                        ),
                        "restart" => assert_eq!(
                            (String::from_utf8_lossy(&o.stdout).as_ref(), o.status.code()),
                            ("opened handled 1\n", Some(0)),
                            "{what}"
                        ),
                        _ if under_arbiter => {
                            // arbiter's status mirrors the command's: 128 + SIGTERM.
                            assert_eq!(o.status.code(), Some(128 + libc::SIGTERM), "{what}")
                        }
                        _ => assert_eq!(o.status.signal(), Some(libc::SIGTERM), "{what}"),
                    }
                }
            }
        }
    }
}
