//! Every fuzz target's seed corpus (`fuzz/corpus/TARGET/`, cargo fuzz's own layout) replayed in a normal
//! `cargo test`: each file, every truncation of it and every single-bit flip of it go
//! through the same property the fuzz target checks (`arbiter_protocol::fuzzing`), so the
//! suite runs a short, deterministic fuzz pass over every decoder of untrusted bytes.

use std::path::Path;

use arbiter_protocol::fuzzing;

/// Feeds every corpus file of `target`, and its mutations, to `check`; returns how many
/// files there were.
fn replay(target: &str, check: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(format!("{target}_decoder"));
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        check(&bytes);
        for cut in 0..bytes.len() {
            check(&bytes[..cut]);
        }
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut m = bytes.clone();
                m[i] ^= 1 << bit;
                check(&m);
            }
        }
        seen += 1;
    }
    seen
}

#[test]
fn request_corpus() {
    assert!(
        replay("request", fuzzing::request) >= 30,
        "the corpus lost seeds"
    );
}

#[test]
fn bootstrap_corpus() {
    assert!(
        replay("bootstrap", fuzzing::bootstrap) >= 3,
        "the corpus lost seeds"
    );
}

#[test]
fn hello_corpus() {
    assert!(
        replay("hello", fuzzing::hello) >= 4,
        "the corpus lost seeds"
    );
}

#[test]
fn sockaddr_corpus() {
    assert!(
        replay("sockaddr", fuzzing::sockaddr) >= 8,
        "the corpus lost seeds"
    );
}

#[test]
fn ring_corpus() {
    assert!(
        replay("ring", fuzzing::ring_slot) >= 8,
        "the corpus lost seeds"
    );
}

/// Every fuzz target in `fuzz/Cargo.toml` has a corpus replayed here.
#[test]
fn every_fuzz_target_has_a_replayed_corpus() {
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/Cargo.toml"))
            .unwrap();
    let targets: Vec<&str> = manifest
        .lines()
        .filter_map(|l| l.strip_prefix("name = \""))
        .filter_map(|l| l.strip_suffix("_decoder\""))
        .collect();
    assert_eq!(
        targets,
        ["request", "bootstrap", "hello", "sockaddr", "ring"]
    );
}
