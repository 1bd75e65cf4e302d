//! Diagnostics: where a policy is wrong, what was written there, and how to fix it.
//!
//! Every problem found while loading a policy becomes a [`Diagnostic`] that keeps the source
//! name, the line and column (1-based, columns counted in characters), the offending text and,
//! where one helps, a hint. [`PolicyError`] is what [`Policy::load`](crate::Policy::load)
//! returns; `check` returns the diagnostics themselves, warnings included.

use std::fmt;
use std::path::PathBuf;

/// A place in a policy source: `origin:line:column`.
///
/// `line` and `column` are 1-based; both are 0 when the problem has no place in a text (a
/// command-line value, a file that cannot be read).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Location {
    /// The source's name: a file path as given, `builtin:NAME`, or a text source's origin.
    pub origin: String,
    /// 1-based line, or 0.
    pub line: u32,
    /// 1-based column in characters, or 0.
    pub column: u32,
}

impl Location {
    /// A location with no line or column.
    pub fn whole(origin: impl Into<String>) -> Location {
        Location {
            origin: origin.into(),
            line: 0,
            column: 0,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.origin)
        } else {
            write!(f, "{}:{}:{}", self.origin, self.line, self.column)
        }
    }
}

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Severity {
    /// The policy cannot be used.
    Error,
    /// The policy loads, but probably does not do what was meant (only `check` reports these).
    Warning,
}

/// What kind of problem a diagnostic reports. Tests and tools match on this; the message is
/// for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The text is not valid TOML.
    Toml,
    /// A key this place does not know (often a typo; the hint names the closest known key).
    UnknownKey,
    /// A required key is missing.
    MissingKey,
    /// A value has the wrong TOML type.
    WrongType,
    /// Keys that cannot be used together, or a value that makes no sense with another.
    ConflictingKeys,
    /// A word that is not in the access vocabulary.
    UnknownAccess,
    /// A `$VAR` that is not one of the documented variables, or `~user`.
    UnknownVariable,
    /// A documented variable that has no value in this environment.
    UnsetVariable,
    /// A path that is not absolute, contains `..`, or is otherwise unusable.
    BadPath,
    /// A malformed wildcard pattern.
    BadGlob,
    /// An errno name arbiter does not know.
    BadErrno,
    /// An audit setting other than `default`, `log`, `silent`.
    BadAudit,
    /// A malformed port, port list or range.
    BadPorts,
    /// A malformed IP address or CIDR block.
    BadAddress,
    /// A malformed host name or host pattern.
    BadHost,
    /// A malformed socket mode.
    BadMode,
    /// A protocol other than `tcp`, `udp`, `any`.
    BadProto,
    /// A `[defaults]` value that is not allowed.
    BadDefault,
    /// A `version` this build does not support.
    UnsupportedVersion,
    /// `extends` names a built-in profile that does not exist.
    UnknownProfile,
    /// A policy file (or an included one) cannot be read.
    Unreadable,
    /// `extends` includes a source that is already being loaded.
    Cycle,
    /// A command-line addition (`--rw`, `--connect`, …) that cannot be turned into a rule.
    BadAddition,
    /// A rule path runs through a symlink, so it can never match (warning, from `check`).
    SymlinkPath,
}

/// One problem in a policy, with its place, the offending text and a hint.
///
/// Renders as `origin:line:col: message (hint: …)`; warnings as `origin:line:col: warning: …`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// What went wrong, for programs.
    pub kind: ErrorKind,
    /// Where.
    pub at: Location,
    /// What went wrong, for people; it quotes the offending text.
    pub message: String,
    /// The offending text exactly as written (may be empty when nothing was written, e.g. a
    /// missing key).
    pub text: String,
    /// How to fix it, when arbiter can tell.
    pub hint: Option<String>,
}

impl Diagnostic {
    /// True for [`Severity::Error`].
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.at)?;
        if self.severity == Severity::Warning {
            f.write_str("warning: ")?;
        }
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

/// A list of diagnostics, displayed one per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// Why a policy could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// A policy file named directly (not through `extends`) could not be read.
    #[error("cannot read policy file {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why `read` failed.
        #[source]
        source: std::io::Error,
    },
    /// The policy has errors; every error found is listed (warnings are not).
    #[error("{0}")]
    Invalid(Diagnostics),
}

impl PolicyError {
    /// The diagnostics of an [`PolicyError::Invalid`] error; empty for other kinds.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            PolicyError::Invalid(d) => &d.0,
            PolicyError::Read { .. } => &[],
        }
    }
}

/// The candidate closest to `word` by edit distance, if it is close enough to be a likely typo.
pub(crate) fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .iter()
        .map(|c| {
            let d = edit_distance(&word.to_ascii_lowercase(), &c.to_ascii_lowercase());
            (d, *c)
        })
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// "did you mean `x`?" or a list of what is accepted.
pub(crate) fn suggest(word: &str, candidates: &[&str]) -> String {
    match closest(word, candidates) {
        Some(c) => format!("did you mean `{c}`?"),
        None => format!("expected one of: {}", candidates.join(", ")),
    }
}

/// Levenshtein distance, with a transposition counted as one edit.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > 3 || a.len() > 64 || b.len() > 64 {
        return usize::MAX;
    }
    // Optimal string alignment distance.
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_get_suggestions() {
        assert_eq!(
            closest("acess", &["allow", "access", "path"]),
            Some("access")
        );
        assert_eq!(closest("wirte", &["write", "read"]), Some("write"));
        assert_eq!(closest("zzzzzz", &["write", "read"]), None);
    }
}
