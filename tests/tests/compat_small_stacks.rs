//! A thread with a small stack can make brokered calls.
//!
//! glibc takes a thread's static TLS out of the stack the program asks for. The shim's
//! message buffers used to live in TLS (16 KiB, then 32 KiB with the signal handlers'
//! channel), so `pthread_create` refused small stacks with `EINVAL` (node's worker threads
//! did) or the call overflowed what was left. The buffers are now mapped on a channel's first
//! call (shim/src/mapped_buf.rs). From `tests/helpers/small_stack_thread.c` (through libc:
//! the shim is what is measured; a static program has no shim), as the invoking user and as
//! uid 65534, against the native control.

use arbiter_tests::{compile_helper, invoker_and_nobody, run_either_way, Sandbox};

/// The stack size tried: natively any size from glibc's minimum (16 KiB) works; under the
/// build before this change a 32 KiB stack crashed (SIGSEGV) and 24 KiB was refused.
const STACK: &str = "32768";

#[test]
fn a_thread_with_a_32_kib_stack_makes_a_brokered_open() {
    for nobody in invoker_and_nobody() {
        let sb = Sandbox::new();
        let helper = compile_helper("small_stack_thread", &sb.dir, &["-pthread"]);
        let helper = helper.to_str().unwrap();
        let native = run_either_way(&sb, nobody, false, helper, &[STACK]);
        assert_eq!(
            String::from_utf8_lossy(&native.stdout),
            format!("opened 1 with a stack of {STACK}\n"),
            "native control as 65534={nobody}"
        );
        let o = run_either_way(&sb, nobody, true, helper, &[STACK]);
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            format!("opened 1 with a stack of {STACK}\n"),
            "as 65534={nobody}: {:?} {}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        );
    }
}
