//! Shared by the compat tests: `tests/helpers/compat_fd.c` built dynamic and static into a
//! [`Floor`]'s helpers directory.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::floor_common::Floor;

/// The compat_fd helper, dynamic and static, in `f`'s helpers directory.
pub fn helpers(f: &Floor) -> Vec<PathBuf> {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("helpers/compat_fd.c");
    let mut out = Vec::new();
    for (name, extra) in [("compat_fd", None), ("compat_fd-static", Some("-static"))] {
        let bin = f.path("helpers").join(name);
        let ok = Command::new("cc")
            .args(extra)
            .arg("-o")
            .arg(&bin)
            .arg(&src)
            .arg("-lpthread")
            .stderr(Stdio::null())
            .status()
            .expect("cc")
            .success();
        if ok {
            out.push(bin);
        } else if extra.is_some() {
            eprintln!("note: static libc unavailable, skipping the -static helper");
        } else {
            panic!("cannot compile {}", src.display());
        }
    }
    out
}
