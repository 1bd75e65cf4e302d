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
/// interrupted by: pending for the thread itself, or for its process when it is the
/// process's only thread (another thread could take a process-wide signal, and then this
/// one must go on waiting, as natively), and neither blocked nor ignored. A signal whose
/// default action is to do nothing is never queued, so it does not count. `false` when
/// the thread cannot be read (gone: the caller no longer waits anyway).
pub(super) fn interrupting(tid: i32) -> bool {
    let Ok(status) = super::read_status(tid) else {
        return false;
    };
    let mask = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
            .unwrap_or(0)
    };
    let alone = status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse::<u32>().ok())
        == Some(1);
    let pending = mask("SigPnd:") | if alone { mask("ShdPnd:") } else { 0 };
    pending & !mask("SigBlk:") & !mask("SigIgn:") != 0
}
