//! The shim's raw ABI edge: the real libc functions behind our hooks, errno, and the few
//! system calls the shim makes for itself (always through `syscall(2)`, never through an
//! exported wrapper that this library, or another preload, might hook).

use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::atomic::{AtomicPtr, Ordering};

/// Sets the calling thread's errno.
pub fn set_errno(e: c_int) {
    // SAFETY: __errno_location always returns a valid pointer to this thread's errno.
    unsafe { *libc::__errno_location() = e };
}

/// Reads the calling thread's errno.
pub fn errno() -> c_int {
    // SAFETY: as above.
    unsafe { *libc::__errno_location() }
}

/// A lazily resolved pointer to the next definition of a libc symbol (`RTLD_NEXT`).
pub struct RealFn {
    name: &'static CStr,
    ptr: AtomicPtr<c_void>,
}

impl RealFn {
    /// A symbol to resolve on first use.
    pub const fn new(name: &'static CStr) -> RealFn {
        RealFn {
            name,
            ptr: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    /// The address of the real function, or null when no later object defines it.
    pub fn get(&self) -> *mut c_void {
        let p = self.ptr.load(Ordering::Relaxed);
        if !p.is_null() {
            return p;
        }
        // SAFETY: name is a valid C string; RTLD_NEXT lookups have no other preconditions.
        let p = unsafe { libc::dlsym(libc::RTLD_NEXT, self.name.as_ptr()) };
        self.ptr.store(p, Ordering::Relaxed);
        p
    }
}

/// Declares a `RealFn` static and a typed accessor `real_NAME() -> Option<fn type>`.
#[macro_export]
macro_rules! real_fn {
    ($vis:vis $getter:ident, $sym:literal, fn($($arg:ty),* $(,)?) -> $ret:ty) => {
        $vis fn $getter() -> Option<unsafe extern "C" fn($($arg),*) -> $ret> {
            static REAL: $crate::sys::RealFn = $crate::sys::RealFn::new($sym);
            let p = REAL.get();
            if p.is_null() {
                None
            } else {
                // SAFETY: dlsym returned libc's definition of this very symbol, whose C
                // prototype is the one named here.
                Some(unsafe { std::mem::transmute::<*mut std::ffi::c_void, unsafe extern "C" fn($($arg),*) -> $ret>(p) })
            }
        }
    };
}

/// A raw system call returning the kernel's result (negative errno on failure).
pub fn raw_close(fd: c_int) {
    // SAFETY: close has no memory effects.
    unsafe { libc::syscall(libc::SYS_close, fd) };
}

/// getcwd(2) into `buf`; returns the length without the NUL.
pub fn getcwd(buf: &mut [u8]) -> Result<usize, c_int> {
    // SAFETY: buf has buf.len() writable bytes.
    let rc = unsafe { libc::syscall(libc::SYS_getcwd, buf.as_mut_ptr(), buf.len()) };
    if rc < 0 {
        return Err(errno());
    }
    // The kernel returns the length including the NUL; "(unreachable)" paths do not start
    // with '/'.
    let len = (rc as usize).saturating_sub(1);
    if len == 0 || buf[0] != b'/' {
        return Err(libc::ENOENT);
    }
    Ok(len)
}

/// The length of a C string, bounded by `max` (None when longer or null).
///
/// # Safety
/// `p` must be null or point at a C string (or at least `max + 1` readable bytes).
pub unsafe fn c_str_len(p: *const c_char, max: usize) -> Option<usize> {
    if p.is_null() {
        return None;
    }
    // SAFETY: per the contract; we read byte by byte and stop at the first NUL or after
    // `max` bytes, never further.
    unsafe {
        for i in 0..=max {
            if *p.add(i) == 0 {
                return Some(i);
            }
        }
    }
    None
}

/// Views a C string of known length as bytes.
///
/// # Safety
/// `p` must point at `len` readable bytes that stay valid for `'a`.
pub unsafe fn bytes<'a>(p: *const c_char, len: usize) -> &'a [u8] {
    // SAFETY: guaranteed by the caller.
    unsafe { std::slice::from_raw_parts(p.cast(), len) }
}
