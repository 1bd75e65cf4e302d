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

/// `BINPRM_BUF_SIZE`: how much of a file the kernel reads to find its `#!` line.
pub const BINPRM_BUF_SIZE: usize = 256;

/// The interpreter line of a script, as the kernel reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shebang {
    /// The interpreter (relative to the working directory unless absolute).
    pub interpreter: Vec<u8>,
    /// The one optional argument: everything after the interpreter, as one string.
    pub arg: Option<Vec<u8>>,
}

/// Parses the first [`BINPRM_BUF_SIZE`] bytes of a file exactly as Linux's `binfmt_script`
/// does (since 5.0): `#!`, optional spaces and tabs, the interpreter up to a space, tab or
/// NUL, then one optional argument (the rest of the line, spaces and tabs trimmed at both
/// ends, up to a NUL). Only space and tab separate; a line longer than the buffer is cut
/// there, unless the interpreter itself would be cut (no space, tab or NUL after it in the
/// buffer), which the kernel refuses (`ENOEXEC`): `None`, as for a file without `#!`.
pub fn parse_shebang(head: &[u8]) -> Option<Shebang> {
    let mut buf = [0u8; BINPRM_BUF_SIZE];
    let n = head.len().min(BINPRM_BUF_SIZE);
    buf[..n].copy_from_slice(&head[..n]);
    if !buf.starts_with(b"#!") {
        return None;
    }
    let spacetab = |b: u8| b == b' ' || b == b'\t';
    let terminator = |b: u8| b == b' ' || b == b'\t' || b == 0;
    let buf_end = BINPRM_BUF_SIZE - 1;
    let mut end = match buf.iter().position(|&b| b == b'\n') {
        Some(nl) => nl,
        None => {
            let name = (2..buf_end).find(|&i| !spacetab(buf[i]))?;
            (name..buf_end).find(|&i| terminator(buf[i]))?;
            buf_end
        }
    };
    while end > 2 && spacetab(buf[end - 1]) {
        end -= 1;
    }
    let name = (2..end).find(|&i| !spacetab(buf[i]))?;
    let sep = (name..end).find(|&i| terminator(buf[i]));
    let interpreter = buf[name..sep.unwrap_or(end)].to_vec();
    let arg = match sep {
        Some(sep) if buf[sep] != 0 => (sep..end).find(|&i| !spacetab(buf[i])).map(|a| {
            let arg = &buf[a..end];
            arg[..arg.iter().position(|&b| b == 0).unwrap_or(arg.len())].to_vec()
        }),
        _ => None,
    };
    Some(Shebang { interpreter, arg })
}

/// The `#!` line of `file`, if it has one the kernel would run.
fn shebang(file: &Path) -> Option<Shebang> {
    let mut head = [0u8; BINPRM_BUF_SIZE];
    let mut f = std::fs::File::open(file).ok()?;
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    parse_shebang(&head[..n])
}

/// The real file the kernel would execute for `path` (every symlink followed): `Some` only
/// for an existing regular file with an execute bit.
fn executable_target(path: &Path) -> Option<PathBuf> {
    let real = path.canonicalize().ok()?;
    is_executable(&real).then_some(real)
}

/// `path` with its directory resolved to its real location and its last component kept
/// (a symlink stays itself): where a file the kernel passes through really lies.
fn real_location(path: &Path) -> Option<PathBuf> {
    let dir = path.parent()?.canonicalize().ok()?;
    Some(dir.join(path.file_name()?))
}

/// The installation prefixes of the directories a path climbs out of with `..` (resolved
/// as the kernel walks it: `..` leaves the real directory reached so far), each only when
/// the file the path names lies beneath it: `prefix/bin/../lib/tool` (as npm's, go's and a
/// JDK's commands are reached, `/usr/bin/../lib/…`) needs `prefix/bin` looked up on the
/// way, which the policy decides as a `stat` there (docs/security.md, "No existence oracle
/// through the broker"), and `prefix` is the installation that holds both.
fn climbed_prefixes(path: &Path) -> Vec<PathBuf> {
    use std::path::Component;
    let Ok(target) = path.canonicalize() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut cur = PathBuf::from("/");
    for part in path.components() {
        match part {
            Component::Normal(name) => match cur.join(name).canonicalize() {
                Ok(real) => cur = real,
                Err(_) => break,
            },
            Component::ParentDir => {
                if let Some(p) = prefix_of(&cur.join("_")) {
                    if target.starts_with(&p) && p != cur {
                        out.push(p);
                    }
                }
                cur.pop();
            }
            _ => {}
        }
    }
    out
}

/// Every installation prefix involved in running `program`: its own, each symlink hop's,
/// and its interpreters' (through `#!` lines and `/usr/bin/env NAME`), as real paths.
///
/// Only what the kernel will execute counts: a hop or interpreter adds its prefix only when
/// the chain ends at an existing executable regular file, and `#!` lines are read as the
/// kernel reads them ([`parse_shebang`]; a relative interpreter is relative to the working
/// directory). Nothing the sandboxed program could have written adds a grant: the `#!` line
/// of a file, or the target of a symlink, for which `writable(real location)` holds (the
/// policy lets the program write or create it) is not followed.
pub fn prefixes(
    program: &Path,
    path_var: Option<&OsStr>,
    writable: &dyn Fn(&Path) -> bool,
) -> Vec<PathBuf> {
    installation(program, path_var, writable).prefixes
}

/// What running a command involves: its installation prefixes and the files the kernel
/// executes on the way (see [`installation`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Installation {
    /// Every installation prefix, as real paths, sorted ([`prefixes`]).
    pub prefixes: Vec<PathBuf>,
    /// The real executable files the chain ends at (the command, each `#!` interpreter),
    /// sorted: the files the kernel floor lets execute even where a prefix is not granted
    /// whole.
    pub files: Vec<PathBuf>,
}

/// The installation prefixes of `program` ([`prefixes`]) together with the real files the
/// kernel executes for it (the command and its interpreters, every symlink followed).
pub fn installation(
    program: &Path,
    path_var: Option<&OsStr>,
    writable: &dyn Fn(&Path) -> bool,
) -> Installation {
    let mut out: Vec<PathBuf> = Vec::new();
    let mut files: Vec<PathBuf> = Vec::new();
    let mut todo = vec![program.to_path_buf()];
    let mut hops = 0;
    let cwd = std::env::current_dir().ok();
    while let Some(file) = todo.pop() {
        hops += 1;
        if hops > MAX_HOPS {
            break;
        }
        let abs = match (&cwd, file.is_absolute()) {
            (_, true) => file.clone(),
            (Some(d), false) => d.join(&file),
            (None, false) => continue,
        };
        // The kernel will not execute from here: no grant.
        let Some(target) = executable_target(&abs) else {
            continue;
        };
        files.push(target);
        let Some(here) = real_location(&abs) else {
            continue;
        };
        if let Some(p) = prefix_of(&here) {
            out.push(p);
        }
        out.extend(climbed_prefixes(&abs));
        let trusted = !writable(&here);
        if let Ok(target) = std::fs::read_link(&here) {
            if trusted {
                todo.push(here.parent().map(|d| d.join(&target)).unwrap_or(target));
            }
            continue;
        }
        let Some(sb) = shebang(&here).filter(|_| trusted) else {
            continue;
        };
        let interp = PathBuf::from(OsStr::from_bytes(&sb.interpreter));
        if interp.file_name() == Some(OsStr::new("env")) {
            if let Some(name) = sb.arg.filter(|a| !a.starts_with(b"-")) {
                if let Ok(found) = find(OsStr::from_bytes(&name), path_var) {
                    todo.push(found);
                }
            }
        }
        todo.push(interp);
    }
    // Never grant the root or the home directory itself.
    let home = std::env::var_os("HOME").map(PathBuf::from);
    out.retain(|p| p != Path::new("/") && Some(p) != home.as_ref());
    out.sort();
    out.dedup();
    files.sort();
    files.dedup();
    Installation {
        prefixes: out,
        files,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_climbing_out_of_bin_adds_the_prefix_holding_both() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("p/bin")).unwrap();
        std::fs::create_dir_all(root.join("p/lib")).unwrap();
        std::fs::create_dir_all(root.join("q/bin")).unwrap();
        std::fs::write(root.join("p/lib/tool"), "").unwrap();
        std::os::unix::fs::symlink(root.join("p"), root.join("link")).unwrap();
        assert_eq!(
            climbed_prefixes(&root.join("link/bin/../lib/tool")),
            vec![root.join("p")]
        );
        // Climbing out of another installation's bin/ grants nothing there.
        assert!(climbed_prefixes(&root.join("q/bin/../../p/lib/tool")).is_empty());
        assert!(climbed_prefixes(&root.join("p/lib/tool")).is_empty());
    }

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

    fn sb(interp: &str, arg: Option<&str>) -> Option<Shebang> {
        Some(Shebang {
            interpreter: interp.as_bytes().to_vec(),
            arg: arg.map(|a| a.as_bytes().to_vec()),
        })
    }

    #[test]
    fn shebang_lines_are_read_as_the_kernel_reads_them() {
        assert_eq!(parse_shebang(b"#!/bin/sh\necho"), sb("/bin/sh", None));
        assert_eq!(parse_shebang(b"#! \t/bin/sh  \t\n"), sb("/bin/sh", None));
        // One argument: the rest of the line, spaces inside kept.
        assert_eq!(
            parse_shebang(b"#!/usr/bin/env python3 -u -X dev\n"),
            sb("/usr/bin/env", Some("python3 -u -X dev"))
        );
        // Only space and tab separate: a vertical tab or a no-break space is in the name.
        assert_eq!(
            parse_shebang(b"#!/bin/sh\x0b/x\n"),
            sb("/bin/sh\x0b/x", None)
        );
        assert_eq!(
            parse_shebang("#!/bin/sh\u{a0}/x\n".as_bytes()),
            sb("/bin/sh\u{a0}/x", None)
        );
        // A NUL ends the interpreter (and the argument).
        assert_eq!(parse_shebang(b"#!/bin/sh\0 /x\n"), sb("/bin/sh", None));
        assert_eq!(
            parse_shebang(b"#!/bin/sh -e\0x\n"),
            sb("/bin/sh", Some("-e"))
        );
        // Relative interpreters stay relative (to the working directory).
        assert_eq!(parse_shebang(b"#!tools/run\n"), sb("tools/run", None));
        assert_eq!(parse_shebang(b"#!\n"), None);
        assert_eq!(parse_shebang(b"# !/bin/sh\n"), None);
        // Longer than BINPRM_BUF_SIZE: cut at 255 bytes, unless the name itself is cut.
        let mut long = b"#!/bin/sh ".to_vec();
        long.extend([b'a'; 300]);
        assert_eq!(
            parse_shebang(&long),
            sb("/bin/sh", Some(&"a".repeat(BINPRM_BUF_SIZE - 1 - 10)))
        );
        let mut cut = b"#!/".to_vec();
        cut.extend([b'a'; 300]);
        assert_eq!(parse_shebang(&cut), None);
    }

    #[test]
    fn a_prefix_is_granted_only_where_the_kernel_executes_and_nothing_writable_adds_one() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let exe = |p: &Path, text: &str| {
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
        };
        exe(&root.join("opt/real/bin/interp"), "#!/bin/sh\n");
        exe(
            &root.join("work/a"),
            &format!("#!{}/opt/real/bin/interp\n", root.display()),
        );
        exe(
            &root.join("work/b"),
            &format!("#!{}/opt/ghost/bin/interp\n", root.display()),
        );
        let none = |_: &Path| false;
        // The interpreter exists and is executable: its prefix counts.
        let got = prefixes(&root.join("work/a"), None, &none);
        assert!(got.contains(&root.join("opt/real")), "{got:?}");
        // An interpreter that does not exist is never executed: no grant.
        let got = prefixes(&root.join("work/b"), None, &none);
        assert!(
            !got.iter().any(|p| p.starts_with(root.join("opt"))),
            "{got:?}"
        );
        // A script the program may write adds nothing through its `#!` line.
        let work = root.join("work");
        let writable = |p: &Path| p.starts_with(&work);
        let got = prefixes(&root.join("work/a"), None, &writable);
        assert_eq!(got, vec![work.clone()]);
        // Nor does a symlink it may write.
        std::os::unix::fs::symlink(root.join("opt/real/bin/interp"), work.join("l")).unwrap();
        assert_eq!(
            prefixes(&work.join("l"), None, &writable),
            vec![work.clone()]
        );
        assert!(prefixes(&work.join("l"), None, &none).contains(&root.join("opt/real")));
        // A file that is not executable is not run at all.
        std::fs::write(work.join("plain"), "#!/bin/sh\n").unwrap();
        assert!(prefixes(&work.join("plain"), None, &none).is_empty());
    }

    #[test]
    fn shebang_scripts_contribute_their_interpreter() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("inst/bin");
        std::fs::create_dir_all(&bin).unwrap();
        let script = bin.join("tool");
        std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let got = prefixes(&script, None, &|_| false);
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
