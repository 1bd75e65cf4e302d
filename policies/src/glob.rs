//! Path patterns: literal paths and wildcard patterns, parsed from expanded pattern bytes.
//!
//! Wildcards work on whole path components:
//! * `*` matches any run of characters within one component (names starting with `.` too),
//! * `?` matches one character, `[abc]`, `[a-z]`, `[!a-z]` one character of a class,
//! * `**` as a whole component matches any number of components (zero or more in the middle;
//!   at the end of a pattern, one or more, so `/a/**` is everything strictly beneath `/a`),
//! * a one-character class escapes a wildcard character: `[*]` is a literal `*`.
//!
//! A pattern's *literal prefix* is the directory made of its components before the first one
//! with a wildcard; it is the pattern's root. A rule with a pattern covers what the pattern
//! matches and everything beneath it, just as a rule on a directory covers its subtree.

use crate::error::ErrorKind;
use std::fmt;

/// One element of a component pattern.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Tok {
    Byte(u8),
    One,
    Star,
    Class(Class),
}

/// A bracket class: `[a-z_]` or `[!0-9]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Class {
    negated: bool,
    ranges: Vec<(char, char)>,
}

impl Class {
    fn matches(&self, c: Option<char>) -> bool {
        let hit = c.is_some_and(|c| self.ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi));
        hit != self.negated
    }
}

/// Why a pattern is malformed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GlobError {
    pub kind: ErrorKind,
    pub message: String,
    pub hint: Option<String>,
}

fn glob_error(message: impl Into<String>, hint: &str) -> GlobError {
    GlobError {
        kind: ErrorKind::BadGlob,
        message: message.into(),
        hint: Some(hint.into()),
    }
}

/// Splits one component (or an abstract socket name) into tokens. `**` is rejected here; the
/// path parser handles it as a whole component.
pub(crate) fn tokenize(comp: &[u8]) -> Result<Vec<Tok>, GlobError> {
    let mut toks = Vec::with_capacity(comp.len());
    let mut i = 0;
    while i < comp.len() {
        match comp[i] {
            b'*' => {
                if comp.get(i + 1) == Some(&b'*') {
                    return Err(glob_error(
                        "`**` inside a name",
                        "`**` must be a whole path component, as in `/a/**/b`; use `*` within a name",
                    ));
                }
                toks.push(Tok::Star);
                i += 1;
            }
            b'?' => {
                toks.push(Tok::One);
                i += 1;
            }
            b'[' => {
                let (tok, len) = class(&comp[i..])?;
                toks.push(tok);
                i += len;
            }
            b => {
                toks.push(Tok::Byte(b));
                i += 1;
            }
        }
    }
    Ok(toks)
}

/// Parses a class at the start of `s` (which begins with `[`); a class of one character
/// becomes that literal byte (the escape form).
fn class(s: &[u8]) -> Result<(Tok, usize), GlobError> {
    let mut i = 1;
    let negated = matches!(s.get(1), Some(b'!' | b'^'));
    if negated {
        i += 1;
    }
    let body_start = i;
    // A `]` right after `[` or `[!` is a member, not the end.
    if s.get(i) == Some(&b']') {
        i += 1;
    }
    let Some(close) = s[i..].iter().position(|&b| b == b']') else {
        return Err(glob_error(
            "unclosed `[` in a pattern",
            "a class looks like `[a-z]`; write `[[]` for a literal `[`",
        ));
    };
    let end = i + close;
    let body = std::str::from_utf8(&s[body_start..end])
        .map_err(|_| glob_error("a class that is not UTF-8", "write the class in UTF-8"))?;
    let chars: Vec<char> = body.chars().collect();
    if !negated && chars.len() == 1 && chars[0].is_ascii() {
        return Ok((Tok::Byte(chars[0] as u8), end + 1));
    }
    let mut ranges = Vec::new();
    let mut k = 0;
    while k < chars.len() {
        if k + 2 < chars.len() && chars[k + 1] == '-' {
            let (lo, hi) = (chars[k], chars[k + 2]);
            if lo > hi {
                return Err(glob_error(
                    format!("empty range `{lo}-{hi}` in a class"),
                    "write ranges low to high, as in `[a-z]`",
                ));
            }
            ranges.push((lo, hi));
            k += 3;
        } else {
            ranges.push((chars[k], chars[k]));
            k += 1;
        }
    }
    Ok((Tok::Class(Class { negated, ranges }), end + 1))
}

/// The character at `name[i..]` and its length; a byte that starts no valid UTF-8 character
/// counts as one character that is no `char`.
fn next_char(name: &[u8], i: usize) -> (Option<char>, usize) {
    let width = match name[i] {
        b if b < 0x80 => 1,
        b if b >> 5 == 0b110 => 2,
        b if b >> 4 == 0b1110 => 3,
        b if b >> 3 == 0b11110 => 4,
        _ => return (None, 1),
    };
    match name
        .get(i..i + width)
        .and_then(|s| std::str::from_utf8(s).ok())
    {
        Some(s) => (s.chars().next(), width),
        None => (None, 1),
    }
}

/// Matches a whole name against tokens (`*` backtracking, linear in practice).
pub(crate) fn matches(toks: &[Tok], name: &[u8]) -> bool {
    let (mut t, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        if let Some(tok) = toks.get(t) {
            match tok {
                Tok::Star => {
                    star = Some((t, n));
                    t += 1;
                    continue;
                }
                Tok::Byte(b) if name[n] == *b => {
                    t += 1;
                    n += 1;
                    continue;
                }
                Tok::One => {
                    n += next_char(name, n).1;
                    t += 1;
                    continue;
                }
                Tok::Class(c) => {
                    let (ch, len) = next_char(name, n);
                    if c.matches(ch) {
                        t += 1;
                        n += len;
                        continue;
                    }
                }
                Tok::Byte(_) => {}
            }
        }
        match star {
            Some((st, sn)) => {
                let skip = next_char(name, sn).1;
                star = Some((st, sn + skip));
                t = st + 1;
                n = sn + skip;
            }
            None => return false,
        }
    }
    toks[t.min(toks.len())..].iter().all(|t| *t == Tok::Star)
}

/// One component of a wildcard pattern after its literal prefix.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Seg {
    Lit(Vec<u8>),
    Pat(Vec<Tok>),
    /// `**`: any number of components.
    Many,
}

impl Seg {
    fn matches(&self, comp: &[u8]) -> bool {
        match self {
            Seg::Lit(l) => l == comp,
            Seg::Pat(t) => matches(t, comp),
            Seg::Many => true,
        }
    }
}

/// Most segments a pattern may have after its literal prefix (the matcher keeps its states in
/// one `u64`).
pub(crate) const MAX_SEGS: usize = 63;

/// A wildcard pattern: a literal prefix directory and segments beneath it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Glob {
    /// The literal prefix, a clean absolute path (`/` for none).
    pub prefix: Vec<u8>,
    pub segs: Vec<Seg>,
}

impl Glob {
    fn closure(&self, mut s: u64) -> u64 {
        for (i, seg) in self.segs.iter().enumerate() {
            if s & (1 << i) != 0 && *seg == Seg::Many {
                s |= 1 << (i + 1);
            }
        }
        s
    }

    fn step(&self, s: u64, comp: &[u8]) -> u64 {
        let mut next = 0;
        for (i, seg) in self.segs.iter().enumerate() {
            if s & (1 << i) == 0 {
                continue;
            }
            if *seg == Seg::Many {
                next |= 1 << i;
            } else if seg.matches(comp) {
                next |= 1 << (i + 1);
            }
        }
        self.closure(next)
    }

    /// True if the pattern matches `rest` or an ancestor of it, where `rest` is the part of a
    /// path after the prefix (`"u/.ssh/id"`, no leading `/`, non-empty components).
    pub fn covers(&self, rest: &[u8]) -> bool {
        if rest.is_empty() {
            return false;
        }
        let accept = 1u64 << self.segs.len();
        let mut s = self.closure(1);
        for comp in rest.split(|&b| b == b'/') {
            s = self.step(s, comp);
            if s & accept != 0 {
                return true;
            }
            if s == 0 {
                return false;
            }
        }
        false
    }

    /// True if the pattern could match some path strictly beneath `prefix/rest` (`rest` may be
    /// empty: every pattern matches something strictly beneath its prefix).
    pub fn could_match_beneath(&self, rest: &[u8]) -> bool {
        let accept = 1u64 << self.segs.len();
        let mut s = self.closure(1);
        if !rest.is_empty() {
            for comp in rest.split(|&b| b == b'/') {
                s = self.step(s, comp);
                if s & !accept == 0 {
                    return false;
                }
            }
        }
        s & !accept != 0
    }

    /// True if the pattern could match some path at least two components beneath
    /// `prefix/rest`: then its implicit `stat` reaches a directory strictly beneath it.
    pub fn could_match_two_beneath(&self, rest: &[u8]) -> bool {
        let accept = 1u64 << self.segs.len();
        let mut s = self.closure(1);
        if !rest.is_empty() {
            for comp in rest.split(|&b| b == b'/') {
                s = self.step(s, comp);
                if s & !accept == 0 {
                    return false;
                }
            }
        }
        // Any segment matches some name, so one step over "some component" advances every
        // live state (and `**` also stays).
        let mut next = 0;
        for (i, seg) in self.segs.iter().enumerate() {
            if s & (1 << i) != 0 {
                next |= 1 << (i + 1);
                if *seg == Seg::Many {
                    next |= 1 << i;
                }
            }
        }
        self.closure(next) & !accept != 0
    }

    /// True if the pattern covers every path strictly beneath its prefix (`/a/*`, `/a/**`).
    pub fn covers_all_beneath(&self) -> bool {
        match self.segs.as_slice() {
            [Seg::Many] => true,
            [Seg::Pat(t)] => t.iter().all(|t| *t == Tok::Star),
            _ => false,
        }
    }
}

/// A rule's path: literal or wildcard.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum PathPattern {
    /// A clean absolute path.
    Literal(Vec<u8>),
    Glob(Glob),
}

impl PathPattern {
    /// The rule's root: the path itself, or a pattern's literal prefix.
    pub fn root(&self) -> &[u8] {
        match self {
            PathPattern::Literal(p) => p,
            PathPattern::Glob(g) => &g.prefix,
        }
    }

    /// Parses expanded pattern bytes. `.` and empty components are dropped (so `$TMPDIR/`
    /// works when `$TMPDIR` ends in `/`); `..` is refused.
    pub fn parse(bytes: &[u8]) -> Result<PathPattern, GlobError> {
        if bytes.first() != Some(&b'/') {
            return Err(GlobError {
                kind: ErrorKind::BadPath,
                message: "not an absolute path".into(),
                hint: Some("start the path with `/`, `~` or a variable such as `$PWD`".into()),
            });
        }
        let mut prefix: Vec<&[u8]> = Vec::new();
        let mut segs: Vec<Seg> = Vec::new();
        for comp in bytes.split(|&b| b == b'/') {
            if comp.is_empty() || comp == b"." {
                continue;
            }
            if comp == b".." {
                return Err(GlobError {
                    kind: ErrorKind::BadPath,
                    message: "`..` in a rule path".into(),
                    hint: Some(
                        "rules match canonical paths (symlinks and `..` resolved); write the \
                         path without `..`"
                            .into(),
                    ),
                });
            }
            let seg = if comp == b"**" {
                Seg::Many
            } else {
                let toks = tokenize(comp)?;
                if toks.iter().all(|t| matches!(t, Tok::Byte(_))) {
                    Seg::Lit(
                        toks.iter()
                            .map(|t| match t {
                                Tok::Byte(b) => *b,
                                _ => unreachable!("checked all bytes"),
                            })
                            .collect(),
                    )
                } else {
                    Seg::Pat(toks)
                }
            };
            match seg {
                Seg::Lit(_) if segs.is_empty() => prefix.push(comp),
                Seg::Lit(l) => segs.push(Seg::Lit(l)),
                Seg::Many if segs.last() == Some(&Seg::Many) => {}
                other => segs.push(other),
            }
        }
        // Literal components of the prefix may hold escapes (`[*]`): unescape them.
        let mut root = Vec::with_capacity(bytes.len());
        for comp in &prefix {
            root.push(b'/');
            for t in tokenize(comp)? {
                if let Tok::Byte(b) = t {
                    root.push(b);
                }
            }
        }
        if root.is_empty() {
            root.push(b'/');
        }
        if segs.is_empty() {
            return Ok(PathPattern::Literal(root));
        }
        if segs.last() == Some(&Seg::Many) {
            // Rules cover subtrees, so a trailing `**` (one or more) covers what `*` covers.
            *segs.last_mut().expect("non-empty") = Seg::Pat(vec![Tok::Star]);
        }
        if segs.len() > MAX_SEGS {
            return Err(GlobError {
                kind: ErrorKind::BadGlob,
                message: format!("more than {MAX_SEGS} components after the first wildcard"),
                hint: Some("shorten the pattern, or use `**`".into()),
            });
        }
        Ok(PathPattern::Glob(Glob { prefix: root, segs }))
    }
}

/// A pattern on a whole name (abstract socket names): exact, or with wildcards where `/` is
/// an ordinary character.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum NamePattern {
    Exact(Vec<u8>),
    Glob(Vec<Tok>),
}

impl NamePattern {
    pub fn parse(bytes: &[u8]) -> Result<NamePattern, GlobError> {
        // `**` has no meaning without components; treat it as `*`.
        let mut squeezed = Vec::with_capacity(bytes.len());
        for &b in bytes {
            if !(b == b'*' && squeezed.last() == Some(&b'*')) {
                squeezed.push(b);
            }
        }
        let toks = tokenize(&squeezed)?;
        if toks.iter().all(|t| matches!(t, Tok::Byte(_))) {
            Ok(NamePattern::Exact(
                toks.iter()
                    .filter_map(|t| match t {
                        Tok::Byte(b) => Some(*b),
                        _ => None,
                    })
                    .collect(),
            ))
        } else {
            Ok(NamePattern::Glob(toks))
        }
    }
}

/// Writes tokens back in pattern syntax (wildcard characters in names escaped as `[*]`).
fn render_tokens(toks: &[Tok], out: &mut Vec<u8>) {
    for t in toks {
        match t {
            Tok::Byte(b @ (b'*' | b'?' | b'[')) => out.extend_from_slice(&[b'[', *b, b']']),
            Tok::Byte(b) => out.push(*b),
            Tok::One => out.push(b'?'),
            Tok::Star => out.push(b'*'),
            Tok::Class(c) => {
                out.push(b'[');
                if c.negated {
                    out.push(b'!');
                }
                for &(lo, hi) in &c.ranges {
                    let mut buf = [0; 4];
                    out.extend_from_slice(lo.encode_utf8(&mut buf).as_bytes());
                    if lo != hi {
                        out.push(b'-');
                        out.extend_from_slice(hi.encode_utf8(&mut buf).as_bytes());
                    }
                }
                out.push(b']');
            }
        }
    }
}

fn render_literal(comp: &[u8], out: &mut Vec<u8>) {
    for &b in comp {
        match b {
            b'*' | b'?' | b'[' => out.extend_from_slice(&[b'[', b, b']']),
            _ => out.push(b),
        }
    }
}

impl PathPattern {
    /// The pattern in pattern syntax (literal characters that are wildcards escaped): the same
    /// bytes for the same pattern, so it serves as a merge key.
    pub fn key(&self, out: &mut Vec<u8>) {
        match self {
            PathPattern::Literal(p) => render_literal(p, out),
            PathPattern::Glob(g) => {
                if g.prefix != b"/" {
                    render_literal(&g.prefix, out);
                }
                for seg in &g.segs {
                    out.push(b'/');
                    match seg {
                        Seg::Lit(l) => render_literal(l, out),
                        Seg::Pat(t) => render_tokens(t, out),
                        Seg::Many => out.extend_from_slice(b"**"),
                    }
                }
            }
        }
    }
}

impl fmt::Display for PathPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = Vec::new();
        self.key(&mut out);
        write!(f, "{}", Lossy(&out))
    }
}

impl NamePattern {
    /// The pattern in pattern syntax, as for [`PathPattern::key`].
    pub fn key(&self, out: &mut Vec<u8>) {
        match self {
            NamePattern::Exact(n) => render_literal(n, out),
            NamePattern::Glob(t) => render_tokens(t, out),
        }
    }
}

impl fmt::Display for NamePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = Vec::new();
        self.key(&mut out);
        write!(f, "{}", Lossy(&out))
    }
}

/// Renders bytes for people: UTF-8 as is, other bytes as `\xNN`.
pub(crate) struct Lossy<'a>(pub &'a [u8]);

impl fmt::Display for Lossy<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for chunk in self.0.utf8_chunks() {
            f.write_str(chunk.valid())?;
            for b in chunk.invalid() {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob(p: &str) -> Glob {
        match PathPattern::parse(p.as_bytes()).unwrap() {
            PathPattern::Glob(g) => g,
            PathPattern::Literal(l) => panic!("literal {l:?}"),
        }
    }

    #[test]
    fn component_matching() {
        let t = |p: &str, n: &str| matches(&tokenize(p.as_bytes()).unwrap(), n.as_bytes());
        assert!(t("*", ""));
        assert!(t("*", ".hidden"));
        assert!(t(".*_history", ".bash_history"));
        assert!(!t(".*_history", ".bash_history.bak"));
        assert!(t("a?c", "abc"));
        assert!(t("a?c", "aéc"));
        assert!(!t("a?c", "ac"));
        assert!(t("[a-c]x", "bx"));
        assert!(!t("[!a-c]x", "bx"));
        assert!(t("[]]", "]"));
        assert!(t("*.key", "server.key"));
        assert!(t("a*b*c", "aXXbYYc"));
        assert!(!t("a*b*c", "aXXbYY"));
        assert!(t("[*]", "*"));
        assert!(!t("[*]", "x"));
    }

    #[test]
    fn literal_paths_are_cleaned() {
        assert_eq!(
            PathPattern::parse(b"/a//b/./c/").unwrap(),
            PathPattern::Literal(b"/a/b/c".to_vec())
        );
        assert_eq!(
            PathPattern::parse(b"/").unwrap(),
            PathPattern::Literal(b"/".to_vec())
        );
        assert_eq!(
            PathPattern::parse(b"/my[*]dir/x").unwrap(),
            PathPattern::Literal(b"/my*dir/x".to_vec())
        );
        assert!(PathPattern::parse(b"/a/../b").is_err());
        assert!(PathPattern::parse(b"a/b").is_err());
        assert!(PathPattern::parse(b"/a/b**").is_err());
        assert!(PathPattern::parse(b"/a/[b").is_err());
    }

    #[test]
    fn prefix_and_coverage() {
        let g = glob("/home/*/.ssh");
        assert_eq!(g.prefix, b"/home");
        assert!(g.covers(b"u/.ssh"));
        assert!(g.covers(b"u/.ssh/id_rsa"));
        assert!(!g.covers(b"u/.sshx"));
        assert!(!g.covers(b"u"));
        assert!(g.could_match_beneath(b""));
        assert!(g.could_match_beneath(b"u"));
        assert!(!g.could_match_beneath(b"u/.ssh"));
        assert!(!g.could_match_beneath(b"u/x"));

        let g = glob("/a/**/b");
        assert!(g.covers(b"b"));
        assert!(g.covers(b"x/y/b/z"));
        assert!(!g.covers(b"x/y"));
        assert!(g.could_match_beneath(b"x/y"));

        let g = glob("/*/b");
        assert!(g.could_match_beneath(b"a"));
        assert!(!g.could_match_two_beneath(b"a"));
        assert!(g.could_match_two_beneath(b""));
        assert!(glob("/*/b/c").could_match_two_beneath(b"a"));
        assert!(glob("/**/c").could_match_two_beneath(b"a/b/d"));

        let g = glob("/a/**");
        assert!(g.covers_all_beneath());
        assert!(g.covers(b"x"));
        assert!(glob("/a/*").covers_all_beneath());
        assert!(!glob("/a/*.txt").covers_all_beneath());
    }

    #[test]
    fn name_patterns() {
        assert_eq!(
            NamePattern::parse(b"dbus-x").unwrap(),
            NamePattern::Exact(b"dbus-x".to_vec())
        );
        let NamePattern::Glob(t) = NamePattern::parse(b"/tmp/.X11-unix/*").unwrap() else {
            panic!()
        };
        assert!(matches(&t, b"/tmp/.X11-unix/X0"));
    }
}
