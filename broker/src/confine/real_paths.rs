//! Real paths of the floor's entries (and which are directories), resolved once per sandbox
//! start.
//!
//! Preparing the floor asks for the real location of the same paths several times (the
//! exec alignment, the installation prefixes, the policy's exec trees, native reads and
//! removals): each `std::fs::canonicalize` walks the path with one `readlink` per
//! component. A [`RealPaths`] remembers each answer for the one start that builds it and
//! is dropped with it, never shared across starts.
//!
//! Only paths that resolved are remembered, never a failure: a path that is missing now
//! may be created while the start runs (the private `$TMPDIR` is created by a thread
//! while the policy compiles), and is looked at again the next time it is asked about.
//! What the memo answers is what the kernel answered earlier in the same start. With each
//! real path it remembers the identity (device, inode) of the object found there, looked at
//! without following symlinks: the survey (`floor::survey`) opens every entry afterwards at
//! its real path without following any symlink and refuses to start when the object there
//! is no longer the one the floor was decided on ([`RealPaths::identity`]).

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// A per-start memo of `canonicalize` (see the module docs).
#[derive(Debug, Default)]
pub struct RealPaths {
    /// Path asked about → its real path; successes only.
    known: RefCell<HashMap<PathBuf, PathBuf>>,
    /// Paths found to be directories (symlinks followed); never a path that was not one.
    dirs: RefCell<HashSet<PathBuf>>,
    /// Real path → `(device, inode)` of what was there when it was resolved (`lstat`).
    ids: RefCell<HashMap<PathBuf, (u64, u64)>>,
}

impl RealPaths {
    /// An empty memo, for one sandbox start.
    pub fn new() -> Self {
        Self::default()
    }

    /// The real path of `path` (`std::fs::canonicalize`), or `None` when it cannot be
    /// resolved (missing, a dangling link, no permission): never remembered.
    pub fn of(&self, path: &Path) -> Option<PathBuf> {
        if let Some(real) = self.known.borrow().get(path) {
            return Some(real.clone());
        }
        let real = path.canonicalize().ok()?;
        if let Ok(md) = std::fs::symlink_metadata(&real) {
            use std::os::unix::fs::MetadataExt;
            self.ids
                .borrow_mut()
                .entry(real.clone())
                .or_insert((md.dev(), md.ino()));
        }
        self.known
            .borrow_mut()
            .insert(path.to_path_buf(), real.clone());
        Some(real)
    }

    /// The `(device, inode)` of the object found at the real path `real` when this memo
    /// first resolved a path to it (looked at without following symlinks), or `None` when it
    /// has not resolved one yet.
    pub fn identity(&self, real: &Path) -> Option<(u64, u64)> {
        self.ids.borrow().get(real).copied()
    }

    /// Whether `path` is a directory (`Path::is_dir`, symlinks followed). Only a `true` is
    /// remembered: a path that is not a directory (yet) is looked at again.
    pub fn is_dir(&self, path: &Path) -> bool {
        if self.dirs.borrow().contains(path) {
            return true;
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
}
