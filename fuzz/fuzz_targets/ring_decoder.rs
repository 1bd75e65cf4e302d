//! Fuzzes the report ring's slot decoder: the bytes a hostile program may leave in a slot
//! of the shared audit ring (`arbiter_protocol::fuzzing::ring_slot`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| arbiter_protocol::fuzzing::ring_slot(data));
