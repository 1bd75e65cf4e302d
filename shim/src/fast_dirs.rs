//! Directory fds known to lie beneath a fast-path root, so that calls relative to them
//! (`fstatat(dirfd, name)`, `openat(dirfd, name, O_RDONLY)`, as `find`, `du`, `tar` and
//! `rm -r` make through gnulib's fts) can take the fast paths of [`crate::fast_path`] too.
//!
//! # How a directory fd is vouched for
//! Only when the shim itself opened it, in [`note_opened`]:
//! * by a path (absolute, or relative to the working directory) whose canonical form lies
//!   in a granted root, every directory from the root to the parent checked with `lstat`
//!   not to be a symlink, and the final component's `lstat` the very directory opened
//!   (device and inode), so no symlink was followed anywhere beneath the root; or
//! * by a single plain name (not `.` or `..`) relative to a directory fd already vouched
//!   for, whose `lstat` through that fd is the very directory opened: a subdirectory of a
//!   directory beneath a root is beneath that root.
//!
//! A small table keyed by the directory's device and inode remembers which kinds of root
//! ([`FAST_STAT`], [`FAST_OPEN`], [`FAST_REMOVE`]) hold it; [`roots_of`] looks up what `fstat` of the fd
//! says now, so a `dup` of a vouched fd (fts works on one) is vouched too, and a closed and
//! reused fd number is whatever it now is. Opening a directory by a path that lies in no
//! root clears its entry (it may have been moved out of its subtree by the program).
//!
//! # Why this grants nothing new
//! As for the path forms (docs/security.md, "The in-process stat fast path" and "Native
//! read-only opens"): a stat is answered by the kernel, which already answers the
//! `AT_EMPTY_PATH` forms natively to anyone, and a read-only open is decided by Landlock,
//! whose floor is within the policy everywhere when native reads are offered. The slots live
//! in the program's memory, and a program that forges one gains only calls it could make
//! natively itself. What the vouching buys is the broker's *answer*: the same as the
//! kernel's because the directory lies in a subtree one rule decides throughout. The one
//! divergence, as for the path forms, needs a rename: a vouched directory moved out of its
//! subtree later (and not opened by the shim since), or removed and its inode number reused
//! by a directory elsewhere, is still answered for here (metadata, and `ENOENT`/`ENOTDIR`
//! of a read-only open, which a marked native open tells anyway).
//!
//! The table also keeps each vouched directory's real path, so that a *brokered* call
//! relative to it (an `unlinkat` of `rm -r`) can name the path instead of passing the fd
//! ([`path_of`], used by [`crate::path::prepare`] only after `lstat` of that path shows the
//! very directory still): the broker decides on what it acts on either way, and resolves a
//! canonical path in fewer steps than a passed fd.
//!
//! No allocation and no lock: each slot is a small seqlock of atomics.

use std::ffi::c_int;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};

use arbiter_protocol::{FAST_OPEN, FAST_REMOVE, FAST_STAT, MAX_PATH};

/// Entries of the table (a power of two); a directory whose entry another one took goes
/// to the broker again until it is opened anew.
const SLOTS: usize = 1024;

/// Room for a vouched directory's real path, in 8-byte words (longer paths are not kept).
const PATH_WORDS: usize = 64;
/// See [`PATH_WORDS`].
pub const PATH_CAP: usize = PATH_WORDS * 8;

/// Root kinds a directory lies in, as bits.
pub const IN_STAT_ROOT: u8 = 1;
/// See [`IN_STAT_ROOT`].
pub const IN_OPEN_ROOT: u8 = 2;
/// See [`IN_STAT_ROOT`].
pub const IN_REMOVE_ROOT: u8 = 4;

/// The bit for a fast-path tag.
pub fn bit(tag: u8) -> u8 {
    match tag {
        FAST_STAT => IN_STAT_ROOT,
        FAST_OPEN => IN_OPEN_ROOT,
        FAST_REMOVE => IN_REMOVE_ROOT,
        _ => 0,
    }
}

struct Slot {
    /// Odd while being written.
    seq: AtomicU32,
    dev: AtomicU64,
    ino: AtomicU64,
    roots: AtomicU8,
    /// Length of `path`; 0 when not known.
    len: AtomicU32,
    /// The directory's real path (canonical, absolute) when it was vouched for.
    path: [AtomicU64; PATH_WORDS],
}

static DIRS: [Slot; SLOTS] = [const {
    Slot {
        seq: AtomicU32::new(0),
        dev: AtomicU64::new(0),
        ino: AtomicU64::new(0),
        roots: AtomicU8::new(0),
        len: AtomicU32::new(0),
        path: [const { AtomicU64::new(0) }; PATH_WORDS],
    }
}; SLOTS];

/// `fstat` of an fd through the raw system call (native: it reaches nothing new).
fn fstat(fd: c_int) -> Option<libc::stat> {
    // SAFETY: an all-zero struct stat is a valid value.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: st is a valid, writable struct stat; fd is only a number to the kernel.
    let rc = unsafe { libc::syscall(libc::SYS_fstat, fd, &mut st as *mut libc::stat) };
    (rc == 0).then_some(st)
}

fn slot(st: &libc::stat) -> &'static Slot {
    let h = (st.st_ino ^ st.st_dev.rotate_left(32)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    &DIRS[(h >> 52) as usize % SLOTS]
}

/// Records that the directory `st` lies in the roots `roots` (0: none known), at the real
/// path `path` (empty: not known).
fn store(st: &libc::stat, roots: u8, path: &[u8]) {
    let s = slot(st);
    let seq = s.seq.load(Ordering::Relaxed);
    if seq & 1 == 1
        || s.seq
            .compare_exchange(
                seq,
                seq.wrapping_add(1),
                Ordering::Acquire,
                Ordering::Relaxed,
            )
            .is_err()
    {
        return; // another thread is writing this slot: leave it to that one
    }
    s.dev.store(st.st_dev, Ordering::Relaxed);
    s.ino.store(st.st_ino, Ordering::Relaxed);
    s.roots.store(roots, Ordering::Relaxed);
    let len = if path.len() <= PATH_CAP {
        path.len()
    } else {
        0
    };
    for (i, word) in s.path.iter().enumerate().take(len.div_ceil(8)) {
        let mut w = [0u8; 8];
        let chunk = &path[i * 8..len.min(i * 8 + 8)];
        w[..chunk.len()].copy_from_slice(chunk);
        word.store(u64::from_ne_bytes(w), Ordering::Relaxed);
    }
    s.len.store(len as u32, Ordering::Relaxed);
    s.seq.store(seq.wrapping_add(2), Ordering::Release);
}

/// What the table says of the directory `st`: its root bits and, when `path` is given, its
/// real path copied there (length returned; 0 when not known). `None` when the entry is
/// another directory's, or being written.
fn lookup(st: &libc::stat, path: Option<&mut [u8; PATH_CAP]>) -> Option<(u8, usize)> {
    let s = slot(st);
    let before = s.seq.load(Ordering::Acquire);
    if before & 1 == 1 {
        return None;
    }
    let (dev, ino, roots) = (
        s.dev.load(Ordering::Relaxed),
        s.ino.load(Ordering::Relaxed),
        s.roots.load(Ordering::Relaxed),
    );
    let mut len = 0;
    if let Some(out) = path {
        len = (s.len.load(Ordering::Relaxed) as usize).min(PATH_CAP);
        for (i, word) in s.path.iter().enumerate().take(len.div_ceil(8)) {
            let w = word.load(Ordering::Relaxed).to_ne_bytes();
            let end = len.min(i * 8 + 8);
            out[i * 8..end].copy_from_slice(&w[..end - i * 8]);
        }
    }
    std::sync::atomic::fence(Ordering::Acquire);
    if s.seq.load(Ordering::Relaxed) != before || st.st_dev != dev || st.st_ino != ino {
        return None;
    }
    Some((roots, len))
}

/// The real path of the vouched directory open as `fd`, written to `out` (length
/// returned), when it is known and still leads to that very directory now (`lstat` of the
/// path: same device and inode, a directory). Brokered calls relative to `fd` can then
/// name it by that path ([`crate::path::prepare`]): the broker resolves a canonical path
/// faster than a passed fd.
pub fn path_of(fd: c_int, out: &mut [u8; PATH_CAP + 1]) -> Option<usize> {
    let st = fstat(fd)?;
    if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
        return None;
    }
    let mut buf = [0u8; PATH_CAP];
    let (roots, len) = lookup(&st, Some(&mut buf))?;
    if roots == 0 || len == 0 {
        return None;
    }
    out[..len].copy_from_slice(&buf[..len]);
    out[len] = 0;
    let now = crate::fast_path::lstat_at(libc::AT_FDCWD, &out[..=len]).ok()?;
    (now.st_mode & libc::S_IFMT == libc::S_IFDIR
        && now.st_dev == st.st_dev
        && now.st_ino == st.st_ino)
        .then_some(len)
}

/// The root kinds (`IN_*` bits) the directory open as `fd` is vouched to lie in; 0 when
/// unknown (never vouched, closed, reused, or not a directory).
pub fn roots_of(fd: c_int) -> u8 {
    let Some(st) = fstat(fd) else { return 0 };
    if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
        return 0;
    }
    lookup(&st, None).map_or(0, |(roots, _)| roots)
}

/// A single plain name: not empty, no `/`, not `.` or `..`.
pub fn is_plain_name(name: &[u8]) -> bool {
    !name.is_empty() && name != b"." && name != b".." && !name.contains(&b'/')
}

/// After the shim opened `fd` as the caller asked (`openat(dirfd, path)`, `path` the bytes
/// without their NUL): remembers it when it is a directory vouched for as the module
/// explains. `in_roots(buf)` vouches for a path relative to the working directory or
/// absolute, returning the root bits, the directory's `lstat` and the length of its
/// canonical path, written to `buf`.
pub fn note_opened(
    dirfd: c_int,
    path: &[u8],
    fd: c_int,
    in_roots: impl FnOnce(&mut [u8; MAX_PATH + 1]) -> Option<(u8, libc::stat, usize)>,
) {
    let Some(st) = fstat(fd) else { return };
    if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
        return;
    }
    let mut real = [0u8; MAX_PATH + 1];
    let relative = path.first() != Some(&b'/');
    let (roots, seen, len) = if relative && dirfd != libc::AT_FDCWD {
        let roots = roots_of(dirfd);
        let mut name = [0u8; 256];
        if roots == 0 || !is_plain_name(path) || path.len() >= name.len() {
            return;
        }
        name[..path.len()].copy_from_slice(path);
        let Ok(seen) = crate::fast_path::lstat_at(dirfd, &name[..=path.len()]) else {
            return;
        };
        // The child's path, when the parent's is known and still right.
        let mut parent = [0u8; PATH_CAP + 1];
        let len = match path_of(dirfd, &mut parent) {
            Some(n) if n + 1 + path.len() <= PATH_CAP => {
                real[..n].copy_from_slice(&parent[..n]);
                real[n] = b'/';
                real[n + 1..n + 1 + path.len()].copy_from_slice(path);
                n + 1 + path.len()
            }
            _ => 0,
        };
        (roots, seen, len)
    } else {
        match in_roots(&mut real) {
            Some(v) => v,
            None => {
                // Opened by a path outside every root (or one not in canonical form):
                // perhaps moved out of its subtree since it was vouched for.
                store(&st, 0, &[]);
                return;
            }
        }
    };
    // Reached through a symlink (the name is not the directory opened): the path tells
    // nothing about where the directory lies, and an earlier vouching stands.
    if seen.st_mode & libc::S_IFMT == libc::S_IFDIR
        && seen.st_dev == st.st_dev
        && seen.st_ino == st.st_ino
    {
        store(&st, roots, &real[..len]);
    }
}
