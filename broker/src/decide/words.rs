//! `--decider CMD`: a path, or a command line split into words as a POSIX shell splits them
//! (quotes and backslashes), with no shell run and nothing expanded (no `$VAR`, no globs,
//! no `~`).

use std::path::Path;

/// Why a command line could not be split.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SplitError {
    /// A `'` or `"` is never closed.
    #[error("unclosed {0} quote")]
    Unclosed(char),
    /// The line ends with a lone backslash.
    #[error("a backslash at the end")]
    TrailingBackslash,
    /// No word at all.
    #[error("no command")]
    Empty,
}

/// The words of `cmd`: `cmd` itself when it names an existing file (a path with spaces
/// needs no quoting), else `cmd` split as a shell splits words.
pub fn command(cmd: &str) -> Result<Vec<String>, SplitError> {
    if !cmd.is_empty() && Path::new(cmd).is_file() {
        return Ok(vec![cmd.to_owned()]);
    }
    let words = split(cmd)?;
    if words.is_empty() {
        return Err(SplitError::Empty);
    }
    Ok(words)
}

/// Splits `line` into words: blanks separate words; `'…'` keeps everything literally;
/// `"…"` keeps everything but `\` before `"`, `\`, `$`, `` ` `` or a newline; a `\` outside
/// quotes keeps the next character (and joins lines before a newline).
pub fn split(line: &str) -> Result<Vec<String>, SplitError> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(SplitError::Unclosed('\'')),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some('\n') => {}
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err(SplitError::Unclosed('"')),
                        },
                        Some(c) => word.push(c),
                        None => return Err(SplitError::Unclosed('"')),
                    }
                }
            }
            '\\' => match chars.next() {
                Some('\n') => {}
                Some(c) => {
                    in_word = true;
                    word.push(c);
                }
                None => return Err(SplitError::TrailingBackslash),
            },
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_as_a_shell_does_without_expanding() {
        assert_eq!(
            split(r#"python3 -u  'my decider.py' "a \"b\" \$HOME" c\ d $X ''"#).unwrap(),
            [
                "python3",
                "-u",
                "my decider.py",
                r#"a "b" $HOME"#,
                "c d",
                "$X",
                ""
            ]
        );
        assert_eq!(split(" \t").unwrap(), Vec::<String>::new());
        assert_eq!(split(r#""a\nb""#).unwrap(), [r"a\nb"]);
    }

    #[test]
    fn bad_lines_are_errors() {
        assert_eq!(split("a 'b"), Err(SplitError::Unclosed('\'')));
        assert_eq!(split("a \"b"), Err(SplitError::Unclosed('"')));
        assert_eq!(split("a\\"), Err(SplitError::TrailingBackslash));
        assert_eq!(command("  "), Err(SplitError::Empty));
    }

    #[test]
    fn an_existing_path_is_one_word() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a decider");
        std::fs::write(&p, "").unwrap();
        let s = p.to_str().unwrap();
        assert_eq!(command(s).unwrap(), [s]);
    }
}
