//! Keeping exec'd programs brokered: the environment handed to `execve` and `posix_spawn`
//! always carries `LD_PRELOAD` (with the shim first), `ARBITER_FD` (the bootstrap socket's
//! current number) and `ARBITER_SHIM`, even when the program built a fresh environment.
//!
//! This runs between `vfork` and `exec` (Python's subprocess), so it never allocates from
//! the heap: the new `envp` and its few new strings live in one `mmap`'d region.

use std::ffi::c_char;
use std::sync::OnceLock;

use arbiter_protocol::{ENV_FD, ENV_SHIM};

use crate::state;

/// Longest shim path remembered (a longer one is not re-added to `LD_PRELOAD`).
const SHIM_PATH_MAX: usize = 4096;

/// The shim's own path, read from `ARBITER_SHIM` when the library starts, in a fixed
/// buffer: the constructor must not allocate, since a program's own allocator may call a
/// hook while it initialises.
static SHIM_PATH: OnceLock<([u8; SHIM_PATH_MAX], usize)> = OnceLock::new();

/// Records the shim's path from the environment (called once, at load).
pub fn remember_shim_path() {
    let Some(v) = state::env_value(ENV_SHIM) else {
        return;
    };
    // SAFETY: env_value returns a pointer into a NUL-terminated environment string.
    let Some(len) = (unsafe { crate::sys::c_str_len(v, SHIM_PATH_MAX) }) else {
        return;
    };
    let mut buf = [0u8; SHIM_PATH_MAX];
    // SAFETY: v has len readable bytes before its NUL; buf holds SHIM_PATH_MAX >= len.
    unsafe { std::ptr::copy_nonoverlapping(v.cast::<u8>(), buf.as_mut_ptr(), len) };
    let _ = SHIM_PATH.set((buf, len));
}

/// Most environment entries handled; a larger environment is passed on unchanged.
const MAX_ENTRIES: usize = 1 << 16;

/// An environment built for one exec; unmapped on drop (exec failed or not attempted).
pub struct BrokeredEnv {
    region: *mut libc::c_void,
    len: usize,
    envp: *const *const c_char,
}

impl BrokeredEnv {
    /// The `envp` to pass on.
    pub fn envp(&self) -> *const *const c_char {
        self.envp
    }
}

impl Drop for BrokeredEnv {
    fn drop(&mut self) {
        if !self.region.is_null() {
            // SAFETY: region/len describe a mapping this value created and still owns.
            unsafe { libc::syscall(libc::SYS_munmap, self.region, self.len) };
        }
    }
}

/// `KEY=` prefix test on a C string.
///
/// # Safety
/// `entry` must be a valid C string.
unsafe fn has_key(entry: *const c_char, key: &[u8]) -> bool {
    for (i, &k) in key.iter().enumerate() {
        // SAFETY: we stop at the first mismatch, and a C string's NUL mismatches any key byte.
        if unsafe { *entry.add(i) } as u8 != k {
            return false;
        }
    }
    // SAFETY: the key matched, so index key.len() is within the string (at worst its NUL).
    unsafe { *entry.add(key.len()) as u8 == b'=' }
}

/// Whether a `LD_PRELOAD` value already lists the shim.
fn lists(value: &[u8], shim: &[u8]) -> bool {
    value.split(|&b| b == b':' || b == b' ').any(|e| e == shim)
}

/// Writes `parts` and a NUL at `*at` in `buf`; returns the string's start.
fn put(buf: *mut u8, at: &mut usize, parts: &[&[u8]]) -> *const c_char {
    let start = *at;
    for p in parts {
        // SAFETY: the region was sized for every part written here plus NULs (see build).
        unsafe { std::ptr::copy_nonoverlapping(p.as_ptr(), buf.add(*at), p.len()) };
        *at += p.len();
    }
    // SAFETY: as above.
    unsafe { *buf.add(*at) = 0 };
    *at += 1;
    // SAFETY: start lies within the region.
    unsafe { buf.add(start).cast() }
}

/// The environment to exec with so the new program stays brokered; `None` when there is
/// no broker (or nothing can be done) and `envp` should be used as it is.
///
/// # Safety
/// `envp` must be null or a NULL-terminated array of C strings.
pub unsafe fn brokered(envp: *const *const c_char) -> Option<BrokeredEnv> {
    let boot = state::bootstrap();
    if boot < 0 {
        return None;
    }
    let shim: &[u8] = SHIM_PATH.get().map(|(b, n)| &b[..*n]).unwrap_or(b"");
    let mut n = 0usize;
    let mut preload: Option<&[u8]> = None;
    if !envp.is_null() {
        // SAFETY: envp is a NULL-terminated array per the contract.
        unsafe {
            while !(*envp.add(n)).is_null() {
                let e = *envp.add(n);
                if has_key(e, b"LD_PRELOAD") {
                    let len = crate::sys::c_str_len(e, 1 << 20).unwrap_or(0);
                    preload = Some(std::slice::from_raw_parts(
                        e.cast::<u8>().add(11),
                        len.saturating_sub(11),
                    ));
                }
                n += 1;
                if n > MAX_ENTRIES {
                    return None;
                }
            }
        }
    }
    let keep_preload = shim.is_empty() || preload.is_some_and(|v| lists(v, shim));
    let old_preload = preload.filter(|v| !v.is_empty() && !keep_preload);
    let mut fd_digits = [0u8; 12];
    let mut d = fd_digits.len();
    let mut v = boot as u32;
    loop {
        d -= 1;
        fd_digits[d] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let fd_text = &fd_digits[d..];
    let strings = 11
        + shim.len()
        + 1
        + old_preload.map_or(0, |p| p.len())
        + 1
        + ENV_FD.len()
        + 1
        + fd_text.len()
        + 1
        + ENV_SHIM.len()
        + 1
        + shim.len()
        + 1;
    let pointers = (n + 4) * std::mem::size_of::<*const c_char>();
    let len = (pointers + strings + 4095) & !4095;
    // SAFETY: an anonymous private mapping; no existing memory is touched.
    let region = unsafe {
        libc::syscall(
            libc::SYS_mmap,
            0usize,
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    } as *mut libc::c_void;
    if region as isize == -1 || region.is_null() {
        return None;
    }
    let array = region.cast::<*const c_char>();
    // SAFETY: the string area starts after the pointer array, inside the mapping.
    let text = unsafe { region.cast::<u8>().add(pointers) };
    let mut at = 0usize;
    let mut out = 0usize;
    let mut push = |p: *const c_char| {
        // SAFETY: at most n + 3 pointers plus the NULL are written; the array has n + 4.
        unsafe { *array.add(out) = p };
        out += 1;
    };
    if !envp.is_null() {
        for i in 0..n {
            // SAFETY: i < n, within the caller's array.
            let e = unsafe { *envp.add(i) };
            // SAFETY: e is a C string from the caller's array.
            let replaced = unsafe {
                has_key(e, ENV_FD.as_bytes())
                    || (!keep_preload && has_key(e, b"LD_PRELOAD"))
                    || (!shim.is_empty() && has_key(e, ENV_SHIM.as_bytes()))
            };
            if !replaced {
                push(e);
            }
        }
    }
    if !keep_preload {
        let p = match old_preload {
            Some(old) => put(text, &mut at, &[b"LD_PRELOAD=", shim, b":", old]),
            None => put(text, &mut at, &[b"LD_PRELOAD=", shim]),
        };
        push(p);
    }
    push(put(text, &mut at, &[ENV_FD.as_bytes(), b"=", fd_text]));
    if !shim.is_empty() {
        push(put(text, &mut at, &[ENV_SHIM.as_bytes(), b"=", shim]));
    }
    push(std::ptr::null());
    Some(BrokeredEnv {
        region,
        len,
        envp: array.cast_const(),
    })
}
