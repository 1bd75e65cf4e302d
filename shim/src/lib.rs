//! arbiter's shim: an `LD_PRELOAD` library that forwards the libc calls needing authority
//! to the broker, which decides, performs them, and sends back the result.
//!
//! # One `open()`, step by step
//! 1. The program calls `open("notes.txt", O_RDONLY)`; the dynamic linker resolved that
//!    symbol to [`hooks::open`] because this library is preloaded.
//! 2. The hook reads the bootstrap fd from `ARBITER_FD` (once; see [`state`]). Without it
//!    the process is not sandboxed and the call goes straight to the kernel.
//! 3. [`path::prepare`] makes the path absolute with `getcwd(2)` (or attaches the dirfd of
//!    an `openat`), without allocating.
//! 4. [`channel::call`] uses this thread's private channel (registering one over the
//!    bootstrap socket on first use, or after a fork), encodes a `Call::Open` with a fresh
//!    request id, sends it, and blocks on the reply.
//! 5. The broker resolves the real path, asks the policy, opens the file itself and replies
//!    with the fd attached (`SCM_RIGHTS`), or with an errno.
//! 6. [`forward::fd_call`] receives the fd (close-on-exec unless the program did not ask
//!    for it), returns it, or sets errno and returns -1 — exactly what libc would do.
//!
//! Some calls never leave the process: the fast paths ([`fast_path`]) answer a `stat` in a
//! subtree the policy grants throughout, and a read-only open the kernel floor decides as
//! the policy would. When the audit log records every call, each of those is reported to
//! the broker through a shared-memory ring ([`report`]), without a round trip.
//!
//! The shim is for compatibility, not security: the kernel (Landlock, seccomp) denies what
//! bypasses it. If the broker cannot be reached, calls fail with `EIO`; they never fall
//! through to the real libc.
//!
//! The shim never calls a function it exports (it uses `syscall(2)`, or the next
//! definition found with `dlsym(RTLD_NEXT)`), so it cannot recurse into its own hooks.

pub mod channel;
pub mod env;
pub mod fast_dirs;
pub mod fast_path;
pub mod fast_table;
pub mod forward;
pub mod hooks;
pub mod mapped_buf;
pub mod path;
pub mod report;
pub mod state;
pub mod sys;

/// Runs when the library is loaded (before `main`, while the process is single-threaded):
/// reads the environment once, so no hook has to do it later in an awkward context
/// (a signal handler, a vfork child).
extern "C" fn on_load() {
    state::bootstrap();
    state::umask();
    // Recorded by the process itself, before any vfork child could record its own.
    state::pid();
    channel::make_exit_key();
    env::remember_shim_path();
}

#[used]
#[link_section = ".init_array"]
static ON_LOAD: extern "C" fn() = on_load;

/// The version stamp `arbiter doctor` looks for in the library file
/// ([`arbiter_protocol::SHIM_STAMP`]), kept even though nothing reads it at run time.
#[used]
static STAMP: [u8; arbiter_protocol::SHIM_STAMP.len()] = {
    let mut out = [0u8; arbiter_protocol::SHIM_STAMP.len()];
    let mut i = 0;
    while i < out.len() {
        out[i] = arbiter_protocol::SHIM_STAMP[i];
        i += 1;
    }
    out
};
