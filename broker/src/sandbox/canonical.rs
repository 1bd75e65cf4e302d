//! Paths the user passes (`--ro ../x`, `--rw ./a/../b`, `--bind unix:../s.sock`) made
//! canonical the way the kernel resolves them, before they become rules: policies match
//! real paths (no `..`, no symlink), so a rule must name the real path too.
//!
//! A relative path is relative to the working directory. The components are walked one at
//! a time from `/`: `.` is dropped, a symlink is replaced by its real target, and `..`
//! leaves the *real* directory reached so far — as the kernel does, so `link/..` is the
//! parent of the link's target, not the directory holding the link. A path may name
//! something that does not exist yet (`--rw out` for a directory the program will create):
//! from the first missing component on the rest is kept as written, which must then hold no
//! `..` (the kernel could not resolve it either: `ENOENT`).

use std::io;
use std::path::{Component, Path, PathBuf};

/// Why a path cannot be made canonical.
#[derive(Debug, thiserror::Error)]
pub enum CanonicalError {
    /// A `..` follows a component that does not exist.
    #[error("`..` after {0}, which does not exist")]
    MissingBeforeDotDot(PathBuf),
    /// A component that is followed by more is not a directory.
    #[error("{0} is not a directory")]
    NotADirectory(PathBuf),
    /// Looking at a component failed.
    #[error("cannot resolve {path}: {source}")]
    Io {
        /// The component.
        path: PathBuf,
        /// What the kernel said.
        source: io::Error,
    },
}

/// `path` resolved like the kernel resolves it (see the module docs), relative paths
/// against `cwd`.
pub fn canonical(path: &Path, cwd: &Path) -> Result<PathBuf, CanonicalError> {
    let abs = cwd.join(path);
    let mut out = PathBuf::from("/");
    let mut parts = abs.components().peekable();
    while let Some(part) = parts.next() {
        match part {
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(name) => {
                let next = out.join(name);
                let meta = match std::fs::symlink_metadata(&next) {
                    Ok(m) => m,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        return missing(next, parts);
                    }
                    Err(source) => return Err(CanonicalError::Io { path: next, source }),
                };
                out = if meta.file_type().is_symlink() {
                    match std::fs::canonicalize(&next) {
                        Ok(real) => real,
                        // A dangling link: what it would create is not known; keep the name.
                        Err(e) if e.kind() == io::ErrorKind::NotFound => {
                            return missing(next, parts);
                        }
                        Err(source) => return Err(CanonicalError::Io { path: next, source }),
                    }
                } else {
                    next
                };
                let more = parts
                    .clone()
                    .any(|p| matches!(p, Component::Normal(_) | Component::ParentDir));
                if more && !out.is_dir() {
                    return Err(CanonicalError::NotADirectory(out));
                }
            }
        }
    }
    Ok(out)
}

/// The rest of a path from its first missing component `first` on: plain names only.
fn missing<'a>(
    first: PathBuf,
    rest: impl Iterator<Item = Component<'a>>,
) -> Result<PathBuf, CanonicalError> {
    let mut out = first.clone();
    for part in rest {
        match part {
            Component::Normal(name) => out.push(name),
            Component::CurDir => {}
            _ => return Err(CanonicalError::MissingBeforeDotDot(first)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_like_the_kernel() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::create_dir_all(root.join("c")).unwrap();
        std::fs::write(root.join("f"), "").unwrap();
        std::os::unix::fs::symlink(root.join("a/b"), root.join("c/link")).unwrap();
        std::os::unix::fs::symlink(root.join("nowhere"), root.join("dangling")).unwrap();
        let cwd = root.join("a");
        let c = |p: &str| canonical(Path::new(p), &cwd);
        assert_eq!(c("../c").unwrap(), root.join("c"));
        assert_eq!(c("./b/../b").unwrap(), root.join("a/b"));
        assert_eq!(c(".").unwrap(), root.join("a"));
        assert_eq!(
            c("../x").unwrap(),
            root.join("x"),
            "a missing last component"
        );
        assert_eq!(c("new/dir/./f").unwrap(), root.join("a/new/dir/f"));
        // `..` after a symlink leaves the link's target, as the kernel's walk does.
        assert_eq!(c("../c/link/..").unwrap(), root.join("a"));
        assert_eq!(c("../c/link").unwrap(), root.join("a/b"));
        assert_eq!(c("../dangling").unwrap(), root.join("dangling"));
        assert_eq!(
            c(root.join("c//link/").to_str().unwrap()).unwrap(),
            root.join("a/b")
        );
        assert!(matches!(
            c("missing/../b"),
            Err(CanonicalError::MissingBeforeDotDot(p)) if p == root.join("a/missing")
        ));
        assert!(matches!(
            c("../f/x"),
            Err(CanonicalError::NotADirectory(p)) if p == root.join("f")
        ));
        assert_eq!(c("/").unwrap(), PathBuf::from("/"));
        assert_eq!(c("/..").unwrap(), PathBuf::from("/"));
    }
}
