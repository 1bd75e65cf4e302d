//! Real paths of the floor's entries (and which are directories), resolved once per sandbox
//! start.
//!
//! Preparing the floor asks for the real location of the same paths several times (the
//! exec alignment, the installation prefixes, the policy's exec trees, native reads and
//! removals), and of many paths under the same few directories (`/usr`, `/etc`): each
//! `std::fs::canonicalize` (`realpath(3)`) walks the whole path again with one `readlink`
//! per component, and the identity and directory checks after it `stat` the result twice
//! more. A [`RealPaths`] resolves a path one component at a time, the way `realpath(3)`
//! and the kernel do, with one `lstat` per component it has not met before in this start
//! (a `readlink` only where that component is a symlink): what the `lstat` says (the
//! identity, whether it is a directory) and each prefix's real path are remembered, so the
//! 50-odd floor entries under `/usr` and `/etc` cost one system call each instead of four
//! to six (138 `readlink`s and 105 `statx`s per `arbiter run` before, docs/performance.md).
//! It remembers each answer for the one start that builds it and is dropped with it, never
//! shared across starts.
//!
//! Only paths that resolved are remembered, never a failure: a path that is missing now
//! may be created while the start runs (the private `$TMPDIR` is created by a thread
//! while the policy compiles), and is looked at again the next time it is asked about.
//! What the memo answers is what the kernel answered earlier in the same start. With each
//! real path it remembers the identity (device, inode) of the object found there, looked at
//! without following symlinks: the survey (`floor::survey`) opens every entry afterwards at
//! its real path without following any symlink and refuses to start when the object there
//! is no longer the one the floor was decided on ([`RealPaths::identity`]). A prefix
//! remembered as a directory and replaced by a symlink later in the same start is not
//! followed to where the symlink now leads: the entries beneath it keep their remembered
//! real paths, and the survey's open of them, which follows no symlink, refuses the start.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// Most symlinks one resolution follows (the kernel's limit, `ELOOP` beyond).
const MAX_LINKS: u32 = 40;

/// A per-start memo of `canonicalize` (see the module docs).
#[derive(Debug, Default)]
pub struct RealPaths {
    /// Path asked about → its real path; successes only.
    known: RefCell<HashMap<PathBuf, PathBuf>>,
    /// Paths found to be directories (symlinks followed; each real path found to be one by
    /// the `lstat` of a resolution); never a path that was not one.
    dirs: RefCell<HashSet<PathBuf>>,
    /// Real paths the `lstat` of a resolution found to be neither a directory nor a
    /// symlink (their identities are in `ids`: the survey refuses an object replaced since).
    others: RefCell<HashSet<PathBuf>>,
    /// Real path → `(device, inode)` of what was there when it was resolved (`lstat`).
    ids: RefCell<HashMap<PathBuf, (u64, u64)>>,
    /// Real path → an `O_PATH` fd the floor's survey will use instead of opening it, with
    /// its `fstat`: opened, the survey's way, earlier in the same start
    /// ([`RealPaths::keep_opened`]).
    opened: RefCell<HashMap<PathBuf, (std::os::fd::OwnedFd, Opened)>>,
}

/// What `fstat` said of a fd [`RealPaths::keep_opened`] keeps.
#[derive(Debug, Clone, Copy)]
pub struct Opened {
    /// `st_dev`.
    pub dev: u64,
    /// `st_ino`.
    pub ino: u64,
    /// `st_mode`.
    pub mode: u32,
}

impl RealPaths {
    /// An empty memo, for one sandbox start.
    pub fn new() -> Self {
        Self::default()
    }

    /// The real path of `path` (`std::fs::canonicalize`), or `None` when it cannot be
    /// resolved (missing, a dangling link, no permission): never remembered.
    pub fn of(&self, path: &Path) -> Option<PathBuf> {
        let real = self.real(path)?;
        // `dir/` names a directory or nothing (`ENOTDIR`); `Path`s compare (and the memo
        // finds them) without the slash.
        let slash = path.as_os_str().as_encoded_bytes().ends_with(b"/");
        if slash && !self.dirs.borrow().contains(&real) {
            return None;
        }
        Some(real)
    }

    /// [`RealPaths::of`] but for a trailing slash.
    fn real(&self, path: &Path) -> Option<PathBuf> {
        if let Some(real) = self.known.borrow().get(path) {
            return Some(real.clone());
        }
        let real = if path.is_absolute() {
            self.resolve(path, &mut 0)?
        } else {
            // Relative to the working directory (no floor path is): as `realpath(3)` does.
            let real = path.canonicalize().ok()?;
            self.look(&real)?;
            real
        };
        self.known
            .borrow_mut()
            .insert(path.to_path_buf(), real.clone());
        Some(real)
    }

    /// The real path of the absolute `path`, one component at a time: `.` skipped, `..`
    /// the parent of what is resolved so far (a real path: no symlink to go back through),
    /// each other component [`RealPaths::step`]ped; every component but the last must be
    /// a directory (`ENOTDIR` otherwise, as the kernel says). `links` counts the symlinks
    /// followed, at most [`MAX_LINKS`] (`ELOOP`).
    fn resolve(&self, path: &Path, links: &mut u32) -> Option<PathBuf> {
        use std::path::Component;
        let mut real = PathBuf::from("/");
        let mut rest = path.components().peekable();
        while let Some(component) = rest.next() {
            match component {
                Component::RootDir | Component::CurDir => continue,
                Component::ParentDir => {
                    real.pop();
                    continue;
                }
                Component::Normal(name) => real = self.step(&real.join(name), links)?,
                Component::Prefix(_) => return None,
            }
            let more = rest.peek().is_some_and(|c| !matches!(c, Component::CurDir));
            if more && !self.dirs.borrow().contains(&real) {
                return None;
            }
        }
        if real == Path::new("/") {
            self.look(&real)?;
        }
        Some(real)
    }

    /// The real path of `path`, whose parent is a real path: `path` itself when it is no
    /// symlink (its identity and whether it is a directory remembered from one `lstat`),
    /// else its target resolved (relative to the parent).
    fn step(&self, path: &Path, links: &mut u32) -> Option<PathBuf> {
        if let Some(real) = self.known.borrow().get(path) {
            return Some(real.clone());
        }
        let real = if self.look(path)? {
            *links += 1;
            if *links > MAX_LINKS {
                return None;
            }
            let target = std::fs::read_link(path).ok()?;
            // An absolute target replaces the parent (`join`).
            self.resolve(&path.parent()?.join(target), links)?
        } else {
            path.to_path_buf()
        };
        self.known
            .borrow_mut()
            .insert(path.to_path_buf(), real.clone());
        Some(real)
    }

    /// `lstat`s `path`: `None` when it cannot (missing, no permission), else whether it is
    /// a symlink. For anything else its identity is remembered (the first one seen), and
    /// that it is a directory when it is one.
    fn look(&self, path: &Path) -> Option<bool> {
        use std::os::unix::fs::MetadataExt;
        let md = std::fs::symlink_metadata(path).ok()?;
        if md.file_type().is_symlink() {
            return Some(true);
        }
        self.ids
            .borrow_mut()
            .entry(path.to_path_buf())
            .or_insert((md.dev(), md.ino()));
        if md.is_dir() {
            self.dirs.borrow_mut().insert(path.to_path_buf());
        } else {
            self.others.borrow_mut().insert(path.to_path_buf());
        }
        Some(false)
    }

    /// The `(device, inode)` of the object found at the real path `real` when this memo
    /// first resolved a path to it (looked at without following symlinks), or `None` when it
    /// has not resolved one yet.
    pub fn identity(&self, real: &Path) -> Option<(u64, u64)> {
        self.ids.borrow().get(real).copied()
    }

    /// Whether `path` is a directory (`Path::is_dir`, symlinks followed). A `true` is
    /// remembered, and a `false` only for a path this memo resolved to an existing object
    /// that is no directory (whose identity it remembers): a path that is not a directory
    /// (yet) is looked at again.
    pub fn is_dir(&self, path: &Path) -> bool {
        let real = self.known.borrow().get(path).cloned();
        let real = real.as_deref().unwrap_or(path);
        if self.dirs.borrow().contains(path) || self.dirs.borrow().contains(real) {
            return true;
        }
        if self.others.borrow().contains(real) {
            return false;
        }
        let dir = path.is_dir();
        if dir {
            self.dirs.borrow_mut().insert(path.to_path_buf());
        }
        dir
    }

    /// Whether `path` exists and is its own real path (no symlink, no `.` or `..`).
    pub fn is_real(&self, path: &Path) -> bool {
        self.of(path).as_deref() == Some(path)
    }

    /// Keeps `fd`, opened at the real path `real` without following symlinks and found
    /// (`opened`) to be the object this memo remembers there, for the survey of this start
    /// (`floor::survey`), which takes it instead of opening `real` again.
    pub fn keep_opened(&self, real: PathBuf, fd: std::os::fd::OwnedFd, opened: Opened) {
        self.opened.borrow_mut().insert(real, (fd, opened));
    }

    /// Whether an fd is kept for `real` ([`RealPaths::keep_opened`]).
    pub fn has_opened(&self, real: &Path) -> bool {
        self.opened.borrow().contains_key(real)
    }

    /// The fd [`RealPaths::keep_opened`] kept for `real`, once.
    pub fn take_opened(&self, real: &Path) -> Option<(std::os::fd::OwnedFd, Opened)> {
        self.opened.borrow_mut().remove(real)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_what_resolved_and_never_an_absence() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        let memo = RealPaths::new();
        let later = root.join("later");
        assert_eq!(memo.of(&later), None, "missing");
        // Created during the start: the memo must see it now.
        std::fs::create_dir(&later).unwrap();
        assert_eq!(memo.of(&later), Some(later.clone()));
        assert!(memo.is_real(&later));
        let link = root.join("link");
        std::os::unix::fs::symlink(&later, &link).unwrap();
        assert_eq!(memo.of(&link), Some(later.clone()));
        assert!(!memo.is_real(&link));
        let file = root.join("file");
        assert!(!memo.is_dir(&file), "missing");
        std::fs::create_dir(&file).unwrap();
        assert!(memo.is_dir(&file), "not remembered as no directory");
        // Remembered within the start (the same memo answers as before) ...
        std::fs::remove_file(&link).unwrap();
        assert_eq!(memo.of(&link), Some(later.clone()));
        // ... and never across starts: a new memo asks the kernel again.
        assert_eq!(RealPaths::new().of(&link), None);
    }

    #[test]
    fn resolves_as_realpath_does() {
        use std::os::unix::fs::symlink;
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        let r = |p: &str| root.join(p);
        std::fs::create_dir_all(r("usr/lib/x")).unwrap();
        std::fs::create_dir_all(r("usr/bin")).unwrap();
        std::fs::write(r("usr/bin/tool"), "").unwrap();
        symlink(r("usr/lib"), r("lib")).unwrap(); // absolute
        symlink("usr/bin", r("bin")).unwrap(); // relative
        symlink("../lib/x", r("usr/bin/up")).unwrap(); // relative through `..`
        symlink("lib", r("chain")).unwrap(); // a symlink to a symlink
        symlink("loop2", r("loop1")).unwrap();
        symlink("loop1", r("loop2")).unwrap();
        symlink("nowhere", r("dangling")).unwrap();
        let mut paths: Vec<PathBuf> = [
            "usr/lib/x",
            "lib/x",
            "bin/tool",
            "bin/up",
            "bin/../lib",
            "chain/x",
            "chain/x/../../bin/tool",
            "usr/bin/tool/..",
            "usr/bin/tool/x",
            "bin/tool/",
            "lib/x/",
            "loop1",
            "loop1/x",
            "dangling",
            "dangling/x",
            "missing",
            "usr/missing/x",
        ]
        .iter()
        .map(|p| r(p))
        .collect();
        for system in [
            "/",
            "/bin/true",
            "/bin/../etc",
            "/lib64",
            "/etc/localtime",
            "/usr/bin/../lib",
            "/proc/self",
            "/dev/stdin",
        ] {
            paths.push(PathBuf::from(system));
        }
        // One memo for them all (prefixes shared), and a fresh one for each.
        let memo = RealPaths::new();
        for p in &paths {
            let native = p.canonicalize().ok();
            // glibc's realpath takes `file/..` to the file's directory; the kernel (and
            // this) says ENOTDIR.
            let native = native.filter(|_| !p.ends_with("usr/bin/tool/.."));
            assert_eq!(memo.of(p), native, "{}", p.display());
            assert_eq!(RealPaths::new().of(p), native, "{} (fresh)", p.display());
            if let Some(real) = native {
                assert_eq!(memo.is_dir(p), p.is_dir(), "{}", p.display());
                let md = std::fs::symlink_metadata(&real).unwrap();
                use std::os::unix::fs::MetadataExt;
                assert_eq!(memo.identity(&real), Some((md.dev(), md.ino())));
            }
        }
    }

    #[test]
    fn a_prefix_is_looked_at_once_per_start() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("prefix/bin")).unwrap();
        std::fs::create_dir_all(root.join("prefix/lib")).unwrap();
        let memo = RealPaths::new();
        assert!(memo.is_real(&root.join("prefix/bin")));
        // Swapped for a symlink since: the remembered directory is not followed through
        // it (the survey's open, which follows no symlink, then refuses the start:
        // floor::tests::a_prefix_swapped_for_a_symlink_after_it_was_resolved_refuses_the_floor).
        std::fs::rename(root.join("prefix"), root.join("moved")).unwrap();
        std::os::unix::fs::symlink(root.join("moved"), root.join("prefix")).unwrap();
        assert_eq!(
            memo.of(&root.join("prefix/lib")),
            Some(root.join("prefix/lib"))
        );
        // A new start sees the symlink.
        assert_eq!(
            RealPaths::new().of(&root.join("prefix/lib")),
            Some(root.join("moved/lib"))
        );
    }
}
