//! Fuzzes the daemon's hello decoder and its validation
//! (`arbiter_protocol::fuzzing::hello`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| arbiter_protocol::fuzzing::hello(data));
