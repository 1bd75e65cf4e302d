//! Locating the shim library to preload.

use std::path::PathBuf;

/// The shim's file name as cargo builds it.
pub const SHIM_FILE: &str = "libarbiter_shim.so";

/// Finds the shim: `$ARBITER_SHIM_PATH`, next to the `arbiter` binary, or in `../lib/arbiter/`.
pub fn locate() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("ARBITER_SHIM_PATH") {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!("ARBITER_SHIM_PATH={} is not a file", p.display()))
        };
    }
    let exe =
        std::env::current_exe().map_err(|e| format!("cannot find arbiter's own path: {e}"))?;
    let dir = exe.parent().ok_or("arbiter's path has no directory")?;
    let candidates = [
        dir.join(SHIM_FILE),
        dir.join("../lib/arbiter").join(SHIM_FILE),
    ];
    for c in &candidates {
        if c.is_file() {
            return c
                .canonicalize()
                .map_err(|e| format!("{}: {e}", c.display()));
        }
    }
    Err(format!("cannot find the shim {SHIM_FILE} next to {} (build it with `cargo build`, or set ARBITER_SHIM_PATH)", exe.display()))
}
