//! Builds the few lines of C that Rust cannot express: the variadic `execl` family.
//!
//! It also links GCC's unwinder statically (`libgcc_eh.a`, its symbols kept private), so
//! the shim does not need `libgcc_s.so.1`: a program that does not load it itself (most C
//! programs, `/bin/true`) would otherwise have ld.so open and map it — through a seccomp
//! notification in the sandbox — and run its CPU-detection constructor in every process.
//! The hooks' `catch_unwind` keeps working with the private unwinder.
fn main() {
    println!("cargo:rerun-if-changed=src/exec_variadic.c");
    cc::Build::new()
        .file("src/exec_variadic.c")
        .flag_if_supported("-fvisibility=default")
        .compile("arbiter_exec_variadic");
    println!("cargo:rustc-link-lib=static:-bundle=gcc_eh");
    println!("cargo:rustc-cdylib-link-arg=-Wl,--exclude-libs,libgcc_eh.a");
}
