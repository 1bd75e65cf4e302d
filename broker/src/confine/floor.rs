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
        align_one(&real, policy, &mut out, &mut budget, &mut note);
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
    policy
        .kernel_floor()
        .into_iter()
        .filter(|e| {
            // `read` and `exec`, and `list` on a directory: the cheap tests first, the
            // file system only where the answer depends on it.
            e.access.contains(Access::READ | Access::EXEC)
                && !e.path.starts_with("/proc")
                && !floor.iter().any(|(p, _)| p == &e.path)
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
    out: &mut Vec<(PathBuf, FloorAccess)>,
    budget: &mut usize,
    note: &mut Option<String>,
) {
    use arbiter_policies::Access;
    let exec = |p: &Path| policy.decide_path(p, Access::EXEC).decision.allow;
    let Ok(meta) = std::fs::metadata(real) else {
        return;
    };
    if !meta.is_dir() || policy.decided_alone_beneath(real) {
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
            align_one(&child, policy, out, budget, note);
        } else if meta.is_file() && exec(&child) {
            *budget -= 1;
            out.push((child, FloorAccess::ExecFile));
        }
    }
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
/// (`uniform`), a file `read`. The shim itself is the exception: the program may read
/// arbiter's own library. The policy's own uniform read grants (`Policy::kernel_floor`:
/// `$PWD`, `$TMPDIR`, … where no narrower rule sits beneath them) join the floor, read-only.
/// Returns the real paths where the shim may open for reading natively and updates `floor`,
/// or returns `None` (leaving `floor` as it is) when the policy is narrower somewhere.
/// Real paths are looked up in `reals`.
pub fn native_reads(
    floor: &mut Vec<(PathBuf, FloorAccess)>,
    shim: &Path,
    policy: &arbiter_policies::Policy,
    reals: &RealPaths,
) -> Option<Vec<PathBuf>> {
    use arbiter_policies::Access;
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
            d.decision.allow && d.uniform
        } else {
            policy.decide_path(&real, Access::READ).decision.allow
        };
        if !granted {
            return None;
        }
        roots.push(real);
    }
    floor.retain(|(p, _)| p != Path::new("/proc"));
    for entry in policy.kernel_floor() {
        // A rule on a symlinked path never matches (the broker decides real paths), and the
        // program's own /proc entries are the broker's to serve.
        if entry.path.starts_with("/proc") || !reals.is_real(&entry.path) {
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
/// reached); else whether it is a directory, and whether it is a regular file (symlinks
/// followed).
#[derive(Debug, Clone)]
pub struct Surveyed {
    /// The path.
    pub path: PathBuf,
    /// How it may be used.
    pub access: FloorAccess,
    /// `(is a directory, is a regular file)`, or `None` when it does not exist.
    pub kind: Option<(bool, bool)>,
    /// `(device, inode)` of what the survey opened (`None` when it does not exist): the
    /// object the floor grants, for whoever opens the entry again by its name later.
    pub id: Option<(u64, u64)>,
}

/// Opens each entry of `floor` once (`O_PATH`) and looks at what it is, for the Landlock
/// ruleset and the seccomp transport's exact-file table alike. Returns the entries and, in
/// the same order, the open fds (`None` where the path does not exist). Entries for which
/// `real` holds are real paths (the program's installation prefixes) and are opened
/// without following any symlink (`openat2` `RESOLVE_NO_SYMLINKS`): one swapped in since
/// they were resolved leaves the entry out (no grant) instead of being followed. The
/// others (system paths, some of them symlinks on merged-/usr systems) follow symlinks.
pub fn survey(
    floor: Vec<(PathBuf, FloorAccess)>,
    real: &dyn Fn(&Path) -> bool,
) -> (Vec<Surveyed>, Vec<Option<OwnedFd>>) {
    floor
        .into_iter()
        .map(|(path, access)| {
            let fd = if real(&path) {
                open_real(&path)
            } else {
                open_path(&path)
            };
            let stat = fd.as_ref().and_then(fstat);
            let kind = stat.map(|st| {
                let format = st.st_mode & libc::S_IFMT;
                (format == libc::S_IFDIR, format == libc::S_IFREG)
            });
            let id = stat.map(|st| (st.st_dev, st.st_ino));
            let fd = if kind.is_some() { fd } else { None };
            (
                Surveyed {
                    path,
                    access,
                    kind,
                    id,
                },
                fd,
            )
        })
        .unzip()
}

/// The identity of an inode as the broker's `statx` reports it: device major, minor and
/// inode number.
pub type Identity = (u32, u32, u64);

/// The objects the Landlock ruleset names (each surveyed entry that exists) and every
/// directory above each of them, by identity, taken from the fds the survey opened. Landlock
/// attaches a rule's rights to the inode, not to its path: moving one of these (a rule root,
/// or a directory holding one) would carry the rights to a path where the policy may grant
/// fewer, so the broker refuses to (`RequestCore::with_pinned`). The directories above are
/// found from the opened object's real path (`/proc/self/fd`), looked at without following
/// symlinks; an entry whose real path cannot be read is pinned by its surveyed path. The
/// real path resolved earlier in this start (`reals`) stands for the fd's where it names
/// the very object opened and that object has no other name ([`confirmed_real`]).
pub fn pinned(
    floor: &[Surveyed],
    fds: &[Option<OwnedFd>],
    reals: &RealPaths,
) -> std::collections::HashSet<Identity> {
    let mut set = std::collections::HashSet::new();
    let mut seen = std::collections::HashSet::new();
    let id = |dev: u64, ino: u64| -> Identity {
        (
            libc::major(dev as libc::dev_t),
            libc::minor(dev as libc::dev_t),
            ino,
        )
    };
    for (entry, fd) in floor.iter().zip(fds) {
        let (Some((dev, ino)), Some(fd)) = (entry.id, fd) else {
            continue;
        };
        set.insert(id(dev, ino));
        let real = confirmed_real(reals, &entry.path, (dev, ino))
            .or_else(|| {
                std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
                    .ok()
                    .filter(|p| p.is_absolute())
            })
            .unwrap_or_else(|| entry.path.clone());
        for above in real.ancestors().skip(1) {
            // Looked at once per call: the directories above one already seen were too.
            if !seen.insert(above.to_path_buf()) {
                break;
            }
            if let Ok(md) = std::fs::symlink_metadata(above) {
                use std::os::unix::fs::MetadataExt;
                set.insert(id(md.dev(), md.ino()));
            }
        }
    }
    set
}

/// The real path of the object with identity `id` that was opened at `path`, from
/// `reals`, when that is certain without asking the kernel for the fd's path (a `readlink`
/// in `/proc/self/fd`, which costs a fresh procfs inode each time): the real path names an
/// object with the same identity now, and that object has one name only — a directory,
/// or anything else with a single link (a file with more links may have been reached
/// through another of them). `None` otherwise.
fn confirmed_real(reals: &RealPaths, path: &Path, id: (u64, u64)) -> Option<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let real = reals.of(path)?;
    let md = std::fs::symlink_metadata(&real).ok()?;
    ((md.dev(), md.ino()) == id && (md.is_dir() || md.nlink() == 1)).then_some(real)
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

/// `openat2(path, O_PATH | O_CLOEXEC, RESOLVE_NO_SYMLINKS)`: `None` if any component is a
/// symlink (or the kernel lacks openat2: then nothing is granted by this entry).
fn open_real(path: &Path) -> Option<OwnedFd> {
    /// `struct open_how` of openat2(2).
    #[repr(C)]
    struct OpenHow {
        flags: u64,
        mode: u64,
        resolve: u64,
    }
    const RESOLVE_NO_SYMLINKS: u64 = 0x04;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let how = OpenHow {
        flags: (libc::O_PATH | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve: RESOLVE_NO_SYMLINKS,
    };
    // SAFETY: c is NUL-terminated; how is a valid open_how of the size passed; the fd
    // returned is owned by no one else.
    unsafe {
        let fd = libc::syscall(
            libc::SYS_openat2,
            libc::AT_FDCWD,
            c.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        );
        (fd >= 0).then(|| OwnedFd::from_raw_fd(fd as i32))
    }
}

/// `open(path, O_PATH | O_CLOEXEC)`.
fn open_path(path: &Path) -> Option<OwnedFd> {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: c is NUL-terminated; the fd returned is owned by no one else.
    unsafe {
        let fd = libc::open(c.as_ptr(), libc::O_PATH | libc::O_CLOEXEC);
        (fd >= 0).then(|| OwnedFd::from_raw_fd(fd))
    }
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
            &|_| true,
        );
        let set = pinned(&surveyed, &fds, &RealPaths::new());
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
        let (surveyed, fds) = survey(floor, &|_| true);
        // Since it was resolved and opened, `a` moved to `c` and a new `a/b` took its place:
        // the remembered path names another object now.
        std::fs::rename(root.join("a"), root.join("c")).unwrap();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        let set = pinned(&surveyed, &fds, &reals);
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
    fn a_real_entry_with_a_symlink_swapped_in_is_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("prefix/bin")).unwrap();
        std::fs::create_dir_all(root.join("private")).unwrap();
        let entry = |p: &str| (root.join(p), FloorAccess::ReadExec);
        let real = |p: &Path| p.starts_with(&root);
        let (_, fds) = survey(vec![entry("prefix")], &real);
        assert!(fds[0].is_some());
        // The prefix's directory is swapped for a symlink to somewhere else.
        std::fs::rename(root.join("prefix"), root.join("moved")).unwrap();
        std::os::unix::fs::symlink(root.join("private"), root.join("prefix")).unwrap();
        let (surveyed, fds) = survey(vec![entry("prefix")], &real);
        assert!(fds[0].is_none() && surveyed[0].kind.is_none());
        // A system entry still follows its symlink.
        let (_, fds) = survey(vec![entry("prefix")], &|_| false);
        assert!(fds[0].is_some());
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
