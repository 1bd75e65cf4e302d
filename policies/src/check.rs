//! `check`: every diagnostic of a set of sources, warnings included. Besides what loading
//! reports, it warns about rule paths that run through symlinks (looking at the file system:
//! this is an edge, never part of a decision).

use crate::access::Access;
use crate::error::{Diagnostic, ErrorKind, Severity};
use crate::glob::PathPattern;
use crate::net::NetTarget;
use crate::rule::Target;
use crate::source::{Source, Vars};
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

/// Loads `sources` as [`Policy::load`](crate::Policy::load) would and returns every problem: all errors, and
/// warnings for rule paths (outside the built-in profiles) that run through a symlink.
/// The policy is valid when no diagnostic is an error.
///
/// The broker matches rules against real paths (symlinks resolved), so a rule on
/// `/etc/resolv.conf`, a symlink to `/run/systemd/resolve/stub-resolv.conf`, never applies;
/// the warning names the real path and says what decides it now.
pub fn check(sources: &[Source], vars: &Vars) -> Vec<Diagnostic> {
    let loaded = crate::load::load(sources, vars);
    let mut diags = loaded.diags;
    if diags.iter().any(Diagnostic::is_error) {
        return diags;
    }
    let rules = loaded.rules.clone();
    let policy = crate::compile::compile(loaded.rules, loaded.defaults);
    for rule in rules.iter().filter(|r| !r.builtin) {
        let (pattern, is_fs) = match &rule.target {
            Target::Path(p) => (p, true),
            Target::Net(NetTarget::Unix(p)) => (p, false),
            _ => continue,
        };
        let root = PathBuf::from(OsString::from_vec(pattern.root().to_vec()));
        let Some(real) = real_path(&root) else {
            continue;
        };
        let shown = root.display();
        let what = match std::fs::symlink_metadata(&root) {
            Ok(m) if m.file_type().is_symlink() => {
                format!("`{shown}` is a symlink to `{}`", real.display())
            }
            _ => format!(
                "`{shown}` runs through a symlink; its real path is `{}`",
                real.display()
            ),
        };
        let mut hint = format!(
            "rules match real paths, so this rule never applies; write `{}`",
            real.display()
        );
        if is_fs && matches!(pattern, PathPattern::Literal(_)) {
            let access = if rule.access.is_empty() {
                Access::STAT
            } else {
                rule.access
            };
            let d = policy.decide_path(&real, access).decision;
            match d.rule {
                None => hint.push_str(", which no rule covers now"),
                Some(id) => hint.push_str(&format!(
                    ", which the rule at {} decides now",
                    policy.rule(id).origin
                )),
            }
        }
        diags.push(Diagnostic {
            severity: Severity::Warning,
            kind: ErrorKind::SymlinkPath,
            at: rule.origin.clone(),
            message: what,
            text: rule.text(),
            hint: Some(hint),
        });
    }
    diags
}

/// The real path of `path` when it differs: the longest existing ancestor canonicalised,
/// with the rest appended (for a dangling symlink, its target as written). `None` when
/// nothing on the way is a symlink.
fn real_path(path: &Path) -> Option<PathBuf> {
    let mut existing = path;
    let mut rest = Vec::new();
    while std::fs::symlink_metadata(existing).is_err() {
        rest.push(existing.file_name()?);
        existing = existing.parent()?;
    }
    let mut real = match std::fs::canonicalize(existing) {
        Ok(real) => real,
        // A dangling symlink: name where it points, as written.
        Err(_) => existing.parent()?.join(std::fs::read_link(existing).ok()?),
    };
    for name in rest.iter().rev() {
        real.push(name);
    }
    (real != path).then_some(real)
}
