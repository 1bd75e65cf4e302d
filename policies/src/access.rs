//! Access rights on paths, and the words that name them.

use std::fmt;

/// A set of access rights on a path. Small and `Copy`; combine with `|`.
///
/// | word | right | typical calls |
/// |---|---|---|
/// | `read` | [`READ`](Access::READ) | open for reading |
/// | `write` | [`WRITE`](Access::WRITE) | open for writing, truncate |
/// | `create` | [`CREATE`](Access::CREATE) | create a file, directory, fifo, socket, link |
/// | `remove` | [`REMOVE`](Access::REMOVE) | unlink, rmdir |
/// | `rename` | [`RENAME`](Access::RENAME) | rename within the rule's tree |
/// | `list` | [`LIST`](Access::LIST) | opendir, getdents |
/// | `stat` | [`STAT`](Access::STAT) | stat, access, readlink |
/// | `exec` | [`EXEC`](Access::EXEC) | execve |
/// | `setattr` | [`SETATTR`](Access::SETATTR) | chmod, chown, utimes |
///
/// Aliases: `ro` = read+list+stat, `rx` = ro+exec, `rw` = ro+write+create+remove+rename+setattr,
/// `rwx` and `all` = every right, `none` = no right (a denial).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Access(u16);

impl Access {
    /// Read a file's contents.
    pub const READ: Access = Access(1);
    /// Write or truncate an existing file.
    pub const WRITE: Access = Access(1 << 1);
    /// Create a file, directory, fifo, socket or link.
    pub const CREATE: Access = Access(1 << 2);
    /// Remove a file or directory.
    pub const REMOVE: Access = Access(1 << 3);
    /// Rename within the rule's tree.
    pub const RENAME: Access = Access(1 << 4);
    /// List a directory.
    pub const LIST: Access = Access(1 << 5);
    /// Read metadata (stat, access, readlink).
    pub const STAT: Access = Access(1 << 6);
    /// Execute.
    pub const EXEC: Access = Access(1 << 7);
    /// Change metadata (chmod, chown, utimes).
    pub const SETATTR: Access = Access(1 << 8);
    /// No access.
    pub const NONE: Access = Access(0);
    /// `ro`: read, list, stat.
    pub const RO: Access = Access(Self::READ.0 | Self::LIST.0 | Self::STAT.0);
    /// `rx`: `ro` and exec.
    pub const RX: Access = Access(Self::RO.0 | Self::EXEC.0);
    /// `rw`: `ro` and write, create, remove, rename, setattr.
    pub const RW: Access = Access(
        Self::RO.0
            | Self::WRITE.0
            | Self::CREATE.0
            | Self::REMOVE.0
            | Self::RENAME.0
            | Self::SETATTR.0,
    );
    /// Every right (`rwx`, `all`).
    pub const ALL: Access = Access(Self::RW.0 | Self::EXEC.0);

    /// True if every right in `other` is in `self` (so `x.contains(Access::NONE)` is true).
    pub fn contains(self, other: Access) -> bool {
        self.0 & other.0 == other.0
    }

    /// True if no right is set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The rights in both sets.
    pub fn intersection(self, other: Access) -> Access {
        Access(self.0 & other.0)
    }

    /// The raw bits (stable: the order of the table above, `read` = bit 0).
    pub fn bits(self) -> u16 {
        self.0
    }

    /// The set with these bits; unknown bits are dropped.
    pub fn from_bits_truncate(bits: u16) -> Access {
        Access(bits & Self::ALL.0)
    }

    /// Parses a list of words and aliases separated by `,`, `+` or spaces (`"ro,exec"`,
    /// `"read + write"`). On failure returns the unknown word and its byte offset in `text`.
    pub fn parse(text: &str) -> Result<Access, (usize, String)> {
        let mut set = Access::NONE;
        let mut any = false;
        let mut offset = 0;
        for piece in text.split([',', '+', ' ', '\t']) {
            let start = offset;
            offset += piece.len() + 1;
            if piece.is_empty() {
                continue;
            }
            any = true;
            set |= Self::word(piece).ok_or_else(|| (start, piece.to_owned()))?;
        }
        if !any {
            return Err((0, String::new()));
        }
        Ok(set)
    }

    /// One word of the vocabulary.
    pub fn word(word: &str) -> Option<Access> {
        Some(match word {
            "read" => Self::READ,
            "write" => Self::WRITE,
            "create" => Self::CREATE,
            "remove" => Self::REMOVE,
            "rename" => Self::RENAME,
            "list" => Self::LIST,
            "stat" => Self::STAT,
            "exec" => Self::EXEC,
            "setattr" => Self::SETATTR,
            "ro" => Self::RO,
            "rx" => Self::RX,
            "rw" => Self::RW,
            "rwx" | "all" => Self::ALL,
            "none" => Self::NONE,
            _ => return None,
        })
    }

    /// Every word [`Access::word`] accepts, for hints and documentation.
    pub const WORDS: &'static [&'static str] = &[
        "read", "write", "create", "remove", "rename", "list", "stat", "exec", "setattr", "ro",
        "rx", "rw", "rwx", "all", "none",
    ];
}

/// Every single right with its word, in the vocabulary's order.
pub const RIGHTS: [(Access, &str); 9] = [
    (Access::READ, "read"),
    (Access::WRITE, "write"),
    (Access::CREATE, "create"),
    (Access::REMOVE, "remove"),
    (Access::RENAME, "rename"),
    (Access::LIST, "list"),
    (Access::STAT, "stat"),
    (Access::EXEC, "exec"),
    (Access::SETATTR, "setattr"),
];

impl std::ops::BitOr for Access {
    type Output = Access;
    fn bitor(self, o: Access) -> Access {
        Access(self.0 | o.0)
    }
}

impl std::ops::BitOrAssign for Access {
    fn bitor_assign(&mut self, o: Access) {
        self.0 |= o.0;
    }
}

impl std::ops::BitAnd for Access {
    type Output = Access;
    fn bitand(self, o: Access) -> Access {
        Access(self.0 & o.0)
    }
}

/// Renders in the vocabulary, using the largest alias that fits: `rw`, `ro,exec`, `none`.
/// The output parses back to the same set.
impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        let mut rest = *self;
        let mut first = true;
        for (alias, name) in [
            (Access::ALL, "rwx"),
            (Access::RW, "rw"),
            (Access::RX, "rx"),
            (Access::RO, "ro"),
        ] {
            if self.contains(alias) {
                f.write_str(name)?;
                rest = Access(rest.0 & !alias.0);
                first = false;
                break;
            }
        }
        for (bit, name) in RIGHTS {
            if rest.contains(bit) {
                if !first {
                    f.write_str(",")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Access({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_are_what_the_docs_say() {
        assert_eq!(
            Access::parse("ro").unwrap(),
            Access::READ | Access::LIST | Access::STAT
        );
        assert_eq!(Access::parse("rx").unwrap(), Access::RO | Access::EXEC);
        assert!(Access::parse("rw")
            .unwrap()
            .contains(Access::SETATTR | Access::RENAME));
        assert!(!Access::parse("rw").unwrap().contains(Access::EXEC));
        assert_eq!(Access::parse("all").unwrap(), Access::parse("rwx").unwrap());
        assert_eq!(Access::parse("none").unwrap(), Access::NONE);
        assert_eq!(
            Access::parse("ro, exec").unwrap(),
            Access::parse("ro+exec").unwrap()
        );
    }

    #[test]
    fn unknown_word_is_reported_with_offset() {
        assert_eq!(Access::parse("read,wirte"), Err((5, "wirte".into())));
        assert_eq!(Access::parse(""), Err((0, String::new())));
    }

    #[test]
    fn display_round_trips() {
        for bits in 0..=Access::ALL.bits() {
            let a = Access::from_bits_truncate(bits);
            assert_eq!(Access::parse(&a.to_string()).unwrap(), a, "{a}");
        }
    }
}
