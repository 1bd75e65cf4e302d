//! Starting a child that shares arbiter's memory until it execs (`CLONE_VM | CLONE_VFORK`,
//! the way glibc's `posix_spawn` does), so no page table is copied for it and its exec has
//! no copied address space to tear down.
//!
//! `std::process::Command` forks when it has a `pre_exec` step; the confinement needs such
//! steps, and forking arbiter (a large binary with several threads' stacks and arenas)
//! plus tearing the copy down again at exec was a large part of `arbiter run`'s start-up.
//!
//! The child runs on a stack of its own while the calling thread is suspended; it must only
//! make system calls on data prepared before (no allocation, no locks), which is already
//! the contract of every [`super::spawn::PreExec`] step.
//!
//! With `share_fds` it also shares arbiter's descriptor table until it execs
//! (`CLONE_FILES`): a descriptor it creates (the seccomp listener,
//! `confine::seccomp::Handoff::SharedTable`) is arbiter's at once, and the kernel gives the
//! command a copy of the table at exec, closing the close-on-exec descriptors in the copy
//! only. Whatever the child places at fixed numbers is then placed in arbiter's table too,
//! and the caller closes it again ([`super::spawn`]).

use std::ffi::{CStr, CString, OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::sync::atomic::{AtomicI32, Ordering};

/// Stack of the child before exec, besides room for `execvpe`'s argument copy.
const STACK: usize = 256 * 1024;
/// The guard page below the child's stack.
const GUARD: usize = 4096;

/// The program, argv and environment of an exec, as C strings built before the clone.
pub struct ExecArgs {
    program: CString,
    /// Keeps the strings `argv_ptrs` points into.
    _argv: Vec<CString>,
    argv_ptrs: Vec<*const libc::c_char>,
    /// Keeps the strings `envp_ptrs` points into.
    _envp: Vec<CString>,
    envp_ptrs: Vec<*const libc::c_char>,
}

fn cstring(s: &OsStr) -> std::io::Result<CString> {
    CString::new(s.as_bytes()).map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))
}

impl ExecArgs {
    /// `program` with `argv` (argv\[0] included) and exactly the environment `vars`, sorted
    /// by name as `std::process::Command` passes it.
    pub fn new(
        program: &OsStr,
        argv: &[OsString],
        vars: std::collections::BTreeMap<OsString, OsString>,
    ) -> std::io::Result<ExecArgs> {
        let argv: Vec<CString> = argv.iter().map(|a| cstring(a)).collect::<Result<_, _>>()?;
        let envp: Vec<CString> = vars
            .into_iter()
            .map(|(k, v)| {
                let mut kv = k.into_vec();
                kv.push(b'=');
                kv.extend(v.into_vec());
                CString::new(kv).map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))
            })
            .collect::<Result<_, _>>()?;
        let nul_terminated = |v: &[CString]| {
            v.iter()
                .map(|s| s.as_ptr())
                .chain(std::iter::once(std::ptr::null()))
                .collect::<Vec<_>>()
        };
        Ok(ExecArgs {
            program: cstring(program)?,
            argv_ptrs: nul_terminated(&argv),
            _argv: argv,
            envp_ptrs: nul_terminated(&envp),
            _envp: envp,
        })
    }
}

/// What the child needs, on the parent's stack (shared with the child until it execs).
struct Child<'a> {
    program: &'a CStr,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
    pre_exec: &'a mut dyn FnMut() -> std::io::Result<()>,
    /// The errno of a failed step or exec (0 while none failed).
    error: AtomicI32,
}

extern "C" fn child_main(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: arg is the `Child` that `spawn` passed to clone; it outlives the child's use
    // of it because the parent stays suspended (CLONE_VFORK) until the child execs or exits.
    let child = unsafe { &mut *arg.cast::<Child<'_>>() };
    // SAFETY: signal(2) and execvpe(3) are async-signal-safe system call wrappers; the
    // pointers are valid NUL-terminated strings and arrays prepared by the parent.
    let err = unsafe {
        // Handlers would run on memory shared with the parent: none until exec, which resets
        // them anyway. SIGPIPE is ignored in arbiter; the command starts with the default.
        for sig in [libc::SIGSEGV, libc::SIGBUS, libc::SIGPIPE] {
            libc::signal(sig, libc::SIG_DFL);
        }
        match (child.pre_exec)() {
            Err(e) => e.raw_os_error().unwrap_or(libc::EINVAL),
            Ok(()) => {
                // Like std::process::Command: execvp semantics (a name without `/` is looked
                // up in PATH; a file without `#!` that the kernel refuses runs under sh).
                libc::execvpe(child.program.as_ptr(), child.argv, child.envp);
                *libc::__errno_location()
            }
        }
    };
    child.error.store(err, Ordering::SeqCst);
    // SAFETY: _exit ends only this child, without running any of the parent's exit handlers.
    unsafe { libc::_exit(127) }
}

/// The child's stack: an anonymous mapping with a guard page below it.
struct Stack {
    base: *mut libc::c_void,
    len: usize,
}

impl Stack {
    fn new(len: usize) -> std::io::Result<Stack> {
        // SAFETY: a fresh anonymous mapping, then protecting its own lowest page.
        unsafe {
            let base = libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            );
            if base == libc::MAP_FAILED {
                return Err(std::io::Error::last_os_error());
            }
            let stack = Stack { base, len };
            if libc::mprotect(base, GUARD, libc::PROT_NONE) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(stack)
        }
    }

    fn top(&self) -> *mut libc::c_void {
        // SAFETY: one past the end of the mapping, where a downward-growing stack starts.
        unsafe { self.base.cast::<u8>().add(self.len).cast() }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: the mapping is ours and no longer used (the child has exec'd or exited).
        unsafe { libc::munmap(self.base, self.len) };
    }
}

/// Starts `exec.program` in a child that first runs `pre_exec`, and returns its pid once it
/// has exec'd. A failed step or exec comes back as the error, with the child reaped. With
/// `share_fds` the child shares this process's descriptor table until it execs (see the
/// module documentation).
pub fn spawn(
    exec: &ExecArgs,
    pre_exec: &mut dyn FnMut() -> std::io::Result<()>,
    share_fds: bool,
) -> std::io::Result<libc::pid_t> {
    // execvpe may copy argv onto the stack (to run a script under sh).
    let stack = Stack::new(GUARD + STACK + exec.argv_ptrs.len() * 16)?;
    let mut child = Child {
        program: &exec.program,
        argv: exec.argv_ptrs.as_ptr(),
        envp: exec.envp_ptrs.as_ptr(),
        pre_exec,
        error: AtomicI32::new(0),
    };
    // SAFETY: sigset_t is plain old data, filled by sigfillset before use.
    let mut all: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: valid sigsets; every signal is blocked so none is delivered to the child
    // before its steps set the mask the command starts with; the old mask is restored below.
    unsafe {
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
    }
    let files = if share_fds { libc::CLONE_FILES } else { 0 };
    // SAFETY: the child runs child_main on its own stack with `child`, which lives on this
    // frame; CLONE_VFORK suspends this thread until the child execs or exits, so neither
    // `child` nor `stack` is touched by both at once or freed early.
    let pid = unsafe {
        libc::clone(
            child_main,
            stack.top(),
            libc::CLONE_VM | libc::CLONE_VFORK | files | libc::SIGCHLD,
            (&mut child as *mut Child<'_>).cast(),
        )
    };
    let clone_error = std::io::Error::last_os_error();
    // SAFETY: restores this thread's own mask saved above.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
    if pid < 0 {
        return Err(clone_error);
    }
    match child.error.load(Ordering::SeqCst) {
        0 => Ok(pid),
        err => {
            let mut status = 0;
            // SAFETY: reaps our own child, which has exited; status is a valid out-pointer.
            unsafe { libc::waitpid(pid, &mut status, 0) };
            Err(std::io::Error::from_raw_os_error(err))
        }
    }
}
