//! Builds the few lines of C that Rust cannot express: the variadic `execl` family.
fn main() {
    println!("cargo:rerun-if-changed=src/exec_variadic.c");
    cc::Build::new()
        .file("src/exec_variadic.c")
        .flag_if_supported("-fvisibility=default")
        .compile("arbiter_exec_variadic");
}
