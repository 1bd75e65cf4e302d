//! Process-wide shim state, all lock-free: the bootstrap fd, fork detection, the umask.

use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, AtomicU8, Ordering};

use arbiter_protocol::{ENV_FD, ENV_SECCOMP};

/// Not yet read from the environment.
const UNKNOWN: i32 = -2;
/// No broker: this process is not in a sandbox; every call passes through.
pub const NO_BROKER: i32 = -1;

static BOOTSTRAP: AtomicI32 = AtomicI32::new(UNKNOWN);

/// Bumped whenever the shim notices it runs in a new (forked) process; thread channels of
/// an older generation belong to the parent and are never used again.
static GENERATION: AtomicU64 = AtomicU64::new(1);

/// A page the kernel zeroes in a forked child (`MADV_WIPEONFORK`): reading a zero there
/// means "this is a fork child" at the cost of one memory load, no system call.
static FORK_PAGE: AtomicU64 = AtomicU64::new(0);

/// The caller's umask as last set through `umask()` (read once at start).
static UMASK: AtomicU32 = AtomicU32::new(u32::MAX);

static INIT: AtomicU8 = AtomicU8::new(0);

/// Whether `ARBITER_SECCOMP=1` (the notify filter is installed): 0 unknown, 1 no, 2 yes.
static NOTIFY: AtomicU8 = AtomicU8::new(0);

/// The value of environment variable `key`, without allocating.
pub fn env_value(key: &str) -> Option<*const libc::c_char> {
    extern "C" {
        static environ: *const *const libc::c_char;
    }
    // SAFETY: environ is libc's NULL-terminated array of NUL-terminated strings; we only read.
    unsafe {
        let mut p = environ;
        if p.is_null() {
            return None;
        }
        let key = key.as_bytes();
        while !(*p).is_null() {
            let s = *p;
            let mut i = 0;
            while i < key.len() && *s.add(i) as u8 == key[i] {
                i += 1;
            }
            if i == key.len() && *s.add(i) as u8 == b'=' {
                return Some(s.add(i + 1));
            }
            p = p.add(1);
        }
    }
    None
}

/// Whether the seccomp notify filter is installed (`ARBITER_SECCOMP=1`), read once.
pub fn notify_filter() -> bool {
    match NOTIFY.load(Ordering::Relaxed) {
        0 => {
            // SAFETY: env_value returns a pointer into a NUL-terminated environment string.
            let on = env_value(ENV_SECCOMP)
                .is_some_and(|v| unsafe { *v as u8 == b'1' && *v.add(1) == 0 });
            NOTIFY.store(if on { 2 } else { 1 }, Ordering::Relaxed);
            on
        }
        v => v == 2,
    }
}

/// Reads `ARBITER_FD` without allocating (the hooks may run before libc is fully set up).
fn bootstrap_from_env() -> i32 {
    extern "C" {
        static environ: *const *const libc::c_char;
    }
    // SAFETY: environ is libc's NULL-terminated array of NUL-terminated strings; we only read.
    unsafe {
        let mut p = environ;
        if p.is_null() {
            return NO_BROKER;
        }
        let key = ENV_FD.as_bytes();
        while !(*p).is_null() {
            let s = *p;
            let mut i = 0;
            while i < key.len() && *s.add(i) as u8 == key[i] {
                i += 1;
            }
            if i == key.len() && *s.add(i) as u8 == b'=' {
                let mut v: i32 = 0;
                let mut j = i + 1;
                let mut any = false;
                while (*s.add(j) as u8).is_ascii_digit() && v < 1 << 20 {
                    v = v * 10 + i32::from(*s.add(j) as u8 - b'0');
                    j += 1;
                    any = true;
                }
                return if any && *s.add(j) == 0 { v } else { NO_BROKER };
            }
            p = p.add(1);
        }
    }
    NO_BROKER
}

fn init() {
    if INIT.swap(1, Ordering::AcqRel) != 0 {
        return;
    }
    BOOTSTRAP.store(bootstrap_from_env(), Ordering::Release);
    // SAFETY: umask has no memory effects; this runs while the process is (normally) still
    // single-threaded, and the previous value is restored at once.
    let old = unsafe {
        let m = libc::umask(0o022);
        libc::umask(m);
        m
    };
    UMASK.store(old, Ordering::Relaxed);
    arm_fork_page();
}

fn arm_fork_page() {
    // The marker lives in its own page so WIPEONFORK zeroes nothing else.
    // SAFETY: mmap of a fresh anonymous page; madvise on that page only.
    unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if p == libc::MAP_FAILED {
            return;
        }
        if libc::madvise(p, 4096, libc::MADV_WIPEONFORK) != 0 {
            libc::munmap(p, 4096);
            return;
        }
        let marker = &*(p as *const AtomicU64);
        marker.store(GENERATION.load(Ordering::Acquire), Ordering::Release);
        FORK_PAGE.store(p as u64, Ordering::Release);
    }
}

/// The bootstrap fd, or [`NO_BROKER`].
pub fn bootstrap() -> i32 {
    let b = BOOTSTRAP.load(Ordering::Acquire);
    if b != UNKNOWN {
        return b;
    }
    init();
    BOOTSTRAP.load(Ordering::Acquire)
}

/// Whether `fd` is one the shim must keep open for the program's sake.
pub fn is_protected(fd: i32) -> bool {
    fd >= 0 && fd == BOOTSTRAP.load(Ordering::Relaxed)
}

/// The current generation, first noticing a fork (a child starts a new generation).
///
/// The marker page holds the generation itself. In a fork child it reads 0 until the first
/// look, where every thread proposes the same number — its parent's generation (copied into
/// the child's memory) plus one — and exactly one compare-and-swap puts it there: threads
/// making their first calls at once in a new child agree on one generation (red team s10a
/// finding 05: a load-then-store let two of them bump it twice, and one then closed the
/// other's channel as stale while it was in use).
pub fn generation() -> u64 {
    let page = FORK_PAGE.load(Ordering::Acquire);
    if page == 0 {
        return GENERATION.load(Ordering::Acquire);
    }
    // SAFETY: page is our mapped, never unmapped, 8-byte aligned marker page.
    let marker = unsafe { &*(page as *const AtomicU64) };
    let current = marker.load(Ordering::Acquire);
    if current != 0 {
        return current;
    }
    let proposed = GENERATION.load(Ordering::Acquire) + 1;
    let agreed = match marker.compare_exchange(0, proposed, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => proposed,
        Err(won) => won,
    };
    // What this process's own fork children start from.
    GENERATION.fetch_max(agreed, Ordering::AcqRel);
    agreed
}

/// This process's id, read once per generation (so once per process, and again in a fork
/// child), without a system call after the first: `getpid(2)` costs a trip through the
/// seccomp filters, which would double the cost of a call the fast path answers. A vfork
/// child shares its parent's memory and generation until it execs, so it gets its parent's
/// id. Without the fork-detection page every call asks the kernel.
pub fn pid() -> i32 {
    static PID: AtomicI32 = AtomicI32::new(0);
    static PID_GENERATION: AtomicU64 = AtomicU64::new(0);
    let generation = generation();
    if FORK_PAGE.load(Ordering::Acquire) != 0
        && PID_GENERATION.load(Ordering::Acquire) == generation
    {
        let pid = PID.load(Ordering::Relaxed);
        if pid > 0 {
            return pid;
        }
    }
    // SAFETY: getpid has no memory effects.
    let pid = unsafe { libc::syscall(libc::SYS_getpid) } as i32;
    PID.store(pid, Ordering::Relaxed);
    PID_GENERATION.store(generation, Ordering::Release);
    pid
}

/// Whether this is a vfork child, which shares its parent's memory (and the interrupted
/// thread's thread-locals) until it execs or exits: the kernel's process id differs from the
/// one this memory holds for its process ([`pid`], read at load and after each fork). Such a
/// child must not touch the thread's kept channels: what it registers is in its own fd
/// table, not the parent's (red team s8, findings 01 and 09). Costs one `getpid`; `false`
/// without the fork-detection page (then [`pid`] asks the kernel itself).
pub fn in_vfork_child() -> bool {
    let recorded = pid();
    // SAFETY: getpid has no memory effects.
    let real = unsafe { libc::syscall(libc::SYS_getpid) } as i32;
    recorded != real
}

/// The caller's umask.
pub fn umask() -> u32 {
    if UMASK.load(Ordering::Relaxed) == u32::MAX {
        init();
    }
    UMASK.load(Ordering::Relaxed) & 0o777
}

/// Records a umask change made through the `umask()` hook.
pub fn set_umask(m: u32) {
    UMASK.store(m & 0o777, Ordering::Relaxed);
}

/// Moves the bootstrap socket to another fd number (the program is about to `dup2` onto
/// its current one). Exec'd programs learn the new number from the rewritten environment.
/// Returns false when the move failed.
pub fn move_bootstrap() -> bool {
    let old = BOOTSTRAP.load(Ordering::Acquire);
    if old < 0 {
        return true;
    }
    // Not close-on-exec: the bootstrap socket must survive exec.
    // SAFETY: fcntl with integer arguments only.
    let new = unsafe { libc::syscall(libc::SYS_fcntl, old, libc::F_DUPFD, 900) } as i32;
    if new < 0 {
        return false;
    }
    BOOTSTRAP.store(new, Ordering::Release);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Threads taking their first look in a new fork child at once agree on one generation,
    /// one more than the parent's (red team s10a finding 05). The child's state is made by
    /// hand: a marker page reading 0, as `MADV_WIPEONFORK` leaves it.
    #[test]
    fn threads_of_a_new_fork_child_agree_on_one_generation() {
        arm_fork_page();
        let page = FORK_PAGE.load(Ordering::Acquire);
        assert_ne!(page, 0, "no marker page");
        // SAFETY: the marker page just armed, as generation() reads it.
        let marker = unsafe { &*(page as *const AtomicU64) };
        for _ in 0..300 {
            let parent = generation();
            marker.store(0, Ordering::Release);
            let barrier = std::sync::Barrier::new(4);
            let seen: Vec<u64> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..4)
                    .map(|_| {
                        s.spawn(|| {
                            barrier.wait();
                            generation()
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            assert!(
                seen.iter().all(|&g| g == parent + 1),
                "parent {parent}, threads saw {seen:?}"
            );
            assert_eq!(generation(), parent + 1);
        }
    }
}
