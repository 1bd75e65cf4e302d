//! Finding the command to run and the installation it lives in.
//!
//! `arbiter run -- python3` must work when `python3` is a pyenv shim under the home
//! directory: a script that execs an interpreter elsewhere under `~/.pyenv`. So the command
//! is resolved through `PATH`, every symlink hop and `#!` line, and each file met along the
//! way contributes its *installation prefix*: the directory above a `bin`, `sbin`, `shims`
//! or `libexec` directory, else the file's own directory. The policy then grants read and
//! exec on those prefixes (secrets below them stay denied by the policy's deny rules).

use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// How deep `#!` interpreters and symlinks are followed when looking for prefixes.
const MAX_HOPS: usize = 16;

/// Directory names whose parent is an installation prefix.
const BIN_DIRS: &[&str] = &["bin", "sbin", "shims", "libexec"];

/// Why a command cannot be run.
#[derive(Debug, thiserror::Error)]
pub enum ProgramError {
    /// Not found on PATH or at the given path (exit 127).
    #[error("{0}: command not found")]
    NotFound(String),
    /// Found but not executable (exit 126).
    #[error("{0}: permission denied (not an executable file)")]
    NotExecutable(String),
}

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Looks `cmd` up like execvp does (a name with `/` is used as is).
pub fn find(cmd: &OsStr, path_var: Option<&OsStr>) -> Result<PathBuf, ProgramError> {
    let name = cmd.to_string_lossy().into_owned();
    if cmd.as_bytes().contains(&b'/') {
        let p = PathBuf::from(cmd);
        return match std::fs::metadata(&p) {
            Err(_) => Err(ProgramError::NotFound(name)),
            Ok(_) if is_executable(&p) => Ok(p),
            Ok(_) => Err(ProgramError::NotExecutable(name)),
        };
    }
    let path_var = path_var
        .map(|v| v.to_os_string())
        .unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    let mut non_exec = None;
    for dir in std::env::split_paths(&path_var) {
        let candidate = if dir.as_os_str().is_empty() {
            PathBuf::from(cmd)
        } else {
            dir.join(cmd)
        };
        if is_executable(&candidate) {
            return Ok(candidate);
        }
        if candidate.is_file() {
            non_exec.get_or_insert(candidate);
        }
    }
    Err(match non_exec {
        Some(_) => ProgramError::NotExecutable(name),
        None => ProgramError::NotFound(name),
    })
}

/// The installation prefix of an executable file.
pub fn prefix_of(file: &Path) -> Option<PathBuf> {
    let dir = file.parent()?;
    let base = dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let prefix = if BIN_DIRS.contains(&base) {
        dir.parent()?.to_path_buf()
    } else {
        dir.to_path_buf()
    };
    Some(prefix)
}

/// The interpreter named by a `#!` line, if the file has one.
fn shebang(file: &Path) -> Option<(PathBuf, Option<String>)> {
    let mut head = [0u8; 256];
    let n = std::fs::File::open(file).ok()?.read(&mut head).ok()?;
    let line = head[..n].strip_prefix(b"#!")?;
    let line = &line[..line.iter().position(|&b| b == b'\n').unwrap_or(line.len())];
    let text = std::str::from_utf8(line).ok()?.trim();
    let mut parts = text.split_whitespace();
    let interp = PathBuf::from(parts.next()?);
    let arg = parts.next().map(str::to_owned);
    Some((interp, arg))
}

/// Every installation prefix involved in running `program`: its own, each symlink hop's,
/// and its interpreters' (through `#!` lines and `/usr/bin/env NAME`).
pub fn prefixes(program: &Path, path_var: Option<&OsStr>) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    let mut todo = vec![program.to_path_buf()];
    let mut hops = 0;
    while let Some(file) = todo.pop() {
        hops += 1;
        if hops > MAX_HOPS {
            break;
        }
        let abs = if file.is_absolute() {
            file.clone()
        } else {
            std::env::current_dir()
                .map(|d| d.join(&file))
                .unwrap_or(file.clone())
        };
        if let Some(p) = prefix_of(&abs) {
            out.push(p);
        }
        if let Ok(target) = std::fs::read_link(&abs) {
            todo.push(abs.parent().map(|d| d.join(&target)).unwrap_or(target));
            continue;
        }
        if let Some((interp, arg)) = shebang(&abs) {
            if interp.file_name() == Some(OsStr::new("env")) {
                if let Some(name) = arg.filter(|a| !a.starts_with('-')) {
                    if let Ok(found) = find(OsStr::new(&name), path_var) {
                        todo.push(found);
                    }
                }
            }
            todo.push(interp);
        }
    }
    // Never grant the root or the home directory itself.
    let home = std::env::var_os("HOME").map(PathBuf::from);
    out.retain(|p| p != Path::new("/") && Some(p) != home.as_ref());
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_is_the_directory_above_bin_or_shims() {
        assert_eq!(
            prefix_of(Path::new("/home/u/.pyenv/shims/python3")),
            Some(PathBuf::from("/home/u/.pyenv"))
        );
        assert_eq!(
            prefix_of(Path::new("/opt/node/bin/node")),
            Some(PathBuf::from("/opt/node"))
        );
        assert_eq!(
            prefix_of(Path::new("/opt/tool/run")),
            Some(PathBuf::from("/opt/tool"))
        );
    }

    #[test]
    fn shebang_scripts_contribute_their_interpreter() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("inst/bin");
        std::fs::create_dir_all(&bin).unwrap();
        let script = bin.join("tool");
        std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
        let got = prefixes(&script, None);
        assert!(got.contains(&dir.path().join("inst")), "{got:?}");
    }

    #[test]
    fn missing_and_non_executable_commands_are_told_apart() {
        assert!(matches!(
            find(OsStr::new("no-such-command-xyz"), None),
            Err(ProgramError::NotFound(_))
        ));
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("plain");
        std::fs::write(&f, "x").unwrap();
        assert!(matches!(
            find(f.as_os_str(), None),
            Err(ProgramError::NotExecutable(_))
        ));
    }
}
