//! `~`, `$VAR` and `${VAR}` expansion, done once at load.
//!
//! Expansion produces *pattern bytes*: the text as written, with each variable's value spliced
//! in literally. Wildcard characters in a value are escaped as one-character classes (`*` →
//! `[*]`), so a directory called `my[1]` in `$PWD` is never taken for a pattern.

use crate::error::{suggest, ErrorKind};
use crate::source::Vars;
use std::os::unix::ffi::OsStrExt;

/// Why an expansion failed, with the byte range of the culprit in the input text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExpandError {
    pub offset: usize,
    pub len: usize,
    pub kind: ErrorKind,
    pub message: String,
    pub hint: Option<String>,
}

/// Whether variable values are escaped for the glob parser (rule paths) or spliced raw
/// (`extends` file names, which are never patterns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Pattern,
    Raw,
}

/// Expands `text`. `~` is special only as the whole text or before the first `/`.
pub(crate) fn expand(text: &str, vars: &Vars, mode: Mode) -> Result<Vec<u8>, ExpandError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(text.len() + 32);
    let mut i = 0;
    if bytes.first() == Some(&b'~') {
        let end = bytes.iter().position(|&b| b == b'/').unwrap_or(bytes.len());
        if end != 1 {
            return Err(ExpandError {
                offset: 0,
                len: end,
                kind: ErrorKind::UnknownVariable,
                message: format!("`{}` is not supported", &text[..end]),
                hint: Some("only `~` (your own home) is expanded; write the path".into()),
            });
        }
        splice(&mut out, "HOME", 0, 1, vars, mode)?;
        i = 1;
    }
    while i < bytes.len() {
        let b = bytes[i];
        if b != b'$' {
            out.push(b);
            i += 1;
            continue;
        }
        let start = i;
        match bytes.get(i + 1) {
            Some(b'$') => {
                out.push(b'$');
                i += 2;
            }
            Some(b'{') => {
                let Some(close) = bytes[i + 2..].iter().position(|&b| b == b'}') else {
                    return Err(ExpandError {
                        offset: start,
                        len: bytes.len() - start,
                        kind: ErrorKind::UnknownVariable,
                        message: format!("unclosed `${{` in \"{text}\""),
                        hint: Some("write `${NAME}`, or `$$` for a literal `$`".into()),
                    });
                };
                let name = &text[i + 2..i + 2 + close];
                let end = i + 3 + close;
                splice(&mut out, name, start, end - start, vars, mode)?;
                i = end;
            }
            Some(c) if c.is_ascii_alphabetic() || *c == b'_' => {
                let len = bytes[i + 1..]
                    .iter()
                    .position(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
                    .unwrap_or(bytes.len() - i - 1);
                let name = &text[i + 1..i + 1 + len];
                splice(&mut out, name, start, len + 1, vars, mode)?;
                i += 1 + len;
            }
            _ => {
                return Err(ExpandError {
                    offset: start,
                    len: 1,
                    kind: ErrorKind::UnknownVariable,
                    message: "a `$` that starts no variable".into(),
                    hint: Some("write `$$` for a literal `$`".into()),
                })
            }
        }
    }
    Ok(out)
}

fn splice(
    out: &mut Vec<u8>,
    name: &str,
    offset: usize,
    len: usize,
    vars: &Vars,
    mode: Mode,
) -> Result<(), ExpandError> {
    let written = if name == "HOME" && len == 1 {
        "~".to_owned()
    } else {
        format!("${name}")
    };
    match vars.get(name) {
        Err(()) => Err(ExpandError {
            offset,
            len,
            kind: ErrorKind::UnknownVariable,
            message: format!("unknown variable `{written}`"),
            hint: Some(suggest(name, Vars::NAMES)),
        }),
        Ok(None) => Err(ExpandError {
            offset,
            len,
            kind: ErrorKind::UnsetVariable,
            message: format!("`{written}` has no value here"),
            hint: Some(match name {
                "XDG_RUNTIME_DIR" => {
                    "XDG_RUNTIME_DIR has no fallback; set it, or write the path".into()
                }
                _ => "set HOME, or write the path".into(),
            }),
        }),
        Ok(Some(value)) => {
            for &b in value.as_os_str().as_bytes() {
                match (mode, b) {
                    (Mode::Pattern, b'*' | b'?' | b'[') => out.extend_from_slice(&[b'[', b, b']']),
                    _ => out.push(b),
                }
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn vars() -> Vars {
        Vars {
            home: Some("/home/u".into()),
            pwd: "/w/my*dir".into(),
            tmpdir: "/tmp".into(),
            ..Vars::default()
        }
    }

    #[test]
    fn expands_the_documented_forms() {
        let v = vars();
        assert_eq!(expand("~", &v, Mode::Raw).unwrap(), b"/home/u");
        assert_eq!(expand("~/.ssh", &v, Mode::Raw).unwrap(), b"/home/u/.ssh");
        assert_eq!(expand("$HOME/x", &v, Mode::Raw).unwrap(), b"/home/u/x");
        assert_eq!(expand("${TMPDIR}x", &v, Mode::Raw).unwrap(), b"/tmpx");
        assert_eq!(expand("/a/$$b", &v, Mode::Raw).unwrap(), b"/a/$b");
        assert_eq!(
            expand("$XDG_CONFIG_HOME/git", &v, Mode::Raw).unwrap(),
            b"/home/u/.config/git"
        );
        assert_eq!(expand("/a~", &v, Mode::Raw).unwrap(), b"/a~");
    }

    #[test]
    fn values_are_literal_in_patterns() {
        assert_eq!(
            expand("$PWD/*", &vars(), Mode::Pattern).unwrap(),
            b"/w/my[*]dir/*"
        );
    }

    #[test]
    fn unknown_and_unset_variables_are_errors() {
        let e = expand("/x/$USER", &vars(), Mode::Raw).unwrap_err();
        assert_eq!(
            (e.offset, e.len, e.kind),
            (3, 5, ErrorKind::UnknownVariable)
        );
        let e = expand("$XDG_RUNTIME_DIR/bus", &vars(), Mode::Raw).unwrap_err();
        assert_eq!(e.kind, ErrorKind::UnsetVariable);
        let e = expand("~root/x", &vars(), Mode::Raw).unwrap_err();
        assert_eq!(e.kind, ErrorKind::UnknownVariable);
        let e = expand("/a/${HOME", &vars(), Mode::Raw).unwrap_err();
        assert_eq!(e.offset, 3);
        let e = expand("/a/$", &vars(), Mode::Raw).unwrap_err();
        assert_eq!(e.offset, 3);
        let no_home = Vars {
            home: None,
            pwd: PathBuf::from("/"),
            ..Vars::default()
        };
        assert_eq!(
            expand("~/.ssh", &no_home, Mode::Raw).unwrap_err().kind,
            ErrorKind::UnsetVariable
        );
    }
}
