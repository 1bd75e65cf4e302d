//! `realpath`, `__realpath_chk` and `canonicalize_file_name`, re-implemented on the
//! brokered `lstat` and `readlink`.
//!
//! glibc resolves a path with one internal `readlink` per component, out of the shim's
//! reach: under arbiter each of those became a seccomp user notification (a compiler calls
//! `realpath` for every header it includes — thousands of notifications per build). Here
//! each component is looked at with `lstat`, which the in-process fast path answers inside
//! subtrees the policy grants `stat` in ([`crate::fast_path`]), and only symlinks cost a
//! brokered `readlink`. The policy sees what it saw before: `stat` of every component, as
//! glibc's `readlink` asked for.

use std::ffi::{c_char, c_int};

use arbiter_protocol::MAX_PATH;

use crate::hooks::stat::{brokered_fstatat, brokered_readlinkat};
use crate::hooks::{guarded, unbrokered};
use crate::real_fn;
use crate::sys::{bytes, c_str_len, errno, set_errno};

real_fn!(
    real_realpath,
    c"realpath",
    fn(*const c_char, *mut c_char) -> *mut c_char
);
real_fn!(
    real_realpath_chk,
    c"__realpath_chk",
    fn(*const c_char, *mut c_char, usize) -> *mut c_char
);

/// The kernel's limit on symlinks followed in one resolution (glibc uses the same).
const MAX_HOPS: usize = 40;

/// `PATH_MAX`: the size of a caller's `resolved` buffer, and of the longest result.
const PATH_MAX: usize = libc::PATH_MAX as usize;

/// Resolves `path` into `out` (without a NUL); returns the length, or the errno and the
/// length of the prefix resolved so far.
fn resolve(path: &[u8], out: &mut [u8; PATH_MAX]) -> Result<usize, (c_int, usize)> {
    if path.is_empty() {
        return Err((libc::ENOENT, 0));
    }
    // Scratch space on the heap (glibc's realpath allocates too; a thread may have a small
    // stack): what remains to resolve (the path, later a symlink's target followed by the
    // rest), the candidate path, and a link's target.
    let mut scratch = vec![0u8; (2 * MAX_PATH + 2) + (PATH_MAX + 1) + MAX_PATH];
    let (rest, more_scratch) = scratch.split_at_mut(2 * MAX_PATH + 2);
    let (cand, target) = more_scratch.split_at_mut(PATH_MAX + 1);
    let mut rest_len = path.len();
    rest[..rest_len].copy_from_slice(path);
    let mut len = if path[0] == b'/' {
        out[0] = b'/';
        1
    } else {
        crate::sys::getcwd(&mut out[..]).map_err(|e| (e, 0))?
    };
    let mut at = 0;
    let mut hops = 0;
    loop {
        while at < rest_len && rest[at] == b'/' {
            at += 1;
        }
        if at == rest_len {
            return Ok(len);
        }
        let start = at;
        while at < rest_len && rest[at] != b'/' {
            at += 1;
        }
        let comp = &rest[start..at];
        let more = at < rest_len; // anything after it, even a lone '/', needs a directory
        if comp == b"." {
            continue;
        }
        if comp == b".." {
            len = out[..len]
                .iter()
                .rposition(|&b| b == b'/')
                .unwrap_or(0)
                .max(1);
            continue;
        }
        // out + "/" + comp, NUL-terminated, in a scratch buffer.
        let sep = usize::from(len > 1);
        let cand_len = len + sep + comp.len();
        if cand_len >= PATH_MAX {
            return Err((libc::ENAMETOOLONG, len));
        }
        cand[..len].copy_from_slice(&out[..len]);
        cand[len] = b'/';
        cand[len + sep..cand_len].copy_from_slice(comp);
        cand[cand_len] = 0;
        // SAFETY: an all-zero struct stat is a valid value.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: cand is NUL-terminated at cand_len; st is writable.
        let rc = unsafe {
            brokered_fstatat(
                libc::AT_FDCWD,
                cand.as_ptr().cast(),
                &mut st,
                libc::AT_SYMLINK_NOFOLLOW,
            )
        };
        if rc < 0 {
            return Err((errno(), len));
        }
        match st.st_mode & libc::S_IFMT {
            libc::S_IFLNK => {
                hops += 1;
                if hops > MAX_HOPS {
                    return Err((libc::ELOOP, len));
                }
                // SAFETY: cand is NUL-terminated; target has target.len() writable bytes.
                let n = unsafe {
                    brokered_readlinkat(
                        libc::AT_FDCWD,
                        cand.as_ptr().cast(),
                        target.as_mut_ptr().cast(),
                        target.len(),
                    )
                };
                if n < 0 {
                    return Err((errno(), len));
                }
                let n = n as usize;
                let tail = rest_len - at;
                if n == 0 || n + 1 + tail > rest.len() {
                    return Err((
                        if n == 0 {
                            libc::ENOENT
                        } else {
                            libc::ENAMETOOLONG
                        },
                        len,
                    ));
                }
                // rest := target + "/" + what followed the link.
                rest.copy_within(at..rest_len, n + 1);
                rest[..n].copy_from_slice(&target[..n]);
                rest[n] = b'/';
                rest_len = n + 1 + tail;
                at = 0;
                if target[0] == b'/' {
                    len = 1;
                }
            }
            libc::S_IFDIR => {
                out[..cand_len].copy_from_slice(&cand[..cand_len]);
                len = cand_len;
            }
            _ if more => return Err((libc::ENOTDIR, len)),
            _ => {
                out[..cand_len].copy_from_slice(&cand[..cand_len]);
                len = cand_len;
            }
        }
    }
}

/// The shared body: `resolved` is the caller's buffer (`PATH_MAX` bytes) or null for a
/// `malloc`ed result.
///
/// # Safety
/// `path` null or a C string; `resolved` null or `PATH_MAX` writable bytes.
unsafe fn brokered_realpath(path: *const c_char, resolved: *mut c_char) -> *mut c_char {
    if unbrokered() {
        return match real_realpath() {
            // SAFETY: the caller's arguments, passed on.
            Some(f) => unsafe { f(path, resolved) },
            None => {
                set_errno(libc::ENOSYS);
                std::ptr::null_mut()
            }
        };
    }
    if path.is_null() {
        set_errno(libc::EINVAL);
        return std::ptr::null_mut();
    }
    // SAFETY: path is a C string per the contract.
    let Some(len) = (unsafe { c_str_len(path, MAX_PATH) }) else {
        set_errno(libc::ENAMETOOLONG);
        return std::ptr::null_mut();
    };
    // SAFETY: c_str_len found `len` readable bytes.
    let input = unsafe { bytes(path, len) };
    let mut out = [0u8; PATH_MAX];
    let (result, n) = match resolve(input, &mut out) {
        Ok(n) => (Ok(()), n),
        Err((e, n)) => (Err(e), n),
    };
    let dest = if !resolved.is_null() {
        resolved
    } else if result.is_ok() {
        // SAFETY: malloc has no preconditions; the result is checked for null.
        let p = unsafe { libc::malloc(n + 1) } as *mut c_char;
        if p.is_null() {
            set_errno(libc::ENOMEM);
            return p;
        }
        p
    } else {
        std::ptr::null_mut()
    };
    if !dest.is_null() {
        // Like glibc, a caller's buffer also receives the prefix resolved before an error.
        // SAFETY: dest has at least n + 1 writable bytes (PATH_MAX > n, or malloc(n + 1)).
        unsafe {
            std::ptr::copy_nonoverlapping(out.as_ptr(), dest.cast::<u8>(), n);
            *dest.add(n) = 0;
        }
    }
    match result {
        Ok(()) => dest,
        Err(e) => {
            set_errno(e);
            std::ptr::null_mut()
        }
    }
}

/// Brokered `realpath`.
///
/// # Safety
/// libc's contract for `realpath`.
#[no_mangle]
pub unsafe extern "C" fn realpath(path: *const c_char, resolved: *mut c_char) -> *mut c_char {
    // SAFETY: the caller's arguments, passed on.
    guarded!(std::ptr::null_mut(), unsafe {
        brokered_realpath(path, resolved)
    })
}

/// Brokered `canonicalize_file_name` (`realpath(path, NULL)`).
///
/// # Safety
/// libc's contract for `canonicalize_file_name`.
#[no_mangle]
pub unsafe extern "C" fn canonicalize_file_name(path: *const c_char) -> *mut c_char {
    // SAFETY: the caller's arguments, passed on.
    guarded!(std::ptr::null_mut(), unsafe {
        brokered_realpath(path, std::ptr::null_mut())
    })
}

/// Brokered `__realpath_chk` (`_FORTIFY_SOURCE`): a buffer smaller than `PATH_MAX` is left
/// to glibc, which aborts the program as it would without arbiter.
///
/// # Safety
/// libc's contract for `__realpath_chk`.
#[no_mangle]
pub unsafe extern "C" fn __realpath_chk(
    path: *const c_char,
    resolved: *mut c_char,
    resolved_len: usize,
) -> *mut c_char {
    if resolved_len < PATH_MAX {
        if let Some(f) = real_realpath_chk() {
            // SAFETY: the caller's arguments, passed on.
            return unsafe { f(path, resolved, resolved_len) };
        }
    }
    // SAFETY: the caller's arguments, passed on.
    guarded!(std::ptr::null_mut(), unsafe {
        brokered_realpath(path, resolved)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Outside a sandbox the brokered primitives pass through to the kernel, so `resolve`
    /// can be compared with std's canonicalize on a real tree.
    #[test]
    fn resolves_like_the_kernel() {
        let dir = std::env::temp_dir().join(format!("realpath-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("a/b")).unwrap();
        std::fs::write(dir.join("a/b/f"), b"x").unwrap();
        std::os::unix::fs::symlink("a/b", dir.join("rel")).unwrap();
        std::os::unix::fs::symlink(dir.join("a"), dir.join("abs")).unwrap();
        std::os::unix::fs::symlink("loop", dir.join("loop")).unwrap();
        let real = dir.canonicalize().unwrap();
        let run = |p: &str| {
            let mut out = [0u8; PATH_MAX];
            resolve(p.as_bytes(), &mut out).map(|n| String::from_utf8(out[..n].to_vec()).unwrap())
        };
        let d = dir.to_str().unwrap();
        let want = |rel: &str| Ok(real.join(rel).to_str().unwrap().to_string());
        assert_eq!(run(&format!("{d}/a/b/f")), want("a/b/f"));
        assert_eq!(run(&format!("{d}/rel/f")), want("a/b/f"));
        assert_eq!(run(&format!("{d}/abs/b/../b/./f")), want("a/b/f"));
        assert_eq!(run(&format!("{d}//a///b/")), want("a/b"));
        assert_eq!(run("/"), Ok("/".to_string()));
        assert_eq!(run("/.."), Ok("/".to_string()));
        assert_eq!(
            run(&format!("{d}/a/missing")).map_err(|e| e.0),
            Err(libc::ENOENT)
        );
        assert_eq!(
            run(&format!("{d}/a/b/f/")).map_err(|e| e.0),
            Err(libc::ENOTDIR)
        );
        assert_eq!(
            run(&format!("{d}/a/b/f/x")).map_err(|e| e.0),
            Err(libc::ENOTDIR)
        );
        assert_eq!(run(&format!("{d}/loop")).map_err(|e| e.0), Err(libc::ELOOP));
        assert_eq!(run("").map_err(|e| e.0), Err(libc::ENOENT));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
