//! Where a `--policy NAME` is found: the user's and the system's policy directories, then the
//! built-in profiles.
//!
//! An argument containing `/` or ending in `.toml` is a file path. `builtin:NAME` is always
//! the built-in profile. Any other NAME is looked up, first match wins, in:
//!
//! 1. `$XDG_CONFIG_HOME/arbiter/NAME.toml` (`~/.config/arbiter/NAME.toml` when
//!    `XDG_CONFIG_HOME` is unset);
//! 2. `/etc/arbiter/NAME.toml`;
//! 3. the built-in profile NAME (`arbiter profiles`).
//!
//! So a user's `default.toml` replaces the built-in `default` for that user; `arbiter profiles`
//! shows which file each name comes from.

use std::path::PathBuf;

use arbiter_policies::{profiles, Source};

/// The system-wide policy directory.
pub const SYSTEM_DIR: &str = "/etc/arbiter";

/// The directories searched for `NAME.toml`, in order.
pub fn directories() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".config"))
        });
    if let Some(config) = config {
        dirs.push(config.join("arbiter"));
    }
    dirs.push(PathBuf::from(SYSTEM_DIR));
    dirs
}

/// Whether an argument names a file rather than a profile.
fn is_path(arg: &str) -> bool {
    arg.contains('/') || arg.ends_with(".toml")
}

/// The policy source an argument of `--policy` names (see the module documentation). An
/// unknown name stays a built-in name, so loading it reports the unknown profile.
pub fn source(arg: &str) -> Source {
    if let Some(name) = arg.strip_prefix("builtin:") {
        return Source::Builtin(name.to_owned());
    }
    if is_path(arg) {
        return Source::File(PathBuf::from(arg));
    }
    match find_file(arg) {
        Some(file) => Source::File(file),
        // A file in the working directory named without `.toml` or `/` (as `explain` took
        // it before names were looked up), when no profile has that name.
        None if profiles::text(arg).is_none() && std::path::Path::new(arg).is_file() => {
            Source::File(PathBuf::from(arg))
        }
        None => Source::Builtin(arg.to_owned()),
    }
}

/// Whether an argument is a profile name (not a path), as `--daemon` requires.
pub fn is_name(arg: &str) -> bool {
    !is_path(arg)
}

/// The first `NAME.toml` in the policy directories.
pub fn find_file(name: &str) -> Option<PathBuf> {
    directories()
        .into_iter()
        .map(|d| d.join(format!("{name}.toml")))
        .find(|f| f.is_file())
}

/// One name `--policy` accepts, and where it comes from.
pub struct Named {
    /// The name to pass to `--policy`.
    pub name: String,
    /// The file it is read from, or `None` for a built-in profile.
    pub file: Option<PathBuf>,
    /// A built-in profile this name shadows (a user or system file of the same name).
    pub shadows_builtin: bool,
    /// The built-in profile's description (built-in profiles only).
    pub description: Option<&'static str>,
}

/// Every name `--policy` accepts, in lookup order: user and system files (each name once,
/// the first found), then the built-in profiles that no file shadows.
pub fn all() -> Vec<Named> {
    let mut out: Vec<Named> = Vec::new();
    for dir in directories() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
            .collect();
        files.sort();
        for file in files {
            let Some(name) = file.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            if out.iter().any(|n| n.name == name) {
                continue;
            }
            out.push(Named {
                name: name.to_owned(),
                shadows_builtin: profiles::text(name).is_some(),
                file: Some(file.clone()),
                description: None,
            });
        }
    }
    for (name, description) in profiles::list() {
        if out.iter().any(|n| n.name == *name) {
            continue;
        }
        out.push(Named {
            name: (*name).to_owned(),
            file: None,
            shadows_builtin: false,
            description: Some(description),
        });
    }
    out
}
