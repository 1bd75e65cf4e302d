//! Every kind of error, with its place, the offending text and a hint; and all of them at once.

mod common;

use arbiter_policies::{ErrorKind, Policy, PolicyError, Severity, Source};
use common::*;

/// (policy text, kind, line, column, offending text, a piece of the hint)
const CASES: &[(&str, ErrorKind, u32, u32, &str, &str)] = &[
    ("version = 1\n[[fs]\n", ErrorKind::Toml, 2, 5, "]", ""),
    ("[[fs]]\npath = \"/a\"\nallow = \"ro\"\nacess = \"rw\"\n", ErrorKind::UnknownKey, 4, 1, "acess", "allow = \"rw\""),
    ("[[fs]]\npath = \"/a\"\nalow = \"ro\"\n", ErrorKind::UnknownKey, 3, 1, "alow", "did you mean `allow`?"),
    ("[[connect]]\nhost = \"a.b\"\nport = 443\n", ErrorKind::UnknownKey, 3, 1, "port", "did you mean `ports`?"),
    ("[[bind]]\nhost = \"localhost\"\n", ErrorKind::UnknownKey, 2, 1, "host", "ip = \"127.0.0.1\""),
    ("polcy = 1\n", ErrorKind::UnknownKey, 1, 1, "polcy", "expected one of"),
    ("[[fs]]\npath = \"/a\"\n", ErrorKind::MissingKey, 1, 1, "[[fs]]", "allow = \"ro\""),
    ("[[fs]]\nallow = \"ro\"\n", ErrorKind::MissingKey, 1, 1, "[[fs]]", "path = \"$PWD\""),
    ("[[resolve]]\ndeny = true\n", ErrorKind::MissingKey, 1, 1, "[[resolve]]", "name = "),
    ("[[fs]]\npath = 3\nallow = \"ro\"\n", ErrorKind::WrongType, 2, 8, "3", ""),
    ("[fs]\npath = \"/a\"\n", ErrorKind::WrongType, 1, 1, "[fs]", "[[fs]]"),
    ("[[fs]]\npath = \"/a\"\nallow = \"ro\"\ndeny = true\n", ErrorKind::ConflictingKeys, 4, 1, "deny", "either allows"),
    ("[[connect]]\nhost = \"a.b\"\nip = \"10.0.0.1\"\n", ErrorKind::ConflictingKeys, 3, 1, "ip", "one rule per destination"),
    ("[[connect]]\nunix = \"/run/x.sock\"\nports = 1\n", ErrorKind::ConflictingKeys, 3, 1, "ports", "no ports"),
    ("[[bind]]\nip = \"127.0.0.1\"\nmode = \"0600\"\n", ErrorKind::ConflictingKeys, 3, 1, "mode", "unix socket paths"),
    ("[[fs]]\npath = \"/a\"\nallow = \"read,wirte\"\n", ErrorKind::UnknownAccess, 3, 15, "wirte", "did you mean `write`?"),
    ("[[fs]]\npath = \"/a\"\nallow = \"\"\n", ErrorKind::UnknownAccess, 3, 9, "\"\"", "deny = true"),
    ("[[fs]]\npath = \"$HOME/$USER/x\"\nallow = \"ro\"\n", ErrorKind::UnknownVariable, 2, 15, "$USER", "expected one of: HOME"),
    ("[[fs]]\npath = \"$TMDIR/x\"\nallow = \"ro\"\n", ErrorKind::UnknownVariable, 2, 9, "$TMDIR", "did you mean `TMPDIR`?"),
    ("[[fs]]\npath = \"~root/x\"\nallow = \"ro\"\n", ErrorKind::UnknownVariable, 2, 9, "~root", "only `~`"),
    ("[[fs]]\npath = \"$XDG_DATA_HOME/x\"\nallow = \"ro\"\n[[fs]]\npath = \"/b\"\nallow = \"ro\"\n", ErrorKind::UnsetVariable, 2, 9, "$XDG_DATA_HOME", "set HOME"),
    ("[[fs]]\npath = \"relative/dir\"\nallow = \"ro\"\n", ErrorKind::BadPath, 2, 8, "\"relative/dir\"", "start the path with"),
    ("[[fs]]\npath = \"$PWD/../x\"\nallow = \"ro\"\n", ErrorKind::BadPath, 2, 8, "\"$PWD/../x\"", "canonical"),
    ("[[fs]]\npath = \"/a/b**c\"\nallow = \"ro\"\n", ErrorKind::BadGlob, 2, 8, "\"/a/b**c\"", "whole path component"),
    ("[[fs]]\npath = \"/a/[bc\"\nallow = \"ro\"\n", ErrorKind::BadGlob, 2, 8, "\"/a/[bc\"", "[[]"),
    ("[[fs]]\npath = \"/a\"\ndeny = true\nerrno = \"ENOENTT\"\n", ErrorKind::BadErrno, 4, 9, "\"ENOENTT\"", "did you mean `ENOENT`?"),
    ("[[fs]]\npath = \"/a\"\ndeny = true\naudit = \"quiet\"\n", ErrorKind::BadAudit, 4, 9, "\"quiet\"", "default, all, deny, silent"),
    ("[[connect]]\nports = \"80,99999\"\n", ErrorKind::BadPorts, 2, 13, "99999", "a range"),
    ("[[connect]]\nports = 70000\n", ErrorKind::BadPorts, 2, 9, "70000", "0 to 65535"),
    ("[[connect]]\nip = \"10.1.2.3/8\"\n", ErrorKind::BadAddress, 2, 6, "\"10.1.2.3/8\"", "did you mean `10.0.0.0/8`?"),
    ("[[connect]]\nip = \"example.com\"\n", ErrorKind::BadAddress, 2, 6, "\"example.com\"", "names go in `host`"),
    ("[[connect]]\nhost = \"a.*.com\"\n", ErrorKind::BadHost, 2, 8, "\"a.*.com\"", "*.example.com"),
    ("[[connect]]\nhost = \"10.0.0.0/8\"\n", ErrorKind::BadHost, 2, 8, "\"10.0.0.0/8\"", "ip = \"10.0.0.0/8\""),
    ("[[bind]]\nunix = \"/run/a.sock\"\nmode = 600\n", ErrorKind::BadMode, 3, 8, "600", "0o600"),
    ("[[bind]]\nunix = \"/run/a.sock\"\nmode = \"0999\"\n", ErrorKind::BadMode, 3, 8, "\"0999\"", "octal"),
    ("[[connect]]\nproto = \"sctp\"\n", ErrorKind::BadProto, 2, 9, "\"sctp\"", "tcp, udp, any"),
    ("[defaults]\nfs = \"allow\"\n", ErrorKind::BadDefault, 2, 6, "\"allow\"", "e.g. \"ro\""),
    ("[defaults]\nconnect = \"maybe\"\n", ErrorKind::BadDefault, 2, 11, "\"maybe\"", ""),
    ("version = 2\n", ErrorKind::UnsupportedVersion, 1, 11, "2", "version = 1"),
    ("extends = [\"defualt\"]\n", ErrorKind::UnknownProfile, 1, 12, "\"defualt\"", "did you mean `default`?"),
    ("extends = [\"./missing.toml\"]\n", ErrorKind::Unreadable, 1, 12, "\"./missing.toml\"", "relative to the including file"),
];

#[test]
fn every_error_kind_has_its_place_text_and_hint() {
    let mut v = vars();
    v.home = None; // for the UnsetVariable case ($XDG_DATA_HOME has no fallback without HOME)
    for (text_, kind, line, column, snippet, hint) in CASES {
        let vars = if *kind == ErrorKind::UnsetVariable {
            v.clone()
        } else {
            vars()
        };
        let err = match Policy::load(&[text(text_)], &vars) {
            Ok(_) => panic!("loaded:\n{text_}"),
            Err(e) => e,
        };
        // Other diagnostics may come with it (an unknown key often means a missing one).
        let all = err.to_string();
        let Some(d) = err.diagnostics().iter().find(|d| d.kind == *kind) else {
            panic!("{text_:?}: no {kind:?} in\n{all}");
        };
        let shown = format!("{text_:?} → {d}");
        assert_eq!(d.kind, *kind, "{shown}");
        assert_eq!((d.at.line, d.at.column), (*line, *column), "{shown}");
        assert_eq!(d.at.origin, "test.toml", "{shown}");
        assert_eq!(d.severity, Severity::Error);
        assert!(
            d.text.contains(snippet),
            "text {:?} lacks {snippet:?}: {shown}",
            d.text
        );
        if !hint.is_empty() {
            assert!(
                d.hint.as_deref().unwrap_or("").contains(hint),
                "hint lacks {hint:?}: {shown}"
            );
        }
    }
}

#[test]
fn display_is_origin_line_column_message_hint() {
    let e = Policy::load(
        &[text("[[fs]]\npath = \"/a\"\nallow = \"wirte\"\n")],
        &vars(),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "test.toml:3:10: unknown access right \"wirte\" (hint: did you mean `write`?)"
    );
}

#[test]
fn all_errors_are_reported_not_just_the_first() {
    let e = errors(
        "[[fs]]\npath = \"/a\"\nallow = \"wirte\"\n[[fs]]\npath = \"$NOPE\"\nallow = \"ro\"\n[[connect]]\nhost = \"a*b\"\nports = \"x\"\nproto = \"sctp\"\n",
    );
    let kinds: Vec<ErrorKind> = e.iter().map(|d| d.kind).collect();
    assert_eq!(
        kinds,
        [
            ErrorKind::UnknownAccess,
            ErrorKind::UnknownVariable,
            ErrorKind::BadHost,
            ErrorKind::BadPorts,
            ErrorKind::BadProto
        ]
    );
    let lines: Vec<u32> = e.iter().map(|d| d.at.line).collect();
    assert_eq!(lines, [3, 5, 8, 9, 10]);
}

#[test]
fn columns_count_characters_not_bytes() {
    let e = errors("# café\n[[fs]]\npath = \"/é\"\nallow = \"ré\"\n");
    assert_eq!((e[0].at.line, e[0].at.column), (4, 10));
}

#[test]
fn errors_inside_escaped_strings_point_at_the_string() {
    let e = errors("[[fs]]\npath = \"/a\"\nallow = \"read,\\u0077irte\"\n");
    assert_eq!((e[0].at.line, e[0].at.column), (3, 9));
    assert_eq!(e[0].kind, ErrorKind::UnknownAccess);
}

#[test]
fn an_unreadable_policy_file_keeps_the_io_error() {
    let e = Policy::load(&[Source::File("/nonexistent/policy.toml".into())], &vars()).unwrap_err();
    match &e {
        PolicyError::Read { path, source } => {
            assert_eq!(path, std::path::Path::new("/nonexistent/policy.toml"));
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("{other:?}"),
    }
    assert!(e
        .to_string()
        .starts_with("cannot read policy file /nonexistent/policy.toml"));
    assert!(std::error::Error::source(&e).is_some());
}

#[test]
fn an_unknown_builtin_is_an_error() {
    let e = Policy::load(&[Source::Builtin("pyton".into())], &vars()).unwrap_err();
    let d = &e.diagnostics()[0];
    assert_eq!(d.kind, ErrorKind::UnknownProfile);
    assert_eq!(d.at.origin, "builtin:pyton");
    assert!(d
        .hint
        .as_deref()
        .unwrap()
        .contains("did you mean `python`?"));
}
