//! The exec family and posix_spawn: the new program gets an environment that keeps it
//! brokered (see [`crate::env`]). The variadic `execl`, `execlp` and `execle` live in
//! `exec_variadic.c` and call [`arbiter_execve`] / [`arbiter_execvpe`].

use std::ffi::{c_char, c_int};

use crate::env;
use crate::hooks::guarded;
use crate::real_fn;

extern "C" {
    static environ: *const *const c_char;
}

real_fn!(
    real_execvpe,
    c"execvpe",
    fn(*const c_char, *const *const c_char, *const *const c_char) -> c_int
);
real_fn!(
    real_posix_spawn,
    c"posix_spawn",
    fn(
        *mut libc::pid_t,
        *const c_char,
        *const libc::posix_spawn_file_actions_t,
        *const libc::posix_spawnattr_t,
        *const *const c_char,
        *const *const c_char,
    ) -> c_int
);
real_fn!(
    real_posix_spawnp,
    c"posix_spawnp",
    fn(
        *mut libc::pid_t,
        *const c_char,
        *const libc::posix_spawn_file_actions_t,
        *const libc::posix_spawnattr_t,
        *const *const c_char,
        *const *const c_char,
    ) -> c_int
);
real_fn!(
    real_fexecve,
    c"fexecve",
    fn(c_int, *const *const c_char, *const *const c_char) -> c_int
);

/// The signature posix_spawn and posix_spawnp share.
type SpawnFn = unsafe extern "C" fn(
    *mut libc::pid_t,
    *const c_char,
    *const libc::posix_spawn_file_actions_t,
    *const libc::posix_spawnattr_t,
    *const *const c_char,
    *const *const c_char,
) -> c_int;

/// Runs `f` with the environment that keeps the new program brokered (or `envp` itself when
/// there is no broker).
///
/// # Safety
/// `envp` must be null or a NULL-terminated array of C strings.
unsafe fn with_brokered_env<R>(
    envp: *const *const c_char,
    f: impl FnOnce(*const *const c_char) -> R,
) -> R {
    // SAFETY: guaranteed by the caller.
    let built = unsafe { env::brokered(envp) };
    f(built.as_ref().map_or(envp, |b| b.envp()))
}

/// posix_spawn or posix_spawnp through libc's own `real`, with a brokered environment.
///
/// # Safety
/// libc's contract for posix_spawn.
unsafe fn spawn_via(
    real: Option<SpawnFn>,
    pid: *mut libc::pid_t,
    path: *const c_char,
    actions: *const libc::posix_spawn_file_actions_t,
    attr: *const libc::posix_spawnattr_t,
    argv: *const *const c_char,
    envp: *const *const c_char,
) -> c_int {
    guarded!(libc::EIO, {
        // SAFETY: envp is the caller's environment array.
        unsafe {
            with_brokered_env(envp, |e| match real {
                Some(f) => retry_busy(
                    // SAFETY: libc's own function with the caller's arguments and a valid
                    // envp.
                    || f(pid, path, actions, attr, argv, e),
                    |rc| rc == libc::ETXTBSY,
                ),
                None => libc::ENOSYS,
            })
        }
    })
}

/// Runs an exec or spawn attempt `f` again, after a short pause, while it fails with
/// `ETXTBSY` ("text file busy": the file is open for writing somewhere). The broker closes
/// its own copy of an fd it opened for the program only after handing it over, so a file
/// the program has just written and closed (`cc -o h && ./h`, `cp x y && ./y`) can still be
/// open in the broker for the moment its worker thread waits to run again. Six pauses of 1
/// to 32 ms (63 ms in all) outlast that; a file someone really keeps open fails as natively,
/// only later. `busy` says whether an attempt's result is that error. Async-signal-safe and
/// allocation-free (vfork children exec through here).
fn retry_busy<R: Copy>(mut f: impl FnMut() -> R, busy: impl Fn(R) -> bool) -> R {
    let mut pause_ms = 1;
    loop {
        let r = f();
        if !busy(r) || pause_ms > 32 {
            return r;
        }
        let ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: pause_ms * 1_000_000,
        };
        // SAFETY: ts is a valid timespec; a null remainder is allowed.
        unsafe { libc::nanosleep(&ts, std::ptr::null_mut()) };
        pause_ms *= 2;
    }
}

/// Whether a `-1`-style result failed with `ETXTBSY`.
fn errno_busy(rc: c_int) -> bool {
    // SAFETY: __errno_location returns this thread's errno slot.
    rc == -1 && unsafe { *libc::__errno_location() } == libc::ETXTBSY
}

fn current_environ() -> *const *const c_char {
    // SAFETY: reading libc's environ pointer.
    unsafe { environ }
}

/// execve with a brokered environment (also the target of the C `execl`/`execle`).
///
/// # Safety
/// libc's contract for execve.
#[no_mangle]
pub unsafe extern "C" fn arbiter_execve(
    path: *const c_char,
    argv: *const *const c_char,
    envp: *const *const c_char,
) -> c_int {
    guarded!(-1, {
        // SAFETY: envp is the caller's environment array; the kernel gets a valid one.
        unsafe {
            with_brokered_env(envp, |e| {
                retry_busy(
                    || libc::syscall(libc::SYS_execve, path, argv, e) as c_int,
                    errno_busy,
                )
            })
        }
    })
}

/// execvpe with a brokered environment (also the target of the C `execlp`).
///
/// # Safety
/// libc's contract for execvpe.
#[no_mangle]
pub unsafe extern "C" fn arbiter_execvpe(
    file: *const c_char,
    argv: *const *const c_char,
    envp: *const *const c_char,
) -> c_int {
    guarded!(-1, {
        // SAFETY: envp is the caller's valid environment array.
        let built = unsafe { env::brokered(envp) };
        let e = built.as_ref().map_or(envp, |b| b.envp());
        match real_execvpe() {
            // SAFETY: libc's own execvpe with the caller's arguments and a valid envp.
            Some(f) => retry_busy(|| unsafe { f(file, argv, e) }, errno_busy),
            None => crate::forward::fail(libc::ENOSYS),
        }
    })
}

/// Brokered `execve`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn execve(
    path: *const c_char,
    argv: *const *const c_char,
    envp: *const *const c_char,
) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    unsafe { arbiter_execve(path, argv, envp) }
}

/// Brokered `execv`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn execv(path: *const c_char, argv: *const *const c_char) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    unsafe { arbiter_execve(path, argv, current_environ()) }
}

/// Brokered `execvp`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn execvp(file: *const c_char, argv: *const *const c_char) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    unsafe { arbiter_execvpe(file, argv, current_environ()) }
}

/// Brokered `execvpe`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn execvpe(
    file: *const c_char,
    argv: *const *const c_char,
    envp: *const *const c_char,
) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    unsafe { arbiter_execvpe(file, argv, envp) }
}

/// Brokered `fexecve`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn fexecve(
    fd: c_int,
    argv: *const *const c_char,
    envp: *const *const c_char,
) -> c_int {
    guarded!(-1, {
        // SAFETY: envp is the caller's valid environment array.
        let built = unsafe { env::brokered(envp) };
        let e = built.as_ref().map_or(envp, |b| b.envp());
        match real_fexecve() {
            // SAFETY: libc's own fexecve with the caller's arguments and a valid envp.
            Some(f) => unsafe { f(fd, argv, e) },
            None => crate::forward::fail(libc::ENOSYS),
        }
    })
}

/// Brokered `posix_spawn` (glibc runs the child with `CLONE_VM|CLONE_VFORK` and no atfork
/// handlers, so the environment is fixed up here, in the parent).
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn posix_spawn(
    pid: *mut libc::pid_t,
    path: *const c_char,
    actions: *const libc::posix_spawn_file_actions_t,
    attr: *const libc::posix_spawnattr_t,
    argv: *const *const c_char,
    envp: *const *const c_char,
) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    unsafe { spawn_via(real_posix_spawn(), pid, path, actions, attr, argv, envp) }
}

/// Brokered `posix_spawnp`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn posix_spawnp(
    pid: *mut libc::pid_t,
    file: *const c_char,
    actions: *const libc::posix_spawn_file_actions_t,
    attr: *const libc::posix_spawnattr_t,
    argv: *const *const c_char,
    envp: *const *const c_char,
) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    unsafe { spawn_via(real_posix_spawnp(), pid, file, actions, attr, argv, envp) }
}
