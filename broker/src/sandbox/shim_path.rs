//! Locating and checking the shim library to preload.
//!
//! Lookup order (first that exists wins):
//! 1. `$ARBITER_SHIM_PATH` (must exist);
//! 2. next to the `arbiter` binary (a cargo build tree: `target/release/`; for a program
//!    built in `target/*/examples/` or `target/*/deps/`, one level up);
//! 3. `<arbiter's directory>/../lib/arbiter/` (what `install.sh PREFIX` makes:
//!    `PREFIX/bin/arbiter` and `PREFIX/lib/arbiter/libarbiter_shim.so`);
//! 4. `/usr/local/lib/arbiter/`, then `/usr/lib/arbiter/`.
//!
//! Before a run, [`check`] makes sure the file is a shared library ld.so can preload on this
//! machine: a file that is not makes `arbiter run` fail (exit 125) instead of letting ld.so
//! print a warning and start the program without the shim.

use std::io::Read;
use std::path::{Path, PathBuf};

/// The shim's file name as cargo builds it.
pub const SHIM_FILE: &str = "libarbiter_shim.so";

/// System-wide directories searched after the ones relative to the binary.
const SYSTEM_DIRS: &[&str] = &["/usr/local/lib/arbiter", "/usr/lib/arbiter"];

/// The places searched, in order (without `$ARBITER_SHIM_PATH`).
pub fn candidates() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        out.push(dir.join(SHIM_FILE));
        out.push(dir.join("../lib/arbiter").join(SHIM_FILE));
        // A library user in a cargo build tree (`target/debug/examples/`, `…/deps/`): the
        // shim is one level up.
        if dir.ends_with("examples") || dir.ends_with("deps") {
            out.push(dir.join("..").join(SHIM_FILE));
        }
    }
    out.extend(SYSTEM_DIRS.iter().map(|d| Path::new(d).join(SHIM_FILE)));
    out
}

/// Finds the shim (see the module documentation for the order).
pub fn locate() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("ARBITER_SHIM_PATH") {
        let p = PathBuf::from(p);
        return if p.is_file() {
            p.canonicalize()
                .map_err(|e| format!("ARBITER_SHIM_PATH={}: {e}", p.display()))
        } else {
            Err(format!("ARBITER_SHIM_PATH={} is not a file", p.display()))
        };
    }
    let candidates = candidates();
    for c in &candidates {
        if c.is_file() {
            return c
                .canonicalize()
                .map_err(|e| format!("{}: {e}", c.display()));
        }
    }
    let tried: Vec<String> = candidates.iter().map(|c| c.display().to_string()).collect();
    Err(format!(
        "cannot find the shim {SHIM_FILE} (looked in: {}); build it with `cargo build`, install it with `./install.sh PREFIX`, or set ARBITER_SHIM_PATH",
        tried.join(", ")
    ))
}

/// `e_machine` of this build's architecture.
#[cfg(target_arch = "x86_64")]
const MACHINE: u16 = 62; // EM_X86_64
#[cfg(target_arch = "aarch64")]
const MACHINE: u16 = 183; // EM_AARCH64
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const MACHINE: u16 = 0;

/// Checks that `path` is a 64-bit little-endian ELF shared object for this machine (what
/// ld.so needs to preload it), reading only its header.
pub fn check(path: &Path) -> Result<(), String> {
    let mut header = Vec::with_capacity(20);
    let f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    f.take(20)
        .read_to_end(&mut header)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let what = if header.len() < 4 || &header[..4] != b"\x7fELF" {
        Some("not an ELF file")
    } else if header.len() < 20 {
        Some("a truncated ELF file")
    } else if header[4] != 2 || header[5] != 1 {
        Some("not a 64-bit little-endian ELF file")
    } else if u16::from_le_bytes([header[16], header[17]]) != 3 {
        Some("an ELF file, but not a shared library (ET_DYN)")
    } else if MACHINE != 0 && u16::from_le_bytes([header[18], header[19]]) != MACHINE {
        Some("a shared library for another architecture")
    } else {
        None
    };
    match what {
        Some(what) => Err(format!(
            "the shim {} is {what}; ld.so would skip it and run the program unbrokered",
            path.display()
        )),
        None => Ok(()),
    }
}

/// The version stamp in the shim's file (`arbiter-shim/VERSION/protocol-N`), if any.
pub fn stamp(path: &Path) -> Option<String> {
    let bytes = std::fs::read(path).ok()?;
    let prefix = b"arbiter-shim/";
    let at = bytes.windows(prefix.len()).position(|w| w == prefix)?;
    let end = bytes[at..].iter().position(|&b| b == 0)?;
    String::from_utf8(bytes[at..at + end].to_vec()).ok()
}

/// The stamp this `arbiter` expects.
pub fn expected_stamp() -> String {
    let s = arbiter_protocol::SHIM_STAMP;
    String::from_utf8_lossy(&s[..s.len() - 1]).into_owned()
}

/// What `arbiter doctor` says about the shim: whether `arbiter run` can use it, and one line
/// each on where it is, whether ld.so can preload it, and whether its version matches.
pub fn diagnose() -> (bool, Vec<String>) {
    let path = match locate() {
        Ok(p) => p,
        Err(e) => return (false, vec![format!("shim: NOT FOUND: {e}")]),
    };
    let mut lines = vec![format!("shim: {}", path.display())];
    let mut ok = true;
    match check(&path) {
        Ok(()) => lines.push("  [x] a shared library ld.so can preload here".into()),
        Err(e) => {
            ok = false;
            lines.push(format!("  [ ] {e}"));
        }
    }
    let expected = expected_stamp();
    match stamp(&path) {
        Some(found) if found == expected => lines.push(format!("  [x] version {found}")),
        Some(found) => {
            ok = false;
            lines.push(format!(
                "  [ ] version {found}, but this arbiter is {expected}: install both from one build"
            ));
        }
        None => {
            ok = false;
            lines.push(format!("  [ ] no version stamp (expected {expected}): not arbiter's shim, or a very old one"));
        }
    }
    lines.push("  [x] inside the kernel floor (arbiter grants its own shim read+exec)".into());
    (ok, lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_file_or_an_executable_is_not_a_shim() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("x.so");
        std::fs::write(&text, "not a library at all, just text").unwrap();
        assert!(check(&text).unwrap_err().contains("not an ELF file"));
        // /bin/true is ET_DYN when built as PIE; a static non-PIE would be ET_EXEC. Check the
        // arbiter test binary's own loader instead: ld.so is a shared object.
        assert!(check(Path::new("/nonexistent")).is_err());
    }

    #[test]
    fn the_expected_stamp_names_the_protocol_version() {
        assert!(expected_stamp()
            .ends_with(&format!("/protocol-{}", arbiter_protocol::PROTOCOL_VERSION)));
    }
}
