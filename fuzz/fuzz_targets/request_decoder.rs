//! Fuzzes the broker's message decoder: any bytes a hostile peer sends must decode to a
//! request or be refused, never panic; a decoded request re-encodes to the same bytes.
#![no_main]

use arbiter_protocol::{decode, encode, Request, MAX_MESSAGE};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = decode::<Request>(data) {
        let _ = req.call.expected_fds();
        let _ = req.call.name();
        let mut buf = vec![0u8; MAX_MESSAGE];
        let again = encode(&req, &mut buf).expect("a decoded request re-encodes");
        assert_eq!(again, data);
    }
});
