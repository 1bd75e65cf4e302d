//! The audit log must lie out of the sandboxed program's reach: a log file the policy lets
//! the program write, create, remove or rename (or whose directory it may) could be
//! truncated, forged or deleted by the very program it records (docs/audit.md, "Sinks").

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use arbiter::audit;
use arbiter_policies::{Access, Policy};

/// The rights that let a program change what a file holds or whether it is there.
const CHANGES: [(Access, &str); 4] = [
    (Access::WRITE, "write"),
    (Access::CREATE, "create"),
    (Access::REMOVE, "remove"),
    (Access::RENAME, "rename"),
];

/// Refuses a file sink that lies where `policy` lets the program write, create, remove or
/// rename, deciding on the log's real path and on its directory's. `flag` names the
/// option, for the message. Other sinks (stderr, syslog, journal) are not files the program
/// can reach through a path and pass.
pub fn check(policy: &Policy, sink: &audit::Sink, flag: &str, arg: &Path) -> Result<()> {
    let audit::Sink::File { path, .. } = sink else {
        return Ok(());
    };
    let (real, dir) = real_paths(path)?;
    for (what, p) in [("the audit log", &real), ("its directory", &dir)] {
        for (right, name) in CHANGES {
            let d = policy.decide_path(p, right).decision;
            if !d.allow {
                continue;
            }
            let rule = match d.rule {
                Some(r) => {
                    let info = policy.rule(r);
                    format!("rule {} ({})", info.origin, info.text)
                }
                None => "the policy's default".to_string(),
            };
            bail!(
                "{flag} {}: {what} {} lies where the sandboxed program may {name} ({rule}), so \
                 it could truncate, forge or delete its own audit log; put the log outside \
                 what the policy lets the program change (e.g. --audit /var/log/arbiter.log \
                 or a directory of its own), or pass --audit-in-sandbox-reach to accept that",
                arg.display(),
                p.display()
            );
        }
    }
    Ok(())
}

/// The log's real path (its directory resolved, and the file itself when it exists) and its
/// directory's.
fn real_paths(path: &Path) -> Result<(PathBuf, PathBuf)> {
    let abs = std::path::absolute(path)?;
    let name = abs.file_name().map(PathBuf::from);
    let parent = abs.parent().unwrap_or(Path::new("/"));
    let dir = parent.canonicalize().map_err(|e| {
        anyhow::anyhow!(
            "--audit {}: directory {}: {e}",
            path.display(),
            parent.display()
        )
    })?;
    let joined = match name {
        Some(n) => dir.join(n),
        None => dir.clone(),
    };
    let real = joined.canonicalize().unwrap_or(joined);
    let dir = real.parent().map(Path::to_path_buf).unwrap_or(dir);
    Ok((real, dir))
}
