//! Entry points whose glibc implementation opens files internally (not through the PLT),
//! re-implemented on top of the brokered open: fopen, freopen, opendir, the mkstemp family,
//! mkdtemp and tmpfile.

use std::ffi::{c_char, c_int};

use crate::forward::fail;
use crate::hooks::modify::mkdir;
use crate::hooks::open::brokered_openat;
use crate::hooks::{guarded, unbrokered};
use crate::real_fn;
use crate::sys::{c_str_len, errno, raw_close, set_errno};

real_fn!(
    real_fopen,
    c"fopen",
    fn(*const c_char, *const c_char) -> *mut libc::FILE
);
real_fn!(
    real_freopen,
    c"freopen",
    fn(*const c_char, *const c_char, *mut libc::FILE) -> *mut libc::FILE
);
real_fn!(
    real_opendir,
    c"opendir",
    fn(*const c_char) -> *mut libc::DIR
);
real_fn!(
    real_mkostemps,
    c"mkostemps",
    fn(*mut c_char, c_int, c_int) -> c_int
);
real_fn!(real_mkdtemp, c"mkdtemp", fn(*mut c_char) -> *mut c_char);
real_fn!(real_tmpfile, c"tmpfile", fn() -> *mut libc::FILE);

/// open(2) flags for an fopen mode string, or None when the mode is invalid.
///
/// # Safety
/// `mode` must be a valid C string.
unsafe fn fopen_flags(mode: *const c_char) -> Option<c_int> {
    // SAFETY: mode is a C string per this function's contract.
    let len = unsafe { c_str_len(mode, 64) }?;
    // SAFETY: len readable bytes precede the NUL.
    let m = unsafe { crate::sys::bytes(mode, len) };
    let mut flags = match m.first()? {
        b'r' => libc::O_RDONLY,
        b'w' => libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC,
        b'a' => libc::O_WRONLY | libc::O_CREAT | libc::O_APPEND,
        _ => return None,
    };
    for &c in &m[1..] {
        match c {
            b'+' => flags = (flags & !libc::O_ACCMODE) | libc::O_RDWR,
            b'x' => flags |= libc::O_EXCL,
            b'e' => flags |= libc::O_CLOEXEC,
            b',' => break, // ",ccs=..." is for the stream, not the open
            _ => {}
        }
    }
    Some(flags)
}

/// Brokered `fopen`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn fopen(path: *const c_char, mode: *const c_char) -> *mut libc::FILE {
    guarded!(std::ptr::null_mut(), {
        if unbrokered() {
            // SAFETY: the caller's arguments, passed on to libc's own fopen.
            return real_fopen().map_or(std::ptr::null_mut(), |f| unsafe { f(path, mode) });
        }
        // SAFETY: mode is a valid C string per libc's contract.
        let Some(flags) = (unsafe { fopen_flags(mode) }) else {
            set_errno(libc::EINVAL);
            return std::ptr::null_mut();
        };
        // SAFETY: the caller's path, passed on.
        let fd = unsafe { brokered_openat(libc::AT_FDCWD, path, flags, 0o666) };
        if fd < 0 {
            return std::ptr::null_mut();
        }
        // SAFETY: fd is ours; mode is the caller's valid mode string.
        let file = unsafe { libc::fdopen(fd, mode) };
        if file.is_null() {
            let e = errno();
            raw_close(fd);
            set_errno(e);
        }
        file
    })
}

/// Brokered `fopen64`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn fopen64(path: *const c_char, mode: *const c_char) -> *mut libc::FILE {
    // SAFETY: the caller's arguments, passed on.
    unsafe { fopen(path, mode) }
}

/// Brokered `freopen`: the new file is opened through the broker and moved onto the
/// stream's descriptor, so the same `FILE` now reads or writes it.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn freopen(
    path: *const c_char,
    mode: *const c_char,
    stream: *mut libc::FILE,
) -> *mut libc::FILE {
    guarded!(std::ptr::null_mut(), {
        if unbrokered() || path.is_null() {
            // SAFETY: the caller's arguments, passed on to libc's own freopen.
            return real_freopen()
                .map_or(std::ptr::null_mut(), |f| unsafe { f(path, mode, stream) });
        }
        // SAFETY: mode is a valid C string per libc's contract.
        let Some(flags) = (unsafe { fopen_flags(mode) }) else {
            set_errno(libc::EINVAL);
            return std::ptr::null_mut();
        };
        // SAFETY: the caller's path, passed on.
        let fd = unsafe { brokered_openat(libc::AT_FDCWD, path, flags, 0o666) };
        if fd < 0 {
            return std::ptr::null_mut();
        }
        // SAFETY: stream is a valid FILE per libc's contract; fd is ours.
        unsafe {
            libc::fflush(stream);
            let target = libc::fileno(stream);
            let rc = if target >= 0 {
                libc::dup3(fd, target, flags & libc::O_CLOEXEC)
            } else {
                -1
            };
            let e = errno();
            raw_close(fd);
            if rc < 0 {
                set_errno(e);
                return std::ptr::null_mut();
            }
            libc::clearerr(stream);
        }
        stream
    })
}

/// Brokered `freopen64`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn freopen64(
    path: *const c_char,
    mode: *const c_char,
    stream: *mut libc::FILE,
) -> *mut libc::FILE {
    // SAFETY: the caller's arguments, passed on.
    unsafe { freopen(path, mode, stream) }
}

/// Brokered `opendir`: a brokered `O_DIRECTORY` open, then `fdopendir`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn opendir(path: *const c_char) -> *mut libc::DIR {
    guarded!(std::ptr::null_mut(), {
        if unbrokered() {
            // SAFETY: the caller's argument, passed on to libc's own opendir.
            return real_opendir().map_or(std::ptr::null_mut(), |f| unsafe { f(path) });
        }
        // SAFETY: the caller's path, passed on.
        let fd = unsafe {
            brokered_openat(
                libc::AT_FDCWD,
                path,
                libc::O_RDONLY | libc::O_NONBLOCK | libc::O_DIRECTORY | libc::O_CLOEXEC,
                0,
            )
        };
        if fd < 0 {
            return std::ptr::null_mut();
        }
        // SAFETY: fd is a directory fd we own.
        let dir = unsafe { libc::fdopendir(fd) };
        if dir.is_null() {
            let e = errno();
            raw_close(fd);
            set_errno(e);
        }
        dir
    })
}

/// Replaces the six `X`s before `suffix` bytes of `template` with random letters.
///
/// # Safety
/// `template` must be a writable C string.
unsafe fn fill_template(template: *mut c_char, suffix: usize) -> Result<(), c_int> {
    // SAFETY: template is a C string per this function's contract.
    let len = unsafe { c_str_len(template, arbiter_protocol::MAX_PATH) }.ok_or(libc::EINVAL)?;
    if len < 6 + suffix {
        return Err(libc::EINVAL);
    }
    let start = len - suffix - 6;
    // SAFETY: start..start+6 lies within the string's len bytes.
    let xs = unsafe { std::slice::from_raw_parts_mut(template.add(start).cast::<u8>(), 6) };
    if xs.iter().any(|&c| c != b'X') {
        return Err(libc::EINVAL);
    }
    let mut rnd = [0u8; 6];
    // SAFETY: rnd is a valid 6-byte buffer.
    if unsafe { libc::syscall(libc::SYS_getrandom, rnd.as_mut_ptr(), 6, 0) } != 6 {
        return Err(libc::EIO);
    }
    const ALPHABET: &[u8; 62] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    for (x, r) in xs.iter_mut().zip(rnd) {
        *x = ALPHABET[usize::from(r) % ALPHABET.len()];
    }
    Ok(())
}

/// Tries random names until one can be created exclusively (as glibc does).
///
/// # Safety
/// `template` must be a writable C string.
unsafe fn make_temp(
    template: *mut c_char,
    suffix: usize,
    mut create: impl FnMut() -> c_int,
) -> c_int {
    for _ in 0..100 {
        // SAFETY: guaranteed by the caller.
        if let Err(e) = unsafe { fill_template(template, suffix) } {
            return fail(e);
        }
        let rc = create();
        if rc >= 0 || errno() != libc::EEXIST {
            return rc;
        }
    }
    fail(libc::EEXIST)
}

/// Brokered `mkostemps`: the core of the mkstemp family.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn mkostemps(template: *mut c_char, suffixlen: c_int, flags: c_int) -> c_int {
    guarded!(-1, {
        if unbrokered() {
            // SAFETY: the caller's arguments, passed on to libc's own function.
            return real_mkostemps().map_or(-1, |f| unsafe { f(template, suffixlen, flags) });
        }
        let Ok(suffix) = usize::try_from(suffixlen) else {
            return fail(libc::EINVAL);
        };
        let flags = (flags & !libc::O_ACCMODE) | libc::O_RDWR | libc::O_CREAT | libc::O_EXCL;
        // SAFETY: template is the caller's writable string; each attempt opens it.
        unsafe {
            make_temp(template, suffix, || {
                brokered_openat(libc::AT_FDCWD, template, flags, 0o600)
            })
        }
    })
}

/// Brokered `mkstemp`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn mkstemp(template: *mut c_char) -> c_int {
    // SAFETY: the caller's argument, passed on.
    unsafe { mkostemps(template, 0, 0) }
}

/// Brokered `mkstemp64`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn mkstemp64(template: *mut c_char) -> c_int {
    // SAFETY: the caller's argument, passed on.
    unsafe { mkostemps(template, 0, 0) }
}

/// Brokered `mkostemp`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn mkostemp(template: *mut c_char, flags: c_int) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    unsafe { mkostemps(template, 0, flags) }
}

/// Brokered `mkostemp64`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn mkostemp64(template: *mut c_char, flags: c_int) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    unsafe { mkostemps(template, 0, flags) }
}

/// Brokered `mkstemps`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn mkstemps(template: *mut c_char, suffixlen: c_int) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    unsafe { mkostemps(template, suffixlen, 0) }
}

/// Brokered `mkdtemp`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn mkdtemp(template: *mut c_char) -> *mut c_char {
    guarded!(std::ptr::null_mut(), {
        if unbrokered() {
            // SAFETY: the caller's argument, passed on to libc's own function.
            return real_mkdtemp().map_or(std::ptr::null_mut(), |f| unsafe { f(template) });
        }
        // SAFETY: template is the caller's writable string.
        let rc = unsafe { make_temp(template, 0, || mkdir(template, 0o700)) };
        if rc < 0 {
            std::ptr::null_mut()
        } else {
            template
        }
    })
}

/// Brokered `tmpfile`: an unlinked file in the sandbox's `$TMPDIR` (glibc would use `/tmp`,
/// which a sandbox usually may not write).
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn tmpfile() -> *mut libc::FILE {
    guarded!(std::ptr::null_mut(), {
        if unbrokered() {
            // SAFETY: libc's own function, no arguments.
            return real_tmpfile().map_or(std::ptr::null_mut(), |f| unsafe { f() });
        }
        let mut template = [0u8; arbiter_protocol::MAX_PATH];
        // SAFETY: getenv's result is a C string owned by the environment.
        let dir = unsafe { libc::getenv(c"TMPDIR".as_ptr()) };
        // SAFETY: dir is null or a C string from the environment.
        let dir_len = unsafe { c_str_len(dir, 4000) }.unwrap_or(0);
        let (dir, dir_len) = if dir_len == 0 {
            (c"/tmp".as_ptr(), 4)
        } else {
            (dir.cast_const(), dir_len)
        };
        // SAFETY: dir has dir_len readable bytes; template has room for dir + the name.
        unsafe { std::ptr::copy_nonoverlapping(dir.cast::<u8>(), template.as_mut_ptr(), dir_len) };
        let name = b"/tmpfXXXXXX\0";
        template[dir_len..dir_len + name.len()].copy_from_slice(name);
        let t = template.as_mut_ptr().cast::<c_char>();
        // SAFETY: t is a writable C string we own.
        let fd = unsafe { mkostemps(t, 0, libc::O_CLOEXEC) };
        if fd < 0 {
            return std::ptr::null_mut();
        }
        // SAFETY: t is a C string; unlink through the broker.
        unsafe { crate::hooks::modify::unlink(t) };
        // SAFETY: fd is ours.
        let f = unsafe { libc::fdopen(fd, c"w+".as_ptr()) };
        if f.is_null() {
            raw_close(fd);
        }
        f
    })
}

/// Brokered `tmpfile64`.
///
/// # Safety
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn tmpfile64() -> *mut libc::FILE {
    // SAFETY: no arguments.
    unsafe { tmpfile() }
}
