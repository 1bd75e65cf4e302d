//! Turns each built-in profile (`profiles/NAME.toml`) into Rust that builds its TOML tree
//! (`src/tree.rs`, written out by `src/tree_rust.rs`), so `arbiter run` does not parse the
//! built-in TOML at every start: `$OUT_DIR/profile_trees.rs`, included by `src/profiles.rs`.
//! The test `built_profile_trees_are_the_runtime_parse` holds each tree equal to the
//! runtime parse of the same text.

#[allow(dead_code)]
#[path = "src/tree.rs"]
mod tree;
#[path = "src/tree_rust.rs"]
mod tree_rust;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/tree.rs");
    println!("cargo:rerun-if-changed=src/tree_rust.rs");
    println!("cargo:rerun-if-changed=profiles");
    let mut files: Vec<_> = std::fs::read_dir("profiles")
        .expect("cannot read profiles/")
        .map(|e| e.expect("cannot read profiles/").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    let mut out = String::from(
        "/// The tree of the built-in profile `name`'s text, as `tree::from_toml` makes it.\n\
         pub(crate) fn tree(name: &str) -> Option<tree::Table> {\n    match name {\n",
    );
    for file in files {
        println!("cargo:rerun-if-changed={}", file.display());
        let name = file
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("a UTF-8 profile name");
        let text = std::fs::read_to_string(&file).expect("a readable profile");
        let doc = toml_edit::ImDocument::parse(text.as_str())
            .unwrap_or_else(|e| panic!("{}: invalid TOML: {e}", file.display()));
        out.push_str(&format!(
            "        {name:?} => Some({}),\n",
            tree::from_toml(&doc).rust()
        ));
    }
    out.push_str("        _ => None,\n    }\n}\n");
    let dest = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("profile_trees.rs");
    std::fs::write(dest, out).expect("cannot write profile_trees.rs");
}
