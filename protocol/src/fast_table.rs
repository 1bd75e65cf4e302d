//! The fast-path table every process of a sandbox inherits, so the shim learns what it may
//! answer in-process without a round trip to the broker.
//!
//! `arbiter run` writes the bytes a [`crate::Call::FastPaths`] reply would carry into a
//! memfd, seals it ([`SEALS`]: nothing can write, grow, shrink or unseal it), and places it
//! at [`FAST_TABLE_FD`] in the command, which every process it starts inherits across
//! `fork` and `exec`. The shim reads it once per process, lazily, with `pread`, and accepts
//! it only when the descriptor carries every one of these seals and the contents start with
//! [`MAGIC`] and fit ([`parse`]); anything else (no such fd, an fd the program put there)
//! makes it ask the broker as before.
//!
//! Nothing here is trusted for authority: the table is a hint about what the broker would
//! answer. A program that closes or replaces the descriptor changes only its own (and its
//! children's) hints; what a hint makes the shim do natively is decided by the kernel
//! (Landlock, the seccomp filter), as when the program makes those calls itself.
//! When the shim must report what it answers in-process (`--audit-level all`), the table is
//! not offered: the report ring comes only with the broker's reply.

use crate::FAST_PATHS_MAX;

/// The fd number of the inherited table in every process of an `arbiter run` sandbox.
pub const FAST_TABLE_FD: i32 = 1022;

/// The first bytes of the table, naming its format (version 1).
pub const MAGIC: [u8; 8] = *b"arbFT\0\0\x01";

/// The seals the table's memfd carries: `F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW |
/// F_SEAL_WRITE` (values from `linux/fcntl.h`).
pub const SEALS: i32 = 0x0001 | 0x0002 | 0x0004 | 0x0008;

/// Most bytes a table file holds: the magic and a full [`crate::Call::FastPaths`] payload.
pub const TABLE_MAX: usize = MAGIC.len() + FAST_PATHS_MAX;

/// The file contents for `fast_paths` (what a [`crate::Call::FastPaths`] reply carries, which
/// may be empty: no fast paths). `None` when it is too long to be read back.
pub fn encode(fast_paths: &[u8]) -> Option<Vec<u8>> {
    if fast_paths.len() > FAST_PATHS_MAX {
        return None;
    }
    let mut out = Vec::with_capacity(MAGIC.len() + fast_paths.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(fast_paths);
    Some(out)
}

/// The fast paths a table file's contents carry, or `None` when they are not a table
/// (wrong magic, too long). `file` is what was read from offset 0, at most
/// [`TABLE_MAX`]` + 1` bytes (so an over-long file is noticed).
pub fn parse(file: &[u8]) -> Option<&[u8]> {
    let rest = file.strip_prefix(&MAGIC)?;
    (rest.len() <= FAST_PATHS_MAX).then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let paths = b"s/usr\0o/usr\0";
        let file = encode(paths).unwrap();
        assert_eq!(parse(&file), Some(&paths[..]));
        assert_eq!(parse(&encode(b"").unwrap()), Some(&b""[..]));
    }

    #[test]
    fn refuses_what_is_not_a_table() {
        assert_eq!(parse(b""), None);
        assert_eq!(parse(b"arbFT\0\0\x02s/usr\0"), None);
        let mut long = MAGIC.to_vec();
        long.resize(TABLE_MAX + 1, b'x');
        assert_eq!(parse(&long), None);
        assert!(encode(&vec![b'x'; FAST_PATHS_MAX + 1]).is_none());
    }
}
