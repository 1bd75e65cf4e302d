//! The dynamic loader's search path kept out of arbiter's own process.
//!
//! ld.so reads `LD_LIBRARY_PATH` once, when arbiter starts, and searches it first for every
//! library loaded later — including those glibc loads on arbiter's behalf while it brokers
//! a sandbox's calls: the NSS module a services, protocols or host lookup needs
//! (`libnss_db.so.2` for Debian's `services: db files`, not installed, so searched for), or
//! `libidn2` for an IDN lookup. A directory on that path which the sandbox may write (an
//! empty element, which means the current directory, the `$PWD` the default policy
//! grants; cargo's `target/debug`; a project's `lib/`) would let the sandboxed program
//! plant a library there and have the broker run it, outside every layer of the sandbox
//! (red team s10a finding 04).
//!
//! So a non-empty `LD_LIBRARY_PATH` never reaches arbiter's loader: [`keep_out`] re-executes
//! arbiter without it, carrying its value in [`CARRIED`], and the re-executed arbiter puts
//! it back into its environment — which its loader no longer reads — so the command and
//! everything arbiter starts get the variable exactly as the user set it. The cost, one
//! more exec of arbiter, is paid only when the variable is set.

use std::ffi::{CStr, CString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

/// The variable that carries `LD_LIBRARY_PATH` across arbiter's re-exec.
pub const CARRIED: &str = "ARBITER_CARRIED_LD_LIBRARY_PATH";

const VAR: &str = "LD_LIBRARY_PATH";

/// Re-executes arbiter without `LD_LIBRARY_PATH` when it is set and not empty (its value
/// carried in [`CARRIED`]); after such a re-exec, moves the carried value back. Call first
/// in `main`, on the only thread, with the process's own `argv`. Does not return when it
/// re-executes; a failed re-exec ends arbiter with status 125 (it never runs with the
/// variable in its loader's path).
pub fn keep_out(argv: *const *const libc::c_char) {
    if let Some(value) = std::env::var_os(CARRIED) {
        std::env::remove_var(CARRIED);
        if std::env::var_os(VAR).is_none() {
            std::env::set_var(VAR, value);
        }
        return;
    }
    let Some(value) = std::env::var_os(VAR).filter(|v| !v.is_empty()) else {
        return;
    };
    let mut carried = CARRIED.as_bytes().to_vec();
    carried.push(b'=');
    carried.extend_from_slice(value.as_bytes());
    let mut env: Vec<CString> = std::env::vars_os()
        .filter(|(k, _)| k != VAR)
        .filter_map(|(k, v)| {
            let mut kv = k.into_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            CString::new(kv).ok()
        })
        .collect();
    env.extend(CString::new(carried).ok());
    let mut envp: Vec<*const libc::c_char> = env.iter().map(|c| c.as_ptr()).collect();
    envp.push(std::ptr::null());
    let exe: &CStr = c"/proc/self/exe";
    // SAFETY: argv is the process's own NULL-terminated argument vector (from the C
    // runtime); envp is NULL-terminated and its strings live in `env` until execve returns.
    unsafe { libc::execve(exe.as_ptr(), argv, envp.as_ptr()) };
    eprintln!(
        "arbiter: cannot restart without LD_LIBRARY_PATH in its own loader's path ({}); unset it or run arbiter with /proc mounted",
        std::io::Error::last_os_error()
    );
    std::process::exit(i32::from(crate::exit_code::FAILED));
}
