//! Fuzzes the broker's call-channel decoder and the validation at the edge: any bytes a
//! hostile peer sends must decode to a request or be refused, never panic; a decoded request
//! re-encodes to the same request; a request that passes the checks carries only paths a
//! system call could have been given (`arbiter_protocol::fuzzing::request`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| arbiter_protocol::fuzzing::request(data));
