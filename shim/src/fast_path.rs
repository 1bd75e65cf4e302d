//! The in-process stat fast path: `stat`, `lstat`, `statx` and `access(F_OK)` of a path
//! inside a subtree where the policy grants `stat` throughout, answered by the kernel here,
//! without a round trip to the broker.
//!
//! # Why this grants nothing new
//! The kernel floor never governed `stat`: Landlock has no right for it, and the
//! `AT_EMPTY_PATH` forms of `newfstatat`/`statx` pass the seccomp filter (docs/security.md,
//! "What is NOT enforced"). A program bypassing the shim can already stat anything; the fast
//! path only has to give the answer the broker would have given. The broker offers subtrees
//! ([`Call::FastPaths`]) unless `--no-fast-path` is set, and only subtrees one rule decides
//! alone (`Policy::uniform_grants`), so every path inside gets the same `allow`. When the
//! audit log records every call, the reply carries the report ring, and every call answered
//! here is reported there ([`crate::report`]); a call that cannot be (a full ring, a path
//! too long for a slot) goes to the broker. A call relative to a vouched directory fd
//! ([`crate::fast_dirs`]) is reported by its real path, the directory's kept path and the
//! name, so the broker checks it against the policy as it does any absolute report; when
//! that path is unknown the call goes to the broker.
//!
//! # Giving the broker's answer
//! The broker decides on the *real* path. So the path must be absolute (or made so with the
//! working directory), in canonical form (no `.`, `..`, `//` or trailing `/`), and start with
//! a granted subtree; every directory between that subtree's root and the final component is
//! checked with `lstat` not to be a symlink (a symlink could lead out of the subtree); the
//! final component is looked at without following, and a symlink there, when the call
//! follows, goes to the broker. A per-thread memo of the last verified parent directory
//! (path, device, inode) spares the walk: within [`MEMO_TRUSTED_NS`] of its last
//! confirmation, and while no thread of the process has renamed or removed a directory or
//! changed its working directory through the shim since ([`names_changed`]), it is taken
//! as it stands; after that one
//! `lstat` of the parent confirms it again. Anything unusual goes to the broker: a miss
//! costs one round trip, never a wrong answer.
//!
//! The one divergence left needs a change by someone else at about the same moment: a
//! verified directory moved out of the subtree and a symlink to it put in its old place by
//! another process (or by a raw system call, or a raw `chdir`) within the memo's
//! millisecond, or a component
//! swapped for a symlink between the check and the stat, is followed here where the broker
//! would decide on the new location. That reveals only metadata, which the kernel does not
//! protect either (the program could make the same `stat` natively).
//!
//! Signal and fork safety: no allocation and no lock. The subtree list is read once per
//! process from the inherited table ([`crate::fast_table`]), or fetched from the broker when
//! there is none, by whichever thread first needs it (an atomic state machine; the others use the
//! broker meanwhile) and is inherited by fork children. The per-thread memo has a busy flag,
//! so a signal handler's stat during a stat skips it.

use std::cell::{Cell, UnsafeCell};
use std::ffi::{c_char, c_int};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};

use arbiter_protocol::ring::{
    canonical_components, trim_directory_suffix, ReportedCall, REPORT_OPEN_FLAGS, REPORT_PATH_MAX,
};
use arbiter_protocol::{
    Call, Payload, FAST_ACCESS, FAST_DENY, FAST_OPEN, FAST_PATHS_MAX, FAST_REMOVE, FAST_STAT,
    FAST_TTY, MAX_PATH, NATIVE_OPEN_MARK, NATIVE_REMOVE_MARK,
};

use crate::channel;
use crate::report::{self, Record};
use crate::sys::{bytes, c_str_len, raw_close};

const UNKNOWN: u8 = 0;
const LOADING: u8 = 1;
const READY: u8 = 2;
const NONE: u8 = 3;

static STATE: AtomicU8 = AtomicU8::new(UNKNOWN);

/// The granted subtree roots, each followed by a NUL; written once, before `READY`.
struct Grants {
    len: UnsafeCell<usize>,
    buf: UnsafeCell<[u8; FAST_PATHS_MAX]>,
}

// SAFETY: written only by the one thread that moved STATE from UNKNOWN to LOADING, before it
// publishes READY with Release; read only after an Acquire load saw READY.
unsafe impl Sync for Grants {}

static GRANTS: Grants = Grants {
    len: UnsafeCell::new(0),
    buf: UnsafeCell::new([0; FAST_PATHS_MAX]),
};

/// The granted roots as sent by the broker, fetching them on first use; `None` while another
/// thread fetches them or when there are none.
fn grants() -> Option<&'static [u8]> {
    match STATE.load(Ordering::Acquire) {
        READY => return Some(ready_grants()),
        UNKNOWN => {}
        _ => return None,
    }
    if STATE
        .compare_exchange(UNKNOWN, LOADING, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return None;
    }
    // The inherited table first: no channel, no round trip (crate::fast_table).
    // SAFETY: this thread won the UNKNOWN → LOADING exchange, so it is the only writer, and
    // nobody reads before READY is published below.
    let inherited = unsafe { crate::fast_table::read_inherited(&mut *GRANTS.buf.get()) };
    if let Some(len) = inherited {
        if len == 0 {
            STATE.store(NONE, Ordering::Release);
            return None;
        }
        // SAFETY: as above.
        unsafe { *GRANTS.len.get() = len };
        STATE.store(READY, Ordering::Release);
        return Some(ready_grants());
    }
    let fetched = channel::call(&Call::FastPaths, &[], |reply, got| {
        // A descriptor with the fast paths is the report ring: every call answered here
        // must then be reported, so fast paths whose ring cannot be mapped stay off.
        let ring_ok = match got {
            [] => true,
            [ring] => report::attach(*ring),
            _ => false,
        };
        for &fd in got {
            raw_close(fd);
        }
        match reply.payload {
            Payload::Bytes(b)
                if ring_ok && reply.result >= 0 && !b.is_empty() && b.len() <= FAST_PATHS_MAX =>
            {
                // SAFETY: this thread won the UNKNOWN → LOADING exchange, so it is the only
                // writer, and nobody reads before READY is published below.
                unsafe {
                    (&mut *GRANTS.buf.get())[..b.len()].copy_from_slice(b);
                    *GRANTS.len.get() = b.len();
                }
                true
            }
            _ => false,
        }
    });
    if fetched == Ok(true) {
        STATE.store(READY, Ordering::Release);
        Some(ready_grants())
    } else {
        STATE.store(NONE, Ordering::Release);
        None
    }
}

fn ready_grants() -> &'static [u8] {
    // SAFETY: READY was observed with Acquire (or set by this thread): the buffer and its
    // length are written and never change again.
    unsafe { &(&*GRANTS.buf.get())[..*GRANTS.len.get()] }
}

/// The length of the root, among the entries tagged `tag`, that `path` lies in (0 for
/// `/`), if any.
fn granted_root(grants: &[u8], tag: u8, path: &[u8]) -> Option<usize> {
    grants
        .split(|&b| b == 0)
        .filter_map(|entry| entry.strip_prefix(&[tag]))
        .filter(|root| root.starts_with(b"/"))
        .find_map(|root| {
            if root == b"/" {
                Some(0)
            } else if path.starts_with(root)
                && (path.len() == root.len() || path[root.len()] == b'/')
            {
                Some(root.len())
            } else {
                None
            }
        })
}

/// `/proc` or a path beneath it: the broker decides there on what the names mean for the
/// caller (`/proc/self`, a sandbox pid, another process), so no fast path answers beneath
/// it, whatever root the policy grants (red team s9a finding 02).
fn in_proc(path: &[u8]) -> bool {
    path.strip_prefix(b"/proc")
        .is_some_and(|rest| rest.is_empty() || rest[0] == b'/')
}

/// Absolute, and no empty, `.` or `..` component, and no trailing slash.
fn is_canonical(path: &[u8]) -> bool {
    path.len() > 1
        && path[0] == b'/'
        && path[1..]
            .split(|&b| b == b'/')
            .all(|c| !c.is_empty() && c != b"." && c != b"..")
}

/// Room in the per-thread memo for a parent directory's path and its NUL.
const MEMO_PATH: usize = 512;

/// How long after its last confirmation the memo is taken without a look (1 ms): long
/// enough that a thread working through one directory (`git status`'s `lstat`s, a build's
/// header searches) confirms it about once, short enough that a change another process makes
/// before this one looks again is seen, as it is by the broker. Each confirmation costs one
/// `lstat`, as much as the call itself.
const MEMO_TRUSTED_NS: u64 = 1_000_000;

/// Counts the renames, directory removals and changes of working directory any thread of
/// this process made through the shim: a memo confirmed before the count changed is
/// confirmed again before it is used, so a program that replaces one of its directories by
/// a symlink and then names a file through it, or names a file relative to a working
/// directory it just changed (the memo's key is the caller's relative name: red team s9a
/// finding 01), gets the broker's answer at once, whatever the clock says.
static NAMES_CHANGED: AtomicU64 = AtomicU64::new(0);

/// Records that this process renamed or removed a name that may have been a directory, or
/// changed its working directory: every thread's memo is confirmed again before its next
/// use. Called before such a call and again after it (whether it succeeded or not), so that
/// no memo confirmed while it ran is taken without a look afterwards (red team s9a finding
/// 04). An atomic add: safe in a signal handler and a vfork child.
pub fn names_changed() {
    NAMES_CHANGED.fetch_add(1, Ordering::Release);
}

/// The monotonic clock in nanoseconds (the vDSO: no system call where the clock source
/// allows), or `None` when it cannot be read, which makes the memo confirm itself.
fn monotonic_ns() -> Option<u64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid, writable timespec; clock_gettime is async-signal-safe.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (rc == 0).then(|| ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

/// When and against which [`NAMES_CHANGED`] count a memo entry was confirmed.
#[derive(Clone, Copy)]
struct Confirmed {
    at_ns: Option<u64>,
    names: u64,
}

impl Confirmed {
    /// Now, read before the look that confirms (a rename during the look makes it stale).
    fn now() -> Self {
        Confirmed {
            names: NAMES_CHANGED.load(Ordering::Acquire),
            at_ns: monotonic_ns(),
        }
    }

    /// Whether a memo confirmed at `self` may be taken without a look now.
    fn still_trusted(self) -> bool {
        let now = Confirmed::now();
        match (self.at_ns, now.at_ns) {
            (Some(then), Some(t)) => {
                now.names == self.names && t >= then && t - then < MEMO_TRUSTED_NS
            }
            _ => false,
        }
    }
}

/// The last parent directory this thread verified, under the name the caller used for it
/// (absolute, relative to the working directory, or `.` for the working directory itself).
/// A later call naming a file in it re-checks only that the name still leads to the same
/// directory (device and inode): one `lstat` instead of a walk and a `getcwd`.
struct Memo {
    busy: Cell<bool>,
    /// Length of the key, without its NUL; 0 when empty.
    len: Cell<usize>,
    key: UnsafeCell<[u8; MEMO_PATH]>,
    dev: Cell<u64>,
    ino: Cell<u64>,
    /// The kind of granted root ([`FAST_STAT`], [`FAST_OPEN`], [`FAST_ACCESS`]) the walk
    /// that verified it started from: it vouches for calls of that kind only.
    tag: Cell<u8>,
    /// When it was last confirmed; `at_ns: None` makes the next use look.
    confirmed: Cell<Confirmed>,
}

thread_local! {
    static MEMO: Memo = const {
        Memo {
            busy: Cell::new(false),
            len: Cell::new(0),
            key: UnsafeCell::new([0; MEMO_PATH]),
            dev: Cell::new(0),
            ino: Cell::new(0),
            tag: Cell::new(0),
            confirmed: Cell::new(Confirmed { at_ns: None, names: 0 }),
        }
    };
}

/// Runs `f` with exclusive use of this thread's memo; `None` when a signal handler
/// interrupted a call that holds it, or the thread is exiting.
fn with_memo<R>(f: impl FnOnce(&Memo, &mut [u8; MEMO_PATH]) -> R) -> Option<R> {
    MEMO.try_with(|m| {
        if m.busy.replace(true) {
            return None;
        }
        // SAFETY: `busy` makes this the only live reference to the memo's buffer.
        let key = unsafe { &mut *m.key.get() };
        let r = f(m, key);
        m.busy.set(false);
        Some(r)
    })
    .ok()
    .flatten()
}

/// `lstat` of the NUL-terminated `path` through the `AT_EMPTY_PATH` form the seccomp filter
/// lets through. `Err(errno)` on failure.
fn lstat_raw(path: &[u8]) -> Result<libc::stat, c_int> {
    lstat_at(libc::AT_FDCWD, path)
}

/// [`lstat_raw`] of `path` relative to `dirfd`.
pub fn lstat_at(dirfd: c_int, path: &[u8]) -> Result<libc::stat, c_int> {
    debug_assert_eq!(path.last(), Some(&0));
    // SAFETY: an all-zero struct stat is a valid value.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: path is NUL-terminated; st is a valid, writable struct stat.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_newfstatat,
            dirfd,
            path.as_ptr(),
            &mut st as *mut libc::stat,
            libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH,
        )
    };
    if rc < 0 {
        Err(crate::sys::errno())
    } else {
        Ok(st)
    }
}

/// The answer for the kernel's own error `e` on a path the shim looked at itself: the
/// broker would report the same before deciding anything — except `EACCES`, which the
/// program's credentials may get where the broker's do not (as root, the broker keeps
/// `CAP_DAC_OVERRIDE` and `CAP_DAC_READ_SEARCH`; the program has none): that one the broker
/// answers (red team s7, finding 02).
fn kernel_error<T>(e: c_int) -> Answer<T> {
    if e == libc::EACCES {
        Answer::Broker
    } else {
        Answer::Done(Err(e))
    }
}

/// Why a path cannot be vouched for here.
enum Walk {
    /// A component is a symlink, or something else the broker should look at.
    Broker,
    /// The kernel's own error for the path (`ENOENT`, `ENOTDIR`, `EACCES`…): see
    /// [`kernel_error`] for which of them the broker would report the same.
    Errno(c_int),
}

/// `lstat` of the directory `path[..end]`, which must be a real directory (not a symlink).
fn real_dir(path: &mut [u8], end: usize) -> Result<libc::stat, Walk> {
    let saved = path[end];
    path[end] = 0;
    let st = lstat_raw(&path[..=end]);
    path[end] = saved;
    let st = st.map_err(Walk::Errno)?;
    match st.st_mode & libc::S_IFMT {
        libc::S_IFDIR => Ok(st),
        libc::S_IFLNK => Err(Walk::Broker),
        _ => Err(Walk::Errno(libc::ENOTDIR)),
    }
}

/// Checks that no directory of the absolute, canonical `path` strictly beneath the granted
/// root (its first `root_len` bytes) up to the parent (ending at `parent_end`, the offset of
/// the last `/`) is a symlink. Returns the parent's stat when the parent is the root or
/// beneath it (so it may be remembered), `None` when it lies above the root.
fn verify_parents(
    path: &mut [u8],
    root_len: usize,
    parent_end: usize,
) -> Result<Option<libc::stat>, Walk> {
    if parent_end < root_len {
        return Ok(None); // the path is the root itself
    }
    if parent_end == root_len {
        // The final component sits right in the root, which is trusted as it stands.
        return real_dir(path, parent_end.max(1)).map(Some);
    }
    // The root itself too: the program may have replaced it by a symlink (a granted
    // directory it removed and made again as a link elsewhere; red team s9a finding 03).
    if root_len > 0 {
        real_dir(path, root_len)?;
    }
    let mut parent = None;
    for i in root_len + 1..=parent_end {
        if path[i] == b'/' {
            parent = Some(real_dir(path, i)?);
        }
    }
    Ok(parent)
}

/// The caller's path: NUL-terminated, as given.
struct CallerPath<'a> {
    /// The bytes including the terminating NUL.
    with_nul: &'a [u8],
}

impl CallerPath<'_> {
    fn bytes(&self) -> &[u8] {
        &self.with_nul[..self.with_nul.len() - 1]
    }

    /// The parent directory's name as the caller wrote it: `.` for a bare name.
    fn parent_key(&self) -> &[u8] {
        let b = self.bytes();
        match b.iter().rposition(|&c| c == b'/') {
            Some(0) => b"/",
            Some(i) => &b[..i],
            None => b".",
        }
    }
}

/// Whether this thread's memo vouches for the caller's parent directory now, for a call of
/// the kind `tag`: taken as it stands while [`Confirmed::still_trusted`], else confirmed by
/// one `lstat` (same device and inode, still a directory).
fn memo_vouches(path: &CallerPath<'_>, tag: u8) -> bool {
    let key = path.parent_key();
    with_memo(|m, buf| {
        let len = m.len.get();
        if len == 0 || len != key.len() || buf[..len] != *key || m.tag.get() != tag {
            return false;
        }
        if m.confirmed.get().still_trusted() {
            return true;
        }
        let at = Confirmed::now();
        let same = matches!(lstat_raw(&buf[..=len]), Ok(st)
            if st.st_mode & libc::S_IFMT == libc::S_IFDIR
                && st.st_dev == m.dev.get()
                && st.st_ino == m.ino.get());
        if same {
            m.confirmed.set(at);
        }
        same
    })
    .unwrap_or(false)
}

/// Remembers `st` as the caller's parent directory, verified from a root of the kind `tag`
/// and confirmed at `at` (taken before the walk that produced `st`).
fn remember(path: &CallerPath<'_>, st: &libc::stat, at: Confirmed, tag: u8) {
    let key = path.parent_key();
    if key.len() >= MEMO_PATH {
        return;
    }
    with_memo(|m, buf| {
        buf[..key.len()].copy_from_slice(key);
        buf[key.len()] = 0;
        m.len.set(key.len());
        m.dev.set(st.st_dev);
        m.ino.set(st.st_ino);
        m.tag.set(tag);
        m.confirmed.set(at);
    });
}

/// Vouches for the directories of `path` (absolute or relative to the working directory):
/// by the memo, or by a walk from the granted root it lies in.
fn vouch(path: &CallerPath<'_>, grants: &[u8], tag: u8) -> Result<(), Walk> {
    let b = path.bytes();
    let relative = b[0] != b'/';
    let canonical = if relative {
        // Checked as if joined to a working directory.
        b.split(|&c| c == b'/')
            .all(|c| !c.is_empty() && c != b"." && c != b"..")
    } else {
        is_canonical(b)
    };
    if !canonical {
        return Err(Walk::Broker);
    }
    if memo_vouches(path, tag) {
        return Ok(());
    }
    let at = Confirmed::now();
    let mut abs = [0u8; MAX_PATH + 1];
    let len = if relative {
        let len = join_cwd(b, &mut abs)?;
        if !is_canonical(&abs[..len]) {
            return Err(Walk::Broker);
        }
        len
    } else {
        abs[..b.len()].copy_from_slice(b);
        b.len()
    };
    let full = &mut abs[..=len];
    if in_proc(&full[..len]) {
        return Err(Walk::Broker);
    }
    let Some(root_len) = granted_root(grants, tag, &full[..len]) else {
        return Err(Walk::Broker);
    };
    let parent_end = full[..len].iter().rposition(|&c| c == b'/').unwrap_or(0);
    if let Some(st) = verify_parents(full, root_len, parent_end)? {
        remember(path, &st, at, tag);
    }
    Ok(())
}

/// For a directory the shim just opened by `path` (absolute, or relative to the working
/// directory; as the caller wrote it, NUL-terminated): the kinds of granted root
/// ([`crate::fast_dirs`] bits) its canonical form lies in with no symlink on the way from
/// the root, its `lstat` (the caller compares it with the fd it opened), and the length of
/// that canonical form, written to `abs`. `None` when it lies in none.
pub fn vouch_dir(
    path: &CallerPathBytes<'_>,
    abs: &mut [u8; MAX_PATH + 1],
) -> Option<(u8, libc::stat, usize)> {
    let grants = grants()?;
    let b = &path.0[..path.0.len() - 1];
    let len = if b.first() == Some(&b'/') {
        if b.len() > MAX_PATH {
            return None;
        }
        abs[..b.len()].copy_from_slice(b);
        b.len()
    } else {
        join_cwd(b, abs).ok()?
    };
    let len = trim_directory_suffix(&abs[..len]).len();
    abs[len] = 0;
    if !is_canonical(&abs[..len]) || in_proc(&abs[..len]) {
        return None;
    }
    let parent_end = abs[..len].iter().rposition(|&c| c == b'/').unwrap_or(0);
    let mut roots = 0;
    for tag in [FAST_STAT, FAST_OPEN, FAST_REMOVE] {
        if let Some(root_len) = granted_root(grants, tag, &abs[..len]) {
            if verify_parents(&mut abs[..=len], root_len, parent_end).is_ok() {
                roots |= crate::fast_dirs::bit(tag);
            }
        }
    }
    if roots == 0 {
        return None;
    }
    lstat_raw(&abs[..=len]).ok().map(|st| (roots, st, len))
}

/// A caller's NUL-terminated path (the bytes including the NUL).
pub struct CallerPathBytes<'a>(pub &'a [u8]);

/// Writes the working directory, `/` and the relative path `rel` into `buf` (the rest of
/// it zero, so the result is NUL-terminated); returns the joined length.
fn join_cwd(rel: &[u8], buf: &mut [u8; MAX_PATH + 1]) -> Result<usize, Walk> {
    let cwd = crate::sys::getcwd(&mut buf[..]).map_err(Walk::Errno)?;
    let start = if cwd == 1 { 0 } else { cwd }; // "/" + "/name" would double the slash
    let len = start + 1 + rel.len();
    if len > MAX_PATH {
        return Err(Walk::Broker);
    }
    buf[start] = b'/';
    buf[start + 1..len].copy_from_slice(rel);
    Ok(len)
}

/// How the fast path answers a call.
pub enum Answer<T> {
    /// The kernel's result, as the broker would have given it.
    Done(Result<T, c_int>),
    /// Not answerable here: ask the broker.
    Broker,
}

impl<T> Answer<T> {
    /// The libc return value of a call answered here (0, or -1 with errno set), the result
    /// stored in `out`; `None` when the broker must answer.
    ///
    /// # Safety
    /// `out` must be valid for a write of `T`.
    pub unsafe fn store(self, out: *mut T) -> Option<c_int> {
        match self {
            Answer::Done(Ok(v)) => {
                // SAFETY: out is valid for a write per this function's contract.
                unsafe { out.write(v) };
                Some(0)
            }
            Answer::Done(Err(e)) => Some(crate::forward::fail(e)),
            Answer::Broker => None,
        }
    }
}

/// Runs `final_stat` on the caller's path when the fast path may answer for it.
/// `final_stat` gets a directory fd (or `AT_FDCWD`) and the NUL-terminated path relative to
/// it, and must not follow a final symlink; it returns the result and the file type it saw.
/// A symlink when `follow` is set goes to the broker.
///
/// # Safety
/// `path` must be a C string.
unsafe fn with_path<T>(
    dirfd: c_int,
    path: *const c_char,
    follow: bool,
    report: Reporting,
    final_stat: impl FnOnce(c_int, &[u8]) -> Result<(T, u32), c_int>,
) -> Answer<T> {
    // SAFETY: path is a C string; its first byte is in bounds.
    let absolute = unsafe { *path } == b'/' as c_char;
    // SAFETY: path is a C string per the contract.
    let Some(len) = (unsafe { c_str_len(path, MAX_PATH - 1) }) else {
        return Answer::Broker;
    };
    if len == 0 {
        return Answer::Broker;
    }
    if dirfd != libc::AT_FDCWD && !absolute {
        // One name in a directory fd vouched for beneath a stat root (crate::fast_dirs).
        // SAFETY: c_str_len found `len` bytes and then the NUL.
        let with_nul = unsafe { bytes(path, len + 1) };
        let name = &with_nul[..len];
        if !crate::fast_dirs::is_plain_name(name)
            || crate::fast_dirs::roots_of(dirfd) & crate::fast_dirs::IN_STAT_ROOT == 0
        {
            return Answer::Broker;
        }
        let mut real = [0u8; REPORT_PATH_MAX];
        let (record, real_len) = claim_at(dirfd, name, &mut real);
        if let Record::Broker = record {
            return Answer::Broker;
        }
        let answer = match final_stat(dirfd, with_nul) {
            Ok((_, kind)) if follow && kind == libc::S_IFLNK => Answer::Broker,
            Ok((v, _)) => Answer::Done(Ok(v)),
            Err(e) => kernel_error(e),
        };
        report.record(record, &real[..real_len], &answer, |_| 0);
        return answer;
    }
    let Some(grants) = grants() else {
        return Answer::Broker;
    };
    let caller = CallerPath {
        // SAFETY: c_str_len found `len` bytes and then the NUL.
        with_nul: unsafe { bytes(path, len + 1) },
    };
    if caller.bytes() == b"." {
        return working_directory(grants, caller.with_nul, final_stat);
    }
    if absolute && granted_root(grants, FAST_STAT, caller.bytes()).is_none() {
        if let Some(e) = denied(grants, caller.bytes(), follow) {
            return Answer::Done(Err(e));
        }
    }
    let record = match report::claim(len) {
        Record::Broker => return Answer::Broker,
        r => r,
    };
    let answer = match vouch(&caller, grants, FAST_STAT) {
        Ok(()) => match final_stat(libc::AT_FDCWD, caller.with_nul) {
            Ok((_, kind)) if follow && kind == libc::S_IFLNK => Answer::Broker,
            Ok((v, _)) => Answer::Done(Ok(v)),
            Err(e) => kernel_error(e),
        },
        Err(Walk::Broker) => Answer::Broker,
        Err(Walk::Errno(e)) => kernel_error(e),
    };
    report.record(record, caller.bytes(), &answer, |_| 0);
    answer
}

/// A stat of `.` (a shell's check of `$PWD` at start and before each command search): the
/// working directory itself, answered here when its real path (`getcwd`, which the broker
/// would decide on as well) lies in a stat root with no symlink from the root down to it
/// and no report is wanted (a relative `.` is no path the ring reports). `.` is never a
/// symlink, so following or not gives the same answer. Anything else goes to the broker.
/// `with_nul` is `.` and its NUL.
fn working_directory<T>(
    grants: &[u8],
    with_nul: &[u8],
    final_stat: impl FnOnce(c_int, &[u8]) -> Result<(T, u32), c_int>,
) -> Answer<T> {
    if report::wanted() {
        return Answer::Broker;
    }
    let mut abs = [0u8; MAX_PATH + 1];
    let Ok(len) = crate::sys::getcwd(&mut abs[..MAX_PATH - 2]) else {
        return Answer::Broker;
    };
    if !is_canonical(&abs[..len]) || in_proc(&abs[..len]) {
        return Answer::Broker;
    }
    let Some(root_len) = granted_root(grants, FAST_STAT, &abs[..len]) else {
        return Answer::Broker;
    };
    // As for a name in the working directory: every directory from the root down to the
    // working directory itself is checked to be a real directory.
    abs[len] = b'/';
    abs[len + 1] = b'.';
    abs[len + 2] = 0;
    if verify_parents(&mut abs[..len + 3], root_len, len).is_err() {
        return Answer::Broker;
    }
    match final_stat(libc::AT_FDCWD, with_nul) {
        Ok((v, _)) => Answer::Done(Ok(v)),
        Err(e) => kernel_error(e),
    }
}

/// What a fast path reports when the ring is on: which call, with which flags.
#[derive(Clone, Copy)]
pub struct Reporting {
    /// The call.
    pub call: ReportedCall,
    /// Its flags as the audit record shows them.
    pub flags: c_int,
}

impl Reporting {
    /// Fills the claimed slot (if any) with `answer`; a call handed to the broker gives the
    /// slot up (the broker records it).
    fn record<T>(
        self,
        record: Record,
        path: &[u8],
        answer: &Answer<T>,
        value: impl FnOnce(&T) -> c_int,
    ) {
        if let Record::Slot(slot) = record {
            match answer {
                Answer::Done(Ok(v)) => slot.done(self.call, self.flags, path, Ok(value(v))),
                Answer::Done(Err(e)) => slot.done(self.call, self.flags, path, Err(*e)),
                Answer::Broker => drop(slot),
            }
        }
    }
}

/// Claims a report slot for a call on the plain `name` in the vouched directory `dirfd`.
/// Such a call is reported by its real path, the directory's as [`crate::fast_dirs`] kept
/// it when it vouched for it, then `/` and the name, written to `out` (its length
/// returned): the broker checks a reported absolute path against the policy, which it
/// could not do with a name relative to a descriptor. With the ring on and that path
/// unknown (not kept, or no longer leading to the directory) or too long for a slot, the
/// claim is [`Record::Broker`]: the call goes to the broker, which records it itself.
fn claim_at(dirfd: c_int, name: &[u8], out: &mut [u8; REPORT_PATH_MAX]) -> (Record, usize) {
    if !report::on() {
        return (Record::Off, 0);
    }
    let mut dir = [0u8; crate::fast_dirs::PATH_CAP + 1];
    let Some(dir_len) = crate::fast_dirs::path_of(dirfd, &mut dir) else {
        return (Record::Broker, 0);
    };
    // The root directory is `/`: no second slash before the name.
    let dir_part = if dir_len == 1 { 0 } else { dir_len };
    let len = dir_part + 1 + name.len();
    if len > REPORT_PATH_MAX {
        return (Record::Broker, 0);
    }
    out[..dir_part].copy_from_slice(&dir[..dir_part]);
    out[dir_part] = b'/';
    out[dir_part + 1..len].copy_from_slice(name);
    (report::claim(len), len)
}

/// `fstatat(dirfd, path, …, flags)`, when the fast path can answer it.
///
/// # Safety
/// `path` must be a non-null C string.
pub unsafe fn stat(
    dirfd: c_int,
    path: *const c_char,
    flags: c_int,
    report: Reporting,
) -> Answer<libc::stat> {
    // SAFETY: per this function's contract.
    unsafe {
        with_path(
            dirfd,
            path,
            flags & libc::AT_SYMLINK_NOFOLLOW == 0,
            report,
            |at, p| lstat_at(at, p).map(|st| (st, st.st_mode & libc::S_IFMT)),
        )
    }
}

/// The broker's answer for a probe (a stat, an `access`) of the absolute `path` when it lies
/// beneath a [`FAST_DENY`] root, where the policy refuses everything with `EACCES` and no
/// rule beneath decides otherwise: `Some(EACCES)` when the path is canonical and no
/// component beneath the root is a symlink — each existing one is looked at with `lstat`;
/// nothing exists beneath a missing component or a file, so the walk ends there — nor the
/// final one when the call follows it. A symlink could lead where the policy allows (the
/// broker decides on the real path), and a component the program's credentials cannot look
/// at may hide one (the broker looks with its own): `None` then, and the call goes to the
/// broker, as it does for a path beneath no such root. The root itself is looked at too (a
/// symlink there goes to the broker; another real directory in its place is decided as the
/// same path, since the broker decides on the real path).
fn denied(grants: &[u8], path: &[u8], follow: bool) -> Option<c_int> {
    let root_len = granted_root(grants, FAST_DENY, path)?;
    if !is_canonical(path) || path.len() > MAX_PATH {
        return None;
    }
    let mut buf = [0u8; MAX_PATH + 1];
    buf[..path.len()].copy_from_slice(path);
    // The root and each component beneath it, as a directory on the way must be.
    let ends = (root_len.max(1)..=path.len()).filter(|&i| i == path.len() || path[i] == b'/');
    for end in ends {
        let last = end == path.len();
        buf[end] = 0;
        let st = lstat_raw(&buf[..=end]);
        buf[end] = path.get(end).copied().unwrap_or(0);
        match st {
            Ok(st) => match st.st_mode & libc::S_IFMT {
                libc::S_IFLNK if !last || follow => return None,
                libc::S_IFDIR if !last => {}
                _ => return Some(libc::EACCES),
            },
            Err(libc::ENOENT | libc::ENOTDIR) => return Some(libc::EACCES),
            Err(_) => return None,
        }
    }
    Some(libc::EACCES)
}

/// `faccessat(dirfd, path, mode, flags)` asking `R_OK` and/or `X_OK` (a shell's command
/// search: bash asks both of each candidate), when the fast path can answer it: a path
/// (absolute, or relative to the working directory) in canonical form inside a
/// [`FAST_ACCESS`] root — where the policy grants `stat`, `read`, `list` and `exec`
/// throughout, so the broker's decision is `allow` whatever the file — with no symlink from
/// the root down to its directory ([`vouch`]) and a final component that is no symlink to
/// follow (one `lstat`). The kernel then checks the program's own credentials (`faccessat2`
/// in the `AT_EMPTY_PATH` form the seccomp filter lets through): success, `ENOENT` and
/// `ENOTDIR` are the broker's answers too (it performs the same check with credentials that
/// are never weaker); anything else, `EACCES` above all (as root the broker keeps its
/// capabilities, the program has none), goes to the broker, and so does every call when the
/// report ring is on (these calls are not reported).
///
/// # Safety
/// `path` must be a non-null C string.
pub unsafe fn access(dirfd: c_int, path: *const c_char, mode: c_int, flags: c_int) -> Answer<()> {
    let known_flags = libc::AT_EACCESS | libc::AT_SYMLINK_NOFOLLOW;
    if flags & !known_flags != 0 || mode & !(libc::R_OK | libc::W_OK | libc::X_OK) != 0 {
        return Answer::Broker; // the kernel's EINVAL, which the broker gives
    }
    // SAFETY: path is a C string; its first byte is in bounds.
    let absolute = unsafe { *path } == b'/' as c_char;
    if dirfd != libc::AT_FDCWD && !absolute {
        return Answer::Broker;
    }
    // SAFETY: path is a C string per the contract.
    let Some(len) = (unsafe { c_str_len(path, MAX_PATH - 1) }) else {
        return Answer::Broker;
    };
    let Some(grants) = grants() else {
        return Answer::Broker;
    };
    let caller = CallerPath {
        // SAFETY: c_str_len found `len` bytes and then the NUL.
        with_nul: unsafe { bytes(path, len + 1) },
    };
    if len == 0 || caller.bytes() == b"." {
        return Answer::Broker;
    }
    let follow = flags & libc::AT_SYMLINK_NOFOLLOW == 0;
    if absolute && granted_root(grants, FAST_ACCESS, caller.bytes()).is_none() {
        if let Some(e) = denied(grants, caller.bytes(), follow) {
            return Answer::Done(Err(e));
        }
    }
    if mode == libc::F_OK || mode & libc::W_OK != 0 || report::on() {
        return Answer::Broker;
    }
    match vouch(&caller, grants, FAST_ACCESS) {
        Ok(()) => {}
        Err(Walk::Broker) => return Answer::Broker,
        Err(Walk::Errno(e)) => return kernel_error(e),
    }
    let st = match lstat_raw(caller.with_nul) {
        Ok(st) => st,
        Err(e) => return kernel_error(e),
    };
    if st.st_mode & libc::S_IFMT == libc::S_IFLNK && follow {
        return Answer::Broker; // the broker decides on where it leads
    }
    // Not following: the final component was no symlink to follow a moment ago.
    let kflags = (flags & libc::AT_EACCESS) | libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH;
    // SAFETY: path is NUL-terminated; mode and flags are plain integers.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_faccessat2,
            libc::AT_FDCWD,
            caller.with_nul.as_ptr(),
            mode,
            kflags,
        )
    };
    if rc == 0 {
        return Answer::Done(Ok(()));
    }
    match crate::sys::errno() {
        e @ (libc::ENOENT | libc::ENOTDIR) => Answer::Done(Err(e)),
        _ => Answer::Broker,
    }
}

/// `statx(dirfd, path, flags, mask)`, when the fast path can answer it.
///
/// # Safety
/// `path` must be a non-null C string.
pub unsafe fn statx(
    dirfd: c_int,
    path: *const c_char,
    flags: c_int,
    mask: u32,
) -> Answer<libc::statx> {
    let follow = flags & libc::AT_SYMLINK_NOFOLLOW == 0;
    // Keep the caller's sync flags; never follow here; always learn the file type.
    let flags =
        (flags & !libc::AT_SYMLINK_FOLLOW) | libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH;
    let run = |at: c_int, p: &[u8]| {
        // SAFETY: an all-zero struct statx is a valid value.
        let mut stx: libc::statx = unsafe { std::mem::zeroed() };
        // SAFETY: p is NUL-terminated; stx is a valid, writable struct statx.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_statx,
                at,
                p.as_ptr(),
                flags,
                mask | libc::STATX_TYPE,
                &mut stx as *mut libc::statx,
            )
        };
        if rc < 0 {
            Err(crate::sys::errno())
        } else {
            Ok((stx, u32::from(stx.stx_mode) & libc::S_IFMT))
        }
    };
    let report = Reporting {
        call: ReportedCall::Stat,
        flags: flags & libc::AT_SYMLINK_NOFOLLOW,
    };
    // SAFETY: per this function's contract.
    unsafe { with_path(dirfd, path, follow, report, run) }
}

/// Flags that make an open more than a read: such opens always go to the broker (and the
/// seccomp notify filter would stop them anyway).
const NOT_A_READ: c_int = libc::O_WRONLY
    | libc::O_RDWR
    | libc::O_CREAT
    | libc::O_TRUNC
    | libc::O_PATH
    | (libc::O_TMPFILE & !libc::O_DIRECTORY);

/// `openat(dirfd, path, flags)` for reading, when the kernel may do it here: a canonical
/// path, absolute or relative to the working directory, beneath a path the policy grants
/// reading in full and the kernel floor holds ([`FAST_OPEN`] entries). The open carries
/// [`NATIVE_OPEN_MARK`], so the seccomp notify filter lets it run, and Landlock decides
/// it, exactly as the policy would. Success is the answer. `ENOENT`/`ENOTDIR` are the
/// answer too once the directories on the way are vouched for as real (so a symlink out of
/// the subtree cannot turn the broker's denial into a not-found); any other failure goes to
/// the broker, which decides and reports it.
///
/// # Safety
/// `path` must be a non-null C string.
pub unsafe fn open(dirfd: c_int, path: *const c_char, flags: c_int) -> Answer<c_int> {
    if flags & NOT_A_READ != 0 {
        return Answer::Broker;
    }
    // SAFETY: path is a C string per the contract.
    let Some(len) = (unsafe { c_str_len(path, MAX_PATH - 1) }) else {
        return Answer::Broker;
    };
    if len == 0 {
        return Answer::Broker;
    }
    let caller = CallerPath {
        // SAFETY: c_str_len found `len` bytes and then the NUL.
        with_nul: unsafe { bytes(path, len + 1) },
    };
    let b = caller.bytes();
    let relative = b[0] != b'/';
    if relative && dirfd != libc::AT_FDCWD {
        // One name in a directory fd vouched for beneath a native-read root
        // (crate::fast_dirs): Landlock decides the open, the kernel's not-found is the answer.
        if !crate::fast_dirs::is_plain_name(b)
            || crate::fast_dirs::roots_of(dirfd) & crate::fast_dirs::IN_OPEN_ROOT == 0
        {
            return Answer::Broker;
        }
        // Reported by its real path (see claim_at), with only the flags a report may carry.
        let mut real = [0u8; REPORT_PATH_MAX];
        let (record, real_len) = claim_at(dirfd, b, &mut real);
        let record = match record {
            Record::Off => Record::Off,
            Record::Slot(_) if flags & !REPORT_OPEN_FLAGS != 0 => return Answer::Broker,
            Record::Slot(slot) => Record::Slot(slot),
            Record::Broker => return Answer::Broker,
        };
        // SAFETY: path is a C string; flags and mode are plain integers.
        let fd =
            unsafe { libc::syscall(libc::SYS_openat, dirfd, path, flags | NATIVE_OPEN_MARK, 0) };
        let answer = if fd >= 0 {
            Answer::Done(Ok(fd as c_int))
        } else {
            match crate::sys::errno() {
                e @ (libc::ENOENT | libc::ENOTDIR) => Answer::Done(Err(e)),
                _ => Answer::Broker,
            }
        };
        let report = Reporting {
            call: ReportedCall::Open,
            flags,
        };
        report.record(record, &real[..real_len], &answer, |&fd| fd);
        return answer;
    }
    let Some(grants) = grants() else {
        return Answer::Broker;
    };
    // Where the path lies, for choosing to try: Landlock decides on what it really names.
    // The buffer is only filled (and zeroed) for a relative path.
    let mut abs: [u8; MAX_PATH + 1];
    let lexical = if relative {
        abs = [0u8; MAX_PATH + 1];
        let Ok(len) = join_cwd(b, &mut abs) else {
            return Answer::Broker;
        };
        &abs[..len]
    } else {
        b
    };
    let lexical = trim_directory_suffix(lexical);
    if !is_canonical(lexical) || granted_root(grants, FAST_OPEN, lexical).is_none() {
        return Answer::Broker;
    }
    // A reported open carries only flags (and a path form) the broker accepts in a report.
    let record = match report::claim(len) {
        Record::Off => Record::Off,
        Record::Slot(_)
            if flags & !REPORT_OPEN_FLAGS != 0
                || !canonical_components(trim_directory_suffix(b)) =>
        {
            return Answer::Broker;
        }
        Record::Slot(slot) => Record::Slot(slot),
        Record::Broker => return Answer::Broker,
    };
    // SAFETY: path is a C string; flags and mode are plain integers.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat,
            libc::AT_FDCWD,
            path,
            flags | NATIVE_OPEN_MARK,
            0,
        )
    };
    let answer = if fd >= 0 {
        Answer::Done(Ok(fd as c_int))
    } else {
        match crate::sys::errno() {
            e @ (libc::ENOENT | libc::ENOTDIR) => match vouch(&caller, grants, FAST_OPEN) {
                Ok(()) => Answer::Done(Err(e)),
                Err(Walk::Errno(e)) => kernel_error(e),
                Err(Walk::Broker) => Answer::Broker,
            },
            _ => Answer::Broker,
        }
    };
    let report = Reporting {
        call: ReportedCall::Open,
        flags,
    };
    report.record(record, b, &answer, |&fd| fd);
    answer
}

/// Whether an `open` of `/dev/tty` (absolute, exactly) with `flags` is to fail with
/// `ENXIO` because the program has no controlling terminal (a shell asks at start: bash
/// opens it in every `bash -c`): learned from a marked read-only, non-blocking open of it,
/// which Landlock lets through where the kernel floor has the terminal, and which the
/// kernel answers for this process's own session. Only where the broker offers it
/// ([`FAST_TTY`]: the policy grants reading and writing the terminal) and no call is
/// reported; when there is a terminal the probe's fd is closed and the broker opens it as
/// asked; any other failure goes to the broker too. The broker's open of `/dev/tty` in the
/// same session answers the same `ENXIO`.
///
/// # Safety
/// `path` must be a C string.
pub unsafe fn no_terminal(path: *const c_char, flags: c_int) -> bool {
    const TTY: &[u8] = b"/dev/tty\0";
    let plain = libc::O_ACCMODE | libc::O_CLOEXEC | libc::O_NONBLOCK | libc::O_NOCTTY;
    // SAFETY: path is a C string; at most TTY.len() bytes are read, stopping at its NUL.
    let same = unsafe { c_str_len(path, TTY.len()) } == Some(TTY.len() - 1)
        // SAFETY: c_str_len found that many bytes and then the NUL.
        && unsafe { bytes(path, TTY.len()) } == TTY;
    if !same || flags & !(plain | libc::O_LARGEFILE) != 0 || report::on() {
        return false;
    }
    let Some(grants) = grants() else {
        return false;
    };
    if granted_root(grants, FAST_TTY, b"/dev/tty") != Some(8) {
        return false;
    }
    let probe = libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC;
    // SAFETY: TTY is NUL-terminated; flags are plain integers.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat,
            libc::AT_FDCWD,
            TTY.as_ptr(),
            probe | NATIVE_OPEN_MARK,
            0,
        )
    };
    if fd >= 0 {
        raw_close(fd as c_int);
        return false;
    }
    crate::sys::errno() == libc::ENXIO
}

/// `unlinkat(dirfd, path, flags)` made in-process, carrying [`NATIVE_REMOVE_MARK`], so the
/// seccomp notify filter lets it run and Landlock decides it: Landlock grants removing only
/// beneath the directories the policy grants `remove` in full ([`FAST_REMOVE`] entries;
/// `confine::floor::native_removes` in the broker), so a removal it allows is one the
/// policy allows, on the object the kernel acts on. `true` when it removed the name; on any
/// failure nothing changed and the call goes to the broker, which decides, answers with its
/// errno and records a denial (a native attempt fails where the broker may still allow: a
/// removal of a granted directory itself, a file the program's own credentials may not
/// remove). Tried only where it may succeed — a path lying lexically in a [`FAST_REMOVE`]
/// root, or a name relative to a directory fd vouched for beneath one
/// ([`crate::fast_dirs`]) — but nothing rests on that choice: Landlock decides.
///
/// # Safety
/// `path` must be null or a C string.
pub unsafe fn remove(dirfd: c_int, path: *const c_char, flags: c_int) -> bool {
    if path.is_null() || flags & !libc::AT_REMOVEDIR != 0 {
        return false;
    }
    // SAFETY: path is a non-null C string per the contract.
    let Some(len) = (unsafe { c_str_len(path, MAX_PATH - 1) }) else {
        return false;
    };
    if len == 0 {
        return false;
    }
    // SAFETY: c_str_len found `len` bytes before the NUL.
    let b = unsafe { bytes(path, len) };
    let likely = if b[0] != b'/' && dirfd != libc::AT_FDCWD {
        crate::fast_dirs::roots_of(dirfd) & crate::fast_dirs::IN_REMOVE_ROOT != 0
    } else {
        let Some(grants) = grants() else {
            return false;
        };
        if !grants
            .split(|&c| c == 0)
            .any(|e| e.first() == Some(&FAST_REMOVE))
        {
            return false;
        }
        let mut abs = [0u8; MAX_PATH + 1];
        let lexical = if b[0] == b'/' {
            b
        } else {
            match join_cwd(b, &mut abs) {
                Ok(n) => &abs[..n],
                Err(_) => return false,
            }
        };
        granted_root(grants, FAST_REMOVE, lexical).is_some()
    };
    if !likely {
        return false;
    }
    let marked = flags as u32 as u64 | NATIVE_REMOVE_MARK;
    // SAFETY: path is a C string; the flags register carries the mark above the 32 bits the
    // kernel reads; dirfd is only a number to the kernel.
    let rc = unsafe { libc::syscall(libc::SYS_unlinkat, dirfd as libc::c_long, path, marked) };
    rc == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_cover_their_subtrees_only() {
        let g = b"s/usr\0s/w/x\0o/etc/hosts\0";
        assert_eq!(granted_root(g, FAST_STAT, b"/usr"), Some(4));
        assert_eq!(granted_root(g, FAST_STAT, b"/usr/lib/a"), Some(4));
        assert_eq!(granted_root(g, FAST_STAT, b"/usrx/a"), None);
        assert_eq!(granted_root(g, FAST_STAT, b"/w/x/y"), Some(4));
        assert_eq!(granted_root(g, FAST_STAT, b"/w/y"), None);
        assert_eq!(granted_root(g, FAST_OPEN, b"/usr/lib/a"), None);
        assert_eq!(granted_root(g, FAST_OPEN, b"/etc/hosts"), Some(10));
        assert_eq!(granted_root(g, FAST_STAT, b"/etc/hosts"), None);
        assert_eq!(
            granted_root(b"s/\0", FAST_STAT, b"/anything/at/all"),
            Some(0)
        );
        assert_eq!(granted_root(b"", FAST_STAT, b"/usr"), None);
    }

    #[test]
    fn only_canonical_paths_qualify() {
        assert!(is_canonical(b"/usr/lib"));
        assert!(is_canonical(b"/a/.hidden/..x"));
        assert!(!is_canonical(b"/"));
        assert!(!is_canonical(b"/usr/"));
        assert!(!is_canonical(b"/usr//lib"));
        assert!(!is_canonical(b"/usr/./lib"));
        assert!(!is_canonical(b"/usr/../etc"));
        assert!(!is_canonical(b"usr"));
    }

    #[test]
    fn parents_are_walked_and_symlinks_sent_to_the_broker() {
        let dir = std::env::temp_dir().join(format!("fast-path-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("a/b")).unwrap();
        std::os::unix::fs::symlink(dir.join("a"), dir.join("link")).unwrap();
        std::fs::write(dir.join("a/file"), b"x").unwrap();
        let root = dir.to_str().unwrap().as_bytes().to_vec();
        let mut grants = vec![FAST_STAT];
        grants.extend_from_slice(&root);
        grants.push(0);
        let check = |rel: &str| {
            let mut p = root.clone();
            p.extend_from_slice(rel.as_bytes());
            p.push(0);
            vouch(&CallerPath { with_nul: &p }, &grants, FAST_STAT)
        };
        assert!(check("/a/b/c").is_ok());
        // Twice: the second time the memo vouches.
        assert!(check("/a/b/c").is_ok());
        assert!(matches!(check("/link/b/c"), Err(Walk::Broker)));
        assert!(matches!(
            check("/missing/c"),
            Err(Walk::Errno(libc::ENOENT))
        ));
        assert!(matches!(
            check("/a/file/c"),
            Err(Walk::Errno(libc::ENOTDIR))
        ));
        assert!(matches!(check("/a/./c"), Err(Walk::Broker)));
        // Outside the granted root.
        let mut outside = b"/usr/lib/x".to_vec();
        outside.push(0);
        assert!(matches!(
            vouch(&CallerPath { with_nul: &outside }, &grants, FAST_STAT),
            Err(Walk::Broker)
        ));
        // The memo notices a parent replaced by a symlink.
        assert!(check("/a/b/c").is_ok());
        std::fs::rename(dir.join("a/b"), dir.join("a/b2")).unwrap();
        std::os::unix::fs::symlink(dir.join("a/b2"), dir.join("a/b")).unwrap();
        assert!(matches!(check("/a/b/c"), Err(Walk::Broker)));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn parent_keys_are_the_callers_names() {
        let p = |s: &'static [u8]| CallerPath { with_nul: s };
        assert_eq!(p(b"/usr/lib/x\0").parent_key(), b"/usr/lib");
        assert_eq!(p(b"/usr\0").parent_key(), b"/");
        assert_eq!(p(b"d3/f3\0").parent_key(), b"d3");
        assert_eq!(p(b"f3\0").parent_key(), b".");
    }
}
