//! The filesystem floor: what a confined program may reach directly, without the broker.
//!
//! Read and execute only — nothing in the floor is writable. It holds what ld.so and
//! glibc's internal opens need (the loader, libraries, locale, NSS files, zoneinfo), the
//! shim (ld.so silently skips a preload it cannot read), and the program's installation
//! prefixes (exec outside the floor fails with `EACCES`). A handful of character devices
//! that glibc opens internally are read+write, without any right to create or remove.
//!
//! Subtrees the policy grants `exec` (and read) in whole join it read+exec, so a program
//! runs what it built in the working directory ([`policy_exec`]). Anything else — writes
//! and creations anywhere, the home directory — is reached only through file descriptors
//! the broker opens after consulting the policy.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::real_paths::RealPaths;

/// How a floor entry may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FloorAccess {
    /// Read files, list directories, execute (and map) binaries.
    ReadExec,
    /// Read and write an existing file (a device); never create, remove or execute.
    ReadWriteFile,
    /// POSIX shared memory (`/dev/shm`): create, read, write and remove regular files,
    /// never execute. glibc's `sem_open`/`shm_open` open there internally, out of the
    /// shim's reach; until such internal opens are brokered through seccomp, the kernel
    /// grants this one tmpfs directly.
    SharedMemory,
    /// Read files and list directories, nothing else: a subtree the policy grants reading
    /// in full, added only with native reads (see [`native_reads`]), or a floor directory
    /// the policy does not let the program execute from ([`align_exec`]).
    Read,
    /// Read and execute one regular file: an executable inside a floor directory that the
    /// policy grants `exec` on only in part ([`align_exec`]). Not an exact file the seccomp
    /// transport serves by itself: opens of it are decided by the policy.
    ExecFile,
    /// Remove files and directories beneath a directory the policy grants `remove` in
    /// full, added only with native removals (see [`native_removes`]); nothing else (the
    /// same directory's `Read` entry, if any, adds reading: Landlock merges the rights of
    /// rules on one directory).
    Remove,
    /// [`FloorAccess::SharedMemory`] without the right to remove, when native removals are
    /// on: then a marked `unlinkat` is decided by Landlock, which must grant removing only
    /// where the policy does in full ([`native_removes`]).
    SharedMemoryKeep,
}

/// Read+exec trees and files. Entries that do not exist are skipped by the caller.
const READ_EXEC: &[&str] = &[
    "/lib",
    "/lib32",
    "/lib64",
    "/usr/lib",
    "/usr/lib32",
    "/usr/lib64",
    "/usr/libexec",
    "/usr/bin",
    "/usr/sbin",
    "/bin",
    "/sbin",
    "/usr/share",
    // The caller's own /proc entries (/proc/self/fd, /proc/self/maps, /proc/self/exe) are
    // resolved by the kernel in the caller; Landlock cannot name "self", so /proc is read
    // here. Other processes' ptrace-protected entries (environ, maps, mem, fd) stay denied:
    // Landlock refuses ptrace access to processes outside the sandbox's domain.
    "/proc",
    "/usr/local",
    "/etc/ld.so.cache",
    "/etc/ld.so.preload",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/nsswitch.conf",
    "/etc/passwd",
    "/etc/group",
    "/etc/localtime",
    "/etc/hosts",
    "/etc/host.conf",
    "/etc/gai.conf",
    "/etc/resolv.conf",
];

/// Devices glibc (and many programs) open internally.
const DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/urandom",
    "/dev/random",
    "/dev/tty",
];

/// The floor for a program with installation prefixes `program_prefixes` and the shim at
/// `shim_path`, in a stable order. Paths are not checked for existence here.
pub fn paths(program_prefixes: &[PathBuf], shim_path: &Path) -> Vec<(PathBuf, FloorAccess)> {
    let mut out: Vec<(PathBuf, FloorAccess)> = READ_EXEC
        .iter()
        .map(|p| (PathBuf::from(p), FloorAccess::ReadExec))
        .collect();
    out.push((shim_path.to_path_buf(), FloorAccess::ReadExec));
    out.extend(
        program_prefixes
            .iter()
            .map(|p| (p.clone(), FloorAccess::ReadExec)),
    );
    out.extend(
        DEVICES
            .iter()
            .map(|p| (PathBuf::from(p), FloorAccess::ReadWriteFile)),
    );
    out.push((PathBuf::from("/dev/shm"), FloorAccess::SharedMemory));
    out
}

/// Resolves the floor's fixed entries (the system paths, the devices, `/dev/shm`) and the
/// shim into `reals` ahead of the floor's preparation, which asks it about each: what
/// `arbiter run` does on its main thread while the policy compiles on the other. Only what
/// resolves is remembered, with the identity found ([`RealPaths`]); the survey confirms
/// each entry's object against it when it opens the entry, as for anything else the memo
/// learnt earlier in the start.
///
/// The fixed entries (root's system paths, [`follows_symlinks`]; not the shim, which may
/// lie where its user can rename) are also opened here as the survey opens them (at their
/// real paths, no symlink followed) and kept in the memo when the object is the one the
/// memo found there ([`RealPaths::keep_opened`]): the survey takes that fd instead of
/// opening the path again, and confirms it like any other. What cannot be opened here, or
/// is not the object the memo remembers, is left to the survey, which opens it and refuses
/// or leaves it out as it would have.
pub fn warm(reals: &RealPaths, shim: &Path) {
    for (path, _) in paths(&[], shim) {
        if let Some(real) = reals.of(&path) {
            reals.is_dir(&real);
        }
        if !follows_symlinks(&path) {
            continue;
        }
        // `/lib` and `/usr/lib` on a merged-/usr system: one real path, opened once.
        let Some(at) = survey_path(&path, reals).filter(|at| !reals.has_opened(at)) else {
            continue;
        };
        let Ok(fd) = open_real(&at) else {
            continue;
        };
        let Some(st) = fstat(&fd) else {
            continue;
        };
        if reals.identity(&at) == Some((st.st_dev, st.st_ino)) {
            let opened = super::real_paths::Opened {
                dev: st.st_dev,
                ino: st.st_ino,
                mode: st.st_mode,
            };
            reals.keep_opened(at, fd, opened);
        }
    }
}

/// Where the survey opens the floor entry `path`: its real path in `reals` for one of the
/// floor's system paths ([`follows_symlinks`]), else `path` itself; `None` when a system
/// path does not resolve.
fn survey_path(path: &Path, reals: &RealPaths) -> Option<PathBuf> {
    if follows_symlinks(path) {
        reals.of(path)
    } else {
        Some(path.to_path_buf())
    }
}

/// Whether `path` (a real path) lies in, or holds, one of the system directories of the
/// floor (`/usr/bin`, `/usr/lib`, …, at their real locations): `/usr` does, as the prefix
/// of `/usr/bin/id`. Real paths are looked up in `reals`.
pub fn is_system(path: &Path, reals: &RealPaths) -> bool {
    READ_EXEC.iter().any(|sys| {
        let sys = Path::new(sys);
        let real = reals.of(sys).unwrap_or_else(|| sys.to_path_buf());
        sys != Path::new("/proc")
            && reals.is_dir(&real)
            && (path.starts_with(&real) || real.starts_with(path))
    })
}

/// Most floor entries [`align_exec`] adds to name executables one by one: beyond this, the
/// rest of a directory loses its execute right (fail closed) and `arbiter run` says so.
pub const EXEC_ENTRIES_MAX: usize = 20_000;

/// Aligns the floor's execute right with the policy's `exec` (Landlock rules only add, so a
/// denial inside a granted tree must come from not granting the tree whole):
///
/// * an entry whose whole subtree the policy decides alone (`decided_alone_beneath`) keeps
///   `ReadExec` if the policy grants `exec` there, else becomes `Read`;
/// * an entry the policy decides differently somewhere beneath (say `--deny /usr/bin/id`
///   inside `/usr` `rx`) becomes `Read`, and its children are aligned one by one: uniform
///   subdirectories as above, regular files as `ExecFile` where the policy grants `exec`;
/// * `/proc` is never executable (a process re-executing `/proc/self/exe` executes the file
///   the link names, which Landlock checks at its own path).
///
/// The entries in `exempt` (the shim, the program's installation prefixes) keep their
/// rights. Decisions are made on real paths (looked up in `reals`). Returns the aligned floor and, when
/// [`EXEC_ENTRIES_MAX`] was reached, a note naming the directory left without exec.
pub fn align_exec(
    floor: Vec<(PathBuf, FloorAccess)>,
    policy: &arbiter_policies::Policy,
    exempt: &[&Path],
    reals: &RealPaths,
) -> (Vec<(PathBuf, FloorAccess)>, Option<String>) {
    let mut out = Vec::with_capacity(floor.len());
    let mut budget = EXEC_ENTRIES_MAX;
    let mut note = None;
    for (path, access) in floor {
        // Exempt: the shim (arbiter's own library, not the policy's to grant) and the
        // program's installation prefixes (what the user asked to run).
        if access != FloorAccess::ReadExec || exempt.contains(&path.as_path()) {
            out.push((path, access));
            continue;
        }
        if path == Path::new("/proc") {
            out.push((path, FloorAccess::Read));
            continue;
        }
        let Some(real) = reals.of(&path) else {
            out.push((path, access)); // missing: skipped when the rules are added
            continue;
        };
        align_one(&real, policy, reals, &mut out, &mut budget, &mut note);
    }
    (out, note)
}

/// Floor entries letting the program execute the files `executables` (real paths: the
/// command and its interpreters) that lie beneath one of `prefixes` (installation prefixes
/// outside the system's floor directories) and that `floor` does not already let it
/// execute: one `ExecFile` each where `policy` lets the program execute or read the file
/// (never one it may do neither with, such as a file a `--deny` names). Where
/// the policy grants the prefix whole the prefix's own entry covers them; where it does not
/// (a narrower rule beneath it), only the command itself gains the right, not its
/// neighbours.
pub fn command_files(
    floor: &[(PathBuf, FloorAccess)],
    executables: &[PathBuf],
    prefixes: &[&Path],
    policy: &arbiter_policies::Policy,
) -> Vec<(PathBuf, FloorAccess)> {
    use arbiter_policies::Access;
    executables
        .iter()
        .filter(|f| prefixes.iter().any(|p| f.starts_with(p)))
        .filter(|f| {
            !floor.iter().any(|(p, a)| {
                f.starts_with(p) && matches!(a, FloorAccess::ReadExec | FloorAccess::ExecFile)
            })
        })
        .filter(|f| {
            // Executing maps the file into the program's memory, where it can be read: only
            // a file the policy lets the program execute or read (a denied one stays shut).
            let may = |a: Access| policy.decide_path(f, a).decision.allow;
            may(Access::EXEC) || may(Access::READ)
        })
        .map(|f| (f.clone(), FloorAccess::ExecFile))
        .collect()
}

/// The trees the policy lets the program execute from, beyond the system floor: every
/// subtree one literal rule decides alone (`Policy::kernel_floor`) granting `exec` together
/// with `read` (and `list` on a directory) — the rights Landlock's `ReadExec` gives, so the
/// kernel grants nothing there the policy does not. With the default profile these are
/// `$PWD` and `$TMPDIR` when nothing narrower sits beneath them, so a program runs what it
/// built there (docs/default-policy.md), and `/usr`, which the runtime profile grants `rx`
/// throughout. Only real paths (a rule on a symlinked path never
/// matches, the broker decides real paths); `/proc` never (see [`align_exec`]). Entries
/// already in `floor` are left out. Real paths are looked up in `reals`.
pub fn policy_exec(
    floor: &[(PathBuf, FloorAccess)],
    policy: &arbiter_policies::Policy,
    reals: &RealPaths,
) -> Vec<(PathBuf, FloorAccess)> {
    use arbiter_policies::Access;
    // Looked up once per tree (`Path`'s hash agrees with its equality) rather than compared
    // with each floor entry.
    let have: std::collections::HashSet<&Path> = floor.iter().map(|(p, _)| p.as_path()).collect();
    policy
        .kernel_floor()
        .into_iter()
        .filter(|e| {
            // `read` and `exec`, and `list` on a directory: the cheap tests first, the
            // file system only where the answer depends on it.
            e.access.contains(Access::READ | Access::EXEC)
                && !e.path.starts_with("/proc")
                && !have.contains(e.path.as_path())
                && reals.is_real(&e.path)
                && (e.access.contains(Access::LIST) || !reals.is_dir(&e.path))
        })
        .map(|e| (e.path, FloorAccess::ReadExec))
        .collect()
}

/// Aligns one real path (see [`align_exec`]).
fn align_one(
    real: &Path,
    policy: &arbiter_policies::Policy,
    reals: &RealPaths,
    out: &mut Vec<(PathBuf, FloorAccess)>,
    budget: &mut usize,
    note: &mut Option<String>,
) {
    use arbiter_policies::Access;
    let exec = |p: &Path| policy.decide_path(p, Access::EXEC).decision.allow;
    // Looked at when `real` was resolved (the memo); a path beneath resolved now.
    if reals.of(real).is_none() {
        return;
    }
    if !reals.is_dir(real) || policy.decided_alone_beneath(real) {
        let access = if exec(real) {
            FloorAccess::ReadExec
        } else {
            FloorAccess::Read
        };
        out.push((real.to_path_buf(), access));
        return;
    }
    out.push((real.to_path_buf(), FloorAccess::Read));
    let Ok(entries) = std::fs::read_dir(real) else {
        return;
    };
    let mut children: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    children.sort();
    for child in children {
        // Symlinks are reached at their targets' own entries (or not at all).
        let Ok(meta) = std::fs::symlink_metadata(&child) else {
            continue;
        };
        if *budget == 0 {
            note.get_or_insert_with(|| {
                format!(
                    "exec: more than {EXEC_ENTRIES_MAX} floor entries to grant one by one; \
                     executables under {} are not executable natively",
                    real.display()
                )
            });
            return;
        }
        if meta.is_dir() {
            align_one(&child, policy, reals, out, budget, note);
        } else if meta.is_file() && exec(&child) {
            *budget -= 1;
            out.push((child, FloorAccess::ExecFile));
        }
    }
}

/// The paths the broker decides specially rather than by the policy's plain rules: `/proc`
/// (`core::procself`: the broker's own and other processes' entries refused, the caller's
/// own decided as `/proc/self/…`, sandbox pids translated; `/dev/fd/N` and `/dev/std*` are
/// symlinks into it and rewritten to it by the seccomp transport). Landlock rules only add,
/// so no native-read root may hold one (be it or an ancestor of it): the kernel would grant
/// what the broker refuses ([`native_reads`]).
pub const BROKER_DECIDED: &[&str] = &["/proc"];

/// Whether `root` is, lies beneath, or holds (as an ancestor) one of [`BROKER_DECIDED`].
pub fn holds_broker_decided(root: &Path) -> bool {
    // As `Path::starts_with` both ways, on `root`'s normal form once (the constants are
    // written in it) and bytes: asked for every floor entry and policy root.
    let normal: PathBuf = root.components().collect();
    let root = normal.as_os_str().as_bytes();
    BROKER_DECIDED.iter().any(|special| {
        let special = special.as_bytes();
        beneath(special, root) || beneath(root, special)
    })
}

/// Whether the normal-form path `path` is `dir` or lies beneath it, component-wise.
fn beneath(path: &[u8], dir: &[u8]) -> bool {
    path.starts_with(dir)
        && (path.len() == dir.len() || dir.ends_with(b"/") || path[dir.len()] == b'/')
}

/// Whether read-only opens may run natively under Landlock (the seccomp notify filter
/// letting through an `openat` marked with [`arbiter_protocol::NATIVE_OPEN_MARK`]), and
/// beneath which paths: only if the kernel floor grants no read the `policy` does not.
///
/// With the notify filter on, the broker serves every other open, including the program's
/// own `/proc` entries, so `/proc` leaves the floor here (Landlock cannot name "self", so
/// the floor would hold all of `/proc`). Every other readable floor path, at its real
/// location (Landlock resolves symlinks when it adds a rule), must be granted by the policy
/// in full: a directory `read` and `list` by a rule that decides its whole subtree
/// (`uniform`), a file `read`, by a rule whose audit setting is not `all` (such a rule's
/// every use is recorded, so reaches the broker), and none may hold a path the broker
/// decides specially ([`holds_broker_decided`]: `/`, say, holds `/proc`). The shim itself
/// is the exception: the program may read arbiter's own library. The policy's own uniform
/// read grants (`Policy::kernel_floor`: `$PWD`, `$TMPDIR`, … where no narrower rule sits
/// beneath them, none with `audit = "all"`) join the floor, read-only, except one holding a
/// path the broker decides specially (its reads go to the broker). Returns the real paths where the shim may open for reading natively and updates `floor`,
/// or returns `None` (leaving `floor` as it is) when the policy is narrower somewhere.
/// Real paths are looked up in `reals`.
pub fn native_reads(
    floor: &mut Vec<(PathBuf, FloorAccess)>,
    shim: &Path,
    policy: &arbiter_policies::Policy,
    reals: &RealPaths,
) -> Option<Vec<PathBuf>> {
    use arbiter_policies::{Access, AuditSetting};
    let mut roots = Vec::new();
    for (path, _) in floor.iter() {
        if path == Path::new("/proc") || path == shim {
            continue;
        }
        // Missing entries are skipped when the Landlock rules are added, too.
        let Some(real) = reals.of(path) else {
            continue;
        };
        let granted = if reals.is_dir(&real) {
            let d = policy.decide_path(&real, Access::READ | Access::LIST);
            d.decision.allow && d.uniform && d.decision.audit != AuditSetting::All
        } else {
            let d = policy.decide_path(&real, Access::READ).decision;
            d.allow && d.audit != AuditSetting::All
        };
        if !granted || holds_broker_decided(&real) {
            return None;
        }
        roots.push(real);
    }
    floor.retain(|(p, _)| p != Path::new("/proc"));
    for entry in policy.kernel_floor() {
        // A rule on a symlinked path never matches (the broker decides real paths), and
        // /proc is the broker's to serve: no root at, beneath or above it (`/`).
        if holds_broker_decided(&entry.path) || !reals.is_real(&entry.path) {
            continue;
        }
        // `read`, and `list` on a directory.
        if entry.access.contains(Access::READ)
            && (entry.access.contains(Access::LIST) || !reals.is_dir(&entry.path))
        {
            floor.push((entry.path.clone(), FloorAccess::Read));
            roots.push(entry.path);
        }
    }
    roots.sort();
    roots.dedup();
    Some(roots)
}

/// Whether removals (`unlinkat`, `rmdir` through it) may run natively under Landlock (the
/// seccomp notify filter letting through an `unlinkat` marked with
/// [`arbiter_protocol::NATIVE_REMOVE_MARK`]), and beneath which directories: the policy's
/// uniform `remove` grants (`Policy::uniform_grants`: a literal rule granting `remove`
/// that decides its whole subtree alone; with the default profile `$PWD` and `$TMPDIR`),
/// each a real, existing directory outside `/proc`. Landlock then grants removing beneath
/// them and nowhere else: the floor's only other removal right, `/dev/shm`'s, is dropped
/// (with the notify filter every other removal reaches the broker, which decides
/// `/dev/shm` by the policy as before). Returns the directories and updates `floor`;
/// empty (leaving `floor` as it is) when the policy grants `remove` throughout nowhere.
/// Real paths are looked up in `reals`.
pub fn native_removes(
    floor: &mut Vec<(PathBuf, FloorAccess)>,
    policy: &arbiter_policies::Policy,
    reals: &RealPaths,
) -> Vec<PathBuf> {
    let roots: Vec<PathBuf> = policy
        .uniform_grants(arbiter_policies::Access::REMOVE)
        .into_iter()
        .filter(|p| {
            // A rule on a symlinked path never matches (the broker decides real paths).
            !p.starts_with("/proc") && reals.is_dir(p) && reals.is_real(p)
        })
        .collect();
    if roots.is_empty() {
        return roots;
    }
    for (_, access) in floor.iter_mut() {
        if *access == FloorAccess::SharedMemory {
            *access = FloorAccess::SharedMemoryKeep;
        }
    }
    floor.extend(roots.iter().map(|r| (r.clone(), FloorAccess::Remove)));
    roots
}

/// A floor entry with what is there: `None` when the path does not exist (or cannot be
/// reached); else whether it is a directory, and whether it is a regular file.
#[derive(Debug, Clone)]
pub struct Surveyed {
    /// The path.
    pub path: PathBuf,
    /// The real path the survey opened it at, without following any symlink: `path` itself,
    /// or for one of the floor's system paths (which may be symlinks: [`follows_symlinks`])
    /// its real path.
    pub real: PathBuf,
    /// How it may be used.
    pub access: FloorAccess,
    /// `(is a directory, is a regular file)`, or `None` when it does not exist.
    pub kind: Option<(bool, bool)>,
    /// `(device, inode)` of what the survey opened (`None` when it does not exist): the
    /// object the floor grants, for whoever opens the entry again by its name later.
    pub id: Option<(u64, u64)>,
}

/// Why the survey refused a floor: an entry changed between the decision about it and its
/// opening, which only a process racing the start-up does.
#[derive(Debug, thiserror::Error)]
pub enum SurveyError {
    /// A component of an entry's real path is a symlink now.
    #[error(
        "{}: a symlink was found on this real path of a floor entry while the sandbox \
         started (it was resolved without one); refusing to grant it",
        .0.display()
    )]
    Symlink(PathBuf),
    /// The object at an entry's real path is not the one the floor was decided on.
    #[error(
        "{}: the object at this real path of a floor entry changed while the sandbox \
         started (device/inode {:?} when decided, {:?} when opened); refusing to grant it",
        .path.display(), .decided, .opened
    )]
    Replaced {
        /// The real path.
        path: PathBuf,
        /// `(device, inode)` when the floor was decided.
        decided: (u64, u64),
        /// `(device, inode)` of what the survey opened.
        opened: (u64, u64),
    },
    /// A file entry is no longer at the real path it was opened at.
    #[error(
        "{}: this floor entry was moved away while the sandbox started; refusing to start",
        .0.display()
    )]
    Moved(PathBuf),
}

/// A surveyed entry's `O_PATH` fd (`None` where the path does not exist), shared by the
/// entries with the same real path ([`survey`]).
pub type SurveyFd = Option<Rc<OwnedFd>>;

/// Whether the floor entry `path` may be reached through symlinks: only the fixed system
/// paths of the floor (`/lib` is a symlink on merged-/usr systems, `/etc/resolv.conf`
/// often is), whose symlinks only root can change. The survey opens them at their real
/// paths; every other entry is a real path by construction and is opened as it is.
pub fn follows_symlinks(path: &Path) -> bool {
    // `Path`s are equal when their components are: `path`'s are taken once, as its normal
    // form, and compared as bytes with the constants, which are written in normal form (a
    // `Path` comparison of two different paths parses both again from the end; the survey
    // asked this for every entry against every constant).
    let normal: PathBuf = path.components().collect();
    let normal = normal.as_os_str().as_bytes();
    fixed_entries().any(|p| p.as_bytes() == normal)
}

/// The floor's fixed entries, as written: [`READ_EXEC`], [`DEVICES`] and `/dev/shm`.
fn fixed_entries() -> impl Iterator<Item = &'static str> {
    READ_EXEC
        .iter()
        .chain(DEVICES)
        .chain(&["/dev/shm"])
        .copied()
}

/// Opens each entry of `floor` once (`O_PATH`) and looks at what it is, for the Landlock
/// ruleset and the seccomp transport's exact-file table alike. Returns the entries and, in
/// the same order, the open fds (`None` where the path does not exist). Entries with the
/// same real path (`/lib` and `/usr/lib` on a merged-/usr system, a device both the floor
/// and the policy's read grants name, `$TMPDIR` read and removed) share one open and one fd:
/// each real path is opened, confirmed and `fstat`ed once per start.
///
/// Every entry is opened at its real path without following any symlink (`openat2`
/// `RESOLVE_NO_SYMLINKS`): the entry's own path (the policy's roots, the installation
/// prefixes, executables, the shim: real paths the floor was decided on), or, for the
/// floor's system paths ([`follows_symlinks`]), the real path `reals` resolved for them.
/// Where `reals` remembers what was at that real path when it was resolved, the opened
/// object must be that one. A symlink found on the way, or another object, means a process
/// raced the start-up: an error naming the path ([`SurveyError`]), so nothing is granted
/// on an object the policy was not asked about. A path that is missing now is left out.
pub fn survey(
    floor: Vec<(PathBuf, FloorAccess)>,
    reals: &RealPaths,
) -> Result<(Vec<Surveyed>, Vec<SurveyFd>), SurveyError> {
    let mut entries: Vec<Surveyed> = Vec::with_capacity(floor.len());
    let mut fds: Vec<SurveyFd> = Vec::with_capacity(floor.len());
    // Real path → the index of the entry that opened it.
    let mut opened: std::collections::HashMap<PathBuf, usize> = std::collections::HashMap::new();
    for (path, access) in floor {
        let real = survey_path(&path, reals);
        if let Some(&first) = real.as_ref().and_then(|r| opened.get(r)) {
            // Opened and confirmed for an entry before: the same object, the same fd.
            let seen = &entries[first];
            entries.push(Surveyed {
                path,
                real: seen.real.clone(),
                access,
                kind: seen.kind,
                id: seen.id,
            });
            fds.push(fds[first].clone());
            continue;
        }
        if let Some(real) = &real {
            opened.insert(real.clone(), entries.len());
        }
        // Opened earlier in this start the same way (`warm`), or now.
        let early = real.as_deref().and_then(|r| reals.take_opened(r));
        let (fd, stat) = match early {
            Some((fd, st)) => (Some(fd), Some((st.dev, st.ino, st.mode))),
            None => {
                let fd = match real.as_deref().map(open_real) {
                    Some(Ok(fd)) => Some(fd),
                    Some(Err(e)) if e.raw_os_error() == Some(libc::ELOOP) => {
                        return Err(SurveyError::Symlink(real.unwrap_or(path)));
                    }
                    _ => None,
                };
                let stat = fd
                    .as_ref()
                    .and_then(fstat)
                    .map(|st| (st.st_dev, st.st_ino, st.st_mode));
                (fd, stat)
            }
        };
        let id = stat.map(|(dev, ino, _)| (dev, ino));
        if let (Some(real), Some(opened)) = (&real, id) {
            if let Some(decided) = reals.identity(real).filter(|d| *d != opened) {
                return Err(SurveyError::Replaced {
                    path: real.clone(),
                    decided,
                    opened,
                });
            }
        }
        let kind = stat.map(|(_, _, mode)| {
            let format = mode & libc::S_IFMT;
            (format == libc::S_IFDIR, format == libc::S_IFREG)
        });
        entries.push(Surveyed {
            real: real.unwrap_or_else(|| path.clone()),
            path,
            access,
            kind,
            id,
        });
        fds.push(if kind.is_some() {
            fd.map(Rc::new)
        } else {
            None
        });
    }
    Ok((entries, fds))
}

/// The identity of an inode as the broker's `statx` reports it: device major, minor and
/// inode number.
pub type Identity = (u32, u32, u64);

/// The objects the Landlock ruleset names (each surveyed entry that exists) and every
/// directory above each of them, by identity. Landlock attaches a rule's rights to the
/// inode, not to its path: moving one of these (a rule root, or a directory holding one)
/// would carry the rights to a path where the policy may grant fewer, so the broker refuses
/// to (`RequestCore::with_pinned`).
///
/// The directories above are found from the objects themselves, never by path: from a
/// directory's fd the kernel's `..` chain up to `/`; a file's directory is the one at its
/// surveyed real path (opened without symlinks) that holds that very file under its name,
/// and the chain above it. A file no longer there (moved since the survey) is an error
/// naming it.
pub fn pinned(
    floor: &[Surveyed],
    fds: &[SurveyFd],
) -> Result<std::collections::HashSet<Identity>, SurveyError> {
    let mut set = std::collections::HashSet::new();
    // Directories whose chain has been walked: the chain above one is in `set` already.
    let mut walked = std::collections::HashSet::new();
    // Directories of file entries, opened once each, with their identities.
    let mut parents: std::collections::HashMap<PathBuf, Option<(OwnedFd, Identity)>> =
        std::collections::HashMap::new();
    // Entries sharing one fd (one real path: `survey`) are one object, looked at once.
    let mut done: std::collections::HashSet<*const OwnedFd> = std::collections::HashSet::new();
    for (entry, fd) in floor.iter().zip(fds) {
        let (Some((is_dir, _)), Some((dev, ino)), Some(fd)) = (entry.kind, entry.id, fd) else {
            continue;
        };
        if !done.insert(Rc::as_ptr(fd)) {
            continue;
        }
        let me = identity(dev, ino);
        set.insert(me);
        if is_dir {
            walk_up(fd, me, &mut set, &mut walked);
            continue;
        }
        let (Some(dir), Some(name)) = (entry.real.parent(), entry.real.file_name()) else {
            continue;
        };
        if !parents.contains_key(dir) {
            let opened = open_real(dir).ok().and_then(|fd| {
                let st = fstat(&fd)?;
                Some((fd, identity(st.st_dev, st.st_ino)))
            });
            parents.insert(dir.to_path_buf(), opened);
        }
        let parent = &parents[dir];
        // The file must still be under its name in that directory: then it is the directory
        // above it (one of them, for a file with several links: the one it was granted by).
        let there = parent
            .as_ref()
            .and_then(|(dir, _)| fstatat_nofollow(dir, name))
            .map(|st| (st.st_dev, st.st_ino));
        let Some((dir, dir_id)) = parent.as_ref().filter(|_| there == Some((dev, ino))) else {
            return Err(SurveyError::Moved(entry.real.clone()));
        };
        walk_up(dir, *dir_id, &mut set, &mut walked);
    }
    Ok(set)
}

/// `(device, inode)` as an [`Identity`].
fn identity(dev: u64, ino: u64) -> Identity {
    (
        libc::major(dev as libc::dev_t),
        libc::minor(dev as libc::dev_t),
        ino,
    )
}

/// Adds the directory `dir` (identity `id`) and the kernel's `..` chain above it up to `/`
/// to `set`, stopping at a directory whose chain was walked before (`walked`).
///
/// Each directory above is looked at with one `fstatat(dir, "../..", AT_SYMLINK_NOFOLLOW)`
/// relative to `dir` itself (the kernel resolves each `..` from the object, never a name
/// from `/`, and `..` is never a symlink), not opened, `fstat`ed and closed one after
/// another; past [`DOTDOTS_MAX`] levels the walk goes on from the directory reached, opened.
fn walk_up(
    dir: &OwnedFd,
    id: Identity,
    set: &mut std::collections::HashSet<Identity>,
    walked: &mut std::collections::HashSet<Identity>,
) {
    set.insert(id);
    if !walked.insert(id) {
        return;
    }
    let mut anchor: Option<OwnedFd> = None;
    let mut up: Vec<u8> = Vec::with_capacity(3 * DOTDOTS_MAX);
    let mut below = id;
    loop {
        if !up.is_empty() {
            up.push(b'/');
        }
        up.extend_from_slice(b"..");
        let from = anchor.as_ref().unwrap_or(dir);
        let Some(st) = fstatat_nofollow(from, std::ffi::OsStr::from_bytes(&up)) else {
            break;
        };
        let id = identity(st.st_dev, st.st_ino);
        // `/`'s `..` is itself.
        if id == below {
            break;
        }
        set.insert(id);
        if !walked.insert(id) {
            break;
        }
        below = id;
        if up.len() >= 3 * DOTDOTS_MAX - 1 {
            // Far from `PATH_MAX` still: go on from the directory reached.
            let Some(next) = open_dir_at(from, &up) else {
                break;
            };
            anchor = Some(next);
            up.clear();
        }
    }
}

/// How many `..` one `fstatat` of [`walk_up`] climbs at most (`PATH_MAX` is 4096 bytes).
const DOTDOTS_MAX: usize = 1000;

/// `openat(dir, path, O_PATH | O_DIRECTORY | O_CLOEXEC)`.
fn open_dir_at(dir: &OwnedFd, path: &[u8]) -> Option<OwnedFd> {
    let c = std::ffi::CString::new(path).ok()?;
    // SAFETY: dir is open; c is NUL-terminated; the fd returned is owned by no one else.
    unsafe {
        let fd = libc::openat(
            dir.as_raw_fd(),
            c.as_ptr(),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        );
        (fd >= 0).then(|| OwnedFd::from_raw_fd(fd))
    }
}

/// `fstatat(dir, name, AT_SYMLINK_NOFOLLOW)`.
fn fstatat_nofollow(dir: &OwnedFd, name: &std::ffi::OsStr) -> Option<libc::stat> {
    let c = std::ffi::CString::new(name.as_bytes()).ok()?;
    // SAFETY: stat is plain old data, filled by fstatat.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: dir is open; c is NUL-terminated; st is a valid out-pointer.
    if unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            c.as_ptr(),
            &mut st,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    } < 0
    {
        return None;
    }
    Some(st)
}

/// `fstat` of an open fd.
fn fstat(fd: &OwnedFd) -> Option<libc::stat> {
    // SAFETY: stat is plain old data, filled by fstat.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fd is open; st is a valid out-pointer.
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } < 0 {
        return None;
    }
    Some(st)
}

/// `openat2(path, O_PATH | O_CLOEXEC, RESOLVE_NO_SYMLINKS)`: `ELOOP` if any component is
/// a symlink. Where the kernel lacks `openat2`, the same by a walk of `path`'s components,
/// each opened `O_NOFOLLOW` beneath the one before.
fn open_real(path: &Path) -> std::io::Result<OwnedFd> {
    /// `struct open_how` of openat2(2).
    #[repr(C)]
    struct OpenHow {
        flags: u64,
        mode: u64,
        resolve: u64,
    }
    const RESOLVE_NO_SYMLINKS: u64 = 0x04;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())?;
    let how = OpenHow {
        flags: (libc::O_PATH | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve: RESOLVE_NO_SYMLINKS,
    };
    // SAFETY: c is NUL-terminated; how is a valid open_how of the size passed.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            libc::AT_FDCWD,
            c.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    if fd >= 0 {
        // SAFETY: the fd was just returned by the kernel and is owned by no one else.
        return Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) });
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() != Some(libc::ENOSYS) {
        return Err(e);
    }
    open_walk(path)
}

/// [`open_real`] without `openat2`: `path` (absolute, without `.` or `..`) one component at
/// a time, `O_PATH | O_NOFOLLOW`; a symlink anywhere is `ELOOP`.
fn open_walk(path: &Path) -> std::io::Result<OwnedFd> {
    use std::path::Component;
    let open = |dir: libc::c_int, name: &std::ffi::CStr| -> std::io::Result<OwnedFd> {
        // SAFETY: name is NUL-terminated; dir is AT_FDCWD or an open fd.
        let fd = unsafe {
            libc::openat(
                dir,
                name.as_ptr(),
                libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: the fd was just returned by the kernel and is owned by no one else.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    };
    let mut cur = open(libc::AT_FDCWD, c"/")?;
    for part in path.components() {
        match part {
            Component::RootDir => {}
            Component::Normal(name) => {
                let c = std::ffi::CString::new(name.as_bytes())?;
                let next = open(cur.as_raw_fd(), &c)?;
                let st = fstat(&next).ok_or_else(std::io::Error::last_os_error)?;
                if st.st_mode & libc::S_IFMT == libc::S_IFLNK {
                    return Err(std::io::Error::from_raw_os_error(libc::ELOOP));
                }
                cur = next;
            }
            _ => return Err(std::io::Error::from_raw_os_error(libc::EINVAL)),
        }
    }
    Ok(cur)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_holds_each_rule_root_and_every_directory_above_it_only() {
        use std::os::unix::fs::MetadataExt;
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("a/b/c")).unwrap();
        std::fs::create_dir_all(root.join("other")).unwrap();
        std::fs::write(root.join("a/f"), b"f").unwrap();
        let (surveyed, fds) = survey(
            vec![
                (root.join("a/b"), FloorAccess::Remove),
                (root.join("a/f"), FloorAccess::ReadExec),
                (root.join("missing"), FloorAccess::ReadExec),
            ],
            &RealPaths::new(),
        )
        .unwrap();
        let set = pinned(&surveyed, &fds).unwrap();
        let id = |p: &Path| {
            let md = std::fs::symlink_metadata(p).unwrap();
            (libc::major(md.dev()), libc::minor(md.dev()), md.ino())
        };
        for p in [
            root.join("a/b"),
            root.join("a/f"),
            root.join("a"),
            root.clone(),
            PathBuf::from("/"),
        ] {
            assert!(set.contains(&id(&p)), "{} not pinned", p.display());
        }
        for p in [root.join("a/b/c"), root.join("other")] {
            assert!(!set.contains(&id(&p)), "{} pinned", p.display());
        }
    }

    #[test]
    fn pinned_follows_the_opened_object_when_its_remembered_path_no_longer_names_it() {
        use std::os::unix::fs::MetadataExt;
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("f"), b"f").unwrap();
        std::fs::hard_link(root.join("f"), root.join("a/g")).unwrap();
        let reals = RealPaths::new();
        let floor = vec![
            (root.join("a/b"), FloorAccess::Remove),
            (root.join("f"), FloorAccess::ReadExec),
        ];
        for (p, _) in &floor {
            assert_eq!(reals.of(p).as_ref(), Some(p));
        }
        let (surveyed, fds) = survey(floor, &reals).unwrap();
        // Since it was resolved and opened, `a` moved to `c` and a new `a/b` took its place:
        // the remembered path names another object now.
        std::fs::rename(root.join("a"), root.join("c")).unwrap();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        let set = pinned(&surveyed, &fds).unwrap();
        let id = |p: &Path| {
            let md = std::fs::symlink_metadata(p).unwrap();
            (libc::major(md.dev()), libc::minor(md.dev()), md.ino())
        };
        assert!(set.contains(&id(&root.join("c/b"))), "the opened object");
        assert!(
            set.contains(&id(&root.join("c"))),
            "the directory above it now"
        );
        assert!(
            !set.contains(&id(&root.join("a"))),
            "the impostor's directory"
        );
        assert!(!set.contains(&id(&root.join("a/b"))), "the impostor");
        // `f` has a second name (`c/g`): pinned by the path the kernel reports for the fd.
        assert!(set.contains(&id(&root.join("f"))));
    }

    #[test]
    fn holds_broker_decided_compares_as_paths_do() {
        for p in [
            "/",
            "//",
            "/proc",
            "/proc/",
            "/proc/self",
            "//proc//sys/",
            "/proc/.",
            "/procx",
            "/pro",
            "/usr",
            "proc",
            "proc/x",
            "",
            ".",
            "/./proc",
            "/proc/../usr",
        ] {
            let root = Path::new(p);
            let by_path = BROKER_DECIDED.iter().any(|s| {
                let s = Path::new(s);
                s.starts_with(root) || root.starts_with(s)
            });
            assert_eq!(holds_broker_decided(root), by_path, "{p}");
        }
    }

    #[test]
    fn follows_symlinks_compares_as_paths_do() {
        for p in [
            "/lib",
            "/lib/",
            "//lib",
            "/lib/.",
            "/./lib",
            "/usr/lib",
            "/usr//lib/",
            "/usr/lib/x",
            "/usr/li",
            "lib",
            "/dev/shm",
            "/dev/shm/x",
            "/etc/passwd",
            "/etc/passwd/",
            "/",
        ] {
            let by_path = fixed_entries().any(|f| Path::new(f) == Path::new(p));
            assert_eq!(follows_symlinks(Path::new(p)), by_path, "{p}");
        }
        for f in fixed_entries() {
            assert_eq!(Path::new(f).components().collect::<PathBuf>(), Path::new(f));
            assert_eq!(
                Path::new(f).components().collect::<PathBuf>().as_os_str(),
                f,
                "{f} is written in normal form"
            );
        }
    }

    #[test]
    fn warm_opens_the_fixed_entries_for_the_survey_but_not_the_shim() {
        use std::os::unix::fs::MetadataExt;
        let tmp = tempfile::tempdir().unwrap();
        let shim = tmp.path().canonicalize().unwrap().join("shim.so");
        std::fs::write(&shim, b"").unwrap();
        let reals = RealPaths::new();
        warm(&reals, &shim);
        let etc = reals.of(Path::new("/etc/passwd")).unwrap();
        let (fd, opened) = reals.take_opened(&etc).expect("/etc/passwd opened by warm");
        let md = std::fs::symlink_metadata(&etc).unwrap();
        assert_eq!((opened.dev, opened.ino), (md.dev(), md.ino()));
        assert_eq!((opened.dev, opened.ino), {
            let st = fstat(&fd).unwrap();
            (st.st_dev, st.st_ino)
        });
        assert!(
            reals.take_opened(&shim).is_none(),
            "the shim is the survey's to open"
        );
        // The survey takes what warm kept: each fixed entry's fd is used once.
        let lib = reals.of(Path::new("/usr/lib")).unwrap();
        let (surveyed, fds) = survey(paths(&[], &shim), &reals).unwrap();
        assert!(reals.take_opened(&lib).is_none(), "taken by the survey");
        let usr_lib = surveyed.iter().position(|e| e.real == lib).unwrap();
        let md = std::fs::symlink_metadata(&lib).unwrap();
        assert_eq!(surveyed[usr_lib].id, Some((md.dev(), md.ino())));
        assert!(fds[usr_lib].is_some());
    }

    #[test]
    fn one_real_path_is_opened_once_and_its_entries_share_the_fd() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("d")).unwrap();
        let floor = vec![
            (root.join("d"), FloorAccess::Read),
            (root.join("gone"), FloorAccess::Read),
            (root.join("d"), FloorAccess::Remove),
            (root.join("gone"), FloorAccess::Remove),
        ];
        let (surveyed, fds) = survey(floor, &RealPaths::new()).unwrap();
        let (a, b) = (fds[0].as_ref().unwrap(), fds[2].as_ref().unwrap());
        assert!(Rc::ptr_eq(a, b), "one open for one real path");
        assert_eq!(surveyed[0].id, surveyed[2].id);
        assert_eq!(surveyed[2].access, FloorAccess::Remove);
        assert!(fds[1].is_none() && fds[3].is_none() && surveyed[3].kind.is_none());
    }

    #[test]
    fn pinned_climbs_past_dotdots_max_to_the_root() {
        use std::os::unix::fs::MetadataExt;
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        let mut deep = root.clone();
        for _ in 0..DOTDOTS_MAX + 5 {
            deep.push("d");
        }
        std::fs::create_dir_all(&deep).unwrap();
        let (surveyed, fds) =
            survey(vec![(deep.clone(), FloorAccess::Read)], &RealPaths::new()).unwrap();
        let set = pinned(&surveyed, &fds).unwrap();
        // Every directory from the entry up to `/`, and nothing else.
        let mut want = std::collections::HashSet::new();
        for dir in deep.ancestors() {
            let md = std::fs::symlink_metadata(dir).unwrap();
            want.insert((libc::major(md.dev()), libc::minor(md.dev()), md.ino()));
        }
        assert_eq!(set, want);
    }

    #[test]
    fn floor_has_nothing_writable_but_devices() {
        let floor = paths(
            &[PathBuf::from("/opt/tool")],
            Path::new("/x/libarbiter_shim.so"),
        );
        for (p, a) in &floor {
            if *a != FloorAccess::ReadExec {
                assert!(p.starts_with("/dev/"), "{} is writable", p.display());
            }
        }
        assert!(floor.iter().any(|(p, _)| p == Path::new("/opt/tool")));
        assert!(floor
            .iter()
            .any(|(p, _)| p == Path::new("/x/libarbiter_shim.so")));
    }

    #[test]
    fn a_symlink_swapped_in_on_a_real_path_refuses_the_floor() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("prefix/bin")).unwrap();
        std::fs::create_dir_all(root.join("private")).unwrap();
        let entry = |p: &str| (root.join(p), FloorAccess::Read);
        let (_, fds) = survey(vec![entry("prefix")], &RealPaths::new()).unwrap();
        assert!(fds[0].is_some());
        // The root's directory is swapped for a symlink to somewhere else: refused, whether
        // the symlink is the entry itself or a directory above it.
        let reals = RealPaths::new();
        assert!(reals.is_real(&root.join("prefix/bin")));
        std::fs::rename(root.join("prefix"), root.join("moved")).unwrap();
        std::os::unix::fs::symlink(root.join("private"), root.join("prefix")).unwrap();
        for p in ["prefix", "prefix/bin"] {
            let err = survey(vec![entry(p)], &reals).unwrap_err();
            assert!(matches!(err, SurveyError::Symlink(_)), "{err}");
            assert!(err.to_string().contains(&*root.join(p).to_string_lossy()));
        }
        // Another directory at the real path than the one decided on: refused too.
        std::fs::remove_file(root.join("prefix")).unwrap();
        std::fs::create_dir_all(root.join("prefix/bin")).unwrap();
        let err = survey(vec![entry("prefix/bin")], &reals).unwrap_err();
        assert!(matches!(err, SurveyError::Replaced { .. }), "{err}");
        // Missing: left out.
        let (s, fds) = survey(vec![entry("gone")], &reals).unwrap();
        assert!(fds[0].is_none() && s[0].kind.is_none());
    }

    #[test]
    fn a_prefix_swapped_for_a_symlink_after_it_was_resolved_refuses_the_floor() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("prefix/bin")).unwrap();
        std::fs::create_dir_all(root.join("prefix/lib")).unwrap();
        std::fs::create_dir_all(root.join("private/lib")).unwrap();
        let reals = RealPaths::new();
        assert!(reals.is_real(&root.join("prefix/bin")));
        std::fs::rename(root.join("prefix"), root.join("moved")).unwrap();
        std::os::unix::fs::symlink(root.join("private"), root.join("prefix")).unwrap();
        // `prefix/lib` is first asked about now: resolved through the remembered
        // directory, and opened without following the symlink now there.
        let real = reals.of(&root.join("prefix/lib")).unwrap();
        let err = survey(vec![(real, FloorAccess::Read)], &reals).unwrap_err();
        assert!(matches!(err, SurveyError::Symlink(_)), "{err}");
    }

    #[test]
    fn pinned_walks_up_from_the_object_not_through_a_symlink_swapped_in_above_it() {
        use std::os::unix::fs::MetadataExt;
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("p/data")).unwrap();
        std::fs::write(root.join("p/file"), b"f").unwrap();
        let (surveyed, fds) = survey(
            vec![
                (root.join("p/data"), FloorAccess::Read),
                (root.join("p/file"), FloorAccess::Read),
            ],
            &RealPaths::new(),
        )
        .unwrap();
        // `p` moves to `q` and a symlink `p` -> `q` takes its place (finding 14): the
        // directory above the rule root is `q`, not the symlink.
        std::fs::rename(root.join("p"), root.join("q")).unwrap();
        std::os::unix::fs::symlink(root.join("q"), root.join("p")).unwrap();
        let set = pinned(&surveyed[..1], &fds[..1]).unwrap();
        let id = |p: &Path| {
            let md = std::fs::symlink_metadata(p).unwrap();
            (libc::major(md.dev()), libc::minor(md.dev()), md.ino())
        };
        assert!(
            set.contains(&id(&root.join("q"))),
            "the real directory above"
        );
        assert!(!set.contains(&id(&root.join("p"))), "the symlink");
        assert!(set.contains(&id(&root)) && set.contains(&id(Path::new("/"))));
        // A file entry no longer at its real path: refused, naming it.
        let err = pinned(&surveyed[1..], &fds[1..]).unwrap_err();
        assert!(err.to_string().contains("p/file"), "{err}");
    }

    fn policy(text: &str) -> arbiter_policies::Policy {
        let vars = arbiter_policies::Vars {
            home: Some("/home/u".into()),
            pwd: "/home/u/proj".into(),
            tmpdir: std::env::temp_dir().canonicalize().unwrap(),
            ..arbiter_policies::Vars::default()
        };
        arbiter_policies::Policy::load(
            &[
                arbiter_policies::Source::Builtin("default".into()),
                arbiter_policies::Source::Text {
                    origin: "test".into(),
                    text: text.into(),
                },
            ],
            &vars,
        )
        .unwrap()
    }

    #[test]
    fn native_reads_need_a_policy_that_grants_the_whole_floor() {
        let shim = Path::new("/nonexistent/libarbiter_shim.so");
        let mut floor = paths(&[], shim);
        let roots = native_reads(
            &mut floor,
            shim,
            &policy("version = 1\n"),
            &RealPaths::new(),
        )
        .expect("the default profile grants the whole floor");
        assert!(!floor.iter().any(|(p, _)| p == Path::new("/proc")));
        assert!(roots.contains(&PathBuf::from("/usr/share")));
        // The policy's own uniform read grants join the floor, read-only.
        let tmp = std::env::temp_dir().canonicalize().unwrap();
        assert!(roots.contains(&tmp), "{roots:?}");
        assert!(floor.contains(&(tmp.clone(), FloorAccess::Read)));
        assert!(!roots.iter().any(|r| r.starts_with("/proc")));
        // A deny beneath /usr makes /usr no longer uniform: no native reads, floor untouched.
        let mut floor = paths(&[], shim);
        let narrower = policy("version = 1\n[[fs]]\npath = \"/usr/share/doc\"\ndeny = true\n");
        assert_eq!(
            native_reads(&mut floor, shim, &narrower, &RealPaths::new()),
            None
        );
        assert!(floor.iter().any(|(p, _)| p == Path::new("/proc")));
    }

    #[test]
    fn no_native_read_root_holds_proc() {
        // `/` read throughout, no profile (finding 11): `/` would grant all of /proc.
        let shim = Path::new("/nonexistent/libarbiter_shim.so");
        let vars = arbiter_policies::Vars {
            pwd: "/".into(),
            tmpdir: std::env::temp_dir().canonicalize().unwrap(),
            ..arbiter_policies::Vars::default()
        };
        let all = arbiter_policies::Policy::load(
            &[arbiter_policies::Source::Text {
                origin: "test".into(),
                text: "version = 1\n[[fs]]\npath = \"/\"\nallow = \"rx\"\n".into(),
            }],
            &vars,
        )
        .unwrap();
        assert!(all.kernel_floor().iter().any(|e| e.path == Path::new("/")));
        let mut floor = paths(&[], shim);
        let roots = native_reads(&mut floor, shim, &all, &RealPaths::new()).unwrap();
        assert!(!roots.iter().any(|r| holds_broker_decided(r)), "{roots:?}");
        assert!(
            !floor.iter().any(|(p, _)| holds_broker_decided(p)),
            "{floor:?}"
        );
        assert!(roots.contains(&PathBuf::from("/usr/share")));
        assert!(holds_broker_decided(Path::new("/")));
        assert!(holds_broker_decided(Path::new("/proc/sys")));
        assert!(!holds_broker_decided(Path::new("/procx")));
        assert!(!holds_broker_decided(Path::new("/usr")));
        // A floor entry holding /proc (an installation prefix at `/`, or `/` as one of the
        // policy's exec trees, `policy_exec`): no native reads.
        let mut floor = paths(&[PathBuf::from("/")], shim);
        assert_eq!(
            native_reads(&mut floor, shim, &all, &RealPaths::new()),
            None
        );
        let mut floor = paths(&[], shim);
        let exec = policy_exec(&floor, &all, &RealPaths::new());
        assert!(exec.contains(&(PathBuf::from("/"), FloorAccess::ReadExec)));
        floor.extend(exec);
        assert_eq!(
            native_reads(&mut floor, shim, &all, &RealPaths::new()),
            None
        );
    }

    #[test]
    fn no_native_read_root_is_decided_by_a_rule_recording_every_use() {
        // Finding 10: `/usr` re-granted with `audit = "all"` over the default profile.
        let shim = Path::new("/nonexistent/libarbiter_shim.so");
        let watched =
            policy("version = 1\n[[fs]]\npath = \"/usr\"\nallow = \"rx\"\naudit = \"all\"\n");
        let mut floor = paths(&[], shim);
        assert_eq!(
            native_reads(&mut floor, shim, &watched, &RealPaths::new()),
            None
        );
        assert_eq!(floor, paths(&[], shim));
        // The same rule without it: native.
        let plain = policy("version = 1\n[[fs]]\npath = \"/usr\"\nallow = \"rx\"\n");
        assert!(native_reads(&mut paths(&[], shim), shim, &plain, &RealPaths::new()).is_some());
        // A tree of the policy's own with `audit = "all"` joins no floor either.
        let tmp = std::env::temp_dir().canonicalize().unwrap();
        let tmp_watched = policy(&format!(
            "version = 1\n[[fs]]\npath = \"{}\"\nallow = \"rx\"\naudit = \"all\"\n",
            tmp.display()
        ));
        let roots =
            native_reads(&mut paths(&[], shim), shim, &tmp_watched, &RealPaths::new()).unwrap();
        assert!(!roots.contains(&tmp), "{roots:?}");
    }

    #[test]
    fn native_removals_only_beneath_uniform_remove_grants() {
        let shim = Path::new("/nonexistent/libarbiter_shim.so");
        let tmp = std::env::temp_dir().canonicalize().unwrap();
        // The default profile: $TMPDIR rw, decided alone ($PWD does not exist here), and
        // /dev/shm, which the runtime profile grants rw throughout.
        let mut floor = paths(&[], shim);
        let roots = native_removes(&mut floor, &policy("version = 1\n"), &RealPaths::new());
        assert!(roots.contains(&tmp), "{roots:?}");
        assert!(floor.contains(&(tmp.clone(), FloorAccess::Remove)));
        // /dev/shm's own removal right goes: Landlock grants removing there only as one of
        // the policy's uniform remove grants.
        assert!(floor.contains(&(PathBuf::from("/dev/shm"), FloorAccess::SharedMemoryKeep)));
        assert!(!floor.iter().any(|(_, a)| *a == FloorAccess::SharedMemory));
        assert!(roots
            .iter()
            .all(|r| !r.starts_with("/proc") && !r.starts_with("/usr")));
        // A narrower rule beneath: not $TMPDIR.
        let narrower = policy("version = 1\n[[fs]]\npath = \"$TMPDIR/keep\"\nallow = \"ro\"\n");
        assert!(
            !native_removes(&mut paths(&[], shim), &narrower, &RealPaths::new()).contains(&tmp)
        );
        // Read-only: no removal.
        let ro = policy("version = 1\n[[fs]]\npath = \"$TMPDIR\"\nallow = \"ro\"\n");
        assert!(!native_removes(&mut paths(&[], shim), &ro, &RealPaths::new()).contains(&tmp));
        // Nothing granted throughout: the floor is left as it is.
        let mut floor = paths(&[], shim);
        let none = policy("version = 1\n[[fs]]\npath = \"$TMPDIR\"\nallow = \"ro\"\n[[fs]]\npath = \"/dev/shm\"\nallow = \"ro\"\n");
        assert!(native_removes(&mut floor, &none, &RealPaths::new()).is_empty());
        assert_eq!(floor, paths(&[], shim));
    }

    #[test]
    fn the_policys_exec_trees_join_the_floor_only_when_decided_alone() {
        let shim = Path::new("/nonexistent/libarbiter_shim.so");
        let floor = paths(&[], shim);
        let tmp = std::env::temp_dir().canonicalize().unwrap();
        let has_tmp = |p: &arbiter_policies::Policy| {
            policy_exec(&floor, p, &RealPaths::new())
                .contains(&(tmp.clone(), FloorAccess::ReadExec))
        };
        // The default profile: $TMPDIR rwx, decided alone ($PWD does not exist here); and
        // /usr, which the runtime profile grants rx throughout.
        let exec = policy_exec(&floor, &policy("version = 1\n"), &RealPaths::new());
        assert!(has_tmp(&policy("version = 1\n")), "{exec:?}");
        assert!(exec.contains(&(PathBuf::from("/usr"), FloorAccess::ReadExec)));
        // Without exec there: not $TMPDIR.
        let rw = policy("version = 1\n[[fs]]\npath = \"$TMPDIR\"\nallow = \"rw\"\n");
        assert!(!has_tmp(&rw));
        // A narrower rule beneath: the kernel would read what it denies, so not $TMPDIR.
        let narrower = policy("version = 1\n[[fs]]\npath = \"$TMPDIR/private\"\ndeny = true\n");
        assert!(!has_tmp(&narrower));
        // /proc never; a tree already in the floor is left out.
        let procs = policy("version = 1\n[[fs]]\npath = \"/proc/sys\"\nallow = \"rx\"\n");
        assert!(!policy_exec(&floor, &procs, &RealPaths::new())
            .iter()
            .any(|(p, _)| p.starts_with("/proc")));
        let usr = policy("version = 1\n[[fs]]\npath = \"/usr/bin\"\nallow = \"rx\"\n");
        assert!(!policy_exec(&floor, &usr, &RealPaths::new())
            .iter()
            .any(|(p, _)| p == Path::new("/usr/bin")));
    }
}
