//! Signals that interrupt a call the broker waits on for the program.
//!
//! The notify filter waits only killably once the broker holds a call
//! (`SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV`, `confine::seccomp`), so a call the broker
//! performed is never restarted and performed again. A call that may wait as long as a
//! peer likes — a FIFO open, a blocking connect or send — would then ignore the signals
//! that natively interrupt it; worse, a handled signal left pending keeps the kernel from
//! turning a later `SIGTERM` or `SIGINT` into the group kill (`complete_signal` finds the
//! only thread already signalled and does not wake it), so the program could no longer be
//! stopped but by `SIGKILL` (red team s8, finding 03). So each such wait, at every tick
//! (`core::waiting::TICK`), also looks at the caller's pending signals here, gives up when
//! one would interrupt it natively, and answers `ERESTARTSYS`: on its way back to the
//! program the kernel then delivers the signal and, as for a native wait, restarts the call
//! (`SA_RESTART`) or fails it with `EINTR`; a fatal signal ends the process.

/// The kernel's "restart if the handler asks for it, else `EINTR`" (`ERESTARTSYS`, not in
/// the uapi headers): a notification answered with it behaves as a native wait interrupted
/// by a signal, provided a signal is pending for the thread when it returns.
pub(super) const ERESTARTSYS: i32 = 512;

/// Whether thread `tid` has a signal pending that a native blocking call would be
/// interrupted by, neither blocked nor ignored by it: pending for the thread itself, or for
/// its process when no other live thread of the process leaves that signal unblocked (the
/// kernel then gives it to this thread, which it has marked as signalled; natively another
/// such thread takes it and this one goes on waiting). A thread that has exited (a zombie
/// leader after `pthread_exit`) takes nothing (red team s8b, finding 01). A signal whose
/// default action is to do nothing is never queued, so it does not count. `false` when the
/// thread cannot be read (gone: the caller no longer waits anyway).
pub(super) fn interrupting(tid: i32) -> bool {
    let Ok(status) = super::read_status(tid) else {
        return false;
    };
    let deliverable = !mask(&status, "SigBlk:") & !mask(&status, "SigIgn:");
    if mask(&status, "SigPnd:") & deliverable != 0 {
        return true;
    }
    let shared = mask(&status, "ShdPnd:") & deliverable;
    shared != 0 && untaken_by_others(tid, &status, shared) != 0
}

/// Of the process-wide pending signals `shared`, those that no live thread of `tid`'s
/// process other than `tid` leaves unblocked.
fn untaken_by_others(tid: i32, status: &str, shared: u64) -> u64 {
    let Some(tgid) = super::status_field(status, "Tgid:") else {
        return 0;
    };
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{tgid}/task")) else {
        return 0;
    };
    let mut untaken = shared;
    for task in tasks.flatten() {
        let Some(other) = task
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if other == tid {
            continue;
        }
        let Ok(other_status) = super::read_status(other) else {
            continue;
        };
        if matches!(super::status_word(&other_status, "State:"), Some("Z" | "X")) {
            continue;
        }
        untaken &= mask(&other_status, "SigBlk:");
        if untaken == 0 {
            break;
        }
    }
    untaken
}

/// The hexadecimal signal mask on the `/proc/<tid>/status` line starting with `key`; 0
/// when there is none.
fn mask(status: &str, key: &str) -> u64 {
    super::status_word(status, key)
        .and_then(|v| u64::from_str_radix(v, 16).ok())
        .unwrap_or(0)
}
