//! Fuzzes the seccomp transport's socket-address decoder: the first byte picks the socket's
//! family, the rest is the program's `sockaddr` (`arbiter_protocol::fuzzing::sockaddr`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| arbiter_protocol::fuzzing::sockaddr(data));
