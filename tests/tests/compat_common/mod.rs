//! Shared by the compat tests: `tests/helpers/compat_fd.c` built dynamic and static into a
//! [`Floor`]'s helpers directory.
#![allow(dead_code)]

use std::path::PathBuf;

use crate::floor_common::Floor;

/// The compat_fd helper, dynamic and static, in `f`'s helpers directory.
pub fn helpers(f: &Floor) -> Vec<PathBuf> {
    arbiter_tests::compile_dynamic_and_static("compat_fd", &f.path("helpers"), &["-lpthread"])
}
