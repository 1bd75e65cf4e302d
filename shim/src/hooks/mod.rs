//! The exported `extern "C"` detours. Each is thin: a panic guard, a call into the safe
//! logic of [`crate::forward`] and [`crate::path`], and the mapping back to the C ABI.
//! Without a broker (no `ARBITER_FD` in the environment) every hook passes straight through
//! to the kernel or the real libc, so the library is harmless outside arbiter.

pub mod cwd;
pub mod exec;
pub mod fd_protect;
pub mod hostent;
pub mod modify;
pub mod net;
pub mod open;
pub mod realpath;
pub mod servent;
pub mod stat;
pub mod stdio;

/// Runs a hook body, turning a panic into `EIO` and `$err` instead of unwinding into C.
macro_rules! guarded {
    ($err:expr, $body:expr) => {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| $body)) {
            Ok(v) => v,
            Err(_) => {
                $crate::sys::set_errno(libc::EIO);
                $err
            }
        }
    };
}
pub(crate) use guarded;

/// True when no broker serves this process: hooks pass through.
pub fn unbrokered() -> bool {
    crate::state::bootstrap() < 0
}
