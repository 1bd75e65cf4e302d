//! Links GCC's unwinder statically (`libgcc_eh.a`) instead of needing `libgcc_s.so.1`:
//! one library less for ld.so to open and map when `arbiter` starts, and no run of its
//! CPU-detection constructor (CPUID traps to the hypervisor in a VM). Panics unwind as
//! before.
fn main() {
    println!("cargo:rustc-link-lib=static:-bundle=gcc_eh");
}
