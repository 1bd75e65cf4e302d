//! Fuzzes the bootstrap socket's decoder: a registration and a seccomp listener message
//! never decode from the same bytes (`arbiter_protocol::fuzzing::bootstrap`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| arbiter_protocol::fuzzing::bootstrap(data));
