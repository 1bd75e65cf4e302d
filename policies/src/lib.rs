//! arbiter's policy language. (Placeholder API; the full language is being built.)
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::path::{Path, PathBuf};

/// A set of access rights on a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Access(u16);

impl Access {
    /// Read a file's contents.
    pub const READ: Access = Access(1);
    /// Write or truncate an existing file.
    pub const WRITE: Access = Access(2);
    /// Create a file, directory, fifo or link.
    pub const CREATE: Access = Access(4);
    /// Remove a file or directory.
    pub const REMOVE: Access = Access(8);
    /// Rename within the rule's tree.
    pub const RENAME: Access = Access(16);
    /// List a directory.
    pub const LIST: Access = Access(32);
    /// Read metadata (stat, access, readlink).
    pub const STAT: Access = Access(64);
    /// Execute.
    pub const EXEC: Access = Access(128);
    /// Change metadata (chmod, chown, utimes).
    pub const SETATTR: Access = Access(256);
    /// No access.
    pub const NONE: Access = Access(0);
    /// True if every right in `other` is in `self`.
    pub fn contains(self, other: Access) -> bool {
        self.0 & other.0 == other.0
    }
}
impl std::ops::BitOr for Access {
    type Output = Access;
    fn bitor(self, o: Access) -> Access {
        Access(self.0 | o.0)
    }
}

/// Where policy text comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A built-in profile by name.
    Builtin(String),
    /// A file.
    File(PathBuf),
    /// Text generated elsewhere (command-line additions), with a name for messages.
    Text {
        /// Shown as the rule's origin.
        origin: String,
        /// TOML text.
        text: String,
    },
}

/// Variables expanded at load.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    /// `$HOME` / `~`.
    pub home: Option<PathBuf>,
    /// `$PWD`.
    pub pwd: PathBuf,
    /// `$TMPDIR`.
    pub tmpdir: PathBuf,
}

/// Identifies a rule of a compiled policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RuleId(pub u32);

/// A decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Allowed or not.
    pub allow: bool,
    /// The rule that decided, `None` for the family default.
    pub rule: Option<RuleId>,
    /// errno for a denial.
    pub errno: i32,
}

/// A decision on a path, with what the broker needs to open beneath the rule's root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathDecision {
    /// The decision.
    pub decision: Decision,
    /// Index into [`Policy::roots`] of the deciding rule's literal directory.
    pub root: Option<usize>,
    /// No other rule can match anything beneath that root.
    pub uniform: bool,
}

/// A compiled policy.
#[derive(Debug, Clone)]
pub struct Policy {
    rules: Vec<(PathBuf, Access)>,
}

/// Policy errors.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// Anything.
    #[error("{0}")]
    Invalid(String),
}

impl Policy {
    /// Loads and compiles.
    pub fn load(_sources: &[Source], vars: &Vars) -> Result<Policy, PolicyError> {
        let ro = Access::READ | Access::LIST | Access::STAT | Access::EXEC;
        let rw =
            ro | Access::WRITE | Access::CREATE | Access::REMOVE | Access::RENAME | Access::SETATTR;
        let mut rules: Vec<(PathBuf, Access)> = [
            "/usr",
            "/lib",
            "/lib64",
            "/bin",
            "/etc",
            "/dev/null",
            "/dev/urandom",
            "/root/.pyenv",
        ]
        .iter()
        .map(|p| (PathBuf::from(p), ro))
        .collect();
        rules.push((PathBuf::from("/etc/shadow"), Access::NONE));
        rules.push((vars.pwd.clone(), rw));
        rules.push((vars.tmpdir.clone(), rw));
        Ok(Policy { rules })
    }
    /// Decides.
    pub fn decide_path(&self, path: &Path, access: Access) -> PathDecision {
        let best = self
            .rules
            .iter()
            .enumerate()
            .filter(|(_, (p, _))| path.starts_with(p))
            .max_by_key(|(_, (p, _))| p.as_os_str().len());
        match best {
            Some((i, (_, a))) => PathDecision {
                decision: Decision {
                    allow: a.contains(access),
                    rule: Some(RuleId(i as u32)),
                    errno: libc::EACCES,
                },
                root: Some(i),
                uniform: !self
                    .rules
                    .iter()
                    .any(|(q, _)| q != &self.rules[i].0 && q.starts_with(&self.rules[i].0)),
            },
            None => PathDecision {
                decision: Decision {
                    allow: false,
                    rule: None,
                    errno: libc::EACCES,
                },
                root: None,
                uniform: false,
            },
        }
    }
    /// Roots.
    pub fn roots(&self) -> Vec<&Path> {
        self.rules.iter().map(|(p, _)| p.as_path()).collect()
    }
}
