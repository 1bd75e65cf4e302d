//! A vfork child making brokered calls from a signal handler leaves its parent's channels
//! alone (red team s8, finding 09).
//!
//! A vfork child shares its parent's memory, so it shares the thread-locals of the thread it
//! interrupted, which hold that thread's kept channels. It used to register a channel of its
//! own fd table there; the parent then sent its calls to an fd number that was not its
//! channel: `EIO`, or the program's own fd at that number written to and replaced. A vfork
//! child now uses a one-shot channel for every call (`state::in_vfork_child`). From
//! `tests/helpers/vfork_in_handler.c`, through libc (the shim is what is tested: a static
//! program has none), as the invoking user and as uid 65534, against the native control.

use arbiter_tests::{compile_helper, invoker_and_nobody, run_either_way, Sandbox};

#[test]
fn vfork_children_in_a_signal_handler_do_not_take_the_parents_channels() {
    for nobody in invoker_and_nobody() {
        let sb = Sandbox::new();
        let helper = compile_helper("vfork_in_handler", &sb.dir, &[]);
        let helper = helper.to_str().unwrap();
        let native = run_either_way(&sb, nobody, false, helper, &[]);
        assert_eq!(
            String::from_utf8_lossy(&native.stdout),
            "vforks 300, bad 0, open errors 0\n",
            "native control as 65534={nobody}"
        );
        let o = run_either_way(&sb, nobody, true, helper, &[]);
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            "vforks 300, bad 0, open errors 0\n",
            "as 65534={nobody}: {:?} {}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        );
    }
}
