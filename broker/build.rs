//! Build steps of the `arbiter` crate:
//!
//! 1. Links GCC's unwinder statically (`libgcc_eh.a`) instead of needing `libgcc_s.so.1`:
//!    one library less for ld.so to open and map when `arbiter` starts, and no run of its
//!    CPU-detection constructor (CPUID traps to the hypervisor in a VM). Panics unwind as
//!    before.
//! 2. Compiles the seccomp program for every option (`confine::seccomp_program`, with the
//!    same source files the crate compiles) into `$OUT_DIR/seccomp_programs.bin`, which the
//!    binary embeds: a start takes its program from there instead of compiling it. The
//!    table's constants are the build machine's `libc` values, so a cross-compiled build
//!    embeds nothing and compiles at start-up as before.

#[allow(dead_code)]
#[path = "src/confine/bpf.rs"]
mod bpf;
#[allow(dead_code)]
#[path = "src/confine/seccomp_program.rs"]
mod seccomp_program;
#[allow(dead_code)]
#[path = "src/confine/syscall_numbers.rs"]
mod syscall_numbers;
#[allow(dead_code)]
#[path = "src/confine/syscalls.rs"]
mod syscalls;

use seccomp_program::Options;

fn main() {
    println!("cargo:rustc-link-lib=static:-bundle=gcc_eh");
    for file in [
        "src/confine/bpf.rs",
        "src/confine/seccomp_program.rs",
        "src/confine/syscall_numbers.rs",
        "src/confine/syscalls.rs",
    ] {
        println!("cargo:rerun-if-changed={file}");
    }
    println!("cargo:rerun-if-changed=build.rs");
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("seccomp_programs.bin");
    let native = std::env::var("HOST").ok() == std::env::var("TARGET").ok();
    let bytes = match bpf::audit_arch().filter(|_| native) {
        Some(arch) => {
            let programs: Vec<_> = (0..Options::COUNT)
                .map(|i| {
                    seccomp_program::compile(arch, syscalls::numbers(), Options::from_index(i))
                        .expect("the syscall table compiles")
                })
                .collect();
            seccomp_program::encode(&programs)
        }
        None => Vec::new(),
    };
    std::fs::write(&out, bytes).expect("cannot write seccomp_programs.bin");
}
